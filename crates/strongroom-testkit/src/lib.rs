//! Test support shared by the crates' integration tests.
//!
//! Which API should I use?
//! - [`TestDatabase`] gives a test its own empty database: a SQLite file in a
//!   temporary directory, or a fresh schema in the PostgreSQL named by
//!   `STRONGROOM_TEST_POSTGRES_URL` (dropped again when the value is dropped).
//! - [`TestServer`] runs the real `strongroom` binary as a child process on a
//!   free port, with its own data dir, and stops it when dropped.
//! - [`run_cli`] runs any other subcommand and captures its output.
//! - [`OpenBao`] runs a real OpenBao dev server with transit mounted;
//!   [`Moto`] local AWS KMS, STS and IAM APIs (moto in server mode, over
//!   HTTP or HTTPS, checking signatures on request); [`SoftHsm`] a
//!   SoftHSM2 token with an AES key (PKCS#11); [`PostgresCluster`] a
//!   PostgreSQL cluster of the test's own, serving TLS with its certificate.
//!
//! Every test makes its own data; nothing here is shared between tests, so
//! they run in parallel and in any order.

mod database;
mod moto;
mod openbao;
mod postgres_cluster;
mod server;
mod softhsm;

pub use database::{POSTGRES_URL_VARIABLE, TestDatabase};
pub use moto::{MOTO_VARIABLE, Moto};
pub use openbao::{BAO_ROOT_TOKEN, BAO_VARIABLE, OpenBao};
pub use postgres_cluster::PostgresCluster;
pub use server::{CliOutput, ServerBuilder, TestServer, run_cli};
pub use softhsm::{SOFTHSM_VARIABLE, SoftHsm};
