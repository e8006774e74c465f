//! Middleware every request passes through, outermost first:
//! request id and logging → problem finishing → security headers →
//! panic catching → timeout → the client address's rate limit
//! (`auth::limit_by_address`) → body limit → routes.
//!
//! Invariant: every answer with status ≥ 400 leaves [`finish_problems`] as an
//! `application/problem+json` body carrying the request id, whichever layer
//! (router, limit, timeout, panic handler) produced it; on Vault's paths the
//! same body, with Vault's `errors` added, as `application/json`.

use std::any::Any;
use std::time::Instant;

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use strongroom_proto::{PROBLEM_CONTENT_TYPE, Problem, ProblemCode};
use tracing::Instrument;

use crate::error::{internal_problem, problem_response};

/// The header that carries the request id in both directions.
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the current request, in the request's extensions.
#[derive(Debug, Clone)]
pub(crate) struct RequestId(pub(crate) String);

/// Accepts a caller's `X-Request-Id` when it is short and plain (so it cannot
/// forge log lines), otherwise makes a new one; runs the request inside a
/// tracing span carrying the id; echoes the id; logs the outcome. Only the
/// method, the path (never the query, which may hold tokens) and the status
/// are logged, never bodies or headers.
pub(crate) async fn request_id(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|value| is_plain_id(value))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    request.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path(),
    );
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| tracing::info!(status, elapsed_ms, "answered"));
    // Invariant: is_plain_id (or a UUID) guarantees a valid header value.
    let value = HeaderValue::from_str(&id).expect("request id is a valid header value");
    response.headers_mut().insert(REQUEST_ID, value);
    response
}

fn is_plain_id(value: &str) -> bool {
    (1..=128).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Members a handler adds to its problem body (`sys/health` adds Vault's
/// health members), put in the error response's extensions; they never
/// replace a problem member.
#[derive(Debug, Clone)]
pub(crate) struct ProblemMembers(pub(crate) serde_json::Map<String, serde_json::Value>);

/// Writes the problem body of every error answer, with the request id. On
/// Vault's paths (see [`speaks_vault`]) the body also carries Vault's
/// `errors` and is sent as `application/json`, the only type hvac reads
/// `errors` from; its members are the problem's all the same.
pub(crate) async fn finish_problems(request: Request, next: Next) -> Response {
    let request_id = request.extensions().get::<RequestId>().map(|id| id.0.clone());
    let vault = speaks_vault(request.uri().path());
    let response = next.run(request).await;
    let status = response.status();
    if !status.is_client_error() && !status.is_server_error() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let mut problem = match parts.extensions.remove::<Problem>() {
        Some(problem) => problem,
        // A problem already, or a console page (its errors are pages too).
        None if is_problem_json(&parts.headers) || is_html(&parts.headers) => return Response::from_parts(parts, body),
        None => problem_for_status(status),
    };
    problem.request_id = request_id;
    // Invariant: Problem contains only strings and numbers, which always serialise.
    let mut json =
        if vault { with_vault_errors(&problem) } else { serde_json::to_value(&problem) }.expect("problem serialises");
    if let (Some(ProblemMembers(extra)), Some(members)) =
        (parts.extensions.remove::<ProblemMembers>(), json.as_object_mut())
    {
        for (name, value) in extra {
            members.entry(name).or_insert(value);
        }
    }
    let content_type = if vault { "application/json" } else { PROBLEM_CONTENT_TYPE };
    parts.headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    parts.headers.remove(CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(json.to_string()))
}

/// Whether `path` is one of the Vault-compatible routes (transit, `sys/…`,
/// `auth/token/…`), whose error answers Vault's clients read. Vault's own
/// error body is `{"errors": ["…"]}`: its Go client, CLI and hvac show (or
/// raise with) that list, and show an empty one when it is missing.
pub(crate) fn speaks_vault(path: &str) -> bool {
    path == "/v1/transit" || ["/v1/transit/", "/v1/sys/", "/v1/auth/token/"].iter().any(|p| path.starts_with(p))
}

/// `problem` with Vault's `errors: ["<detail>"]` beside the RFC 9457
/// members, which stay as they are (clients of either kind read one body).
fn with_vault_errors(problem: &Problem) -> Result<serde_json::Value, serde_json::Error> {
    let mut json = serde_json::to_value(problem)?;
    if let Some(members) = json.as_object_mut() {
        // `errors` of invalid_policy (never a Vault route's) would be kept.
        members.entry("errors").or_insert_with(|| serde_json::json!([problem.detail]));
    }
    Ok(json)
}

fn is_problem_json(headers: &axum::http::HeaderMap) -> bool {
    headers.get(CONTENT_TYPE).is_some_and(|value| value.as_bytes() == PROBLEM_CONTENT_TYPE.as_bytes())
}

fn is_html(headers: &axum::http::HeaderMap) -> bool {
    headers.get(CONTENT_TYPE).is_some_and(|value| value.as_bytes().starts_with(b"text/html"))
}

/// A problem for an error answer that a lower layer produced without one.
fn problem_for_status(status: StatusCode) -> Problem {
    match status {
        StatusCode::NOT_FOUND => Problem::new(ProblemCode::NotFound, "no route matches this path"),
        StatusCode::METHOD_NOT_ALLOWED => Problem::new(
            ProblemCode::MethodNotAllowed,
            "this path does not accept this method; the Allow header lists those it does",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => Problem::new(
            ProblemCode::PayloadTooLarge,
            "the request body is larger than this server accepts (server.body_limit_bytes)",
        ),
        StatusCode::REQUEST_TIMEOUT => Problem::new(
            ProblemCode::RequestTimeout,
            "the request did not complete within server.request_timeout_seconds",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            Problem::new(ProblemCode::UnsupportedMediaType, "this route does not accept that content type")
        }
        status if status.is_server_error() => internal_problem(&format!("unexplained status {status}")),
        status => Problem::new(ProblemCode::BadRequest, format!("the request was refused ({status})")),
    }
}

/// Refuses a body whose declared `Content-Length` exceeds the limit before
/// reading any of it. Bodies without a length are cut off by
/// `DefaultBodyLimit` in the extractors, with the same 413 problem.
pub(crate) async fn refuse_declared_oversize(
    axum::extract::State(limit): axum::extract::State<usize>,
    request: Request,
    next: Next,
) -> Response {
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    match declared {
        // Blob uploads stream to storage with their field's own limit.
        Some(length) if length > limit as u64 && !is_blob_upload(&request) => {
            crate::ApiError::PayloadTooLarge.into_response()
        }
        _ => next.run(request).await,
    }
}

/// `PUT …/blobs/{name}`: streamed, so exempt from the body limit and the
/// request timeout (a gigabyte takes longer than an API call).
pub(crate) fn is_blob_upload(request: &Request) -> bool {
    request.method() == axum::http::Method::PUT && request.uri().path().contains("/blobs/")
}

/// Answers 408 when a request takes longer than `timeout`, except blob
/// uploads (see [`is_blob_upload`]); downloads are timed until their headers.
pub(crate) async fn time_limit(
    axum::extract::State(timeout): axum::extract::State<std::time::Duration>,
    request: Request,
    next: Next,
) -> Response {
    if is_blob_upload(&request) {
        return next.run(request).await;
    }
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => axum::http::StatusCode::REQUEST_TIMEOUT.into_response(),
    }
}

/// The answer when a handler panics: a logged, opaque internal problem.
pub(crate) fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a handler panicked".to_owned());
    problem_response(internal_problem(&format!("panic: {message}")))
}

/// The fallback for paths no route matches.
pub(crate) async fn not_found(request: Request) -> Response {
    let detail = format!("no route for {} {}", request.method(), request.uri().path());
    problem_response(Problem::new(ProblemCode::NotFound, detail)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vault_paths_are_the_transit_sys_and_token_routes_only() {
        for path in ["/v1/transit", "/v1/transit/keys/k", "/v1/sys/health", "/v1/auth/token/lookup-self"] {
            assert!(speaks_vault(path), "{path}");
        }
        for path in ["/v1/transitive", "/v1/keys/k", "/v1/auth/login", "/healthz", "/v1/system"] {
            assert!(!speaks_vault(path), "{path}");
        }
    }

    #[test]
    fn a_vault_problem_keeps_every_rfc_9457_member_and_adds_errors() {
        let mut problem = Problem::new(ProblemCode::KeyNotFound, "no key named \"k\"");
        problem.request_id = Some("r-1".into());
        let json = with_vault_errors(&problem).unwrap();
        assert_eq!(json["errors"], serde_json::json!(["no key named \"k\""]));
        for member in ["type", "title", "status", "detail", "code", "request_id"] {
            assert_eq!(json[member], serde_json::to_value(&problem).unwrap()[member], "{member}");
        }
    }

    #[test]
    fn plain_ids_are_accepted_and_forged_ones_refused() {
        assert!(is_plain_id("req-123_abc.def:1"));
        assert!(!is_plain_id(""));
        assert!(!is_plain_id("a\nfake log line"));
        assert!(!is_plain_id(&"x".repeat(129)));
    }
}
