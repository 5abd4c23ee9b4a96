//! The `glompo` binary beside a benchmark example, for the benchmarks that run it.

use std::path::PathBuf;

/// `target/release/glompo`, from the example's own path (`target/release/examples/NAME`).
pub(crate) fn glompo_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the example's path");
    exe.parent().and_then(|p| p.parent()).map(|p| p.join("glompo")).expect("a target directory")
}
