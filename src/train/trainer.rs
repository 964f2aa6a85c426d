//! The training loop: Adam with exponential learning-rate decay, β annealing, free bits, scheduled
//! sampling, global-norm clipping (steps with a non-finite or huge norm are skipped and counted),
//! periodic held-out evaluation on the inner backend, metrics.jsonl, atomic checkpoints, exact resume.

use super::checkpoint::{load_checkpoint, save_checkpoint, TrainState};
use super::data::{transpose_window, TrainData};
use super::eval::{evaluate, EvalResult};
use super::step::{host_normals, optimisation_step, scheduled_mode};
use crate::data::converter::{DataKind, Window};
use crate::data::drum_augment::{augment_drums, recombine_drums};
use crate::error::{Error, Result};
use crate::model::batch::make_batch;
use crate::model::batch::TrackSpec;
use crate::model::dropout::InputDropout;
use crate::model::store::{latest_checkpoint, model_bytes, recorder};
use crate::model::{Config, MusicVae, TrainConfig};
use crate::rng::Rng;
use burn::module::AutodiffModule;
use burn::optim::Optimizer;
use burn::record::Recorder;
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// One line of metrics.jsonl for a training step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepMetrics {
    pub step: u64,
    pub loss: f64,
    pub r_loss: f64,
    pub kl_bits: f64,
    pub beta: f64,
    pub lr: f64,
    pub accuracy: f64,
    pub sampling_probability: f64,
    pub global_norm: f64,
    pub skipped: bool,
    pub seq_per_sec: f64,
}

/// An evaluation line of metrics.jsonl.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvalLine {
    pub step: u64,
    pub eval: EvalResult,
}

/// What the caller wants to hear about.
pub trait TrainObserver {
    fn on_start(&mut self, _start_step: u64, _total: u64) {}
    fn on_step(&mut self, _m: &StepMetrics) {}
    fn on_eval(&mut self, _step: u64, _e: &EvalResult) {}
    fn on_checkpoint(&mut self, _step: u64) {}
}

/// Training options that are not hyper-parameters.
pub struct TrainOptions<'a> {
    pub run_dir: &'a Path,
    pub resume: bool,
    /// Log every n steps to metrics.jsonl.
    pub log_every: u64,
    pub stop: Option<&'a AtomicBool>,
}

/// Summary of a finished (or stopped) run.
#[derive(Debug, Clone)]
pub struct TrainSummary {
    pub final_step: u64,
    pub skipped_steps: u64,
    pub interrupted: bool,
    pub last_eval: Option<EvalResult>,
}

/// Whether a training run was started in `run` (a resume that finds no complete checkpoint there
/// starts again from step 0 instead of failing).
fn started(run: &Path) -> bool {
    run.join("checkpoint.tmp").is_dir()
        || (run.join("metrics.jsonl").is_file() && !run.join("model.mpk").is_file())
}

/// Train (or resume) a model on `data` with `config`.
pub fn train<B: AutodiffBackend>(
    config: &Config,
    data: &TrainData,
    device: &B::Device,
    opts: &TrainOptions,
    observer: &mut dyn TrainObserver,
) -> Result<TrainSummary> {
    let tc = &config.train;
    let mc = &config.model;
    let bsz = tc.batch_size;
    if data.train_windows() < bsz {
        return Err(Error::Invalid(format!(
            "only {} training windows for a batch size of {bsz}; lower --batch-size or add data",
            data.train_windows()
        )));
    }
    let run = opts.run_dir;
    std::fs::create_dir_all(run).map_err(|e| Error::io(run, e))?;
    // Temporary files of a run that was killed mid-write (never a complete file; see io_util).
    crate::io_util::remove_stale_temps(run);
    crate::io_util::remove_stale_temps(&run.join("checkpoint.tmp"));
    let metrics_path = run.join("metrics.jsonl");

    let optim = super::adam::init::<B>(tc);
    let (mut model, mut optim, mut state) =
        start_or_resume::<B, _>(config, opts, &metrics_path, optim, device)?;

    let mut metrics = MetricsLog::open(metrics_path)?;
    let specs = model.tracks.clone();
    let eval_windows = eval_subset(data, tc);
    let mut order = data.epoch_order(tc.seed, state.epoch);
    let t_start = Instant::now();
    let elapsed0 = state.elapsed_secs;
    let mut last_eval = None;
    let mut interrupted = false;
    observer.on_start(state.step, tc.steps);

    while state.step < tc.steps {
        if opts.stop.is_some_and(|s| s.load(Ordering::SeqCst)) {
            interrupted = true;
            break;
        }
        let batch_windows = next_batch(data, tc, &mut state, &mut order)?;
        let (next, m) = train_step(
            model,
            &mut optim,
            config,
            data.kind,
            &batch_windows,
            &specs,
            &mut state,
            device,
        );
        model = next;
        state.step += 1;
        state.elapsed_secs = elapsed0 + t_start.elapsed().as_secs_f64();
        observer.on_step(&m);
        if state.step.is_multiple_of(opts.log_every.max(1)) || state.step == tc.steps {
            metrics.write(&m)?;
        }
        let do_eval = (tc.eval_every > 0 && state.step.is_multiple_of(tc.eval_every))
            || state.step == tc.steps;
        if do_eval && !eval_windows.is_empty() {
            let valid = model.valid();
            let e = evaluate(
                &valid,
                mc,
                &eval_windows,
                bsz.min(256),
                tc.split_seed,
                device,
            );
            observer.on_eval(state.step, &e);
            metrics.write(&EvalLine {
                step: state.step,
                eval: e.clone(),
            })?;
            last_eval = Some(e);
        }
        if (tc.checkpoint_every > 0 && state.step.is_multiple_of(tc.checkpoint_every))
            || state.step == tc.steps
        {
            checkpoint(run, config, &model, &optim, &state, &mut metrics, observer)?;
        }
    }
    if interrupted {
        checkpoint(run, config, &model, &optim, &state, &mut metrics, observer)?;
    }
    Ok(TrainSummary {
        final_step: state.step,
        skipped_steps: state.skipped_steps,
        interrupted,
        last_eval,
    })
}

/// Where the run starts: a fresh model (from the seed), the fresh `optim` and step 0, or with
/// `--resume` the run's newest checkpoint (metric lines written after it are dropped; they will be
/// recomputed). Refuses `--resume` in a folder where no run was started, and a fresh start in a
/// folder that holds a checkpoint.
fn start_or_resume<B: AutodiffBackend, O: Optimizer<MusicVae<B>, B>>(
    config: &Config,
    opts: &TrainOptions,
    metrics_path: &Path,
    optim: O,
    device: &B::Device,
) -> Result<(MusicVae<B>, O, TrainState)> {
    let tc = &config.train;
    let run = opts.run_dir;
    let state = TrainState {
        step: 0,
        epoch: 0,
        position: 0,
        rng: Rng::new(tc.seed.wrapping_add(1)),
        skipped_steps: 0,
        elapsed_secs: 0.0,
    };
    match (opts.resume, latest_checkpoint(run).map(|(d, _)| d)) {
        (true, Some(ck)) => {
            let (model, optim, state) = load_checkpoint::<B, O>(&ck, config, optim, device)?;
            drop_metrics_after(metrics_path, state.step)?;
            Ok((model, optim, state))
        }
        (true, None) if !started(run) => Err(Error::bad_input(
            run,
            "--resume: no checkpoint in this run folder",
        )),
        (false, Some(_)) => Err(Error::bad_input(
            run,
            "already holds a checkpoint: use --resume to continue it, or another --out",
        )),
        _ => {
            // A new run, or a resumed one killed before its first checkpoint was complete: step 0.
            let _ = std::fs::remove_file(metrics_path);
            let model = match &tc.init_from {
                Some(dir) => initial_weights::<B>(Path::new(dir), config, device)?,
                None => MusicVae::<B>::new(&config.model, tc.seed, device),
            };
            Ok((model, optim, state))
        }
    }
}

/// The weights of the model in `dir` as the start of a new run configured by `config`: its
/// architecture and data must be the same (the schedules and training settings may differ).
fn initial_weights<B: AutodiffBackend>(
    dir: &Path,
    config: &Config,
    device: &B::Device,
) -> Result<MusicVae<B>> {
    let (model, from) = crate::model::store::load_model::<B>(dir, device)?;
    let differences = config.model.architecture_differences(&from.model);
    if !differences.is_empty() {
        return Err(Error::bad_input(
            dir,
            format!(
                "its weights do not fit this run ({}: run vs model); train with the model's own config (leave out --config) or start from fresh weights",
                differences.join(", ")
            ),
        ));
    }
    Ok(model)
}

/// Drop the lines of metrics.jsonl written after `step` (a resumed run recomputes them).
fn drop_metrics_after(metrics_path: &Path, step: u64) -> Result<()> {
    if let Ok(text) = std::fs::read_to_string(metrics_path) {
        let kept: String = text
            .lines()
            .filter(|l| {
                serde_json::from_str::<serde_json::Value>(l)
                    .ok()
                    .and_then(|v| v["step"].as_u64())
                    .is_some_and(|s| s <= step)
            })
            .map(|l| format!("{l}\n"))
            .collect();
        crate::io_util::write_atomic(metrics_path, kept.as_bytes())?;
    }
    Ok(())
}

/// metrics.jsonl, open for appending: one JSON object per line.
struct MetricsLog {
    file: std::fs::File,
    path: PathBuf,
}

impl MetricsLog {
    fn open(path: PathBuf) -> Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        Ok(MetricsLog { file, path })
    }

    fn write(&mut self, line: &impl Serialize) -> Result<()> {
        let line = serde_json::to_string(line).map_err(|e| Error::Invalid(e.to_string()))?;
        writeln!(self.file, "{line}").map_err(|e| Error::io(&self.path, e))
    }

    fn flush(&mut self) -> Result<()> {
        self.file.flush().map_err(|e| Error::io(&self.path, e))
    }
}

/// The held-out windows evaluated during training: all of them, or a fixed random
/// `eval_windows` of them (same on every evaluation and after a resume).
fn eval_subset<'a>(data: &'a TrainData, tc: &TrainConfig) -> Vec<&'a Window> {
    let mut v: Vec<usize> = data.eval.clone();
    if tc.eval_windows > 0 && v.len() > tc.eval_windows {
        let mut r = Rng::new(tc.split_seed);
        r.shuffle(&mut v);
        v.truncate(tc.eval_windows);
        v.sort_unstable();
    }
    v.into_iter().map(|i| &data.windows[i]).collect()
}

/// The next batch's windows (a new epoch's order when this one has too few left), each
/// transposed by a random number of semitones within ±`transpose`, and drums started at a random
/// bar of themselves when `rotate_bars` is set, and each of their hits dropped with probability
/// `drop_hits`.
fn next_batch(
    data: &TrainData,
    tc: &TrainConfig,
    state: &mut TrainState,
    order: &mut Vec<usize>,
) -> Result<Vec<Window>> {
    let bsz = tc.batch_size;
    if state.position + bsz > order.len() {
        state.epoch += 1;
        state.position = 0;
        *order = data.epoch_order(tc.seed, state.epoch);
        if order.len() < bsz {
            return Err(Error::Invalid(
                "fewer windows in an epoch than one batch".into(),
            ));
        }
    }
    let idx = &order[state.position..state.position + bsz];
    state.position += bsz;
    Ok(idx
        .iter()
        .map(|&i| {
            let k = if tc.transpose > 0 {
                state.rng.below((2 * tc.transpose + 1) as usize) as i32 - tc.transpose
            } else {
                0
            };
            let mut w = transpose_window(data.kind, &data.windows[i], k);
            if tc.recombine > 0.0 && state.rng.uniform() < tc.recombine {
                let other = &data.windows[order[state.rng.below(order.len())]];
                w = Window {
                    tracks: w
                        .tracks
                        .iter()
                        .zip(&other.tracks)
                        .map(|(a, b)| recombine_drums(a, b, &mut state.rng))
                        .collect(),
                };
            }
            if tc.rotate_bars || tc.drop_hits > 0.0 {
                Window {
                    tracks: w
                        .tracks
                        .iter()
                        .map(|t| augment_drums(t, tc.rotate_bars, tc.drop_hits, &mut state.rng))
                        .collect(),
                }
            } else {
                w
            }
        })
        .collect())
}

/// One optimisation step on `windows` (of `kind`) at step `state.step` (ε and scheduled-sampling
/// draws from `state.rng`; a skipped step is counted): the updated model and the step's metrics.
#[allow(clippy::too_many_arguments)]
fn train_step<B: AutodiffBackend, O: Optimizer<MusicVae<B>, B>>(
    model: MusicVae<B>,
    optim: &mut O,
    config: &Config,
    kind: DataKind,
    windows: &[Window],
    specs: &[TrackSpec],
    state: &mut TrainState,
    device: &B::Device,
) -> (MusicVae<B>, StepMetrics) {
    let (tc, mc) = (&config.train, &config.model);
    let bsz = windows.len();
    let refs: Vec<&Window> = windows.iter().collect();
    let t0 = Instant::now();
    let batch = make_batch::<B>(kind, &refs, device);

    let step = state.step;
    let p_sample = mc.sampling.probability(step);
    let eps = host_normals::<B>(&mut state.rng, bsz, mc.z_size, device);
    let mode = scheduled_mode(&mut state.rng, &batch, specs, p_sample, device);
    // Nothing is drawn when every input is kept (runs without dropout draw as before).
    let drop = InputDropout::draw(&mut state.rng, mc.dropout_keep_prob, &model, bsz);
    let (next, r) = optimisation_step(model, optim, config, &batch, eps, mode, drop.as_ref(), step);
    if r.skipped {
        state.skipped_steps += 1;
    }
    let m = StepMetrics {
        step: step + 1,
        loss: r.loss,
        r_loss: r.r_loss,
        kl_bits: r.kl / std::f64::consts::LN_2,
        beta: mc.beta(step),
        lr: tc.learning_rate_at(step),
        accuracy: r.correct / (bsz * mc.data.steps() * specs.len()) as f64,
        sampling_probability: p_sample,
        global_norm: r.global_norm,
        skipped: r.skipped,
        seq_per_sec: bsz as f64 / t0.elapsed().as_secs_f64().max(1e-9),
    };
    (next, m)
}

/// Flush the metrics, write a checkpoint of `model` and `optim` at `state`, redraw the curves and
/// tell the observer.
fn checkpoint<B: AutodiffBackend, O: Optimizer<MusicVae<B>, B>>(
    run: &Path,
    config: &Config,
    model: &MusicVae<B>,
    optim: &O,
    state: &TrainState,
    metrics: &mut MetricsLog,
    observer: &mut dyn TrainObserver,
) -> Result<()> {
    metrics.flush()?;
    let ob = recorder()
        .record(optim.to_record(), ())
        .map_err(|e| Error::Invalid(format!("cannot serialise the optimizer: {e}")))?;
    save_checkpoint(run, &model_bytes(model)?, &ob, state, config)?;
    super::curves::draw_curves(run)?;
    observer.on_checkpoint(state.step);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two files of dense 2-bar drum windows (every class hit at every step).
    fn dense_drums() -> TrainData {
        let windows: Vec<Window> = (0..8)
            .map(|_| Window {
                tracks: vec![vec![0x1FFu16; 32]],
            })
            .collect();
        TrainData {
            kind: DataKind::Drums,
            windows,
            train_files: vec![(0..4).collect(), (4..8).collect()],
            eval: vec![],
            max_per_file: 4,
        }
    }

    fn hits(ws: &[Window]) -> u32 {
        ws.iter()
            .flat_map(|w| w.tracks.iter().flatten())
            .map(|t| t.count_ones())
            .sum()
    }

    #[test]
    fn drop_hits_drops_about_that_fraction_of_training_hits() {
        let data = dense_drums();
        let mut config = Config::preset("cat-drums_2bar_small").unwrap();
        config.train.batch_size = 8;
        let all = 8 * 32 * 9;
        for (p, lo, hi) in [(0.0, all, all), (0.2, all * 70 / 100, all * 90 / 100)] {
            config.train.drop_hits = p;
            let mut state = TrainState {
                step: 0,
                epoch: 0,
                position: 0,
                rng: Rng::new(7),
                skipped_steps: 0,
                elapsed_secs: 0.0,
            };
            let mut order = data.epoch_order(config.train.seed, 0);
            let batch = next_batch(&data, &config.train, &mut state, &mut order).unwrap();
            let kept = hits(&batch);
            assert!((lo..=hi).contains(&kept), "p {p}: kept {kept} of {all}");
        }
        // The stored windows are untouched.
        assert_eq!(hits(&data.windows), all);
    }
}
