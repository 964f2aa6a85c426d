//! Finding a model folder: `--model` takes a path, or the name of a folder under `models/`;
//! without it, the shipped default model is looked up beside the binary and in the working
//! directory.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Folder name of the default model under `models/`.
pub const DEFAULT_MODEL: &str = "mel_2bar";
/// Environment variable naming an extra `models/` folder, searched first.
pub const MODELS_ENV: &str = "MUSICVAE_MODELS";

/// `models/` folders to search, in order: `$MUSICVAE_MODELS`, `./models`, then `models/` beside the
/// binary and up to three folders above it (so `target/release/musicvae` finds the repository's).
pub fn model_roots() -> Vec<PathBuf> {
    let mut roots = Vec::new();
    if let Some(p) = std::env::var_os(MODELS_ENV) {
        roots.push(PathBuf::from(p));
    }
    roots.push(PathBuf::from("models"));
    if let Ok(exe) = std::env::current_exe() {
        let mut dir = exe.parent().map(Path::to_path_buf);
        for _ in 0..4 {
            let Some(d) = dir else { break };
            roots.push(d.join("models"));
            dir = d.parent().map(Path::to_path_buf);
        }
    }
    roots.dedup();
    roots
}

fn is_model_dir(p: &Path) -> bool {
    p.join("config.json").is_file()
        && (p.join("model.mpk").is_file() || p.join("checkpoint/model.mpk").is_file())
}

/// Resolve the `--model` argument (see the module docs). `kind` names what is looked for in errors.
pub fn resolve_model(arg: Option<&Path>, default_name: &str) -> Result<PathBuf> {
    let roots = model_roots();
    let looked = |name: &str| {
        roots
            .iter()
            .map(|r| r.join(name).display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match arg {
        Some(p) if p.exists() => {
            if is_model_dir(p) {
                Ok(p.to_path_buf())
            } else {
                Err(Error::bad_input(p, "is not a model folder (expected config.json and model.mpk in it)"))
            }
        }
        Some(p) => {
            let name = p.to_string_lossy();
            if p.components().count() == 1 {
                if let Some(found) = roots.iter().map(|r| r.join(p)).find(|d| is_model_dir(d)) {
                    return Ok(found);
                }
                return Err(Error::bad_input(p, format!("no such model folder; looked in {}", looked(&name))));
            }
            Err(Error::bad_input(p, "no such model folder"))
        }
        None => roots.iter().map(|r| r.join(default_name)).find(|d| is_model_dir(d)).ok_or_else(|| {
            Error::Invalid(format!(
                "no model given (--model) and the default model '{default_name}' was not found; looked in {}. \
                 Pass --model DIR (a folder written by `musicvae train`) or run from the repository root",
                looked(default_name)
            ))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_paths_and_names() {
        let d = tempfile::tempdir().unwrap();
        let m = d.path().join("m");
        std::fs::create_dir_all(&m).unwrap();
        assert!(resolve_model(Some(&m), DEFAULT_MODEL)
            .unwrap_err()
            .to_string()
            .contains("not a model folder"));
        std::fs::write(m.join("config.json"), "{}").unwrap();
        std::fs::write(m.join("model.mpk"), "").unwrap();
        assert_eq!(resolve_model(Some(&m), DEFAULT_MODEL).unwrap(), m);
        let e = resolve_model(Some(Path::new("no-such-model-xyz")), DEFAULT_MODEL)
            .unwrap_err()
            .to_string();
        assert!(e.contains("looked in"), "{e}");
    }
}
