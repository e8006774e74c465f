//! Random ids of the things the domain creates.

use strongroom_crypto::{random_bytes, to_hex};

use crate::CoreError;

/// `prefix` and 24 random hex digits: ids of matters, access requests, jobs.
pub(crate) fn random_id(prefix: &str) -> Result<String, CoreError> {
    Ok(format!("{prefix}{}", to_hex(&random_bytes::<12>()?)))
}
