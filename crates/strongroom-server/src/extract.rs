//! Extractors whose rejections are problems, not axum's plain-text answers.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::ApiError;

/// `axum::Json` whose failures are [`ApiError`]s: 400 `malformed_json` for bad
/// syntax, 400 `invalid_request` for a wrong shape (naming the field), 415 for
/// a missing content type, 413 for an oversized body.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Json(value) = Json::<T>::from_request(request, state).await?;
        Ok(Self(value))
    }
}

/// Parses a JSON body leniently, as Vault does and for optional bodies: an
/// empty body is the default request, and no `Content-Type` is required.
pub(crate) fn lenient_json<T: DeserializeOwned + Default>(bytes: &Bytes) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => ApiError::InvalidRequest(e.to_string()),
        _ => ApiError::MalformedJson(e.to_string()),
    })
}
