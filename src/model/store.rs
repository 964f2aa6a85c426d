//! Model folders, crash-consistent: save and load a MusicVAE's weights and config.
//!
//! A model folder is `model.mpk` + `config.json`. The weights are written first, then the config
//! with a stamp of them (`"weights": {"bytes", "fnv64"}`); a load whose stamp does not match (a crash
//! between the two renames) is a clean error. Configs without a stamp (older folders) still load.
//! Every record is checked against the config before burn reads it ([`record_check`]).
//!
//! A training run folder is a model folder too: its weights may sit in the newest complete
//! checkpoint (`<run>/checkpoint/`, or `checkpoint.tmp/` / `checkpoint.old/` after a kill), found
//! by [`latest_checkpoint`]. Writing checkpoints and resuming from them is `train::checkpoint`'s.

use crate::error::{Error, Result};
use crate::io_util::write_atomic;
use crate::model::record_check::{self, Leaf};
use crate::model::{Config, ModelConfig, MusicVae};
use crate::rng::Rng;
use burn::module::Module;
use burn::record::{FullPrecisionSettings, HalfPrecisionSettings, NamedMpkBytesRecorder, Recorder};
use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The recorder of every f32 `.mpk` file (models, optimizer states, classifiers).
pub fn recorder() -> NamedMpkBytesRecorder<FullPrecisionSettings> {
    NamedMpkBytesRecorder::<FullPrecisionSettings>::default()
}

/// Serialise a model's weights.
pub fn model_bytes<B: Backend>(model: &MusicVae<B>) -> Result<Vec<u8>> {
    recorder()
        .record(model.clone().into_record(), ())
        .map_err(|e| Error::Invalid(format!("cannot serialise the model: {e}")))
}

/// Size and FNV-1a hash of a file's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    pub bytes: u64,
    pub fnv64: u64,
}

impl Stamp {
    pub fn of(bytes: &[u8]) -> Stamp {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in bytes {
            h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
        Stamp {
            bytes: bytes.len() as u64,
            fnv64: h,
        }
    }
}

/// fsync a folder (so the renames in it survive a power loss).
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(dir, e))
}

pub(crate) fn config_json(config: &Config, weights: Option<Stamp>) -> Result<Vec<u8>> {
    let mut v = serde_json::to_value(config).map_err(|e| Error::Invalid(e.to_string()))?;
    if let (Some(w), Some(obj)) = (weights, v.as_object_mut()) {
        obj.insert(
            "weights".into(),
            serde_json::to_value(w).map_err(|e| Error::Invalid(e.to_string()))?,
        );
    }
    serde_json::to_vec_pretty(&v).map_err(|e| Error::Invalid(e.to_string()))
}

/// Write `model.mpk`, then `config.json` stamped with the weights' size and hash (each atomically).
pub fn save_model_bytes(dir: &Path, mpk: &[u8], config: &Config) -> Result<()> {
    write_atomic(&dir.join("model.mpk"), mpk)?;
    write_atomic(
        &dir.join("config.json"),
        &config_json(config, Some(Stamp::of(mpk)))?,
    )?;
    sync_dir(dir)
}

/// Write `config.json` and `model.mpk` into `dir` (see [`save_model_bytes`]).
pub fn save_model<B: Backend>(dir: &Path, model: &MusicVae<B>, config: &Config) -> Result<()> {
    save_model_bytes(dir, &model_bytes(model)?, config)
}

/// Write `config.json` and `model.mpk` with the weights stored as f16 (half the size; for shipping).
/// [`load_model`] reads both precisions.
pub fn save_model_f16<B: Backend>(dir: &Path, model: &MusicVae<B>, config: &Config) -> Result<()> {
    let bytes = NamedMpkBytesRecorder::<HalfPrecisionSettings>::default()
        .record(model.clone().into_record(), ())
        .map_err(|e| Error::Invalid(format!("cannot serialise the model: {e}")))?;
    save_model_bytes(dir, &bytes, config)
}

/// Read and validate a config.json, with the stamp of its weights if it has one.
pub fn load_config_stamped(path: &Path) -> Result<(Config, Option<Stamp>)> {
    let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bad = |reason: String| Error::Json {
        path: path.to_path_buf(),
        reason,
    };
    let mut v: serde_json::Value = serde_json::from_slice(&raw)
        .map_err(|e| bad(format!("not a musicvae model config: {e}")))?;
    let stamp = match v.as_object_mut().and_then(|o| o.remove("weights")) {
        Some(w) => Some(
            serde_json::from_value::<Stamp>(w)
                .map_err(|e| bad(format!("bad \"weights\" stamp: {e}")))?,
        ),
        None => None,
    };
    let config: Config =
        serde_json::from_value(v).map_err(|e| bad(format!("not a musicvae model config: {e}")))?;
    config
        .validate()
        .map_err(|e| Error::bad_input(path, format!("{e}; this config.json cannot be used")))?;
    Ok((config, stamp))
}

/// Read and validate a config.json.
pub fn load_config(path: &Path) -> Result<Config> {
    load_config_stamped(path).map(|(c, _)| c)
}

/// Check the record `bytes` (read from `path`) against `config` before anything is allocated from
/// it: every tensor's byte length, the weight count the config implies, then the exact tensor
/// names and shapes of a fresh model. Returns that fresh model and the record's tensors.
pub fn check_model_record<B: Backend>(
    path: &Path,
    bytes: &[u8],
    config: &ModelConfig,
    device: &B::Device,
) -> Result<(MusicVae<B>, Vec<Leaf>)> {
    let leaves = record_check::tensors(bytes)
        .map_err(|e| Error::bad_input(path, format!("{e}; the file is damaged")))?;
    let (found, implied) = (record_check::total_elements(&leaves), config.num_params());
    if found != implied {
        return Err(Error::bad_input(
            path,
            format!("holds {found} weights but its config.json describes a model of {implied}; the two files do not belong together"),
        ));
    }
    let fresh = MusicVae::<B>::skeleton(config, device);
    let expected = record_check::module_structure(&fresh);
    record_check::same_structure(&leaves, &expected).map_err(|e| {
        Error::bad_input(
            path,
            format!("{e}; its config.json does not describe these weights"),
        )
    })?;
    Ok((fresh, leaves))
}

/// Load checked weights (f32 or f16 record) into a fresh model.
pub(crate) fn load_checked<B: Backend>(
    path: &Path,
    bytes: Vec<u8>,
    config: &ModelConfig,
    device: &B::Device,
) -> Result<(MusicVae<B>, Vec<Leaf>)> {
    let (fresh, leaves) = check_model_record::<B>(path, &bytes, config, device)?;
    let half = leaves.iter().any(|l| l.dtype == "F16");
    let record = if half {
        NamedMpkBytesRecorder::<HalfPrecisionSettings>::default().load(bytes, device)
    } else {
        recorder().load(bytes, device)
    }
    .map_err(|e| {
        Error::bad_input(
            path,
            format!("cannot read the weights ({e}); does config.json match them?"),
        )
    })?;
    Ok((fresh.load_record(record), leaves))
}

/// Where a model directory keeps its weights: `dir/model.mpk`, else the newest complete checkpoint.
pub fn model_files(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let (m, c) = (dir.join("model.mpk"), dir.join("config.json"));
    if m.is_file() && c.is_file() {
        return Some((m, c));
    }
    latest_checkpoint(dir).map(|(d, _)| (d.join("model.mpk"), d.join("config.json")))
}

/// Load a model and its config from a model or run directory.
pub fn load_model<B: Backend>(dir: &Path, device: &B::Device) -> Result<(MusicVae<B>, Config)> {
    let (mut mp, mut cp) = model_files(dir).ok_or_else(|| {
        Error::bad_input(
            dir,
            "no model here (expected model.mpk and config.json, or checkpoint/ with them)",
        )
    })?;
    let (mut config, mut stamp) = load_config_stamped(&cp)?;
    let mut bytes = std::fs::read(&mp).map_err(|e| Error::io(&mp, e))?;
    if stamp.is_some_and(|s| s != Stamp::of(&bytes)) {
        // A save interrupted between the two files: a run folder still has its checkpoint.
        match latest_checkpoint(dir) {
            Some((ck, _)) if mp.parent() == Some(dir) => {
                (mp, cp) = (ck.join("model.mpk"), ck.join("config.json"));
                (config, stamp) = load_config_stamped(&cp)?;
                bytes = std::fs::read(&mp).map_err(|e| Error::io(&mp, e))?;
            }
            _ => {}
        }
        if stamp.is_some_and(|s| s != Stamp::of(&bytes)) {
            return Err(Error::bad_input(&mp, format!("is not the file {} was saved with (an interrupted save?); save or copy the model folder again", cp.display())));
        }
    }
    let (model, _) = load_checked::<B>(&mp, bytes, &config.model, device)?;
    Ok((model, config))
}

pub(crate) const CHECKPOINT_FILES: [&str; 4] =
    ["model.mpk", "optimizer.mpk", "state.json", "config.json"];
pub(crate) const MANIFEST: &str = "complete.json";

/// Written last into a checkpoint folder: what a complete checkpoint holds.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub(crate) step: u64,
    pub(crate) files: BTreeMap<String, Stamp>,
}

/// The fields of `train::checkpoint::TrainState`: a checkpoint folder written before
/// `complete.json` existed counts as complete when its state.json reads as one.
#[derive(Deserialize)]
#[allow(dead_code)]
struct LegacyState {
    step: u64,
    epoch: u64,
    position: usize,
    rng: Rng,
    skipped_steps: u64,
    elapsed_secs: f64,
}

/// Step of `dir` if it holds a complete checkpoint: a `complete.json` whose sizes and hashes match
/// the four files, or (folders written before `complete.json` existed; never `checkpoint.tmp`)
/// the four files and a readable state.json.
pub(crate) fn complete_step(dir: &Path, legacy_ok: bool) -> Option<u64> {
    match std::fs::read(dir.join(MANIFEST)) {
        Ok(raw) => {
            let m: Manifest = serde_json::from_slice(&raw).ok()?;
            for name in CHECKPOINT_FILES {
                let want = m.files.get(name)?;
                let bytes = std::fs::read(dir.join(name)).ok()?;
                if Stamp::of(&bytes) != *want {
                    return None;
                }
            }
            Some(m.step)
        }
        Err(_) if legacy_ok => {
            if !CHECKPOINT_FILES.iter().all(|f| dir.join(f).is_file()) {
                return None;
            }
            let raw = std::fs::read(dir.join("state.json")).ok()?;
            serde_json::from_slice::<LegacyState>(&raw)
                .ok()
                .map(|s| s.step)
        }
        Err(_) => None,
    }
}

/// The newest complete checkpoint of a run among `checkpoint/`, `checkpoint.tmp/` and
/// `checkpoint.old/`, with its step.
pub fn latest_checkpoint(run: &Path) -> Option<(PathBuf, u64)> {
    [
        ("checkpoint", true),
        ("checkpoint.tmp", false),
        ("checkpoint.old", true),
    ]
    .into_iter()
    .filter_map(|(name, legacy)| {
        let d = run.join(name);
        complete_step(&d, legacy).map(|s| (d, s))
    })
    .reduce(|best, c| if c.1 > best.1 { c } else { best })
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;

    /// The structure read from a module by its visitor is the one its serialised record holds,
    /// for every preset (flat, hierarchical, drums, trio).
    #[test]
    fn module_structure_is_the_serialised_structure() {
        type C = burn::backend::NdArray<f32>;
        let dev = Default::default();
        for name in [
            "tiny",
            "tiny-hier",
            "cat-mel_2bar_small",
            "cat-drums_2bar_small",
            "hierdec-trio_16bar",
        ] {
            let mut cfg = Config::preset(name).unwrap();
            // Small layers: the structure does not depend on the sizes, the test's memory does.
            cfg.model.enc_rnn_size = vec![8];
            cfg.model.dec_rnn_size = vec![8, 6];
            cfg.model.z_size = 4;
            let fresh = MusicVae::<C>::skeleton(&cfg.model, &dev);
            let mut want = record_check::tensors(&model_bytes(&fresh).unwrap()).unwrap();
            let mut got = record_check::module_structure(&fresh);
            assert!(!got.is_empty(), "{name}");
            let key = |l: &Leaf| (l.path.clone(), l.shape.clone(), l.param_id.clone());
            want.sort_by_key(key);
            got.sort_by_key(key);
            let (want, got): (Vec<_>, Vec<_>) = (
                want.iter().map(key).collect(),
                got.iter().map(key).collect(),
            );
            assert_eq!(got, want, "{name}");
        }
    }

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
