//! `musicvae eval --model DIR [--model DIR2 ...] --data DIR`: the paper-style table on the held-out
//! split (teacher-forced and sampled reconstruction accuracy, per bar, KL) for one or more models
//! (e.g. flat vs hierarchical), and the interpolation check.

use super::backend::{dispatch, DeviceKind, OnBackend};
use super::data_arg::load_data;
use anyhow::{bail, Context, Result};
use burn::tensor::backend::Backend;
use clap::Args;
use musicvae::data::converter::Window;
use musicvae::generate::interpolation_check::{interpolation_check, InterpolationCheck};
use musicvae::generate::latent_prior::{scale_note, LatentPrior};
use musicvae::generate::sample_quality::{
    compare, compare_drums, nearest_training, Nearest, SampleQuality,
};
use musicvae::generate::{neighbourhood_unit, Vae};
use musicvae::generate::{RefineOptions, RefineReport};
use musicvae::io_util::write_atomic;
use musicvae::model_dir::{resolve_model, DEFAULT_MODEL};
use musicvae::rng::Rng;
use musicvae::train::data::TrainData;
use musicvae::train::eval::{accuracy_at, evaluate_with, EvalResult};
use serde::Serialize;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Model folder(s) or names under models/ (repeat to compare models side by side).
    /// Default: the shipped models/mel_2bar.
    #[arg(long, short = 'm')]
    pub model: Vec<PathBuf>,
    /// Folder of MIDI files (split by file with each model's own seed and fraction) or a prepare cache.
    #[arg(long)]
    pub data: PathBuf,
    /// Evaluate only the held-out files of this split of the corpus's own split file
    /// (`split.tsv`, e.g. `test` for the Groove MIDI Dataset built by scripts/build-drums).
    #[arg(long, value_name = "NAME")]
    pub split: Option<String>,
    /// Evaluate the files the model learnt from instead of the held-out ones: a memorisation
    /// check (training accuracy well above held-out accuracy means the encoder learnt the
    /// training phrases by heart). The data must be what the model was trained on.
    #[arg(long, conflicts_with = "split")]
    pub training_files: bool,
    /// Evaluate at most this many held-out windows (a deterministic random subset; 0 = all).
    #[arg(long, default_value_t = 2048)]
    pub max_windows: usize,
    /// Pairs of held-out phrases for the interpolation check (0 = skip it).
    #[arg(long, default_value_t = 64)]
    pub pairs: usize,
    /// Points along each interpolation, ends included.
    #[arg(long, default_value_t = 11)]
    pub points: usize,
    /// Seed of the window subset and of the sampling noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Windows per batch.
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    /// Also draw N phrases from the prior (z ~ N(0, I), and the fitted latent prior too where the
    /// model has one) and compare them with the held-out windows feature by
    /// feature (MGEval-style overlapping areas: melody features for melody models and the melody
    /// of trio models, drum features — hits, per-class density, off-beat hits, kick-snare
    /// repetition — for drum models).
    #[arg(long, value_name = "N")]
    pub prior: Option<usize>,
    /// Decoding temperature of the prior samples (0 = argmax; Magenta's default 0.5).
    #[arg(long, default_value_t = 0.5, allow_negative_numbers = true)]
    pub temperature: f64,
    #[command(flatten)]
    pub refine: super::refine_arg::RefineArgs,
    /// Also write the results as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = DeviceKind::Cpu)]
    pub device: DeviceKind,
}

#[derive(Serialize)]
struct ModelReport {
    model: String,
    dir: String,
    /// True when the files evaluated are the training files (`--training-files`).
    training_files: bool,
    held_out_files: usize,
    eval: EvalResult,
    interpolation: Option<InterpolationCheck>,
    /// The same check between refined codes (`--refine N`).
    interpolation_refined: Option<InterpolationCheck>,
    /// Mean overlapping area of the features of the phrases half-way along the interpolations
    /// with the held-out windows' (how realistic the way between two phrases is).
    midpoint_overlap: Option<f64>,
    midpoint_overlap_refined: Option<f64>,
    prior_samples: Option<SampleQuality>,
    /// The same comparison for samples of the model's fitted latent prior (`latent_prior.json`),
    /// when it has one.
    fitted_prior_samples: Option<SampleQuality>,
    /// The fitted prior's `scale` (spread of its draws; 1 = the fitted density itself).
    fitted_prior_scale: Option<f64>,
    /// How close prior samples and held-out windows come to the training windows.
    nearest_training: Option<NearestReport>,
    /// Accuracy from refined codes (`--refine N`), when asked for.
    refined: Option<RefinedReport>,
}

#[derive(Serialize)]
struct RefinedReport {
    options: RefineOptions,
    /// The unit of the steps and of `report.mean_shift`: the model's `neighbourhood_sigma`, or
    /// null for each code's posterior σ.
    neighbourhood_sigma: Option<f64>,
    teacher_forced_accuracy: f64,
    sampled_accuracy: f64,
    report: RefineReport,
}

#[derive(Serialize)]
struct NearestReport {
    held_out: Nearest,
    prior: Nearest,
    fitted_prior: Option<Nearest>,
}

/// Training windows searched for the nearest-window check (a seeded subset of larger sets).
const MAX_NEAREST_TRAINING: usize = 20_000;

/// What the evaluated windows are: the held-out files', or the training files' (`--training-files`).
fn evaluated(training_files: bool) -> &'static str {
    match training_files {
        true => "training-file",
        false => "held-out",
    }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

/// Keep only the held-out files of `split` held out (the rest of the data is not evaluated).
fn restrict_to_split(
    cache: &mut musicvae::data::cache::Cache,
    split: &str,
    data: &std::path::Path,
) -> Result<()> {
    let Some(file) = cache.meta.split_file.clone() else {
        bail!(
            "{}: --split {split} needs the corpus's own split file ({}) in the data folder, and this data has none (it is split by file name hash); drop --split",
            data.display(),
            musicvae::data::prepare::SPLIT_FILE
        );
    };
    if split == "train" {
        bail!("--split train: the train split is what the model learnt from; evaluate on test or validation (--training-files measures how much of it the model memorised)");
    }
    let mut n = 0;
    for f in &mut cache.meta.files {
        f.held_out = f.held_out && f.split.as_deref() == Some(split);
        n += usize::from(f.held_out);
    }
    if n == 0 {
        bail!(
            "{}: no file with windows is in split '{split}' of its {file} (splits there: train, validation, test)",
            data.display()
        );
    }
    Ok(())
}

impl OnBackend for EvalArgs {
    fn run<B: Backend>(self, device: &B::Device) -> Result<()> {
        let a = self;
        let dirs: Vec<PathBuf> = if a.model.is_empty() {
            vec![resolve_model(None, DEFAULT_MODEL)?]
        } else {
            a.model
                .iter()
                .map(|m| resolve_model(Some(m), DEFAULT_MODEL))
                .collect::<musicvae::Result<_>>()?
        };
        if let Some(out) = &a.json {
            let mut files = super::guard::Files::new();
            for dir in &dirs {
                files = files.model(dir);
            }
            files.output("--json", out).check()?;
        }
        let mut reports = Vec::new();
        for dir in &dirs {
            let vae = Vae::<B>::load(dir, device)
                .with_context(|| format!("loading the model in {}", dir.display()))?;
            let mut cache = load_data(&a.data, &vae.config)?;
            // The windows the model learnt from (before --split changes what is held out).
            let mut training = cache.training_windows();
            if training.len() > MAX_NEAREST_TRAINING {
                Rng::new(a.seed).shuffle(&mut training);
                training.truncate(MAX_NEAREST_TRAINING);
            }
            if let Some(split) = &a.split {
                restrict_to_split(&mut cache, split, &a.data)?;
            }
            if a.training_files {
                for f in &mut cache.meta.files {
                    f.held_out = !f.held_out;
                }
            }
            let held_files = cache.meta.files.iter().filter(|f| f.held_out).count();
            let data = TrainData::from_cache(cache);
            let mut idx = data.eval.clone();
            if idx.is_empty() && a.training_files {
                bail!(
                    "{}: no training windows for {} (every file with windows is held out); --training-files needs the data the model was trained on",
                    a.data.display(),
                    vae.describe()
                );
            } else if idx.is_empty() {
                bail!(
                    "{}: no held-out windows for {} (its split holds out {:.0}% of the files by name; use a larger folder)",
                    a.data.display(),
                    vae.describe(),
                    100.0 * vae.config.train.held_out_fraction
                );
            }
            if a.max_windows > 0 && idx.len() > a.max_windows {
                Rng::new(a.seed).shuffle(&mut idx);
                idx.truncate(a.max_windows);
                idx.sort_unstable();
            }
            let windows: Vec<&Window> = idx.iter().map(|&i| &data.windows[i]).collect();
            eprintln!(
                "{}: {} {} windows from {held_files} files",
                vae.describe(),
                windows.len(),
                evaluated(a.training_files)
            );
            let e = evaluate_with(
                &vae.model,
                &vae.config.model,
                &windows,
                a.batch_size.max(1),
                a.seed,
                true,
                device,
            );
            let refined = if a.refine.steps(0) > 0 {
                let owned: Vec<Window> = windows.iter().map(|w| (*w).clone()).collect();
                let latents = vae.encode(&owned)?;
                let (zs, report) = a.refine.codes(&vae, &owned, &latents)?;
                let (tf, sa) = accuracy_at(
                    &vae.model,
                    &vae.config.model,
                    &windows,
                    &zs,
                    a.batch_size.max(1),
                    a.seed,
                    device,
                );
                Some(RefinedReport {
                    options: a.refine.options(),
                    neighbourhood_sigma: vae.config.model.neighbourhood_sigma,
                    teacher_forced_accuracy: tf,
                    sampled_accuracy: sa,
                    report,
                })
            } else {
                None
            };
            let owned: Vec<Window> = windows.iter().map(|w| (*w).clone()).collect();
            let check = |refine: Option<&RefineOptions>| -> Result<Option<InterpolationCheck>> {
                Ok(match a.pairs > 0 {
                    true => Some(interpolation_check(
                        &vae, &owned, a.pairs, a.points, a.seed, refine,
                    )?),
                    false => None,
                })
            };
            let interp = check(None)?;
            let interp_refined = match a.refine.steps(0) > 0 {
                true => check(Some(&a.refine.options()))?,
                false => None,
            };
            let fitted = LatentPrior::beside(dir, vae.z_size())?;
            // The melody track (track 0 of trio windows); a drum model's drum track.
            let (track, drums) = match vae.kind().representation().melody_track() {
                Some(m) => (m, false),
                None => (0, true),
            };
            let real: Vec<&[u16]> = windows.iter().map(|w| w.tracks[track].as_slice()).collect();
            // How much the phrases half-way along the interpolations look like real ones.
            let midpoint_realism = |ic: &Option<InterpolationCheck>| {
                ic.as_ref().map(|ic| {
                    let mids: Vec<&[u16]> = ic
                        .midpoints
                        .iter()
                        .map(|w| w.tracks[track].as_slice())
                        .collect();
                    match drums {
                        true => compare_drums(&mids, &real),
                        false => compare(&mids, &real),
                    }
                    .mean_overlap
                })
            };
            let midpoints = (midpoint_realism(&interp), midpoint_realism(&interp_refined));
            let learnt: Vec<&[u16]> = training
                .iter()
                .map(|&i| data.windows[i].tracks[track].as_slice())
                .collect();
            let quality =
                |prior: Option<&LatentPrior>| -> Result<Option<(SampleQuality, Nearest)>> {
                    let Some(n) = a.prior else {
                        return Ok(None);
                    };
                    let (_, samples) = vae.sample(n, a.temperature, a.seed, prior)?;
                    let generated: Vec<&[u16]> =
                        samples.iter().map(|w| w.tracks[track].as_slice()).collect();
                    let q = if drums {
                        compare_drums(&generated, &real)
                    } else {
                        compare(&generated, &real)
                    };
                    Ok(Some((q, nearest_training(&generated, &learnt))))
                };
            let prior = quality(None)?;
            let fitted_prior = match &fitted {
                Some(p) => quality(Some(p))?,
                None => None,
            };
            let nearest = prior.as_ref().map(|(_, np)| NearestReport {
                held_out: nearest_training(&real, &learnt),
                prior: np.clone(),
                fitted_prior: fitted_prior.as_ref().map(|(_, nf)| nf.clone()),
            });
            let (prior, fitted_prior) = (prior.map(|p| p.0), fitted_prior.map(|p| p.0));
            reports.push(ModelReport {
                model: vae.describe(),
                dir: dir.display().to_string(),
                training_files: a.training_files,
                held_out_files: held_files,
                eval: e,
                interpolation: interp,
                interpolation_refined: interp_refined,
                midpoint_overlap: midpoints.0,
                midpoint_overlap_refined: midpoints.1,
                prior_samples: prior,
                fitted_prior_samples: fitted_prior,
                fitted_prior_scale: fitted.as_ref().map(|p| p.scale),
                nearest_training: nearest,
                refined,
            });
        }
        println!(
            "\n{} reconstruction accuracy ({} data, argmax of the logits vs the input)",
            evaluated(a.training_files),
            a.data.display()
        );
        if a.training_files {
            println!("training files (--training-files): the phrases the model learnt from; the gap to the held-out figures is what it memorised.");
        }
        println!("z = μ: the encoder's mean (reconstruction); z ~ q: one draw from q(z|x) = N(μ, σ²) (Magenta's evaluation).");
        println!("teacher-forced: the true previous step is fed; sampled: free-running, temperature-1 samples fed back.");
        println!(
            "{:<44} {:>8} {:>10} {:>10} {:>10} {:>10} {:>9} {:>8}",
            "model", "windows", "TF z=μ", "samp z=μ", "TF z~q", "samp z~q", "KL bits", "r_loss"
        );
        for r in &reports {
            let q = r.eval.posterior_sample.clone().unwrap_or_default();
            println!(
                "{:<44} {:>8} {:>10} {:>10} {:>10} {:>10} {:>9.1} {:>8.2}",
                r.model,
                r.eval.windows,
                pct(r.eval.teacher_forced_accuracy),
                pct(r.eval.sampled_accuracy),
                pct(q.teacher_forced_accuracy),
                pct(q.sampled_accuracy),
                r.eval.kl_bits,
                r.eval.r_loss
            );
        }
        for r in &reports {
            if let Some(f) = &r.refined {
                println!(
                    "{:<44} {:>8} {:>10} {:>10}   refined codes ({} steps, lr {}, anchor {}): r_loss {:.2} → {:.2}, moved {:.2} {}",
                    "",
                    r.eval.windows,
                    pct(f.teacher_forced_accuracy),
                    pct(f.sampled_accuracy),
                    f.options.steps,
                    f.options.lr,
                    f.options.anchor,
                    f.report.r_loss_before,
                    f.report.r_loss_after,
                    f.report.mean_shift,
                    neighbourhood_unit(f.neighbourhood_sigma)
                );
            }
        }
        println!(
            "\nagainst the always-\"no event\" baseline (held notes and rests are most steps): accuracy on the steps that hold an event (note-on, note-off, drum hit), z = μ"
        );
        println!(
            "{:<44} {:>16} {:>10} {:>10}",
            "model", "no-event share", "TF", "sampled"
        );
        for r in &reports {
            println!(
                "{:<44} {:>16} {:>10} {:>10}",
                r.model,
                pct(r.eval.no_event_baseline),
                pct(r.eval.tf_event_accuracy),
                pct(r.eval.sampled_event_accuracy)
            );
        }
        for r in &reports {
            println!(
                "\n{}: accuracy per bar position (teacher-forced / sampled)",
                r.model
            );
            let tf: Vec<String> = r
                .eval
                .tf_per_bar
                .iter()
                .map(|x| format!("{:.2}", x))
                .collect();
            let sa: Vec<String> = r
                .eval
                .sampled_per_bar
                .iter()
                .map(|x| format!("{:.2}", x))
                .collect();
            println!("  teacher-forced, z = μ: {}", tf.join(" "));
            println!("  sampled, z = μ:        {}", sa.join(" "));
            if let Some(q) = &r.eval.posterior_sample {
                let f = |v: &[f64]| {
                    v.iter()
                        .map(|x| format!("{x:.2}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                };
                println!("  teacher-forced, z ~ q: {}", f(&q.tf_per_bar));
                println!("  sampled, z ~ q:        {}", f(&q.sampled_per_bar));
            }
            print_drum_classes(&r.eval.drum_classes);
            for (ic, mid, label) in [
                (&r.interpolation, r.midpoint_overlap, "slerp of μ"),
                (
                    &r.interpolation_refined,
                    r.midpoint_overlap_refined,
                    "slerp of refined codes",
                ),
            ] {
                let Some(ic) = ic else { continue };
                println!(
                    "  interpolation check ({} pairs, {label}, argmax): fraction of steps differing from A at t = {}",
                    ic.pairs,
                    ic.t.iter().map(|t| format!("{t:.1}")).collect::<Vec<_>>().join(" ")
                );
                println!(
                    "    from A: {}",
                    ic.differ_from_a
                        .iter()
                        .map(|x| format!("{x:.2}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                );
                println!(
                    "    from B: {}",
                    ic.differ_from_b
                        .iter()
                        .map(|x| format!("{x:.2}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                );
                println!("    A–B distance: {:.2}", ic.a_b_distance);
                if let Some(m) = mid {
                    println!(
                        "    phrases half-way vs held-out windows: mean overlapping area of features {m:.3}"
                    );
                }
            }
            if let Some(q) = &r.prior_samples {
                print_sample_quality(q, "z ~ N(0, I)", a.prior.unwrap_or(0), a.temperature);
            }
            if let Some(q) = &r.fitted_prior_samples {
                let scale = scale_note(r.fitted_prior_scale.unwrap_or(1.0));
                print_sample_quality(
                    q,
                    &format!("z from the fitted latent prior, latent_prior.json{scale}"),
                    a.prior.unwrap_or(0),
                    a.temperature,
                );
            }
            if let Some(nr) = &r.nearest_training {
                println!(
                    "  nearest training window ({} searched): steps shared with it, mean, and exact copies",
                    nr.held_out.training_windows
                );
                let row = |name: &str, n: &Nearest| {
                    println!(
                        "    {name:<34} {:>6.1}% {:>6.1}%",
                        100.0 * n.mean_agreement,
                        100.0 * n.copies
                    )
                };
                row(
                    &format!("{} windows (real)", evaluated(r.training_files)),
                    &nr.held_out,
                );
                row("prior samples, z ~ N(0, I)", &nr.prior);
                if let Some(f) = &nr.fitted_prior {
                    row("prior samples, fitted latent prior", f);
                }
            }
        }
        if let Some(p) = &a.json {
            write_atomic(p, serde_json::to_string_pretty(&reports)?.as_bytes())?;
            println!("\nwrote {}", p.display());
        }
        Ok(())
    }
}

/// Which drums a drum track misses and which it adds (teacher-forced, z = μ).
fn print_drum_classes(classes: &[musicvae::train::eval::DrumClassResult]) {
    if classes.is_empty() {
        return;
    }
    println!("  drum hits per class (teacher-forced, z = μ): hits in the windows, share of them played back (recall), share of the played ones that are right (precision)");
    println!(
        "    {:<14} {:>7} {:>8} {:>10}",
        "class", "hits", "recall", "precision"
    );
    for c in classes {
        println!(
            "    {:<14} {:>7} {:>7.1}% {:>9.1}%",
            c.class,
            c.hits,
            100.0 * c.recall,
            100.0 * c.precision
        );
    }
}

fn print_sample_quality(q: &SampleQuality, prior: &str, n: usize, temperature: f64) {
    println!(
        "  prior samples ({prior}; {n} at T = {temperature}, {} 2-bar segments) vs held-out ({} segments): overlapping area of feature histograms",
        q.generated_segments, q.real_segments
    );
    println!(
        "    {:<22} {:>10} {:>10} {:>9} {:>13}",
        "feature", "generated", "real", "overlap", "real vs real"
    );
    for row in &q.rows {
        println!(
            "    {:<22} {:>10.2} {:>10.2} {:>9.3} {:>13.3}",
            row.feature, row.generated_mean, row.real_mean, row.overlap, row.real_vs_real
        );
    }
    println!(
        "    {:<22} {:>10} {:>10} {:>9.3} {:>13.3}",
        "mean", "", "", q.mean_overlap, q.mean_real_vs_real
    );
    if q.real_bar_repetition > 0.0 || q.generated_bar_repetition > 0.0 {
        println!(
            "    bars repeating an earlier bar: generated {:.1}%, real {:.1}%",
            100.0 * q.generated_bar_repetition,
            100.0 * q.real_bar_repetition
        );
    }
}

pub fn run(a: EvalArgs) -> Result<()> {
    if let Some(n) = a.prior {
        if !(1..=100_000).contains(&n) {
            bail!("--prior must be between 1 and 100000 samples, got {n}");
        }
    }
    if !a.temperature.is_finite() || a.temperature < 0.0 || a.temperature > 100.0 {
        bail!(
            "--temperature must be a number between 0 (argmax) and 100, got {}",
            a.temperature
        );
    }
    let kind = a.device;
    dispatch(kind, a)
}
