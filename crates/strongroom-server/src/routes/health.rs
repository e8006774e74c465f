//! Liveness and readiness. Neither needs authentication: load balancers and
//! orchestrators call them, and they reveal nothing but what is working.

use axum::Json;
use axum::extract::State;
use strongroom_proto::{CheckState, Health, Problem, Readiness, ReadinessCheck};

use super::READINESS_TIMEOUT;
use crate::{ApiError, AppState};

/// How long a failed audit append keeps `/readyz` failing once the database
/// answers again.
const FAILED_APPEND_MEMORY: std::time::Duration = std::time::Duration::from_secs(5);

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
    let database = match tokio::time::timeout(READINESS_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => {
            // The database is back: an audit append that failed while it was
            // away no longer says anything about now.
            state.audit.forget_failed_append_older_than(FAILED_APPEND_MEMORY);
            check("database", CheckState::Ok, format!("{} answers", state.store.backend().as_str()))
        }
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness: database failing");
            check("database", CheckState::Failing, format!("{} does not answer", state.store.backend().as_str()))
        }
        Err(_) => check("database", CheckState::Failing, "no answer within 2 s".into()),
    };
    // The server refuses to start with a wrong root key, so a running server
    // always has it unsealed; the check names which key it is.
    let root_key = check("root_key", CheckState::Ok, format!("unsealed ({})", state.root_key_id));
    // The head against the stored nodes (a few reads): damage found here or by
    // any verification is in the health below.
    match tokio::time::timeout(READINESS_TIMEOUT, state.audit.head_damage()).await {
        Ok(Ok(Some(damage))) => tracing::warn!(%damage, "readiness: the audit tree head does not check out"),
        Ok(Err(error)) => tracing::warn!(%error, "readiness: cannot check the audit tree head"),
        Ok(Ok(None)) | Err(_) => {}
    }
    let problems = state.audit.health().problems();
    let audit = if problems.is_empty() {
        check("audit", CheckState::Ok, "recording; tree extends every known checkpoint and verifies".into())
    } else {
        check("audit", CheckState::Failing, problems.join("; "))
    };
    let mut checks = vec![database, root_key, audit];
    let blobs = tokio::time::timeout(READINESS_TIMEOUT, state.records.check_blob_storage()).await;
    checks.push(match blobs {
        Ok(None) => check("blobs", CheckState::Ok, "no blob storage configured".into()),
        Ok(Some(Ok(()))) => check("blobs", CheckState::Ok, "storage answers".into()),
        Ok(Some(Err(error))) => {
            tracing::warn!(%error, "readiness: blob storage failing");
            check("blobs", CheckState::Failing, "blob storage does not answer".into())
        }
        Err(_) => check("blobs", CheckState::Failing, "no answer within 2 s".into()),
    });
    let failing: Vec<String> =
        checks.iter().filter(|c| c.state != CheckState::Ok).map(|c| format!("{}: {}", c.name, c.detail)).collect();
    if !failing.is_empty() {
        return Err(ApiError::Unavailable(format!("not ready: {}", failing.join("; "))));
    }
    Ok(Json(Readiness { status: "ready".into(), checks }))
}

fn check(name: &str, state: CheckState, detail: String) -> ReadinessCheck {
    ReadinessCheck { name: name.into(), state, detail }
}
