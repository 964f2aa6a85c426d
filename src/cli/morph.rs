//! `musicvae morph FILE.mid --toward GENRE [--amount A] [--steps N]` (or `--away-from GENRE`):
//! move a phrase along a genre's attribute vector and decode.

use super::backend::{dispatch, ModelArgs, OnBackend};
use super::classifier_arg::load_classifier_for;
use super::output::{OutputArgs, PerformanceArgs, Written};
use anyhow::{bail, Context, Result};
use burn::tensor::backend::Backend;
use clap::Args;
use musicvae::data::converter::{DataKind, Window};
use musicvae::generate::attribute_eval::hits_changed;
use musicvae::generate::attributes::{shift, Attributes};
use musicvae::generate::output::{performed_sequence, Panel, Performance};
use musicvae::generate::{pick, token_accuracy, Vae, WindowChoice};
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct MorphArgs {
    /// A MIDI file.
    pub file: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Move toward this genre (a label of the model's attributes.json).
    #[arg(
        long,
        conflicts_with = "away_from",
        required_unless_present = "away_from"
    )]
    pub toward: Option<String>,
    /// Move away from this genre.
    #[arg(long)]
    pub away_from: Option<String>,
    /// How far: z = μ ± amount · v_genre.
    #[arg(long, short = 'a', default_value_t = 1.0)]
    pub amount: f64,
    /// Phrases from the original (0) to the full amount, ends included (1 = only the full amount).
    #[arg(long, short = 'n', default_value_t = 3)]
    pub steps: usize,
    /// Attribute vectors file (default: attributes.json in the model folder).
    #[arg(long)]
    pub attributes: Option<PathBuf>,
    /// Which window of the file.
    #[arg(long)]
    pub window: Option<usize>,
    /// Take the window that starts at bar B of its section (1-based; see `musicvae inspect FILE --windows`).
    #[arg(long, value_name = "B", conflicts_with = "window")]
    pub bar: Option<usize>,
    /// Sampling temperature (0 = argmax; Magenta's default 0.5).
    #[arg(long, short = 't', default_value_t = 0.5)]
    pub temperature: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, short = 'o', default_value = "morph.mid")]
    pub out: PathBuf,
    #[command(flatten)]
    pub refine: super::refine_arg::RefineArgs,
    #[command(flatten)]
    pub perf: PerformanceArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

impl OnBackend for MorphArgs {
    fn run<B: Backend>(self, device: &B::Device) -> Result<()> {
        let a = self;
        if a.steps == 0 || a.steps > 64 {
            bail!("--steps must be between 1 and 64, got {}", a.steps);
        }
        if !a.amount.is_finite() || a.amount.abs() > 100.0 {
            bail!(
                "--amount must be a number between -100 and 100, got {}",
                a.amount
            );
        }
        let dir = a.model.resolve_for(&[&a.file])?;
        let vae = Vae::<B>::load(&dir, device)
            .with_context(|| format!("loading the model in {}", dir.display()))?;
        let attrs = Attributes::load(
            &a.attributes
                .clone()
                .unwrap_or_else(|| Attributes::path(&dir)),
        )?;
        let (genre, sign) = match (&a.toward, &a.away_from) {
            (Some(g), _) => (g.clone(), 1.0),
            (None, Some(g)) => (g.clone(), -1.0),
            (None, None) => bail!("give --toward GENRE or --away-from GENRE"),
        };
        let v = attrs.get(&genre)?;
        if v.vector.len() != vae.z_size() {
            bail!("the attribute vectors were computed with another model ({}, z {}); run `musicvae attributes` for this one", attrs.model, v.vector.len());
        }
        let p = pick(
            &a.file,
            &vae.config.model.data,
            WindowChoice::new(a.window, a.bar),
        )?;
        // The phrase's code: the encoder's μ, or refined (--refine).
        let mu = a
            .refine
            .encode(&vae, std::slice::from_ref(&p.window))?
            .1
            .remove(0);
        let amounts: Vec<f64> = if a.steps == 1 {
            vec![a.amount]
        } else {
            (0..a.steps)
                .map(|i| a.amount * i as f64 / (a.steps - 1) as f64)
                .collect()
        };
        let zs: Vec<Vec<f32>> = amounts
            .iter()
            .map(|&x| shift(&mu, &v.vector, sign * x))
            .collect();
        let phrases = vae.decode(&zs, a.temperature, a.seed)?;
        println!("model: {}", vae.describe());
        println!("{}: {}", a.file.display(), p.describe());
        // The genre (drum-style) classifier beside the model, when there is one that knows the
        // label: how sure it is of the label at each step, so that the amount can be chosen.
        let judged = judge(&dir, &vae, device, &v.label, &p.window, &phrases);
        if let Some((cdir, before, _)) = &judged {
            println!(
                "  the input: P({}) {:.0}% by {}",
                v.label,
                100.0 * before,
                cdir.display()
            );
        }
        let dir_word = if sign > 0.0 { "toward" } else { "away from" };
        let drums = vae.kind() == DataKind::Drums;
        for (i, (x, w)) in amounts.iter().zip(&phrases).enumerate() {
            let hits = if drums {
                format!(
                    " ({:.0}% of hits)",
                    100.0 * hits_changed(&w.tracks[0], &p.window.tracks[0])
                )
            } else {
                String::new()
            };
            let p_label = judged.as_ref().map_or(String::new(), |(_, _, ps)| {
                format!("; P({}) {:.0}%", v.label, 100.0 * ps[i])
            });
            println!(
                "  {dir_word} {} × {x:.2}: {:.0}% of steps{hits} differ from the input{p_label}",
                v.label,
                100.0 * (1.0 - token_accuracy(w, &p.window))
            );
        }
        let kind = vae.kind();
        let perf = Performance {
            qpm: a.perf.qpm(p.qpm),
            velocity: a.perf.velocity,
            refs: vec![vec![(1.0, p.notes.as_slice())]; phrases.len()],
        };
        let seq = performed_sequence(kind, &phrases, 1, &perf);
        musicvae::music::write_midi_file(&seq, &a.out)?;
        let mut written = Written(vec![a.out.clone()]);
        let mut panels = vec![Panel::input(p.window.clone(), "input")];
        panels.extend(amounts.iter().zip(&phrases).map(|(x, w)| {
            Panel::decoded(
                w.clone(),
                format!("{} {} x{x:.2}", if sign > 0.0 { "+" } else { "-" }, v.label),
            )
        }));
        let title = format!(
            "{} {dir_word} {} ({})",
            a.file.display(),
            v.label,
            vae.config.model.name
        );
        a.output
            .finish(kind, &panels, &title, &a.out, &seq, &mut written)?;
        Ok(())
    }
}

/// The classifier beside the model (`musicvae::model_dir::resolve_classifier_for`) judging the
/// input window and each morphed phrase: (its folder, P(label) of the input, P(label) of each
/// phrase). None when there is no such classifier, it cannot be loaded or judge, or it does not
/// know the label: the morph does not need it.
fn judge<B: Backend>(
    dir: &Path,
    vae: &Vae<B>,
    device: &B::Device,
    label: &str,
    input: &Window,
    phrases: &[Window],
) -> Option<(PathBuf, f64, Vec<f64>)> {
    let (cdir, clf) = load_classifier_for(None, dir, vae, device).ok()?;
    let c = clf.label_index(label)?;
    let mut windows = vec![input.clone()];
    windows.extend_from_slice(phrases);
    let ps = clf.predict_windows(&windows).ok()?;
    let mut ps = ps.into_iter().map(|p| p[c] as f64);
    let before = ps.next()?;
    Some((cdir, before, ps.collect()))
}

pub fn run(a: MorphArgs) -> Result<()> {
    a.output.check()?;
    a.perf.check()?;
    let dir = a.model.resolve_for(&[&a.file])?;
    let mut files = super::guard::Files::new()
        .input("the input", &a.file)
        .model(&dir);
    if let Some(attrs) = &a.attributes {
        files = files.input("--attributes", attrs);
    }
    a.output
        .outputs(files.output("--out", &a.out), &a.out)
        .check()?;
    let kind = a.model.device;
    dispatch(kind, a)
}
