//! `--classifier DIR`: a genre (or drum-style) classifier folder written by
//! `musicvae train-classifier`; by default the one for the VAE's kind of windows beside the VAE
//! (`models/genre-classifier` for melodies, `models/drum-style-classifier` for drums; found by
//! [`musicvae::model_dir::resolve_classifier_for`]).

use anyhow::{bail, Context, Result};
use burn::tensor::backend::Backend;
use musicvae::classifier::config::ClassifierConfig;
use musicvae::classifier::predict::CONFIG_FILE;
use musicvae::classifier::GenreClassifier;
use musicvae::data::converter::DataKind;
use musicvae::generate::Vae;
use musicvae::model_dir::resolve_classifier_for;
use std::path::{Path, PathBuf};

/// Why a classifier of `clf_kind` cannot judge the windows of model `model` (of `vae_kind`):
/// one line naming both kinds and the fix; None when they match.
pub fn kind_mismatch(
    cdir: &Path,
    clf_kind: DataKind,
    model: &str,
    vae_kind: DataKind,
) -> Option<String> {
    (clf_kind != vae_kind).then(|| {
        format!(
            "{}: this classifier reads {} windows but model {model} writes {} windows; give --classifier a {} classifier (`musicvae train-classifier --kind {}`)",
            cdir.display(),
            clf_kind.name(),
            vae_kind.name(),
            vae_kind.name(),
            vae_kind.name()
        )
    })
}

/// Resolve and load the classifier, and check that it reads the windows `vae` writes (same kind,
/// same length).
pub fn load_classifier_for<B: Backend>(
    given: Option<&Path>,
    model_dir: &Path,
    vae: &Vae<B>,
    device: &B::Device,
) -> Result<(PathBuf, GenreClassifier<B>)> {
    let cdir = resolve_classifier_for(given, model_dir, vae.kind())?;
    // The kind first, from config.json alone: a drum classifier for a melody VAE is one line,
    // whatever else differs.
    if let Ok(cfg) = ClassifierConfig::load(&cdir.join(CONFIG_FILE)) {
        if let Some(why) = kind_mismatch(&cdir, cfg.kind, &vae.config.model.name, vae.kind()) {
            bail!(why);
        }
    }
    let clf = GenreClassifier::<B>::load(&cdir, device)
        .with_context(|| format!("loading the classifier in {}", cdir.display()))?;
    if let Some(why) = kind_mismatch(&cdir, clf.kind(), &vae.config.model.name, vae.kind()) {
        bail!(why);
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_mismatch_is_one_line_with_the_fix() {
        let d = Path::new("models/drum-style-classifier");
        assert_eq!(
            kind_mismatch(d, DataKind::Drums, "cat-drums_2bar_small", DataKind::Drums),
            None
        );
        let why = kind_mismatch(d, DataKind::Drums, "cat-mel_2bar_small", DataKind::Melody)
            .expect("a mismatch");
        assert_eq!(
            why,
            "models/drum-style-classifier: this classifier reads drums windows but model cat-mel_2bar_small writes melody windows; give --classifier a melody classifier (`musicvae train-classifier --kind melody`)"
        );
        assert!(!why.contains('\n'));
    }
}
