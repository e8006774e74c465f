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
/// empty body, or `null` (what `vault write -f` sends), is the default
/// request, and no `Content-Type` is required.
pub(crate) fn lenient_json<T: DeserializeOwned + Default>(bytes: &Bytes) -> Result<T, ApiError> {
    if bytes.trim_ascii().is_empty() || bytes.trim_ascii() == b"null" {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => ApiError::InvalidRequest(e.to_string()),
        _ => ApiError::MalformedJson(e.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, serde::Deserialize, PartialEq)]
    struct Body {
        #[serde(default)]
        n: Option<u32>,
    }

    #[test]
    fn an_empty_or_null_body_is_the_default_and_a_wrong_one_is_refused() {
        for empty in ["", "  \n", "null", " null\n"] {
            assert_eq!(lenient_json::<Body>(&Bytes::from(empty)).unwrap(), Body::default(), "{empty:?}");
        }
        assert_eq!(lenient_json::<Body>(&Bytes::from(r#"{"n": 2}"#)).unwrap(), Body { n: Some(2) });
        assert!(matches!(lenient_json::<Body>(&Bytes::from("nul")), Err(ApiError::MalformedJson(_))));
        assert!(matches!(lenient_json::<Body>(&Bytes::from(r#""text""#)), Err(ApiError::InvalidRequest(_))));
    }
}
