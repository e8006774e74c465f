//! Strongroom's HTTP API.
//!
//! Which API should I use?
//! - [`router`] builds the whole application (routes, middleware, problem
//!   mapping) from an [`AppState`]; tests drive it in-process with `tower::ServiceExt`.
//! - [`serve`] runs it on a bound [`Listener`] (plain TCP or [`TlsListener`])
//!   until a shutdown signal, then lets in-flight requests finish.
//! - [`openapi`] is the OpenAPI document served at `/openapi.json`.
//!
//! Every error answer goes through [`ApiError`], the one place that maps
//! domain failures to HTTP statuses and RFC 9457 problems.

mod auth;
mod console;
mod error;
mod extract;
mod metrics;
mod middleware;
mod openapi;
mod qr;
mod redirect;
mod routes;
mod serve;
mod state;
mod strict_json;
mod tls;

pub use auth::{Caller, Principal, RequestOrigin};
pub use error::ApiError;
pub use extract::ApiJson;
pub use metrics::{MetricsEndpoint, install as install_metrics, metrics_router};
pub use openapi::openapi;
pub use redirect::serve_redirects;
pub use routes::router;
pub use serve::{Listener, ServeTimes, serve};
pub use state::{AppState, HttpSettings};
pub use tls::{TlsError, TlsListener, TlsReloader, load_tls_config};
