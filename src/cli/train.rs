//! `musicvae train --data DIR --config NAME --out RUN_DIR [--device cpu|cuda] [--steps N] [--batch-size B] [--resume] [--minutes M]`.
//!
//! `--minutes M` bounds the command's wall time (for GPU leases): a timer sets the same stop flag
//! as Ctrl-C, so the step in flight finishes, a checkpoint is written and `--resume` continues.

use super::backend::{check, DeviceKind};
use super::config_arg::PresetArg;
use super::data_arg::load_data;
use super::progress::bar;
use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::ProgressBar;
use musicvae::data::converter::DataKind;
use musicvae::data::source::is_cache;
use musicvae::model::config::{Preset, SamplingSchedule};
use musicvae::model::store::load_config;
use musicvae::model::Config;
use musicvae::model_dir::{resolve_model, DEFAULT_MODEL};
use musicvae::train::data::TrainData;
use musicvae::train::eval::EvalResult;
use musicvae::train::recipe;
use musicvae::train::{train, StepMetrics, TrainObserver, TrainOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// A folder of MIDI files (labels = first-level folders) or a cache written by `musicvae prepare`.
    #[arg(long)]
    pub data: PathBuf,
    /// Preset (Magenta's configs.py numbers, trained as Magenta does: batch 512, 200,000 steps).
    /// Without it: the quick recipe on the preset that fits the data (cat-mel_2bar_small for
    /// melodies, cat-drums_2bar_small for drum tracks): batch 64, 3,000 steps, β annealed by
    /// half-way; with --init, the model's own sizes.
    #[arg(long, short, value_enum)]
    pub config: Option<PresetArg>,
    /// Start from the weights of this model (a folder or a name under models/, e.g. mel_2bar):
    /// fine-tune it on --data. The run's sizes must be the model's (leave out --config).
    #[arg(long, value_name = "MODEL", conflicts_with = "resume")]
    pub init: Option<PathBuf>,
    /// Run folder: checkpoints, metrics.jsonl, the final model.
    #[arg(long, short)]
    pub out: PathBuf,
    #[arg(long, value_enum, default_value_t = DeviceKind::Cpu)]
    pub device: DeviceKind,
    /// Total training steps (overrides the preset).
    #[arg(long)]
    pub steps: Option<u64>,
    /// Fit the schedules to a short run: β reaches 99 % of its maximum at step K (Magenta's
    /// rate 0.99999 takes ≈ 460,000 steps) and the scheduled-sampling ramp is compressed by the
    /// same factor. The resolved rates are saved in config.json. For CPU runs of thousands of
    /// steps, where Magenta's schedule would leave β near 0 and the prior unused.
    #[arg(long, value_name = "K")]
    pub anneal_steps: Option<u64>,
    /// Free bits of KL (overrides the preset; Magenta: 48 for the 2-bar configs, 256 for 16 bars).
    #[arg(long, value_name = "BITS")]
    pub free_bits: Option<f64>,
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Continue the run in --out from its last checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Train into --out even though it already holds a model or a run (its checkpoint, weights
    /// and metrics are replaced). Without it (or --resume) such a folder is refused.
    #[arg(long, conflicts_with = "resume")]
    pub force: bool,
    /// Evaluate on the held-out split every N steps.
    #[arg(long)]
    pub eval_every: Option<u64>,
    /// Write a checkpoint every N steps.
    #[arg(long)]
    pub checkpoint_every: Option<u64>,
    /// Write a metrics line every N steps.
    #[arg(long, default_value_t = 10)]
    pub log_every: u64,
    #[arg(long)]
    pub seed: Option<u64>,
    /// Merge a JSON file into the config ({"model": {...}, "train": {...}}).
    #[arg(long)]
    pub config_file: Option<PathBuf>,
    /// Override any config field: --set z_size=64 --set train.learning_rate=0.0005
    /// --set dropout_keep_prob=0.3 (input dropout while training, Magenta's hparam; 1 = none)
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Stop cleanly after M minutes (fractions allowed), counted from the start of the command:
    /// data loading and GPU kernel compilation included. The step in flight finishes, a
    /// checkpoint is written, and --resume continues the run (as after Ctrl-C).
    #[arg(long, value_name = "M")]
    pub minutes: Option<f64>,
}

struct Bar {
    pb: ProgressBar,
    /// When the command started, and the step the run started from (for the first-step line).
    started: Instant,
    start_step: u64,
}

impl TrainObserver for Bar {
    fn on_start(&mut self, start: u64, total: u64) {
        self.pb.set_length(total);
        self.pb.set_position(start);
        self.start_step = start;
    }
    fn on_step(&mut self, m: &StepMetrics) {
        if m.step == self.start_step + 1 {
            // The time to the first step: data loading, model set-up and, on a GPU, compiling
            // the kernels (bench/gpu-run.sh reports this line).
            let secs = self.started.elapsed().as_secs_f64();
            self.pb
                .suspend(|| eprintln!("first step finished {secs:.2} s after the start"));
        }
        self.pb.set_position(m.step);
        self.pb.set_message(format!(
            "loss {:.2} r {:.2} kl {:.1}b β {:.3} lr {:.1e} acc {:.3} {:.0} seq/s{}",
            m.loss,
            m.r_loss,
            m.kl_bits,
            m.beta,
            m.lr,
            m.accuracy,
            m.seq_per_sec,
            if m.skipped { " (skipped)" } else { "" }
        ));
    }
    fn on_eval(&mut self, step: u64, e: &EvalResult) {
        self.pb.println(format!(
            "step {step}: held-out teacher-forced accuracy {:.4}, sampled {:.4}, r_loss {:.2}, KL {:.1} bits ({} windows)",
            e.teacher_forced_accuracy, e.sampled_accuracy, e.r_loss, e.kl_bits, e.windows
        ));
    }
}

/// "3 × no 4/4 section, 1 × not a readable MIDI file (…)": the most common skip reasons.
fn skip_summary(skipped: &[musicvae::data::cache::SkippedFile]) -> String {
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for s in skipped {
        *counts.entry(s.reason.as_str()).or_default() += 1;
    }
    let mut v: Vec<(&str, usize)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut parts: Vec<String> = v
        .iter()
        .take(3)
        .map(|(r, n)| {
            let r: String = r.chars().take(80).collect();
            format!("{n} × {r}")
        })
        .collect();
    if v.len() > 3 {
        parts.push(format!("{} other reasons", v.len() - 3));
    }
    parts.join(", ")
}

/// The config of a run that starts from the model in `dir` with no preset named: the model's sizes
/// and loss, the schedules of the preset it was made from (Magenta's, before any fitting).
fn init_config(dir: &Path) -> Result<Config> {
    let mut config = load_config(&dir.join("config.json"))
        .with_context(|| format!("--init: reading the config of {}", dir.display()))?;
    if let Some(p) = Preset::named(&config.model.name) {
        let preset = p.config();
        config.model.beta_rate = preset.model.beta_rate;
        config.model.sampling = preset.model.sampling;
        config.model.anneal_steps = None;
        config.train = preset.train;
    }
    Ok(config)
}

/// The preset a quick run on `data` starts from: a cache's own kind of window; for a MIDI folder,
/// melodies, or drums when the folder has drum tracks and no melody.
fn auto_preset(data: &Path) -> Result<&'static Preset> {
    let (kind, bars) = if is_cache(data) {
        let c = musicvae::data::cache::Cache::load(data)?.meta.converter;
        (c.kind, c.slice_bars)
    } else if folder_is_drums(data) {
        (DataKind::Drums, 2)
    } else {
        (DataKind::Melody, 2)
    };
    recipe::preset_for(kind, bars).ok_or_else(|| {
        anyhow::anyhow!(
            "{}: holds {bars}-bar {} windows; name a preset for them with --config",
            data.display(),
            kind.name()
        )
    })
}

/// Whether the MIDI files under `dir` (the first 200 found) have drum notes and no melodic ones.
fn folder_is_drums(dir: &Path) -> bool {
    let files = musicvae::data::corpus::scan(dir).unwrap_or_default();
    let (mut drum, mut pitched) = (0usize, 0usize);
    for f in files.iter().take(200) {
        if let Ok(seq) = musicvae::music::read_midi_file(&f.path) {
            drum += seq.notes.iter().filter(|n| n.is_drum).count();
            pitched += seq.notes.iter().filter(|n| !n.is_drum).count();
        }
    }
    drum > 0 && pitched == 0
}

/// The time limit of `--minutes`, checked: a positive, finite number of minutes.
fn time_limit(minutes: Option<f64>) -> Result<Option<Duration>> {
    match minutes {
        None => Ok(None),
        Some(m) if m.is_finite() && m > 0.0 && m <= 1e7 => {
            Ok(Some(Duration::from_secs_f64(m * 60.0)))
        }
        Some(m) => bail!("--minutes must be a positive number of minutes (e.g. 4 or 0.5), got {m}"),
    }
}

/// Set `stop` once `limit` has passed since `started` (a detached timer thread).
fn stop_after(stop: &Arc<AtomicBool>, started: Instant, limit: Duration) {
    let stop = stop.clone();
    let left = limit.saturating_sub(started.elapsed());
    std::thread::spawn(move || {
        std::thread::sleep(left);
        stop.store(true, Ordering::SeqCst);
    });
}

pub fn run(a: TrainArgs) -> Result<()> {
    let started = Instant::now();
    let limit = time_limit(a.minutes)?;
    check(a.device)?;
    super::guard::refuse_model_folder(
        &a.out,
        "--out",
        a.resume || a.force,
        "continue it with --resume, replace it with --force",
    )?;
    let init = match &a.init {
        Some(m) => Some(resolve_model(Some(m), DEFAULT_MODEL)?),
        None => None,
    };
    // --resume continues the newest complete checkpoint with the config saved in it.
    let saved = match a.resume && a.set.is_empty() && a.config_file.is_none() {
        true => musicvae::train::checkpoint::resume_config(&a.out)?,
        false => None,
    };
    // No preset named (and nothing to resume): the quick recipe.
    let quick = saved.is_none() && a.config.is_none();
    let mut config = match (saved, a.config, &init) {
        (Some(c), _, _) => c,
        (None, Some(p), _) => p.config(),
        (None, None, Some(dir)) => init_config(dir)?,
        (None, None, None) => auto_preset(&a.data)?.config(),
    };
    if let Some(dir) = &init {
        config.train.init_from = Some(dir.display().to_string());
    }
    if quick {
        recipe::quick(&mut config);
    }
    // Schedules the user sets (--config-file, --set) are kept as given: the quick recipe's
    // fitting below compresses only the preset's own.
    let preset_schedules = (config.model.beta_rate, config.model.sampling.clone());
    if let Some(f) = &a.config_file {
        config.merge_json_file(f)?;
    }
    config.apply_overrides(&a.set)?;
    let named = |part: &str| {
        a.set
            .iter()
            .any(|kv| kv.split('=').next().is_some_and(|k| k.contains(part)))
    };
    let own_beta = (named("beta_rate") || config.model.beta_rate != preset_schedules.0)
        .then_some(config.model.beta_rate);
    let own_sampling = (named("sampling") || config.model.sampling != preset_schedules.1)
        .then(|| config.model.sampling.clone());
    if let Some(s) = a.steps {
        config.train.steps = s;
        if quick {
            recipe::set_intervals(&mut config);
        }
    }
    if let Some(b) = a.batch_size {
        config.train.batch_size = b;
    }
    if let Some(e) = a.eval_every {
        config.train.eval_every = e;
    }
    if let Some(c) = a.checkpoint_every {
        config.train.checkpoint_every = c;
    }
    if let Some(s) = a.seed {
        config.train.seed = s;
    }
    if let Some(b) = a.free_bits {
        if !(b.is_finite() && (0.0..=1e6).contains(&b)) {
            bail!("--free-bits must be a number of bits from 0 to 1000000, got {b}");
        }
        config.model.free_bits = b;
    }
    if quick {
        recipe::fit_schedules(&mut config, a.anneal_steps)?;
        if let Some(r) = own_beta {
            config.model.beta_rate = r;
        }
        if let Some(s) = own_sampling {
            config.model.sampling = s;
        }
    } else if let Some(k) = a.anneal_steps {
        config.model.fit_anneal(k)?;
    }
    config.validate()?;
    if quick {
        // A preset with a constant β (rate 0, as Magenta's drum configs) keeps it constant.
        let beta = if config.model.beta_rate > 0.0 && config.model.beta_rate < 1.0 {
            // The step where β reaches 99 % of its maximum, from the rate in force.
            let k = (0.01f64.ln() / config.model.beta_rate.ln()).round();
            format!("β reaches {} by step {k}", config.model.max_beta,)
        } else {
            format!("β {} throughout (as the preset)", config.model.max_beta)
        };
        // The compressed scheduled-sampling ramp, which matters most when fine-tuning (--init).
        let sampling = match config.model.sampling {
            SamplingSchedule::None => String::new(),
            ref ss => {
                let half = (config.train.steps / 2).max(1);
                format!(
                    ", scheduled sampling {:.0} % of inputs by step {half} and {:.0} % at the end",
                    100.0 * ss.probability(half),
                    100.0 * ss.probability(config.train.steps)
                )
            }
        };
        eprintln!(
            "quick recipe (no --config): {} sizes{}, batch {}, {} steps, {beta}{sampling}; about {:.0} min on a 2-core CPU. --config {} trains with Magenta's schedule as it is.",
            config.model.name,
            init.as_ref().map(|d| format!(" from the weights of {}", d.display())).unwrap_or_default(),
            config.train.batch_size,
            config.train.steps,
            recipe::estimated_minutes(&config),
            config.model.name,
        );
    }

    let cache = load_data(&a.data, &config)?;
    let skipped = skip_summary(&cache.meta.skipped);
    let files = cache.meta.files.len() + cache.meta.skipped.len();
    let data = TrainData::from_cache(cache);
    eprintln!(
        "{}: {} training windows from {} files, {} held-out windows; config {} ({} bars, z {}, batch {}{}), {} steps on {:?}",
        a.data.display(),
        data.train_windows(),
        data.train_files.len(),
        data.eval.len(),
        config.model.name,
        config.model.data.slice_bars,
        config.model.z_size,
        config.train.batch_size,
        match config.model.dropout_keep_prob {
            k if k < 1.0 => format!(", input dropout keep {k}"),
            _ => String::new(),
        },
        config.train.steps,
        a.device
    );
    if data.train_windows() < config.train.batch_size {
        bail!(
            "{}: too few windows to train on: {} training window(s) from {} of {files} file(s), fewer than one batch of {}{}; add MIDI files with {}-bar {} phrases in 4/4 (or lower --batch-size); `musicvae prepare {} --config {} --verbose` lists every skipped file",
            a.data.display(),
            data.train_windows(),
            data.train_files.iter().filter(|f| !f.is_empty()).count(),
            config.train.batch_size,
            if skipped.is_empty() { String::new() } else { format!("; skipped: {skipped}") },
            config.model.data.slice_bars,
            config.model.data.kind.name(),
            a.data.display(),
            config.model.name
        );
    }
    if a.force {
        // --force replaces the run in --out: its checkpoints go once the new run is ready to
        // start (config resolved, data loaded), so a mistyped command leaves it as it was.
        musicvae::train::checkpoint::remove_checkpoints(&a.out)
            .with_context(|| format!("--force: replacing the run in {}", a.out.display()))?;
    }
    // A second Ctrl-C while the checkpoint is written is ignored; the write is atomic anyway.
    let stop = musicvae::io_util::ctrl_c_flag();
    if let Some(limit) = limit {
        stop_after(&stop, started, limit);
    }
    let opts = TrainOptions {
        run_dir: &a.out,
        resume: a.resume,
        log_every: a.log_every,
        stop: Some(&stop),
    };
    let mut obs = Bar {
        pb: bar(config.train.steps, "train"),
        started,
        start_step: 0,
    };
    let summary = match a.device {
        DeviceKind::Cpu => {
            let device = Default::default();
            train::<super::backend::CpuTrain>(&config, &data, &device, &opts, &mut obs)
        }
        #[cfg(any(feature = "cuda", feature = "cuda-lean"))]
        DeviceKind::Cuda => {
            let device = super::backend::cuda_device();
            train::<super::backend::CudaTrain>(&config, &data, &device, &opts, &mut obs)
        }
        #[cfg(not(any(feature = "cuda", feature = "cuda-lean")))]
        DeviceKind::Cuda => unreachable!("checked above"),
    }
    .with_context(|| format!("training into {}", a.out.display()))?;
    obs.pb.finish_and_clear();
    if summary.interrupted {
        let reason = match (a.minutes, limit) {
            (Some(m), Some(l)) if started.elapsed() >= l => format!(" (--minutes {m} reached)"),
            _ => String::new(),
        };
        println!(
            "stopped at step {}{reason}; checkpoint saved in {} (continue with --resume)",
            summary.final_step,
            a.out.display()
        );
    } else {
        println!(
            "finished {} steps; model in {}",
            summary.final_step,
            a.out.display()
        );
    }
    if summary.skipped_steps > 0 {
        println!(
            "{} steps skipped (gradient norm not finite or above {})",
            summary.skipped_steps, config.train.grad_norm_skip
        );
    }
    if let Some(e) = summary.last_eval {
        println!(
            "held-out: teacher-forced accuracy {:.4}, sampled accuracy {:.4}, KL {:.1} bits ({} windows)",
            e.teacher_forced_accuracy, e.sampled_accuracy, e.kl_bits, e.windows
        );
    }
    Ok(())
}
