//! Applications plugging in, through the real binary: a transcription
//! worker's API key reaching the audio of the matters it is granted (and
//! nothing else) under the default policies, and roles an operator defines
//! as data (`attorney`, `paralegal`) deciding what people see.

use serde_json::{Value, json};
use strongroom_testkit::TestServer;

use super::authz::{PASSWORD, admin_and_reader_on, audited, call};
use super::blobs::{get, put, wav};
use super::identity::login;
use super::server;

const WHY: &str = "transcribing the deposition for the case file";
const ROLE_WHY: &str = "the firm's staffing model for litigation matters";

async fn new_key(server: &TestServer, admin: &str, name: &str, scopes: &[&str]) -> (String, String) {
    let (status, key) =
        call(server, "POST", "/v1/api-keys", admin, Some(json!({"name": name, "scopes": scopes}))).await;
    assert_eq!(status, 201, "{key}");
    (key["secret"].as_str().unwrap().to_owned(), key["id"].as_str().unwrap().to_owned())
}

async fn grant(server: &TestServer, admin: &str, matter: &str, principal: &str) {
    let body = json!({"principal": principal, "justification": "staffed on this matter by the partner"});
    let (status, answer) = call(server, "POST", &format!("/v1/matters/{matter}/grants"), admin, Some(body)).await;
    assert_eq!(status, 201, "{answer}");
}

async fn recording(server: &TestServer, token: &str, matter: &str) -> String {
    let record = json!({"matter": matter, "fields": {"title": "Deposition, witness 7", "status": "recorded"}});
    let (status, created) = call(server, "POST", "/v1/collections/recordings/records", token, Some(record)).await;
    assert_eq!(status, 201, "{created}");
    format!("/v1/collections/recordings/records/{}", created["id"].as_str().unwrap())
}

#[tokio::test]
async fn a_worker_key_downloads_its_matters_audio_with_a_justification_and_writes_the_transcript() {
    let (server, admin, _, _) = admin_and_reader_on(server().start()).await;
    for matter in ["case-1", "case-2"] {
        let (status, _) =
            call(&server, "POST", "/v1/matters", &admin, Some(json!({"id": matter, "name": matter}))).await;
        assert_eq!(status, 201);
    }
    // The app holds a plain key granted on both matters; the worker one that
    // may reveal, granted on case-1 only; a third key is granted but lacks the scope.
    let (app, app_id) = new_key(&server, &admin, "intake-app", &["matters:manage"]).await;
    let (worker, worker_id) = new_key(&server, &admin, "transcriber", &["records:decrypt"]).await;
    let (nosy, nosy_id) = new_key(&server, &admin, "thumbnailer", &["transit:use"]).await;
    for matter in ["case-1", "case-2"] {
        grant(&server, &admin, matter, &format!("api_key:{app_id}")).await;
    }
    grant(&server, &admin, "case-1", &format!("api_key:{worker_id}")).await;
    grant(&server, &admin, "case-1", &format!("api_key:{nosy_id}")).await;

    // The app uploads the audio of a deposition in each matter.
    let audio = wav(1);
    let mine = recording(&server, &app, "case-1").await;
    let theirs = recording(&server, &app, "case-2").await;
    for record in [&mine, &theirs] {
        let (status, stored) = put(&server, &app, &format!("{record}/blobs/audio"), "audio/wav", audio.clone()).await;
        assert_eq!(status, 201, "{stored}");
    }

    // The worker downloads it with a justification and a purpose.
    let why = [("x-justification", WHY), ("x-purpose", "case_work")];
    let response = get(&server, &worker, &format!("{mine}/blobs/audio"), &why).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().as_ref(), audio.as_slice(), "the audio comes back bit-identical");
    // Without one it is refused, and so is a key without the scope, and another matter's audio is missing.
    let response = get(&server, &worker, &format!("{mine}/blobs/audio"), &[]).await;
    assert_eq!(response.status(), 400, "a reveal needs a justification");
    let response = get(&server, &nosy, &format!("{mine}/blobs/audio"), &why).await;
    assert_eq!(response.status(), 403, "a granted key without records:decrypt reveals nothing");
    let response = get(&server, &worker, &format!("{theirs}/blobs/audio"), &why).await;
    assert_eq!(response.status(), 404, "another matter's audio answers as missing");
    let response = get(&server, &app, &format!("{mine}/blobs/audio"), &why).await;
    assert_eq!(response.status(), 403, "the app key, without the scope, writes audio but cannot read it back");

    // It writes the transcript into the record's encrypted field and may read it back.
    let transcript = "The witness said the contract was signed on 3 March; reach her at ann.lee@example.com.";
    let (status, updated) = call(
        &server,
        "PATCH",
        &mine,
        &worker,
        Some(json!({"fields": {"transcript": transcript, "status": "transcribed"}})),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert!(!updated.to_string().contains("ann.lee@example.com"), "the answer shows the redacted view: {updated}");
    let ask = json!({"fields": ["transcript"], "reason": WHY, "purpose": "case_work"});
    let (status, revealed) = call(&server, "POST", &format!("{mine}/decrypt"), &worker, Some(ask)).await;
    assert_eq!(status, 200, "{revealed}");
    assert_eq!(revealed["decrypted_fields"]["transcript"], transcript);

    // Its reveals are in the log with its id, its justification and purpose.
    let reads = audited(&server, &admin, "blob.read").await;
    let by_worker: Vec<&Value> = reads.iter().filter(|e| e["actor"]["id"] == worker_id.as_str()).collect();
    assert_eq!(by_worker.len(), 1, "{reads:?}");
    assert_eq!(
        (by_worker[0]["justification"].as_str(), by_worker[0]["purpose"].as_str()),
        (Some(WHY), Some("case_work"))
    );
    assert_eq!(by_worker[0]["actor"]["kind"], "api_key", "{:?}", by_worker[0]);
    let decrypts = audited(&server, &admin, "record.decrypt").await;
    assert!(decrypts.iter().any(|e| e["actor"]["id"] == worker_id.as_str()), "{decrypts:?}");
    let denials = audited(&server, &admin, "permission.denied").await;
    assert!(denials.iter().any(|e| e["actor"]["id"] == nosy_id.as_str()), "{denials:?}");

    // Where a profile wants a second person, the key asks like a person does.
    let request = json!({"action": "record.decrypt", "matter": "case-1", "duration_minutes": 30,
                         "justification": "overnight batch of the case's depositions", "purpose": "case_work"});
    let (status, asked) = call(&server, "POST", "/v1/access-requests", &worker, Some(request)).await;
    assert_eq!(status, 201, "{asked}");
    assert_eq!(asked["requester"], format!("api_key:{worker_id}"), "{asked}");
}

#[tokio::test]
async fn operators_define_attorney_and_paralegal_and_each_sees_what_the_role_allows() {
    let (server, admin, reader, _) = admin_and_reader_on(server().start()).await;
    let define = |name: &str, permissions: &[&str]| {
        json!({"name": name, "description": format!("{name}s of the firm"), "permissions": permissions,
               "justification": ROLE_WHY})
    };
    let attorney = define("attorney", &["record.read", "record.read_redacted", "record.decrypt", "record.write"]);
    let (status, created) = call(&server, "POST", "/v1/roles", &admin, Some(attorney.clone())).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["source"], "api");
    let (status, _) =
        call(&server, "POST", "/v1/roles", &admin, Some(define("paralegal", &["record.read", "record.read_redacted"])))
            .await;
    assert_eq!(status, 201);

    // What is refused, each with a 4xx naming the rule.
    let refusals = [
        (define("admin", &["record.read"]), 400, "built-in"),
        (define("Bad-Name", &["record.read"]), 400, "name"),
        (define("clerk", &["record.peek"]), 400, "record.peek"),
        (define("clerk", &[]), 400, "permissions"),
        (json!({"name": "clerk", "permissions": ["record.read"], "justification": "short"}), 400, "justification"),
        (attorney, 409, "exists"),
    ];
    for (body, status, says) in refusals {
        let (got, problem) = call(&server, "POST", "/v1/roles", &admin, Some(body)).await;
        assert_eq!(got, status, "{problem}");
        assert!(problem["detail"].as_str().unwrap_or_default().contains(says), "{problem}");
    }
    let (status, _) = call(&server, "POST", "/v1/roles", &reader, Some(define("clerk", &["record.read"]))).await;
    assert_eq!(status, 403, "a reader defines no role");

    // The list names every role, built-in ones with what the policies let them do.
    let (status, roles) = call(&server, "GET", "/v1/roles", &admin, None).await;
    assert_eq!(status, 200, "{roles}");
    let names: Vec<&str> = roles["roles"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["reader", "analyst", "admin", "system", "attorney", "paralegal"]);
    let admin_role = &roles["roles"][2];
    assert_eq!(admin_role["source"], "built_in");
    assert!(admin_role["permissions"].as_array().unwrap().contains(&json!("record.decrypt")), "{admin_role}");
    assert!(!roles["roles"][0]["permissions"].as_array().unwrap().contains(&json!("record.decrypt")));

    // People hold them: an unknown role cannot be assigned.
    let mut tokens = Vec::new();
    for (username, role) in [("alice", "attorney"), ("paul", "paralegal")] {
        let body = json!({"username": username, "email": format!("{username}@firm.example"), "roles": [role],
                          "password": PASSWORD});
        let (status, user) = call(&server, "POST", "/v1/users", &admin, Some(body)).await;
        assert_eq!(status, 201, "{user}");
        let id = user["id"].as_str().unwrap().to_owned();
        let (_, answer) = login(&server, username, PASSWORD).await;
        tokens.push((answer["access_token"].as_str().unwrap().to_owned(), id));
    }
    let ghost = json!({"username": "gus", "email": "gus@firm.example", "roles": ["ghostwriter"], "password": PASSWORD});
    let (status, problem) = call(&server, "POST", "/v1/users", &admin, Some(ghost)).await;
    assert_eq!((status, problem["code"].as_str()), (400, Some("invalid_request")), "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("ghostwriter"), "{problem}");
    let [(alice, alice_id), (paul, paul_id)] = <[(String, String); 2]>::try_from(tokens).unwrap();

    let (status, _) =
        call(&server, "POST", "/v1/matters", &admin, Some(json!({"id": "smith-v-jones", "name": "Smith v Jones"})))
            .await;
    assert_eq!(status, 201);
    for id in [&alice_id, &paul_id] {
        grant(&server, &admin, "smith-v-jones", &format!("user:{id}")).await;
    }
    let transcript = "Call Ann Lee at ann.lee@example.com about the settlement.";
    let record = json!({"matter": "smith-v-jones", "fields": {"title": "Client call", "transcript": transcript}});
    let (status, created) = call(&server, "POST", "/v1/collections/recordings/records", &alice, Some(record)).await;
    assert_eq!(status, 201, "an attorney writes: {created}");
    let path = format!("/v1/collections/recordings/records/{}", created["id"].as_str().unwrap());

    // Both see the redacted rendition; only the attorney decrypts, with a justification.
    for token in [&alice, &paul] {
        let (status, view) = call(&server, "GET", &path, token, None).await;
        assert_eq!(status, 200, "{view}");
        assert_eq!(view["fields"]["transcript"], "Call [PERSON] at [EMAIL] about the settlement.", "{view}");
    }
    let ask =
        json!({"fields": ["transcript"], "reason": "preparing the settlement conference", "purpose": "case_work"});
    let (status, revealed) = call(&server, "POST", &format!("{path}/decrypt"), &alice, Some(ask.clone())).await;
    assert_eq!(status, 200, "{revealed}");
    assert_eq!(revealed["decrypted_fields"]["transcript"], transcript);
    let (status, refused) = call(&server, "POST", &format!("{path}/decrypt"), &paul, Some(ask.clone())).await;
    assert_eq!(status, 403, "a paralegal does not decrypt: {refused}");

    // who-can and explain name the roles' rules.
    let who = |action: &'static str| {
        let (server, admin) = (&server, &admin);
        async move {
            let (status, who) =
                call(server, "GET", &format!("/v1/authz/who-can?action={action}&matter=smith-v-jones"), admin, None)
                    .await;
            assert_eq!(status, 200, "{who}");
            who["principals"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p["principal"]["name"].as_str().unwrap().to_owned(), p["reasons"][0]["policy"].clone()))
                .collect::<Vec<_>>()
        }
    };
    let readers = who("record.read_redacted").await;
    assert!(readers.contains(&("alice".into(), json!("roles/attorney.data"))), "{readers:?}");
    assert!(readers.contains(&("paul".into(), json!("roles/paralegal.data"))), "{readers:?}");
    let decrypters = who("record.decrypt").await;
    assert!(decrypters.contains(&("alice".into(), json!("roles/attorney.data"))), "{decrypters:?}");
    assert!(!decrypters.iter().any(|(name, _)| name == "paul"), "{decrypters:?}");
    let question = json!({"principal": format!("user:{paul_id}"), "action": "record.read",
                          "resource": {"type": "matter", "id": "smith-v-jones"}});
    let (status, explained) = call(&server, "POST", "/v1/authz/explain", &admin, Some(question)).await;
    assert_eq!(status, 200, "{explained}");
    assert_eq!(
        (explained["allowed"].as_bool(), explained["reasons"][0]["policy"].as_str()),
        (Some(true), Some("roles/paralegal.data"))
    );

    // A change takes effect at once; a held role cannot be removed; every change is audited.
    let widen = json!({"description": "paralegals who may decrypt", "permissions": ["record.read", "record.read_redacted", "record.decrypt"],
                       "justification": ROLE_WHY});
    let (status, changed) = call(&server, "PUT", "/v1/roles/paralegal", &admin, Some(widen)).await;
    assert_eq!(status, 200, "{changed}");
    let (status, revealed) = call(&server, "POST", &format!("{path}/decrypt"), &paul, Some(ask)).await;
    assert_eq!(status, 200, "{revealed}");
    let (status, problem) =
        call(&server, "DELETE", "/v1/roles/paralegal", &admin, Some(json!({"justification": ROLE_WHY}))).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("conflict")), "{problem}");
    let (status, _) =
        call(&server, "DELETE", "/v1/roles/reader", &admin, Some(json!({"justification": ROLE_WHY}))).await;
    assert_eq!(status, 404, "a built-in role is not the API's to remove");
    let defined = audited(&server, &admin, "role.define").await;
    assert_eq!(defined.len(), 3, "{defined:?}");
    assert!(defined.iter().all(|e| e["justification"] == ROLE_WHY), "{defined:?}");

    // Roles survive a restart: they are data.
    let mut server = server;
    server.terminate();
    let server = TestServer::builder(super::BIN).data_dir(server.data_dir()).start();
    let (_, answer) = login(&server, "paul", PASSWORD).await;
    let paul = answer["access_token"].as_str().unwrap().to_owned();
    let (status, view) = call(&server, "GET", &path, &paul, None).await;
    assert_eq!(status, 200, "{view}");
}

#[tokio::test]
async fn roles_of_the_configuration_file_are_loaded_and_read_only() {
    let config = r#"
[authz.roles.auditor]
description = "external auditors"
permissions = ["audit.read", "record.read"]
"#;
    let (server, admin, _, _) = admin_and_reader_on(server().config_file(config).start()).await;
    let (status, role) = call(&server, "GET", "/v1/roles/auditor", &admin, None).await;
    assert_eq!(status, 200, "{role}");
    assert_eq!(
        (role["source"].as_str(), role["permissions"].clone()),
        (Some("config"), json!(["record.read", "audit.read"]))
    );
    let create = |role: &str| {
        let args = ["user", "create", "--username", "eve", "--email", "eve@audit.example", "--role", role];
        TestServer::builder(super::BIN)
            .data_dir(server.data_dir())
            .config_file(config)
            .run_with_input(&[&args[..], &["--password-stdin"]].concat(), &format!("{PASSWORD}\n"))
    };
    let refused = create("ghostwriter");
    assert!(refused.code != Some(0) && refused.stderr.contains("ghostwriter"), "{refused:?}");
    let created = create("auditor");
    assert_eq!(created.code, Some(0), "the operator assigns a configured role: {created:?}");
    let change = json!({"permissions": ["audit.read"], "justification": ROLE_WHY});
    let (status, problem) = call(&server, "PUT", "/v1/roles/auditor", &admin, Some(change)).await;
    assert_eq!(status, 409, "{problem}");
    let bad = TestServer::builder(super::BIN)
        .config_file("[authz.roles.auditor]\npermissions = [\"audit.peek\"]\n")
        .try_start()
        .expect_err("an unknown action stops the start");
    assert!(bad.stderr.contains("audit.peek"), "{bad:?}");
}
