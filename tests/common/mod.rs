//! Shared by the integration tests: the repository root, the real binary run from it, its
//! output as text, paths as arguments.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root (where `midi_data/` and `models/` are).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Run the binary from the repository root, as the README does.
pub fn musicvae(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_musicvae"))
        .current_dir(root())
        .args(args)
        .output()
        .expect("run musicvae")
}

/// Standard output followed by standard error.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A path as a command-line argument.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}
