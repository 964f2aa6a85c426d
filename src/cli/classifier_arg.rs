//! `--classifier DIR`: a genre classifier folder (written by `musicvae train-classifier`), by
//! default the one shipped beside the VAE (`models/genre-classifier`; found by
//! [`musicvae::model_dir::resolve_classifier`]).

use anyhow::{bail, Context, Result};
use burn::tensor::backend::Backend;
use musicvae::classifier::GenreClassifier;
use musicvae::generate::Vae;
use musicvae::model_dir::resolve_classifier;
use std::path::{Path, PathBuf};

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
