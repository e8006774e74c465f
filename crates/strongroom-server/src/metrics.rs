//! Prometheus metrics: a middleware that counts every routed answer by route
//! template and status with its latency, and `GET /metrics`.
//!
//! Values are recorded through the `metrics` facade (here, in core's audit
//! log, in the binary's background tasks); [`install`] puts the Prometheus
//! recorder behind it once per process, and its handle renders the text.
//! Without a handle (metrics off, unit tests) recording costs next to nothing
//! and nothing is exposed. On the main listener `/metrics` needs the
//! configured bearer token, compared in constant time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use zeroize::Zeroizing;

use crate::{ApiError, AppState};

/// Latency buckets of requests, in seconds: from a cached transit call to a
/// slow blob transfer.
const LATENCY_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Installs the Prometheus recorder for this process and starts its upkeep
/// (histograms are drained every few seconds). Call once, inside a runtime.
pub fn install() -> Result<PrometheusHandle, String> {
    let handle = PrometheusBuilder::new()
        .set_buckets(LATENCY_BUCKETS)
        .map_err(|error| error.to_string())?
        .install_recorder()
        .map_err(|error| error.to_string())?;
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_secs(5));
        loop {
            ticker.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

/// `/metrics` as one listener serves it.
#[derive(Clone)]
pub struct MetricsEndpoint {
    handle: PrometheusHandle,
    /// `None` on a listener of its own; the bearer token on the main one.
    token: Option<Arc<Zeroizing<String>>>,
}

impl std::fmt::Debug for MetricsEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsEndpoint").field("token", &self.token.as_ref().map(|_| "<hidden>")).finish()
    }
}

impl MetricsEndpoint {
    /// On the main listener, behind `token`.
    pub fn with_token(handle: PrometheusHandle, token: Zeroizing<String>) -> Self {
        Self { handle, token: Some(Arc::new(token)) }
    }

    /// On a listener of its own, open to whoever reaches it.
    pub fn open(handle: PrometheusHandle) -> Self {
        Self { handle, token: None }
    }

    fn render(&self, headers: &HeaderMap) -> Result<Response, ApiError> {
        if let Some(token) = &self.token {
            let presented = headers
                .get(AUTHORIZATION)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.strip_prefix("Bearer "))
                .unwrap_or_default();
            if !strongroom_crypto::ct_eq(presented.as_bytes(), token.as_bytes()) {
                return Err(ApiError::Unauthenticated);
            }
        }
        let mut response = self.handle.render().into_response();
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
        Ok(response)
    }
}

/// Counts the answer of a routed request (`strongroom_http_requests_total`
/// by method, route template and status) and its latency
/// (`strongroom_http_request_duration_seconds`). Route templates, never
/// paths: ids in paths would make a series per record.
pub(crate) async fn record(request: Request, next: Next) -> Response {
    let route =
        request.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("strongroom_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("strongroom_http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Prometheus text. Off (404) unless metrics are configured; on the main
/// listener it takes the configured bearer token. Public route: the token is
/// the access check.
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain")))]
pub(crate) async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    match &state.metrics {
        Some(endpoint) => endpoint.render(&headers),
        None => Err(ApiError::NotFound(
            "metrics are off here: set metrics.token to serve them on this listener, or metrics.listen for one of their own"
                .into(),
        )),
    }
}

/// The router of a listener of its own that serves only `/metrics`, open.
pub fn metrics_router(endpoint: MetricsEndpoint) -> Router {
    Router::new().route(
        "/metrics",
        get(move |headers: HeaderMap| {
            let endpoint = endpoint.clone();
            async move { endpoint.render(&headers) }
        }),
    )
}
