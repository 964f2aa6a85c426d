//! Model folders and checkpoints, crash-consistent.
//!
//! A model folder is `model.mpk` + `config.json`. The weights are written first, then the config
//! with a stamp of them (`"weights": {"bytes", "fnv64"}`); a load whose stamp does not match (a crash
//! between the two renames) is a clean error. Configs without a stamp (older folders) still load.
//! Every record is checked against the config before burn reads it ([`record_check`]).
//!
//! Checkpoints: `<run>/checkpoint/{model.mpk, optimizer.mpk, state.json, config.json, complete.json}`.
//! A new one is written into `checkpoint.tmp/`, `complete.json` (sizes and hashes of the other four)
//! last, everything fsynced, then swapped in with renames (`checkpoint/` → `checkpoint.old/`,
//! `checkpoint.tmp/` → `checkpoint/`) and the run folder fsynced. Whatever moment a kill hits, one
//! of the three folders holds a complete checkpoint (after the first one); [`latest_checkpoint`]
//! finds the newest complete one. `<run>/model.mpk` + `<run>/config.json` hold the latest weights
//! for generation.

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
fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(dir, e))
}

fn config_json(config: &Config, weights: Option<Stamp>) -> Result<Vec<u8>> {
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
    let fresh = MusicVae::<B>::new(config, 0, device);
    let expected = record_check::tensors(&model_bytes(&fresh)?).map_err(Error::Invalid)?;
    record_check::same_structure(&leaves, &expected).map_err(|e| {
        Error::bad_input(
            path,
            format!("{e}; its config.json does not describe these weights"),
        )
    })?;
    Ok((fresh, leaves))
}

/// Load checked weights (f32 or f16 record) into a fresh model.
fn load_checked<B: Backend>(
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

const CHECKPOINT_FILES: [&str; 4] = ["model.mpk", "optimizer.mpk", "state.json", "config.json"];
const MANIFEST: &str = "complete.json";

/// Written last into a checkpoint folder: what a complete checkpoint holds.
#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    step: u64,
    files: BTreeMap<String, Stamp>,
}

/// Save a full checkpoint into `<run>/checkpoint` (see the module docs).
pub fn save_checkpoint(
    run: &Path,
    model_mpk: &[u8],
    optim_mpk: &[u8],
    state: &TrainState,
    config: &Config,
) -> Result<()> {
    let tmp = run.join("checkpoint.tmp");
    let cur = run.join("checkpoint");
    // A complete checkpoint.tmp newer than checkpoint/ (a kill before its swap, then a resume
    // from it) is swapped in first, so the newest complete checkpoint is never deleted.
    if let Some(t) = complete_step(&tmp, false) {
        if complete_step(&cur, true).is_none_or(|c| t > c) {
            swap_in(run)?;
        }
    }
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let state_json = serde_json::to_vec_pretty(state).map_err(|e| Error::Invalid(e.to_string()))?;
    let config_json = config_json(config, None)?;
    let contents: [&[u8]; 4] = [model_mpk, optim_mpk, &state_json, &config_json];
    let mut files = BTreeMap::new();
    for (name, bytes) in CHECKPOINT_FILES.iter().zip(contents) {
        write_atomic(&tmp.join(name), bytes)?;
        files.insert(name.to_string(), Stamp::of(bytes));
    }
    let manifest = Manifest {
        step: state.step,
        files,
    };
    write_atomic(
        &tmp.join(MANIFEST),
        &serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Invalid(e.to_string()))?,
    )?;
    sync_dir(&tmp)?;
    swap_in(run)?;
    // Latest weights for generation, beside the run's metrics.
    save_model_bytes(run, model_mpk, config)
}

/// `checkpoint/` → `checkpoint.old/`, complete `checkpoint.tmp/` → `checkpoint/`, then drop the old
/// one; the run folder is fsynced after each rename.
fn swap_in(run: &Path) -> Result<()> {
    let (tmp, cur, old) = (
        run.join("checkpoint.tmp"),
        run.join("checkpoint"),
        run.join("checkpoint.old"),
    );
    if cur.exists() {
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
        }
        std::fs::rename(&cur, &old).map_err(|e| Error::io(&cur, e))?;
        sync_dir(run)?;
    }
    std::fs::rename(&tmp, &cur).map_err(|e| Error::io(&cur, e))?;
    sync_dir(run)?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
    }
    Ok(())
}

/// Step of `dir` if it holds a complete checkpoint: a `complete.json` whose sizes and hashes match
/// the four files, or (folders written before `complete.json` existed; never `checkpoint.tmp`)
/// the four files and a readable state.json.
fn complete_step(dir: &Path, legacy_ok: bool) -> Option<u64> {
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
            serde_json::from_slice::<TrainState>(&raw)
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

/// The checkpoint folder to resume from (see [`latest_checkpoint`]).
pub fn checkpoint_dir(run: &Path) -> Option<PathBuf> {
    latest_checkpoint(run).map(|(d, _)| d)
}

/// The config of the checkpoint `--resume` will continue (None when the run has none).
pub fn resume_config(run: &Path) -> Result<Option<Config>> {
    checkpoint_dir(run)
        .map(|d| load_config(&d.join("config.json")))
        .transpose()
}

/// Load a checkpoint's model (checked against `config`); returns its tensors for
/// [`check_optimizer_record`].
pub fn load_checkpoint_model<B: Backend>(
    ck: &Path,
    config: &ModelConfig,
    device: &B::Device,
) -> Result<(MusicVae<B>, Vec<Leaf>)> {
    let mp = ck.join("model.mpk");
    let bytes = std::fs::read(&mp).map_err(|e| Error::io(&mp, e))?;
    load_checked::<B>(&mp, bytes, config, device)
}

/// Check an optimizer record: every tensor well formed, and each Adam moment the shape of the
/// model parameter it belongs to.
pub fn check_optimizer_record(path: &Path, bytes: &[u8], model: &[Leaf]) -> Result<()> {
    let leaves = record_check::tensors(bytes)
        .map_err(|e| Error::bad_input(path, format!("{e}; the file is damaged")))?;
    record_check::optimizer_matches(&leaves, model).map_err(|e| {
        Error::bad_input(
            path,
            format!("{e}; it does not belong to this checkpoint's model"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;

    fn state(step: u64) -> TrainState {
        TrainState {
            step,
            epoch: 0,
            position: 0,
            rng: Rng::new(1),
            skipped_steps: 0,
            elapsed_secs: 0.0,
        }
    }

    /// A complete checkpoint folder of `step` at `to` (made in a scratch run, then moved).
    fn complete_at(to: &Path, step: u64, cfg: &Config) {
        let scratch = tempfile::tempdir().unwrap();
        save_checkpoint(scratch.path(), b"m", b"o", &state(step), cfg).unwrap();
        std::fs::rename(scratch.path().join("checkpoint"), to).unwrap();
    }

    #[test]
    fn newest_complete_checkpoint_in_every_interleaving() {
        let cfg = Config::preset("tiny").unwrap();
        let d = tempfile::tempdir().unwrap();
        let run = d.path();
        let (cur, tmp, old) = (
            run.join("checkpoint"),
            run.join("checkpoint.tmp"),
            run.join("checkpoint.old"),
        );
        assert_eq!(latest_checkpoint(run), None);
        // Killed while writing the very first one: nothing complete.
        std::fs::create_dir_all(&tmp).unwrap();
        std::fs::write(tmp.join("model.mpk"), b"m").unwrap();
        assert_eq!(latest_checkpoint(run), None);
        save_checkpoint(run, b"m", b"o", &state(2), &cfg).unwrap();
        assert_eq!(latest_checkpoint(run), Some((cur.clone(), 2)));
        assert!(!tmp.exists() && !old.exists());
        // Killed after checkpoint.tmp was complete, before the swap: the newer tmp wins.
        complete_at(&tmp, 4, &cfg);
        assert_eq!(latest_checkpoint(run), Some((tmp.clone(), 4)));
        // ...but not without its complete.json, nor with a file that does not match it.
        std::fs::rename(tmp.join(MANIFEST), run.join("m.json")).unwrap();
        assert_eq!(latest_checkpoint(run), Some((cur.clone(), 2)));
        std::fs::rename(run.join("m.json"), tmp.join(MANIFEST)).unwrap();
        std::fs::write(tmp.join("optimizer.mpk"), b"x").unwrap();
        assert_eq!(latest_checkpoint(run), Some((cur.clone(), 2)));
        std::fs::write(tmp.join("optimizer.mpk"), b"o").unwrap();
        // Killed between the two renames: checkpoint.old and checkpoint.tmp.
        std::fs::rename(&cur, &old).unwrap();
        assert_eq!(latest_checkpoint(run), Some((tmp.clone(), 4)));
        assert_eq!(resume_config(run).unwrap(), Some(cfg.clone()));
        // The next save keeps step 4 (swapped in first) and ends with one folder.
        save_checkpoint(run, b"m", b"o", &state(6), &cfg).unwrap();
        assert_eq!(latest_checkpoint(run), Some((cur.clone(), 6)));
        assert!(!tmp.exists() && !old.exists());
        // A folder from before complete.json existed still resumes (never a bare tmp).
        std::fs::remove_file(cur.join(MANIFEST)).unwrap();
        assert_eq!(latest_checkpoint(run), Some((cur.clone(), 6)));
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
