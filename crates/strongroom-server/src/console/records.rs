//! Records in the console: the collections, the records of the matters one
//! holds in the view one's role allows, and the decrypt dialog. Reading a
//! record is audited as `record.read`, as through the API; decrypting needs
//! a purpose and a justification of 20 characters or more, and is audited
//! permanently before the plaintext is shown. An encrypted audio or video
//! blob plays in the page: the player asks for ranges of it, each decided
//! and audited as `blob.read` with the justification given.
//!
//! The decrypt button is shown only to those the policies would let
//! decrypt, but hiding it is a courtesy: the POST is decided again by the
//! use case, and a reader's crafted one is refused and audited.

use std::collections::BTreeMap;

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Map, Value};
use strongroom_core::CoreError;
use strongroom_core::audit::AuditContext;
use strongroom_core::authz::{Ask, DenialKind};
use strongroom_core::identity::UserPrincipal;
use strongroom_core::records::{
    BlobRef, CollectionRecord, DecryptOffer, FieldSpec, FieldType, REVEAL_WARNING, RecordQuery, RecordView,
};

use super::pages::{frame, when};
use super::{Viewer, failure, form_user, page};
use crate::AppState;
use crate::auth::RequestOrigin;

/// The longest value shown in full; longer ones (embeddings, long texts)
/// are cut, with their length said.
const SHOWN_CHARS: usize = 400;

/// `GET /console/records`: the collections.
pub(crate) async fn collections(State(state): State<AppState>, viewer: Viewer) -> Response {
    let Viewer { user, form_token, .. } = viewer;
    match state.records.collections().await {
        Ok(collections) => page(StatusCode::OK, collections_page(&user, &collections, &form_token)),
        Err(error) => failure(&error),
    }
}

/// `GET /console/records/{collection}`: the records one may read.
pub(crate) async fn records(State(state): State<AppState>, viewer: Viewer, Path(collection): Path<String>) -> Response {
    let Viewer { user, form_token, origin } = viewer;
    let context = origin.context(user.actor());
    let listed = state.records.list(&user.subject(), &collection, RecordQuery::default(), &context).await;
    match listed {
        Ok((views, _)) => page(StatusCode::OK, records_page(&user, &collection, &views, &form_token)),
        Err(error) => refused_or_failure(&user, &form_token, &error),
    }
}

/// `GET /console/records/{collection}/{id}`: one record, audited as read.
pub(crate) async fn record(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((collection, id)): Path<(String, String)>,
) -> Response {
    let Viewer { user, form_token, origin } = viewer;
    let context = origin.context(user.actor());
    match shown_record(&state, &user, &collection, &id, &context).await {
        Ok(shown) => page(StatusCode::OK, record_page(&user, &shown, &form_token, None)),
        Err(error) => refused_or_failure(&user, &form_token, &error),
    }
}

/// A record as its page shows it.
struct ShownRecord {
    view: RecordView,
    collection: CollectionRecord,
    /// Whether the policies would let this user decrypt it (now, or after a step-up).
    offer: DecryptOffer,
    /// The configured purposes, for the decrypt dialog.
    purposes: Vec<String>,
}

async fn shown_record(
    state: &AppState,
    user: &UserPrincipal,
    collection: &str,
    id: &str,
    context: &AuditContext,
) -> Result<ShownRecord, CoreError> {
    let subject = user.subject();
    let view = state.records.read(&subject, collection, id, context).await?;
    let collection = state.records.collection(collection).await?;
    let offer = state.records.decrypt_offer(&subject, &view, context);
    let purposes = state.authz.settings().purposes.clone();
    Ok(ShownRecord { view, collection, offer, purposes })
}

/// What a decrypt showed: the values, and the blobs to play with the
/// justification and purpose they were asked for with.
struct Revealed {
    values: Map<String, Value>,
    players: Vec<String>,
    reason: String,
    purpose: String,
}

/// `POST /console/records/{collection}/{id}/decrypt`: the decrypt dialog.
/// Fields come as `field.<name>=on` (checkboxes), beside `purpose`,
/// `justification` and the form token.
pub(crate) async fn decrypt(
    State(state): State<AppState>,
    origin: RequestOrigin,
    headers: HeaderMap,
    Path((collection, id)): Path<(String, String)>,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    let given = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let form_token = given("form_token").to_owned();
    let user = match form_user(&state, &origin, &headers, &form_token).await {
        Ok(user) => user,
        Err(refused) => return refused,
    };
    let context = origin.context(user.actor());
    let subject = user.subject();
    let reason = given("justification").trim().to_owned();
    let purpose = given("purpose").to_owned();
    let ask = Ask { justification: Some(&reason), purpose: Some(purpose.as_str()).filter(|p| !p.is_empty()) };
    let chosen: Vec<String> = form.keys().filter_map(|key| key.strip_prefix("field.")).map(str::to_owned).collect();
    // Decided (and a refusal audited) before anything is read.
    if let Err(error) = state.records.check_decrypt(&subject, &collection, &id, &ask, &context).await {
        return match error {
            CoreError::InvalidInput(why) => match shown_record(&state, &user, &collection, &id, &context).await {
                Ok(shown) => page(StatusCode::BAD_REQUEST, record_page(&user, &shown, &form_token, Some(Err(&why)))),
                Err(error) => refused_or_failure(&user, &form_token, &error),
            },
            // A second factor proven too long ago: the page again, asking for one.
            CoreError::Denied(denial) if denial.kind == DenialKind::MfaRequired => {
                match shown_record(&state, &user, &collection, &id, &context).await {
                    Ok(shown) => {
                        page(StatusCode::FORBIDDEN, record_page(&user, &shown, &form_token, Some(Err(&denial.detail))))
                    }
                    Err(error) => refused_or_failure(&user, &form_token, &error),
                }
            }
            error => refused_or_failure(&user, &form_token, &error),
        };
    }
    let shown = match shown_record(&state, &user, &collection, &id, &context).await {
        Ok(shown) => shown,
        Err(error) => return refused_or_failure(&user, &form_token, &error),
    };
    let is_blob = |name: &String| shown.collection.schema.field(name).is_some_and(|f| f.field_type == FieldType::Blob);
    let (players, values): (Vec<String>, Vec<String>) = chosen.into_iter().partition(is_blob);
    let values = if values.is_empty() {
        Map::new()
    } else {
        match state.records.decrypt(&subject, &collection, &id, &values, &ask, &context).await {
            Ok(values) => values,
            Err(CoreError::InvalidInput(why)) => {
                return page(StatusCode::BAD_REQUEST, record_page(&user, &shown, &form_token, Some(Err(&why))));
            }
            Err(error) => return refused_or_failure(&user, &form_token, &error),
        }
    };
    if values.is_empty() && players.is_empty() {
        let why = "Choose at least one field this record has a value for.";
        return page(StatusCode::BAD_REQUEST, record_page(&user, &shown, &form_token, Some(Err(why))));
    }
    let revealed = Revealed { values, players, reason, purpose };
    page(StatusCode::OK, record_page(&user, &shown, &form_token, Some(Ok(&revealed))))
}

/// Why a blob is played: the decrypt dialog's justification and purpose,
/// carried in the player's address (the element cannot send headers).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct PlayQuery {
    reason: Option<String>,
    purpose: Option<String>,
}

/// `GET /console/records/{collection}/{id}/blobs/{field}`: a blob's bytes
/// for the page's player, with the ranges it asks for. The cookie is
/// `SameSite=Strict`, so another site's page cannot make a browser fetch it.
pub(crate) async fn blob(
    State(state): State<AppState>,
    origin: RequestOrigin,
    headers: HeaderMap,
    Path((collection, id, field)): Path<(String, String, String)>,
    Query(query): Query<PlayQuery>,
) -> Response {
    let Some(user) = super::signed_in(&state, &origin, &headers).await else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let context = origin.context(user.actor());
    let ask = Ask { justification: query.reason.as_deref(), purpose: query.purpose.as_deref() };
    let target = BlobRef { collection: &collection, record: &id, field: &field };
    match crate::routes::records::blob_response(&state, &user.subject(), target, &headers, &ask, &context).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

/// A refusal as the console shows it (403 or 404, nothing of why beyond
/// what the API would say), or the failure page for a dependency's fault.
fn refused_or_failure(user: &UserPrincipal, form_token: &str, error: &CoreError) -> Response {
    let (status, message) = match error {
        CoreError::Denied(_) | CoreError::Forbidden(_) => (
            StatusCode::FORBIDDEN,
            "Refused: your role or your grants do not allow this here. The refusal is recorded.",
        ),
        CoreError::NotFound(_) => (StatusCode::NOT_FOUND, "Not found, or not on a matter you hold."),
        CoreError::InvalidInput(_) => (StatusCode::BAD_REQUEST, "That is not a valid collection or record name."),
        _ => return failure(error),
    };
    let markup = frame(
        "Refused",
        Some((&user.username, form_token)),
        html! { h1 { "Refused" } p.error role="alert" { (message) } p { a href="/console/records" { "Back to the records" } } },
    );
    page(status, markup)
}

fn collections_page(user: &UserPrincipal, collections: &[CollectionRecord], form_token: &str) -> Markup {
    frame(
        "Records",
        Some((&user.username, form_token)),
        html! {
            h1 { "Records" }
            section.card {
                @if collections.is_empty() { p { "No collections yet." } }
                table {
                    thead { tr { th scope="col" { "Collection" } th scope="col" { "Fields" } } }
                    tbody {
                        @for collection in collections {
                            tr {
                                td { a href={ "/console/records/" (collection.name) } { (collection.name) } }
                                td {
                                    @for field in &collection.schema.fields {
                                        span.tag { (field.name) @if field.encrypted() { " " span.hint { "encrypted" } } } " "
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

fn records_page(user: &UserPrincipal, collection: &str, views: &[RecordView], form_token: &str) -> Markup {
    frame(
        collection,
        Some((&user.username, form_token)),
        html! {
            h1 { "Records of " (collection) }
            section.card {
                @if views.is_empty() { p { "No records you may read." } }
                table {
                    thead {
                        tr {
                            th scope="col" { "Record" }
                            th scope="col" { "Matter" }
                            th scope="col" { "Created" }
                            th scope="col" { "Encrypted fields" }
                        }
                    }
                    tbody {
                        @for view in views {
                            tr {
                                td data-label="Record" { a href={ "/console/records/" (collection) "/" (view.id) } { (view.id) } }
                                td data-label="Matter" { (view.matter_id) }
                                td.time data-label="Created" { (when(view.created_at)) }
                                td data-label="Encrypted fields" { (view.withheld.len() + view.redacted.len()) }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// A value for a human: strings as they are, anything else as JSON, long
/// ones cut.
fn shown(value: &Value) -> String {
    let text = match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let length = text.chars().count();
    if length <= SHOWN_CHARS {
        text
    } else {
        let head: String = text.chars().take(SHOWN_CHARS).collect();
        format!("{head}… ({length} characters)")
    }
}

/// The address of a blob's player source.
fn blob_address(view: &RecordView, field: &str, reveal: Option<&Revealed>) -> String {
    let mut address = format!("/console/records/{}/{}/blobs/{field}", view.collection, view.id);
    if let Some(reveal) = reveal {
        let query: String = url_encoded(&[("reason", &reveal.reason), ("purpose", &reveal.purpose)]);
        address.push('?');
        address.push_str(&query);
    }
    address
}

/// `a=b&c=d`, percent-encoded.
pub(super) fn url_encoded(pairs: &[(&str, &str)]) -> String {
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|byte| match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (byte as char).to_string(),
                other => format!("%{other:02X}"),
            })
            .collect()
    };
    pairs.iter().map(|(name, value)| format!("{}={}", encode(name), encode(value))).collect::<Vec<_>>().join("&")
}

/// Whether a blob field holds sound or pictures a page can play.
fn playable(field: &FieldSpec) -> bool {
    field.field_type == FieldType::Blob
}

/// One record: its visible fields, what stays encrypted, blobs to play, and
/// (for those who may) the decrypt dialog; after a decrypt, the values and
/// the notice that it was recorded.
fn record_page(
    user: &UserPrincipal,
    shown_record: &ShownRecord,
    form_token: &str,
    outcome: Option<Result<&Revealed, &str>>,
) -> Markup {
    let ShownRecord { view, collection, offer, purposes } = shown_record;
    let revealed = outcome.and_then(Result::ok);
    // Encrypted fields this record has a value for (a blob's presence is
    // known only when it is played).
    let encrypted: Vec<&FieldSpec> = collection
        .schema
        .fields
        .iter()
        .filter(|f| f.encrypted())
        .filter(|f| {
            f.field_type == FieldType::Blob || view.withheld.contains(&f.name) || view.redacted.contains(&f.name)
        })
        .collect();
    let public_blobs: Vec<&FieldSpec> =
        collection.schema.fields.iter().filter(|f| playable(f) && !f.encrypted()).collect();
    frame(
        &format!("{} {}", view.collection, view.id),
        Some((&user.username, form_token)),
        html! {
            h1 { "Record " (view.id) }
            p { "Collection " a href={ "/console/records/" (view.collection) } { (view.collection) } ", matter " (view.matter_id) }
            @if let Some(Err(why)) = outcome { p.error role="alert" { (why) } }
            @if let Some(revealed) = revealed {
                section.card.revealed aria-labelledby="revealed" {
                    h2 #revealed { "Decrypted" }
                    p.warning role="status" { (REVEAL_WARNING) }
                    dl {
                        @for (name, value) in &revealed.values { dt { (name) } dd { (shown(value)) } }
                    }
                    @for field in &revealed.players {
                        figure.player {
                            figcaption { (field) }
                            audio controls preload="metadata" src=(blob_address(view, field, Some(revealed))) {
                                "Your browser cannot play this here."
                            }
                        }
                    }
                }
            }
            section.card aria-labelledby="fields" {
                h2 #fields { "Fields" }
                dl {
                    @for (name, value) in &view.fields {
                        dt { (name) @if view.redacted.contains(name) { " " span.hint { "(redacted)" } } }
                        dd { (shown(value)) }
                    }
                    @for name in &view.withheld {
                        dt { (name) } dd { span.hint { "encrypted" } }
                    }
                    dt { "Created" } dd { (when(view.created_at)) }
                    @if let Some(expires) = view.expires_at { dt { "Expires" } dd { (when(expires)) } }
                    @if view.legal_hold { dt { "Legal hold" } dd { "yes" } }
                }
                @for field in &public_blobs {
                    figure.player {
                        figcaption { (field.name) }
                        audio controls preload="metadata" src=(blob_address(view, &field.name, None)) {
                            "Your browser cannot play this here."
                        }
                    }
                }
            }
            @if *offer == DecryptOffer::AfterStepUp && !encrypted.is_empty() {
                (super::pages::step_up(form_token, &format!("/console/records/{}/{}", view.collection, view.id),
                    "Decrypting needs a second factor proven in the last few minutes."))
            }
            @if *offer != DecryptOffer::Never && !encrypted.is_empty() {
                section.card aria-labelledby="decrypt" {
                    h2 #decrypt { "Decrypt" }
                    details open[outcome.is_some_and(|o| o.is_err())] {
                        summary { "Decrypt fields of this record…" }
                        form.stack method="post" action={ "/console/records/" (view.collection) "/" (view.id) "/decrypt" } {
                            input type="hidden" name="form_token" value=(form_token);
                            fieldset {
                                legend { "Fields" }
                                @for field in &encrypted {
                                    label.check {
                                        input type="checkbox" name={ "field." (field.name) };
                                        " " (field.name) @if field.field_type == FieldType::Blob { " (play)" }
                                    }
                                }
                            }
                            @if !purposes.is_empty() {
                                label for="purpose" { "Purpose" }
                                select #purpose name="purpose" required {
                                    @for purpose in purposes { option value=(purpose) { (purpose) } }
                                }
                            }
                            label for="justification" { "Justification " span.hint { "(at least 20 characters)" } }
                            textarea #justification name="justification" minlength="20" required rows="3" {}
                            p.warning { (REVEAL_WARNING) }
                            button type="submit" { "Decrypt" }
                        }
                    }
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_player_address_carries_the_reason_percent_encoded() {
        assert_eq!(
            url_encoded(&[("reason", "a b&c=é"), ("purpose", "legal_review")]),
            "reason=a%20b%26c%3D%C3%A9&purpose=legal_review"
        );
    }

    #[test]
    fn long_values_are_cut_and_say_their_length() {
        assert_eq!(shown(&Value::String("short".into())), "short");
        assert_eq!(shown(&serde_json::json!([1, 2])), "[1,2]");
        let long = shown(&Value::String("x".repeat(SHOWN_CHARS + 1)));
        assert!(long.ends_with(&format!("… ({} characters)", SHOWN_CHARS + 1)));
    }
}
