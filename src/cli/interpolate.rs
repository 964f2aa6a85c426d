//! `musicvae interpolate A.mid B.mid`: morph one phrase into another through latent space.

use super::backend::{dispatch, ModelArgs, OnBackend};
use super::guard::Files;
use super::output::{OutputArgs, PerformanceArgs, Written};
use anyhow::{bail, Context, Result};
use burn::tensor::backend::Backend;
use clap::Args;
use musicvae::generate::output::Panel;
use musicvae::generate::output::Performance;
use musicvae::generate::{path, pick, token_accuracy, Interpolation, Vae, WindowChoice};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args, Debug)]
pub struct InterpolateArgs {
    /// Start of the morph: a MIDI file.
    pub a: PathBuf,
    /// End of the morph: a MIDI file.
    pub b: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Number of phrases on the path, both ends included (the ends reconstruct A and B).
    #[arg(long, short = 'n', default_value_t = 5)]
    pub steps: usize,
    /// Sampling temperature of the decoder. 0 = argmax (deterministic, magenta.js's default);
    /// 0.5 = Magenta's own default for generation.
    #[arg(long, short = 't', default_value_t = 0.5)]
    pub temperature: f64,
    /// Seed of the sampling noise (same seed, same result).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Which window of A (and of B, unless --window-b) to use; see `musicvae inspect`.
    /// Default: the first window with at least two notes per bar.
    #[arg(long)]
    pub window: Option<usize>,
    /// Which window of B to use.
    #[arg(long)]
    pub window_b: Option<usize>,
    /// Take the window of A (and of B, unless --bar-b / --window-b) that starts at bar B of its
    /// section (1-based, as `musicvae inspect FILE --windows` lists them).
    #[arg(long, value_name = "B", conflicts_with = "window")]
    pub bar: Option<usize>,
    /// Take the window of B that starts at this bar.
    #[arg(long, value_name = "B", conflicts_with = "window_b")]
    pub bar_b: Option<usize>,
    /// Path through latent space: slerp (Magenta) or linear (magenta.js).
    #[arg(long, value_enum, default_value_t = Path::Slerp)]
    pub path: Path,
    /// Output MIDI file (with --separate: the stem of one file per phrase).
    #[arg(long, short = 'o', default_value = "interpolation.mid")]
    pub out: PathBuf,
    /// Write one MIDI file per phrase (OUT_00.mid, OUT_01.mid, ...) instead of one file.
    #[arg(long)]
    pub separate: bool,
    /// Bars of rest between phrases in the single output file.
    #[arg(long, default_value_t = 1)]
    pub gap_bars: usize,
    #[command(flatten)]
    pub refine: super::refine_arg::RefineArgs,
    #[command(flatten)]
    pub perf: PerformanceArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

impl InterpolateArgs {
    fn choice_a(&self) -> WindowChoice {
        match self.bar {
            Some(b) => WindowChoice::Bar(b),
            None => self.window.into(),
        }
    }
    fn choice_b(&self) -> WindowChoice {
        match (self.bar_b, self.window_b) {
            (Some(b), _) => WindowChoice::Bar(b),
            (None, Some(i)) => WindowChoice::Index(i),
            (None, None) => self.choice_a(),
        }
    }
}

/// `--path` values.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    Slerp,
    Linear,
}

impl Path {
    /// The library's interpolation for this choice.
    pub fn interpolation(self) -> Interpolation {
        match self {
            Path::Slerp => Interpolation::Slerp,
            Path::Linear => Interpolation::Linear,
        }
    }
}

impl OnBackend for InterpolateArgs {
    fn run<B: Backend>(self, device: &B::Device) -> Result<()> {
        let a = self;
        if !(2..=256).contains(&a.steps) {
            bail!(
                "--steps must be between 2 and 256 (both ends included), got {}",
                a.steps
            );
        }
        let t0 = Instant::now();
        let dir = a.model.resolve_for(&[&a.a, &a.b])?;
        let vae = Vae::<B>::load(&dir, device)
            .with_context(|| format!("loading the model in {}", dir.display()))?;
        println!("model: {} from {}", vae.describe(), dir.display());
        let cfg = &vae.config.model.data;
        let pa = pick(&a.a, cfg, a.choice_a())?;
        let pb = pick(&a.b, cfg, a.choice_b())?;
        println!("A: {}, {}", a.a.display(), pa.describe());
        println!("B: {}, {}", a.b.display(), pb.describe());
        let (_, codes) = a
            .refine
            .encode(&vae, &[pa.window.clone(), pb.window.clone()])?;
        let how = a.path.interpolation();
        // Interpolate between the means (Magenta's TrainedModel.interpolate) or the refined
        // codes, decode in one batch.
        let zs = path(&codes[0], &codes[1], a.steps, how);
        let phrases = vae.decode(&zs, a.temperature, a.seed)?;
        let n = phrases.len();
        println!(
            "decoded {n} phrases ({:?} path, temperature {}, seed {}) in {:.2} s (model load included)",
            how,
            a.temperature,
            a.seed,
            t0.elapsed().as_secs_f64()
        );
        println!(
            "reconstruction: first phrase matches A on {:.1}% of steps, last matches B on {:.1}%",
            100.0 * token_accuracy(&phrases[0], &pa.window),
            100.0 * token_accuracy(&phrases[n - 1], &pb.window)
        );
        let moved: Vec<String> = phrases
            .iter()
            .map(|p| format!("{:.0}%", 100.0 * (1.0 - token_accuracy(p, &pa.window))))
            .collect();
        println!("steps differing from A along the path: {}", moved.join(" "));

        let kind = vae.kind();
        let mut panels = vec![Panel::input(pa.window.clone(), "A (input)")];
        for (i, p) in phrases.iter().enumerate() {
            let caption = match i {
                0 => "A (reconstructed)".to_string(),
                i if i == n - 1 => "B (reconstructed)".to_string(),
                i => format!("t = {:.2}", i as f64 / (n - 1) as f64),
            };
            panels.push(Panel::decoded(p.clone(), caption));
        }
        panels.push(Panel::input(pb.window.clone(), "B (input)"));
        let title = format!(
            "{} -> {}  ({}, {} phrases, T = {})",
            file_name(&a.a),
            file_name(&a.b),
            vae.config.model.name,
            n,
            a.temperature
        );
        // Dynamics: phrase i at t = i/(n−1) blends A's and B's velocities.
        let perf = Performance {
            qpm: a.perf.qpm(pa.qpm),
            velocity: a.perf.velocity,
            refs: (0..n)
                .map(|i| {
                    let t = i as f64 / (n - 1) as f64;
                    vec![(1.0 - t, pa.notes.as_slice()), (t, pb.notes.as_slice())]
                })
                .collect(),
        };
        let mut written = Written::default();
        let gap = if a.separate { 0 } else { a.gap_bars };
        let seq = musicvae::generate::output::performed_sequence(kind, &phrases, gap, &perf);
        if a.separate {
            for p in
                musicvae::generate::output::write_separate_performed(kind, &phrases, &perf, &a.out)?
            {
                written.push(p);
            }
        } else {
            musicvae::music::write_midi_file(&seq, &a.out)?;
            written.push(a.out.clone());
        }
        a.output
            .finish(kind, &panels, &title, &a.out, &seq, &mut written)?;
        Ok(())
    }
}

fn file_name(p: &std::path::Path) -> String {
    p.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub fn run(a: InterpolateArgs) -> Result<()> {
    a.output.check()?;
    a.perf.check()?;
    let dir = a.model.resolve_for(&[&a.a, &a.b])?;
    let mut files = Files::new()
        .input("input A", &a.a)
        .input("input B", &a.b)
        .model(&dir);
    if a.separate {
        for p in musicvae::generate::output::numbered_paths(&a.out, a.steps, "mid") {
            files = files.output("--out", &p);
        }
    } else {
        files = files.output("--out", &a.out);
    }
    a.output.outputs(files, &a.out).check()?;
    let kind = a.model.device;
    dispatch(kind, a)
}
