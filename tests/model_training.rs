//! Model tests on the CPU backend with tiny presets and real windows from midi_data:
//! overfitting (flat and hierarchical), save → load, and stop + resume reproducing the same curve.

mod common;

use burn::backend::{Autodiff, NdArray};
use common::real_windows;
use musicvae::data::converter::DataKind;
use musicvae::model::batch::make_batch;
use musicvae::model::store::{load_model, save_model};
use musicvae::model::{Config, DecodeMode, MusicVae};
use musicvae::train::data::TrainData;
use musicvae::train::eval::evaluate;
use musicvae::train::{train, StepMetrics, TrainObserver, TrainOptions};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

type B = NdArray<f32>;
type AB = Autodiff<B>;

fn data_of(kind: DataKind, windows: Vec<musicvae::data::converter::Window>) -> TrainData {
    let n = windows.len();
    TrainData {
        kind,
        windows,
        train_files: (0..n).map(|i| vec![i]).collect(),
        eval: (0..n).collect(),
        max_per_file: 5,
    }
}

struct Quiet;
impl TrainObserver for Quiet {}

fn overfit(preset: &str, steps: u64) -> f64 {
    overfit_at(preset, steps, None)
}

/// [`overfit`] at a learning rate other than the preset's (it still decays to the preset's minimum).
fn overfit_at(preset: &str, steps: u64, lr: Option<f64>) -> f64 {
    let mut cfg = Config::preset(preset).unwrap();
    if let Some(lr) = lr {
        cfg.train.learning_rate = lr;
    }
    cfg.train.steps = steps;
    cfg.train.eval_every = 0;
    cfg.train.checkpoint_every = 0;
    cfg.train.batch_size = 16;
    let windows = real_windows(&cfg.model.data, 16);
    let data = data_of(cfg.model.data.kind, windows);
    let dir = tempfile::tempdir().unwrap();
    let dev = Default::default();
    let opts = TrainOptions {
        run_dir: dir.path(),
        resume: false,
        log_every: 50,
        stop: None,
    };
    let summary = train::<AB>(&cfg, &data, &dev, &opts, &mut Quiet).unwrap();
    let e = summary.last_eval.expect("final eval");
    println!(
        "{preset}: {steps} steps, teacher-forced {:.4}, sampled {:.4}, KL {:.1} bits",
        e.teacher_forced_accuracy, e.sampled_accuracy, e.kl_bits
    );
    // The trained weights were saved; they must reproduce the same figure.
    let (model, cfg2) = load_model::<B>(dir.path(), &dev).unwrap();
    let refs: Vec<_> = data.windows.iter().collect();
    let again = evaluate(&model, &cfg2.model, &refs, 16, cfg2.train.split_seed, &dev);
    assert!((again.teacher_forced_accuracy - e.teacher_forced_accuracy).abs() < 1e-9);
    // The "no event" share is the share of token-0 targets, and the accuracy splits into the
    // no-event steps and the event steps: acc = share·acc_no_event + (1 − share)·acc_event.
    let tokens: Vec<u16> = data
        .windows
        .iter()
        .flat_map(|w| w.tracks.iter().flatten().copied())
        .collect();
    let share = tokens.iter().filter(|&&t| t == 0).count() as f64 / tokens.len() as f64;
    assert!((again.no_event_baseline - share).abs() < 1e-9, "{share}");
    for (acc, ev) in [
        (again.teacher_forced_accuracy, again.tf_event_accuracy),
        (again.sampled_accuracy, again.sampled_event_accuracy),
    ] {
        let events_right = (1.0 - share) * ev;
        assert!(
            acc + 1e-9 >= events_right && acc <= share + events_right + 1e-9,
            "accuracy {acc}, event accuracy {ev}, no-event share {share}"
        );
    }
    e.teacher_forced_accuracy
}

#[test]
fn tiny_flat_overfits_16_real_2bar_windows() {
    // 800 steps: at 400 one run under load ended at 0.984 (CPU runs are not bit-identical, see
    // the resume test below). At 500 most runs end at 1.000, but CI runs ended at 0.988
    // (2026-12-02) and 0.969 (2026-12-03, KL 82 bits and sampled 0.848: still learning). 16
    // windows of 32 steps are memorised when at most 2 % of their 512 steps are wrong.
    let acc = overfit("tiny", 800);
    assert!(acc >= 0.98, "teacher-forced accuracy {acc}");
}

#[test]
fn tiny_hierarchical_overfits_16_real_4bar_windows() {
    // lr 5e-3 rather than the preset's 1e-2: at 1e-2 one CI run in four diverged (teacher-forced
    // 0.777, KL 240 bits after 500 steps; runs are not bit-identical, see the resume test); at
    // 5e-3 runs reached 1.000 / 1.000 and 1.000 / 0.997 (teacher-forced / sampled). 600 steps:
    // after the CPU kernels moved to AVX-512 gemm, 500-step runs ended at 0.969 (one CI run, debug
    // build), 0.994, 0.999 and 1.000 (release): too close to the bar.
    let acc = overfit_at("tiny-hier", 600, Some(5e-3));
    assert!(acc >= 0.99, "teacher-forced accuracy {acc}");
}

#[test]
fn save_then_load_gives_identical_logits() {
    for preset in ["tiny", "tiny-hier"] {
        let cfg = Config::preset(preset).unwrap();
        let dev = Default::default();
        let model = MusicVae::<B>::new(&cfg.model, 7, &dev);
        let dir = tempfile::tempdir().unwrap();
        save_model(dir.path(), &model, &cfg).unwrap();
        let (loaded, cfg2) = load_model::<B>(dir.path(), &dev).unwrap();
        assert_eq!(cfg2, cfg);
        let windows = real_windows(&cfg.model.data, 4);
        let refs: Vec<_> = windows.iter().collect();
        let batch = make_batch::<B>(cfg.model.data.kind, &refs, &dev);
        let logits = |m: &MusicVae<B>| -> Vec<f32> {
            let (mu, _) = m.encode(batch.inputs.clone());
            let out = m.decode(
                mu,
                DecodeMode::TeacherForced {
                    inputs: batch.inputs.clone(),
                },
            );
            out.logits[0].clone().into_data().to_vec().unwrap()
        };
        assert_eq!(logits(&model), logits(&loaded), "{preset}");
    }
}

struct StopAt {
    at: u64,
    flag: Arc<AtomicBool>,
}
impl TrainObserver for StopAt {
    fn on_step(&mut self, m: &StepMetrics) {
        if m.step == self.at {
            self.flag.store(true, Ordering::SeqCst);
        }
    }
}

fn losses(dir: &std::path::Path) -> Vec<(u64, f64)> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            Some((v["step"].as_u64()?, v["loss"].as_f64()?))
        })
        .collect()
}

#[test]
fn stop_and_resume_reproduces_the_uninterrupted_curve() {
    let mut cfg = Config::preset("tiny").unwrap();
    cfg.train.steps = 24;
    cfg.train.eval_every = 8;
    cfg.train.checkpoint_every = 0;
    cfg.train.batch_size = 8;
    cfg.train.transpose = 3; // exercise the augmentation RNG too
    cfg.model.sampling = musicvae::model::SamplingSchedule::Constant(0.3); // and scheduled sampling
    let windows = real_windows(&cfg.model.data, 16);
    let data = data_of(DataKind::Melody, windows);
    let dev = Default::default();

    let a = tempfile::tempdir().unwrap();
    train::<AB>(
        &cfg,
        &data,
        &dev,
        &TrainOptions {
            run_dir: a.path(),
            resume: false,
            log_every: 1,
            stop: None,
        },
        &mut Quiet,
    )
    .unwrap();

    let b = tempfile::tempdir().unwrap();
    let flag = Arc::new(AtomicBool::new(false));
    let mut obs = StopAt {
        at: 11,
        flag: flag.clone(),
    };
    let s1 = train::<AB>(
        &cfg,
        &data,
        &dev,
        &TrainOptions {
            run_dir: b.path(),
            resume: false,
            log_every: 1,
            stop: Some(&flag),
        },
        &mut obs,
    )
    .unwrap();
    assert!(s1.interrupted);
    assert_eq!(s1.final_step, 11);
    let s2 = train::<AB>(
        &cfg,
        &data,
        &dev,
        &TrainOptions {
            run_dir: b.path(),
            resume: true,
            log_every: 1,
            stop: None,
        },
        &mut Quiet,
    )
    .unwrap();
    assert_eq!(s2.final_step, 24);

    let (la, lb) = (losses(a.path()), losses(b.path()));
    assert_eq!(la.len(), 24);
    assert_eq!(la.len(), lb.len());
    // Not bitwise: burn-ndarray's SIMD reciprocal (an approximation used on the 32-byte-aligned
    // middle of a buffer, exact division on its ends; the backward pass of every sigmoid goes
    // through it) depends on where a tensor lands in memory, so two uninterrupted runs already
    // differ in the 7th significant digit after one step, with any thread count,
    // and lr 1e-2 amplifies that over 24 steps to a few 1e-6 of the loss (6e-6 seen). A resume
    // that lost the optimizer state, the RNG state or the data position moves the curve by whole
    // percents, so a relative tolerance of 1e-4 still tells a faithful resume from a broken one.
    let mut worst = 0f64;
    for ((sa, xa), (sb, xb)) in la.iter().zip(&lb) {
        assert_eq!(sa, sb);
        let rel = (xa - xb).abs() / xa.abs().max(1.0);
        worst = worst.max(rel);
        assert!(rel < 1e-4, "step {sa}: {xa} vs {xb} (relative {rel:.2e})");
    }
    println!("largest relative difference of the resumed curve: {worst:.2e}");
    // Without --resume a run folder with a checkpoint is refused (nothing is overwritten).
    assert!(train::<AB>(
        &cfg,
        &data,
        &dev,
        &TrainOptions {
            run_dir: b.path(),
            resume: false,
            log_every: 1,
            stop: None
        },
        &mut Quiet
    )
    .is_err());
}
