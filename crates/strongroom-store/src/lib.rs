//! SQLite and PostgreSQL implementations of `strongroom-core`'s storage port.
//!
//! Which API should I use?
//! - [`Database::connect`] opens the database named by a URL (`sqlite://…` or
//!   `postgres://…`), [`Database::migrate`] applies pending migrations, and
//!   [`Database::store`] hands the domain its `Arc<dyn Store>`.
//!
//! Migrations live in `migrations/sqlite` and `migrations/postgres`, one file
//! per version in each, with the same meaning on both engines. They are
//! compiled into the binary, so a deployment never needs the source tree.
//!
//! Invariant: several processes may share one PostgreSQL database. Migrations
//! take PostgreSQL's advisory lock, and every multi-row change is a transaction.

mod api_keys;
mod archive;
mod audit;
mod audit_sql;
mod authz;
mod database;
mod engines;
mod error;
mod housekeeping;
mod identity;
mod jobs;
mod keys;
mod migrations;
mod passkeys;
mod rate_limits;
mod records;
mod settings;
mod sqlite_audit_writer;

pub use database::{ConnectOptions, Database, PoolUsage, PostgresTls, PostgresTlsMode};
pub use migrations::MigrationReport;
pub use rate_limits::PostgresRateLimits;
