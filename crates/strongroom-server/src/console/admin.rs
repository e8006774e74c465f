//! Administration in the console: users (create, roles with a
//! justification, lock and unlock, a password reset, ending every session),
//! API keys (the secret shown once; rotate, revoke, usage) and keys
//! (versions, state, census, rotation due, a rotation, its re-encryption
//! job). Every action is the API's use case, which authorises itself: a
//! page or form of someone without the permission is refused, and the
//! refusal recorded, exactly as through the API.

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;
use strongroom_core::CoreError;
use strongroom_core::api_key_management::ApiKeyRequest;
use strongroom_core::identity::{NewPassword, NewUser, Role, UserPrincipal};
use strongroom_core::user_management::UserDetails;
use strongroom_core::{ApiKeyRecord, KeyInfo, KeyReport, NewApiKey, Scope};
use zeroize::Zeroizing;

use super::pages::{frame, when};
use super::{Viewer, failure, form_viewer, page, refusal, refused_page};
use crate::AppState;
use crate::auth::RequestOrigin;

/// Something shown once after a form: a new secret, or what was done.
enum Notice {
    /// What was done.
    Done(String),
    /// What was refused.
    Refused(String),
    /// A secret to copy now: it is not shown again.
    Secret { what: String, secret: Zeroizing<String> },
}

/// What a form's outcome shows: what was done, or why it was refused (with
/// the refusal's status); a dependency's fault stays an error (the failure page).
fn shown(outcome: Result<Notice, CoreError>) -> Result<(StatusCode, Notice), CoreError> {
    match outcome {
        Ok(done) => Ok((StatusCode::OK, done)),
        Err(error) => match refusal(&error) {
            Some((status, why)) => Ok((status, Notice::Refused(why))),
            None => Err(error),
        },
    }
}

fn notice(notice: Option<&Notice>) -> Markup {
    html! {
        @match notice {
            Some(Notice::Done(what)) => p.done role="status" { (what) },
            Some(Notice::Refused(why)) => p.error role="alert" { (why) },
            Some(Notice::Secret { what, secret }) => {
                section.card.secret aria-labelledby="secret" {
                    h2 #secret { (what) }
                    p { "Copy it now: it is shown this once and cannot be read again." }
                    pre.secret { (secret.as_str()) }
                }
            }
            None => {}
        }
    }
}

/// `GET /console/admin`: where each part of administration is, and what it needs.
pub(crate) async fn index(viewer: Viewer) -> Response {
    let Viewer { user, form_token, .. } = viewer;
    let parts = [
        ("/console/admin/users", "Users", "create, roles, lock and unlock, resets, ending sessions", "user.manage"),
        (
            "/console/admin/api-keys",
            "API keys",
            "create (the secret shown once), rotate, revoke, usage",
            "api_key.manage",
        ),
        (
            "/console/admin/keys",
            "Keys",
            "versions, state, census, rotation due, rotating, re-encryption jobs",
            "key.manage",
        ),
        ("/console/admin/matters", "Matters and grants", "who holds which matter, and why", "matter.manage"),
        ("/console/admin/roles", "Roles", "every role and what it allows", "role.assign"),
        (
            "/console/admin/policies",
            "Policies",
            "the Cedar policies in force; edit the operators' own",
            "policy.manage",
        ),
    ];
    let markup = frame(
        "Administration",
        Some((&user.username, &form_token)),
        html! {
            h1 { "Administration" }
            ul.admin {
                @for (href, title, what, needs) in parts {
                    li { a href=(href) { (title) } ": " (what) " " span.hint { "(" (needs) ")" } }
                }
            }
        },
    );
    page(StatusCode::OK, markup)
}

// --- Users -------------------------------------------------------------------------------------

/// `GET /console/admin/users`.
pub(crate) async fn users(State(state): State<AppState>, viewer: Viewer) -> Response {
    users_answer(&state, &viewer, StatusCode::OK, None).await
}

async fn users_answer(state: &AppState, viewer: &Viewer, status: StatusCode, shown: Option<Notice>) -> Response {
    let context = viewer.context();
    let subject = viewer.user.subject();
    let listed = match state.user_management.users(&subject, &context).await {
        Ok(listed) => listed,
        Err(error) => return refused_page(viewer, "Users", &error),
    };
    let roles: Vec<String> = match state.authz.roles(&subject, &context).await {
        Ok(roles) => roles.into_iter().map(|r| r.name).collect(),
        Err(error) => return refused_page(viewer, "Users", &error),
    };
    page(status, users_page(&viewer.user, &viewer.form_token, &listed, &roles, shown.as_ref()))
}

/// The form that creates a user.
#[derive(Debug, Deserialize)]
pub(crate) struct NewUserForm {
    #[serde(default)]
    form_token: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
}

/// `POST /console/admin/users/new`.
pub(crate) async fn create_user(
    State(state): State<AppState>,
    origin: RequestOrigin,
    headers: HeaderMap,
    Form(form): Form<NewUserForm>,
) -> Response {
    let viewer = match form_viewer(&state, origin, &headers, &form.form_token).await {
        Ok(viewer) => viewer,
        Err(refused) => return refused,
    };
    let Some(role) = Role::parse(form.role.trim()) else {
        let why = Notice::Refused("Choose a role.".into());
        return users_answer(&state, &viewer, StatusCode::BAD_REQUEST, Some(why)).await;
    };
    let new = NewUser {
        username: form.username.trim().to_owned(),
        email: form.email.trim().to_owned(),
        full_name: form.full_name.trim().to_owned(),
        roles: vec![role],
        password: NewPassword::Plain(Zeroizing::new(form.password)),
    };
    let context = viewer.context();
    let created = state.user_management.create_user(&viewer.user.subject(), new, &context).await;
    let (status, shown) = match shown(created.map(|c| Notice::Done(format!("User {} created.", c.user.username)))) {
        Ok(shown) => shown,
        Err(error) => return failure(&error),
    };
    users_answer(&state, &viewer, status, Some(shown)).await
}

/// `GET /console/admin/users/{id}`.
pub(crate) async fn user(State(state): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> Response {
    user_answer(&state, &viewer, &id, StatusCode::OK, None).await
}

async fn user_answer(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    status: StatusCode,
    shown: Option<Notice>,
) -> Response {
    let context = viewer.context();
    let subject = viewer.user.subject();
    let details = match state.user_management.user(&subject, id, &context).await {
        Ok(details) => details,
        Err(error) => return refused_page(viewer, "User", &error),
    };
    let roles: Vec<String> = match state.authz.roles(&subject, &context).await {
        Ok(roles) => roles.into_iter().map(|r| r.name).collect(),
        Err(error) => return refused_page(viewer, "User", &error),
    };
    page(status, user_page(&viewer.user, &viewer.form_token, &details, &roles, shown.as_ref()))
}

/// The forms of one user's page: `action` says which.
#[derive(Debug, Deserialize)]
pub(crate) struct UserActionForm {
    #[serde(default)]
    form_token: String,
    /// `roles`, `lock`, `unlock`, `reset` or `revoke`.
    #[serde(default)]
    action: String,
    /// For `roles`: why (the roles are the checkboxes `role.<name>`, in `rest`).
    #[serde(default)]
    justification: String,
    /// For `lock`.
    #[serde(default)]
    reason: String,
    #[serde(flatten)]
    rest: std::collections::BTreeMap<String, String>,
}

/// `POST /console/admin/users/{id}`: one of the user page's actions.
pub(crate) async fn user_action(
    State(state): State<AppState>,
    origin: RequestOrigin,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<UserActionForm>,
) -> Response {
    let viewer = match form_viewer(&state, origin, &headers, &form.form_token).await {
        Ok(viewer) => viewer,
        Err(refused) => return refused,
    };
    let context = viewer.context();
    let subject = viewer.user.subject();
    let users = &state.user_management;
    let outcome: Result<Notice, CoreError> = match form.action.as_str() {
        "roles" => {
            let roles: Vec<Role> =
                form.rest.keys().filter_map(|key| key.strip_prefix("role.")).filter_map(Role::parse).collect();
            users
                .set_roles(&subject, &id, roles, &form.justification, &context)
                .await
                .map(|changed| Notice::Done(format!("Roles of {} changed.", changed.user.username)))
        }
        "lock" => users
            .lock(&subject, &id, &form.reason, false, &context)
            .await
            .map(|locked| Notice::Done(format!("{} is locked; their sessions ended.", locked.user.username))),
        "unlock" => users
            .unlock(&subject, &id, &context)
            .await
            .map(|unlocked| Notice::Done(format!("{} is unlocked.", unlocked.user.username))),
        "reset" => users.issue_password_reset(&subject, &id, &context).await.map(|(token, expires)| Notice::Secret {
            what: format!("Password reset token (until {})", when(expires)),
            secret: Zeroizing::new(token.expose().to_owned()),
        }),
        "revoke" => users.revoke_access(&subject, &id, &context).await.map(|revoked| {
            Notice::Done(format!("{} sessions ended, {} API keys revoked.", revoked.sessions, revoked.api_keys))
        }),
        _ => Err(CoreError::InvalidInput("no such action".into())),
    };
    let (status, shown) = match shown(outcome) {
        Ok(shown) => shown,
        Err(error) => return failure(&error),
    };
    user_answer(&state, &viewer, &id, status, Some(shown)).await
}

fn users_page(
    user: &UserPrincipal,
    form_token: &str,
    listed: &[UserDetails],
    roles: &[String],
    shown: Option<&Notice>,
) -> Markup {
    frame(
        "Users",
        Some((&user.username, form_token)),
        html! {
            h1 { "Users" }
            (notice(shown))
            section.card {
                table {
                    thead {
                        tr {
                            th scope="col" { "Username" }
                            th scope="col" { "Roles" }
                            th scope="col" { "Second factor" }
                            th scope="col" { "State" }
                        }
                    }
                    tbody {
                        @for details in listed {
                            @let record = &details.user;
                            tr {
                                td data-label="Username" { a href={ "/console/admin/users/" (record.id) } { (record.username) } }
                                td data-label="Roles" { @for role in &record.roles { span.tag { (role.as_str()) } " " } }
                                td data-label="Second factor" { @if record.totp_enabled { "TOTP" } @else if details.mfa_required { span.bad { "required, none yet" } } @else { "none" } }
                                td data-label="State" { (account_state(details)) }
                            }
                        }
                    }
                }
            }
            section.card aria-labelledby="new-user" {
                h2 #new-user { "New user" }
                form.stack method="post" action="/console/admin/users/new" {
                    input type="hidden" name="form_token" value=(form_token);
                    label for="username" { "Username" }
                    input #username name="username" type="text" required autocomplete="off";
                    label for="email" { "E-mail" }
                    input #email name="email" type="email" required autocomplete="off";
                    label for="full_name" { "Full name" }
                    input #full_name name="full_name" type="text" autocomplete="off";
                    label for="role" { "Role" }
                    select #role name="role" {
                        @for role in roles { option value=(role) selected[role == "reader"] { (role) } }
                    }
                    label for="password" { "Password " span.hint { "(they change it; the password policy applies)" } }
                    input #password name="password" type="password" required autocomplete="new-password";
                    button type="submit" { "Create the user" }
                }
            }
        },
    )
}

fn account_state(details: &UserDetails) -> &'static str {
    match (details.user.disabled, details.user.locked) {
        (true, _) => "disabled",
        (false, true) => "locked",
        (false, false) => "active",
    }
}

fn user_page(
    user: &UserPrincipal,
    form_token: &str,
    details: &UserDetails,
    roles: &[String],
    shown: Option<&Notice>,
) -> Markup {
    let record = &details.user;
    let action = format!("/console/admin/users/{}", record.id);
    let hidden = html! { input type="hidden" name="form_token" value=(form_token); };
    frame(
        &record.username,
        Some((&user.username, form_token)),
        html! {
            h1 { "User " (record.username) }
            p { a href="/console/admin/users" { "All users" } }
            (notice(shown))
            section.card {
                dl {
                    dt { "Name" } dd { (details.profile.full_name) }
                    dt { "E-mail" } dd { (details.profile.email) }
                    dt { "State" } dd { (account_state(details)) }
                    dt { "Second factor" } dd { @if record.totp_enabled { "TOTP" } @else { "none" } }
                    dt { "Created" } dd { (when(record.created_at)) }
                }
            }
            section.card aria-labelledby="roles" {
                h2 #roles { "Roles" }
                form.stack method="post" action=(action) {
                    (hidden)
                    input type="hidden" name="action" value="roles";
                    fieldset {
                        legend { "Roles" }
                        @for role in roles {
                            label.check {
                                input type="checkbox" name={ "role." (role) } checked[record.roles.iter().any(|r| r.as_str() == role)];
                                " " (role)
                            }
                        }
                    }
                    label for="justification" { "Why " span.hint { "(kept in the audit log)" } }
                    input #justification name="justification" type="text" required;
                    button type="submit" { "Change the roles" }
                }
            }
            section.card aria-labelledby="access" {
                h2 #access { "Access" }
                @if record.locked {
                    form method="post" action=(action) {
                        (hidden) input type="hidden" name="action" value="unlock";
                        button type="submit" { "Unlock" }
                    }
                } @else {
                    form.stack method="post" action=(action) {
                        (hidden) input type="hidden" name="action" value="lock";
                        label for="reason" { "Reason to lock" }
                        input #reason name="reason" type="text" required;
                        button type="submit" { "Lock (ends every session)" }
                    }
                }
                form method="post" action=(action) {
                    (hidden) input type="hidden" name="action" value="revoke";
                    button.secondary type="submit" { "End every session and revoke their API keys" }
                }
                form method="post" action=(action) {
                    (hidden) input type="hidden" name="action" value="reset";
                    button.secondary type="submit" { "Issue a password reset" }
                }
            }
        },
    )
}

// --- API keys ----------------------------------------------------------------------------------

/// `GET /console/admin/api-keys`.
pub(crate) async fn api_keys(State(state): State<AppState>, viewer: Viewer) -> Response {
    api_keys_answer(&state, &viewer, StatusCode::OK, None).await
}

async fn api_keys_answer(state: &AppState, viewer: &Viewer, status: StatusCode, shown: Option<Notice>) -> Response {
    let context = viewer.context();
    match state.api_key_management.list(&viewer.user.subject(), &context).await {
        Ok(listed) => page(status, api_keys_page(&viewer.user, &viewer.form_token, &listed, shown.as_ref())),
        Err(error) => refused_page(viewer, "API keys", &error),
    }
}

/// The forms of the API-key page: `action` says which.
#[derive(Debug, Deserialize)]
pub(crate) struct ApiKeyForm {
    #[serde(default)]
    form_token: String,
    /// `create`, `rotate` or `revoke`.
    #[serde(default)]
    action: String,
    /// The key (rotate, revoke).
    #[serde(default)]
    id: String,
    /// A new key's name.
    #[serde(default)]
    name: String,
    /// A new key's lifetime, days (empty: no expiry).
    #[serde(default)]
    expires_in_days: String,
    /// Scope checkboxes `scope.<name>`.
    #[serde(flatten)]
    rest: std::collections::BTreeMap<String, String>,
}

/// `POST /console/admin/api-keys`.
pub(crate) async fn api_key_action(
    State(state): State<AppState>,
    origin: RequestOrigin,
    headers: HeaderMap,
    Form(form): Form<ApiKeyForm>,
) -> Response {
    let viewer = match form_viewer(&state, origin, &headers, &form.form_token).await {
        Ok(viewer) => viewer,
        Err(refused) => return refused,
    };
    let context = viewer.context();
    let subject = viewer.user.subject();
    let keys = &state.api_key_management;
    let outcome: Result<Notice, CoreError> = match form.action.as_str() {
        "create" => {
            let scopes: Vec<Scope> = Scope::ALL
                .into_iter()
                .filter(|scope| form.rest.contains_key(&format!("scope.{}", scope.as_str())))
                .collect();
            let expires_in_days = match form.expires_in_days.trim() {
                "" => Ok(None),
                days => days.parse().map(Some).map_err(|_| CoreError::InvalidInput("expires: a number of days".into())),
            };
            match expires_in_days {
                Ok(expires_in_days) => {
                    let key = NewApiKey {
                        name: form.name.trim().to_owned(),
                        scopes,
                        expires_in_days,
                        ..NewApiKey::default()
                    };
                    keys.create(&subject, ApiKeyRequest { key, owner: None }, &context).await.map(|(record, issued)| {
                        Notice::Secret {
                            what: format!("API key {} ({})", record.name, record.id),
                            secret: Zeroizing::new(issued.expose().to_owned()),
                        }
                    })
                }
                Err(error) => Err(error),
            }
        }
        "rotate" => keys.rotate(&subject, &form.id, 0, &context).await.map(|(record, issued)| Notice::Secret {
            what: format!("API key {} rotated: its new secret", record.name),
            secret: Zeroizing::new(issued.expose().to_owned()),
        }),
        "revoke" => {
            keys.revoke(&subject, &form.id, &context).await.map(|()| Notice::Done("The key is revoked.".into()))
        }
        _ => Err(CoreError::InvalidInput("no such action".into())),
    };
    let (status, shown) = match shown(outcome) {
        Ok(shown) => shown,
        Err(error) => return failure(&error),
    };
    api_keys_answer(&state, &viewer, status, Some(shown)).await
}

fn api_keys_page(user: &UserPrincipal, form_token: &str, listed: &[ApiKeyRecord], shown: Option<&Notice>) -> Markup {
    frame(
        "API keys",
        Some((&user.username, form_token)),
        html! {
            h1 { "API keys" }
            (notice(shown))
            section.card {
                @if listed.is_empty() { p { "No API keys." } }
                table {
                    thead {
                        tr {
                            th scope="col" { "Name" }
                            th scope="col" { "Scopes" }
                            th scope="col" { "Used" }
                            th scope="col" { "State" }
                            th scope="col" { span.visually-hidden { "Actions" } }
                        }
                    }
                    tbody {
                        @for key in listed {
                            tr {
                                td data-label="Name" { (key.name) br; span.hint { (key.id) } }
                                td data-label="Scopes" { @for scope in &key.scopes { span.tag { (scope.as_str()) } " " } }
                                td data-label="Used" {
                                    (key.use_count) " times"
                                    @if let Some(last) = key.last_used_at { ", last " (when(last)) }
                                }
                                td data-label="State" {
                                    @if let Some(revoked) = key.revoked_at { span.bad { "revoked " (when(revoked)) } }
                                    @else if let Some(expires) = key.expires_at { "until " (when(expires)) }
                                    @else { "active" }
                                }
                                td {
                                    @if key.revoked_at.is_none() {
                                        form.inline method="post" action="/console/admin/api-keys" {
                                            input type="hidden" name="form_token" value=(form_token);
                                            input type="hidden" name="id" value=(key.id);
                                            button.secondary type="submit" name="action" value="rotate" aria-label={ "Rotate " (key.name) } { "Rotate" }
                                            " "
                                            button.secondary type="submit" name="action" value="revoke" aria-label={ "Revoke " (key.name) } { "Revoke" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section.card aria-labelledby="new-key" {
                h2 #new-key { "New API key" }
                form.stack method="post" action="/console/admin/api-keys" {
                    input type="hidden" name="form_token" value=(form_token);
                    input type="hidden" name="action" value="create";
                    label for="key-name" { "Name" }
                    input #key-name name="name" type="text" required;
                    fieldset {
                        legend { "Scopes" }
                        @for scope in Scope::ALL {
                            label.check { input type="checkbox" name={ "scope." (scope.as_str()) }; " " (scope.as_str()) }
                        }
                    }
                    label for="expires" { "Expires after " span.hint { "(days; empty: never)" } }
                    input #expires name="expires_in_days" type="number" min="1";
                    button type="submit" { "Create the key" }
                }
            }
        },
    )
}

// --- Keys --------------------------------------------------------------------------------------

/// `GET /console/admin/keys`.
pub(crate) async fn keys(State(state): State<AppState>, viewer: Viewer) -> Response {
    let context = viewer.context();
    match state.key_management.keys(&viewer.user.subject(), &context).await {
        Ok(listed) => {
            page(StatusCode::OK, keys_page(&viewer.user, &viewer.form_token, &listed, state.audit.now_ms() / 1000))
        }
        Err(error) => refused_page(&viewer, "Keys", &error),
    }
}

/// `GET /console/admin/keys/{name}`: versions, census and jobs.
pub(crate) async fn key(State(state): State<AppState>, viewer: Viewer, Path(name): Path<String>) -> Response {
    let context = viewer.context();
    match state.key_management.report(&viewer.user.subject(), &name, &context).await {
        Ok(report) => page(StatusCode::OK, key_page(&viewer.user, &viewer.form_token, &report, None)),
        Err(error) => refused_page(&viewer, "Key", &error),
    }
}

/// The form that rotates a key.
#[derive(Debug, Deserialize)]
pub(crate) struct RotateForm {
    #[serde(default)]
    form_token: String,
}

/// `POST /console/admin/keys/{name}/rotate`.
pub(crate) async fn rotate_key(
    State(state): State<AppState>,
    origin: RequestOrigin,
    headers: HeaderMap,
    Path(name): Path<String>,
    Form(form): Form<RotateForm>,
) -> Response {
    let viewer = match form_viewer(&state, origin, &headers, &form.form_token).await {
        Ok(viewer) => viewer,
        Err(refused) => return refused,
    };
    let context = viewer.context();
    match state.key_management.rotate(&viewer.user.subject(), &name, &context).await {
        Ok(report) => {
            let done = Notice::Done(format!("Rotated: version {} is now current.", report.info.latest_version));
            page(StatusCode::OK, key_page(&viewer.user, &viewer.form_token, &report, Some(&done)))
        }
        Err(error) => refused_page(&viewer, "Key", &error),
    }
}

fn keys_page(user: &UserPrincipal, form_token: &str, listed: &[KeyInfo], now: i64) -> Markup {
    frame(
        "Keys",
        Some((&user.username, form_token)),
        html! {
            h1 { "Keys" }
            section.card {
                table {
                    thead {
                        tr {
                            th scope="col" { "Key" }
                            th scope="col" { "Purpose" }
                            th scope="col" { "State" }
                            th scope="col" { "Version" }
                            th scope="col" { "Rotation" }
                        }
                    }
                    tbody {
                        @for key in listed {
                            tr {
                                td data-label="Key" { a href={ "/console/admin/keys/" (key.name) } { (key.name) } }
                                td data-label="Purpose" { (key.purpose.as_str()) }
                                td data-label="State" { span class={ "status " (key.state.as_str()) } { (key.state.as_str()) } }
                                td data-label="Version" { (key.latest_version) }
                                td data-label="Rotation" {
                                    @if key.rotation_due(now) { span.bad { "due" } }
                                    @else if let Some(period) = key.rotation_period_seconds { "every " (period / 86_400) " days" }
                                    @else { "by hand" }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

fn key_page(user: &UserPrincipal, form_token: &str, report: &KeyReport, shown: Option<&Notice>) -> Markup {
    let info = &report.info;
    frame(
        &info.name,
        Some((&user.username, form_token)),
        html! {
            h1 { "Key " (info.name) }
            p { a href="/console/admin/keys" { "All keys" } }
            (notice(shown))
            section.card {
                dl {
                    dt { "Purpose" } dd { (info.purpose.as_str()) }
                    dt { "Algorithm" } dd { (info.algorithm.as_str()) }
                    dt { "State" } dd { (info.state.as_str()) }
                    dt { "Current version" } dd { (info.latest_version) }
                    dt { "Oldest version that decrypts" } dd { (info.min_decryption_version) }
                    dt { "Census" } dd { (report.census) }
                }
                form method="post" action={ "/console/admin/keys/" (info.name) "/rotate" } {
                    input type="hidden" name="form_token" value=(form_token);
                    button type="submit" { "Rotate now" }
                }
            }
            section.card aria-labelledby="versions" {
                h2 #versions { "Versions" }
                table {
                    thead { tr { th scope="col" { "Version" } th scope="col" { "Created" } th scope="col" { "Still protects" } } }
                    tbody {
                        @for version in &report.versions {
                            tr {
                                td data-label="Version" { (version.version) }
                                td.time data-label="Created" { (when(version.created_at)) }
                                td data-label="Still protects" {
                                    @match &version.census {
                                        Some(census) => { (census.data_keys) " data keys, " (census.ciphertexts) " values" }
                                        None => { "not counted" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section.card aria-labelledby="jobs" {
                h2 #jobs { "Jobs" }
                @if report.jobs.is_empty() { p { "None." } }
                ul {
                    @for job in &report.jobs {
                        li {
                            strong { (job.kind.as_str()) } " " (job.state.as_str()) ": " (job.done) " of " (job.total)
                            " (" (job.percent()) " %)"
                            @if let Some(error) = &job.error { " " span.bad { (error) } }
                            span.hint { " started " (when(job.created_at)) }
                        }
                    }
                }
            }
        },
    )
}
