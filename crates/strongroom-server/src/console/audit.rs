//! The audit explorer: the log's events with the API's filters, newest
//! first, and one event with its inclusion proof, which the page's script
//! checks in the browser against the verifier key pinned in that browser
//! (the first key it checked with, or one the reader pastes from where
//! they keep it). The server is not trusted for that check: the browser
//! recomputes the leaf hash from the entry's bytes, the root from the
//! proof, and verifies the checkpoint's Ed25519 signature (WebCrypto).
//!
//! The audit log is for those who may read it (`audit.read`); the use case
//! refuses (and records) anyone else, as through the API.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use strongroom_core::identity::UserPrincipal;
use strongroom_proto::{AuditEventList, AuditEventProof};

use super::pages::frame;
use super::{Viewer, page};
use crate::auth::RequestOrigin;
use crate::routes::audit::{EventQuery, event_page, event_proof};
use crate::{ApiError, AppState};

/// Events per page in the explorer.
const PAGE: u32 = 50;

/// `GET /console/audit`: events matching the filters in the query string.
pub(crate) async fn explorer(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(mut query): Query<EventQuery>,
) -> Response {
    let Viewer { user, form_token, origin } = viewer;
    // Empty fields of the filter form mean "any".
    let fields = [
        &mut query.actor,
        &mut query.action,
        &mut query.target,
        &mut query.matter,
        &mut query.result,
        &mut query.from,
        &mut query.to,
        &mut query.cursor,
    ];
    for field in fields {
        if field.as_deref().is_some_and(|v| v.trim().is_empty()) {
            *field = None;
        }
    }
    query.limit = Some(PAGE);
    let context = origin.context(user.actor());
    let (status, listed, message) = match event_page(&state, &user.subject(), &query, &context).await {
        Ok(listed) => (StatusCode::OK, Some(listed), None),
        Err(ApiError::InvalidRequest(why)) => (StatusCode::BAD_REQUEST, None, Some(why)),
        Err(ApiError::Forbidden(_) | ApiError::NotFound(_)) => {
            (StatusCode::FORBIDDEN, None, Some("Refused: reading the audit log needs audit.read.".to_owned()))
        }
        Err(error) => return error.into_response(),
    };
    page(status, explorer_page(&user, &form_token, &query, listed.as_ref(), message.as_deref()))
}

/// `GET /console/audit/{index}`: one event, and the check of its proof.
pub(crate) async fn event(State(state): State<AppState>, viewer: Viewer, Path(index): Path<String>) -> Response {
    let Viewer { user, form_token, origin } = viewer;
    let context = origin.context(user.actor());
    match event_proof(&state, &user.subject(), &index, &context).await {
        Ok(proof) => page(StatusCode::OK, event_page_markup(&user, &form_token, &proof)),
        Err(error) => {
            let (status, message) = match &error {
                ApiError::InvalidRequest(_) | ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "No such event."),
                ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "Refused: reading the audit log needs audit.read."),
                _ => return error.into_response(),
            };
            let markup = frame(
                "Audit event",
                Some((&user.username, &form_token)),
                html! { h1 { "Audit event" } p.error role="alert" { (message) } },
            );
            page(status, markup)
        }
    }
}

/// `GET /console/audit/{index}/proof`: the event with its proof as JSON
/// (what `GET /v1/audit/events/{index}` answers), for the page's check.
pub(crate) async fn proof(
    State(state): State<AppState>,
    origin: RequestOrigin,
    headers: HeaderMap,
    Path(index): Path<String>,
) -> Response {
    let Some(user) = super::signed_in(&state, &origin, &headers).await else {
        return ApiError::Unauthenticated.into_response();
    };
    let context = origin.context(user.actor());
    match event_proof(&state, &user.subject(), &index, &context).await {
        Ok(proof) => Json(proof).into_response(),
        Err(error) => error.into_response(),
    }
}

/// The text of an event member, when it is a string.
fn member<'a>(event: &'a serde_json::Value, path: &[&str]) -> &'a str {
    path.iter().try_fold(event, |value, key| value.get(*key)).and_then(|v| v.as_str()).unwrap_or("")
}

/// Who acted, for a human: their name when the event has one, else their id.
fn actor(event: &serde_json::Value) -> String {
    let kind = member(event, &["actor", "kind"]);
    match (member(event, &["actor", "name"]), member(event, &["actor", "id"])) {
        ("", "") => kind.to_owned(),
        ("", id) => format!("{kind} {id}"),
        (name, _) => format!("{name} ({kind})"),
    }
}

fn explorer_page(
    user: &UserPrincipal,
    form_token: &str,
    query: &EventQuery,
    listed: Option<&AuditEventList>,
    message: Option<&str>,
) -> Markup {
    let value = |field: &Option<String>| field.clone().unwrap_or_default();
    let results = ["", "success", "failure", "denied"];
    let older = listed.and_then(|l| l.next_cursor.as_ref()).map(|cursor| {
        let mut pairs = vec![("cursor", cursor.clone())];
        for (name, field) in [
            ("action", &query.action),
            ("actor", &query.actor),
            ("target", &query.target),
            ("matter", &query.matter),
            ("result", &query.result),
            ("from", &query.from),
            ("to", &query.to),
        ] {
            if let Some(value) = field {
                pairs.push((name, value.clone()));
            }
        }
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (*n, v.as_str())).collect();
        format!("/console/audit?{}", super::records::url_encoded(&pairs))
    });
    frame(
        "Audit log",
        Some((&user.username, form_token)),
        html! {
            h1 { "Audit log" }
            form.filters.card method="get" action="/console/audit" {
                div {
                    label for="action" { "Event type " span.hint { "(record.decrypt, or record.*)" } }
                    input #action name="action" type="text" value=(value(&query.action));
                }
                div {
                    label for="actor" { "Actor id" }
                    input #actor name="actor" type="text" value=(value(&query.actor));
                }
                div {
                    label for="target" { "Target id" }
                    input #target name="target" type="text" value=(value(&query.target));
                }
                div {
                    label for="matter" { "Matter" }
                    input #matter name="matter" type="text" value=(value(&query.matter));
                }
                div {
                    label for="result" { "Result" }
                    select #result name="result" {
                        @for result in results {
                            option value=(result) selected[query.result.as_deref().unwrap_or("") == result] {
                                @if result.is_empty() { "any" } @else { (result) }
                            }
                        }
                    }
                }
                div {
                    label for="from" { "From " span.hint { "(2026-11-23T14:00:00Z)" } }
                    input #from name="from" type="text" value=(value(&query.from));
                }
                div {
                    label for="to" { "Until" }
                    input #to name="to" type="text" value=(value(&query.to));
                }
                div.buttons { button type="submit" { "Filter" } a href="/console/audit" { "Clear" } }
            }
            @if let Some(message) = message { p.error role="alert" { (message) } }
            @if let Some(listed) = listed {
                section.card {
                    @if listed.events.is_empty() { p { "No events match." } }
                    table.events {
                        thead {
                            tr {
                                th scope="col" { "#" }
                                th scope="col" { "Time" }
                                th scope="col" { "Event" }
                                th scope="col" { "Result" }
                                th scope="col" { "Actor" }
                                th scope="col" { "Target" }
                            }
                        }
                        tbody {
                            @for view in &listed.events {
                                @let event = &view.event;
                                tr {
                                    td data-label="#" { a href={ "/console/audit/" (view.index) } { (view.index) } }
                                    td.time data-label="Time" { (view.time.get(..19).unwrap_or(&view.time).replace('T', " ")) }
                                    td data-label="Event" { (member(event, &["type"])) }
                                    td data-label="Result" { span class={ "status " (member(event, &["result"])) } { (member(event, &["result"])) } }
                                    td data-label="Actor" { (actor(event)) }
                                    td data-label="Target" { (member(event, &["target", "kind"])) " " (member(event, &["target", "id"])) }
                                }
                            }
                        }
                    }
                    @if let Some(older) = older { p { a href=(older) { "Older events" } } }
                }
            }
        },
    )
}

fn event_page_markup(user: &UserPrincipal, form_token: &str, proof: &AuditEventProof) -> Markup {
    let pretty = serde_json::to_string_pretty(&proof.view.event).unwrap_or_default();
    let index = proof.view.index;
    frame(
        &format!("Audit event {index}"),
        Some((&user.username, form_token)),
        html! {
            h1 { "Audit event " (index) }
            p { a href="/console/audit" { "Back to the audit log" } }
            section.card aria-labelledby="event" {
                h2 #event { (member(&proof.view.event, &["type"])) }
                dl {
                    dt { "Time" } dd { (proof.view.time) }
                    dt { "Leaf hash" } dd.hash { (proof.view.leaf_hash) }
                    dt { "In the tree of" } dd { (proof.inclusion.tree_size) " events" }
                }
                pre.event { (pretty) }
            }
            section.card aria-labelledby="proof" {
                h2 #proof { "Proof" }
                p {
                    "Your browser checks, without trusting this server, that this event is in the tree "
                    "the signed checkpoint commits to, and that the checkpoint is signed by the key you pinned."
                }
                noscript { p { "The check needs JavaScript; the Python client's verify_event does the same." } }
                form.stack #proof-check data-proof=(index) hidden {
                    label for="pinned-key" { "Pinned verifier key " span.hint { "(from GET /v1/audit/public-key, kept where you trust it)" } }
                    input #pinned-key name="pinned" type="text" autocomplete="off" spellcheck="false";
                    p #pinned-note.hint {}
                    button type="submit" { "Check the proof" }
                }
                p #proof-result role="status" hidden {}
            }
        },
    )
}
