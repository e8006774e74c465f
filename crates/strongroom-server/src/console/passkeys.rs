//! Passkeys in the console: register, list and remove them on
//! `/console/passkeys`, and sign in with one on the sign-in page. The
//! ceremonies are the identity service's; this module carries them between
//! the browser (`console.js`, the console's one script) and the service as
//! JSON, and answers failures as RFC 9457 problems.
//!
//! Every JSON call must come from this origin; those of a signed-in user
//! also carry the session's form token (`X-Form-Token`), as forms do.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};
use strongroom_core::CoreError;
use strongroom_core::audit::Actor;
use strongroom_core::identity::{PasskeyView, RelyingParty, UserPrincipal};

use super::pages::{frame, when};
use super::{Viewer, failure, form_user, page, put_cookie, same_origin, see_other, signed_in};
use crate::auth::RequestOrigin;
use crate::{ApiError, AppState};

/// The relying party of this request: `server.public_origin`, or on a
/// development server opened as `http://localhost:<port>`, that origin.
fn relying_party(state: &AppState, headers: &HeaderMap) -> Option<RelyingParty> {
    if let Some(origin) = &state.http.public_origin {
        return RelyingParty::from_origin(origin).ok();
    }
    let host = headers.get("host").and_then(|v| v.to_str().ok())?;
    let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
    if name != "localhost" {
        return None;
    }
    let scheme = if state.http.https { "https" } else { "http" };
    RelyingParty::from_origin(&format!("{scheme}://{host}")).ok()
}

/// Why passkeys cannot be used from this address, for the page.
const NO_RELYING_PARTY: &str = "Passkeys need the console's address: set server.public_origin \
                                (on a development server, open the console as http://localhost:<port>).";

/// A refusal of a JSON call, as a problem.
fn problem(error: ApiError) -> Response {
    error.into_response()
}

/// The signed-in user of a JSON call: same origin, a live session, its form token.
async fn json_user(state: &AppState, origin: &RequestOrigin, headers: &HeaderMap) -> Result<UserPrincipal, Response> {
    if !same_origin(headers) {
        return Err(problem(ApiError::Forbidden("not from a page of this console".into())));
    }
    let Some(user) = signed_in(state, origin, headers).await else {
        return Err(problem(ApiError::Unauthenticated));
    };
    let token = headers.get("x-form-token").and_then(|v| v.to_str().ok()).unwrap_or_default();
    match state.identity.check_form_token(&user.session_id, token).await {
        Ok(true) => Ok(user),
        Ok(false) => Err(problem(ApiError::Forbidden("the form token is missing or wrong".into()))),
        Err(error) => Err(problem(error.into())),
    }
}

/// `GET /console/passkeys`: the user's passkeys, a way to add one, and to remove each.
pub(crate) async fn list(State(state): State<AppState>, viewer: Viewer, headers: HeaderMap) -> Response {
    let Viewer { user, form_token, .. } = viewer;
    match state.identity.passkeys(&user).await {
        Ok(passkeys) => {
            let usable = relying_party(&state, &headers).is_some();
            page(StatusCode::OK, passkeys_page(&user, &passkeys, usable, &form_token))
        }
        Err(error) => failure(&error),
    }
}

/// `POST /console/passkeys/options`: starts adding a passkey.
pub(crate) async fn registration_options(
    State(state): State<AppState>,
    origin: RequestOrigin,
    headers: HeaderMap,
) -> Response {
    let user = match json_user(&state, &origin, &headers).await {
        Ok(user) => user,
        Err(refused) => return refused,
    };
    let Some(party) = relying_party(&state, &headers) else {
        return problem(ApiError::InvalidRequest(NO_RELYING_PARTY.into()));
    };
    options(state.identity.start_passkey_registration(&user, &party).await)
}

/// A ceremony's options as JSON, or the problem.
fn options(started: Result<String, CoreError>) -> Response {
    match started.map(|text| serde_json::from_str::<Value>(&text)) {
        Ok(Ok(options)) => Json(options).into_response(),
        Ok(Err(_)) => problem(ApiError::InvalidRequest("passkey: the options could not be made".into())),
        Err(error) => problem(error.into()),
    }
}

/// The body of `POST /console/passkeys/register`.
#[derive(Debug, Deserialize)]
struct NewPasskey {
    #[serde(default)]
    name: String,
    /// `PublicKeyCredential.toJSON()`.
    credential: Value,
}

/// `POST /console/passkeys/register`: finishes adding a passkey.
pub(crate) async fn register(
    State(state): State<AppState>,
    origin: RequestOrigin,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let user = match json_user(&state, &origin, &headers).await {
        Ok(user) => user,
        Err(refused) => return refused,
    };
    let Some(party) = relying_party(&state, &headers) else {
        return problem(ApiError::InvalidRequest(NO_RELYING_PARTY.into()));
    };
    let Ok(new) = serde_json::from_slice::<NewPasskey>(&body) else {
        return problem(ApiError::MalformedJson("expected {\"name\": …, \"credential\": …}".into()));
    };
    let credential = new.credential.to_string();
    let context = origin.context(user.actor());
    match state.identity.finish_passkey_registration(&user, &party, credential.as_bytes(), &new.name, &context).await {
        Ok(added) => (StatusCode::CREATED, Json(json!({"id": added.id, "name": added.name}))).into_response(),
        Err(error) => problem(error.into()),
    }
}

/// The form that removes a passkey.
#[derive(Debug, Deserialize)]
pub(crate) struct RemoveForm {
    #[serde(default)]
    form_token: String,
    #[serde(default)]
    id: String,
}

/// `POST /console/passkeys/remove`.
pub(crate) async fn remove(
    State(state): State<AppState>,
    origin: RequestOrigin,
    headers: HeaderMap,
    Form(form): Form<RemoveForm>,
) -> Response {
    let user = match form_user(&state, &origin, &headers, &form.form_token).await {
        Ok(user) => user,
        Err(refused) => return refused,
    };
    let context = origin.context(user.actor());
    match state.identity.remove_passkey(&user, &form.id, &context).await {
        Ok(()) => see_other("/console/passkeys"),
        Err(CoreError::NotFound(_)) => page(StatusCode::NOT_FOUND, super::pages::refused()),
        Err(error) => failure(&error),
    }
}

/// `POST /console/step-up/passkey/options`: starts a step-up with a passkey.
pub(crate) async fn step_up_options(
    State(state): State<AppState>,
    origin: RequestOrigin,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = json_user(&state, &origin, &headers).await {
        return refused;
    }
    let Some(party) = relying_party(&state, &headers) else {
        return problem(ApiError::InvalidRequest(NO_RELYING_PARTY.into()));
    };
    options(state.identity.start_passkey_sign_in(&party).await)
}

/// `POST /console/step-up/passkey`: a recent second factor proven with one
/// of the user's passkeys, for actions that ask for one (a decrypt under
/// the production profiles). Answers where to go back to.
pub(crate) async fn step_up(
    State(state): State<AppState>,
    origin: RequestOrigin,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let user = match json_user(&state, &origin, &headers).await {
        Ok(user) => user,
        Err(refused) => return refused,
    };
    let Some(party) = relying_party(&state, &headers) else {
        return problem(ApiError::InvalidRequest(NO_RELYING_PARTY.into()));
    };
    let context = origin.context(user.actor());
    match state.identity.step_up_with_passkey(&user, &party, &body, &context).await {
        Ok(at) => Json(json!({"mfa_time": at})).into_response(),
        Err(error) => problem(error.into()),
    }
}

/// `POST /console/login/passkey/options`: starts a sign-in with a passkey.
pub(crate) async fn sign_in_options(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if !same_origin(&headers) {
        return problem(ApiError::Forbidden("not from a page of this console".into()));
    }
    let Some(party) = relying_party(&state, &headers) else {
        return problem(ApiError::InvalidRequest(NO_RELYING_PARTY.into()));
    };
    options(state.identity.start_passkey_sign_in(&party).await)
}

/// `POST /console/login/passkey`: finishes a sign-in (the body is
/// `PublicKeyCredential.toJSON()`); sets the cookie and says where to go.
pub(crate) async fn sign_in(
    State(state): State<AppState>,
    origin: RequestOrigin,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !same_origin(&headers) {
        return problem(ApiError::Forbidden("not from a page of this console".into()));
    }
    let Some(party) = relying_party(&state, &headers) else {
        return problem(ApiError::InvalidRequest(NO_RELYING_PARTY.into()));
    };
    let context = origin.context(Actor::anonymous());
    let tokens = match state.identity.finish_passkey_sign_in(&party, &body, &context).await {
        Ok(tokens) => tokens,
        Err(error) => return problem(error.into()),
    };
    let cookie = match state.identity.session(&tokens.session_id).await {
        Ok(session) => state.identity.browser_cookie(&tokens.session_id, &session.user_id).await,
        Err(error) => Err(error),
    };
    match cookie {
        Ok(cookie) => {
            let mut response = Json(json!({"location": "/console"})).into_response();
            put_cookie(&mut response, Some(&cookie));
            response
        }
        Err(error) => problem(error.into()),
    }
}

fn passkeys_page(user: &UserPrincipal, passkeys: &[PasskeyView], usable: bool, form_token: &str) -> Markup {
    frame(
        "Passkeys",
        Some((&user.username, form_token)),
        html! {
            h1 { "Passkeys" }
            p {
                "A passkey signs you in without a password. It counts as your second factor, "
                "so it also serves where a recent second factor is asked for."
            }
            section.card aria-labelledby="yours" {
                h2 #yours { "Your passkeys" }
                @if passkeys.is_empty() { p { "None yet." } }
                ul.passkeys {
                    @for passkey in passkeys {
                        li {
                            strong { (passkey.name) }
                            span.hint {
                                " added " (when(passkey.created_at))
                                @match passkey.last_used_at {
                                    Some(used) => { ", last used " (when(used)) }
                                    None => { ", not used yet" }
                                }
                            }
                            form.inline method="post" action="/console/passkeys/remove" {
                                input type="hidden" name="form_token" value=(form_token);
                                input type="hidden" name="id" value=(passkey.id);
                                button.secondary type="submit" aria-label={ "Remove " (passkey.name) } { "Remove" }
                            }
                        }
                    }
                }
            }
            section.card aria-labelledby="add" {
                h2 #add { "Add a passkey" }
                @if usable {
                    noscript { p { "Adding a passkey needs JavaScript." } }
                    form.stack #passkey-add data-passkey="register" hidden {
                        label for="passkey-name" { "Name " span.hint { "(which device or key this is)" } }
                        input #passkey-name name="name" type="text" maxlength="64" required value="My passkey";
                        button type="submit" { "Add a passkey" }
                    }
                    p #passkey-status role="alert" hidden {}
                } @else {
                    p { (NO_RELYING_PARTY) }
                }
            }
        },
    )
}
