//! Training checkpoints, crash-consistent: the loop position ([`TrainState`]), and saving and
//! resuming a run.
//!
//! Checkpoints: `<run>/checkpoint/{model.mpk, optimizer.mpk, state.json, config.json, complete.json}`.
//! A new one is written into `checkpoint.tmp/`, `complete.json` (sizes and hashes of the other four)
//! last, everything fsynced, then swapped in with renames (`checkpoint/` → `checkpoint.old/`,
//! `checkpoint.tmp/` → `checkpoint/`) and the run folder fsynced. Whatever moment a kill hits, one
//! of the three folders holds a complete checkpoint (after the first one); [`latest_checkpoint`]
//! finds the newest complete one. `<run>/model.mpk` + `<run>/config.json` hold the latest weights
//! for generation (model folders: [`crate::model::store`]).

use crate::error::{Error, Result};
use crate::io_util::write_atomic;
use crate::model::record_check::{self, Leaf};
use crate::model::store::{
    complete_step, config_json, latest_checkpoint, load_checked, load_config, recorder,
    save_model_bytes, sync_dir, Manifest, Stamp, CHECKPOINT_FILES, MANIFEST,
};
use crate::model::{Config, ModelConfig, MusicVae};
use crate::rng::Rng;
use burn::optim::Optimizer;
use burn::record::Recorder;
use burn::tensor::backend::{AutodiffBackend, Backend};
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

/// The checkpoint folder to resume from (see [`latest_checkpoint`]).
pub fn checkpoint_dir(run: &Path) -> Option<PathBuf> {
    latest_checkpoint(run).map(|(d, _)| d)
}

/// Remove the checkpoints of `run` (`checkpoint/`, `checkpoint.tmp/`, `checkpoint.old/`): what
/// `train --force` replaces, removed once the new run is ready to start.
pub fn remove_checkpoints(run: &Path) -> Result<()> {
    for name in ["checkpoint", "checkpoint.tmp", "checkpoint.old"] {
        let dir = run.join(name);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
    }
    Ok(())
}

/// The config of the checkpoint `--resume` will continue (None when the run has none).
pub fn resume_config(run: &Path) -> Result<Option<Config>> {
    checkpoint_dir(run)
        .map(|d| load_config(&d.join("config.json")))
        .transpose()
}

/// Read back the checkpoint in `ck`, the mirror of [`save_checkpoint`]: its model (whose config
/// must be `config`'s model config; the training settings may differ), the optimizer state loaded
/// into the fresh `optim`, and the loop position. Weights and optimizer state are checked against
/// the config before burn reads them.
pub fn load_checkpoint<B: AutodiffBackend, O: Optimizer<MusicVae<B>, B>>(
    ck: &Path,
    config: &Config,
    optim: O,
    device: &B::Device,
) -> Result<(MusicVae<B>, O, TrainState)> {
    let saved = load_config(&ck.join("config.json"))?;
    if saved.model != config.model {
        return Err(Error::bad_input(ck, "--resume: the saved model config differs from the requested one; resume without --config overrides"));
    }
    let (model, leaves) = load_checkpoint_model::<B>(ck, &config.model, device)?;
    let op = ck.join("optimizer.mpk");
    let ob = std::fs::read(&op).map_err(|e| Error::io(&op, e))?;
    check_optimizer_record(&op, &ob, &leaves)?;
    let orec = recorder()
        .load(ob, device)
        .map_err(|e| Error::bad_input(&op, format!("cannot read the optimizer state: {e}")))?;
    let optim = optim.load_record(orec);
    let sp = ck.join("state.json");
    let raw = std::fs::read(&sp).map_err(|e| Error::io(&sp, e))?;
    let state = serde_json::from_slice(&raw).map_err(|e| Error::Json {
        path: sp.clone(),
        reason: e.to_string(),
    })?;
    Ok((model, optim, state))
}

/// Load a checkpoint's model (checked against `config`); returns its tensors for
/// [`check_optimizer_record`].
fn load_checkpoint_model<B: Backend>(
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
fn check_optimizer_record(path: &Path, bytes: &[u8], model: &[Leaf]) -> Result<()> {
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
}
