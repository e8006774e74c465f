//! The console: server-rendered pages for operators and reviewers under
//! `/console`, beside the API and on its use cases (docs/console.md).
//!
//! What every page keeps to:
//! - Its own headers: a CSP that allows only this server's stylesheet and
//!   nothing inline (no script at all yet), no caching, no framing.
//! - A browser holds a session through one cookie, `__Host-strongroom`
//!   (`Secure`, `HttpOnly`, `SameSite=Strict`, `Path=/`), which names a
//!   session of the identity service ([`Identity::browser_cookie`]): the
//!   session's revocation, idle and absolute ends govern it.
//! - Every form that changes something carries the session's form token,
//!   and every POST must come from this origin (`Origin`, or
//!   `Sec-Fetch-Site: same-origin`): a cross-site request is refused before
//!   anything is done with it.
//!
//! [`Identity::browser_cookie`]: strongroom_core::identity::Identity::browser_cookie

mod access;
mod admin;
mod audit;
mod governance;
mod pages;
mod passkeys;
mod records;

use axum::extract::{Form, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use strongroom_core::CoreError;
use strongroom_core::audit::Actor;
use strongroom_core::identity::{LoginOutcome, UserPrincipal};

use crate::AppState;
use crate::auth::RequestOrigin;

/// The cookie that holds a browser's session.
pub(crate) const SESSION_COOKIE: &str = "__Host-strongroom";

/// The console's CSP: this server's stylesheet, script (passkeys only) and
/// media, calls back to it, and nothing else; nothing inline, forms only to
/// this origin, never in a frame.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The stylesheet, served from the binary.
const STYLESHEET: &str = include_str!("console.css");

/// The one script (passkeys), served from the binary.
const SCRIPT: &str = include_str!("console.js");

/// The icon (a browser asks for `/favicon.ico` on every page otherwise).
const FAVICON: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 16 16\">\
                       <rect width=\"16\" height=\"16\" rx=\"3\" fill=\"#1f5fbf\"/>\
                       <rect x=\"4\" y=\"7\" width=\"8\" height=\"6\" fill=\"#fff\"/>\
                       <path d=\"M5.5 7V5.5a2.5 2.5 0 0 1 5 0V7\" stroke=\"#fff\" fill=\"none\" stroke-width=\"1.5\"/></svg>";

/// The console's routes, on the application's state.
pub(crate) fn routes() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/console", get(overview))
        .route("/console/login", get(login_page).post(login))
        .route("/console/logout", post(logout))
        .route("/console/sessions", get(sessions))
        .route("/console/sessions/revoke", post(revoke_session))
        .route("/console/access-requests", get(access::list))
        .route("/console/access-requests/new", post(access::ask))
        .route("/console/access-requests/decide", post(access::decide))
        .route("/console/records", get(records::collections))
        .route("/console/records/{collection}", get(records::records))
        .route("/console/records/{collection}/{id}", get(records::record))
        .route("/console/records/{collection}/{id}/decrypt", post(records::decrypt))
        .route("/console/records/{collection}/{id}/blobs/{field}", get(records::blob))
        .route("/console/audit", get(audit::explorer))
        .route("/console/audit/{index}", get(audit::event))
        .route("/console/audit/{index}/proof", get(audit::proof))
        .route("/console/admin", get(admin::index))
        .route("/console/admin/matters", get(governance::matters).post(governance::create_matter))
        .route("/console/admin/matters/{id}", get(governance::matter).post(governance::matter_action))
        .route("/console/admin/roles", get(governance::roles))
        .route("/console/admin/policies", get(governance::policies).post(governance::save_policies))
        .route("/console/admin/users", get(admin::users))
        .route("/console/admin/users/new", post(admin::create_user))
        .route("/console/admin/users/{id}", get(admin::user).post(admin::user_action))
        .route("/console/admin/api-keys", get(admin::api_keys).post(admin::api_key_action))
        .route("/console/admin/keys", get(admin::keys))
        .route("/console/admin/keys/{name}", get(admin::key))
        .route("/console/admin/keys/{name}/rotate", post(admin::rotate_key))
        .route("/console/passkeys", get(passkeys::list))
        .route("/console/passkeys/options", post(passkeys::registration_options))
        .route("/console/passkeys/register", post(passkeys::register))
        .route("/console/passkeys/remove", post(passkeys::remove))
        .route("/console/login/passkey/options", post(passkeys::sign_in_options))
        .route("/console/login/passkey", post(passkeys::sign_in))
        .route("/console/step-up", post(step_up))
        .route("/console/step-up/passkey/options", post(passkeys::step_up_options))
        .route("/console/step-up/passkey", post(passkeys::step_up))
        .route("/console/console.css", get(stylesheet))
        .route("/console/console.js", get(script))
        .route("/console/favicon.svg", get(favicon))
}

/// An HTML page with the console's headers.
fn page(status: StatusCode, markup: maud::Markup) -> Response {
    let mut response = (status, markup.into_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A redirect after a form (303, so the browser follows with a GET).
fn see_other(to: &'static str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    response.headers_mut().insert(LOCATION, HeaderValue::from_static(to));
    response.headers_mut().insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    response
}

/// Sets the session cookie to `value`, or with `None` tells the browser to drop it.
fn put_cookie(response: &mut Response, value: Option<&str>) {
    let cookie = match value {
        Some(value) => format!("{SESSION_COOKIE}={value}; Path=/; Secure; HttpOnly; SameSite=Strict"),
        None => format!("{SESSION_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0"),
    };
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(SET_COOKIE, value);
    }
}

/// To the sign-in page, the cookie dropped: the session has ended.
fn signed_out() -> Response {
    let mut response = see_other("/console/login");
    put_cookie(&mut response, None);
    response
}

/// The session cookie's value, if the request carries one.
fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(SESSION_COOKIE)?.strip_prefix('='))
        .filter(|value| !value.is_empty())
}

/// Whether a POST comes from a page of this origin. Browsers send `Origin`
/// with every POST and `Sec-Fetch-Site` with every request; a request with
/// neither is not a browser's form (and gets no cookie-borne session).
fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return site == "same-origin";
    }
    let origin = headers.get("origin").and_then(|v| v.to_str().ok());
    let host = headers.get("host").and_then(|v| v.to_str().ok());
    match (origin, host) {
        (Some(origin), Some(host)) => {
            origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://")) == Some(host)
        }
        _ => false,
    }
}

/// The signed-in user of a request, if its cookie names a live session.
async fn signed_in(state: &AppState, origin: &RequestOrigin, headers: &HeaderMap) -> Option<UserPrincipal> {
    let cookie = session_cookie(headers)?;
    state.identity.authenticate_browser(cookie, &origin.context(Actor::anonymous())).await.ok()
}

/// The signed-in user of a page and the form token its forms carry;
/// otherwise the answer to send (to the sign-in page).
async fn page_user(
    state: &AppState,
    origin: &RequestOrigin,
    headers: &HeaderMap,
) -> Result<(UserPrincipal, String), Response> {
    let Some(user) = signed_in(state, origin, headers).await else {
        return Err(see_other("/console/login"));
    };
    match state.identity.form_token(&user.session_id).await {
        Ok(form_token) => Ok((user, form_token)),
        Err(error) => Err(failure(&error)),
    }
}

/// A signed-in page request: who, the form token the page's forms carry,
/// and where the request came from (for the audit context). Without a live
/// session it is rejected with the way to the sign-in page.
pub(crate) struct Viewer {
    user: UserPrincipal,
    form_token: String,
    origin: RequestOrigin,
}

impl Viewer {
    /// The audit context of what this viewer does.
    fn context(&self) -> strongroom_core::audit::AuditContext {
        self.origin.context(self.user.actor())
    }
}

/// The viewer of a form that changes something: from this origin, with a
/// live session and the form token the form carried (which the page it
/// answers with carries on).
async fn form_viewer(
    state: &AppState,
    origin: RequestOrigin,
    headers: &HeaderMap,
    form_token: &str,
) -> Result<Viewer, Response> {
    let user = form_user(state, &origin, headers, form_token).await?;
    Ok(Viewer { user, form_token: form_token.to_owned(), origin })
}

impl axum::extract::FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &AppState) -> Result<Self, Response> {
        let origin = RequestOrigin::from_parts(parts, state);
        let (user, form_token) = page_user(state, &origin, &parts.headers).await?;
        Ok(Self { user, form_token, origin })
    }
}

/// `GET /console`: the overview, or the way to sign in.
pub(crate) async fn overview(State(state): State<AppState>, viewer: Viewer) -> Response {
    let Viewer { user, form_token, origin } = viewer;
    let context = origin.context(user.actor());
    let subject = user.subject();
    let account = match state.user_management.me(&subject, &context).await {
        Ok(account) => account,
        Err(error) => return failure(&error),
    };
    // The audit figures are for those who may read the log; asking for them
    // otherwise would record a denial at every page view.
    let reads_audit = account.permissions.service.contains(&strongroom_core::authz::Action::AuditRead);
    let stats = if reads_audit {
        match state.audit_reader.stats(&subject, &context).await {
            Ok(stats) => Some(stats),
            Err(error) => return failure(&error),
        }
    } else {
        None
    };
    let alerts = if reads_audit { state.audit_reader.alerts(&subject, &context).await.ok() } else { None };
    let passkeys = match state.identity.passkeys(&user).await {
        Ok(passkeys) => passkeys.len(),
        Err(error) => return failure(&error),
    };
    let now_ms = state.audit.now_ms();
    let shown =
        pages::Overview { account: &account, passkeys, stats: stats.as_ref(), alerts: alerts.as_deref(), now_ms };
    page(StatusCode::OK, pages::overview(&shown, &form_token))
}

/// What a refused page or form says, and its status: the console's one
/// mapping of the use cases' refusals. `None` for a dependency's fault,
/// which gets the failure page.
fn refusal(error: &CoreError) -> Option<(StatusCode, String)> {
    Some(match error {
        CoreError::InvalidInput(why) => (StatusCode::BAD_REQUEST, why.clone()),
        CoreError::Conflict(why) => (StatusCode::CONFLICT, why.clone()),
        CoreError::InvalidPolicy(errors) => {
            (StatusCode::BAD_REQUEST, format!("{} errors in the policies", errors.0.len()))
        }
        CoreError::Denied(_) | CoreError::Forbidden(_) => {
            (StatusCode::FORBIDDEN, "Refused: your role does not allow this. The refusal is recorded.".into())
        }
        CoreError::NotFound(why) | CoreError::KeyNotFound(why) => (StatusCode::NOT_FOUND, why.clone()),
        _ => return None,
    })
}

/// A page that only says why something was refused (or the failure page).
fn refused_page(viewer: &Viewer, title: &str, error: &CoreError) -> Response {
    match refusal(error) {
        Some((status, message)) => page(
            status,
            pages::frame(
                title,
                Some((&viewer.user.username, &viewer.form_token)),
                maud::html! { h1 { (title) } p.error role="alert" { (message) } },
            ),
        ),
        None => failure(error),
    }
}

/// A page for an error of the server's (a dependency down), without details.
fn failure(error: &CoreError) -> Response {
    tracing::warn!(%error, "a console page could not be rendered");
    page(StatusCode::SERVICE_UNAVAILABLE, pages::failure())
}

/// `GET /console/login`.
pub(crate) async fn login_page(State(state): State<AppState>, origin: RequestOrigin, headers: HeaderMap) -> Response {
    if signed_in(&state, &origin, &headers).await.is_some() {
        return see_other("/console");
    }
    page(StatusCode::OK, pages::login(None, None))
}

/// The sign-in form: a password, then (for an account with a second
/// factor) the code, carried with the challenge the password step gave.
#[derive(Debug, Deserialize)]
pub(crate) struct SignIn {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    /// A TOTP or recovery code, when the account has a second factor.
    #[serde(default)]
    code: String,
    /// The challenge of the password step (the second step's form).
    #[serde(default)]
    challenge: String,
}

/// `POST /console/login`: signs in and sets the cookie.
pub(crate) async fn login(
    State(state): State<AppState>,
    origin: RequestOrigin,
    headers: HeaderMap,
    Form(form): Form<SignIn>,
) -> Response {
    if !same_origin(&headers) {
        return page(StatusCode::FORBIDDEN, pages::refused());
    }
    let context = origin.context(Actor::anonymous());
    let tokens = if form.challenge.is_empty() {
        match state.identity.login(&form.username, &form.password, &context).await {
            Ok(LoginOutcome::Tokens(tokens)) => Ok(tokens),
            Ok(LoginOutcome::MfaRequired { mfa_token, .. }) if form.code.trim().is_empty() => {
                return page(StatusCode::OK, pages::login(Some(mfa_token.expose()), None));
            }
            Ok(LoginOutcome::MfaRequired { mfa_token, .. }) => {
                state.identity.complete_mfa(mfa_token.expose(), &form.code, &context).await
            }
            Ok(_) => {
                return page(
                    StatusCode::OK,
                    pages::login(None, Some("This account must enrol a second factor first (POST /v1/auth/login).")),
                );
            }
            Err(error) => Err(error),
        }
    } else {
        state.identity.complete_mfa(&form.challenge, &form.code, &context).await
    };
    let tokens = match tokens {
        Ok(tokens) => tokens,
        Err(CoreError::LoginFailed | CoreError::Unauthenticated) => {
            return page(StatusCode::UNAUTHORIZED, pages::login(None, Some("Wrong username, password or code.")));
        }
        Err(CoreError::TooManyAttempts { retry_after_seconds }) => {
            let message = format!("Too many failed attempts; try again in {retry_after_seconds} seconds.");
            return page(StatusCode::TOO_MANY_REQUESTS, pages::login(None, Some(&message)));
        }
        Err(error) => return failure(&error),
    };
    // The session's user, as the identity service knows it.
    let user = match state.identity.session(&tokens.session_id).await {
        Ok(session) => session.user_id,
        Err(error) => return failure(&error),
    };
    let cookie = match state.identity.browser_cookie(&tokens.session_id, &user).await {
        Ok(cookie) => cookie,
        Err(error) => return failure(&error),
    };
    let mut response = see_other("/console");
    put_cookie(&mut response, Some(&cookie));
    response
}

/// The form of an action on one's own session.
#[derive(Debug, Deserialize)]
pub(crate) struct SessionForm {
    #[serde(default)]
    form_token: String,
}

/// `POST /console/logout`: ends the session (for every tab and instance).
pub(crate) async fn logout(
    State(state): State<AppState>,
    origin: RequestOrigin,
    headers: HeaderMap,
    Form(form): Form<SessionForm>,
) -> Response {
    let user = match form_user(&state, &origin, &headers, &form.form_token).await {
        Ok(user) => user,
        Err(refused) => return refused,
    };
    let context = origin.context(user.actor());
    match state.identity.revoke_session(&user.session_id, "logout", &context).await {
        Ok(()) => signed_out(),
        Err(error) => failure(&error),
    }
}

/// `GET /console/sessions`: the signed-in user's live sessions, each with
/// where it was opened, and a way to end it.
pub(crate) async fn sessions(State(state): State<AppState>, viewer: Viewer) -> Response {
    let Viewer { user, form_token, origin } = viewer;
    let context = origin.context(user.actor());
    let listed = match state.user_management.sessions(&user.subject(), None, &context).await {
        Ok(listed) => listed,
        Err(error) => return failure(&error),
    };
    page(StatusCode::OK, pages::sessions(&user.username, &listed, &user.session_id, &form_token))
}

/// The form that ends one session.
#[derive(Debug, Deserialize)]
pub(crate) struct RevokeForm {
    #[serde(default)]
    form_token: String,
    #[serde(default)]
    session: String,
}

/// `POST /console/sessions/revoke`: ends one of the user's sessions (this
/// one signs the browser out).
pub(crate) async fn revoke_session(
    State(state): State<AppState>,
    origin: RequestOrigin,
    headers: HeaderMap,
    Form(form): Form<RevokeForm>,
) -> Response {
    let user = match form_user(&state, &origin, &headers, &form.form_token).await {
        Ok(user) => user,
        Err(refused) => return refused,
    };
    let context = origin.context(user.actor());
    match state.user_management.revoke_session(&user.subject(), &form.session, &context).await {
        Ok(()) if form.session == user.session_id => signed_out(),
        Ok(()) => see_other("/console/sessions"),
        Err(CoreError::NotFound(_) | CoreError::Forbidden(_) | CoreError::Denied(_)) => {
            page(StatusCode::NOT_FOUND, pages::refused())
        }
        Err(error) => failure(&error),
    }
}

/// The step-up form: a current TOTP code, and the page to go back to.
#[derive(Debug, Deserialize)]
pub(crate) struct StepUpForm {
    #[serde(default)]
    form_token: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    back: String,
}

/// `POST /console/step-up`: a recent second factor proven with a TOTP code
/// (as `POST /v1/auth/step-up`), then back to the page that asked for it.
pub(crate) async fn step_up(
    State(state): State<AppState>,
    origin: RequestOrigin,
    headers: HeaderMap,
    Form(form): Form<StepUpForm>,
) -> Response {
    let user = match form_user(&state, &origin, &headers, &form.form_token).await {
        Ok(user) => user,
        Err(refused) => return refused,
    };
    let context = origin.context(user.actor());
    match state.user_management.step_up(&user.subject(), &form.code, &context).await {
        Ok(_) => {
            // Back to a page of the console only.
            let back = Some(form.back.as_str()).filter(|b| b.starts_with("/console/") && !b.contains("//"));
            let mut response = StatusCode::SEE_OTHER.into_response();
            if let Ok(location) = HeaderValue::from_str(back.unwrap_or("/console")) {
                response.headers_mut().insert(LOCATION, location);
            }
            response
        }
        Err(CoreError::InvalidInput(_)) => {
            page(StatusCode::BAD_REQUEST, pages::step_up_refused(&user.username, &form.form_token, &form.back))
        }
        Err(error) => failure(&error),
    }
}

/// The signed-in user of a form that changes something: from this origin,
/// with a live session and its form token; otherwise the answer to send.
async fn form_user(
    state: &AppState,
    origin: &RequestOrigin,
    headers: &HeaderMap,
    form_token: &str,
) -> Result<UserPrincipal, Response> {
    if !same_origin(headers) {
        return Err(page(StatusCode::FORBIDDEN, pages::refused()));
    }
    let Some(user) = signed_in(state, origin, headers).await else {
        return Err(see_other("/console/login"));
    };
    match state.identity.check_form_token(&user.session_id, form_token).await {
        Ok(true) => Ok(user),
        Ok(false) => Err(page(StatusCode::FORBIDDEN, pages::refused())),
        Err(error) => Err(failure(&error)),
    }
}

/// `GET /console/console.css`.
pub(crate) async fn stylesheet() -> Response {
    asset(STYLESHEET, "text/css; charset=utf-8")
}

/// `GET /console/console.js`.
pub(crate) async fn script() -> Response {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

/// `GET /console/favicon.svg`.
pub(crate) async fn favicon() -> Response {
    asset(FAVICON, "image/svg+xml")
}

/// A file served from the binary, cached for an hour.
fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    response
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderMap;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn the_session_cookie_is_found_among_others_and_an_empty_one_is_none() {
        let map = headers(&[("cookie", "a=1; __Host-strongroom=s.u.ff; b=2")]);
        assert_eq!(session_cookie(&map), Some("s.u.ff"));
        assert_eq!(session_cookie(&headers(&[("cookie", "__Host-strongroom=")])), None);
        assert_eq!(session_cookie(&headers(&[("cookie", "__Host-strongroomx=1")])), None);
        assert_eq!(session_cookie(&HeaderMap::new()), None);
    }

    #[test]
    fn a_post_must_come_from_this_origin() {
        assert!(same_origin(&headers(&[("sec-fetch-site", "same-origin")])));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "cross-site"), ("origin", "http://h"), ("host", "h")])));
        assert!(same_origin(&headers(&[("origin", "http://127.0.0.1:8080"), ("host", "127.0.0.1:8080")])));
        assert!(!same_origin(&headers(&[("origin", "https://evil.example"), ("host", "127.0.0.1:8080")])));
        assert!(!same_origin(&headers(&[("host", "127.0.0.1:8080")])), "neither header: not a browser's form");
    }
}
