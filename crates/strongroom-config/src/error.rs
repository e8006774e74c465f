//! Configuration errors. Each says where the bad value came from (file or
//! environment variable) and what is expected, so the operator can fix it.

use std::path::PathBuf;

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file, or the file combined with environment overrides, does not fit the schema.
    #[error("invalid configuration{origin}: {message}")]
    Invalid {
        /// ` in <file>` or empty.
        origin: String,
        /// The parser's explanation, with line and column where known.
        message: String,
    },
    /// An environment variable names a key that does not exist.
    #[error("environment variable {variable} names no configuration key ({hint})")]
    UnknownVariable {
        /// The variable.
        variable: String,
        /// What keys that section has.
        hint: String,
    },
}
