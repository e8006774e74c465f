//! Access requests in the console: ask for time-bound access, and decide
//! other people's requests with a note. The use case (`Authz`) decides who
//! sees and decides what: its list holds one's own requests and those one
//! may approve, and it refuses approving one's own (two persons). An
//! approver sees what a request covers, never the data.

use std::collections::HashMap;

use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;
use strongroom_core::CoreError;
use strongroom_core::authz::{AccessRequestRecord, Action, NewAccessRequest, PrincipalKind};
use strongroom_core::identity::UserPrincipal;

use super::pages::{frame, when};
use super::{Viewer, failure, form_viewer, page, refusal, see_other};
use crate::AppState;
use crate::auth::RequestOrigin;

/// What an access request may ask for, as the form offers it.
const ELEVATABLE: [Action; 4] =
    [Action::RecordRead, Action::RecordReadRedacted, Action::RecordDecrypt, Action::RecordExport];

/// `GET /console/access-requests`.
pub(crate) async fn list(State(state): State<AppState>, viewer: Viewer) -> Response {
    render(&state, &viewer, StatusCode::OK, None).await
}

/// The page, with a message above it when a form was refused.
async fn render(state: &AppState, viewer: &Viewer, status: StatusCode, message: Option<&str>) -> Response {
    let context = viewer.context();
    let requests = match state.authz.list_access_requests(&viewer.user.subject(), &context).await {
        Ok(requests) => requests,
        Err(error) => return failure(&error),
    };
    // Deciders by name, as requesters are shown (a decider is a user).
    let mut deciders = HashMap::new();
    for decided_by in requests.iter().filter_map(|r| r.decided_by.as_deref()) {
        if let Some(id) = decided_by.strip_prefix("user:")
            && !deciders.contains_key(decided_by)
            && let Ok(decider) = state.identity.user(id).await
        {
            deciders.insert(decided_by.to_owned(), decider.username);
        }
    }
    let now = state.audit.now_ms() / 1000;
    let purposes = &state.authz.settings().purposes;
    let shown = Listing { requests: &requests, deciders: &deciders, purposes, now };
    page(status, access_page(&viewer.user, &shown, &viewer.form_token, message))
}

/// The form that asks for access.
#[derive(Debug, Deserialize)]
pub(crate) struct AskForm {
    #[serde(default)]
    form_token: String,
    #[serde(default)]
    matter: String,
    #[serde(default)]
    record: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    minutes: String,
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    justification: String,
}

/// `POST /console/access-requests/new`.
pub(crate) async fn ask(
    State(state): State<AppState>,
    origin: RequestOrigin,
    headers: HeaderMap,
    Form(form): Form<AskForm>,
) -> Response {
    let viewer = match form_viewer(&state, origin, &headers, &form.form_token).await {
        Ok(viewer) => viewer,
        Err(refused) => return refused,
    };
    let Some(action) = Action::parse(&form.action).filter(|a| a.is_elevatable()) else {
        return refuse(&state, &viewer, "Choose what you need to do.").await;
    };
    let Ok(duration_minutes) = form.minutes.trim().parse::<i64>() else {
        return refuse(&state, &viewer, "Give the minutes as a number.").await;
    };
    let new = NewAccessRequest {
        action,
        matter_id: form.matter.trim().to_owned(),
        record_id: Some(form.record.trim().to_owned()).filter(|r| !r.is_empty()),
        duration_minutes,
        justification: form.justification,
        purpose: Some(form.purpose).filter(|p| !p.is_empty()),
    };
    let context = viewer.context();
    match state.authz.request_access(&viewer.user.subject(), new, &context).await {
        Ok(_) => see_other("/console/access-requests"),
        Err(error) => refused_by(&state, &viewer, error).await,
    }
}

/// The form that decides a request.
#[derive(Debug, Deserialize)]
pub(crate) struct DecideForm {
    #[serde(default)]
    form_token: String,
    #[serde(default)]
    id: String,
    /// `approve` or `deny` (the button pressed).
    #[serde(default)]
    decision: String,
    #[serde(default)]
    note: String,
}

/// `POST /console/access-requests/decide`.
pub(crate) async fn decide(
    State(state): State<AppState>,
    origin: RequestOrigin,
    headers: HeaderMap,
    Form(form): Form<DecideForm>,
) -> Response {
    let viewer = match form_viewer(&state, origin, &headers, &form.form_token).await {
        Ok(viewer) => viewer,
        Err(refused) => return refused,
    };
    let approve = match form.decision.as_str() {
        "approve" => true,
        "deny" => false,
        _ => return refuse(&state, &viewer, "Approve or deny.").await,
    };
    let context = viewer.context();
    match state.authz.decide_access_request(&viewer.user.subject(), &form.id, approve, &form.note, &context).await {
        Ok(_) => see_other("/console/access-requests"),
        Err(error) => refused_by(&state, &viewer, error).await,
    }
}

/// The page again with what was wrong; a dependency's fault is the failure page.
async fn refused_by(state: &AppState, viewer: &Viewer, error: CoreError) -> Response {
    // This page's own words for a refusal and a missing request; the rest as everywhere.
    let (status, message) = match &error {
        CoreError::Denied(_) | CoreError::Forbidden(_) => {
            (StatusCode::FORBIDDEN, "Refused: you may not do this (a request is decided by someone else).".into())
        }
        CoreError::NotFound(_) => (StatusCode::NOT_FOUND, "No such request.".into()),
        _ => match refusal(&error) {
            Some(refused) => refused,
            None => return failure(&error),
        },
    };
    render(state, viewer, status, Some(&message)).await
}

async fn refuse(state: &AppState, viewer: &Viewer, message: &str) -> Response {
    render(state, viewer, StatusCode::BAD_REQUEST, Some(message)).await
}

/// What the page lists.
struct Listing<'a> {
    requests: &'a [AccessRequestRecord],
    /// `user:<id>` of deciders → their usernames.
    deciders: &'a HashMap<String, String>,
    purposes: &'a [String],
    /// Unix seconds.
    now: i64,
}

/// The page: the form to ask, requests waiting (with a decision form on
/// others'), and the decided ones.
fn access_page(user: &UserPrincipal, listing: &Listing<'_>, form_token: &str, message: Option<&str>) -> Markup {
    let Listing { requests, deciders, purposes, now } = *listing;
    let mine = |request: &AccessRequestRecord| {
        request.requester_kind == PrincipalKind::User && request.requester_id == user.user_id
    };
    let (pending, decided): (Vec<_>, Vec<_>) = requests.iter().partition(|r| r.status_at(now) == "pending");
    frame(
        "Access requests",
        Some((&user.username, form_token)),
        html! {
            h1 { "Access requests" }
            @if let Some(message) = message { p.error role="alert" { (message) } }
            section.card aria-labelledby="waiting" {
                h2 #waiting { "Waiting for a decision" }
                @if pending.is_empty() { p { "Nothing is waiting." } }
                @for request in &pending {
                    article.request {
                        (covers(request))
                        @if mine(request) {
                            p.hint { "Your request: someone else decides it." }
                        } @else {
                            form.decide method="post" action="/console/access-requests/decide" {
                                input type="hidden" name="form_token" value=(form_token);
                                input type="hidden" name="id" value=(request.id);
                                label for={ "note-" (request.id) } { "Note " span.hint { "(optional, kept in the audit log)" } }
                                input id={ "note-" (request.id) } name="note" type="text" maxlength="1000";
                                div.buttons {
                                    button type="submit" name="decision" value="approve" { "Approve" }
                                    button.secondary type="submit" name="decision" value="deny" { "Deny" }
                                }
                            }
                        }
                    }
                }
            }
            section.card aria-labelledby="ask" {
                h2 #ask { "Ask for access" }
                form.stack method="post" action="/console/access-requests/new" {
                    input type="hidden" name="form_token" value=(form_token);
                    label for="matter" { "Matter" }
                    input #matter name="matter" type="text" required;
                    label for="record" { "Record " span.hint { "(optional: one record only)" } }
                    input #record name="record" type="text";
                    label for="action" { "To" }
                    select #action name="action" {
                        @for action in ELEVATABLE { option value=(action.as_str()) { (action.as_str()) } }
                    }
                    label for="minutes" { "For how many minutes" }
                    input #minutes name="minutes" type="number" min="1" value="60" required;
                    @if !purposes.is_empty() {
                        label for="purpose" { "Purpose" }
                        select #purpose name="purpose" {
                            @for purpose in purposes { option value=(purpose) { (purpose) } }
                        }
                    }
                    label for="justification" { "Why " span.hint { "(at least 20 characters)" } }
                    textarea #justification name="justification" minlength="20" required rows="3" {}
                    button type="submit" { "Ask" }
                }
            }
            section.card aria-labelledby="history" {
                h2 #history { "Decided" }
                @if decided.is_empty() { p { "None yet." } }
                @for request in &decided {
                    article.request {
                        (covers(request))
                        p {
                            span class={ "status " (request.status_at(now)) } { (request.status_at(now)) }
                            @if let Some(by) = &request.decided_by { " by " (deciders.get(by).unwrap_or(by)) }
                            @if let Some(at) = request.decided_at { ", " (when(at)) }
                            @if let Some(until) = request.expires_at { "; access until " (when(until)) }
                        }
                        @if let Some(note) = &request.decision_note { p { "Note: " (note) } }
                    }
                }
            }
        },
    )
}

/// What a request covers: who asks, to do what, where, for how long, why.
fn covers(request: &AccessRequestRecord) -> Markup {
    html! {
        dl {
            dt { "Request" } dd { (request.id) }
            dt { "Asked by" } dd { (request.requester_name) " (" (request.requester_kind.as_str()) ")" }
            dt { "To" } dd { (request.action.as_str()) }
            dt { "Matter" } dd { (request.matter_id) }
            @if let Some(record) = &request.record_id { dt { "Record" } dd { (record) } }
            dt { "For" } dd { (request.duration_minutes) " minutes" }
            @if let Some(purpose) = &request.purpose { dt { "Purpose" } dd { (purpose) } }
            dt { "Why" } dd { (request.justification) }
            dt { "Asked" } dd { (when(request.created_at)) }
        }
    }
}
