//! The router: every route, what each needs, and the middleware around them.
//!
//! To add a route: write the handler in a module here with a
//! `#[utoipa::path]` (request, responses, error codes), register it in
//! [`routes`] with its [`Access`], and list it in `openapi.rs`. A test checks
//! that every path of the OpenAPI document is served.
//!
//! Deny by default: [`guard`] refuses (403) any route missing from the table,
//! and withholds (500, logged) a successful answer of a route that declared an
//! action when its handler asked the authorizer nothing.

pub(crate) mod api_keys;
pub(crate) mod audit;
pub(crate) mod authz;
pub(crate) mod health;
pub(crate) mod identity;
pub(crate) mod keys;
pub(crate) mod records;
pub(crate) mod roles;
pub(crate) mod transit;
pub(crate) mod users;
pub(crate) mod vault;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::handler::Handler;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any, delete, get, patch, post, put};
use strongroom_core::authz::{Action, DecisionTrail};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::middleware::{self, not_found};
use crate::{ApiError, AppState, openapi};

/// What a route needs before its answer may leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// No credentials: health, the OpenAPI document, logins and token
    /// exchanges (the token is the credential), JWKS, the audit log's
    /// public key and checkpoint.
    Public,
    /// Any authenticated principal; the handler answers only what that
    /// principal may see (its matters, its access requests).
    Principal,
    /// The handler asks the authorizer for this action (or a narrower one
    /// it names, such as `user.manage` for another user's sessions).
    Decides(Action),
}

/// Each routed path's methods (`None`: every method) and their access.
type RouteTable = HashMap<&'static str, Vec<(Option<Method>, Access)>>;

/// The routes and their declared access, built together so neither can
/// exist without the other.
pub(crate) struct Routes {
    router: Router<AppState>,
    table: RouteTable,
}

impl Routes {
    fn new() -> Self {
        Self { router: Router::new(), table: HashMap::new() }
    }

    /// Adds `handler` for `method` (every method when `None`) at `path`.
    pub(crate) fn route(
        mut self,
        method: Option<Method>,
        path: &'static str,
        access: Access,
        handler: MethodRouter<AppState>,
    ) -> Self {
        self.router = self.router.route(path, handler);
        self.table.entry(path).or_default().push((method, access));
        self
    }

    /// Adds a handler without declaring its access. The guard refuses it;
    /// only the test proving that uses this.
    #[cfg(test)]
    pub(crate) fn undeclared(mut self, path: &'static str, handler: MethodRouter<AppState>) -> Self {
        self.router = self.router.route(path, handler);
        self
    }

    fn get<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, access: Access, handler: H) -> Self {
        self.route(Some(Method::GET), path, access, get(handler))
    }

    fn post<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, access: Access, handler: H) -> Self {
        self.route(Some(Method::POST), path, access, post(handler))
    }

    fn put<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, access: Access, handler: H) -> Self {
        self.route(Some(Method::PUT), path, access, put(handler))
    }

    /// A write in Vault's manner: `POST` and `PUT` alike, one handler and one
    /// access (Vault's Go client and CLI write with `PUT`).
    fn write<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, access: Access, handler: H) -> Self {
        self.route(Some(Method::POST), path, access, post(handler.clone())).route(
            Some(Method::PUT),
            path,
            access,
            put(handler),
        )
    }

    fn patch<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, access: Access, handler: H) -> Self {
        self.route(Some(Method::PATCH), path, access, patch(handler))
    }

    fn delete<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, access: Access, handler: H) -> Self {
        self.route(Some(Method::DELETE), path, access, delete(handler))
    }

    /// Every declared route: `(method or "*", path, access)`, sorted.
    #[cfg(test)]
    pub(crate) fn declared(&self) -> Vec<(String, &'static str, Access)> {
        let mut all: Vec<_> = self
            .table
            .iter()
            .flat_map(|(path, methods)| {
                methods.iter().map(|(m, a)| (m.as_ref().map_or_else(|| "*".to_owned(), Method::to_string), *path, *a))
            })
            .collect();
        all.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
        all
    }
}

/// Paths, their handlers and what each needs, without middleware.
pub(crate) fn routes() -> Routes {
    use Access::{Decides, Principal, Public};
    Routes::new()
        .get("/healthz", Public, health::healthz)
        .get("/readyz", Public, health::readyz)
        .get("/openapi.json", Public, openapi::serve_openapi)
        // The handler checks the configured bearer token.
        .get("/metrics", Public, crate::metrics::metrics)
        .get("/v1/keys", Decides(Action::KeyManage), keys::list_keys)
        .get("/v1/keys/{name}", Decides(Action::KeyManage), keys::read_key)
        .post("/v1/keys/{name}/rotate", Decides(Action::KeyManage), keys::rotate_key)
        .post("/v1/keys/{name}/state", Decides(Action::KeyManage), keys::set_state)
        .post("/v1/keys/{name}/rewrap", Decides(Action::KeyManage), keys::rewrap_key)
        .post("/v1/keys/{name}/config", Decides(Action::KeyManage), keys::configure_key)
        .get("/v1/jobs/{id}", Decides(Action::KeyManage), keys::read_job)
        // Vault's LIST verb, GET ?list=true and the rest.
        .route(None, "/v1/transit/keys", Decides(Action::TransitRead), any(transit::list_keys))
        .get("/v1/transit/keys/{name}", Decides(Action::TransitRead), transit::read_key)
        .write("/v1/transit/keys/{name}", Decides(Action::TransitManage), transit::create_key)
        .delete("/v1/transit/keys/{name}", Decides(Action::TransitManage), transit::delete_key)
        .write("/v1/transit/keys/{name}/rotate", Decides(Action::TransitManage), transit::rotate_key)
        .write("/v1/transit/keys/{name}/config", Decides(Action::TransitManage), transit::configure_key)
        .write("/v1/transit/encrypt/{name}", Decides(Action::TransitUse), transit::encrypt)
        .write("/v1/transit/decrypt/{name}", Decides(Action::TransitUse), transit::decrypt)
        .write("/v1/transit/rewrap/{name}", Decides(Action::TransitUse), transit::rewrap)
        .write("/v1/transit/hmac/{name}", Decides(Action::TransitUse), transit::hmac)
        .write("/v1/transit/sign/{name}", Decides(Action::TransitUse), transit::sign)
        .write("/v1/transit/verify/{name}", Decides(Action::TransitUse), transit::verify)
        .write("/v1/transit/datakey/{kind}/{name}", Decides(Action::TransitUse), transit::datakey)
        // Vault's health, as its clients and load balancers ask for it.
        .get("/v1/sys/health", Public, vault::sys_health)
        // The caller's own credential: it tells nothing the caller does not hold.
        .get("/v1/auth/token/lookup-self", Principal, vault::lookup_self)
        .get("/v1/audit/events", Decides(Action::AuditRead), audit::list_events)
        .post("/v1/audit/events", Decides(Action::AuditWrite), audit::append_events)
        .get("/v1/audit/events/{index}", Decides(Action::AuditRead), audit::read_event)
        .get("/v1/audit/proof/inclusion", Decides(Action::AuditRead), audit::inclusion_proof)
        .get("/v1/audit/proof/consistency", Decides(Action::AuditRead), audit::consistency_proof)
        .get("/v1/audit/checkpoint", Public, audit::checkpoint)
        .get("/v1/audit/public-key", Public, audit::public_key)
        .get("/v1/audit/stats", Decides(Action::AuditRead), audit::stats)
        .get("/v1/alerts", Decides(Action::AuditRead), audit::alerts)
        .post("/v1/auth/login", Public, identity::login)
        .post("/token", Public, identity::oauth_token)
        .post("/v1/auth/mfa", Public, identity::mfa)
        .post("/v1/auth/refresh", Public, identity::refresh)
        .post("/v1/auth/logout", Decides(Action::SessionSelf), identity::logout)
        .post("/v1/auth/step-up", Decides(Action::SessionSelf), identity::step_up)
        .post("/v1/auth/reset-password", Public, identity::reset_password)
        // With an enrolment token (no session yet) or the caller's session.
        .post("/v1/auth/totp/enroll", Public, identity::totp_enroll)
        .post("/v1/auth/totp/confirm", Public, identity::totp_confirm)
        .delete("/v1/auth/totp", Decides(Action::SessionSelf), identity::totp_disable)
        .get("/.well-known/jwks.json", Public, identity::jwks)
        .get("/.well-known/openid-configuration", Public, identity::openid_configuration)
        .post("/v1/auth/introspect", Decides(Action::TokenIntrospect), identity::introspect)
        .get("/v1/users/me", Decides(Action::SessionSelf), users::me)
        .get("/v1/users", Decides(Action::UserManage), users::list_users)
        .post("/v1/users", Decides(Action::UserManage), users::create_user)
        .get("/v1/users/{id}", Decides(Action::UserManage), users::read_user)
        .patch("/v1/users/{id}", Decides(Action::UserManage), users::update_user)
        .post("/v1/users/{id}/roles", Decides(Action::RoleAssign), users::set_roles)
        .post("/v1/users/{id}/lock", Decides(Action::UserManage), users::lock_user)
        .post("/v1/users/{id}/unlock", Decides(Action::UserManage), users::unlock_user)
        .post("/v1/users/{id}/revoke-sessions", Decides(Action::UserManage), users::revoke_sessions)
        .post("/v1/users/{id}/reset-password", Decides(Action::UserManage), users::issue_reset)
        .post("/v1/users/{id}/mfa-enrollment", Decides(Action::UserManage), users::issue_enrollment)
        .get("/v1/sessions", Decides(Action::SessionSelf), users::list_sessions)
        .delete("/v1/sessions/{id}", Decides(Action::SessionSelf), users::revoke_session)
        .get("/v1/api-keys", Decides(Action::ApiKeyManage), api_keys::list)
        .post("/v1/api-keys", Decides(Action::ApiKeyManage), api_keys::create)
        .delete("/v1/api-keys/{id}", Decides(Action::ApiKeyManage), api_keys::revoke)
        .post("/v1/api-keys/{id}/rotate", Decides(Action::ApiKeyManage), api_keys::rotate)
        .get("/v1/matters", Principal, authz::list_matters)
        .post("/v1/matters", Decides(Action::MatterManage), authz::create_matter)
        .get("/v1/matters/{id}", Principal, authz::read_matter)
        .get("/v1/matters/{id}/grants", Decides(Action::MatterManage), authz::list_grants)
        .post("/v1/matters/{id}/grants", Decides(Action::MatterManage), authz::create_grant)
        .delete("/v1/matters/{id}/grants/{principal}", Decides(Action::MatterManage), authz::revoke_grant)
        .get("/v1/matters/{id}/redaction-terms", Decides(Action::MatterManage), records::read_redaction_terms)
        .put("/v1/matters/{id}/redaction-terms", Decides(Action::MatterManage), records::replace_redaction_terms)
        .get("/v1/access-requests", Principal, authz::list_access_requests)
        .post("/v1/access-requests", Decides(Action::AccessRequest), authz::create_access_request)
        .get("/v1/access-requests/{id}", Principal, authz::read_access_request)
        .post("/v1/access-requests/{id}/approve", Decides(Action::AccessApprove), authz::approve_access_request)
        .post("/v1/access-requests/{id}/deny", Decides(Action::AccessApprove), authz::deny_access_request)
        .get("/v1/policies", Decides(Action::PolicyManage), authz::read_policies)
        .put("/v1/policies", Decides(Action::PolicyManage), authz::replace_policies)
        .get("/v1/roles", Decides(Action::RoleAssign), roles::list_roles)
        .post("/v1/roles", Decides(Action::PolicyManage), roles::create_role)
        .get("/v1/roles/{name}", Decides(Action::RoleAssign), roles::read_role)
        .put("/v1/roles/{name}", Decides(Action::PolicyManage), roles::replace_role)
        .delete("/v1/roles/{name}", Decides(Action::PolicyManage), roles::delete_role)
        .post("/v1/authz/explain", Decides(Action::AuthzExplain), authz::explain)
        .get("/v1/authz/who-can", Decides(Action::AuthzExplain), authz::who_can)
        .get("/v1/collections", Principal, records::list_collections)
        .post("/v1/collections", Decides(Action::CollectionManage), records::create_collection)
        .get("/v1/collections/{name}", Principal, records::read_collection)
        .put("/v1/collections/{name}", Decides(Action::CollectionManage), records::change_collection)
        // Lists only what the caller may read (one decision per record).
        .get("/v1/collections/{c}/records", Principal, records::list_records)
        .post("/v1/collections/{c}/records", Decides(Action::RecordWrite), records::create_record)
        .get("/v1/collections/{c}/records/{id}", Decides(Action::RecordRead), records::read_record)
        .patch("/v1/collections/{c}/records/{id}", Decides(Action::RecordWrite), records::update_record)
        .delete("/v1/collections/{c}/records/{id}", Decides(Action::RecordDelete), records::delete_record)
        .post("/v1/collections/{c}/records/{id}/decrypt", Decides(Action::RecordDecrypt), records::decrypt_record)
        .post("/v1/collections/{c}/records/{id}/hold", Decides(Action::RecordHold), records::hold_record)
        .post("/v1/subjects/{subject}/export", Decides(Action::SubjectExport), records::export_subject)
        .post("/v1/subjects/{subject}/erase", Decides(Action::SubjectErase), records::erase_subject)
        .put("/v1/collections/{c}/records/{id}/blobs/{name}", Decides(Action::RecordWrite), records::upload_blob)
        // record.decrypt for an encrypted blob field, record.read for a public one.
        .get("/v1/collections/{c}/records/{id}/blobs/{name}", Decides(Action::RecordDecrypt), records::download_blob)
}

/// Refuses routes without a declared access, and answers of routes that
/// declared an action but decided nothing (see the module doc).
async fn guard(State(table): State<Arc<RouteTable>>, mut request: Request, next: Next) -> Response {
    let Some(path) = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()) else {
        return next.run(request).await;
    };
    let Some(methods) = table.get(path.as_str()) else {
        tracing::error!(route = %path, "a route without a declared access was called; refused");
        return ApiError::Forbidden(format!(
            "{} {path} declares no access, so it is refused (deny by default)",
            request.method()
        ))
        .into_response();
    };
    // HEAD is served by the GET handler.
    let method = if request.method() == Method::HEAD { Method::GET } else { request.method().clone() };
    let access = methods.iter().find(|(m, _)| m.as_ref().is_none_or(|m| *m == method)).map(|(_, access)| *access);
    match access {
        // No handler for this method: the router answers 405.
        None | Some(Access::Public | Access::Principal) => next.run(request).await,
        Some(Access::Decides(action)) => {
            let trail = DecisionTrail::recording();
            request.extensions_mut().insert(trail.clone());
            let response = next.run(request).await;
            if response.status().is_success() && trail.decided().is_empty() {
                tracing::error!(
                    route = %path,
                    action = action.as_str(),
                    "a handler answered without asking the authorizer; its answer is withheld"
                );
                return ApiError::Internal("a handler answered without an authorization decision".into())
                    .into_response();
            }
            response
        }
    }
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    with_middleware(routes(), state)
}

/// Wraps `routes` in the guard, the fallbacks and the middleware every
/// request goes through.
pub(crate) fn with_middleware(routes: Routes, state: AppState) -> Router {
    let http = state.http.clone();
    let table = Arc::new(routes.table);
    let header =
        |name, value: &'static str| SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value));
    let hsts = http.https.then(|| header(STRICT_TRANSPORT_SECURITY, "max-age=63072000; includeSubDomains"));
    let limits = state.clone();
    routes
        .router
        .route_layer(axum::middleware::from_fn_with_state(table, guard))
        .route_layer(axum::middleware::from_fn(crate::metrics::record))
        // The console's pages are not API operations: no access table, no
        // OpenAPI entry; each page authenticates its cookie and asks the use
        // cases, which authorise themselves.
        .merge(crate::console::routes())
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
                .layer(axum::middleware::from_fn_with_state(http.request_timeout, middleware::time_limit))
                .layer(axum::middleware::from_fn_with_state(limits, crate::auth::limit_by_address))
                .layer(axum::middleware::from_fn_with_state(
                    http.body_limit_bytes,
                    middleware::refuse_declared_oversize,
                ))
                .layer(DefaultBodyLimit::max(http.body_limit_bytes)),
        )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

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
            authz: database.authz_store(),
            records: database.records_store(),
            blobs: None,
            jobs: database.job_store(),
            rate_limits: None,
        };
        let options = strongroom_core::AuditOptions {
            settings: Default::default(),
            origin: "test.example/audit".into(),
            anchors: Vec::new(),
        };
        let context = strongroom_core::audit::AuditContext::service("test");
        // A fixture for the router's tests (cheap hashing, short sessions),
        // not the defaults: those are the configuration's.
        let identity = strongroom_core::identity::IdentitySettings {
            password_params: strongroom_crypto::PasswordParams { memory_kib: 64, iterations: 1, parallelism: 1 },
            password_policy: strongroom_core::identity::PasswordPolicy { min_length: 12, min_strength_bits: 50.0 },
            hashing_concurrency: 1,
            access_token_seconds: 300,
            session_idle_seconds: 600,
            session_absolute_seconds: 3600,
            max_sessions_per_user: 4,
            bind_session_to_ip: false,
            bind_session_to_user_agent: false,
            mfa_required_roles: Vec::new(),
            lockout_threshold: 3,
            account_lockout_threshold: 20,
            ip_lockout_threshold: 10,
            lockout_window_seconds: 600,
            lockout_base_seconds: 10,
            lockout_max_seconds: 60,
            mfa_token_seconds: 120,
            reset_token_seconds: 600,
            issuer: "strongroom-test".into(),
            audience: "strongroom-test".into(),
        };
        let authz = strongroom_core::authz::AuthzSettings::default();
        let services = strongroom_core::Services::start(
            ports,
            kek,
            clock,
            strongroom_core::ServiceSettings {
                audit: options,
                identity,
                authz,
                jobs: Default::default(),
                cache_max_age: std::time::Duration::ZERO,
                rate_limits: Default::default(),
            },
            &context,
        )
        .await
        .unwrap();
        let alerts = Arc::new(strongroom_core::audit::AlertEvaluator::new(Arc::clone(&services.audit), vec![], None));
        let state = AppState::new(
            database.store(),
            "local:test".into(),
            &services,
            alerts,
            HttpSettings {
                body_limit_bytes: 1024,
                request_timeout: Duration::from_millis(500),
                https: false,
                trusted_proxies: Vec::new(),
                public_origin: None,
            },
            // A recorder of its own, never installed: the process-wide one belongs to the binary.
            Some(crate::MetricsEndpoint::with_token(
                metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder().handle(),
                zeroize::Zeroizing::new("the metrics token of the router tests".into()),
            )),
        );
        let public = Access::Public;
        let test_routes = routes()
            .route(
                Some(Method::POST),
                "/test/echo",
                public,
                post(|ApiJson(body): ApiJson<Value>| async move { axum::Json(body) }),
            )
            .route(
                Some(Method::GET),
                "/test/panic",
                public,
                get(|| async {
                    if std::hint::black_box(true) {
                        panic!("secret detail in a panic");
                    }
                    "unreachable"
                }),
            )
            .route(
                Some(Method::GET),
                "/test/slow",
                public,
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "late"
                }),
            )
            // Forgets to declare its access.
            .undeclared("/test/undeclared", get(|| async { "secret listing" }))
            // Declares an action but never asks the authorizer.
            .route(
                Some(Method::GET),
                "/test/forgetful",
                Access::Decides(Action::AuditRead),
                get(|| async { "secret listing" }),
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
    async fn a_route_without_declared_access_is_refused() {
        let h = harness().await;
        let (response, body) = send(&h.app, get_request("/test/undeclared")).await;
        assert_problem(&response, &body, 403, "forbidden");
        assert!(body["detail"].as_str().unwrap().contains("declares no access"), "{body}");
        assert!(!body.to_string().contains("secret listing"));
    }

    #[tokio::test]
    async fn a_handler_that_decides_nothing_has_its_answer_withheld() {
        let h = harness().await;
        let (response, body) = send(&h.app, get_request("/test/forgetful")).await;
        assert_problem(&response, &body, 500, "internal");
        assert!(!body.to_string().contains("secret listing"));
    }

    #[test]
    fn every_route_declares_its_access_and_every_openapi_path_is_a_route() {
        let declared = routes().declared();
        let doc = serde_json::to_value(crate::openapi()).unwrap();
        let documented: Vec<(String, String)> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, item)| item.as_object().unwrap().keys().map(move |m| (m.to_uppercase(), path.clone())))
            .collect();
        for (method, path) in &documented {
            assert!(
                declared.iter().any(|(m, p, _)| p == path && (m == method || m == "*")),
                "{method} {path} is documented but has no declared access"
            );
        }
        for (method, path, access) in &declared {
            assert!(
                documented.iter().any(|(m, p)| p == path && (m == method || method == "*")),
                "{method} {path} ({access:?}) is routed but not documented"
            );
        }
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
                    .replace("{id}", "probe")
                    .replace("{principal}", "user:probe")
                    .replace("{c}", "probe")
                    .replace("{subject}", "probe");
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
