//! Liveness and readiness. Neither needs authentication: load balancers and
//! orchestrators call them, and they reveal nothing but what is working.

use axum::Json;
use axum::extract::State;
use strongroom_proto::{CheckState, Health, Problem, Readiness, ReadinessCheck};

use crate::{ApiError, AppState};

/// Liveness: the process answers. Public.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    responses((status = 200, description = "The process is alive", body = Health))
)]
pub(crate) async fn healthz() -> Json<Health> {
    Json(Health { status: "ok".into(), version: env!("CARGO_PKG_VERSION").into() })
}

/// Readiness: the database answers, the root key is unsealed and the audit
/// log can record (no rollback detected, no damage found, enough free space,
/// appends working). Public.
/// When a check fails: 503, an `unavailable` problem whose detail names every
/// failing check, so a balancer stops routing here and an operator sees why.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    responses(
        (status = 200, description = "Every dependency works", body = Readiness),
        (status = 503, description = "A dependency is failing; the problem's detail names each failing check", body = Problem),
    )
)]
pub(crate) async fn readyz(State(state): State<AppState>) -> Result<Json<Readiness>, ApiError> {
    let checks: Vec<ReadinessCheck> = state
        .readiness
        .check()
        .await
        .into_iter()
        .map(|check| ReadinessCheck {
            name: check.name.into(),
            state: if check.ok { CheckState::Ok } else { CheckState::Failing },
            detail: check.detail,
        })
        .collect();
    let failing: Vec<String> =
        checks.iter().filter(|c| c.state != CheckState::Ok).map(|c| format!("{}: {}", c.name, c.detail)).collect();
    if !failing.is_empty() {
        return Err(ApiError::Unavailable(format!("not ready: {}", failing.join("; "))));
    }
    Ok(Json(Readiness { status: "ready".into(), checks }))
}
