//! `--classifier DIR`: a genre classifier folder (written by `musicvae train-classifier`), by
//! default the one shipped beside the VAE (`models/genre-classifier`).

use anyhow::{bail, Context, Result};
use burn::tensor::backend::Backend;
use musicvae::classifier::GenreClassifier;
use musicvae::generate::Vae;
use std::path::{Path, PathBuf};

/// The name of the shipped classifier's folder under models/.
pub const DEFAULT_CLASSIFIER: &str = "genre-classifier";

/// `given`, or `genre-classifier` beside the model folder, or `./models/genre-classifier`.
pub fn resolve_classifier(given: Option<&Path>, model_dir: &Path) -> Result<PathBuf> {
    if let Some(p) = given {
        return Ok(p.to_path_buf());
    }
    let mut looked = Vec::new();
    let beside = model_dir.parent().map(|p| p.join(DEFAULT_CLASSIFIER));
    for c in beside
        .into_iter()
        .chain([Path::new("models").join(DEFAULT_CLASSIFIER)])
    {
        if c.join("config.json").is_file() && c.join("model.mpk").is_file() {
            return Ok(c);
        }
        looked.push(c.display().to_string());
    }
    bail!(
        "no genre classifier found (looked in {}); give --classifier DIR (train one with `musicvae train-classifier`)",
        looked.join(", ")
    )
}

/// Resolve and load the classifier, and check that it reads the windows `vae` writes.
pub fn load_classifier_for<B: Backend>(
    given: Option<&Path>,
    model_dir: &Path,
    vae: &Vae<B>,
    device: &B::Device,
) -> Result<(PathBuf, GenreClassifier<B>)> {
    let cdir = resolve_classifier(given, model_dir)?;
    let clf = GenreClassifier::<B>::load(&cdir, device)
        .with_context(|| format!("loading the classifier in {}", cdir.display()))?;
    if clf.window_steps() != vae.steps() {
        bail!(
            "{}: the classifier reads {}-step windows but model {} writes {}",
            cdir.display(),
            clf.window_steps(),
            vae.config.model.name,
            vae.steps()
        );
    }
    Ok((cdir, clf))
}
