//! Who may do what, in the console: matters and their grants, the roles,
//! and the operators' policies, edited with Cedar's errors shown at their
//! line. Each action is the authorization use case's, which decides and
//! audits it (grants and policy changes need a justification).

use std::collections::BTreeMap;

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;
use strongroom_core::CoreError;
use strongroom_core::authz::{
    GrantRecord, MatterRecord, NewMatter, PolicyError, PolicyOverview, PrincipalKind, RoleView,
};
use strongroom_core::identity::UserPrincipal;

use super::pages::{frame, when};
use super::{Viewer, failure, form_viewer, page, refusal, refused_page};
use crate::AppState;
use crate::auth::RequestOrigin;

// --- Matters and grants ------------------------------------------------------------------------

/// `GET /console/admin/matters`.
pub(crate) async fn matters(State(state): State<AppState>, viewer: Viewer) -> Response {
    matters_answer(&state, &viewer, StatusCode::OK, None).await
}

async fn matters_answer(state: &AppState, viewer: &Viewer, status: StatusCode, message: Option<&str>) -> Response {
    let context = viewer.context();
    match state.authz.list_matters(&viewer.user.subject(), &context).await {
        Ok(listed) => page(status, matters_page(&viewer.user, &viewer.form_token, &listed, message)),
        Err(error) => refused_page(viewer, "Matters", &error),
    }
}

/// The form that creates a matter.
#[derive(Debug, Deserialize)]
pub(crate) struct MatterForm {
    #[serde(default)]
    form_token: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
}

/// `POST /console/admin/matters`.
pub(crate) async fn create_matter(
    State(state): State<AppState>,
    origin: RequestOrigin,
    headers: HeaderMap,
    Form(form): Form<MatterForm>,
) -> Response {
    let viewer = match form_viewer(&state, origin, &headers, &form.form_token).await {
        Ok(viewer) => viewer,
        Err(refused) => return refused,
    };
    let context = viewer.context();
    let new = NewMatter {
        id: Some(form.id.trim().to_owned()).filter(|id| !id.is_empty()),
        name: form.name.trim().to_owned(),
    };
    match state.authz.create_matter(&viewer.user.subject(), new, &context).await {
        Ok(_) => matters_answer(&state, &viewer, StatusCode::OK, None).await,
        Err(error) => match refusal(&error) {
            Some((status, why)) => matters_answer(&state, &viewer, status, Some(&why)).await,
            None => failure(&error),
        },
    }
}

/// `GET /console/admin/matters/{id}`: a matter's grants.
pub(crate) async fn matter(State(state): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> Response {
    matter_answer(&state, &viewer, &id, StatusCode::OK, None).await
}

async fn matter_answer(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    status: StatusCode,
    message: Option<&str>,
) -> Response {
    let context = viewer.context();
    let subject = viewer.user.subject();
    let matter = match state.authz.matter(&subject, id, &context).await {
        Ok(matter) => matter,
        Err(error) => return refused_page(viewer, "Matter", &error),
    };
    let grants = match state.authz.grants_on(&subject, id, &context).await {
        Ok(grants) => grants,
        Err(error) => return refused_page(viewer, "Matter", &error),
    };
    // Grantees by name where they are users.
    let mut names = BTreeMap::new();
    for grant in grants.iter().filter(|g| g.principal_kind == PrincipalKind::User) {
        if let Ok(grantee) = state.identity.user(&grant.principal_id).await {
            names.insert(grant.principal_id.clone(), grantee.username);
        }
    }
    page(status, matter_page(&viewer.user, &viewer.form_token, &matter, &grants, &names, message))
}

/// The forms of a matter's page: grant (to a username) or revoke (a grant).
#[derive(Debug, Deserialize)]
pub(crate) struct GrantForm {
    #[serde(default)]
    form_token: String,
    /// `grant` or `revoke`.
    #[serde(default)]
    action: String,
    /// For `grant`: the user's name.
    #[serde(default)]
    username: String,
    /// For `revoke`: `user:<id>` or `api_key:<id>`.
    #[serde(default)]
    principal: String,
    #[serde(default)]
    justification: String,
}

/// `POST /console/admin/matters/{id}`.
pub(crate) async fn matter_action(
    State(state): State<AppState>,
    origin: RequestOrigin,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<GrantForm>,
) -> Response {
    let viewer = match form_viewer(&state, origin, &headers, &form.form_token).await {
        Ok(viewer) => viewer,
        Err(refused) => return refused,
    };
    let context = viewer.context();
    let subject = viewer.user.subject();
    let outcome = match form.action.as_str() {
        "grant" => match state.identity.find_user(form.username.trim()).await {
            Ok(grantee) => state
                .authz
                .grant(&subject, &id, (PrincipalKind::User, &grantee.id), &form.justification, &context)
                .await
                .map(|_| ()),
            Err(_) => Err(CoreError::InvalidInput(format!("no user {:?}", form.username.trim()))),
        },
        "revoke" => match form.principal.split_once(':').and_then(|(kind, id)| Some((PrincipalKind::parse(kind)?, id)))
        {
            Some(principal) => state.authz.revoke_grant(&subject, &id, principal, &form.justification, &context).await,
            None => Err(CoreError::InvalidInput("principal: user:<id> or api_key:<id>".into())),
        },
        _ => Err(CoreError::InvalidInput("no such action".into())),
    };
    match outcome {
        Ok(()) => matter_answer(&state, &viewer, &id, StatusCode::OK, None).await,
        Err(error) => match refusal(&error) {
            Some((status, why)) => matter_answer(&state, &viewer, &id, status, Some(&why)).await,
            None => failure(&error),
        },
    }
}

fn matters_page(user: &UserPrincipal, form_token: &str, listed: &[MatterRecord], message: Option<&str>) -> Markup {
    frame(
        "Matters",
        Some((&user.username, form_token)),
        html! {
            h1 { "Matters" }
            @if let Some(message) = message { p.error role="alert" { (message) } }
            section.card {
                @if listed.is_empty() { p { "No matters you may see." } }
                table {
                    thead { tr { th scope="col" { "Matter" } th scope="col" { "Name" } th scope="col" { "Created" } } }
                    tbody {
                        @for matter in listed {
                            tr {
                                td data-label="Matter" { a href={ "/console/admin/matters/" (matter.id) } { (matter.id) } }
                                td data-label="Name" { (matter.name) }
                                td.time data-label="Created" { (when(matter.created_at)) }
                            }
                        }
                    }
                }
            }
            section.card aria-labelledby="new-matter" {
                h2 #new-matter { "New matter" }
                form.stack method="post" action="/console/admin/matters" {
                    input type="hidden" name="form_token" value=(form_token);
                    label for="matter-id" { "Id " span.hint { "(lower case, digits, . _ -; empty: one is made)" } }
                    input #matter-id name="id" type="text";
                    label for="matter-name" { "Name" }
                    input #matter-name name="name" type="text" required;
                    button type="submit" { "Create the matter" }
                }
            }
        },
    )
}

fn matter_page(
    user: &UserPrincipal,
    form_token: &str,
    matter: &MatterRecord,
    grants: &[GrantRecord],
    names: &BTreeMap<String, String>,
    message: Option<&str>,
) -> Markup {
    let action = format!("/console/admin/matters/{}", matter.id);
    frame(
        &matter.id,
        Some((&user.username, form_token)),
        html! {
            h1 { "Matter " (matter.id) }
            p { (matter.name) " · " a href="/console/admin/matters" { "All matters" } }
            @if let Some(message) = message { p.error role="alert" { (message) } }
            section.card aria-labelledby="grants" {
                h2 #grants { "Grants" }
                @if grants.is_empty() { p { "Nobody holds a grant on this matter." } }
                @for grant in grants {
                    @let principal = format!("{}:{}", grant.principal_kind.as_str(), grant.principal_id);
                    article.request {
                        dl {
                            dt { "Who" } dd { (names.get(&grant.principal_id).unwrap_or(&principal)) " (" (grant.principal_kind.as_str()) ")" }
                            dt { "Why" } dd { (grant.justification) }
                            dt { "Since" } dd { (when(grant.created_at)) }
                        }
                        form.decide method="post" action=(action) {
                            input type="hidden" name="form_token" value=(form_token);
                            input type="hidden" name="action" value="revoke";
                            input type="hidden" name="principal" value=(principal);
                            label for={ "why-" (grant.principal_id) } { "Why revoke " span.hint { "(at least 20 characters)" } }
                            input id={ "why-" (grant.principal_id) } name="justification" type="text" minlength="20" required;
                            div.buttons { button.secondary type="submit" { "Revoke" } }
                        }
                    }
                }
            }
            section.card aria-labelledby="grant" {
                h2 #grant { "Grant a user" }
                form.stack method="post" action=(action) {
                    input type="hidden" name="form_token" value=(form_token);
                    input type="hidden" name="action" value="grant";
                    label for="grantee" { "Username" }
                    input #grantee name="username" type="text" required;
                    label for="grant-why" { "Why " span.hint { "(at least 20 characters)" } }
                    input #grant-why name="justification" type="text" minlength="20" required;
                    button type="submit" { "Grant" }
                }
            }
        },
    )
}

// --- Roles -------------------------------------------------------------------------------------

/// `GET /console/admin/roles`: every role and what it allows.
pub(crate) async fn roles(State(state): State<AppState>, viewer: Viewer) -> Response {
    let context = viewer.context();
    match state.authz.roles(&viewer.user.subject(), &context).await {
        Ok(roles) => page(StatusCode::OK, roles_page(&viewer.user, &viewer.form_token, &roles)),
        Err(error) => refused_page(&viewer, "Roles", &error),
    }
}

fn roles_page(user: &UserPrincipal, form_token: &str, roles: &[RoleView]) -> Markup {
    frame(
        "Roles",
        Some((&user.username, form_token)),
        html! {
            h1 { "Roles" }
            p { "Roles are data: define your own with " code { "PUT /v1/roles/{name}" } "; the policies decide what each role may do." }
            @for role in roles {
                section.card {
                    h2 { (role.name) " " span.hint { "(" (role.source.as_str()) ")" } }
                    p { (role.description) }
                    p { @for action in &role.permissions { span.tag { (action.as_str()) } " " } }
                }
            }
        },
    )
}

// --- Policies ----------------------------------------------------------------------------------

/// `GET /console/admin/policies`: every policy text in force, and the
/// operators' document to edit.
pub(crate) async fn policies(State(state): State<AppState>, viewer: Viewer) -> Response {
    policies_answer(&state, &viewer, StatusCode::OK, None).await
}

/// A refused edit: the text as submitted and Cedar's errors.
struct Refused<'a> {
    text: &'a str,
    errors: Vec<PolicyError>,
    message: String,
}

async fn policies_answer(state: &AppState, viewer: &Viewer, status: StatusCode, edit: Option<Refused<'_>>) -> Response {
    let context = viewer.context();
    match state.authz.policies(&viewer.user.subject(), &context).await {
        Ok(overview) => page(status, policies_page(&viewer.user, &viewer.form_token, &overview, edit.as_ref())),
        Err(error) => refused_page(viewer, "Policies", &error),
    }
}

/// The policy editor's form.
#[derive(Debug, Deserialize)]
pub(crate) struct PolicyForm {
    #[serde(default)]
    form_token: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    justification: String,
}

/// `POST /console/admin/policies`: replaces the operators' document, or
/// shows what Cedar refused, at its line.
pub(crate) async fn save_policies(
    State(state): State<AppState>,
    origin: RequestOrigin,
    headers: HeaderMap,
    Form(form): Form<PolicyForm>,
) -> Response {
    let viewer = match form_viewer(&state, origin, &headers, &form.form_token).await {
        Ok(viewer) => viewer,
        Err(refused) => return refused,
    };
    let context = viewer.context();
    // Browsers send textarea lines as CRLF.
    let text = form.text.replace("\r\n", "\n");
    match state.authz.replace_policies(&viewer.user.subject(), &text, &form.justification, &context).await {
        Ok(_) => policies_answer(&state, &viewer, StatusCode::OK, None).await,
        Err(error) => match refusal(&error) {
            Some((status, message)) => {
                let errors = match error {
                    CoreError::InvalidPolicy(errors) => errors.0,
                    _ => Vec::new(),
                };
                let edit = Refused { text: &text, errors, message };
                policies_answer(&state, &viewer, status, Some(edit)).await
            }
            None => failure(&error),
        },
    }
}

fn policies_page(
    user: &UserPrincipal,
    form_token: &str,
    overview: &PolicyOverview,
    edit: Option<&Refused<'_>>,
) -> Markup {
    let current = overview.document.as_ref().map_or("", |d| d.text.as_str());
    let text = edit.map_or(current, |e| e.text);
    frame(
        "Policies",
        Some((&user.username, form_token)),
        html! {
            h1 { "Policies" }
            @if let Some(edit) = edit {
                section.card.refused aria-labelledby="errors" {
                    h2 #errors { "Not saved: " (edit.message) }
                    @if !edit.errors.is_empty() {
                        ol.policy-lines {
                            @for (number, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l)) {
                                @let here: Vec<&PolicyError> = edit.errors.iter().filter(|e| e.origin == "api" && e.line == Some(number)).collect();
                                li class=@if here.is_empty() { "" } @else { "error-line" } {
                                    code { (line) }
                                    @for error in here {
                                        p.error { "line " (number) @if let Some(column) = error.column { ", column " (column) } ": " (error.message) }
                                    }
                                }
                            }
                        }
                        @for error in edit.errors.iter().filter(|e| e.origin != "api" || e.line.is_none()) {
                            p.error { (error.to_string()) }
                        }
                    }
                }
            }
            section.card aria-labelledby="edit" {
                h2 #edit { "The operators' policies " @if let Some(document) = &overview.document { span.hint { "(version " (document.version) ", " (when(document.updated_at)) ")" } } }
                form.stack method="post" action="/console/admin/policies" {
                    input type="hidden" name="form_token" value=(form_token);
                    label for="policy-text" { "Cedar policies" }
                    textarea #policy-text.code name="text" rows="16" spellcheck="false" { (text) }
                    label for="policy-why" { "Why " span.hint { "(at least 20 characters, kept in the audit log)" } }
                    input #policy-why name="justification" type="text" minlength="20" required;
                    button type="submit" { "Validate and save" }
                }
            }
            section.card aria-labelledby="in-force" {
                h2 #in-force { "In force" }
                p { (overview.loaded.len()) " policies loaded." }
                details {
                    summary { "The default policies" }
                    pre.event { (overview.default_text) }
                }
                @for file in &overview.files {
                    details {
                        summary { (file.origin) }
                        pre.event { (file.text) }
                    }
                }
            }
        },
    )
}
