//! Training loop: class-balanced batches with random transposition, AdamW with linear warm-up and
//! cosine decay, cross-entropy; after every epoch the model is written (atomically) and evaluated on
//! the held-out files (window and file level) on the inner backend. At the end: full held-out
//! evaluation, training-set accuracy, `report.json`, confusion matrices (PNG) and a training curve.

use super::config::ClassifierConfig;
use super::data::ClassifierData;
use super::eval::{evaluate, Evaluation};
use super::model::ClassifierNet;
use super::pianoroll::{batch_tensor, RollSpec};
use super::predict::save_classifier;
use crate::data::converter::Window;
use crate::data::drum_augment::augment_drums;
use crate::error::{Error, Result};
use crate::io_util::write_atomic;
use crate::plot::{confusion_matrix, line_chart, ChartSpec, Series};
use crate::rng::Rng;
use burn::module::{AutodiffModule, Module};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Progress of one step (running means over the epoch so far).
#[derive(Debug, Clone)]
pub struct StepInfo {
    pub step: u64,
    pub epoch: usize,
    pub loss: f64,
    pub accuracy: f64,
    pub lr: f64,
    pub windows_per_sec: f64,
}

/// Held-out figures of one epoch.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HeldOutSummary {
    pub window_accuracy: f64,
    pub window_balanced_accuracy: f64,
    pub file_accuracy: f64,
    pub file_balanced_accuracy: f64,
    pub loss: f64,
    pub windows: usize,
    pub files: usize,
}

impl From<&Evaluation> for HeldOutSummary {
    fn from(e: &Evaluation) -> Self {
        HeldOutSummary {
            window_accuracy: e.window_accuracy,
            window_balanced_accuracy: e.window_balanced_accuracy,
            file_accuracy: e.file_accuracy,
            file_balanced_accuracy: e.file_balanced_accuracy,
            loss: e.loss,
            windows: e.windows,
            files: e.files,
        }
    }
}

/// One line of `metrics.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochReport {
    pub epoch: usize,
    pub step: u64,
    /// Mean loss and accuracy of the (augmented, class-balanced) training batches of the epoch.
    pub train_loss: f64,
    pub train_accuracy: f64,
    pub held_out: Option<HeldOutSummary>,
    /// Training windows per second of this epoch (forward + backward + update).
    pub train_windows_per_sec: f64,
    /// Seconds of the held-out evaluation after the epoch.
    pub eval_secs: f64,
    /// Seconds since the start of training.
    pub secs: f64,
}

/// What a run produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainOutcome {
    pub arch: String,
    pub params: usize,
    pub epochs: Vec<EpochReport>,
    /// Every window of every held-out file (None without held-out files).
    pub held_out: Option<Evaluation>,
    /// Training files without augmentation (at most `TRAIN_EVAL_WINDOWS` windows, spread over files).
    pub train: Evaluation,
    /// Held-out windows that also occur verbatim in a training file, and all held-out windows.
    pub held_out_duplicates: (usize, usize),
    pub interrupted: bool,
    pub secs: f64,
}

/// Cap on the training windows evaluated at the end.
pub const TRAIN_EVAL_WINDOWS: usize = 8192;

/// What the caller wants to hear about.
pub trait ClassifierObserver {
    fn on_start(&mut self, _total_steps: u64) {}
    fn on_step(&mut self, _s: &StepInfo) {}
    fn on_epoch(&mut self, _e: &EpochReport) {}
    fn on_message(&mut self, _m: &str) {}
}

/// An observer that ignores everything.
pub struct Quiet;
impl ClassifierObserver for Quiet {}

/// Learning rate at `step` of `total`: linear warm-up, then cosine decay to 0.
pub fn lr_at(cfg: &ClassifierConfig, step: u64, total: u64) -> f64 {
    let w = cfg.warmup_steps.min(total as usize / 2) as f64;
    let s = step as f64;
    if s < w {
        return cfg.learning_rate * (s + 1.0) / w;
    }
    let t = ((s - w) / (total as f64 - w).max(1.0)).clamp(0.0, 1.0);
    cfg.learning_rate * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
}

/// Train a classifier on `data` and write it into `out` (model.mpk, config.json with the labels,
/// metrics.jsonl, report.json, confusion.png, confusion_files.png, curve.png).
pub fn train_classifier<B: AutodiffBackend>(
    config: &ClassifierConfig,
    data: &ClassifierData,
    out: &Path,
    device: &B::Device,
    obs: &mut dyn ClassifierObserver,
    stop: Option<&AtomicBool>,
) -> Result<TrainOutcome> {
    let mut cfg = config.clone();
    cfg.labels = data.labels.clone();
    cfg.validate()?;
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let k = cfg.labels.len();
    let spec = RollSpec::of(&cfg);
    let by_label = data.train_files_by_label();
    let held_files = data.held_out_files();

    B::seed(device, cfg.seed);
    let mut net = ClassifierNet::<B>::new(&cfg, k, device);
    let params = net.num_params();
    let mut optim = AdamWConfig::new()
        .with_weight_decay(cfg.weight_decay as f32)
        .init::<B, ClassifierNet<B>>();
    let ce = CrossEntropyLossConfig::new()
        .with_smoothing((cfg.label_smoothing > 0.0).then_some(cfg.label_smoothing as f32))
        .init(device);
    let mut rng = Rng::new(cfg.seed.wrapping_add(1));
    let total = (cfg.epochs * cfg.steps_per_epoch) as u64;
    obs.on_start(total);
    let t0 = Instant::now();
    let mut epochs = Vec::new();
    let mut step: u64 = 0;
    let mut interrupted = false;

    'outer: for epoch in 1..=cfg.epochs {
        let te = Instant::now();
        let (mut loss_sum, mut right, mut seen) = (0.0f64, 0usize, 0usize);
        for _ in 0..cfg.steps_per_epoch {
            if stop.map(|s| s.load(Ordering::SeqCst)).unwrap_or(false) {
                interrupted = true;
                break;
            }
            let batch =
                data.sample_batch(&by_label, cfg.batch_size, &spec, cfg.transpose, &mut rng);
            let augmented: Vec<Window> = if cfg.rotate_bars || cfg.drop_hits > 0.0 {
                batch
                    .iter()
                    .map(|b| Window {
                        tracks: data.windows[b.0]
                            .tracks
                            .iter()
                            .map(|t| augment_drums(t, cfg.rotate_bars, cfg.drop_hits, &mut rng))
                            .collect(),
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let wins: Vec<&Window> = if augmented.is_empty() {
                batch.iter().map(|b| &data.windows[b.0]).collect()
            } else {
                augmented.iter().collect()
            };
            let shifts: Vec<i32> = batch.iter().map(|b| b.2).collect();
            let labels: Vec<i64> = batch.iter().map(|b| b.1 as i64).collect();
            let x = batch_tensor::<B>(&wins, &shifts, &spec, device); // [N, C, P, T]
            let y = Tensor::<B, 1, Int>::from_data(
                TensorData::new(labels.clone(), [labels.len()]),
                device,
            ); // [N]
            let logits = net.forward(x); // [N, K]
            let loss = ce.forward(logits.clone(), y); // [1]
            let pred: Vec<i64> = logits
                .argmax(1)
                .into_data()
                .convert::<i64>()
                .to_vec()
                .unwrap_or_default();
            let lv: f64 = loss
                .clone()
                .into_data()
                .convert::<f64>()
                .to_vec::<f64>()
                .ok()
                .and_then(|v| v.first().copied())
                .unwrap_or(f64::NAN);
            if !lv.is_finite() {
                return Err(Error::Invalid(format!(
                    "the loss became {lv} at step {step}; lower the learning rate ({})",
                    cfg.learning_rate
                )));
            }
            let lr = lr_at(&cfg, step, total);
            let grads = loss.backward();
            let gp = GradientsParams::from_grads(grads, &net);
            net = optim.step(lr, net, gp);
            step += 1;
            loss_sum += lv * labels.len() as f64;
            right += pred.iter().zip(&labels).filter(|(a, b)| a == b).count();
            seen += labels.len();
            obs.on_step(&StepInfo {
                step,
                epoch,
                loss: loss_sum / seen as f64,
                accuracy: right as f64 / seen as f64,
                lr,
                windows_per_sec: seen as f64 / te.elapsed().as_secs_f64().max(1e-9),
            });
        }
        if seen == 0 {
            break;
        }
        let train_windows_per_sec = seen as f64 / te.elapsed().as_secs_f64().max(1e-9);
        let tv = Instant::now();
        let valid = net.valid();
        save_classifier(out, &valid, &cfg)?;
        let held_out = (!held_files.is_empty()).then(|| {
            HeldOutSummary::from(&evaluate(
                &valid,
                &cfg,
                data,
                &held_files,
                cfg.eval_windows_per_file,
                device,
            ))
        });
        let rep = EpochReport {
            epoch,
            step,
            train_loss: loss_sum / seen as f64,
            train_accuracy: right as f64 / seen as f64,
            held_out,
            train_windows_per_sec,
            eval_secs: tv.elapsed().as_secs_f64(),
            secs: t0.elapsed().as_secs_f64(),
        };
        obs.on_epoch(&rep);
        epochs.push(rep);
        write_metrics(out, &epochs)?;
        if interrupted {
            break 'outer;
        }
    }

    let valid = net.valid();
    if epochs.is_empty() {
        save_classifier(out, &valid, &cfg)?;
    }
    obs.on_message("final evaluation on every held-out window…");
    let held_out =
        (!held_files.is_empty()).then(|| evaluate(&valid, &cfg, data, &held_files, 0, device));
    let train_files = data.train_files();
    let per_file = (TRAIN_EVAL_WINDOWS / train_files.len().max(1)).max(1);
    let train = evaluate(&valid, &cfg, data, &train_files, per_file, device);
    let outcome = TrainOutcome {
        arch: cfg.arch_name(),
        params,
        epochs,
        held_out,
        train,
        held_out_duplicates: data.held_out_duplicates(),
        interrupted,
        secs: t0.elapsed().as_secs_f64(),
    };
    write_report(out, &cfg, &outcome)?;
    Ok(outcome)
}

fn write_metrics(out: &Path, epochs: &[EpochReport]) -> Result<()> {
    let mut s = String::new();
    for e in epochs {
        s.push_str(&serde_json::to_string(e).map_err(|e| Error::Invalid(e.to_string()))?);
        s.push('\n');
    }
    write_atomic(&out.join("metrics.jsonl"), s.as_bytes())
}

/// `report.json`, `confusion.png` (held-out windows), `confusion_files.png` (held-out files, mean
/// log-probability) and `curve.png` (accuracy per epoch).
pub fn write_report(out: &Path, cfg: &ClassifierConfig, o: &TrainOutcome) -> Result<()> {
    let json = serde_json::to_vec_pretty(o).map_err(|e| Error::Invalid(e.to_string()))?;
    write_atomic(&out.join("report.json"), &json)?;
    let (eval, which) = match &o.held_out {
        Some(e) => (e, "held-out"),
        None => (&o.train, "training"),
    };
    let name = cfg.arch_name();
    confusion_matrix(
        &cfg.labels,
        &eval.window_confusion,
        &format!(
            "{name}, {} bars: {which} windows, acc {:.1}%",
            cfg.bars,
            100.0 * eval.window_accuracy
        ),
    )
    .save_png(&out.join("confusion.png"))?;
    confusion_matrix(
        &cfg.labels,
        &eval.file_confusion,
        &format!(
            "{name}, {} bars: {which} files, acc {:.1}%",
            cfg.bars,
            100.0 * eval.file_accuracy
        ),
    )
    .save_png(&out.join("confusion_files.png"))?;
    if !o.epochs.is_empty() {
        let pick = |f: &dyn Fn(&EpochReport) -> Option<f64>| -> Vec<(f64, f64)> {
            o.epochs
                .iter()
                .filter_map(|e| f(e).map(|v| (e.epoch as f64, v)))
                .collect()
        };
        let series = vec![
            Series::new("train batches", pick(&|e| Some(e.train_accuracy))),
            Series::new(
                "held-out windows",
                pick(&|e| e.held_out.as_ref().map(|h| h.window_accuracy)),
            ),
            Series::new(
                "held-out files",
                pick(&|e| e.held_out.as_ref().map(|h| h.file_accuracy)),
            ),
        ];
        let mut spec = ChartSpec::new(
            format!("{name}, {} bars: accuracy per epoch", cfg.bars),
            "epoch",
            "accuracy",
        );
        spec.y_range = Some((0.0, 1.0));
        line_chart(&series, &spec).save_png(&out.join("curve.png"))?;
    }
    Ok(())
}
