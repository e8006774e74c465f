//! The keyring API for operators: list and inspect every key (never its
//! material) with what each version still protects, rotate, configure,
//! change state, and follow the jobs those start. `key.manage` on every
//! route (admins; API-key scope `keys:manage`). A state change needs a
//! justification of at least 20 characters, which its audit event carries.

use axum::Json;
use axum::extract::{Path, State};
use strongroom_core::key_management::KeyConfigChange;
use strongroom_core::{Job, KeyInfo, KeyReport, KeyState};
use strongroom_proto::{ConfigureKey, JobView, KeyList, KeyStateChanged, KeyVersionView, KeyView, SetKeyState};

use crate::{ApiError, ApiJson, AppState, Caller};

fn view(info: KeyInfo) -> KeyView {
    KeyView {
        name: info.name,
        purpose: info.purpose.as_str().into(),
        algorithm: info.algorithm.as_str().into(),
        state: info.state.as_str().into(),
        latest_version: info.latest_version,
        min_decryption_version: info.min_decryption_version,
        rotation_period_seconds: info.rotation_period_seconds,
        deletion_allowed: info.deletion_allowed,
        created_at: info.created_at,
        updated_at: info.updated_at,
        versions: Vec::new(),
        census: None,
        jobs: Vec::new(),
    }
}

pub(crate) fn job_view(job: Job) -> JobView {
    JobView {
        percent: job.percent(),
        id: job.id,
        kind: job.kind.as_str().into(),
        key: job.key_name,
        target: job.target,
        state: job.state.as_str().into(),
        total: job.total,
        done: job.done,
        error: job.error,
        created_by: job.created_by,
        created_at: job.created_at,
        updated_at: job.updated_at,
    }
}

fn report_view(report: KeyReport) -> KeyView {
    let mut key = view(report.info);
    key.versions = report
        .versions
        .into_iter()
        .map(|v| KeyVersionView {
            version: v.version,
            created_at: v.created_at,
            data_keys: v.census.map(|c| c.data_keys),
            ciphertexts: v.census.map(|c| c.ciphertexts),
        })
        .collect();
    key.census = Some(report.census.to_owned());
    key.jobs = report.jobs.into_iter().map(job_view).collect();
    key
}

/// Every key.
#[utoipa::path(get, path = "/v1/keys", tag = "keys",
    responses((status = 200, description = "Every key, without versions", body = KeyList)),
    security(("api_key" = [])))]
pub(crate) async fn list_keys(State(state): State<AppState>, caller: Caller) -> Result<Json<KeyList>, ApiError> {
    let keys = state.key_management.keys(&caller.subject, &caller.context).await?.into_iter().map(view).collect();
    Ok(Json(KeyList { keys }))
}

/// One key with its versions, what each version still protects among the
/// stored records (the census: data keys, and the sealed values and blobs
/// under them), and its recent jobs.
#[utoipa::path(get, path = "/v1/keys/{name}", tag = "keys",
    params(("name" = String, Path, description = "Key name")),
    responses((status = 200, description = "The key, its versions and census, its jobs", body = KeyView)),
    security(("api_key" = [])))]
pub(crate) async fn read_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<KeyView>, ApiError> {
    Ok(Json(report_view(state.key_management.report(&caller.subject, &name, &caller.context).await?)))
}

/// Adds a version; old ones keep decrypting. For a matter key, starts the
/// job that reseals its records' data keys under the new version (the data
/// itself is not touched): it is the first of the answer's `jobs`; follow
/// it at `GET /v1/jobs/{id}`.
#[utoipa::path(post, path = "/v1/keys/{name}/rotate", tag = "keys",
    params(("name" = String, Path, description = "Key name")),
    responses((status = 200, description = "The rotated key, its census and jobs", body = KeyView)),
    security(("api_key" = [])))]
pub(crate) async fn rotate_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<KeyView>, ApiError> {
    Ok(Json(report_view(state.key_management.rotate(&caller.subject, &name, &caller.context).await?)))
}

/// Starts (again) the job that reseals a matter key's data keys under its
/// latest version, e.g. after a rotation whose job failed.
#[utoipa::path(post, path = "/v1/keys/{name}/rewrap", tag = "keys",
    params(("name" = String, Path, description = "Key name")),
    responses((status = 202, description = "The job", body = JobView)),
    security(("api_key" = [])))]
pub(crate) async fn rewrap_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<(axum::http::StatusCode, Json<JobView>), ApiError> {
    let job = state.key_management.rewrap(&caller.subject, &name, &caller.context).await?;
    Ok((axum::http::StatusCode::ACCEPTED, Json(job_view(job))))
}

/// Changes `min_decryption_version` (retires old versions: check the
/// census first), deletion protection or the rotation period.
#[utoipa::path(post, path = "/v1/keys/{name}/config", tag = "keys",
    params(("name" = String, Path, description = "Key name")), request_body = ConfigureKey,
    responses((status = 200, description = "The key after the change", body = KeyView)),
    security(("api_key" = [])))]
pub(crate) async fn configure_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(request): ApiJson<ConfigureKey>,
) -> Result<Json<KeyView>, ApiError> {
    let change = KeyConfigChange {
        deletion_allowed: request.deletion_allowed,
        rotation_period_seconds: request.rotation_period_seconds,
        min_decryption_version: request.min_decryption_version,
    };
    Ok(Json(report_view(state.key_management.configure(&caller.subject, &name, change, &caller.context).await?)))
}

/// Changes a key's state with a justification. `compromised` on a matter
/// key starts the job that re-encrypts its records under the matter's next
/// key; `destroyed` crypto-shreds everything the key protected, cannot be
/// undone, and says how much that was.
#[utoipa::path(post, path = "/v1/keys/{name}/state", tag = "keys",
    params(("name" = String, Path, description = "Key name")), request_body = SetKeyState,
    responses((status = 200, description = "The key after the change, and its job", body = KeyStateChanged)),
    security(("api_key" = [])))]
pub(crate) async fn set_state(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(request): ApiJson<SetKeyState>,
) -> Result<Json<KeyStateChanged>, ApiError> {
    let target = KeyState::parse(&request.state).ok_or_else(|| {
        ApiError::InvalidRequest(format!(
            "state: {:?} is not one of active, decrypt_only, disabled, compromised, destroyed",
            request.state
        ))
    })?;
    let (change, report) =
        state.key_management.set_state(&caller.subject, &name, target, &request.justification, &caller.context).await?;
    let warning = change.shredded.map(|(data_keys, ciphertexts)| {
        format!(
            "key {name:?} is destroyed: everything it protected is permanently unreadable \
             ({data_keys} record data keys, {ciphertexts} sealed values and blobs among the stored records)"
        )
    });
    Ok(Json(KeyStateChanged { key: report_view(report), warning, job: change.job.map(job_view) }))
}

/// A key job's progress: what a rotation or a compromise started.
#[utoipa::path(get, path = "/v1/jobs/{id}", tag = "keys",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, description = "The job", body = JobView)),
    security(("api_key" = [])))]
pub(crate) async fn read_job(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<JobView>, ApiError> {
    Ok(Json(job_view(state.key_management.job(&caller.subject, &id, &caller.context).await?)))
}
