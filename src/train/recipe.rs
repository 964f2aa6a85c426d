//! The quick recipe: what `musicvae train` does when no preset is named. Magenta's presets are
//! made for hundreds of thousands of GPU steps at batch 512 (β reaches 99 % of its maximum after
//! ≈ 460,000 steps); on a laptop-class CPU a run is thousands of steps, so the recipe keeps the
//! preset's architecture and loss and fits the batch, the step count and the schedules to that
//! budget: batch 64, 3,000 steps, β annealed to its maximum by half-way
//! ([`ModelConfig::fit_anneal`](crate::model::config::ModelConfig::fit_anneal)), scheduled
//! sampling compressed by the same factor, an evaluation and a checkpoint every 10 %.

use crate::data::converter::DataKind;
use crate::error::Result;
use crate::model::config::Preset;
use crate::model::Config;

/// Steps of a quick run.
pub const QUICK_STEPS: u64 = 3_000;
/// Batch of a quick run.
pub const QUICK_BATCH: usize = 64;
/// Held-out windows evaluated at each evaluation of a quick run.
pub const QUICK_EVAL_WINDOWS: usize = 1_024;
/// Training throughput of `cat-mel_2bar_small` at batch 64 on a 2-core CPU, in sequences per
/// second: the basis of the time estimate printed before a run. Measured: a quick run on
/// `midi_data` (free-running from step ≈ 150, evaluations and checkpoints included) made 163 seq/s
/// on the project's 2-core Intel Xeon (AVX-512) with data-parallel steps (2026-12-01); rounded
/// down for cores without AVX-512 (the 2-core AMD EPYC, AVX2, ran 75 before data-parallel steps).
pub const REFERENCE_SEQ_PER_SEC: f64 = 150.0;

/// The preset a quick run on 2-bar windows of `kind` starts from (None for other lengths: long
/// models need a preset chosen for them).
pub fn preset_for(kind: DataKind, bars: usize) -> Option<&'static Preset> {
    match (kind, bars) {
        (DataKind::Melody, 2) => Preset::named("cat-mel_2bar_small"),
        (DataKind::Drums, 2) => Preset::named("cat-drums_2bar_small"),
        _ => None,
    }
}

/// Fit `config` to a quick run: batch, steps, evaluation and checkpoint intervals.
/// [`fit_schedules`] then fits β and scheduled sampling once the step count is final.
pub fn quick(config: &mut Config) {
    let t = &mut config.train;
    t.batch_size = QUICK_BATCH;
    t.steps = QUICK_STEPS;
    t.eval_windows = QUICK_EVAL_WINDOWS;
    set_intervals(config);
}

/// An evaluation and a checkpoint every tenth of the run (at least every 50 steps).
pub fn set_intervals(config: &mut Config) {
    let t = &mut config.train;
    let every = (t.steps / 10).max(50);
    t.eval_every = every;
    t.checkpoint_every = every;
}

/// β reaches its maximum (and scheduled sampling its ramp) at `anneal_steps`, by default half-way
/// through the run.
pub fn fit_schedules(config: &mut Config, anneal_steps: Option<u64>) -> Result<()> {
    let k = anneal_steps.unwrap_or((config.train.steps / 2).max(1));
    config.model.fit_anneal(k)
}

/// Minutes a run of `config` takes on the reference machine, scaled from
/// [`REFERENCE_SEQ_PER_SEC`] by the model's per-sequence cost relative to `cat-mel_2bar_small`
/// (parameters × steps per window).
pub fn estimated_minutes(config: &Config) -> f64 {
    let reference = match Preset::named("cat-mel_2bar_small") {
        Some(p) => p.config().model,
        None => return f64::NAN,
    };
    let cost = |m: &crate::model::ModelConfig| m.num_params() as f64 * m.data.steps() as f64;
    let relative = cost(&config.model) / cost(&reference);
    let t = &config.train;
    t.steps as f64 * t.batch_size as f64 * relative / REFERENCE_SEQ_PER_SEC / 60.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_recipe_fits_beta_to_half_the_run() {
        let mut c = preset_for(DataKind::Melody, 2).expect("preset").config();
        quick(&mut c);
        fit_schedules(&mut c, None).expect("fit");
        assert_eq!((c.train.steps, c.train.batch_size), (3_000, 64));
        assert_eq!(c.model.anneal_steps, Some(1_500));
        // β is at 99 % of its maximum half-way and the preset's architecture is kept.
        assert!((c.model.beta(1_500) - 0.99 * c.model.max_beta).abs() < 1e-9);
        assert_eq!(c.model.z_size, 256);
        assert_eq!(c.train.eval_every, 300);
        let minutes = estimated_minutes(&c);
        let expected = 3_000.0 * 64.0 / REFERENCE_SEQ_PER_SEC / 60.0;
        assert!((minutes - expected).abs() < 1e-6, "{minutes} vs {expected}");
        assert!(preset_for(DataKind::Melody, 16).is_none());
        assert_eq!(
            preset_for(DataKind::Drums, 2).map(|p| p.name),
            Some("cat-drums_2bar_small")
        );
    }
}
