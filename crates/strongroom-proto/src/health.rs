//! Bodies of the health endpoints. `/healthz` only says the process answers;
//! `/readyz` says whether it can do useful work, check by check, so that an
//! operator sees *what* is not ready without reading logs.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Body of `GET /healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// Always `"ok"` when the process answers at all.
    pub status: String,
    /// The server's version.
    pub version: String,
}

/// The state of one readiness check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckState {
    /// The dependency works.
    Ok,
    /// The dependency does not work; the server answers 503 on `/readyz`.
    Failing,
}

/// One named check in a readiness answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReadinessCheck {
    /// What was checked: `database`, `root_key`, …
    pub name: String,
    /// Whether it passed.
    pub state: CheckState,
    /// A short explanation for operators; never contains secrets.
    pub detail: String,
}

/// Body of `GET /readyz` (200 when every check is `ok`, otherwise 503).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Readiness {
    /// `"ready"` (a failing check is answered with a 503 `unavailable` problem instead).
    pub status: String,
    /// Every check that was made.
    pub checks: Vec<ReadinessCheck>,
}
