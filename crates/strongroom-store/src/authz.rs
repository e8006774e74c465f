//! The [`AuthzStore`] implementation for both engines, and the two columns
//! that load a principal's grants and live elevations in the same query as
//! the principal (sessions, API keys): `string_agg` over the grants and the
//! approved, unexpired access requests. Matter and record ids cannot hold
//! spaces (core checks them), so a space separates values.

use async_trait::async_trait;
use sqlx::Row;
use strongroom_core::StoreError;
use strongroom_core::audit::AuditRecord;
use strongroom_core::authz::{
    AccessRequestRecord, AccessStatus, Action, AuthzStore, Elevation, GrantRecord, MatterRecord, PolicyDocument,
    PrincipalAccess, PrincipalKind, RoleCatalogue, RoleDefinition,
};

use crate::engines::{PostgresStore, SqliteStore};
use crate::error::map;

const REQUEST_COLUMNS: &str = "id, requester_kind, requester_id, requester_name, action, matter_id, record_id, \
                               duration_minutes, justification, purpose, status, created_at, decided_by, \
                               decided_at, decision_note, expires_at";
const GRANT_COLUMNS: &str = "principal_kind, principal_id, matter_id, granted_by, justification, created_at";

/// Two columns, `access_grants` and `access_elevations`, for the principal of
/// `kind` whose id is the SQL expression `id`, with elevations live after the
/// bind parameter `now`.
pub(crate) fn access_columns(kind: PrincipalKind, id: &str, now: &str) -> String {
    let kind = kind.as_str();
    format!(
        "(SELECT string_agg(g.matter_id, ' ') FROM matter_grants g \
           WHERE g.principal_kind = '{kind}' AND g.principal_id = {id}) AS access_grants, \
         (SELECT string_agg(r.id || ' ' || r.action || ' ' || r.matter_id || ' ' || COALESCE(r.record_id, '-') \
                            || ' ' || CAST(r.expires_at AS TEXT), ' ') FROM access_requests r \
           WHERE r.requester_kind = '{kind}' AND r.requester_id = {id} AND r.status = 'approved' \
             AND r.expires_at > {now}) AS access_elevations"
    )
}

/// Reads the two columns of [`access_columns`].
pub(crate) fn parse_access(grants: Option<String>, elevations: Option<String>) -> Result<PrincipalAccess, StoreError> {
    let matters = grants.unwrap_or_default().split_whitespace().map(str::to_owned).collect();
    let words: Vec<String> = elevations.unwrap_or_default().split_whitespace().map(str::to_owned).collect();
    if !words.len().is_multiple_of(5) {
        return Err(StoreError::Backend("malformed elevation list".into()));
    }
    let elevations = words
        .chunks(5)
        .map(|w| {
            Ok(Elevation {
                request_id: w[0].clone(),
                action: parse_action(&w[1])?,
                matter_id: w[2].clone(),
                record_id: (w[3] != "-").then(|| w[3].clone()),
                expires_at: w[4].parse().map_err(|_| StoreError::Backend("malformed elevation expiry".into()))?,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(PrincipalAccess { matters, elevations })
}

fn parse_action(text: &str) -> Result<Action, StoreError> {
    Action::parse(text).ok_or_else(|| StoreError::Backend(format!("unknown stored action {text:?}").into()))
}

fn parse_kind(text: &str) -> Result<PrincipalKind, StoreError> {
    PrincipalKind::parse(text).ok_or_else(|| StoreError::Backend(format!("unknown principal kind {text:?}").into()))
}

/// The tables that keep every version of one document, newest by
/// `version`: the API-managed policies and the role catalogue. A change
/// inserts the next version; two changes racing for one number leave one.
#[derive(Debug, Clone, Copy)]
enum Versioned {
    PolicyDocuments,
    RoleCatalogues,
}

impl Versioned {
    fn name(self) -> &'static str {
        match self {
            Self::PolicyDocuments => "policy_documents",
            Self::RoleCatalogues => "role_catalogues",
        }
    }

    /// The column holding the document itself.
    fn body_column(self) -> &'static str {
        match self {
            Self::PolicyDocuments => "text",
            Self::RoleCatalogues => "roles",
        }
    }
}

/// One version of a [`Versioned`] table's document.
struct VersionRow {
    version: i64,
    body: String,
    updated_at: i64,
    updated_by: String,
    justification: String,
}

macro_rules! impl_authz_store {
    ($store:ident, $row:ty) => {
        impl $store {
            fn matter_from_row(row: &$row) -> Result<MatterRecord, StoreError> {
                Ok(MatterRecord {
                    id: row.try_get("id").map_err(map)?,
                    name: row.try_get("name").map_err(map)?,
                    created_at: row.try_get("created_at").map_err(map)?,
                    created_by: row.try_get("created_by").map_err(map)?,
                })
            }

            fn grant_from_row(row: &$row) -> Result<GrantRecord, StoreError> {
                Ok(GrantRecord {
                    matter_id: row.try_get("matter_id").map_err(map)?,
                    principal_kind: parse_kind(&row.try_get::<String, _>("principal_kind").map_err(map)?)?,
                    principal_id: row.try_get("principal_id").map_err(map)?,
                    granted_by: row.try_get("granted_by").map_err(map)?,
                    justification: row.try_get("justification").map_err(map)?,
                    created_at: row.try_get("created_at").map_err(map)?,
                })
            }

            fn request_from_row(row: &$row) -> Result<AccessRequestRecord, StoreError> {
                let status: String = row.try_get("status").map_err(map)?;
                Ok(AccessRequestRecord {
                    id: row.try_get("id").map_err(map)?,
                    requester_kind: parse_kind(&row.try_get::<String, _>("requester_kind").map_err(map)?)?,
                    requester_id: row.try_get("requester_id").map_err(map)?,
                    requester_name: row.try_get("requester_name").map_err(map)?,
                    action: parse_action(&row.try_get::<String, _>("action").map_err(map)?)?,
                    matter_id: row.try_get("matter_id").map_err(map)?,
                    record_id: row.try_get("record_id").map_err(map)?,
                    duration_minutes: row.try_get("duration_minutes").map_err(map)?,
                    justification: row.try_get("justification").map_err(map)?,
                    purpose: row.try_get("purpose").map_err(map)?,
                    status: AccessStatus::parse(&status)
                        .ok_or_else(|| StoreError::Backend(format!("unknown request status {status:?}").into()))?,
                    created_at: row.try_get("created_at").map_err(map)?,
                    decided_by: row.try_get("decided_by").map_err(map)?,
                    decided_at: row.try_get("decided_at").map_err(map)?,
                    decision_note: row.try_get("decision_note").map_err(map)?,
                    expires_at: row.try_get("expires_at").map_err(map)?,
                })
            }

            /// The newest row of a versioned table.
            async fn newest_version(&self, table: Versioned) -> Result<Option<VersionRow>, StoreError> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT version, {body}, updated_at, updated_by, justification FROM {table} \
                     ORDER BY version DESC LIMIT 1",
                    body = table.body_column(),
                    table = table.name(),
                )))
                .fetch_optional(&self.pool)
                .await
                .map_err(map)?;
                row.map(|row| {
                    Ok(VersionRow {
                        version: row.try_get("version").map_err(map)?,
                        body: row.try_get(table.body_column()).map_err(map)?,
                        updated_at: row.try_get("updated_at").map_err(map)?,
                        updated_by: row.try_get("updated_by").map_err(map)?,
                        justification: row.try_get("justification").map_err(map)?,
                    })
                })
                .transpose()
            }

            /// Inserts `version` with its audit records; `false` if its
            /// number is taken (another change came first).
            async fn insert_version(
                &self,
                table: Versioned,
                version: VersionRow,
                audit: &[AuditRecord],
            ) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                let inserted = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO {table} (version, {body}, updated_at, updated_by, justification) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (version) DO NOTHING",
                    body = table.body_column(),
                    table = table.name(),
                )))
                .bind(version.version)
                .bind(version.body)
                .bind(version.updated_at)
                .bind(version.updated_by)
                .bind(version.justification)
                .execute(&mut *tx)
                .await
                .map_err(map)?
                .rows_affected()
                    == 1;
                Self::commit_audited(tx, inserted, audit).await
            }
        }

        #[async_trait]
        impl AuthzStore for $store {
            async fn create_matter(
                &self,
                matter: &MatterRecord,
                creator_grant: &GrantRecord,
                audit: &[AuditRecord],
            ) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                let inserted = sqlx::query(
                    "INSERT INTO matters (id, name, created_at, created_by) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (id) DO NOTHING",
                )
                .bind(&matter.id)
                .bind(&matter.name)
                .bind(matter.created_at)
                .bind(&matter.created_by)
                .execute(&mut *tx)
                .await
                .map_err(map)?
                .rows_affected()
                    == 1;
                if inserted {
                    Self::insert_grant(&mut tx, creator_grant).await?;
                }
                Self::commit_audited(tx, inserted, audit).await
            }

            async fn matter(&self, id: &str) -> Result<Option<MatterRecord>, StoreError> {
                let row = sqlx::query("SELECT id, name, created_at, created_by FROM matters WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map)?;
                row.as_ref().map(Self::matter_from_row).transpose()
            }

            async fn list_matters(&self) -> Result<Vec<MatterRecord>, StoreError> {
                let rows = sqlx::query("SELECT id, name, created_at, created_by FROM matters ORDER BY id")
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map)?;
                rows.iter().map(Self::matter_from_row).collect()
            }

            async fn add_grant(&self, grant: &GrantRecord, audit: &[AuditRecord]) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                let inserted = Self::insert_grant(&mut tx, grant).await?;
                Self::commit_audited(tx, inserted, audit).await
            }

            async fn remove_grant(
                &self,
                matter_id: &str,
                kind: PrincipalKind,
                principal_id: &str,
                audit: &[AuditRecord],
            ) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                let removed = sqlx::query(
                    "DELETE FROM matter_grants WHERE matter_id = $1 AND principal_kind = $2 AND principal_id = $3",
                )
                .bind(matter_id)
                .bind(kind.as_str())
                .bind(principal_id)
                .execute(&mut *tx)
                .await
                .map_err(map)?
                .rows_affected()
                    > 0;
                Self::commit_audited(tx, removed, audit).await
            }

            async fn grants_on(&self, matter_id: &str) -> Result<Vec<GrantRecord>, StoreError> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {GRANT_COLUMNS} FROM matter_grants WHERE matter_id = $1 \
                     ORDER BY principal_kind, principal_id"
                )))
                .bind(matter_id)
                .fetch_all(&self.pool)
                .await
                .map_err(map)?;
                rows.iter().map(Self::grant_from_row).collect()
            }

            async fn all_grants(&self) -> Result<Vec<GrantRecord>, StoreError> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {GRANT_COLUMNS} FROM matter_grants ORDER BY matter_id, principal_kind, principal_id"
                )))
                .fetch_all(&self.pool)
                .await
                .map_err(map)?;
                rows.iter().map(Self::grant_from_row).collect()
            }

            async fn access_of(&self, kind: PrincipalKind, id: &str, now: i64) -> Result<PrincipalAccess, StoreError> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {}", access_columns(kind, "$1", "$2"))))
                    .bind(id)
                    .bind(now)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(map)?;
                parse_access(row.try_get("access_grants").map_err(map)?, row.try_get("access_elevations").map_err(map)?)
            }

            async fn insert_access_request(
                &self,
                request: &AccessRequestRecord,
                audit: &[AuditRecord],
            ) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO access_requests ({REQUEST_COLUMNS}, expiry_recorded) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
                )))
                .bind(&request.id)
                .bind(request.requester_kind.as_str())
                .bind(&request.requester_id)
                .bind(&request.requester_name)
                .bind(request.action.as_str())
                .bind(&request.matter_id)
                .bind(&request.record_id)
                .bind(request.duration_minutes)
                .bind(&request.justification)
                .bind(&request.purpose)
                .bind(request.status.as_str())
                .bind(request.created_at)
                .bind(&request.decided_by)
                .bind(request.decided_at)
                .bind(&request.decision_note)
                .bind(request.expires_at)
                .bind(false)
                .execute(&mut *tx)
                .await
                .map_err(map)?;
                Self::commit_audited(tx, true, audit).await.map(|_| ())
            }

            async fn access_request(&self, id: &str) -> Result<Option<AccessRequestRecord>, StoreError> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {REQUEST_COLUMNS} FROM access_requests WHERE id = $1"
                )))
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(map)?;
                row.as_ref().map(Self::request_from_row).transpose()
            }

            async fn list_access_requests(
                &self,
                requester: Option<(PrincipalKind, &str)>,
            ) -> Result<Vec<AccessRequestRecord>, StoreError> {
                let rows = match requester {
                    Some((kind, id)) => {
                        sqlx::query(sqlx::AssertSqlSafe(format!(
                            "SELECT {REQUEST_COLUMNS} FROM access_requests \
                         WHERE requester_kind = $1 AND requester_id = $2 ORDER BY created_at DESC, id"
                        )))
                        .bind(kind.as_str())
                        .bind(id)
                        .fetch_all(&self.pool)
                        .await
                    }
                    None => {
                        sqlx::query(sqlx::AssertSqlSafe(format!(
                            "SELECT {REQUEST_COLUMNS} FROM access_requests ORDER BY created_at DESC, id"
                        )))
                        .fetch_all(&self.pool)
                        .await
                    }
                }
                .map_err(map)?;
                rows.iter().map(Self::request_from_row).collect()
            }

            async fn decide_access_request(
                &self,
                decided: &AccessRequestRecord,
                audit: &[AuditRecord],
            ) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                let updated = sqlx::query(
                    "UPDATE access_requests SET status = $1, decided_by = $2, decided_at = $3, \
                     decision_note = $4, expires_at = $5 WHERE id = $6 AND status = 'pending'",
                )
                .bind(decided.status.as_str())
                .bind(&decided.decided_by)
                .bind(decided.decided_at)
                .bind(&decided.decision_note)
                .bind(decided.expires_at)
                .bind(&decided.id)
                .execute(&mut *tx)
                .await
                .map_err(map)?
                .rows_affected()
                    == 1;
                Self::commit_audited(tx, updated, audit).await
            }

            async fn unrecorded_expiries(&self, now: i64) -> Result<Vec<AccessRequestRecord>, StoreError> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {REQUEST_COLUMNS} FROM access_requests \
                     WHERE status = 'approved' AND expiry_recorded = $1 AND expires_at <= $2 \
                     ORDER BY expires_at, id LIMIT 500"
                )))
                .bind(false)
                .bind(now)
                .fetch_all(&self.pool)
                .await
                .map_err(map)?;
                rows.iter().map(Self::request_from_row).collect()
            }

            async fn record_expiry(&self, id: &str, audit: &[AuditRecord]) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                let updated = sqlx::query(
                    "UPDATE access_requests SET expiry_recorded = $1 WHERE id = $2 AND expiry_recorded = $3",
                )
                .bind(true)
                .bind(id)
                .bind(false)
                .execute(&mut *tx)
                .await
                .map_err(map)?
                .rows_affected()
                    == 1;
                Self::commit_audited(tx, updated, audit).await
            }

            async fn policy_document(&self) -> Result<Option<PolicyDocument>, StoreError> {
                Ok(self.newest_version(Versioned::PolicyDocuments).await?.map(|row| PolicyDocument {
                    version: row.version,
                    text: row.body,
                    updated_at: row.updated_at,
                    updated_by: row.updated_by,
                    justification: row.justification,
                }))
            }

            async fn save_policy_document(
                &self,
                document: &PolicyDocument,
                audit: &[AuditRecord],
            ) -> Result<bool, StoreError> {
                let row = VersionRow {
                    version: document.version,
                    body: document.text.clone(),
                    updated_at: document.updated_at,
                    updated_by: document.updated_by.clone(),
                    justification: document.justification.clone(),
                };
                self.insert_version(Versioned::PolicyDocuments, row, audit).await
            }

            async fn role_catalogue(&self) -> Result<Option<RoleCatalogue>, StoreError> {
                let Some(row) = self.newest_version(Versioned::RoleCatalogues).await? else { return Ok(None) };
                Ok(Some(RoleCatalogue {
                    version: row.version,
                    roles: roles_from_json(&row.body)?,
                    updated_at: row.updated_at,
                    updated_by: row.updated_by,
                    justification: row.justification,
                }))
            }

            async fn save_role_catalogue(
                &self,
                catalogue: &RoleCatalogue,
                audit: &[AuditRecord],
            ) -> Result<bool, StoreError> {
                let row = VersionRow {
                    version: catalogue.version,
                    body: roles_to_json(&catalogue.roles),
                    updated_at: catalogue.updated_at,
                    updated_by: catalogue.updated_by.clone(),
                    justification: catalogue.justification.clone(),
                };
                self.insert_version(Versioned::RoleCatalogues, row, audit).await
            }
        }
    };
}

/// `[{name, description, permissions: [action, …]}, …]`.
fn roles_to_json(roles: &[RoleDefinition]) -> String {
    serde_json::Value::Array(
        roles
            .iter()
            .map(|role| {
                serde_json::json!({
                    "name": role.name,
                    "description": role.description,
                    "permissions": role.permissions.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
    .to_string()
}

/// Reads [`roles_to_json`]'s form back, checking every definition again.
fn roles_from_json(text: &str) -> Result<Vec<RoleDefinition>, StoreError> {
    let broken = |why: String| StoreError::Backend(format!("stored role catalogue: {why}").into());
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| broken(e.to_string()))?;
    let roles = value.as_array().ok_or_else(|| broken("not an array".into()))?;
    roles
        .iter()
        .map(|role| {
            let text = |field: &str| role.get(field).and_then(|v| v.as_str()).unwrap_or_default();
            let permissions = role
                .get("permissions")
                .and_then(|v| v.as_array())
                .ok_or_else(|| broken("a role without permissions".into()))?
                .iter()
                .map(|action| {
                    let name = action.as_str().unwrap_or_default();
                    Action::parse(name).ok_or_else(|| broken(format!("unknown action {name:?}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            RoleDefinition::new(text("name"), text("description"), permissions).map_err(broken)
        })
        .collect()
}

macro_rules! impl_insert_grant {
    ($store:ident, $db:ty) => {
        impl $store {
            async fn insert_grant(
                tx: &mut sqlx::Transaction<'static, $db>,
                grant: &GrantRecord,
            ) -> Result<bool, StoreError> {
                Ok(sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO matter_grants ({GRANT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (principal_kind, principal_id, matter_id) DO NOTHING"
                )))
                .bind(grant.principal_kind.as_str())
                .bind(&grant.principal_id)
                .bind(&grant.matter_id)
                .bind(&grant.granted_by)
                .bind(&grant.justification)
                .bind(grant.created_at)
                .execute(&mut **tx)
                .await
                .map_err(map)?
                .rows_affected()
                    == 1)
            }
        }
    };
}

impl_authz_store!(SqliteStore, sqlx::sqlite::SqliteRow);
impl_authz_store!(PostgresStore, sqlx::postgres::PgRow);
impl_insert_grant!(SqliteStore, sqlx::Sqlite);
impl_insert_grant!(PostgresStore, sqlx::Postgres);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_columns_parse_back() {
        let access = parse_access(
            Some("m1 m2".into()),
            Some("ar_1 record.decrypt m1 r1 1700000000 ar_2 record.read m2 - 1700000100".into()),
        )
        .unwrap();
        assert_eq!(access.matters, ["m1", "m2"]);
        assert_eq!(access.elevations.len(), 2);
        assert_eq!(access.elevations[0].record_id.as_deref(), Some("r1"));
        assert_eq!(access.elevations[1].record_id, None);
        assert_eq!(access.elevations[1].expires_at, 1_700_000_100);
        assert_eq!(parse_access(None, None).unwrap(), PrincipalAccess::default());
        assert!(parse_access(None, Some("ar_1 record.read".into())).is_err());
    }
}
