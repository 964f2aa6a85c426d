//! Checkpoints: `<run>/checkpoint/{model.mpk, optimizer.mpk, state.json, config.json}`, written into a
//! temporary folder and swapped in with renames, so an interrupted write never loses the last good one.
//! `<run>/model.mpk` + `<run>/config.json` hold the latest weights for generation.

use super::rng::Rng;
use crate::error::{Error, Result};
use crate::io_util::write_atomic;
use crate::model::{Config, MusicVae};
use burn::module::Module;
use burn::record::{FullPrecisionSettings, HalfPrecisionSettings, NamedMpkBytesRecorder, Recorder};
use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Loop position saved with a checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrainState {
    pub step: u64,
    pub epoch: u64,
    pub position: usize,
    pub rng: Rng,
    pub skipped_steps: u64,
    pub elapsed_secs: f64,
}

pub fn recorder() -> NamedMpkBytesRecorder<FullPrecisionSettings> {
    NamedMpkBytesRecorder::<FullPrecisionSettings>::default()
}

/// Serialise a model's weights.
pub fn model_bytes<B: Backend>(model: &MusicVae<B>) -> Result<Vec<u8>> {
    recorder()
        .record(model.clone().into_record(), ())
        .map_err(|e| Error::Invalid(format!("cannot serialise the model: {e}")))
}

/// Write `config.json` and `model.mpk` into `dir` (atomically each).
pub fn save_model<B: Backend>(dir: &Path, model: &MusicVae<B>, config: &Config) -> Result<()> {
    let cfg = serde_json::to_vec_pretty(config).map_err(|e| Error::Invalid(e.to_string()))?;
    write_atomic(&dir.join("model.mpk"), &model_bytes(model)?)?;
    write_atomic(&dir.join("config.json"), &cfg)
}

/// Write `config.json` and `model.mpk` with the weights stored as f16 (half the size; for shipping).
/// [`load_model`] reads both precisions.
pub fn save_model_f16<B: Backend>(dir: &Path, model: &MusicVae<B>, config: &Config) -> Result<()> {
    let cfg = serde_json::to_vec_pretty(config).map_err(|e| Error::Invalid(e.to_string()))?;
    let bytes = NamedMpkBytesRecorder::<HalfPrecisionSettings>::default()
        .record(model.clone().into_record(), ())
        .map_err(|e| Error::Invalid(format!("cannot serialise the model: {e}")))?;
    write_atomic(&dir.join("model.mpk"), &bytes)?;
    write_atomic(&dir.join("config.json"), &cfg)
}

/// Read a config.json.
pub fn load_config(path: &Path) -> Result<Config> {
    let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_slice(&raw).map_err(|e| Error::Json {
        path: path.to_path_buf(),
        reason: format!("not a musicvae model config: {e}"),
    })
}

/// Where a model directory keeps its weights: `dir/model.mpk`, else `dir/checkpoint/model.mpk`.
pub fn model_files(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    for d in [dir.to_path_buf(), dir.join("checkpoint")] {
        let (m, c) = (d.join("model.mpk"), d.join("config.json"));
        if m.is_file() && c.is_file() {
            return Some((m, c));
        }
    }
    None
}

/// Load a model and its config from a model or run directory.
pub fn load_model<B: Backend>(dir: &Path, device: &B::Device) -> Result<(MusicVae<B>, Config)> {
    let (mp, cp) = model_files(dir).ok_or_else(|| {
        Error::bad_input(
            dir,
            "no model here (expected model.mpk and config.json, or checkpoint/ with them)",
        )
    })?;
    let config = load_config(&cp)?;
    let bytes = std::fs::read(&mp).map_err(|e| Error::io(&mp, e))?;
    let fresh = MusicVae::<B>::new(&config.model, 0, device);
    let record = recorder()
        .load(bytes.clone(), device)
        .or_else(|_| NamedMpkBytesRecorder::<HalfPrecisionSettings>::default().load(bytes, device))
        .map_err(|e| {
            Error::bad_input(
                &mp,
                format!("cannot read the weights ({e}); does config.json match them?"),
            )
        })?;
    Ok((fresh.load_record(record), config))
}

/// Save a full checkpoint into `<run>/checkpoint` (swap by rename).
pub fn save_checkpoint(
    run: &Path,
    model_mpk: &[u8],
    optim_mpk: &[u8],
    state: &TrainState,
    config: &Config,
) -> Result<()> {
    let tmp = run.join("checkpoint.tmp");
    let cur = run.join("checkpoint");
    let old = run.join("checkpoint.old");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    write_atomic(&tmp.join("model.mpk"), model_mpk)?;
    write_atomic(&tmp.join("optimizer.mpk"), optim_mpk)?;
    write_atomic(
        &tmp.join("state.json"),
        &serde_json::to_vec_pretty(state).map_err(|e| Error::Invalid(e.to_string()))?,
    )?;
    write_atomic(
        &tmp.join("config.json"),
        &serde_json::to_vec_pretty(config).map_err(|e| Error::Invalid(e.to_string()))?,
    )?;
    let _ = std::fs::remove_dir_all(&old);
    if cur.exists() {
        std::fs::rename(&cur, &old).map_err(|e| Error::io(&cur, e))?;
    }
    std::fs::rename(&tmp, &cur).map_err(|e| Error::io(&cur, e))?;
    let _ = std::fs::remove_dir_all(&old);
    // Latest weights for generation, beside the run's metrics.
    write_atomic(&run.join("model.mpk"), model_mpk)?;
    write_atomic(
        &run.join("config.json"),
        &serde_json::to_vec_pretty(config).map_err(|e| Error::Invalid(e.to_string()))?,
    )
}

/// The checkpoint folder to resume from (`checkpoint`, or `checkpoint.old` if a swap was interrupted).
pub fn checkpoint_dir(run: &Path) -> Option<PathBuf> {
    [run.join("checkpoint"), run.join("checkpoint.old")]
        .into_iter()
        .find(|d| {
            d.join("state.json").is_file()
                && d.join("model.mpk").is_file()
                && d.join("optimizer.mpk").is_file()
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;

    #[test]
    fn f16_weights_load_and_stay_close() {
        let cfg = Config::preset("tiny").unwrap();
        let dev = Default::default();
        let m = MusicVae::<NdArray<f32>>::new(&cfg.model, 3, &dev);
        let (full, half) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        save_model(full.path(), &m, &cfg).unwrap();
        save_model_f16(half.path(), &m, &cfg).unwrap();
        let size = |d: &Path| std::fs::metadata(d.join("model.mpk")).unwrap().len();
        assert!(
            size(half.path()) * 10 < size(full.path()) * 6,
            "f16 file is about half the size"
        );
        let (a, _) = load_model::<NdArray<f32>>(full.path(), &dev).unwrap();
        let (b, _) = load_model::<NdArray<f32>>(half.path(), &dev).unwrap();
        let wa: Vec<f32> = a.encoder.fwd[0].w_ih.val().into_data().to_vec().unwrap();
        let wb: Vec<f32> = b.encoder.fwd[0].w_ih.val().into_data().to_vec().unwrap();
        let max = wa
            .iter()
            .zip(&wb)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        assert!(max < 1e-3 && max > 0.0, "f16 rounding: {max}");
    }
}
