//! Authorization through the real binary: matters and grants (other
//! matters answer as missing), access requests decided by a second person
//! that end on their own, operators' policies that change real answers, and
//! malformed policies pointing at their line.

use std::time::Duration;

use serde_json::{Value, json};
use strongroom_testkit::{CliOutput, TestServer};

use super::{BIN, server};

pub(crate) const PASSWORD: &str = "correct horse battery staple";
const WHY: &str = "review of the interview for the appeal";

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
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut request = client.request(method.parse().unwrap(), server.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

/// Starts a server with an admin (`admin`) and a reader (`rui`); answers
/// their access tokens and the reader's id.
pub(crate) async fn admin_and_reader() -> (TestServer, String, String, String) {
    admin_and_reader_on(server().start()).await
}

pub(crate) async fn admin_and_reader_on(server: TestServer) -> (TestServer, String, String, String) {
    let init = cli(&server, &["init", "--password-stdin"], Some(&format!("{PASSWORD}\n")));
    assert_eq!(init.code, Some(0), "{init:?}");
    let args = ["user", "create", "--username", "rui", "--email", "rui@example.com", "--role", "reader"];
    let created = cli(&server, &[&args[..], &["--password-stdin"]].concat(), Some(&format!("{PASSWORD}\n")));
    assert_eq!(created.code, Some(0), "{created:?}");
    let login = |username: &'static str| {
        let server = &server;
        async move {
            let client = reqwest::Client::new();
            let body = json!({"username": username, "password": PASSWORD});
            let answer: Value =
                client.post(server.url("/v1/auth/login")).json(&body).send().await.unwrap().json().await.unwrap();
            answer["access_token"].as_str().unwrap_or_else(|| panic!("{answer}")).to_owned()
        }
    };
    let admin = login("admin").await;
    let reader = login("rui").await;
    let (_, me) = call(&server, "GET", "/v1/users/me", &reader, None).await;
    let reader_id = me["id"].as_str().unwrap().to_owned();
    (server, admin, reader, reader_id)
}

pub(crate) async fn audited(server: &TestServer, admin: &str, action: &str) -> Vec<Value> {
    let (status, events) =
        call(server, "GET", &format!("/v1/audit/events?action={action}&limit=100"), admin, None).await;
    assert_eq!(status, 200, "{events}");
    events["events"].as_array().unwrap().iter().map(|e| e["event"].clone()).collect()
}

#[tokio::test]
async fn grants_open_a_matter_and_other_matters_answer_as_missing() {
    let (server, admin, reader, reader_id) = admin_and_reader().await;
    for id in ["case-1", "case-2"] {
        let (status, body) =
            call(&server, "POST", "/v1/matters", &admin, Some(json!({"id": id, "name": format!("Case {id}")}))).await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = call(&server, "POST", "/v1/matters", &admin, Some(json!({"id": "case-1", "name": "x"}))).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("conflict")));
    let (status, body) = call(&server, "POST", "/v1/matters", &admin, Some(json!({"id": "../etc", "name": "x"}))).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_request")), "{body}");

    let grant = |justification: &str| json!({"principal": format!("user:{reader_id}"), "justification": justification});
    let (status, body) = call(&server, "POST", "/v1/matters/case-1/grants", &admin, Some(grant("short"))).await;
    assert_eq!(status, 400, "a grant needs a justification: {body}");
    assert!(body["detail"].as_str().unwrap().contains("20 characters"), "{body}");
    let (status, body) =
        call(&server, "POST", "/v1/matters/case-1/grants", &admin, Some(grant("assigned to the appeal team"))).await;
    assert_eq!(status, 201, "{body}");

    let (_, listed) = call(&server, "GET", "/v1/matters", &reader, None).await;
    let ids: Vec<&str> = listed["matters"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["case-1"]);
    let (status, _) = call(&server, "GET", "/v1/matters/case-1", &reader, None).await;
    assert_eq!(status, 200);
    // A matter without a grant answers exactly as one that does not exist.
    let (hidden_status, hidden) = call(&server, "GET", "/v1/matters/case-2", &reader, None).await;
    let (missing_status, missing) = call(&server, "GET", "/v1/matters/case-9", &reader, None).await;
    assert_eq!((hidden_status, missing_status), (404, 404));
    assert_eq!(hidden["code"], missing["code"]);
    assert_eq!(
        hidden["detail"].as_str().unwrap().replace("case-2", "X"),
        missing["detail"].as_str().unwrap().replace("case-9", "X")
    );

    // A reader may not create matters: denied, with the reason, and audited.
    let (status, body) = call(&server, "POST", "/v1/matters", &reader, Some(json!({"name": "mine"}))).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")), "{body}");
    assert!(body["detail"].as_str().unwrap().contains("matter.manage"), "{body}");
    let denials = audited(&server, &admin, "permission.denied").await;
    assert!(
        denials.iter().any(|e| e["details"]["action"] == "matter.manage" && e["actor"]["id"] == reader_id.as_str()),
        "{denials:?}"
    );

    // An application's API key with matters:manage opens a case and holds a grant on it.
    let key = cli(&server, &["apikey", "create", "--name", "legal app", "--scope", "matters:manage"], None);
    let key = key.stdout.trim().to_owned();
    let (status, body) = call(&server, "POST", "/v1/matters", &key, Some(json!({"id": "case-3", "name": "New"}))).await;
    assert_eq!(status, 201, "{body}");
    assert!(body["created_by"].as_str().unwrap().starts_with("api_key:"));
    let (status, _) = call(&server, "GET", "/v1/matters/case-3", &key, None).await;
    assert_eq!(status, 200);
    let (_, grants) = call(&server, "GET", "/v1/matters/case-1/grants", &admin, None).await;
    assert_eq!(grants["grants"].as_array().unwrap().len(), 2, "the creator and the reader: {grants}");
    let (status, _) = call(
        &server,
        "DELETE",
        &format!("/v1/matters/case-1/grants/user:{reader_id}"),
        &admin,
        Some(json!({"justification": "moved off the appeal team"})),
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = call(&server, "GET", "/v1/matters/case-1", &reader, None).await;
    assert_eq!(status, 404, "the grant is gone at once");
    assert_eq!(audited(&server, &admin, "grant.remove").await.len(), 1);
}

#[tokio::test]
async fn access_requests_need_a_second_person_and_end_on_their_own() {
    let (server, admin, reader, reader_id) = admin_and_reader().await;
    let (status, _) = call(&server, "POST", "/v1/matters", &admin, Some(json!({"id": "case-1", "name": "Case"}))).await;
    assert_eq!(status, 201);
    let (status, _) = call(&server, "GET", "/v1/matters/case-1", &reader, None).await;
    assert_eq!(status, 404);

    let ask = json!({"action": "record.read", "matter": "case-1", "duration_minutes": 1, "justification": WHY});
    let (status, bad) = call(
        &server,
        "POST",
        "/v1/access-requests",
        &reader,
        Some(json!({"action": "record.write", "matter": "case-1", "duration_minutes": 1, "justification": WHY})),
    )
    .await;
    assert_eq!((status, bad["code"].as_str()), (400, Some("invalid_request")), "writes are not elevatable: {bad}");
    let (status, request) = call(&server, "POST", "/v1/access-requests", &reader, Some(ask)).await;
    assert_eq!(status, 201, "{request}");
    assert_eq!(request["status"], "pending");
    let id = request["id"].as_str().unwrap();

    let (status, own) = call(&server, "POST", &format!("/v1/access-requests/{id}/approve"), &reader, None).await;
    assert_eq!((status, own["code"].as_str()), (403, Some("self_approval")), "{own}");
    let (_, pending) = call(&server, "GET", "/v1/access-requests?status=pending", &admin, None).await;
    assert_eq!(pending["access_requests"].as_array().unwrap().len(), 1, "{pending}");
    let (status, approved) = call(
        &server,
        "POST",
        &format!("/v1/access-requests/{id}/approve"),
        &admin,
        Some(json!({"note": "ok for the appeal"})),
    )
    .await;
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["status"], "approved");
    let expires_at = approved["expires_at"].as_i64().unwrap();

    // Live: the matter opens for the reader, and the explanation says why.
    let (status, _) = call(&server, "GET", "/v1/matters/case-1", &reader, None).await;
    assert_eq!(status, 200);
    let explain = json!({
        "principal": format!("user:{reader_id}"),
        "action": "record.read",
        "resource": {"type": "record", "id": "r1", "matter": "case-1", "collection": "interviews"},
    });
    let (status, explained) = call(&server, "POST", "/v1/authz/explain", &admin, Some(explain.clone())).await;
    assert_eq!(status, 200, "{explained}");
    assert_eq!(explained["allowed"], true);
    assert_eq!(explained["reasons"][0]["policy"], "default/elevated.access");
    let (_, reach) = call(&server, "GET", "/v1/authz/who-can?action=record.read&matter=case-1", &admin, None).await;
    let names: Vec<&str> =
        reach["principals"].as_array().unwrap().iter().map(|p| p["principal"]["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"rui") && names.contains(&"admin"), "{reach}");

    // Expired: stops at its time, checked at use.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    tokio::time::sleep(Duration::from_secs(u64::try_from(expires_at - now + 1).unwrap_or(0))).await;
    let (status, _) = call(&server, "GET", "/v1/matters/case-1", &reader, None).await;
    assert_eq!(status, 404, "the elevation has ended");
    let (_, explained) = call(&server, "POST", "/v1/authz/explain", &admin, Some(explain)).await;
    assert_eq!(explained["allowed"], false, "{explained}");
    let (_, mine) = call(&server, "GET", &format!("/v1/access-requests/{id}"), &reader, None).await;
    assert_eq!(mine["status"], "expired");

    for step in ["access_request.create", "access_request.approve"] {
        assert_eq!(audited(&server, &admin, step).await.len(), 1, "{step}");
    }
    let denials = audited(&server, &admin, "permission.denied").await;
    assert!(
        denials.iter().any(|e| e["reason"] == "self_approval" || e["details"]["action"] == "access.approve"),
        "{denials:?}"
    );
}

#[tokio::test]
async fn a_custom_policy_changes_an_answer_and_a_malformed_one_points_at_its_line() {
    let (server, admin, _, _) = admin_and_reader().await;
    let (status, _) = call(&server, "GET", "/v1/audit/stats", &admin, None).await;
    assert_eq!(status, 200);

    let broken = "@id(\"typo\")\nforbid (principal, action, resource)\nwhen { context.hours > 18 };\n";
    let put = |policies: &str, justification: &str| json!({"policies": policies, "justification": justification});
    let (status, refused) =
        call(&server, "PUT", "/v1/policies", &admin, Some(put(broken, "close audit reading at night"))).await;
    assert_eq!((status, refused["code"].as_str()), (400, Some("invalid_policy")), "{refused}");
    assert_eq!(refused["errors"][0]["line"], 3, "{refused}");
    assert!(refused["errors"][0]["column"].as_u64().unwrap() >= 8, "{refused}");
    assert!(refused["errors"][0]["message"].as_str().unwrap().contains("hours"), "{refused}");
    let (status, body) = call(
        &server,
        "PUT",
        "/v1/policies",
        &admin,
        Some(put("permit (principal, action, resource", "x".repeat(25).as_str())),
    )
    .await;
    assert_eq!((status, body["errors"][0]["line"].as_u64()), (400, Some(1)), "{body}");

    // Audit reading only from an address range the test client is not in.
    let fence = "@id(\"audit-from-the-office\")\n\
                 @description(\"the audit log is read from the office network only\")\n\
                 forbid (principal, action == Strongroom::Action::\"audit.read\", resource)\n\
                 unless { context has ip && context.ip.isInRange(ip(\"10.20.0.0/16\")) };\n";
    let (status, set) =
        call(&server, "PUT", "/v1/policies", &admin, Some(put(fence, "audit log only from the office network"))).await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(set["version"], 1);
    assert!(set["loaded"].as_array().unwrap().iter().any(|p| p["id"] == "api/audit-from-the-office"), "{set}");
    let (status, denied) = call(&server, "GET", "/v1/audit/stats", &admin, None).await;
    assert_eq!((status, denied["code"].as_str()), (403, Some("forbidden")), "{denied}");
    assert_eq!(denied["policies"][0], "api/audit-from-the-office");

    // Lifted by replacing the document; the change and the denial are on record.
    let (status, _) =
        call(&server, "PUT", "/v1/policies", &admin, Some(put("", "the office-only rule was a mistake"))).await;
    assert_eq!(status, 200);
    let (status, _) = call(&server, "GET", "/v1/audit/stats", &admin, None).await;
    assert_eq!(status, 200);
    let changes = audited(&server, &admin, "policy.change").await;
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert!(changes.iter().any(|c| c["justification"] == "audit log only from the office network"), "{changes:?}");
    let denials = audited(&server, &admin, "permission.denied").await;
    assert!(denials.iter().any(|e| e["details"]["action"] == "audit.read"), "{denials:?}");
}

/// The access token of `username` (whose password is [`PASSWORD`]) logged in through `server`.
pub(crate) async fn access_token(server: &TestServer, username: &str) -> String {
    let body = json!({"username": username, "password": PASSWORD});
    let answer: Value = reqwest::Client::new()
        .post(server.url("/v1/auth/login"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"].as_str().unwrap_or_else(|| panic!("{answer}")).to_owned()
}

/// Creates `username` with `role` and answers their access token and id.
pub(crate) async fn user_with_role(server: &TestServer, username: &str, role: &str) -> (String, String) {
    let email = format!("{username}@example.com");
    let args = ["user", "create", "--username", username, "--email", &email, "--role", role, "--password-stdin"];
    let created = cli(server, &args, Some(&format!("{PASSWORD}\n")));
    assert_eq!(created.code, Some(0), "{created:?}");
    let token = access_token(server, username).await;
    let (_, me) = call(server, "GET", "/v1/users/me", &token, None).await;
    (token, me["id"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn three_roles_get_their_own_view_of_an_interview_and_only_a_justified_decrypt_reveals() {
    let (server, admin, reader, reader_id) = admin_and_reader().await;
    let (analyst, analyst_id) = user_with_role(&server, "ana", "analyst").await;
    let (outsider, _) = user_with_role(&server, "otto", "admin").await;
    let (status, _) =
        call(&server, "POST", "/v1/matters", &admin, Some(json!({"id": "hiring-2026", "name": "Hiring"}))).await;
    assert_eq!(status, 201);
    for id in [&reader_id, &analyst_id] {
        let grant = json!({"principal": format!("user:{id}"), "justification": "on the 2026 hiring panel"});
        let (status, body) = call(&server, "POST", "/v1/matters/hiring-2026/grants", &admin, Some(grant)).await;
        assert_eq!(status, 201, "{body}");
    }
    let secret_answer = "I was let go from Acme after reporting fraud to the regulator";
    let record = json!({
        "matter": "hiring-2026",
        "subject": "candidate-881",
        "fields": {
            "user_id": "candidate-881",
            "consent_id": "consent-17",
            "timestamp": "2026-11-23T10:00:00Z",
            "transcribed_text": secret_answer,
            "tokens": {"count": 14},
            "embedding": [0.12, -0.5, 0.33],
            "anonymized_answer": "I left my previous employer after raising a compliance concern",
            "score": 4.5,
            "feedback": "clear and honest",
            "status": "reviewed",
        },
    });
    let (status, created) = call(&server, "POST", "/v1/collections/interviews/records", &admin, Some(record)).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(!created.to_string().contains(secret_answer), "no plaintext in the answer to a write");
    let path = format!("/v1/collections/interviews/records/{id}");

    // Each role gets exactly its view; none gets the secret fields.
    for (token, who) in [(&reader, "reader"), (&analyst, "analyst"), (&admin, "admin")] {
        let (status, view) = call(&server, "GET", &path, token, None).await;
        assert_eq!(status, 200, "{who}: {view}");
        assert_eq!(
            view["fields"]["anonymized_answer"],
            "I left my previous employer after raising a compliance concern"
        );
        assert_eq!(view["fields"]["score"], 4.5);
        let mut withheld: Vec<&str> =
            view["withheld_fields"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        withheld.sort();
        assert_eq!(withheld, ["embedding", "tokens", "transcribed_text"], "{who}");
        assert!(
            view["fields"].get("transcribed_text").is_none() && !view.to_string().contains("Acme"),
            "{who}: {view}"
        );
    }

    // Only a decrypt, by a role that may, with a reason of 20+ characters and a purpose.
    let decrypt = format!("{path}/decrypt");
    let ask = |reason: &str| json!({"fields": ["transcribed_text"], "reason": reason, "purpose": "case_work"});
    let (status, body) = call(&server, "POST", &decrypt, &reader, Some(ask("second opinion on the fraud claim"))).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")), "a reader does not decrypt: {body}");
    let (status, body) =
        call(&server, "POST", &decrypt, &analyst, Some(ask("second opinion on the fraud claim"))).await;
    assert_eq!(status, 403, "nor does an analyst: {body}");
    let (status, body) = call(&server, "POST", &decrypt, &admin, Some(ask("too short"))).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_request")), "{body}");
    assert!(body["detail"].as_str().unwrap().contains("at least 20 characters"), "{body}");
    let (status, body) = call(&server, "POST", &decrypt, &admin, Some(json!({"fields": ["transcribed_text"], "reason": "verifying the claim before the offer", "purpose": "gossip"}))).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_request")), "an unknown purpose: {body}");
    let (status, revealed) =
        call(&server, "POST", &decrypt, &admin, Some(ask("verifying the claim before the offer"))).await;
    assert_eq!(status, 200, "{revealed}");
    assert_eq!(revealed["decrypted_fields"]["transcribed_text"], secret_answer);
    assert!(revealed["warning"].as_str().unwrap().contains("recorded permanently"));
    let reveals = audited(&server, &admin, "record.decrypt").await;
    assert_eq!(reveals.len(), 1, "{reveals:?}");
    assert_eq!(reveals[0]["justification"], "verifying the claim before the offer");
    assert_eq!(reveals[0]["purpose"], "case_work");
    assert_eq!(reveals[0]["fields"], json!(["transcribed_text"]));
    assert!(!reveals[0].to_string().contains("Acme"), "the audit log keeps field names, never values");

    // Blind-index search finds the interview by subject without decrypting; listing shows views only.
    let (status, listed) =
        call(&server, "GET", "/v1/collections/interviews/records?where=status:reviewed", &reader, None).await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["records"].as_array().unwrap().len(), 1);
    assert!(audited(&server, &admin, "record.decrypt").await.len() == 1, "listing is not a reveal");

    // An admin without a grant: the record answers as missing, and the attempt is audited.
    let (status, hidden) = call(&server, "GET", &path, &outsider, None).await;
    let (_, missing) =
        call(&server, "GET", "/v1/collections/interviews/records/r_000000000000000000000000", &outsider, None).await;
    assert_eq!((status, hidden["code"].as_str()), (404, Some("not_found")), "{hidden}");
    assert_eq!(
        hidden["detail"].as_str().unwrap().replace(&id, "X"),
        missing["detail"].as_str().unwrap().replace("r_000000000000000000000000", "X")
    );
    let (status, _) = call(&server, "POST", &decrypt, &outsider, Some(ask("curious about this candidate file"))).await;
    assert_eq!(status, 404);
    let denials = audited(&server, &admin, "permission.denied").await;
    assert!(
        denials.iter().any(|e| e["reason"] == "no_grant"
            && e["target"]["id"] == id.as_str()
            && e["target"]["matter"] == "hiring-2026"),
        "{denials:?}"
    );
    // A missing id costs the same work, audit append included, so timing does
    // not tell it from a record in a matter one holds nothing on.
    let missing_id = "r_000000000000000000000000";
    for (method, body) in [("GET", None), ("POST", Some(ask("curious about this candidate file")))] {
        let target = if method == "GET" {
            format!("/v1/collections/interviews/records/{missing_id}")
        } else {
            format!("/v1/collections/interviews/records/{missing_id}/decrypt")
        };
        let (status, _) = call(&server, method, &target, &outsider, body).await;
        assert_eq!(status, 404);
    }
    let (status, _) = call(
        &server,
        "GET",
        &format!("/v1/collections/interviews/records/{missing_id}/blobs/recording"),
        &outsider,
        None,
    )
    .await;
    assert_eq!(status, 404);
    let denials = audited(&server, &admin, "permission.denied").await;
    let missing_attempts: Vec<_> =
        denials.iter().filter(|e| e["reason"] == "not_found" && e["target"]["id"] == missing_id).collect();
    assert_eq!(missing_attempts.len(), 4, "read, read, decrypt and blob download, each audited: {denials:?}");
    let (status, body) =
        call(&server, "GET", "/v1/collections/interviews/records?matter=hiring-2026", &outsider, None).await;
    assert_eq!(status, 404, "a matter without a grant is missing too: {body}");

    // A redacted field tells the three roles apart: readers see nothing of it,
    // analysts and admins its rendition, nobody its plaintext.
    let recording = json!({
        "matter": "hiring-2026",
        "fields": {"title": "Panel call", "transcript": "Reach me at ann.lee@example.com or +1 (555) 123-4567."},
    });
    let (status, created) = call(&server, "POST", "/v1/collections/recordings/records", &admin, Some(recording)).await;
    assert_eq!(status, 201, "{created}");
    let recording_path = format!("/v1/collections/recordings/records/{}", created["id"].as_str().unwrap());
    let (_, as_reader) = call(&server, "GET", &recording_path, &reader, None).await;
    assert_eq!(as_reader["withheld_fields"], json!(["transcript"]), "{as_reader}");
    assert!(as_reader["fields"].get("transcript").is_none());
    for token in [&analyst, &admin] {
        let (_, view) = call(&server, "GET", &recording_path, token, None).await;
        assert_eq!(view["fields"]["transcript"], "Reach me at [EMAIL] or [PHONE].", "{view}");
        assert_eq!(view["redacted_fields"], json!(["transcript"]));
    }

    // An approved access request lets the reader decrypt this one record.
    let request = json!({"action": "record.decrypt", "matter": "hiring-2026", "record": id, "duration_minutes": 5,
                         "justification": "appeal review of the fraud statement", "purpose": "case_work"});
    let (status, asked) = call(&server, "POST", "/v1/access-requests", &reader, Some(request)).await;
    assert_eq!(status, 201, "{asked}");
    let approve = format!("/v1/access-requests/{}/approve", asked["id"].as_str().unwrap());
    let (status, _) = call(&server, "POST", &approve, &admin, None).await;
    assert_eq!(status, 200);
    let (status, revealed) =
        call(&server, "POST", &decrypt, &reader, Some(ask("appeal review of the fraud statement"))).await;
    assert_eq!(status, 200, "{revealed}");
    assert_eq!(revealed["decrypted_fields"]["transcribed_text"], secret_answer);
}

#[tokio::test]
async fn pii_vault_records_count_their_reads_are_found_by_reference_and_expire() {
    let (server, admin, _, _) = admin_and_reader().await;
    let (status, _) = call(&server, "POST", "/v1/matters", &admin, Some(json!({"id": "kyc", "name": "KYC"}))).await;
    assert_eq!(status, 201);
    let record = json!({
        "matter": "kyc",
        "ttl": 3,
        "fields": {"payload": {"passport": "X1234567"}, "purpose": "identity check", "reference": "Ann.Lee@Example.com"},
    });
    let (status, created) = call(&server, "POST", "/v1/collections/pii_vault/records", &admin, Some(record)).await;
    assert_eq!(status, 201, "{created}");
    let path = format!("/v1/collections/pii_vault/records/{}", created["id"].as_str().unwrap());
    for expected in 1..=2 {
        let (_, view) = call(&server, "GET", &path, &admin, None).await;
        assert_eq!(view["access_count"], expected, "{view}");
    }
    // Found through the blind index, normalised (case and spaces), without decrypting.
    let (_, found) =
        call(&server, "GET", "/v1/collections/pii_vault/records?where=reference:%20ann.lee@example.com", &admin, None)
            .await;
    assert_eq!(found["records"].as_array().unwrap().len(), 1, "{found}");
    let (_, none) =
        call(&server, "GET", "/v1/collections/pii_vault/records?where=reference:bob@example.com", &admin, None).await;
    assert_eq!(none["records"].as_array().unwrap().len(), 0);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (status, _) = call(&server, "GET", &path, &admin, None).await;
    assert_eq!(status, 404, "gone after its time to live");

    // Bad input: unknown field, wrong type, missing required field, schema changes that orphan data.
    let bad = |fields: Value| json!({"matter": "kyc", "fields": fields});
    for (fields, needle) in [
        (json!({"payload": 1, "purpose": "x", "colour": "red"}), "colour"),
        (json!({"payload": 1, "purpose": 7}), "fields.purpose: expected a string"),
        (json!({"payload": 1}), "fields.purpose: required"),
    ] {
        let (status, body) =
            call(&server, "POST", "/v1/collections/pii_vault/records", &admin, Some(bad(fields))).await;
        assert_eq!(status, 400, "{body}");
        assert!(body["detail"].as_str().unwrap().contains(needle), "{body}");
    }
    let (_, schema) = call(&server, "GET", "/v1/collections/pii_vault", &admin, None).await;
    let mut fields = schema["fields"].as_array().unwrap().clone();
    fields.retain(|f| f["name"] != "reference");
    let (status, body) = call(
        &server,
        "PUT",
        "/v1/collections/pii_vault",
        &admin,
        Some(json!({"fields": fields, "default_ttl_seconds": 604800, "track_access": true})),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (409, Some("conflict")), "{body}");
    assert!(body["detail"].as_str().unwrap().contains("\"reference\" would be removed"), "{body}");
}

#[tokio::test]
async fn legal_holds_keep_records_from_expiry_and_erasure_while_subjects_export_and_erase() {
    let started = server().env("STRONGROOM_RECORDS_RETENTION_SWEEP_SECONDS", "1").start();
    let (server, admin, reader, _) = admin_and_reader_on(started).await;
    let (status, _) = call(&server, "POST", "/v1/matters", &admin, Some(json!({"id": "m1", "name": "M"}))).await;
    assert_eq!(status, 201);
    let create = |subject: &str, ttl: Option<i64>| {
        let mut body = json!({"matter": "m1", "subject": subject,
                              "fields": {"payload": {"note": format!("about {subject}")}, "purpose": "kyc"}});
        if let Some(ttl) = ttl {
            body["ttl"] = json!(ttl);
        }
        body
    };
    let mut ids = Vec::new();
    for (subject, ttl) in [
        ("ann@example.com", None),
        ("ann@example.com", None),
        ("bob@example.com", Some(2)),
        ("bob@example.com", Some(2)),
    ] {
        let (status, created) =
            call(&server, "POST", "/v1/collections/pii_vault/records", &admin, Some(create(subject, ttl))).await;
        assert_eq!(status, 201, "{created}");
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    let record = |id: &str| format!("/v1/collections/pii_vault/records/{id}");
    let hold = |hold: bool, why: &str| json!({"hold": hold, "justification": why});
    let (status, body) =
        call(&server, "POST", &format!("{}/hold", record(&ids[1])), &admin, Some(hold(true, "short"))).await;
    assert_eq!(status, 400, "a hold needs a justification: {body}");
    let (status, body) = call(
        &server,
        "POST",
        &format!("{}/hold", record(&ids[1])),
        &reader,
        Some(hold(true, "litigation hold for case 12")),
    )
    .await;
    assert_eq!(status, 404, "a reader without a grant cannot see it, let alone hold it: {body}");
    // bob's first record is the held one: it expires a moment before the
    // other, so the sweep that shreds the other always counts it as held
    // (a sweep with nothing to shred records nothing).
    for id in [&ids[1], &ids[2]] {
        let (status, held) = call(
            &server,
            "POST",
            &format!("{}/hold", record(id)),
            &admin,
            Some(hold(true, "litigation hold for case 12")),
        )
        .await;
        assert_eq!((status, held["legal_hold"].as_bool()), (200, Some(true)), "{held}");
    }
    let (status, body) = call(&server, "DELETE", &record(&ids[1]), &admin, None).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("conflict")), "a held record is not deleted: {body}");

    // Export: everything about ann, decrypted, with a justification; audited under the subject's HMAC.
    let export = json!({"justification": "subject access request #881 from ann", "purpose": "subject_request"});
    let (status, exported) =
        call(&server, "POST", "/v1/subjects/ann@example.com/export", &admin, Some(export.clone())).await;
    assert_eq!(status, 200, "{exported}");
    assert_eq!(exported["records"].as_array().unwrap().len(), 2);
    assert_eq!(exported["records"][0]["fields"]["payload"]["note"], "about ann@example.com");
    let (status, _) = call(&server, "POST", "/v1/subjects/ann@example.com/export", &reader, Some(export)).await;
    assert_eq!(status, 403, "subject requests are for admins");
    let (status, found) = call(&server, "GET", "/v1/audit/events?hmac_of=ann@example.com", &admin, None).await;
    assert_eq!(status, 200);
    let types: Vec<&str> =
        found["events"].as_array().unwrap().iter().map(|e| e["event"]["type"].as_str().unwrap()).collect();
    assert!(types.contains(&"subject.export") && types.contains(&"record.create"), "{types:?}");
    assert!(!found.to_string().contains("ann@example.com"), "the subject is in the log only as an HMAC");

    // Erase: the held record stays, the other is shredded.
    let (status, erased) = call(
        &server,
        "POST",
        "/v1/subjects/ann@example.com/erase",
        &admin,
        Some(json!({"justification": "erasure request #882 from ann"})),
    )
    .await;
    assert_eq!(status, 200, "{erased}");
    assert_eq!(erased["erased"].as_array().unwrap().len(), 1);
    assert_eq!(erased["held"][0]["id"], ids[1].as_str());
    let (status, _) = call(&server, "GET", &record(&ids[0]), &admin, None).await;
    assert_eq!(status, 404);
    let (status, _) = call(&server, "GET", &record(&ids[1]), &admin, None).await;
    assert_eq!(status, 200);

    // Retention: bob's records expire; the held one is counted, not shredded.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let runs = audited(&server, &admin, "retention.run").await;
    if runs.is_empty() {
        let (_, all) = call(&server, "GET", "/v1/audit/events?limit=200", &admin, None).await;
        let types: Vec<&str> =
            all["events"].as_array().unwrap().iter().map(|e| e["event"]["type"].as_str().unwrap()).collect();
        panic!("no retention run recorded; events: {types:?}; logs: {}", server.logs());
    }
    assert_eq!(runs.iter().map(|r| r["details"]["shredded"].as_i64().unwrap()).sum::<i64>(), 1, "{runs:?}");
    assert!(runs.iter().any(|r| r["details"]["held"] == 1), "{runs:?}");
    let (status, erased_bob) = call(
        &server,
        "POST",
        "/v1/subjects/bob@example.com/erase",
        &admin,
        Some(json!({"justification": "erasure request #883 from bob"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(erased_bob["erased"].as_array().unwrap().len(), 0, "the expired one is already gone: {erased_bob}");
    assert_eq!(erased_bob["held"].as_array().unwrap().len(), 1, "the held one is still there: {erased_bob}");
}

#[tokio::test]
async fn nested_policies_are_refused_naming_the_limit_and_the_server_stays_up() {
    // Each overflowed the parser's stack and aborted the server (exit 134).
    let (mut server, admin, _, _) = admin_and_reader().await;
    let when = |body: String| format!("permit (principal, action, resource)\nwhen {{ {body} }};");
    let bodies = [
        when(format!("{}true{}", "(".repeat(300), ")".repeat(300))),
        when(format!("{}1{} == []", "[".repeat(300), "]".repeat(300))),
        when(format!("{}1{} == {{}}", "{a: ".repeat(300), "}".repeat(300))),
        when(format!("{}true", "if true then true else ".repeat(1500))),
        when(format!("true{}", " || true".repeat(5000))),
        when(format!("context{} == 1", ".a".repeat(40_000))),
    ];
    for policies in bodies {
        let body = json!({"policies": policies, "justification": "an operator's policy, nested deep"});
        let (status, refused) = call(&server, "PUT", "/v1/policies", &admin, Some(body)).await;
        assert_eq!((status, refused["code"].as_str()), (400, Some("invalid_policy")), "{refused}");
        let message = refused["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("limit"), "{refused}");
        assert_eq!(refused["errors"][0]["line"], 2, "{refused}");
    }
    // JSON nested past serde_json's depth limit is refused before any policy is read,
    // here and in an explanation's request.
    let nested_json =
        format!("{{\"policies\": {}\"\"{}, \"justification\": \"x\"}}", "[".repeat(100_000), "]".repeat(100_000));
    let response = reqwest::Client::new()
        .put(server.url("/v1/policies"))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body(nested_json)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let nested_explain = format!("{{\"principal\": {}\"\"{}}}", "{\"a\": ".repeat(100_000), "}".repeat(100_000));
    let response = reqwest::Client::new()
        .post(server.url("/v1/authz/explain"))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body(nested_explain)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let (status, set) = call(&server, "GET", "/v1/policies", &admin, None).await;
    assert_eq!((status, set["version"].as_i64()), (200, Some(0)), "{set}");
    assert!(server.terminate().success(), "{}", server.logs());
}

const READERS_DECRYPT: &str = "@id(\"readers-decrypt\")\n\
    permit (principal in Strongroom::Role::\"reader\", action == Strongroom::Action::\"record.decrypt\", resource)\n\
    when { principal in resource.matter };\n";

#[tokio::test]
async fn a_policy_letting_a_reader_decrypt_is_refused_naming_the_invariant() {
    let (server, admin, _, reader_id) = admin_and_reader().await;
    let body = json!({"policies": READERS_DECRYPT, "justification": "readers of case-1 need plaintext"});
    let (status, refused) = call(&server, "PUT", "/v1/policies", &admin, Some(body)).await;
    assert_eq!((status, refused["code"].as_str()), (400, Some("invalid_policy")), "{refused}");
    let error = &refused["errors"][0];
    assert!(error["message"].as_str().unwrap().contains("reader_never_decrypts"), "{refused}");
    assert_eq!(error["policy"], "api/readers-decrypt", "{refused}");
    let (_, set) = call(&server, "GET", "/v1/policies", &admin, None).await;
    assert_eq!(set["version"], 0, "nothing stored: {set}");
    // The reader still cannot decrypt: explain says so under the policies in force.
    let explain = json!({
        "principal": format!("user:{reader_id}"),
        "action": "record.decrypt",
        "resource": {"type": "record", "id": "r1", "matter": "case-1"},
    });
    let (status, explained) = call(&server, "POST", "/v1/authz/explain", &admin, Some(explain)).await;
    assert_eq!((status, explained["allowed"].as_bool()), (200, Some(false)), "{explained}");
}

#[tokio::test]
async fn under_warn_a_policy_breaking_an_invariant_loads_with_a_warning() {
    let server = server().env("STRONGROOM_AUTHZ_POLICY_INVARIANTS", "warn").start();
    let (server, admin, _, _) = admin_and_reader_on(server).await;
    let body = json!({"policies": READERS_DECRYPT, "justification": "readers of case-1 need plaintext"});
    let (status, set) = call(&server, "PUT", "/v1/policies", &admin, Some(body)).await;
    assert_eq!(status, 200, "{set}");
    assert!(set["warnings"][0].as_str().unwrap().contains("reader_never_decrypts"), "{set}");
    let (_, again) = call(&server, "GET", "/v1/policies", &admin, None).await;
    assert_eq!(again["warnings"], set["warnings"]);
    let changes = audited(&server, &admin, "policy.change").await;
    assert!(changes[0]["details"]["invariant_warnings"].as_array().is_some_and(|w| w.len() == 1), "{changes:?}");
    assert!(server.logs().contains("break an authorization invariant"), "{}", server.logs());
}

#[tokio::test]
async fn a_policy_file_breaking_an_invariant_stops_the_start_and_loads_under_warn() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("readers.cedar"), READERS_DECRYPT).unwrap();
    let policy_dir = dir.path().to_str().unwrap();
    let Err(refused) = server().env("STRONGROOM_AUTHZ_POLICY_DIR", policy_dir).try_start() else {
        panic!("the server started with a policy file that breaks an invariant");
    };
    assert_ne!(refused.code, Some(0), "{refused:?}");
    let output = format!("{}{}", refused.stdout, refused.stderr);
    assert!(output.contains("reader_never_decrypts") && output.contains("file:readers.cedar"), "{output}");
    let server = server()
        .env("STRONGROOM_AUTHZ_POLICY_DIR", policy_dir)
        .env("STRONGROOM_AUTHZ_POLICY_INVARIANTS", "warn")
        .start();
    let (server, admin, _, _) = admin_and_reader_on(server).await;
    let (status, set) = call(&server, "GET", "/v1/policies", &admin, None).await;
    assert_eq!(status, 200, "{set}");
    assert!(set["warnings"][0].as_str().unwrap().contains("allowed by file:readers.cedar/readers-decrypt"), "{set}");
}
