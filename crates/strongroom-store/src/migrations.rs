//! Migrations compiled into the binary. sqlx's `migrate!` macro would need its
//! proc-macro stack (a heavy build); this list does the same with `include_str!`.
//!
//! To add a migration: add `NNNN_name.sql` under both `migrations/sqlite` and
//! `migrations/postgres` and a line in each list below. Never edit an applied
//! migration: sqlx refuses a changed checksum, and so do we.

use std::borrow::Cow;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

type Source = (i64, &'static str, &'static str);

pub(crate) const SQLITE: &[Source] = &[
    (1, "settings", include_str!("../migrations/sqlite/0001_settings.sql")),
    (2, "keyring", include_str!("../migrations/sqlite/0002_keyring.sql")),
    (3, "api_keys", include_str!("../migrations/sqlite/0003_api_keys.sql")),
    (4, "audit", include_str!("../migrations/sqlite/0004_audit.sql")),
    (5, "identity", include_str!("../migrations/sqlite/0005_identity.sql")),
    (6, "api_key_limits", include_str!("../migrations/sqlite/0006_api_key_limits.sql")),
    (7, "authz", include_str!("../migrations/sqlite/0007_authz.sql")),
    (8, "records", include_str!("../migrations/sqlite/0008_records.sql")),
    (9, "record_blobs", include_str!("../migrations/sqlite/0009_record_blobs.sql")),
    (10, "key_jobs", include_str!("../migrations/sqlite/0010_key_jobs.sql")),
    (11, "change_generation", include_str!("../migrations/sqlite/0011_change_generation.sql")),
    (12, "audit_nodes_by_last_leaf", include_str!("../migrations/sqlite/0012_audit_nodes_by_last_leaf.sql")),
    (13, "user_row_version", include_str!("../migrations/sqlite/0013_user_row_version.sql")),
    (14, "sealed_personal_data", include_str!("../migrations/sqlite/0014_sealed_personal_data.sql")),
    (15, "audit_hmacs_by_leaf", include_str!("../migrations/sqlite/0015_audit_hmacs_by_leaf.sql")),
    (16, "audit_severity", include_str!("../migrations/sqlite/0016_audit_severity.sql")),
    (17, "role_catalogues", include_str!("../migrations/sqlite/0017_role_catalogues.sql")),
    (18, "redaction_terms", include_str!("../migrations/sqlite/0018_redaction_terms.sql")),
    (19, "rate_limits", include_str!("../migrations/sqlite/0019_rate_limits.sql")),
    (20, "audit_partial_indexes", include_str!("../migrations/sqlite/0020_audit_partial_indexes.sql")),
    (21, "passkeys", include_str!("../migrations/sqlite/0021_passkeys.sql")),
];

pub(crate) const POSTGRES: &[Source] = &[
    (1, "settings", include_str!("../migrations/postgres/0001_settings.sql")),
    (2, "keyring", include_str!("../migrations/postgres/0002_keyring.sql")),
    (3, "api_keys", include_str!("../migrations/postgres/0003_api_keys.sql")),
    (4, "audit", include_str!("../migrations/postgres/0004_audit.sql")),
    (5, "identity", include_str!("../migrations/postgres/0005_identity.sql")),
    (6, "api_key_limits", include_str!("../migrations/postgres/0006_api_key_limits.sql")),
    (7, "authz", include_str!("../migrations/postgres/0007_authz.sql")),
    (8, "records", include_str!("../migrations/postgres/0008_records.sql")),
    (9, "record_blobs", include_str!("../migrations/postgres/0009_record_blobs.sql")),
    (10, "key_jobs", include_str!("../migrations/postgres/0010_key_jobs.sql")),
    (11, "change_generation", include_str!("../migrations/postgres/0011_change_generation.sql")),
    (12, "audit_nodes_by_last_leaf", include_str!("../migrations/postgres/0012_audit_nodes_by_last_leaf.sql")),
    (13, "user_row_version", include_str!("../migrations/postgres/0013_user_row_version.sql")),
    (14, "sealed_personal_data", include_str!("../migrations/postgres/0014_sealed_personal_data.sql")),
    (15, "audit_hmacs_by_leaf", include_str!("../migrations/postgres/0015_audit_hmacs_by_leaf.sql")),
    (16, "audit_severity", include_str!("../migrations/postgres/0016_audit_severity.sql")),
    (17, "role_catalogues", include_str!("../migrations/postgres/0017_role_catalogues.sql")),
    (18, "redaction_terms", include_str!("../migrations/postgres/0018_redaction_terms.sql")),
    (19, "rate_limits", include_str!("../migrations/postgres/0019_rate_limits.sql")),
    (20, "audit_partial_indexes", include_str!("../migrations/postgres/0020_audit_partial_indexes.sql")),
    (21, "passkeys", include_str!("../migrations/postgres/0021_passkeys.sql")),
];

pub(crate) fn migrator(sources: &[Source]) -> Migrator {
    Migrator::with_migrations(
        sources
            .iter()
            .map(|(version, description, sql)| {
                Migration::new(*version, Cow::Borrowed(*description), MigrationType::Simple, sql.into_sql_str(), false)
            })
            .collect(),
    )
}

/// What [`crate::Database::migrate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// Schema version before.
    pub from_version: i64,
    /// Schema version after (the newest this binary knows).
    pub to_version: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_engines_have_the_same_versions_in_order() {
        let versions = |list: &[Source]| list.iter().map(|(v, d, _)| (*v, *d)).collect::<Vec<_>>();
        assert_eq!(versions(SQLITE), versions(POSTGRES));
        for (index, (version, _, _)) in SQLITE.iter().enumerate() {
            assert_eq!(*version, index as i64 + 1, "versions must be 1, 2, 3, … without gaps");
        }
    }
}
