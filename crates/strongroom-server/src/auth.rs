//! Who is calling. For now the only principals are API keys (users and
//! sessions arrive with the identity issue); a route that needs one takes
//! [`ApiKeyAuth`] as an argument, so forgetting it means the route has no
//! principal to pass on, and every use states its scope at its first line.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use strongroom_core::ApiKeyPrincipal;

use crate::{ApiError, AppState};

/// Headers that may carry an API key: our own, Vault's (so Vault clients
/// work unchanged) and the standard bearer header.
const API_KEY_HEADERS: [&str; 2] = ["x-api-key", "x-vault-token"];

/// An authenticated API key; rejects the request with 401 otherwise.
#[derive(Debug, Clone)]
pub struct ApiKeyAuth(pub ApiKeyPrincipal);

impl FromRequestParts<AppState> for ApiKeyAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let headers = &parts.headers;
        let from_key_headers = API_KEY_HEADERS.iter().find_map(|name| headers.get(*name));
        let from_bearer = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "));
        let presented = match (from_key_headers.and_then(|v| v.to_str().ok()), from_bearer) {
            (Some(key), _) => key,
            (None, Some(bearer)) => bearer,
            (None, None) => return Err(ApiError::Unauthenticated),
        };
        let principal = state.api_keys.authenticate(presented.trim()).await?;
        Ok(Self(principal))
    }
}
