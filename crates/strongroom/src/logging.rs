//! Structured logs on stderr (stdout is kept for what the operator must read:
//! the listening address and next steps). Pretty or JSON per `log.format`.

use std::io::IsTerminal;

use anyhow::Context;
use strongroom_config::{Config, LogFormat};
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Call once, before anything logs.
pub fn init(config: &Config) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(&config.log.level)
        .with_context(|| format!("log.level = {:?} is not a valid filter", config.log.level))?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let installed = match config.log_format() {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
        LogFormat::Pretty => builder.with_target(false).with_ansi(std::io::stderr().is_terminal()).try_init(),
    };
    installed.map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))
}
