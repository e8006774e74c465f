//! The console through the real binary, as a browser speaks to it (the
//! headers a browser sends, no redirects followed): signing in with a
//! password and a TOTP code, the cookie's attributes, the page's CSP, the
//! overview with the audit log's integrity, refusals of cross-site posts
//! and of posts without the form token, signing out ending the session (a
//! copy of the cookie then opens nothing), and a session ended from another
//! browser signing that browser out.

use reqwest::header::{CONTENT_SECURITY_POLICY, COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use serde_json::json;
use strongroom_testkit::TestServer;

use super::authz::{PASSWORD, access_token};
use super::identity::{base32_decode, call, init_admin};
use super::server;

fn browser() -> reqwest::Client {
    reqwest::Client::builder().redirect(Policy::none()).build().unwrap()
}

/// A form post as a page of the console sends it.
async fn post_form(server: &TestServer, path: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> reqwest::Response {
    let origin = server.url("/").trim_end_matches('/').to_owned();
    let mut request = browser().post(server.url(path)).header("Origin", origin).form(form);
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, format!("__Host-strongroom={cookie}"));
    }
    request.send().await.unwrap()
}

async fn get_page(server: &TestServer, path: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut request = browser().get(server.url(path));
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, format!("__Host-strongroom={cookie}"));
    }
    request.send().await.unwrap()
}

/// The value of the hidden input `name` in `html`.
fn hidden(html: &str, name: &str) -> String {
    let at = html.find(&format!("name=\"{name}\"")).unwrap_or_else(|| panic!("no {name} in {html}"));
    let tag_start = html[..at].rfind('<').unwrap();
    let tag = &html[tag_start..tag_start + html[tag_start..].find('>').unwrap()];
    let value = tag.split("value=\"").nth(1).unwrap();
    value[..value.find('"').unwrap()].to_owned()
}

/// Enrols `admin` in TOTP through the API; answers the secret.
async fn enrol_totp(server: &TestServer) -> Vec<u8> {
    let token = &access_token(server, "admin").await;
    let (status, enrolment) = call(server, "POST", "/v1/auth/totp/enroll", Some(token), None).await;
    assert_eq!(status, 200, "{enrolment}");
    let uri = enrolment["otpauth_uri"].as_str().unwrap();
    let secret = base32_decode(uri.split("secret=").nth(1).unwrap().split('&').next().unwrap());
    let (status, confirmed) =
        call(server, "POST", "/v1/auth/totp/confirm", Some(token), Some(json!({"code": code(&secret, 0)}))).await;
    assert_eq!(status, 200, "{confirmed}");
    secret
}

fn code(secret: &[u8], steps_ahead: u64) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    strongroom_crypto::hotp(secret, strongroom_crypto::totp_step(now) + steps_ahead)
}

#[tokio::test]
async fn an_admin_signs_in_with_a_second_factor_sees_the_overview_and_signs_out() {
    let server = server().start();
    init_admin(&server);
    let secret = enrol_totp(&server).await;

    // Not signed in: the console sends the browser to the sign-in page.
    let response = get_page(&server, "/console", None).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()[LOCATION], "/console/login");
    let response = get_page(&server, "/console/login", None).await;
    assert_eq!(response.status(), 200);
    let csp = response.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned();
    assert!(csp.contains("default-src 'none'") && csp.contains("style-src 'self'"), "{csp}");
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "our script only: {csp}");
    let html = response.text().await.unwrap();
    assert!(html.contains("<label for=\"password\">"), "every field is labelled: {html}");
    assert!(!html.contains("style="), "nothing inline: {html}");
    assert_eq!(html.matches("<script").count(), html.matches("<script src=\"/console/console.js\"").count(), "{html}");

    // A post from another site is refused before anything is read.
    let cross = browser()
        .post(server.url("/console/login"))
        .header("Origin", "https://evil.example")
        .form(&[("username", "admin"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
    assert!(cross.headers().get(SET_COOKIE).is_none());

    // A wrong password, then the right one: the code is asked for next.
    let wrong = post_form(&server, "/console/login", None, &[("username", "admin"), ("password", "nope")]).await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.text().await.unwrap().contains("Wrong username, password or code."));
    let step = post_form(&server, "/console/login", None, &[("username", "admin"), ("password", PASSWORD)]).await;
    assert_eq!(step.status(), 200);
    assert!(step.headers().get(SET_COOKIE).is_none(), "no session before the second factor");
    let challenge = hidden(&step.text().await.unwrap(), "challenge");
    let signed_in =
        post_form(&server, "/console/login", None, &[("challenge", &challenge), ("code", &code(&secret, 1))]).await;
    assert_eq!(signed_in.status(), 303);
    assert_eq!(signed_in.headers()[LOCATION], "/console");
    let set_cookie = signed_in.headers()[SET_COOKIE].to_str().unwrap();
    for attribute in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{attribute} missing: {set_cookie}");
    }
    let cookie = cookie_of(&signed_in);

    // The overview: who, and the audit log's integrity.
    let overview = get_page(&server, "/console", Some(&cookie)).await;
    assert_eq!(overview.status(), 200);
    let html = overview.text().await.unwrap();
    for expected in ["Signed in as <strong>admin</strong>", "Audit log integrity", "<span class=\"ok\">yes</span>"] {
        assert!(html.contains(expected), "{expected:?} missing from {html}");
    }
    assert!(html.contains("login.success"), "events by type: {html}");
    let form_token = hidden(&html, "form_token");

    // A cookie whose MAC was altered opens nothing.
    let forged = format!("{}0", &cookie[..cookie.len() - 1]);
    let forged = if forged == cookie { format!("{}1", &cookie[..cookie.len() - 1]) } else { forged };
    assert_eq!(get_page(&server, "/console", Some(&forged)).await.status(), 303);

    // Signing out needs the form token; then the session is over everywhere.
    let refused = post_form(&server, "/console/logout", Some(&cookie), &[("form_token", "00")]).await;
    assert_eq!(refused.status(), 403);
    assert_eq!(get_page(&server, "/console", Some(&cookie)).await.status(), 200, "still signed in");
    let out = post_form(&server, "/console/logout", Some(&cookie), &[("form_token", &form_token)]).await;
    assert_eq!(out.status(), 303);
    assert!(out.headers()[SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
    let after = get_page(&server, "/console", Some(&cookie)).await;
    assert_eq!((after.status().as_u16(), after.headers()[LOCATION].to_str().unwrap()), (303, "/console/login"));
}

/// Signs `username` in with a password; answers the cookie's value.
async fn sign_in(server: &TestServer, username: &str) -> String {
    let signed_in = post_form(server, "/console/login", None, &[("username", username), ("password", PASSWORD)]).await;
    assert_eq!(signed_in.status(), 303);
    cookie_of(&signed_in)
}

/// The session cookie's value that `response` sets.
fn cookie_of(response: &reqwest::Response) -> String {
    let set_cookie = response.headers()[SET_COOKIE].to_str().unwrap();
    set_cookie.strip_prefix("__Host-strongroom=").unwrap().split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_session_ended_from_another_browser_signs_that_browser_out() {
    let server = server().start();
    init_admin(&server);
    let (first, second) = (sign_in(&server, "admin").await, sign_in(&server, "admin").await);
    let page = get_page(&server, "/console/sessions", Some(&first)).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert_eq!(html.matches("name=\"session\"").count(), 2, "both sessions are listed: {html}");
    assert!(html.contains("End this session (sign out)"), "{html}");
    let form_token = hidden(&html, "form_token");
    let second_session = second.split('.').next().unwrap();

    // Without the form token nothing ends; with it, the other browser is signed out.
    let refused = post_form(&server, "/console/sessions/revoke", Some(&first), &[("session", second_session)]).await;
    assert_eq!(refused.status(), 403);
    assert_eq!(get_page(&server, "/console", Some(&second)).await.status(), 200);
    let ended = post_form(
        &server,
        "/console/sessions/revoke",
        Some(&first),
        &[("form_token", &form_token), ("session", second_session)],
    )
    .await;
    assert_eq!((ended.status().as_u16(), ended.headers()[LOCATION].to_str().unwrap()), (303, "/console/sessions"));
    let after = get_page(&server, "/console", Some(&second)).await;
    assert_eq!((after.status().as_u16(), after.headers()[LOCATION].to_str().unwrap()), (303, "/console/login"));
    assert_eq!(get_page(&server, "/console", Some(&first)).await.status(), 200, "the first browser stays");
    let html = get_page(&server, "/console/sessions", Some(&first)).await.text().await.unwrap();
    assert_eq!(html.matches("name=\"session\"").count(), 1, "{html}");

    // Ending one's own session is signing out.
    let first_session = first.split('.').next().unwrap();
    let out = post_form(
        &server,
        "/console/sessions/revoke",
        Some(&first),
        &[("form_token", &form_token), ("session", first_session)],
    )
    .await;
    assert_eq!(out.headers()[LOCATION], "/console/login");
    assert!(out.headers()[SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(get_page(&server, "/console", Some(&first)).await.status(), 303);
}

#[tokio::test]
async fn a_reader_sees_who_they_are_and_no_audit_figures() {
    let server = server().start();
    init_admin(&server);
    let create = TestServer::builder(super::BIN).data_dir(server.data_dir()).run_with_input(
        &["user", "create", "--username", "rui", "--email", "rui@example.com", "--role", "reader", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
    assert_eq!(create.code, Some(0), "{create:?}");
    let cookie = sign_in(&server, "rui").await;
    let html = get_page(&server, "/console", Some(&cookie)).await.text().await.unwrap();
    assert!(html.contains("Signed in as <strong>rui</strong>") && html.contains("reader"), "{html}");
    assert!(!html.contains("Audit log integrity"), "a reader does not read the audit log: {html}");
    // And viewing the page recorded no denial.
    let admin = access_token(&server, "admin").await;
    let (_, denials) = call(&server, "GET", "/v1/audit/events?action=permission.denied", Some(&admin), None).await;
    assert_eq!(denials["events"].as_array().unwrap().len(), 0, "{denials}");
}

/// A matter with an interview in it (the `interviews` template), `rui` the
/// reader granted on it: the record's id and the secret answer it holds.
async fn interview(server: &TestServer, admin: &str, reader_id: &str) -> (String, &'static str) {
    use super::authz::call;
    let (status, _) =
        call(server, "POST", "/v1/matters", admin, Some(json!({"id": "hiring-2026", "name": "Hiring"}))).await;
    assert_eq!(status, 201);
    let grant = json!({"principal": format!("user:{reader_id}"), "justification": "on the 2026 hiring panel"});
    let (status, body) = call(server, "POST", "/v1/matters/hiring-2026/grants", admin, Some(grant)).await;
    assert_eq!(status, 201, "{body}");
    let secret = "I was let go from Acme after reporting fraud to the regulator";
    let record = json!({"matter": "hiring-2026", "subject": "candidate-881", "fields": {
        "user_id": "candidate-881", "consent_id": "consent-17", "timestamp": "2026-11-23T10:00:00Z",
        "transcribed_text": secret, "tokens": {"count": 14}, "embedding": [0.12, -0.5, 0.33],
        "anonymized_answer": "I left my previous employer after raising a compliance concern",
        "score": 4.5, "feedback": "clear and honest", "status": "reviewed"}});
    let (status, created) = call(server, "POST", "/v1/collections/interviews/records", admin, Some(record)).await;
    assert_eq!(status, 201, "{created}");
    (created["id"].as_str().unwrap().to_owned(), secret)
}

#[tokio::test]
async fn an_admin_decrypts_in_the_dialog_with_a_justification_and_a_reader_is_offered_nothing_and_refused() {
    let (server, admin, _, reader_id) = super::authz::admin_and_reader().await;
    let (id, secret) = interview(&server, &admin, &reader_id).await;
    let page_path = format!("/console/records/interviews/{id}");
    let decrypt_path = format!("{page_path}/decrypt");

    // The listing links the record; its page shows the public view and
    // offers the decrypt dialog, with the permanent-record warning.
    let cookie = sign_in(&server, "admin").await;
    let listing = get_page(&server, "/console/records/interviews", Some(&cookie)).await.text().await.unwrap();
    assert!(listing.contains(&format!("href=\"{page_path}\"")), "{listing}");
    let html = get_page(&server, &page_path, Some(&cookie)).await.text().await.unwrap();
    assert!(html.contains("clear and honest") && !html.contains("Acme"), "the public view only: {html}");
    assert!(html.contains(&format!("action=\"{decrypt_path}\"")) && html.contains("recorded permanently"), "{html}");
    let form_token = hidden(&html, "form_token");

    // Too short a justification: said on the page, nothing revealed.
    let form = |why: &'static str| {
        [
            ("form_token", form_token.clone()),
            ("field.transcribed_text", "on".into()),
            ("purpose", "case_work".into()),
            ("justification", why.into()),
        ]
    };
    let short = post_form(&server, &decrypt_path, Some(&cookie), &as_pairs(&form("too short"))).await;
    assert_eq!(short.status(), 400);
    let text = short.text().await.unwrap();
    assert!(text.contains("at least 20 characters") && !text.contains("Acme"), "{text}");

    // Justified: the plaintext, the notice, and the reveal audited with the reason.
    let shown =
        post_form(&server, &decrypt_path, Some(&cookie), &as_pairs(&form("verifying the claim before the offer")))
            .await;
    assert_eq!(shown.status(), 200);
    assert_eq!(shown.headers()["cache-control"], "no-store");
    let text = shown.text().await.unwrap();
    assert!(text.contains(secret) && text.contains("recorded permanently"), "{text}");
    let reveals = super::authz::audited(&server, &admin, "record.decrypt").await;
    assert_eq!(reveals.len(), 1, "{reveals:?}");
    assert_eq!(reveals[0]["justification"], "verifying the claim before the offer");
    assert_eq!(reveals[0]["fields"], json!(["transcribed_text"]));

    // The reader sees the record without a decrypt button; a crafted
    // decrypt from their session is refused and the refusal audited.
    let reader = sign_in(&server, "rui").await;
    let html = get_page(&server, &page_path, Some(&reader)).await.text().await.unwrap();
    assert!(html.contains("clear and honest"), "{html}");
    assert!(!html.contains("/decrypt") && !html.contains("name=\"justification\""), "no decrypt offered: {html}");
    let reader_token = hidden(&html, "form_token");
    let crafted = [
        ("form_token", reader_token.as_str()),
        ("field.transcribed_text", "on"),
        ("purpose", "case_work"),
        ("justification", "second opinion on the fraud claim"),
    ];
    let refused = post_form(&server, &decrypt_path, Some(&reader), &crafted).await;
    assert_eq!(refused.status(), 403);
    assert!(!refused.text().await.unwrap().contains("Acme"));
    let denials = super::authz::audited(&server, &admin, "permission.denied").await;
    assert!(denials.iter().any(|e| e["details"]["action"] == "record.decrypt"), "{denials:?}");
    assert_eq!(super::authz::audited(&server, &admin, "record.decrypt").await.len(), 1, "still the one reveal");
}

fn as_pairs<'a>(form: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    form.iter().map(|(name, value)| (*name, value.as_str())).collect()
}

#[tokio::test]
async fn a_reader_asks_for_access_and_an_admin_approves_it_with_a_note_never_their_own() {
    let (server, admin, _, reader_id) = super::authz::admin_and_reader().await;
    interview(&server, &admin, &reader_id).await;
    let reader = sign_in(&server, "rui").await;
    let html = get_page(&server, "/console/access-requests", Some(&reader)).await.text().await.unwrap();
    let reader_token = hidden(&html, "form_token");
    let ask = [
        ("form_token", reader_token.as_str()),
        ("matter", "hiring-2026"),
        ("action", "record.decrypt"),
        ("minutes", "30"),
        ("purpose", "case_work"),
        ("justification", "second opinion on the fraud claim"),
    ];
    let asked = post_form(&server, "/console/access-requests/new", Some(&reader), &ask).await;
    assert_eq!(
        (asked.status().as_u16(), asked.headers()[LOCATION].to_str().unwrap()),
        (303, "/console/access-requests")
    );
    let html = get_page(&server, "/console/access-requests", Some(&reader)).await.text().await.unwrap();
    assert!(html.contains("Your request: someone else decides it."), "{html}");

    // The admin sees what it covers, and nothing of the data.
    let cookie = sign_in(&server, "admin").await;
    let html = get_page(&server, "/console/access-requests", Some(&cookie)).await.text().await.unwrap();
    assert!(html.contains("second opinion on the fraud claim") && html.contains("rui"), "{html}");
    assert!(!html.contains("Acme"), "nothing of the data: {html}");
    let request_id = hidden(&html, "id");
    assert!(request_id.starts_with("ar_"), "{request_id}");

    // The requester cannot approve their own request.
    let own =
        [("form_token", reader_token.as_str()), ("id", request_id.as_str()), ("decision", "approve"), ("note", "")];
    let refused = post_form(&server, "/console/access-requests/decide", Some(&reader), &own).await;
    assert_eq!(refused.status(), 403);

    // The admin approves, with a note.
    let form_token = hidden(&html, "form_token");
    let approve = [
        ("form_token", form_token.as_str()),
        ("id", request_id.as_str()),
        ("decision", "approve"),
        ("note", "for the panel's second reading"),
    ];
    let decided = post_form(&server, "/console/access-requests/decide", Some(&cookie), &approve).await;
    assert_eq!(decided.status(), 303);
    let html = get_page(&server, "/console/access-requests", Some(&reader)).await.text().await.unwrap();
    assert!(html.contains("status approved") && html.contains("second reading"), "{html}");
    let approvals = super::authz::audited(&server, &admin, "access_request.approve").await;
    assert_eq!(approvals.len(), 1, "{approvals:?}");
}

#[tokio::test]
async fn the_overview_draws_the_last_day_of_events_as_bars() {
    let server = server().start();
    init_admin(&server);
    let cookie = sign_in(&server, "admin").await;
    let html = get_page(&server, "/console", Some(&cookie)).await.text().await.unwrap();
    assert!(html.contains("<svg") && html.contains("role=\"img\""), "{html}");
    assert_eq!(html.matches("<rect class=\"events\"").count(), 24, "one bar per hour: {html}");
    assert!(html.contains("events in the last 24 hours"), "{html}");
}

#[tokio::test]
async fn a_decrypted_recording_plays_in_the_page_through_audited_range_requests() {
    let (server, admin, _, _) = super::authz::admin_and_reader().await;
    let blob_path = super::blobs::recording_in(&server, &admin, "case-17").await;
    let audio = super::blobs::wav(2);
    let (status, _) = super::blobs::put(&server, &admin, &blob_path, "audio/wav", audio.clone()).await;
    assert_eq!(status, 201);
    let record_path = blob_path.trim_end_matches("/blobs/audio").replace("/v1/collections/", "/console/records/");
    let record_path = record_path.replace("/records/recordings/records/", "/records/recordings/");

    let cookie = sign_in(&server, "admin").await;
    let html = get_page(&server, &record_path, Some(&cookie)).await.text().await.unwrap();
    assert!(html.contains("name=\"field.audio\""), "the dialog offers to play the audio: {html}");
    let form_token = hidden(&html, "form_token");
    let why = "transcription quality check for hearing";
    let form =
        [("form_token", form_token.as_str()), ("field.audio", "on"), ("purpose", "case_work"), ("justification", why)];
    let shown = post_form(&server, &format!("{record_path}/decrypt"), Some(&cookie), &form).await;
    assert_eq!(shown.status(), 200);
    let html = shown.text().await.unwrap();
    let src = html
        .split("<audio")
        .nth(1)
        .and_then(|tag| tag.split("src=\"").nth(1))
        .expect("a player")
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    assert!(src.starts_with(&format!("{record_path}/blobs/audio?reason=")), "{src}");

    // The player asks for a range with the cookie; each answer is a reveal, audited.
    let partial = browser()
        .get(server.url(&src))
        .header(COOKIE, format!("__Host-strongroom={cookie}"))
        .header("range", "bytes=0-43")
        .send()
        .await
        .unwrap();
    assert_eq!(partial.status(), 206);
    assert_eq!(partial.headers()["content-range"].to_str().unwrap(), format!("bytes 0-43/{}", audio.len()));
    assert!(partial.bytes().await.unwrap() == audio[..44]);
    let reads = super::authz::audited(&server, &admin, "blob.read").await;
    assert!(reads.iter().any(|e| e["justification"] == why), "{reads:?}");

    // Without a session the player gets nothing.
    let anonymous = browser().get(server.url(&src)).header("range", "bytes=0-43").send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
}

/// A JSON call as the console's script makes it.
async fn post_json(
    server: &TestServer,
    path: &str,
    host: Option<&str>,
    cookie: Option<&str>,
    form_token: &str,
    body: &str,
) -> (u16, serde_json::Value) {
    let origin = server.url("/").trim_end_matches('/').to_owned();
    let mut request = browser()
        .post(server.url(path))
        .header("Sec-Fetch-Site", "same-origin")
        .header("Origin", origin)
        .header("Content-Type", "application/json")
        .header("X-Form-Token", form_token)
        .body(body.to_owned());
    if let Some(host) = host {
        request = request.header("Host", host);
    }
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, format!("__Host-strongroom={cookie}"));
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(serde_json::Value::Null))
}

#[tokio::test]
async fn passkey_ceremonies_refuse_forged_answers_other_origins_and_calls_without_the_form_token() {
    let server = server().start();
    init_admin(&server);
    let cookie = sign_in(&server, "admin").await;
    let html = get_page(&server, "/console/passkeys", Some(&cookie)).await.text().await.unwrap();
    let form_token = hidden(&html, "form_token");
    let port = server.url("/").rsplit(':').next().unwrap().trim_end_matches('/').to_owned();
    let localhost = format!("localhost:{port}");

    // Opened as 127.0.0.1, WebAuthn has no domain to bind a passkey to: the page says so.
    assert!(html.contains("server.public_origin"), "{html}");
    let (status, problem) =
        post_json(&server, "/console/passkeys/options", None, Some(&cookie), &form_token, "{}").await;
    assert_eq!((status, problem["code"].as_str()), (400, Some("invalid_request")), "{problem}");

    // As localhost: options for this user, but only with the form token.
    let (status, _) =
        post_json(&server, "/console/passkeys/options", Some(&localhost), Some(&cookie), "00", "{}").await;
    assert_eq!(status, 403);
    let (status, options) =
        post_json(&server, "/console/passkeys/options", Some(&localhost), Some(&cookie), &form_token, "{}").await;
    assert_eq!(status, 200, "{options}");
    assert_eq!(options["rp"]["id"], "localhost");
    assert_eq!(options["user"]["name"], "admin");
    assert_eq!(options["authenticatorSelection"]["userVerification"], "required");

    // A made-up registration is refused and nothing is stored.
    let forged = json!({"name": "forged", "credential": {"id": "AAAA", "rawId": "AAAA", "type": "public-key",
        "response": {"clientDataJSON": "e30", "attestationObject": "oA"}, "clientExtensionResults": {}}})
    .to_string();
    let (status, problem) =
        post_json(&server, "/console/passkeys/register", Some(&localhost), Some(&cookie), &form_token, &forged).await;
    assert_eq!((status, problem["code"].as_str()), (400, Some("invalid_request")), "{problem}");
    let html = get_page(&server, "/console/passkeys", Some(&cookie)).await.text().await.unwrap();
    assert!(html.contains("None yet."), "{html}");

    // Signing in: a forged assertion is one failed login, audited; another site's call is refused.
    let (status, options) =
        post_json(&server, "/console/login/passkey/options", Some(&localhost), None, "", "{}").await;
    assert_eq!((status, options["rpId"].as_str()), (200, Some("localhost")), "{options}");
    let assertion = json!({"id": "AAAA", "rawId": "AAAA", "type": "public-key", "clientExtensionResults": {},
        "response": {"clientDataJSON": "e30", "authenticatorData": "AA", "signature": "AA", "userHandle": "AA"}})
    .to_string();
    let (status, problem) = post_json(&server, "/console/login/passkey", Some(&localhost), None, "", &assertion).await;
    assert_eq!(status, 401, "{problem}");
    let admin = access_token(&server, "admin").await;
    let (_, failures) = call(&server, "GET", "/v1/audit/events?action=login.failure", Some(&admin), None).await;
    assert!(
        failures["events"].as_array().unwrap().iter().any(|e| e["event"]["target"]["kind"] == "passkey"),
        "{failures}"
    );
    let cross = browser()
        .post(server.url("/console/login/passkey/options"))
        .header("Sec-Fetch-Site", "cross-site")
        .header("Host", &localhost)
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
}

#[test]
fn a_public_origin_that_is_no_https_domain_stops_the_server_at_start() {
    let outcome = server().env("STRONGROOM_SERVER_PUBLIC_ORIGIN", "http://192.0.2.7:8080").run(&["server"]);
    assert_ne!(outcome.code, Some(0));
    assert!(outcome.stderr.contains("server.public_origin"), "{outcome:?}");
}

#[tokio::test]
async fn the_audit_explorer_filters_events_and_serves_each_with_its_proof_to_readers_of_the_log_only() {
    let (server, _, _, _) = super::authz::admin_and_reader().await;
    let cookie = sign_in(&server, "admin").await;
    let page = get_page(&server, "/console/audit?action=login.success&result=&actor=", Some(&cookie)).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("login.success") && !html.contains("key.create"), "filtered: {html}");
    assert!(html.contains("admin (user)"), "the actor by name: {html}");
    let bad = get_page(&server, "/console/audit?action=DROP%20TABLE", Some(&cookie)).await;
    assert_eq!(bad.status(), 400, "an invalid filter is said on the page");

    let event = get_page(&server, "/console/audit/0", Some(&cookie)).await;
    assert_eq!(event.status(), 200);
    let html = event.text().await.unwrap();
    assert!(html.contains("id=\"proof-check\"") && html.contains("data-proof=\"0\""), "{html}");
    let proof: serde_json::Value =
        get_page(&server, "/console/audit/0/proof", Some(&cookie)).await.json().await.unwrap();
    assert_eq!(proof["index"], 0);
    assert!(proof["checkpoint"].as_str().unwrap().contains("\n\n\u{2014} "), "a signed note: {proof}");
    assert_eq!(proof["inclusion"]["leaf_index"], 0);
    assert_eq!(get_page(&server, "/console/audit/999999", Some(&cookie)).await.status(), 404);
    assert_eq!(get_page(&server, "/console/audit/0/proof", None).await.status(), 401);

    // A reader does not read the audit log: refused, and the refusal recorded.
    let reader = sign_in(&server, "rui").await;
    assert_eq!(get_page(&server, "/console/audit", Some(&reader)).await.status(), 403);
    assert_eq!(get_page(&server, "/console/audit/0/proof", Some(&reader)).await.status(), 403);
}

/// The text of the first `<pre class="secret">` of `html` (a secret shown once).
fn shown_secret(html: &str) -> String {
    let start = html.find("<pre class=\"secret\">").unwrap_or_else(|| panic!("no secret shown in {html}")) + 20;
    html[start..start + html[start..].find("</pre>").unwrap()].to_owned()
}

#[tokio::test]
async fn an_admin_manages_users_api_keys_and_keys_and_a_reader_is_refused_every_page_and_form() {
    let (server, admin_token, _, reader_id) = super::authz::admin_and_reader().await;
    let cookie = sign_in(&server, "admin").await;
    let html = get_page(&server, "/console/admin/users", Some(&cookie)).await.text().await.unwrap();
    assert!(html.contains(">admin<") && html.contains(">rui<"), "{html}");
    let form_token = hidden(&html, "form_token");

    // A new user, then on their page: a lock, an unlock, a reset token shown once, new roles.
    let new = [
        ("form_token", form_token.as_str()),
        ("username", "nina"),
        ("email", "nina@example.com"),
        ("full_name", "Nina Example"),
        ("role", "analyst"),
        ("password", PASSWORD),
    ];
    let created = post_form(&server, "/console/admin/users/new", Some(&cookie), &new).await;
    assert_eq!(created.status(), 200);
    let html = created.text().await.unwrap();
    assert!(html.contains("User nina created."), "{html}");
    let nina = html.split("href=\"/console/admin/users/").find(|rest| rest.contains(">nina<")).unwrap();
    let nina_path = format!("/console/admin/users/{}", &nina[..nina.find('"').unwrap()]);
    let act = |action: &'static str, extra: Vec<(&'static str, &'static str)>| {
        let mut form = vec![("form_token", form_token.clone()), ("action", action.to_owned())];
        form.extend(extra.into_iter().map(|(k, v)| (k, v.to_owned())));
        form
    };
    let lock = act("lock", vec![("reason", "laptop reported stolen")]);
    let html = post_form(&server, &nina_path, Some(&cookie), &as_pairs(&lock)).await.text().await.unwrap();
    assert!(html.contains("nina is locked"), "{html}");
    let refused = reqwest::Client::new()
        .post(server.url("/v1/auth/login"))
        .json(&json!({"username": "nina", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401, "a locked user does not sign in");
    let html =
        post_form(&server, &nina_path, Some(&cookie), &as_pairs(&act("unlock", vec![]))).await.text().await.unwrap();
    assert!(html.contains("nina is unlocked"), "{html}");
    let html =
        post_form(&server, &nina_path, Some(&cookie), &as_pairs(&act("reset", vec![]))).await.text().await.unwrap();
    assert!(shown_secret(&html).len() > 20, "{html}");
    assert!(
        !get_page(&server, &nina_path, Some(&cookie)).await.text().await.unwrap().contains("class=\"secret\""),
        "shown once"
    );
    let roles = act("roles", vec![("role.reader", "on"), ("justification", "moves to the review team")]);
    let html = post_form(&server, &nina_path, Some(&cookie), &as_pairs(&roles)).await.text().await.unwrap();
    assert!(html.contains("Roles of nina changed."), "{html}");
    let (_, events) =
        super::authz::call(&server, "GET", "/v1/audit/events?action=role.change", &admin_token, None).await;
    assert!(events.to_string().contains("moves to the review team"), "{events}");

    // An API key: its secret shown once and working; revoked, it opens nothing.
    let create =
        [("form_token", form_token.as_str()), ("action", "create"), ("name", "billing"), ("scope.audit:read", "on")];
    let html = post_form(&server, "/console/admin/api-keys", Some(&cookie), &create).await.text().await.unwrap();
    let secret = shown_secret(&html);
    let (status, _) = super::authz::call(&server, "GET", "/v1/audit/stats", &secret, None).await;
    assert_eq!(status, 200, "the new key works");
    let key_id = hidden(&html, "id");
    let revoke = [("form_token", form_token.as_str()), ("action", "revoke"), ("id", key_id.as_str())];
    let html = post_form(&server, "/console/admin/api-keys", Some(&cookie), &revoke).await.text().await.unwrap();
    assert!(html.contains("The key is revoked.") && html.contains("revoked "), "{html}");
    assert_eq!(super::authz::call(&server, "GET", "/v1/audit/stats", &secret, None).await.0, 401);

    // Keys: the list, one key's versions, and a rotation.
    interview(&server, &admin_token, &reader_id).await;
    let html = get_page(&server, "/console/admin/keys", Some(&cookie)).await.text().await.unwrap();
    let listed = "href=\"/console/admin/keys/matter.hiring-2026\"";
    assert!(html.contains(listed) && html.contains("system.token-hmac"), "{html}");
    let rotate = [("form_token", form_token.as_str())];
    let path = "/console/admin/keys/matter.hiring-2026/rotate";
    let html = post_form(&server, path, Some(&cookie), &rotate).await.text().await.unwrap();
    assert!(html.contains("version 2 is now current"), "{html}");

    // A reader: every page and form refused, and recorded.
    let reader = sign_in(&server, "rui").await;
    for path in ["/console/admin/users", "/console/admin/api-keys", "/console/admin/keys", &nina_path] {
        assert_eq!(get_page(&server, path, Some(&reader)).await.status(), 403, "{path}");
    }
    let reader_token = hidden(&get_page(&server, "/console", Some(&reader)).await.text().await.unwrap(), "form_token");
    let crafted = [
        ("form_token", reader_token.as_str()),
        ("username", "mallory"),
        ("email", "m@example.com"),
        ("role", "admin"),
        ("password", PASSWORD),
    ];
    assert_eq!(post_form(&server, "/console/admin/users/new", Some(&reader), &crafted).await.status(), 403);
    let denials = super::authz::audited(&server, &admin_token, "permission.denied").await;
    assert!(denials.iter().any(|e| e["details"]["action"] == "user.manage"), "{denials:?}");
}

#[tokio::test]
async fn an_admin_grants_a_matter_reads_the_roles_and_edits_policies_with_errors_shown_at_their_line() {
    let (server, admin_token, _, _) = super::authz::admin_and_reader().await;
    let cookie = sign_in(&server, "admin").await;
    let html = get_page(&server, "/console/admin", Some(&cookie)).await.text().await.unwrap();
    assert!(html.contains("href=\"/console/admin/policies\""), "{html}");
    let form_token = hidden(&html, "form_token");

    // A matter, a grant to rui (by name), and its revocation, each with a reason.
    let new = [("form_token", form_token.as_str()), ("id", "case-12"), ("name", "Case 12")];
    let html = post_form(&server, "/console/admin/matters", Some(&cookie), &new).await.text().await.unwrap();
    assert!(html.contains("href=\"/console/admin/matters/case-12\""), "{html}");
    let why = "rui reviews the case-12 transcripts";
    let grant = [("form_token", form_token.as_str()), ("action", "grant"), ("username", "rui"), ("justification", why)];
    let html = post_form(&server, "/console/admin/matters/case-12", Some(&cookie), &grant).await.text().await.unwrap();
    assert!(html.contains(">rui (user)<") && html.contains(why), "{html}");
    let rui_grant = html.split("<article").find(|article| article.contains(">rui (user)<")).unwrap();
    let principal = hidden(rui_grant, "principal");
    let revoke = [
        ("form_token", form_token.as_str()),
        ("action", "revoke"),
        ("principal", principal.as_str()),
        ("justification", "the review of case-12 is finished"),
    ];
    let html = post_form(&server, "/console/admin/matters/case-12", Some(&cookie), &revoke).await.text().await.unwrap();
    assert!(!html.contains(">rui (user)<") && html.contains(">admin (user)<"), "{html}");

    // Roles, with what each allows.
    let html = get_page(&server, "/console/admin/roles", Some(&cookie)).await.text().await.unwrap();
    assert!(html.contains("analyst") && html.contains("record.decrypt"), "{html}");

    // A broken policy: not saved, the error shown under its line; then a valid one saved.
    let broken = "@id(\"typo\")\r\nforbid (principal, action, resource)\r\nwhen { context.hours > 18 };\r\n";
    let edit =
        [("form_token", form_token.as_str()), ("text", broken), ("justification", "close audit reading at night")];
    let refused = post_form(&server, "/console/admin/policies", Some(&cookie), &edit).await;
    assert_eq!(refused.status(), 400);
    let html = refused.text().await.unwrap();
    let marked = html.split("<li class=\"error-line\">").nth(1).expect("a line marked");
    assert!(marked.contains("context.hours") && marked.contains("line 3"), "the error sits under line 3: {html}");
    assert!(html.contains("context.hours &gt; 18"), "the text as submitted, to fix: {html}");
    let fine = "@id(\"nothing\")\nforbid (principal, action, resource) when { false };\n";
    let edit =
        [("form_token", form_token.as_str()), ("text", fine), ("justification", "a harmless policy to try the editor")];
    let saved = post_form(&server, "/console/admin/policies", Some(&cookie), &edit).await;
    assert_eq!(saved.status(), 200);
    assert!(saved.text().await.unwrap().contains("version 1"), "saved as version 1");
    let changes = super::authz::audited(&server, &admin_token, "policy.change").await;
    assert_eq!(changes.len(), 1, "{changes:?}");

    // A reader sees none of it.
    let reader = sign_in(&server, "rui").await;
    for path in ["/console/admin/roles", "/console/admin/policies", "/console/admin/matters/case-12"] {
        let status = get_page(&server, path, Some(&reader)).await.status().as_u16();
        assert!(status == 403 || status == 404, "{path}: {status}");
    }
}

#[tokio::test]
async fn a_decrypt_that_needs_a_recent_second_factor_asks_for_it_on_the_page_and_works_after_the_step_up() {
    let (server, admin_token, _, reader_id) = super::authz::admin_and_reader().await;
    let (id, secret_answer) = interview(&server, &admin_token, &reader_id).await;
    // The operators ask for a second factor proven in the last minute before any decrypt.
    let fresh = "@id(\"fresh-mfa\")\nforbid (principal is Strongroom::User, action == Strongroom::Action::\"record.decrypt\", resource)\nunless { context has mfa_age_seconds && context.mfa_age_seconds <= 60 };\n";
    let body = json!({"policies": fresh, "justification": "decrypts need a fresh second factor"});
    let (status, set) = super::authz::call(&server, "PUT", "/v1/policies", &admin_token, Some(body)).await;
    assert_eq!(status, 200, "{set}");
    // Signed in with a password alone; the second factor is enrolled afterwards.
    let cookie = sign_in(&server, "admin").await;
    let secret = enrol_totp(&server).await;

    // No second factor proven in this session: the page offers the dialog with a step-up first.
    let path = format!("/console/records/interviews/{id}");
    let html = get_page(&server, &path, Some(&cookie)).await.text().await.unwrap();
    assert!(html.contains("Confirm it is you") && html.contains("action=\"/console/step-up\""), "{html}");
    assert!(html.contains(&format!("action=\"{path}/decrypt\"")), "the dialog is there too: {html}");
    let form_token = hidden(&html, "form_token");
    let wrong = [("form_token", form_token.as_str()), ("code", "000000"), ("back", path.as_str())];
    assert_eq!(post_form(&server, "/console/step-up", Some(&cookie), &wrong).await.status(), 400);
    // A valid code; another site's address as "back" is not followed.
    let step_up = [("form_token", form_token.as_str()), ("code", &code(&secret, 1)), ("back", "//evil.example/")];
    let stepped = post_form(&server, "/console/step-up", Some(&cookie), &step_up).await;
    assert_eq!((stepped.status().as_u16(), stepped.headers()[LOCATION].to_str().unwrap()), (303, "/console"));

    // Proven just now: no step-up asked, and the decrypt goes through.
    let html = get_page(&server, &path, Some(&cookie)).await.text().await.unwrap();
    assert!(!html.contains("Confirm it is you"), "{html}");
    let form = [
        ("form_token", form_token.as_str()),
        ("field.transcribed_text", "on"),
        ("purpose", "case_work"),
        ("justification", "verifying the claim before the offer"),
    ];
    let shown = post_form(&server, &format!("{path}/decrypt"), Some(&cookie), &form).await;
    assert_eq!(shown.status(), 200);
    assert!(shown.text().await.unwrap().contains(secret_answer));
}
