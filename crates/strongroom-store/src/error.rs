//! Mapping sqlx errors onto the port's [`StoreError`]: a unique violation is
//! a `Conflict`, everything else is `Backend` with its source kept for the log.

use strongroom_core::StoreError;

pub(crate) fn map(error: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &error
        && db.is_unique_violation()
    {
        return StoreError::Conflict(db.message().to_owned());
    }
    StoreError::Backend(Box::new(error))
}

pub(crate) fn migrate(error: sqlx::migrate::MigrateError) -> StoreError {
    StoreError::Backend(Box::new(error))
}
