//! Extractors whose rejections are problems, not axum's plain-text answers.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;

use crate::{ApiError, strict_json};

/// A JSON body whose failures are [`ApiError`]s: 400 `malformed_json` for bad
/// syntax, 400 `invalid_request` for a wrong shape (naming the field; an array
/// where an object belongs is one, see [`strict_json`]), 415 for a missing
/// content type, 413 for an oversized body.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !json_content_type(request.headers()) {
            return Err(ApiError::UnsupportedMediaType("send the body with Content-Type: application/json".into()));
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::MalformedJson(rejection.body_text())
            }
        })?;
        strict_json::from_slice(&bytes).map(Self)
    }
}

/// `application/json` or any `application/*+json`, parameters allowed (as axum's `Json`).
fn json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence
        .strip_prefix("application/")
        .is_some_and(|subtype| subtype == "json" || (subtype.ends_with("+json") && subtype.len() > "+json".len()))
}

/// Parses a JSON body leniently, as Vault does and for optional bodies: an
/// empty body, or `null` (what `vault write -f` sends), is the default
/// request, and no `Content-Type` is required.
pub(crate) fn lenient_json<T: DeserializeOwned + Default>(bytes: &Bytes) -> Result<T, ApiError> {
    if bytes.trim_ascii().is_empty() || bytes.trim_ascii() == b"null" {
        return Ok(T::default());
    }
    strict_json::from_slice(bytes)
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
        assert!(matches!(lenient_json::<Body>(&Bytes::from("[2]")), Err(ApiError::InvalidRequest(_))));
    }

    #[test]
    fn json_and_json_suffixed_content_types_are_json() {
        for (value, json) in [
            ("application/json", true),
            ("Application/JSON; charset=utf-8", true),
            ("application/merge-patch+json", true),
            ("application/+json", false),
            ("text/json", false),
            ("application/jsonp", false),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, value.parse().unwrap());
            assert_eq!(json_content_type(&headers), json, "{value}");
        }
        assert!(!json_content_type(&HeaderMap::new()));
    }
}
