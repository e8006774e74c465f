//! Several instances on one PostgreSQL, driven round-robin as a load
//! balancer would: an API key's rate limit holds for all of them together
//! (counted in the database, or in Redis), and a revocation, a lockout or a
//! policy change made through one reaches the others within a stated bound.
//! Then the per-address and per-user limits of one instance, and the local
//! fallback when the shared counter is away.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use strongroom_testkit::{ServerBuilder, TestDatabase, TestServer};

use super::authz::{PASSWORD, access_token};
use super::{BIN, server};

/// How long a change made through one instance may take to be honoured by
/// the others: the change generation is polled every 100 ms
/// (`database.cache_refresh_ms`), sessions are read at every request.
const PROPAGATION_BOUND: Duration = Duration::from_secs(1);

/// The same for policies, reloaded every `authz.policy_refresh_seconds` (1).
const POLICY_PROPAGATION_BOUND: Duration = Duration::from_secs(2);

/// A server of the deployment on `url`: every instance unseals with the same passphrase.
fn instance(url: &str, extra: &[(&str, &str)]) -> ServerBuilder {
    let mut builder = server()
        .database(url)
        .env("STRONGROOM_ROOT_KEY_PROVIDER", "passphrase")
        .env("STRONGROOM_ROOT_KEY_PASSPHRASE", "shared by every instance of this deployment")
        .env("STRONGROOM_AUTHZ_POLICY_REFRESH_SECONDS", "1");
    for (name, value) in extra {
        builder = builder.env(*name, *value);
    }
    builder
}

fn three_instances(url: &str, extra: &[(&str, &str)]) -> Vec<TestServer> {
    // The first migrates and creates the system keys; the others find them.
    let first = instance(url, extra).start();
    let mut all = vec![first];
    all.extend((0..2).map(|_| instance(url, extra).start()));
    all
}

/// Runs `strongroom <args>` against the deployment, as an operator would.
fn operator(url: &str, args: &[&str], stdin: Option<&str>) -> String {
    let builder = instance(url, &[]);
    let output = match stdin {
        Some(input) => builder.run_with_input(args, input),
        None => builder.run(args),
    };
    assert_eq!(output.code, Some(0), "strongroom {args:?}: {output:?}");
    output.stdout.trim().to_owned()
}

async fn status(client: &reqwest::Client, server: &TestServer, path: &str, header: (&str, &str)) -> u16 {
    client.get(server.url(path)).header(header.0, header.1).send().await.unwrap().status().as_u16()
}

/// Sends requests with `key` round-robin over `servers` from six clients
/// for `duration`: (admitted, refused with 429, the time it took).
async fn hammer(servers: &[TestServer], key: &str, duration: Duration) -> (u32, u32, Duration) {
    let client = reqwest::Client::new();
    let urls: Vec<String> = servers.iter().map(|s| s.url("/v1/auth/token/lookup-self")).collect();
    let started = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..6 {
        let (client, urls, key) = (client.clone(), urls.clone(), key.to_owned());
        workers.push(tokio::spawn(async move {
            let (mut admitted, mut refused) = (0, 0);
            let mut turn = worker;
            while started.elapsed() < duration {
                let response = client.get(&urls[turn % urls.len()]).header("X-Vault-Token", &key).send().await;
                turn += 1;
                match response.map(|r| (r.status().as_u16(), r.headers().get("retry-after").cloned())) {
                    Ok((200, _)) => admitted += 1,
                    Ok((429, retry_after)) => {
                        assert!(retry_after.is_some(), "a 429 without Retry-After");
                        refused += 1;
                    }
                    Ok((other, _)) => panic!("unexpected status {other}"),
                    Err(error) => panic!("request failed: {error}"),
                }
            }
            (admitted, refused)
        }));
    }
    let (mut admitted, mut refused) = (0, 0);
    for worker in workers {
        let (a, r) = worker.await.unwrap();
        admitted += a;
        refused += r;
    }
    (admitted, refused, started.elapsed())
}

/// An API key at 600 a minute (10/s, bursts of 10) used through three
/// instances for three seconds gets about 10/s in all, not 10/s from each.
async fn three_instances_hold_one_api_key_limit(extra: &[(&str, &str)], label: &str) {
    let Some(database) = TestDatabase::postgres().await else { return };
    let url = database.url().to_owned();
    let servers = three_instances(&url, extra);
    let args = ["apikey", "create", "--name", "limited", "--scope", "transit:use", "--rate-limit-per-minute", "600"];
    let key = operator(&url, &args, None);
    let (admitted, refused, elapsed) = hammer(&servers, &key, Duration::from_secs(3)).await;
    // GCRA admits the burst, then one per interval: 10 + 10/s · elapsed.
    let most = 10.0 + 10.0 * elapsed.as_secs_f64();
    eprintln!(
        "{label}: {admitted} admitted and {refused} refused in {:.2} s through three instances (at most {most:.0})",
        elapsed.as_secs_f64()
    );
    let alone = servers.iter().filter(|s| s.logs().contains("counting in this instance only")).count();
    assert_eq!(alone, 0, "an instance fell back to counting alone under this load");
    assert!(f64::from(admitted) <= most + 2.0, "the instances did not share the limit: {admitted} > {most:.0}");
    assert!(f64::from(admitted) >= most * 0.7, "the limit admitted too few: {admitted} of {most:.0}");
    assert!(refused > 0);
}

#[tokio::test]
async fn three_instances_on_postgres_hold_one_api_key_rate_limit_counted_in_the_database() {
    three_instances_hold_one_api_key_limit(&[], "database").await;
}

#[tokio::test]
async fn three_instances_on_postgres_hold_one_api_key_rate_limit_counted_in_redis() {
    let prefix = format!("strongroom-test-{}:", std::process::id());
    let redis = [
        ("STRONGROOM_RATELIMIT_REDIS_URL", "redis://127.0.0.1:6379"),
        ("STRONGROOM_RATELIMIT_REDIS_KEY_PREFIX", &prefix),
    ];
    if std::net::TcpStream::connect("127.0.0.1:6379").is_err() {
        assert!(std::env::var_os("CI").is_none(), "CI runs Redis on 127.0.0.1:6379 (scripts/services.sh)");
        eprintln!("skipped: no Redis on 127.0.0.1:6379");
        return;
    }
    three_instances_hold_one_api_key_limit(&redis, "redis").await;
}

/// Polls `servers` with GET `path` (and `header`) until every one answers
/// `expected`: how long that took (a test failure after three times `bound`).
async fn until_all_answer(
    client: &reqwest::Client,
    servers: &[&TestServer],
    (path, header): (&str, (&str, &str)),
    expected: u16,
    bound: Duration,
) -> Duration {
    let started = Instant::now();
    loop {
        let mut all = true;
        for server in servers {
            all &= status(client, server, path, header).await == expected;
        }
        if all {
            return started.elapsed();
        }
        assert!(started.elapsed() < bound * 3, "{path}: not {expected} after {:?}", started.elapsed());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_revocation_lockout_or_policy_change_through_one_instance_holds_on_the_others_within_the_bound() {
    let Some(database) = TestDatabase::postgres().await else { return };
    let url = database.url().to_owned();
    let servers = three_instances(&url, &[]);
    let (a, others) = (&servers[0], [&servers[1], &servers[2]]);
    let client = reqwest::Client::new();
    operator(&url, &["init", "--password-stdin"], Some(&format!("{PASSWORD}\n")));

    // An API key revoked by an operator on one side is refused by every instance.
    let key = operator(&url, &["apikey", "create", "--name", "worker", "--scope", "transit:use"], None);
    let id = key.split('_').nth(1).unwrap().to_owned();
    for server in &servers {
        assert_eq!(status(&client, server, "/v1/auth/token/lookup-self", ("X-Vault-Token", &key)).await, 200);
    }
    operator(&url, &["apikey", "revoke", &id], None);
    let lookup = ("/v1/auth/token/lookup-self", ("X-Vault-Token", key.as_str()));
    let revoked = until_all_answer(&client, &others, lookup, 403, PROPAGATION_BOUND).await;

    // A user locked through instance A is refused by B and C.
    let args =
        ["user", "create", "--username", "rui", "--email", "rui@example.com", "--role", "admin", "--password-stdin"];
    operator(&url, &args, Some(&format!("{PASSWORD}\n")));
    let admin = access_token(a, "admin").await;
    let rui = access_token(others[0], "rui").await;
    let bearer = format!("Bearer {rui}");
    for server in &servers {
        assert_eq!(status(&client, server, "/v1/users/me", ("Authorization", &bearer)).await, 200);
    }
    let me: Value = client.get(a.url("/v1/users/me")).bearer_auth(&rui).send().await.unwrap().json().await.unwrap();
    let lock = client
        .post(a.url(&format!("/v1/users/{}/lock", me["id"].as_str().unwrap())))
        .bearer_auth(&admin)
        .json(&json!({"reason": "laptop stolen, locked until it is found"}))
        .send()
        .await
        .unwrap();
    assert_eq!(lock.status(), 200, "{}", lock.text().await.unwrap());
    let me_path = ("/v1/users/me", ("Authorization", bearer.as_str()));
    let locked = until_all_answer(&client, &others, me_path, 401, PROPAGATION_BOUND).await;

    // A policy stored through A (audit reading only from another network) holds on B and C.
    let admin_bearer = format!("Bearer {admin}");
    for server in &others {
        assert_eq!(status(&client, server, "/v1/audit/stats", ("Authorization", &admin_bearer)).await, 200);
    }
    let fence = "@id(\"audit-from-the-office\")\n\
                 forbid (principal, action == Strongroom::Action::\"audit.read\", resource)\n\
                 unless { context has ip && context.ip.isInRange(ip(\"10.20.0.0/16\")) };\n";
    let set = client
        .put(a.url("/v1/policies"))
        .bearer_auth(&admin)
        .json(&json!({"policies": fence, "justification": "audit log only from the office network"}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200, "{}", set.text().await.unwrap());
    let stats = ("/v1/audit/stats", ("Authorization", admin_bearer.as_str()));
    let fenced = until_all_answer(&client, &others, stats, 403, POLICY_PROPAGATION_BOUND).await;

    eprintln!(
        "propagation to the other instances: API key revoked {revoked:?}, user locked {locked:?}, policy {fenced:?}"
    );
    assert!(revoked < PROPAGATION_BOUND, "revocation took {revoked:?}");
    assert!(locked < PROPAGATION_BOUND, "lock took {locked:?}");
    assert!(fenced < POLICY_PROPAGATION_BOUND, "policy took {fenced:?}");
}

/// `n` requests at once to `path` with `header`: their statuses and the
/// first 429's body and `Retry-After`.
async fn burst(
    server: &TestServer,
    path: &str,
    header: Option<(&str, &str)>,
    n: usize,
) -> (Vec<u16>, Option<(Value, u64)>) {
    let client = reqwest::Client::new();
    let (mut statuses, mut refusal) = (Vec::new(), None);
    for _ in 0..n {
        let mut request = client.get(server.url(path));
        if let Some((name, value)) = header {
            request = request.header(name, value);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        statuses.push(status);
        if status == 429 && refusal.is_none() {
            let retry_after = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
            refusal = Some((response.json().await.unwrap(), retry_after));
        }
    }
    (statuses, refusal)
}

#[tokio::test]
async fn an_address_over_its_limit_gets_429_with_retry_after_probes_still_answer_and_the_log_says_so() {
    let server = server()
        .env("STRONGROOM_RATELIMIT_PER_ADDRESS_PER_SECOND", "2")
        .env("STRONGROOM_RATELIMIT_PER_ADDRESS_BURST", "5")
        .start();
    let (statuses, refusal) = burst(&server, "/v1/auth/token/lookup-self", None, 8).await;
    assert!(statuses[..5].iter().all(|s| *s == 403), "the burst passes on to authentication: {statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    let (body, retry_after) = refusal.unwrap();
    assert_eq!(body["code"], "rate_limited", "{body}");
    assert!((1..=2).contains(&retry_after), "Retry-After {retry_after}");
    let (probes, _) = burst(&server, "/readyz", None, 10).await;
    assert!(probes.iter().all(|s| *s == 200), "probes are not limited: {probes:?}");

    // Refused requests are on record: one event for the run of refusals.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let reader = TestServer::builder(BIN).data_dir(server.data_dir()).run(&[
        "apikey",
        "create",
        "--name",
        "auditor",
        "--scope",
        "audit:read",
    ]);
    let (_, events) =
        super::audit::get(&server, reader.stdout.trim(), "/v1/audit/events?action=ratelimit.exceeded").await;
    let events = events["events"].as_array().unwrap_or_else(|| panic!("{events}"));
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0]["event"];
    assert_eq!(event["target"]["kind"], "client_address", "{event}");
    assert_eq!((event["details"]["burst"].as_i64(), event["result"].as_str()), (Some(5), Some("denied")), "{event}");
}

#[tokio::test]
async fn a_user_over_their_limit_gets_429_whatever_the_session() {
    let server = server()
        .env("STRONGROOM_RATELIMIT_PER_USER_PER_SECOND", "1")
        .env("STRONGROOM_RATELIMIT_PER_USER_BURST", "3")
        .start();
    let init = TestServer::builder(BIN)
        .data_dir(server.data_dir())
        .run_with_input(&["init", "--password-stdin"], &format!("{PASSWORD}\n"));
    assert_eq!(init.code, Some(0), "{init:?}");
    let mut bearers = Vec::new();
    for _ in 0..2 {
        bearers.push(format!("Bearer {}", access_token(&server, "admin").await));
    }
    let (first, _) = burst(&server, "/v1/users/me", Some(("Authorization", &bearers[0])), 3).await;
    assert_eq!(first, [200; 3]);
    let (second, refusal) = burst(&server, "/v1/users/me", Some(("Authorization", &bearers[1])), 2).await;
    assert_eq!(second, [429; 2], "another session of the same user shares the limit");
    assert_eq!(refusal.unwrap().0["code"], "rate_limited");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (again, _) = burst(&server, "/v1/users/me", Some(("Authorization", &bearers[1])), 1).await;
    assert_eq!(again, [200], "one more a second later");
}

#[tokio::test]
async fn an_unreachable_redis_does_not_stop_the_server_and_each_instance_counts_alone_meanwhile() {
    // Port 9 (discard) has no Redis on a test machine.
    let server = server()
        .env("STRONGROOM_RATELIMIT_REDIS_URL", "redis://127.0.0.1:9")
        .env("STRONGROOM_RATELIMIT_PER_ADDRESS_PER_SECOND", "1")
        .env("STRONGROOM_RATELIMIT_PER_ADDRESS_BURST", "4")
        .start();
    let (statuses, _) = burst(&server, "/v1/auth/token/lookup-self", None, 6).await;
    assert_eq!(statuses, [403, 403, 403, 403, 429, 429], "counted in this instance while Redis is away");
    assert!(server.logs().contains("counting in this instance only"), "{}", server.logs());
    let unusable = super::server().env("STRONGROOM_RATELIMIT_REDIS_URL", "http://not-redis").try_start();
    let Err(output) = unusable else { panic!("an unusable Redis URL is refused at start") };
    assert!(output.stderr.contains("ratelimit.redis_url"), "{output:?}");
}
