//! Mapping sqlx errors onto the port's [`StoreError`]: a unique violation is
//! a `Conflict`; an unreachable, shutting-down or busy database is
//! `Unavailable` (transient); full or read-only storage is `StorageFull`;
//! everything else is `Backend` (a bug or a broken schema) with its source
//! kept for the log.

use strongroom_core::StoreError;

/// What kind of failure an error is, before it is wrapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Conflict,
    Unavailable,
    StorageFull,
    Backend,
}

pub(crate) fn map(error: sqlx::Error) -> StoreError {
    match kind(&error) {
        Kind::Conflict => {
            let message = match &error {
                sqlx::Error::Database(db) => db.message().to_owned(),
                other => other.to_string(),
            };
            StoreError::Conflict(message)
        }
        Kind::Unavailable => StoreError::Unavailable(Box::new(error)),
        Kind::StorageFull => StoreError::StorageFull(Box::new(error)),
        Kind::Backend => StoreError::Backend(Box::new(error)),
    }
}

fn kind(error: &sqlx::Error) -> Kind {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => Kind::Unavailable,
        sqlx::Error::Database(db) if db.is_unique_violation() => Kind::Conflict,
        sqlx::Error::Database(db) => match db.code() {
            // PostgreSQL's SQLSTATEs can be all digits too, so the engine decides how to read one.
            Some(code) if db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>().is_some() => postgres_code(&code),
            Some(code) => sqlite_code(&code),
            None => Kind::Backend,
        },
        _ => Kind::Backend,
    }
}

/// SQLite's (extended) result code, as a number.
fn sqlite_code(code: &str) -> Kind {
    // The primary code is the low byte of an extended one.
    match code.parse::<i32>().map(|code| code & 0xff) {
        // SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR, SQLITE_CANTOPEN, SQLITE_PROTOCOL
        Ok(5 | 6 | 10 | 14 | 15) => Kind::Unavailable,
        // SQLITE_FULL, SQLITE_READONLY
        Ok(13 | 8) => Kind::StorageFull,
        _ => Kind::Backend,
    }
}

/// PostgreSQL's SQLSTATE (five characters).
fn postgres_code(code: &str) -> Kind {
    match code {
        // disk_full, out of memory is not storage; insufficient_resources as a class is
        "53100" => Kind::StorageFull,
        // connection exceptions, resources, operator intervention (shutdowns),
        // serialization failures and deadlocks, lock timeouts, a dropped
        // database, a refused role, read-only transactions on a standby
        _ if code.starts_with("08")
            || code.starts_with("53")
            || code.starts_with("57")
            || code.starts_with("28")
            || matches!(code, "40001" | "40P01" | "55P03" | "3D000" | "25006") =>
        {
            Kind::Unavailable
        }
        _ => Kind::Backend,
    }
}

pub(crate) fn migrate(error: sqlx::migrate::MigrateError) -> StoreError {
    StoreError::Backend(Box::new(error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_codes_are_told_apart() {
        assert_eq!(sqlite_code("13"), Kind::StorageFull, "SQLITE_FULL");
        assert_eq!(sqlite_code("1032"), Kind::StorageFull, "SQLITE_READONLY_DBMOVED");
        assert_eq!(sqlite_code("5"), Kind::Unavailable, "SQLITE_BUSY");
        assert_eq!(sqlite_code("3338"), Kind::Unavailable, "SQLITE_IOERR_FSYNC");
        assert_eq!(sqlite_code("1"), Kind::Backend, "SQLITE_ERROR: a bug");
        assert_eq!(postgres_code("53100"), Kind::StorageFull, "disk_full");
        assert_eq!(postgres_code("57P01"), Kind::Unavailable, "admin_shutdown");
        assert_eq!(postgres_code("08006"), Kind::Unavailable, "connection_failure");
        assert_eq!(postgres_code("3D000"), Kind::Unavailable, "the database was dropped");
        assert_eq!(postgres_code("28000"), Kind::Unavailable, "the role is refused: all digits, yet not SQLite's");
        assert_eq!(postgres_code("40001"), Kind::Unavailable, "serialization_failure");
        assert_eq!(postgres_code("42P01"), Kind::Backend, "undefined_table: a bug");
        assert_eq!(kind(&sqlx::Error::PoolTimedOut), Kind::Unavailable);
        assert_eq!(kind(&sqlx::Error::RowNotFound), Kind::Backend);
    }
}
