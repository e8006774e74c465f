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

async fn call(server: &TestServer, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
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

async fn login(server: &TestServer, username: &str, password: &str) -> (u16, Value) {
    call(server, "POST", "/v1/auth/login", None, Some(json!({"username": username, "password": password}))).await
}

fn init_admin(server: &TestServer) {
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
    let (status, _) = call(&server, "POST", "/v1/auth/reset-password", None, Some(body)).await;
    assert_eq!(status, 400, "a reset token works once");
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

fn base32_decode(text: &str) -> Vec<u8> {
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
