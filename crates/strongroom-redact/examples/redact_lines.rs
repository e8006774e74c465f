//! Standard input to standard output through `redact`, line by line: the
//! detectors alone, without the `strongroom` binary around them (for
//! profiling; `strongroom redact` is the benchmark, see bench/README.md).

use std::io::{BufRead, Write};

fn main() -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in std::io::stdin().lock().lines() {
        writeln!(out, "{}", strongroom_redact::redact(&line?))?;
    }
    out.flush()
}
