//! Redaction of spoken language through the real binary (issue 22): an
//! analyst's view of an interview whose answer names a person and a company
//! shows `[PERSON]` and `[ORG]`; a matter's own terms (the parties of a case)
//! are redacted wherever they appear, are stored sealed, managed by those who
//! manage the matter, and audited without naming them; `strongroom redact`
//! finds names offline.

use serde_json::{Value, json};
use strongroom_testkit::TestServer;

use super::BIN;
use super::authz::{admin_and_reader, audited, call, user_with_role};

/// Which of `values` the SQLite database files hold in clear.
fn found_in_database(server: &TestServer, values: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let Ok(bytes) = std::fs::read(server.data_dir().join(format!("strongroom.db{suffix}"))) else { continue };
        for value in values {
            if bytes.windows(value.len()).any(|window| window == value.as_bytes()) {
                found.push(format!("{value} in strongroom.db{suffix}"));
            }
        }
    }
    found
}

/// A matter, and an analyst holding a grant on it.
async fn matter_with_analyst(server: &TestServer, admin: &str, matter: &str) -> String {
    let (status, body) =
        call(server, "POST", "/v1/matters", admin, Some(json!({"id": matter, "name": "Roe v. Acme"}))).await;
    assert_eq!(status, 201, "{body}");
    let (analyst, analyst_id) = user_with_role(server, "ana", "analyst").await;
    let grant =
        json!({"principal": format!("user:{analyst_id}"), "justification": "reviews the deposition transcripts"});
    let (status, body) = call(server, "POST", &format!("/v1/matters/{matter}/grants"), admin, Some(grant)).await;
    assert_eq!(status, 201, "{body}");
    analyst
}

#[tokio::test]
async fn an_analyst_sees_people_and_companies_of_an_interview_answer_as_placeholders() {
    let (server, admin, _, _) = admin_and_reader().await;
    let analyst = matter_with_analyst(&server, &admin, "roe-v-acme").await;
    let answer = "Hi, I am Jane Roe from Acme Corporation. My manager, Kwame Asante, moved to Lagos.";
    let record = json!({"matter": "roe-v-acme", "fields": {"user_id": "candidate-7", "transcribed_text": answer}});
    let (status, created) = call(&server, "POST", "/v1/collections/interviews/records", &admin, Some(record)).await;
    assert_eq!(status, 201, "{created}");
    let path = format!("/v1/collections/interviews/records/{}", created["id"].as_str().unwrap());
    let (status, view) = call(&server, "GET", &path, &analyst, None).await;
    assert_eq!(status, 200, "{view}");
    // The answer itself stays secret; its anonymised form is the rendition.
    assert_eq!(
        view["fields"]["anonymized_answer"], "Hi, I am [PERSON] from [ORG]. My manager, [PERSON], moved to [LOCATION].",
        "{view}"
    );
    assert!(!view.to_string().contains("Jane Roe"), "{view}");

    // A transcript in a `redacted` field: the analyst's view is its rendition.
    let transcript = "Q: Please state your name.\nA: Dolores Whitcombe, I live at 4417 Larkspur Lane, Boise.\n\
                      MR. HALVORSEN: Objection.";
    let recording = json!({"matter": "roe-v-acme", "fields": {"title": "Deposition, day 2", "transcript": transcript}});
    let (status, created) = call(&server, "POST", "/v1/collections/recordings/records", &admin, Some(recording)).await;
    assert_eq!(status, 201, "{created}");
    let path = format!("/v1/collections/recordings/records/{}", created["id"].as_str().unwrap());
    let (_, view) = call(&server, "GET", &path, &analyst, None).await;
    assert_eq!(
        view["fields"]["transcript"],
        "Q: Please state your name.\nA: [PERSON], I live at [ADDRESS].\nMR. [PERSON]: Objection.",
        "{view}"
    );
}

#[tokio::test]
async fn a_matters_own_terms_are_redacted_stored_sealed_and_audited_without_their_words() {
    let (server, admin, reader, _) = admin_and_reader().await;
    let analyst = matter_with_analyst(&server, &admin, "case-22").await;
    let terms_path = "/v1/matters/case-22/redaction-terms";
    let (status, empty) = call(&server, "GET", terms_path, &admin, None).await;
    assert_eq!(status, 200, "{empty}");
    assert_eq!((empty["terms"].clone(), empty["revision"].clone()), (json!([]), json!(0)));

    // Words no detector would take for a name: a codename and a nickname.
    let terms = json!({"terms": [{"term": "Project Quillfeather", "type": "ORG"}, {"term": "Zebulon Mxyzptlk"}], "revision": 0});
    let (status, set) = call(&server, "PUT", terms_path, &admin, Some(terms.clone())).await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(set["revision"], 1);
    assert_eq!(set["terms"][1], json!({"term": "Zebulon Mxyzptlk", "type": "PERSON"}));
    let (status, stale) = call(&server, "PUT", terms_path, &admin, Some(terms)).await;
    assert_eq!((status, stale["code"].as_str()), (409, Some("conflict")), "a stale revision is refused: {stale}");

    // Only those who manage the matter read or change the list.
    for token in [&analyst, &reader] {
        let (status, _) = call(&server, "GET", terms_path, token, None).await;
        assert!(status == 403 || status == 404, "{status}");
        let (status, _) = call(&server, "PUT", terms_path, token, Some(json!({"terms": []}))).await;
        assert!(status == 403 || status == 404, "{status}");
    }
    let (status, bad) =
        call(&server, "PUT", terms_path, &admin, Some(json!({"terms": [{"term": "x", "type": "PLANET"}]}))).await;
    assert_eq!((status, bad["code"].as_str()), (400, Some("invalid_request")), "{bad}");
    let (status, _) = call(&server, "GET", "/v1/matters/no-such-matter/redaction-terms", &admin, None).await;
    assert_eq!(status, 404);

    let text = "The memo on project quillfeather went to Zebulon Mxyzptlk; later Mxyzptlk denied it.";
    let recording = json!({"matter": "case-22", "fields": {"title": "Call", "transcript": text}});
    let (status, created) = call(&server, "POST", "/v1/collections/recordings/records", &admin, Some(recording)).await;
    assert_eq!(status, 201, "{created}");
    let path = format!("/v1/collections/recordings/records/{}", created["id"].as_str().unwrap());
    let (_, view) = call(&server, "GET", &path, &analyst, None).await;
    assert_eq!(view["fields"]["transcript"], "The memo on [ORG] went to [PERSON]; later [PERSON] denied it.", "{view}");

    // Sealed at rest, and the audit log counts the terms without naming them.
    assert_eq!(found_in_database(&server, &["Quillfeather", "Mxyzptlk"]), Vec::<String>::new());
    let changes: Vec<Value> = audited(&server, &admin, "config.change")
        .await
        .into_iter()
        .filter(|e| e["details"]["change"] == "redaction terms replaced")
        .collect();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(
        (changes[0]["details"]["terms"].clone(), changes[0]["target"]["id"].clone()),
        (json!(2), json!("case-22"))
    );
    assert!(!changes[0].to_string().contains("Mxyzptlk"), "{:?}", changes[0]);
}

#[test]
fn the_redact_command_finds_names_in_transcripts_offline() {
    let input = "Hi, I am Jane Roe from Acme Corporation\nmy name is jane roe and i live in denver\n\
                 MS. ADEYEMI-COLE: Can you spell it?\nA: L-I W-E-I.\nWill you call me in May?\n";
    let output = TestServer::builder(BIN).run_with_input(&["redact"], input);
    assert_eq!(output.code, Some(0), "{output:?}");
    assert_eq!(
        output.stdout,
        "Hi, I am [PERSON] from [ORG]\nmy name is [PERSON] and i live in [LOCATION]\n\
         MS. [PERSON]: Can you spell it?\nA: [PERSON].\nWill you call me in May?\n"
    );
}
