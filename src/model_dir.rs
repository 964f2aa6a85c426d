//! Finding model folders. `--model` takes a path, or the name of a folder under `models/`;
//! without it, the shipped default model is looked up beside the binary and in the working
//! directory. `--classifier` takes a path; without it, the genre classifier is looked up beside
//! the model folder, then in `./models`.

use crate::data::converter::DataKind;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Folder name of the default model under `models/`.
pub const DEFAULT_MODEL: &str = "mel_2bar";
/// Folder name of the shipped drum model, the default for drum-only inputs.
pub const DRUM_MODEL: &str = "drums_2bar";
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

fn is_classifier_dir(p: &Path) -> bool {
    p.join("config.json").is_file() && p.join("model.mpk").is_file()
}

/// The first of `candidates` that `accept` takes, or where it looked (the candidates, comma
/// separated).
fn first_found(
    candidates: impl IntoIterator<Item = PathBuf>,
    accept: impl Fn(&Path) -> bool,
) -> std::result::Result<PathBuf, String> {
    let mut looked = Vec::new();
    for c in candidates {
        if accept(&c) {
            return Ok(c);
        }
        looked.push(c.display().to_string());
    }
    Err(looked.join(", "))
}

/// Resolve the `--model` argument (see the module docs); `default_name` is the folder looked up
/// under each `models/` folder when no `--model` is given.
pub fn resolve_model(arg: Option<&Path>, default_name: &str) -> Result<PathBuf> {
    let roots = model_roots();
    let under_roots = |name: &Path| roots.iter().map(|r| r.join(name)).collect::<Vec<_>>();
    match arg {
        Some(p) if p.exists() => {
            if is_model_dir(p) {
                Ok(p.to_path_buf())
            } else {
                Err(Error::bad_input(p, "is not a model folder (expected config.json and model.mpk in it)"))
            }
        }
        Some(p) => {
            if p.components().count() == 1 {
                return first_found(under_roots(p), is_model_dir).map_err(|looked| {
                    Error::bad_input(p, format!("no such model folder; looked in {looked}"))
                });
            }
            Err(Error::bad_input(p, "no such model folder"))
        }
        None => first_found(under_roots(Path::new(default_name)), is_model_dir).map_err(|looked| {
            Error::Invalid(format!(
                "no model given (--model) and the default model '{default_name}' was not found; looked in {looked}. \
                 Pass --model DIR (a folder written by `musicvae train`) or run from the repository root"
            ))
        }),
    }
}

/// The name of the shipped classifier's folder under models/.
pub const DEFAULT_CLASSIFIER: &str = "genre-classifier";
/// The folder name of the drum-style classifier under models/, the default for drum models.
pub const DRUM_CLASSIFIER: &str = "drum-style-classifier";

/// The default classifier folder name for models of `kind` (drums: [`DRUM_CLASSIFIER`], else
/// [`DEFAULT_CLASSIFIER`]).
pub fn default_classifier(kind: DataKind) -> &'static str {
    match kind {
        DataKind::Drums => DRUM_CLASSIFIER,
        _ => DEFAULT_CLASSIFIER,
    }
}

/// Resolve the `--classifier` argument: `given`, or `genre-classifier` beside the model folder
/// `model_dir`, or `./models/genre-classifier`.
pub fn resolve_classifier(given: Option<&Path>, model_dir: &Path) -> Result<PathBuf> {
    resolve_classifier_for(given, model_dir, DataKind::Melody)
}

/// [`resolve_classifier`] for a model of `kind`: the default folder is
/// [`default_classifier`]`(kind)` (`drum-style-classifier` for drums).
pub fn resolve_classifier_for(
    given: Option<&Path>,
    model_dir: &Path,
    kind: DataKind,
) -> Result<PathBuf> {
    if let Some(p) = given {
        return Ok(p.to_path_buf());
    }
    let name = default_classifier(kind);
    let beside = model_dir.parent().map(|p| p.join(name));
    let candidates = beside.into_iter().chain([Path::new("models").join(name)]);
    first_found(candidates, is_classifier_dir).map_err(|looked| {
        Error::Invalid(format!(
            "no {} classifier found (looked in {looked}); give --classifier DIR (train one with `musicvae train-classifier`)",
            if kind == DataKind::Drums { "drum-style" } else { "genre" }
        ))
    })
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

    #[test]
    fn classifier_given_or_beside_the_model() {
        let d = tempfile::tempdir().unwrap();
        let given = d.path().join("elsewhere");
        assert_eq!(resolve_classifier(Some(&given), d.path()).unwrap(), given);
        let c = d.path().join(DEFAULT_CLASSIFIER);
        std::fs::create_dir_all(&c).unwrap();
        std::fs::write(c.join("config.json"), "{}").unwrap();
        std::fs::write(c.join("model.mpk"), "").unwrap();
        assert_eq!(resolve_classifier(None, &d.path().join("vae")).unwrap(), c);
        // A drum model looks for the drum-style classifier, not the genre one.
        assert_ne!(
            resolve_classifier_for(None, &d.path().join("vae"), DataKind::Drums).ok(),
            Some(c)
        );
        let dc = d.path().join(DRUM_CLASSIFIER);
        std::fs::create_dir_all(&dc).unwrap();
        std::fs::write(dc.join("config.json"), "{}").unwrap();
        std::fs::write(dc.join("model.mpk"), "").unwrap();
        assert_eq!(
            resolve_classifier_for(None, &d.path().join("vae"), DataKind::Drums).unwrap(),
            dc
        );
    }
}
