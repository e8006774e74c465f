//! The router: every route and the middleware stack around them.
//!
//! To add a route: write the handler in a module here with a
//! `#[utoipa::path]` (request, responses, error codes), register it in
//! [`routes`] and list it in `openapi.rs`. A test checks that every path of
//! the OpenAPI document is served.

pub(crate) mod api_keys;
pub(crate) mod audit;
pub(crate) mod health;
pub(crate) mod identity;
pub(crate) mod keys;
pub(crate) mod transit;
pub(crate) mod users;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::routing::{any, delete, get, post};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

use crate::middleware::{self, not_found};
use crate::{AppState, openapi};

/// Paths and the handlers behind them, without middleware.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/openapi.json", get(openapi::serve_openapi))
        .route("/v1/keys", get(keys::list_keys))
        .route("/v1/keys/{name}", get(keys::read_key))
        .route("/v1/keys/{name}/rotate", post(keys::rotate_key))
        .route("/v1/keys/{name}/state", post(keys::set_state))
        .route("/v1/transit/keys", any(transit::list_keys))
        .route("/v1/transit/keys/{name}", get(transit::read_key).post(transit::create_key).delete(transit::delete_key))
        .route("/v1/transit/keys/{name}/rotate", post(transit::rotate_key))
        .route("/v1/transit/keys/{name}/config", post(transit::configure_key))
        .route("/v1/transit/encrypt/{name}", post(transit::encrypt))
        .route("/v1/transit/decrypt/{name}", post(transit::decrypt))
        .route("/v1/transit/rewrap/{name}", post(transit::rewrap))
        .route("/v1/transit/hmac/{name}", post(transit::hmac))
        .route("/v1/transit/sign/{name}", post(transit::sign))
        .route("/v1/transit/verify/{name}", post(transit::verify))
        .route("/v1/transit/datakey/{kind}/{name}", post(transit::datakey))
        .route("/v1/audit/events", get(audit::list_events))
        .route("/v1/audit/events/{index}", get(audit::read_event))
        .route("/v1/audit/proof/inclusion", get(audit::inclusion_proof))
        .route("/v1/audit/proof/consistency", get(audit::consistency_proof))
        .route("/v1/audit/checkpoint", get(audit::checkpoint))
        .route("/v1/audit/public-key", get(audit::public_key))
        .route("/v1/audit/stats", get(audit::stats))
        .route("/v1/alerts", get(audit::alerts))
        .route("/v1/auth/login", post(identity::login))
        .route("/token", post(identity::oauth_token))
        .route("/v1/auth/mfa", post(identity::mfa))
        .route("/v1/auth/refresh", post(identity::refresh))
        .route("/v1/auth/logout", post(identity::logout))
        .route("/v1/auth/step-up", post(identity::step_up))
        .route("/v1/auth/reset-password", post(identity::reset_password))
        .route("/v1/auth/totp/enroll", post(identity::totp_enroll))
        .route("/v1/auth/totp/confirm", post(identity::totp_confirm))
        .route("/v1/auth/totp", delete(identity::totp_disable))
        .route("/.well-known/jwks.json", get(identity::jwks))
        .route("/v1/users/me", get(users::me))
        .route("/v1/users", get(users::list_users).post(users::create_user))
        .route("/v1/users/{id}", get(users::read_user).patch(users::update_user))
        .route("/v1/users/{id}/roles", post(users::set_roles))
        .route("/v1/users/{id}/lock", post(users::lock_user))
        .route("/v1/users/{id}/unlock", post(users::unlock_user))
        .route("/v1/users/{id}/revoke-sessions", post(users::revoke_sessions))
        .route("/v1/users/{id}/reset-password", post(users::issue_reset))
        .route("/v1/users/{id}/mfa-enrollment", post(users::issue_enrollment))
        .route("/v1/sessions", get(users::list_sessions))
        .route("/v1/sessions/{id}", delete(users::revoke_session))
        .route("/v1/api-keys", get(api_keys::list).post(api_keys::create))
        .route("/v1/api-keys/{id}", delete(api_keys::revoke))
        .route("/v1/api-keys/{id}/rotate", post(api_keys::rotate))
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    with_middleware(routes(), state)
}

/// Wraps `routes` in the fallbacks and middleware every request goes through.
pub(crate) fn with_middleware(routes: Router<AppState>, state: AppState) -> Router {
    let http = state.http.clone();
    let header =
        |name, value: &'static str| SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value));
    let hsts = http.https.then(|| header(STRICT_TRANSPORT_SECURITY, "max-age=63072000; includeSubDomains"));
    routes
        .fallback(not_found)
        .method_not_allowed_fallback(|| async { StatusCode::METHOD_NOT_ALLOWED })
        .with_state(state)
        .layer(
            ServiceBuilder::new()
                .layer(axum::middleware::from_fn(middleware::request_id))
                .layer(axum::middleware::from_fn(middleware::finish_problems))
                .layer(header(X_CONTENT_TYPE_OPTIONS, "nosniff"))
                .layer(header(X_FRAME_OPTIONS, "DENY"))
                .layer(header(REFERRER_POLICY, "no-referrer"))
                .layer(header(CONTENT_SECURITY_POLICY, "default-src 'none'; frame-ancestors 'none'"))
                .layer(header(CACHE_CONTROL, "no-store"))
                .option_layer(hsts)
                .layer(CatchPanicLayer::custom(middleware::panic_response))
                .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, http.request_timeout))
                .layer(axum::middleware::from_fn_with_state(
                    http.body_limit_bytes,
                    middleware::refuse_declared_oversize,
                ))
                .layer(DefaultBodyLimit::max(http.body_limit_bytes)),
        )
}

/// How long `/readyz` waits for the database before calling it failing.
pub(crate) const READINESS_TIMEOUT: Duration = Duration::from_secs(2);

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{Method, Request, Response};
    use http_body_util::BodyExt;
    use serde_json::Value;
    use tower::ServiceExt;

    use super::*;
    use crate::{ApiJson, HttpSettings};

    struct Harness {
        app: Router,
        _dir: tempfile::TempDir,
    }

    async fn harness() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let database = strongroom_store::Database::connect(&url, &Default::default()).await.unwrap();
        database.migrate().await.unwrap();
        let kek: Arc<dyn strongroom_crypto::Kek> =
            Arc::new(strongroom_crypto::LocalKek::new(strongroom_crypto::SecretKey::from_bytes([1; 32])));
        let clock: Arc<dyn strongroom_core::Clock> = Arc::new(strongroom_core::SystemClock);
        let ports = strongroom_core::ServicePorts {
            keys: database.key_store(),
            api_keys: database.api_key_store(),
            audit: database.audit_store(),
            identity: database.identity_store(),
        };
        let options = strongroom_core::AuditOptions {
            settings: Default::default(),
            origin: "test.example/audit".into(),
            anchors: Vec::new(),
        };
        let context = strongroom_core::audit::AuditContext::service("test");
        let identity = strongroom_core::identity::IdentitySettings::default();
        let services = strongroom_core::Services::start(ports, kek, clock, options, identity, &context).await.unwrap();
        let alerts = Arc::new(strongroom_core::audit::AlertEvaluator::new(Arc::clone(&services.audit), vec![], None));
        let state = AppState {
            store: database.store(),
            root_key_id: "local:test".into(),
            keyring: services.keyring,
            api_keys: services.api_keys,
            identity: services.identity,
            audit: services.audit,
            checkpointer: services.checkpointer,
            alerts,
            http: HttpSettings {
                body_limit_bytes: 1024,
                request_timeout: Duration::from_millis(500),
                https: false,
                trusted_proxies: Vec::new(),
            },
        };
        let test_routes = routes()
            .route("/test/echo", post(|ApiJson(body): ApiJson<Value>| async move { axum::Json(body) }))
            .route(
                "/test/panic",
                get(|| async {
                    if std::hint::black_box(true) {
                        panic!("secret detail in a panic");
                    }
                    "unreachable"
                }),
            )
            .route(
                "/test/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "late"
                }),
            );
        Harness { app: with_middleware(test_routes, state), _dir: dir }
    }

    async fn send(app: &Router, request: Request<Body>) -> (Response<()>, Value) {
        let response = app.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (Response::from_parts(parts, ()), json)
    }

    fn get_request(path: &str) -> Request<Body> {
        Request::get(path).body(Body::empty()).unwrap()
    }

    fn assert_problem(response: &Response<()>, body: &Value, status: u16, code: &str) {
        assert_eq!(response.status().as_u16(), status, "{body}");
        assert_eq!(response.headers()["content-type"], "application/problem+json");
        assert_eq!(body["code"], code, "{body}");
        assert_eq!(body["status"], status);
        let request_id = response.headers()["x-request-id"].to_str().unwrap();
        assert_eq!(body["request_id"], request_id);
    }

    #[tokio::test]
    async fn health_and_readiness_answer_ok() {
        let h = harness().await;
        let (response, body) = send(&h.app, get_request("/healthz")).await;
        assert_eq!(response.status(), 200);
        assert_eq!(body["status"], "ok");
        let (response, body) = send(&h.app, get_request("/readyz")).await;
        assert_eq!(response.status(), 200, "{body}");
        assert_eq!(body["status"], "ready");
        assert_eq!(body["checks"][0]["name"], "database");
    }

    #[tokio::test]
    async fn unknown_route_is_a_not_found_problem() {
        let h = harness().await;
        let (response, body) = send(&h.app, get_request("/v1/nothing-here")).await;
        assert_problem(&response, &body, 404, "not_found");
        assert!(body["detail"].as_str().unwrap().contains("/v1/nothing-here"));
    }

    #[tokio::test]
    async fn wrong_method_is_a_method_not_allowed_problem_with_allow_header() {
        let h = harness().await;
        let request = Request::builder().method(Method::DELETE).uri("/healthz").body(Body::empty()).unwrap();
        let (response, body) = send(&h.app, request).await;
        assert_problem(&response, &body, 405, "method_not_allowed");
        assert!(response.headers()["allow"].to_str().unwrap().contains("GET"));
    }

    fn json_post(path: &str, body: &'static str) -> Request<Body> {
        Request::post(path).header("content-type", "application/json").body(Body::from(body)).unwrap()
    }

    #[tokio::test]
    async fn malformed_json_is_a_400_problem_naming_the_position() {
        let h = harness().await;
        let (response, body) = send(&h.app, json_post("/test/echo", "{\"a\": ")).await;
        assert_problem(&response, &body, 400, "malformed_json");
        assert!(body["detail"].as_str().unwrap().contains("line 1"), "{body}");
    }

    #[tokio::test]
    async fn missing_content_type_is_a_415_problem() {
        let h = harness().await;
        let request = Request::post("/test/echo").body(Body::from("{}")).unwrap();
        let (response, body) = send(&h.app, request).await;
        assert_problem(&response, &body, 415, "unsupported_media_type");
    }

    #[tokio::test]
    async fn body_over_the_limit_is_a_413_problem_declared_or_streamed() {
        let h = harness().await;
        let big = "x".repeat(2048);
        let declared = Request::post("/test/echo")
            .header("content-type", "application/json")
            .header("content-length", big.len())
            .body(Body::from(big.clone()))
            .unwrap();
        let (response, body) = send(&h.app, declared).await;
        assert_problem(&response, &body, 413, "payload_too_large");
        let chunks = futures_util::stream::iter([Ok::<_, std::io::Error>(big)]);
        let streamed = Request::post("/test/echo")
            .header("content-type", "application/json")
            .body(Body::from_stream(chunks))
            .unwrap();
        let (response, body) = send(&h.app, streamed).await;
        assert_problem(&response, &body, 413, "payload_too_large");
    }

    #[tokio::test]
    async fn panic_is_an_opaque_internal_problem_with_error_id() {
        let h = harness().await;
        let (response, body) = send(&h.app, get_request("/test/panic")).await;
        assert_problem(&response, &body, 500, "internal");
        assert!(body["error_id"].as_str().is_some_and(|id| !id.is_empty()));
        assert!(!body.to_string().contains("secret detail"));
    }

    #[tokio::test]
    async fn slow_request_is_a_408_problem() {
        let h = harness().await;
        let (response, body) = send(&h.app, get_request("/test/slow")).await;
        assert_problem(&response, &body, 408, "request_timeout");
    }

    #[tokio::test]
    async fn every_answer_carries_security_headers() {
        let h = harness().await;
        for path in ["/healthz", "/nope"] {
            let (response, _) = send(&h.app, get_request(path)).await;
            let headers = response.headers();
            assert_eq!(headers["x-content-type-options"], "nosniff");
            assert_eq!(headers["cache-control"], "no-store");
            assert_eq!(headers["x-frame-options"], "DENY");
            assert!(headers.contains_key("content-security-policy"));
            assert!(!headers.contains_key("strict-transport-security"), "no HSTS over plain HTTP");
        }
    }

    #[tokio::test]
    async fn plain_request_id_is_echoed_and_forged_one_replaced() {
        let h = harness().await;
        let request = Request::get("/healthz").header("x-request-id", "abc-123").body(Body::empty()).unwrap();
        let (response, _) = send(&h.app, request).await;
        assert_eq!(response.headers()["x-request-id"], "abc-123");
        let request =
            Request::get("/healthz").header("x-request-id", "forged id with spaces").body(Body::empty()).unwrap();
        let (response, _) = send(&h.app, request).await;
        assert_ne!(response.headers()["x-request-id"], "forged id with spaces");
    }

    #[tokio::test]
    async fn every_openapi_path_is_served() {
        let h = harness().await;
        let doc = serde_json::to_value(crate::openapi()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        let paths = doc["paths"].as_object().unwrap();
        assert!(paths.len() >= 3);
        for (path, item) in paths {
            for (method, operation) in item.as_object().unwrap() {
                assert!(operation["responses"]["default"].is_object(), "{method} {path} lacks the problem answer");
                let concrete = path
                    .replace("{name}", "probe")
                    .replace("{kind}", "wrapped")
                    .replace("{index}", "0")
                    .replace("{id}", "probe");
                let request = Request::builder()
                    .method(Method::from_bytes(method.to_uppercase().as_bytes()).unwrap())
                    .uri(concrete)
                    .body(Body::empty())
                    .unwrap();
                let (response, body) = send(&h.app, request).await;
                assert!(
                    body["code"] != "not_found" && response.status() != 405,
                    "{method} {path} is documented but not served: {body}"
                );
            }
        }
        let (_, served) = send(&h.app, get_request("/openapi.json")).await;
        assert_eq!(served, doc);
    }
}
