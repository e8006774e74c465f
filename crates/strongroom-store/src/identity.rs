//! The [`IdentityStore`] implementation for both engines. Roles are one
//! space-separated column; an unknown role read back is reported as
//! corruption. Every change ends with `commit_audited` (audit.rs), so it
//! commits together with its audit records or not at all.
//!
//! Personal data arrives sealed (core seals it): the clear columns of
//! migration 0005 (`users.email`, `users.full_name`, `sessions.ip`,
//! `sessions.user_agent`) are written empty, and hold values only in rows
//! written before migration 0014, until the start-up sealing empties them.

use async_trait::async_trait;
use sqlx::Row;
use strongroom_core::StoreError;
use strongroom_core::audit::AuditRecord;
use strongroom_core::authz::{PrincipalAccess, PrincipalKind};
use strongroom_core::identity::{
    IdentityStore, OneTimeKind, RefreshOutcome, Role, SealedSessionFields, SealedUserFields, SessionRecord,
    UnsealedSession, UnsealedUser, UserRecord,
};

use crate::authz::{access_columns, parse_access};
use crate::engines::{PostgresStore, SqliteStore};
use crate::error::map;

const USER_COLUMNS: &str = "u.id, u.username, u.sealed_email, u.sealed_full_name, u.roles, u.password_hash, u.disabled, u.locked, \
                            u.totp_sealed_secret, u.totp_enabled, u.totp_last_step, u.created_at, u.updated_at, \
                            u.row_version";
const SESSION_COLUMNS: &str = "s.id AS s_id, s.user_id AS s_user_id, s.created_at AS s_created_at, \
                               s.created_ms AS s_created_ms, \
                               s.last_seen_at AS s_last_seen_at, s.expires_at AS s_expires_at, \
                               s.sealed_ip AS s_sealed_ip, s.sealed_user_agent AS s_sealed_user_agent, \
                               s.ip_mac AS s_ip_mac, s.user_agent_mac AS s_user_agent_mac, s.mfa_at AS s_mfa_at, s.revoked_at AS s_revoked_at, \
                               s.revoked_reason AS s_revoked_reason";

fn roles_text(roles: &[Role]) -> String {
    roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(" ")
}

fn parse_roles(text: &str) -> Result<Vec<Role>, StoreError> {
    text.split_whitespace()
        .map(|r| Role::parse(r).ok_or_else(|| StoreError::Backend(format!("unknown stored role {r:?}").into())))
        .collect()
}

macro_rules! impl_identity_store {
    ($store:ident, $row:ty) => {
        impl $store {
            fn user_from_row(row: &$row) -> Result<UserRecord, StoreError> {
                Ok(UserRecord {
                    id: row.try_get("id").map_err(map)?,
                    username: row.try_get("username").map_err(map)?,
                    sealed_email: sealed_column(row.try_get("sealed_email").map_err(map)?, "email")?,
                    sealed_full_name: sealed_column(row.try_get("sealed_full_name").map_err(map)?, "full_name")?,
                    roles: parse_roles(&row.try_get::<String, _>("roles").map_err(map)?)?,
                    password_hash: row.try_get("password_hash").map_err(map)?,
                    disabled: row.try_get("disabled").map_err(map)?,
                    locked: row.try_get("locked").map_err(map)?,
                    totp_sealed_secret: row.try_get("totp_sealed_secret").map_err(map)?,
                    totp_enabled: row.try_get("totp_enabled").map_err(map)?,
                    totp_last_step: row.try_get("totp_last_step").map_err(map)?,
                    created_at: row.try_get("created_at").map_err(map)?,
                    updated_at: row.try_get("updated_at").map_err(map)?,
                    row_version: row.try_get("row_version").map_err(map)?,
                })
            }

            fn session_from_row(row: &$row) -> Result<SessionRecord, StoreError> {
                Ok(SessionRecord {
                    id: row.try_get("s_id").map_err(map)?,
                    user_id: row.try_get("s_user_id").map_err(map)?,
                    created_at: row.try_get("s_created_at").map_err(map)?,
                    created_ms: row.try_get("s_created_ms").map_err(map)?,
                    last_seen_at: row.try_get("s_last_seen_at").map_err(map)?,
                    expires_at: row.try_get("s_expires_at").map_err(map)?,
                    sealed_ip: row.try_get("s_sealed_ip").map_err(map)?,
                    sealed_user_agent: row.try_get("s_sealed_user_agent").map_err(map)?,
                    ip_mac: row.try_get("s_ip_mac").map_err(map)?,
                    user_agent_mac: row.try_get("s_user_agent_mac").map_err(map)?,
                    mfa_at: row.try_get("s_mfa_at").map_err(map)?,
                    revoked_at: row.try_get("s_revoked_at").map_err(map)?,
                    revoked_reason: row.try_get("s_revoked_reason").map_err(map)?,
                })
            }

            async fn one_user(&self, column: &str, value: &str) -> Result<Option<UserRecord>, StoreError> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {USER_COLUMNS} FROM users u WHERE u.{column} = $1")))
                    .bind(value)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map)?;
                row.as_ref().map(Self::user_from_row).transpose()
            }
        }

        #[async_trait]
        impl IdentityStore for $store {
            async fn insert_user(&self, user: &UserRecord, audit: &[AuditRecord]) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO users (id, username, email, full_name, sealed_email, sealed_full_name, roles, \
                     password_hash, disabled, locked, totp_sealed_secret, totp_enabled, totp_last_step, created_at, \
                     updated_at) VALUES ($1, $2, '', '', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                )
                .bind(&user.id)
                .bind(&user.username)
                .bind(&user.sealed_email)
                .bind(&user.sealed_full_name)
                .bind(roles_text(&user.roles))
                .bind(&user.password_hash)
                .bind(user.disabled)
                .bind(user.locked)
                .bind(&user.totp_sealed_secret)
                .bind(user.totp_enabled)
                .bind(user.totp_last_step)
                .bind(user.created_at)
                .bind(user.updated_at)
                .execute(&mut *tx)
                .await
                .map_err(map)?;
                Self::commit_audited(tx, true, audit).await.map(|_| ())
            }

            async fn user(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
                self.one_user("id", id).await
            }

            async fn user_by_username(&self, username: &str) -> Result<Option<UserRecord>, StoreError> {
                self.one_user("username", username).await
            }

            async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {USER_COLUMNS} FROM users u ORDER BY u.username")))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map)?;
                rows.iter().map(Self::user_from_row).collect()
            }

            async fn any_user(&self) -> Result<bool, StoreError> {
                let row = sqlx::query("SELECT 1 FROM users LIMIT 1").fetch_optional(&self.pool).await.map_err(map)?;
                Ok(row.is_some())
            }

            async fn update_user(&self, user: &UserRecord, audit: &[AuditRecord]) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                let updated = sqlx::query(
                    "UPDATE users SET email = '', full_name = '', sealed_email = $1, sealed_full_name = $2, roles = $3, password_hash = $4, disabled = $5, \
                     locked = $6, totp_sealed_secret = $7, totp_enabled = $8, totp_last_step = $9, updated_at = $10, \
                     row_version = row_version + 1 WHERE id = $11 AND row_version = $12",
                )
                .bind(&user.sealed_email)
                .bind(&user.sealed_full_name)
                .bind(roles_text(&user.roles))
                .bind(&user.password_hash)
                .bind(user.disabled)
                .bind(user.locked)
                .bind(&user.totp_sealed_secret)
                .bind(user.totp_enabled)
                .bind(user.totp_last_step)
                .bind(user.updated_at)
                .bind(&user.id)
                .bind(user.row_version)
                .execute(&mut *tx)
                .await
                .map_err(map)?;
                Self::commit_audited(tx, updated.rows_affected() == 1, audit).await
            }

            async fn advance_totp_step(
                &self,
                user_id: &str,
                step: i64,
                audit: &[AuditRecord],
            ) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                let updated = sqlx::query(
                    "UPDATE users SET totp_last_step = $1, row_version = row_version + 1 \
                     WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)",
                )
                .bind(step)
                .bind(user_id)
                .execute(&mut *tx)
                .await
                .map_err(map)?;
                Self::commit_audited(tx, updated.rows_affected() == 1, audit).await
            }

            async fn insert_session(
                &self,
                session: &SessionRecord,
                refresh_hash: &[u8],
                evict: &[String],
                audit: &[AuditRecord],
            ) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO sessions (id, user_id, created_at, created_ms, last_seen_at, expires_at, sealed_ip, \
                     sealed_user_agent, ip_mac, user_agent_mac, mfa_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(&session.id)
                .bind(&session.user_id)
                .bind(session.created_at)
                .bind(session.created_ms)
                .bind(session.last_seen_at)
                .bind(session.expires_at)
                .bind(&session.sealed_ip)
                .bind(&session.sealed_user_agent)
                .bind(&session.ip_mac)
                .bind(&session.user_agent_mac)
                .bind(session.mfa_at)
                .execute(&mut *tx)
                .await
                .map_err(map)?;
                sqlx::query("INSERT INTO refresh_tokens (hash, session_id, created_at) VALUES ($1, $2, $3)")
                    .bind(refresh_hash)
                    .bind(&session.id)
                    .bind(session.created_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(map)?;
                for id in evict {
                    sqlx::query(
                        "UPDATE sessions SET revoked_at = $1, revoked_reason = 'evicted' WHERE id = $2 AND revoked_at IS NULL",
                    )
                    .bind(session.created_at)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(map)?;
                }
                Self::commit_audited(tx, true, audit).await.map(|_| ())
            }

            async fn session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.id = $1")))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map)?;
                row.as_ref().map(Self::session_from_row).transpose()
            }

            async fn session_with_user(
                &self,
                id: &str,
                now: i64,
            ) -> Result<Option<(SessionRecord, UserRecord, PrincipalAccess)>, StoreError> {
                let access = access_columns(PrincipalKind::User, "u.id", "$2");
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {SESSION_COLUMNS}, {USER_COLUMNS}, {access} \
                     FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1"
                )))
                .bind(id)
                .bind(now)
                .fetch_optional(&self.pool)
                .await
                .map_err(map)?;
                row.as_ref()
                    .map(|row| {
                        let access = parse_access(
                            row.try_get("access_grants").map_err(map)?,
                            row.try_get("access_elevations").map_err(map)?,
                        )?;
                        Ok((Self::session_from_row(row)?, Self::user_from_row(row)?, access))
                    })
                    .transpose()
            }

            async fn sessions_of(&self, user_id: &str, include_revoked: bool) -> Result<Vec<SessionRecord>, StoreError> {
                let live = if include_revoked { "" } else { " AND s.revoked_at IS NULL" };
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.user_id = $1{live} ORDER BY s.created_ms DESC, s.id"
                )))
                .bind(user_id)
                .fetch_all(&self.pool)
                .await
                .map_err(map)?;
                rows.iter().map(Self::session_from_row).collect()
            }

            async fn touch_sessions(&self, seen: &[(String, i64)]) -> Result<(), StoreError> {
                let mut tx = self.writer.begin().await.map_err(map)?;
                for (id, at) in seen {
                    sqlx::query(
                        "UPDATE sessions SET last_seen_at = $1 WHERE id = $2 AND last_seen_at < $1",
                    )
                    .bind(at)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(map)?;
                }
                tx.commit().await.map_err(map)
            }

            async fn set_session_mfa(&self, id: &str, at: i64) -> Result<(), StoreError> {
                sqlx::query("UPDATE sessions SET mfa_at = $1 WHERE id = $2")
                    .bind(at)
                    .bind(id)
                    .execute(&self.writer)
                    .await
                    .map_err(map)?;
                Ok(())
            }

            async fn revoke_session(
                &self,
                id: &str,
                at: i64,
                reason: &str,
                audit: &[AuditRecord],
            ) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                let revoked = sqlx::query(
                    "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 WHERE id = $3 AND revoked_at IS NULL",
                )
                .bind(at)
                .bind(reason)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(map)?;
                Self::commit_audited(tx, revoked.rows_affected() == 1, audit).await
            }

            async fn revoke_user_sessions(
                &self,
                user_id: &str,
                at: i64,
                reason: &str,
                audit: &[AuditRecord],
            ) -> Result<u64, StoreError> {
                let mut tx = self.begin_write().await?;
                let revoked = sqlx::query(
                    "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 WHERE user_id = $3 AND revoked_at IS NULL",
                )
                .bind(at)
                .bind(reason)
                .bind(user_id)
                .execute(&mut *tx)
                .await
                .map_err(map)?;
                Self::commit_audited(tx, true, audit).await?;
                Ok(revoked.rows_affected())
            }

            async fn refresh_session(&self, presented: &[u8]) -> Result<Option<String>, StoreError> {
                let row = sqlx::query("SELECT session_id FROM refresh_tokens WHERE hash = $1")
                    .bind(presented)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map)?;
                row.map(|row| row.try_get("session_id").map_err(map)).transpose()
            }

            async fn rotate_refresh_token(
                &self,
                presented: &[u8],
                next: &[u8],
                at: i64,
                audit_rotated: &[AuditRecord],
                audit_reused: &[AuditRecord],
            ) -> Result<RefreshOutcome, StoreError> {
                let mut tx = self.begin_write().await?;
                let claimed = sqlx::query(
                    "UPDATE refresh_tokens SET used_at = $1 WHERE hash = $2 AND used_at IS NULL \
                     AND session_id IN (SELECT id FROM sessions WHERE revoked_at IS NULL AND expires_at > $1) \
                     RETURNING session_id",
                )
                .bind(at)
                .bind(presented)
                .fetch_optional(&mut *tx)
                .await
                .map_err(map)?;
                if let Some(row) = claimed {
                    let session_id: String = row.try_get("session_id").map_err(map)?;
                    sqlx::query("INSERT INTO refresh_tokens (hash, session_id, created_at) VALUES ($1, $2, $3)")
                        .bind(next)
                        .bind(&session_id)
                        .bind(at)
                        .execute(&mut *tx)
                        .await
                        .map_err(map)?;
                    Self::commit_audited(tx, true, audit_rotated).await?;
                    return Ok(RefreshOutcome::Rotated { session_id });
                }
                let known = sqlx::query("SELECT session_id, used_at FROM refresh_tokens WHERE hash = $1")
                    .bind(presented)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(map)?;
                let Some(row) = known else {
                    Self::commit_audited(tx, false, &[]).await?;
                    return Ok(RefreshOutcome::Unknown);
                };
                let session_id: String = row.try_get("session_id").map_err(map)?;
                let used: Option<i64> = row.try_get("used_at").map_err(map)?;
                if used.is_none() {
                    // Unused but its session is dead: nothing to rotate, nothing stolen.
                    Self::commit_audited(tx, false, &[]).await?;
                    return Ok(RefreshOutcome::Unknown);
                }
                sqlx::query(
                    "UPDATE sessions SET revoked_at = $1, revoked_reason = 'token_reuse' WHERE id = $2 AND revoked_at IS NULL",
                )
                .bind(at)
                .bind(&session_id)
                .execute(&mut *tx)
                .await
                .map_err(map)?;
                Self::commit_audited(tx, true, audit_reused).await?;
                Ok(RefreshOutcome::Reused { session_id })
            }

            async fn count_failure(&self, key: &str, at: i64, window: i64) -> Result<u64, StoreError> {
                let row = sqlx::query(
                    "INSERT INTO login_throttle (throttle_key, failures, window_start) VALUES ($1, 1, $2) \
                     ON CONFLICT (throttle_key) DO UPDATE SET \
                     failures = CASE WHEN login_throttle.window_start < $3 THEN 1 ELSE login_throttle.failures + 1 END, \
                     window_start = CASE WHEN login_throttle.window_start < $3 THEN $2 ELSE login_throttle.window_start END \
                     RETURNING failures",
                )
                .bind(key)
                .bind(at)
                .bind(at - window)
                .fetch_one(&self.writer)
                .await
                .map_err(map)?;
                let failures: i64 = row.try_get("failures").map_err(map)?;
                Ok(u64::try_from(failures).unwrap_or(0))
            }

            async fn lock_key(&self, key: &str, until: i64) -> Result<(), StoreError> {
                sqlx::query("UPDATE login_throttle SET locked_until = $1 WHERE throttle_key = $2")
                    .bind(until)
                    .bind(key)
                    .execute(&self.writer)
                    .await
                    .map_err(map)?;
                Ok(())
            }

            async fn locked_until(&self, key: &str) -> Result<Option<i64>, StoreError> {
                let row = sqlx::query("SELECT locked_until FROM login_throttle WHERE throttle_key = $1")
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map)?;
                Ok(row.map(|row| row.try_get::<Option<i64>, _>("locked_until")).transpose().map_err(map)?.flatten())
            }

            async fn clear_failures(&self, key: &str) -> Result<(), StoreError> {
                // The key and every key under it (`<key>|…`: an account's per-address keys).
                sqlx::query(
                    "DELETE FROM login_throttle WHERE throttle_key = $1 \
                     OR substr(throttle_key, 1, length($2)) = $2",
                )
                .bind(key)
                .bind(format!("{key}|"))
                    .execute(&self.writer)
                    .await
                    .map_err(map)?;
                Ok(())
            }

            async fn unsealed_users(&self, limit: u32) -> Result<Vec<UnsealedUser>, StoreError> {
                let rows = sqlx::query(
                    "SELECT id, email, full_name FROM users WHERE sealed_email IS NULL OR sealed_full_name IS NULL \
                     ORDER BY id LIMIT $1",
                )
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(map)?;
                rows.iter()
                    .map(|row| {
                        Ok(UnsealedUser {
                            id: row.try_get("id").map_err(map)?,
                            email: row.try_get("email").map_err(map)?,
                            full_name: row.try_get("full_name").map_err(map)?,
                        })
                    })
                    .collect()
            }

            async fn unsealed_sessions(&self, limit: u32) -> Result<Vec<UnsealedSession>, StoreError> {
                let rows = sqlx::query(
                    "SELECT id, ip, user_agent FROM sessions WHERE ip IS NOT NULL OR user_agent IS NOT NULL \
                     ORDER BY id LIMIT $1",
                )
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(map)?;
                rows.iter()
                    .map(|row| {
                        Ok(UnsealedSession {
                            id: row.try_get("id").map_err(map)?,
                            ip: row.try_get("ip").map_err(map)?,
                            user_agent: row.try_get("user_agent").map_err(map)?,
                        })
                    })
                    .collect()
            }

            async fn seal_old_rows(
                &self,
                users: &[SealedUserFields],
                sessions: &[SealedSessionFields],
            ) -> Result<(), StoreError> {
                let mut tx = self.writer.begin().await.map_err(map)?;
                for user in users {
                    // Only a row still unsealed: one another instance sealed
                    // (or a user changed since) keeps what it has.
                    sqlx::query(
                        "UPDATE users SET sealed_email = $1, sealed_full_name = $2, email = '', full_name = '' \
                         WHERE id = $3 AND (sealed_email IS NULL OR sealed_full_name IS NULL)",
                    )
                    .bind(&user.sealed_email)
                    .bind(&user.sealed_full_name)
                    .bind(&user.id)
                    .execute(&mut *tx)
                    .await
                    .map_err(map)?;
                }
                for session in sessions {
                    sqlx::query(
                        "UPDATE sessions SET sealed_ip = $1, sealed_user_agent = $2, ip_mac = $3, user_agent_mac = $4, \
                         ip = NULL, user_agent = NULL WHERE id = $5 AND (ip IS NOT NULL OR user_agent IS NOT NULL)",
                    )
                    .bind(&session.sealed_ip)
                    .bind(&session.sealed_user_agent)
                    .bind(&session.ip_mac)
                    .bind(&session.user_agent_mac)
                    .bind(&session.id)
                    .execute(&mut *tx)
                    .await
                    .map_err(map)?;
                }
                tx.commit().await.map_err(map)
            }

            async fn forget_cleared_values(&self) -> Result<(), StoreError> {
                self.checkpoint_wal().await
            }

            async fn insert_one_time(
                &self,
                kind: OneTimeKind,
                hash: &[u8],
                user_id: &str,
                expires_at: i64,
                audit: &[AuditRecord],
            ) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query("INSERT INTO one_time_tokens (hash, kind, user_id, expires_at) VALUES ($1, $2, $3, $4)")
                    .bind(hash)
                    .bind(kind.as_str())
                    .bind(user_id)
                    .bind(expires_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(map)?;
                Self::commit_audited(tx, true, audit).await.map(|_| ())
            }

            async fn consume_one_time(&self, kind: OneTimeKind, hash: &[u8], at: i64) -> Result<Option<String>, StoreError> {
                let row = sqlx::query(
                    "UPDATE one_time_tokens SET used_at = $1 WHERE hash = $2 AND kind = $3 AND used_at IS NULL \
                     AND expires_at > $1 RETURNING user_id",
                )
                .bind(at)
                .bind(hash)
                .bind(kind.as_str())
                .fetch_optional(&self.writer)
                .await
                .map_err(map)?;
                row.map(|row| row.try_get("user_id").map_err(map)).transpose()
            }

            async fn replace_recovery_codes(&self, user_id: &str, hashes: &[Vec<u8>]) -> Result<(), StoreError> {
                let mut tx = self.writer.begin().await.map_err(map)?;
                sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(map)?;
                for hash in hashes {
                    sqlx::query("INSERT INTO recovery_codes (user_id, hash) VALUES ($1, $2)")
                        .bind(user_id)
                        .bind(hash)
                        .execute(&mut *tx)
                        .await
                        .map_err(map)?;
                }
                tx.commit().await.map_err(map)
            }

            async fn use_recovery_code(&self, user_id: &str, hash: &[u8], at: i64) -> Result<bool, StoreError> {
                let used = sqlx::query(
                    "UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND hash = $3 AND used_at IS NULL",
                )
                .bind(at)
                .bind(user_id)
                .bind(hash)
                .execute(&self.writer)
                .await
                .map_err(map)?;
                Ok(used.rows_affected() == 1)
            }

            async fn recovery_codes_left(&self, user_id: &str) -> Result<u64, StoreError> {
                let row = sqlx::query("SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL")
                    .bind(user_id)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(map)?;
                let count: i64 = row.try_get("n").map_err(map)?;
                Ok(u64::try_from(count).unwrap_or(0))
            }
        }
    };
}

/// A sealed column of a user read back: every row has one once the
/// start-up sealing ran, so a missing one is an unsealed row read too early.
fn sealed_column(value: Option<Vec<u8>>, column: &str) -> Result<Vec<u8>, StoreError> {
    value.ok_or_else(|| {
        StoreError::Backend(format!("users.{column} is not sealed yet: start the server once to seal it").into())
    })
}

impl SqliteStore {
    /// Moves the write-ahead log into the main file and truncates it, so
    /// pages that held emptied values are gone from the `-wal` file (the
    /// main file's freed space was zeroed as it was freed: `secure_delete`).
    async fn checkpoint_wal(&self) -> Result<(), StoreError> {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&self.writer).await.map_err(map)?;
        Ok(())
    }
}

impl PostgresStore {
    /// Nothing to do in the server's reach: PostgreSQL reclaims the old row
    /// versions by (auto)vacuum, and its files are not the operator's to grep.
    async fn checkpoint_wal(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

impl_identity_store!(SqliteStore, sqlx::sqlite::SqliteRow);
impl_identity_store!(PostgresStore, sqlx::postgres::PgRow);
