//! Identity through the real binary: `strongroom init` and `strongroom user`,
//! password resets, MFA enforced by role without locking anyone out, the
//! concurrent-session limit, roles with justifications, and admin powers.
//! (Logins with pyotp, PyJWT, lockout and API keys are in tests/python.)

use serde_json::{Value, json};
use strongroom_testkit::{CliOutput, TestServer};

use super::{BIN, server};

const PASSWORD: &str = "correct horse battery staple";

fn cli(server: &TestServer, args: &[&str], stdin: Option<&str>) -> CliOutput {
    let builder = TestServer::builder(BIN).data_dir(server.data_dir());
    match stdin {
        Some(input) => builder.run_with_input(args, input),
        None => builder.run(args),
    }
}

pub(crate) async fn call(
    server: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut request = client.request(method.parse().unwrap(), server.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn login(server: &TestServer, username: &str, password: &str) -> (u16, Value) {
    call(server, "POST", "/v1/auth/login", None, Some(json!({"username": username, "password": password}))).await
}

pub(crate) fn init_admin(server: &TestServer) {
    let output = cli(server, &["init", "--password-stdin"], Some(&format!("{PASSWORD}\n")));
    assert_eq!(output.code, Some(0), "{output:?}");
}

#[tokio::test]
async fn init_runs_once_and_user_commands_manage_users_and_resets() {
    let server = server().start();
    init_admin(&server);
    let again = cli(&server, &["init", "--password-stdin"], Some(&format!("{PASSWORD}\n")));
    assert_eq!(again.code, Some(1));
    assert!(again.stderr.contains("runs once"), "{again:?}");

    let weak = cli(
        &server,
        &["user", "create", "--username", "ann", "--email", "ann@example.com", "--role", "analyst", "--password-stdin"],
        Some("password123\n"),
    );
    assert_eq!(weak.code, Some(1));
    assert!(weak.stderr.contains("at least 12 characters"), "{weak:?}");
    let created =
        cli(&server, &["user", "create", "--username", "ann", "--email", "ann@example.com", "--role", "analyst"], None);
    assert_eq!(created.code, Some(0), "{created:?}");
    let generated =
        created.stdout.lines().find_map(|l| l.strip_prefix("password (shown once, store it now): ")).unwrap();
    let (status, ann) = login(&server, "ann", generated).await;
    assert_eq!(status, 200, "{ann}");
    let listed = cli(&server, &["user", "list"], None);
    assert!(listed.stdout.contains("ann") && listed.stdout.contains("analyst"), "{listed:?}");

    assert_eq!(cli(&server, &["user", "lock", "ann", "--reason", "laptop stolen at the airport"], None).code, Some(0));
    let (status, _) = call(&server, "GET", "/v1/users/me", ann["access_token"].as_str(), None).await;
    assert_eq!(status, 401, "a lock ends the sessions at once");
    let (status, refused) = login(&server, "ann", generated).await;
    assert_eq!((status, refused["code"].as_str()), (401, Some("login_failed")));
    assert_eq!(cli(&server, &["user", "unlock", "ann"], None).code, Some(0));

    let reset = cli(&server, &["user", "reset-password", "ann"], None);
    assert_eq!(reset.code, Some(0), "{reset:?}");
    let token = reset.stdout.trim();
    let (_, session) = login(&server, "ann", generated).await;
    let body = json!({"token": token, "new_password": "a brand new passphrase for her"});
    let (status, _) = call(&server, "POST", "/v1/auth/reset-password", None, Some(body.clone())).await;
    assert_eq!(status, 204);
    let (status, refused) = call(&server, "POST", "/v1/auth/reset-password", None, Some(body)).await;
    assert_eq!((status, refused["code"].as_str()), (401, Some("invalid_reset_token")), "a reset token works once");
    let (status, _) = call(&server, "GET", "/v1/users/me", session["access_token"].as_str(), None).await;
    assert_eq!(status, 401, "a reset ends every session");
    assert_eq!(login(&server, "ann", generated).await.0, 401);
    assert_eq!(login(&server, "ann", "a brand new passphrase for her").await.0, 200);
}

#[tokio::test]
async fn a_role_that_requires_mfa_gets_an_enrolment_token_instead_of_a_lockout() {
    let server = server().env("STRONGROOM_IDENTITY_MFA_REQUIRED_ROLES", "admin").start();
    init_admin(&server);
    let (status, answer) = login(&server, "admin", PASSWORD).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["mfa_enrollment_required"], true, "{answer}");
    assert!(answer.get("access_token").is_none());
    let token = answer["enrollment_token"].as_str().unwrap();
    let (status, enrolment) =
        call(&server, "POST", "/v1/auth/totp/enroll", None, Some(json!({"enrollment_token": token}))).await;
    assert_eq!(status, 200, "{enrolment}");
    let uri = enrolment["otpauth_uri"].as_str().unwrap();
    let secret_b32 = uri.split("secret=").nth(1).unwrap().split('&').next().unwrap();
    let secret = base32_decode(secret_b32);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let code = strongroom_crypto::hotp(&secret, strongroom_crypto::totp_step(now));
    let confirm = json!({"code": code, "enrollment_token": enrolment["enrollment_token"]});
    let (status, codes) = call(&server, "POST", "/v1/auth/totp/confirm", None, Some(confirm.clone())).await;
    assert_eq!(status, 200, "{codes}");
    assert_eq!(codes["recovery_codes"].as_array().unwrap().len(), 10);
    let (status, _) = call(&server, "POST", "/v1/auth/totp/confirm", None, Some(confirm)).await;
    assert_eq!(status, 401, "the enrolment token is used up");
    let (_, answer) = login(&server, "admin", PASSWORD).await;
    assert_eq!(answer["mfa_required"], true, "{answer}");
    let code = strongroom_crypto::hotp(&secret, strongroom_crypto::totp_step(now) + 1);
    let (status, tokens) =
        call(&server, "POST", "/v1/auth/mfa", None, Some(json!({"mfa_token": answer["mfa_token"], "code": code})))
            .await;
    assert_eq!(status, 200, "{tokens}");
    let (status, refused) =
        call(&server, "DELETE", "/v1/auth/totp", tokens["access_token"].as_str(), Some(json!({"code": "000000"})))
            .await;
    assert_eq!(status, 403, "a required second factor cannot be turned off: {refused}");
}

pub(crate) fn base32_decode(text: &str) -> Vec<u8> {
    let mut bits = 0u64;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.bytes() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => panic!("not base32"),
        };
        bits = (bits << 5) | u64::from(value);
        count += 5;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    out
}

#[tokio::test]
async fn the_oldest_session_is_evicted_and_sessions_are_listed_and_revoked() {
    let server = server().env("STRONGROOM_IDENTITY_MAX_SESSIONS_PER_USER", "2").start();
    init_admin(&server);
    let (_, first) = login(&server, "admin", PASSWORD).await;
    let (_, second) = login(&server, "admin", PASSWORD).await;
    let (_, third) = login(&server, "admin", PASSWORD).await;
    let me = |tokens: &Value| tokens["access_token"].as_str().unwrap().to_owned();
    assert_eq!(call(&server, "GET", "/v1/users/me", Some(&me(&first)), None).await.0, 401, "evicted");
    let (status, sessions) = call(&server, "GET", "/v1/sessions", Some(&me(&third)), None).await;
    assert_eq!(status, 200);
    let listed = sessions["sessions"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "{sessions}");
    assert!(listed.iter().any(|s| s["current"] == true && s["id"] == third["session_id"]));
    let path = format!("/v1/sessions/{}", second["session_id"].as_str().unwrap());
    assert_eq!(call(&server, "DELETE", &path, Some(&me(&third)), None).await.0, 204);
    assert_eq!(call(&server, "GET", "/v1/users/me", Some(&me(&second)), None).await.0, 401);
    assert_eq!(call(&server, "GET", "/v1/users/me", Some(&me(&third)), None).await.0, 200);
}

#[tokio::test]
async fn admins_manage_users_and_roles_with_justification_and_readers_cannot() {
    let server = server().start();
    init_admin(&server);
    let (_, admin) = login(&server, "admin", PASSWORD).await;
    let admin = admin["access_token"].as_str().unwrap().to_owned();
    let body = json!({"username": "rita", "email": "rita@example.com", "full_name": "Rita Reader", "roles": ["reader"],
        "password": "she reads the transcripts"});
    let (status, rita) = call(&server, "POST", "/v1/users", Some(&admin), Some(body.clone())).await;
    assert_eq!(status, 201, "{rita}");
    assert_eq!(call(&server, "POST", "/v1/users", Some(&admin), Some(body)).await.0, 409);
    let (_, rita_tokens) = login(&server, "rita", "she reads the transcripts").await;
    let rita_token = rita_tokens["access_token"].as_str().unwrap().to_owned();
    let (status, denied) = call(&server, "GET", "/v1/users", Some(&rita_token), None).await;
    assert_eq!((status, denied["code"].as_str()), (403, Some("forbidden")), "{denied}");
    let own = format!("/v1/users/{}", rita["id"].as_str().unwrap());
    assert_eq!(call(&server, "GET", &own, Some(&rita_token), None).await.0, 200, "one reads oneself");

    let roles = format!("{own}/roles");
    let (status, refused) =
        call(&server, "POST", &roles, Some(&admin), Some(json!({"roles": ["analyst"], "justification": "promotion"})))
            .await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused["detail"].as_str().unwrap().contains("20 characters"));
    let why = "rita now reviews the redacted transcripts of matter 42";
    let (status, promoted) =
        call(&server, "POST", &roles, Some(&admin), Some(json!({"roles": ["analyst"], "justification": why}))).await;
    assert_eq!(status, 200, "{promoted}");
    assert_eq!(promoted["roles"], json!(["analyst"]));
    let (_, me) = call(&server, "GET", "/v1/users/me", Some(&rita_token), None).await;
    assert_eq!(me["roles"], json!(["analyst"]), "roles apply to live sessions at once");

    let (status, _) = call(&server, "PATCH", &own, Some(&admin), Some(json!({"disabled": true}))).await;
    assert_eq!(status, 200);
    assert_eq!(call(&server, "GET", "/v1/users/me", Some(&rita_token), None).await.0, 401);
    assert_eq!(login(&server, "rita", "she reads the transcripts").await.0, 401);

    let auditor = super::issue_api_key(&server, &["audit:read"]);
    let events: Value = reqwest::Client::new()
        .get(server.url("/v1/audit/events?action=role.change"))
        .header("X-API-Key", auditor)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let event = &events["events"][0]["event"];
    assert_eq!(event["justification"], why, "{events}");
    assert_eq!(event["details"]["previous_roles"], json!(["reader"]));
}

fn kid_of(token: &str) -> String {
    use base64::Engine;
    let header = token.split('.').next().unwrap();
    let header: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

async fn jwks_kids(server: &TestServer) -> Vec<String> {
    let (_, jwks) = call(server, "GET", "/.well-known/jwks.json", None, None).await;
    jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_compromised_jwt_signing_key_is_refused_at_once_and_logins_go_on_with_a_fresh_one() {
    let server = server().start();
    init_admin(&server);
    let (_, first) = login(&server, "admin", PASSWORD).await;
    let old_token = first["access_token"].as_str().unwrap().to_owned();
    let old_kid = kid_of(&old_token);
    assert_eq!(call(&server, "GET", "/v1/users/me", Some(&old_token), None).await.0, 200);
    assert!(jwks_kids(&server).await.contains(&old_kid));

    let change = json!({"state": "compromised", "justification": "the signing key leaked in a heap dump"});
    let (status, changed) =
        call(&server, "POST", "/v1/keys/system.jwt-signing/state", Some(&old_token), Some(change)).await;
    assert_eq!(status, 200, "{changed}");
    // At once: no cached public key outlives the compromise.
    let (status, refused) = call(&server, "GET", "/v1/users/me", Some(&old_token), None).await;
    assert_eq!(status, 401, "{refused}");
    assert!(!jwks_kids(&server).await.contains(&old_kid), "the compromised key leaves the JWKS");

    let (status, next) = login(&server, "admin", PASSWORD).await;
    assert_eq!(status, 200, "logins go on without an outage: {next}");
    let new_token = next["access_token"].as_str().unwrap();
    let new_kid = kid_of(new_token);
    assert_ne!(new_kid, old_kid);
    assert_eq!(jwks_kids(&server).await, vec![new_kid]);
    assert_eq!(call(&server, "GET", "/v1/users/me", Some(new_token), None).await.0, 200);
}

#[tokio::test]
async fn access_tokens_carry_an_audience_and_the_access_token_type() {
    use base64::Engine;
    let server = server().env("STRONGROOM_IDENTITY_AUDIENCE", "case-files").start();
    init_admin(&server);
    let (_, answer) = login(&server, "admin", PASSWORD).await;
    let token = answer["access_token"].as_str().unwrap();
    let part = |n: usize| -> Value {
        let encoded = token.split('.').nth(n).unwrap();
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(encoded).unwrap()).unwrap()
    };
    assert_eq!(part(0)["typ"], "at+jwt", "RFC 9068");
    assert_eq!(part(1)["aud"], "case-files");
}

/// An API key with these scopes, from the command line.
fn api_key(server: &TestServer, scopes: &[&str], owner: Option<&str>) -> String {
    let mut args = vec!["apikey", "create", "--name", "automation"];
    for scope in scopes {
        args.extend_from_slice(&["--scope", scope]);
    }
    if let Some(owner) = owner {
        args.extend_from_slice(&["--owner", owner]);
    }
    let output = cli(server, &args, None);
    assert_eq!(output.code, Some(0), "{output:?}");
    output.stdout.trim().to_owned()
}

async fn with_key(server: &TestServer, key: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut request = client.request(method.parse().unwrap(), server.url(path)).header("X-API-Key", key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_users_manage_key_cannot_mint_or_take_over_privilege_above_its_own() {
    let server = server().start();
    init_admin(&server);
    let users_only = api_key(&server, &["users:manage"], None);
    let new_admin = json!({"username": "mallory", "email": "m@example.com", "roles": ["admin"], "password": PASSWORD});
    let (status, refused) = with_key(&server, &users_only, "POST", "/v1/users", Some(new_admin.clone())).await;
    assert_eq!(status, 403, "users:manage alone assigns no role: {refused}");
    let service = json!({"username": "worker", "email": "w@example.com", "roles": ["system"]});
    assert_eq!(with_key(&server, &users_only, "POST", "/v1/users", Some(service.clone())).await.0, 403);

    let assigner = api_key(&server, &["users:manage", "roles:assign"], None);
    let (status, refused) = with_key(&server, &assigner, "POST", "/v1/users", Some(new_admin)).await;
    assert_eq!(status, 403, "a key holds role system, not admin: {refused}");
    assert!(refused["detail"].as_str().unwrap().contains("admin"), "{refused}");
    let (status, worker) = with_key(&server, &assigner, "POST", "/v1/users", Some(service)).await;
    assert_eq!(status, 201, "service accounts are within a key's own role: {worker}");
    let worker_id = worker["id"].as_str().unwrap();
    let promote = json!({"roles": ["admin"], "justification": "automation wants more power today"});
    let (status, _) =
        with_key(&server, &assigner, "POST", &format!("/v1/users/{worker_id}/roles"), Some(promote)).await;
    assert_eq!(status, 403, "nor may it assign admin to anyone");

    // Taking over a user above the key is gaining their role: refused too.
    let admin_id = cli(&server, &["user", "list"], None)
        .stdout
        .lines()
        .find(|line| line.contains(" admin "))
        .and_then(|line| line.split_whitespace().next())
        .unwrap()
        .to_owned();
    for (method, path) in [
        ("POST", format!("/v1/users/{admin_id}/reset-password")),
        ("POST", format!("/v1/users/{admin_id}/mfa-enrollment")),
        ("POST", format!("/v1/users/{admin_id}/lock")),
        ("POST", format!("/v1/users/{admin_id}/revoke-sessions")),
    ] {
        let (status, answer) = with_key(&server, &users_only, method, &path, None).await;
        assert_eq!(status, 403, "{method} {path}: {answer}");
    }
    let (_, admin_session) = login(&server, "admin", PASSWORD).await;
    let admin_token = admin_session["access_token"].as_str().unwrap();
    let (_, events) = call(&server, "GET", "/v1/audit/events?action=user.create", Some(admin_token), None).await;
    assert!(events.to_string().contains("privilege_above_own"), "refusals are audited: {events}");
    // An admin still creates admins.
    let (status, _) = call(
        &server,
        "POST",
        "/v1/users",
        Some(admin_token),
        Some(json!({"username": "second-admin", "email": "a2@example.com", "roles": ["admin"], "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn a_locked_users_api_keys_stop_and_ending_everything_of_a_user_revokes_them() {
    let server = server().start();
    init_admin(&server);
    assert_eq!(
        cli(&server, &["user", "create", "--username", "svc", "--email", "s@example.com", "--role", "system"], None)
            .code,
        Some(0)
    );
    let owned = api_key(&server, &["audit:read"], Some("svc"));
    assert_eq!(with_key(&server, &owned, "GET", "/v1/alerts", None).await.0, 200);
    assert_eq!(
        cli(&server, &["user", "lock", "svc", "--reason", "its host was compromised today"], None).code,
        Some(0)
    );
    // The lock was made by another process (the CLI): within the cache refresh.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while with_key(&server, &owned, "GET", "/v1/alerts", None).await.0 == 200 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(with_key(&server, &owned, "GET", "/v1/alerts", None).await.0, 401, "a locked owner's key stops");
    assert_eq!(cli(&server, &["user", "unlock", "svc"], None).code, Some(0));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while with_key(&server, &owned, "GET", "/v1/alerts", None).await.0 != 200 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(with_key(&server, &owned, "GET", "/v1/alerts", None).await.0, 200, "and works again once unlocked");

    let (_, session) = login(&server, "admin", PASSWORD).await;
    let token = session["access_token"].as_str().unwrap();
    let svc_id = cli(&server, &["user", "list"], None)
        .stdout
        .lines()
        .find(|line| line.contains(" svc "))
        .and_then(|line| line.split_whitespace().next())
        .unwrap()
        .to_owned();
    let (status, ended) =
        call(&server, "POST", &format!("/v1/users/{svc_id}/revoke-sessions"), Some(token), None).await;
    assert_eq!(status, 200, "{ended}");
    assert_eq!(ended["revoked_api_keys"], 1, "{ended}");
    assert_eq!(with_key(&server, &owned, "GET", "/v1/alerts", None).await.0, 401);

    // Incident response in one call: the lock also revokes the keys, so
    // unlocking the user later does not bring them back.
    let second = api_key(&server, &["audit:read"], Some("svc"));
    assert_eq!(with_key(&server, &second, "GET", "/v1/alerts", None).await.0, 200);
    let lock = serde_json::json!({"reason": "its host was compromised again", "revoke_api_keys": true});
    let (status, locked) = call(&server, "POST", &format!("/v1/users/{svc_id}/lock"), Some(token), Some(lock)).await;
    assert_eq!(status, 200, "{locked}");
    let (status, _) = call(&server, "POST", &format!("/v1/users/{svc_id}/unlock"), Some(token), None).await;
    assert_eq!(status, 200);
    assert_eq!(with_key(&server, &second, "GET", "/v1/alerts", None).await.0, 401, "revoked, not only held");
}

/// `application/x-www-form-urlencoded`, every byte but the unreserved ones escaped.
fn form(fields: &[(&str, &str)]) -> String {
    let escape = |text: &str| -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
                other => format!("%{other:02X}"),
            })
            .collect()
    };
    fields.iter().map(|(k, v)| format!("{}={}", escape(k), escape(v))).collect::<Vec<_>>().join("&")
}

/// POSTs a form with optional headers; answers the status, a header's value and the body.
async fn post_form(
    server: &TestServer,
    path: &str,
    fields: &[(&str, &str)],
    headers: &[(&str, &str)],
    header: &str,
) -> (u16, Option<String>, Value) {
    let mut request = reqwest::Client::new()
        .post(server.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(fields));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let value = response.headers().get(header).map(|v| v.to_str().unwrap().to_owned());
    (status, value, response.json().await.unwrap_or(Value::Null))
}

async fn introspect(server: &TestServer, key: &str, token: &str) -> Value {
    let (status, _, answer) =
        post_form(server, "/v1/auth/introspect", &[("token", token)], &[("X-API-Key", key)], "-").await;
    assert_eq!(status, 200, "{answer}");
    answer
}

#[tokio::test]
async fn introspection_tells_live_tokens_and_keys_from_expired_revoked_and_logged_out_ones() {
    let server = server().env("STRONGROOM_IDENTITY_ACCESS_TOKEN_SECONDS", "3").start();
    init_admin(&server);
    let introspector = api_key(&server, &["auth:introspect"], None);
    let (_, live) = login(&server, "admin", PASSWORD).await;
    let token = live["access_token"].as_str().unwrap();

    let answer = introspect(&server, &introspector, token).await;
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(answer["username"], "admin");
    assert_eq!(answer["session"], live["session_id"]);
    assert_eq!(answer["token_type"], "access_token");
    assert!(answer["roles"].as_array().unwrap().iter().any(|r| r == "admin"), "{answer}");
    assert!(answer["matters"].is_array() && answer["exp"].as_i64().unwrap() > 0, "{answer}");
    assert_eq!(introspect(&server, &introspector, "not-a-token").await, json!({"active": false}));
    let forged = format!("{}x", &token[..token.len() - 1]);
    assert_eq!(introspect(&server, &introspector, &forged).await["active"], false);

    // Only the scope (or an admin) may ask.
    let other = api_key(&server, &["transit:use"], None);
    let (status, _, refused) =
        post_form(&server, "/v1/auth/introspect", &[("token", token)], &[("X-API-Key", &other)], "-").await;
    assert_eq!((status, refused["error"].as_str()), (403, Some("insufficient_scope")), "{refused}");
    let bearer = format!("Bearer {token}");
    let (status, _, by_admin) =
        post_form(&server, "/v1/auth/introspect", &[("token", &introspector)], &[("Authorization", &bearer)], "-")
            .await;
    assert_eq!((status, &by_admin["active"]), (200, &json!(true)), "{by_admin}");
    assert_eq!(by_admin["scopes"], json!(["auth:introspect"]));
    assert_eq!(by_admin["token_type"], "api_key");

    // Logged out, and a session revoked by its owner.
    let (_, gone) = login(&server, "admin", PASSWORD).await;
    let gone_token = gone["access_token"].as_str().unwrap();
    assert_eq!(introspect(&server, &introspector, gone_token).await["active"], true);
    assert_eq!(call(&server, "POST", "/v1/auth/logout", Some(gone_token), None).await.0, 204);
    assert_eq!(introspect(&server, &introspector, gone_token).await, json!({"active": false}), "logged out");
    let (_, revoked) = login(&server, "admin", PASSWORD).await;
    let path = format!("/v1/sessions/{}", revoked["session_id"].as_str().unwrap());
    assert_eq!(call(&server, "DELETE", &path, Some(token), None).await.0, 204);
    assert_eq!(introspect(&server, &introspector, revoked["access_token"].as_str().unwrap()).await["active"], false);

    // A revoked key.
    let doomed = api_key(&server, &["audit:read"], None);
    assert_eq!(introspect(&server, &introspector, &doomed).await["active"], true);
    let id = doomed.split('_').nth(1).unwrap();
    assert_eq!(call(&server, "DELETE", &format!("/v1/api-keys/{id}"), Some(token), None).await.0, 204);
    assert_eq!(introspect(&server, &introspector, &doomed).await, json!({"active": false}), "revoked key");

    // Expired: the token lives 3 s here.
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    assert_eq!(introspect(&server, &introspector, token).await, json!({"active": false}), "expired");
}

#[tokio::test]
async fn application_keys_are_introspected_but_admitted_to_no_route_of_strongroom() {
    let server = server().start();
    init_admin(&server);
    let introspector = api_key(&server, &["auth:introspect", "api_keys:manage"], None);
    // The app issues a key to its own client, with its own scopes.
    let body = json!({"name": "customer-42", "scopes": ["app:read", "app:export"], "rate_limit_per_minute": 1000});
    let (status, issued) = with_key(&server, &introspector, "POST", "/v1/api-keys", Some(body)).await;
    assert_eq!(status, 201, "{issued}");
    let app_key = issued["secret"].as_str().unwrap();
    let (_, admin) = login(&server, "admin", PASSWORD).await;
    let mixed = json!({"name": "both", "scopes": ["app:read", "transit:use"]});
    let (status, refused) = call(&server, "POST", "/v1/api-keys", admin["access_token"].as_str(), Some(mixed)).await;
    assert_eq!(status, 400, "a key is Strongroom's or the app's: {refused}");

    let answer = introspect(&server, &introspector, app_key).await;
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(answer["scopes"], json!(["app:export", "app:read"]));
    assert_eq!(answer["application_key"], true);
    assert_eq!(answer["roles"], json!([]));

    for (method, path) in [
        ("GET", "/v1/users/me"),
        ("GET", "/v1/matters"),
        ("GET", "/v1/transit/keys"),
        ("GET", "/v1/api-keys"),
        ("GET", "/v1/collections"),
    ] {
        let (status, refused) = with_key(&server, app_key, method, path, None).await;
        assert_eq!(status, 403, "{method} {path}: {refused}");
    }
    let (status, _, refused) =
        post_form(&server, "/v1/auth/introspect", &[("token", app_key)], &[("X-API-Key", app_key)], "-").await;
    assert_eq!(status, 403, "not even introspection: {refused}");

    // Its service token is introspected too, and admitted nowhere either.
    let id = app_key.split('_').nth(1).unwrap();
    let grant = [("grant_type", "client_credentials"), ("client_id", id), ("client_secret", app_key)];
    let (status, _, token) = post_form(&server, "/token", &grant, &[], "-").await;
    assert_eq!(status, 200, "{token}");
    let service_token = token["access_token"].as_str().unwrap();
    assert_eq!(call(&server, "GET", "/v1/matters", Some(service_token), None).await.0, 403);
    let answer = introspect(&server, &introspector, service_token).await;
    assert_eq!((&answer["active"], &answer["token_type"]), (&json!(true), &json!("service_token")), "{answer}");
    assert_eq!(answer["client_id"], id);
}

#[tokio::test]
async fn the_token_endpoint_grants_password_with_totp_refresh_and_client_credentials() {
    let server = server().start();
    init_admin(&server);
    // FastAPI's OAuth2PasswordRequestForm fields.
    let fields = [("grant_type", "password"), ("username", "admin"), ("password", PASSWORD), ("scope", "")];
    let (status, _, pair) = post_form(&server, "/token", &fields, &[], "-").await;
    assert_eq!(status, 200, "{pair}");
    assert_eq!(pair["token_type"], "bearer");
    let access = pair["access_token"].as_str().unwrap().to_owned();
    let refresh = pair["refresh_token"].as_str().unwrap().to_owned();

    let (status, www, wrong) = post_form(
        &server,
        "/token",
        &[("username", "admin"), ("password", "wrong password here")],
        &[],
        "www-authenticate",
    )
    .await;
    assert_eq!(
        (status, wrong["error"].as_str(), wrong["code"].as_str()),
        (401, Some("invalid_grant"), Some("login_failed"))
    );
    assert!(www.is_some(), "a 401 names its scheme");
    let (status, _, unknown) = post_form(&server, "/token", &[("grant_type", "implicit")], &[], "-").await;
    assert_eq!((status, unknown["error"].as_str()), (400, Some("unsupported_grant_type")), "{unknown}");
    let (status, _, missing) = post_form(&server, "/token", &[("grant_type", "refresh_token")], &[], "-").await;
    assert_eq!((status, missing["error"].as_str()), (400, Some("invalid_request")), "{missing}");

    // The refresh grant rotates; the used token is refused after.
    let (status, _, next) =
        post_form(&server, "/token", &[("grant_type", "refresh_token"), ("refresh_token", &refresh)], &[], "-").await;
    assert_eq!(status, 200, "{next}");
    assert_ne!(next["refresh_token"].as_str().unwrap(), refresh);
    let (status, www, reused) = post_form(
        &server,
        "/token",
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        &[],
        "www-authenticate",
    )
    .await;
    assert_eq!((status, reused["error"].as_str()), (401, Some("invalid_grant")), "{reused}");
    assert!(www.is_some());

    assert_eq!(
        call(&server, "GET", "/v1/users/me", next["access_token"].as_str(), None).await.0,
        401,
        "a used refresh token presented again ends its session"
    );

    // A second factor: the password grant then takes `totp`.
    let (_, fresh) = login(&server, "admin", PASSWORD).await;
    let token = fresh["access_token"].as_str().unwrap();
    let (status, enrolment) = call(&server, "POST", "/v1/auth/totp/enroll", Some(token), Some(json!({}))).await;
    assert_eq!(status, 200, "{enrolment}");
    let uri = enrolment["otpauth_uri"].as_str().unwrap();
    let secret = base32_decode(uri.split("secret=").nth(1).unwrap().split('&').next().unwrap());
    let step = strongroom_crypto::totp_step(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
    );
    let confirm = json!({"code": strongroom_crypto::hotp(&secret, step - 1)});
    assert_eq!(call(&server, "POST", "/v1/auth/totp/confirm", Some(token), Some(confirm)).await.0, 200);
    let (status, _, needs) = post_form(&server, "/token", &fields, &[], "-").await;
    assert_eq!(
        (status, needs["code"].as_str(), needs["error"].as_str()),
        (403, Some("mfa_required"), Some("invalid_grant"))
    );
    // A login has no session to step up: the hint names the totp field, not the step-up route.
    let hint = needs["detail"].as_str().unwrap();
    assert!(hint.contains("totp form field") && !hint.contains("step-up"), "{needs}");
    let code = strongroom_crypto::hotp(&secret, step);
    let with_code = [("username", "admin"), ("password", PASSWORD), ("totp", code.as_str())];
    let (status, _, second) = post_form(&server, "/token", &with_code, &[], "-").await;
    assert_eq!(status, 200, "{second}");
    let (status, _, replay) = post_form(&server, "/token", &with_code, &[], "-").await;
    assert_eq!((status, replay["error"].as_str()), (401, Some("invalid_grant")), "a code works once: {replay}");
    drop(access);

    // Client credentials: a short-lived service token standing for the key.
    let key = api_key(&server, &["transit:manage", "transit:use"], None);
    let id = key.split('_').nth(1).unwrap().to_owned();
    let secret_part = key.splitn(3, '_').nth(2).unwrap().to_owned();
    let grant =
        [("grant_type", "client_credentials"), ("client_id", id.as_str()), ("client_secret", secret_part.as_str())];
    let (status, _, service) = post_form(&server, "/token", &grant, &[], "-").await;
    assert_eq!(status, 200, "{service}");
    assert_eq!(service["scope"], "transit:manage transit:use");
    assert!(service.get("refresh_token").is_none() && service["expires_in"].as_i64().unwrap() <= 300);
    let service_token = service["access_token"].as_str().unwrap();
    assert_eq!(call(&server, "POST", "/v1/transit/keys/app", Some(service_token), Some(json!({}))).await.0 / 100, 2);
    use base64::Engine;
    let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret_part}")));
    let (status, _, by_basic) =
        post_form(&server, "/token", &[("grant_type", "client_credentials")], &[("Authorization", &basic)], "-").await;
    assert_eq!(status, 200, "HTTP Basic (RFC 6749 §2.3.1): {by_basic}");
    let bad = [("grant_type", "client_credentials"), ("client_id", id.as_str()), ("client_secret", "nope")];
    let (status, www, refused) = post_form(&server, "/token", &bad, &[], "www-authenticate").await;
    assert_eq!((status, refused["error"].as_str()), (401, Some("invalid_client")), "{refused}");
    assert!(www.unwrap().starts_with("Basic"));

    // Revoking the key ends its service tokens at once.
    let admin_token = second["access_token"].as_str().unwrap();
    assert_eq!(call(&server, "DELETE", &format!("/v1/api-keys/{id}"), Some(admin_token), None).await.0, 204);
    assert_eq!(call(&server, "GET", "/v1/transit/keys/app", Some(service_token), None).await.0, 401);
}

#[tokio::test]
async fn discovery_names_the_endpoints_the_jwks_is_cacheable_and_me_lists_permissions() {
    let server = server().start();
    init_admin(&server);
    let client = reqwest::Client::new();
    let discovery: Value =
        client.get(server.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(discovery["issuer"], "strongroom");
    assert!(discovery["jwks_uri"].as_str().unwrap().ends_with("/.well-known/jwks.json"), "{discovery}");
    assert!(discovery["introspection_endpoint"].as_str().unwrap().ends_with("/v1/auth/introspect"));
    assert!(discovery["token_endpoint"].as_str().unwrap().starts_with("http://127.0.0.1:"), "{discovery}");
    assert_eq!(discovery["grant_types_supported"], json!(["password", "refresh_token", "client_credentials"]));
    let jwks = client.get(server.url("/.well-known/jwks.json")).send().await.unwrap();
    let cache = jwks.headers()["cache-control"].to_str().unwrap().to_owned();
    assert!(cache.contains("max-age=") && !cache.contains("no-store"), "{cache}");

    let (_, session) = login(&server, "admin", PASSWORD).await;
    let token = session["access_token"].as_str().unwrap();
    let me = client.get(server.url("/v1/users/me")).bearer_auth(token).send().await.unwrap();
    assert_eq!(me.headers()["cache-control"], "no-store", "nothing else became cacheable");
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["username"], "admin");
    let (status, _) =
        call(&server, "POST", "/v1/matters", Some(token), Some(json!({"id": "case-1", "name": "Case one"}))).await;
    assert_eq!(status, 201);
    let (_, me) = call(&server, "GET", "/v1/users/me", Some(token), None).await;
    assert_eq!(me["matters"], json!(["case-1"]), "{me}");
    let service = me["permissions"]["service"].as_array().unwrap();
    assert!(service.iter().any(|a| a == "user.manage") && service.iter().any(|a| a == "token.introspect"), "{me}");
    let case = &me["permissions"]["matters"][0];
    assert_eq!(case["matter"], "case-1");
    assert!(case["actions"].as_array().unwrap().iter().any(|a| a == "record.decrypt"), "{me}");
}
