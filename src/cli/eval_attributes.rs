//! `musicvae eval-attributes --data DIR [--model VAE_DIR] [--classifier DIR]`: does adding a
//! genre's attribute vector make the genre classifier hear that genre? Per genre, the mean
//! probability before and after ±A·v_g on held-out windows, and how many steps changed.

use super::backend::{dispatch, ModelArgs, OnBackend};
use super::classifier_arg::load_classifier_for;
use super::data_arg::load_data;
use super::progress::bar;
use anyhow::{bail, Context, Result};
use burn::tensor::backend::Backend;
use clap::Args;
use musicvae::classifier::GenreClassifier;
use musicvae::data::cache::Cache;
use musicvae::data::converter::{DataKind, Window};
use musicvae::generate::attribute_eval::{
    hits_changed, real_beat_reference, AttributeEvaluation, RealBeatAccumulator, RealBeatReference,
    RowAccumulator, WindowMeasure,
};
use musicvae::generate::attributes::{shift, AttributeVector, Attributes};
use musicvae::generate::{token_accuracy, Vae};
use musicvae::io_util::write_atomic;
use musicvae::rng::Rng;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct EvalAttributesArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// The labelled MIDI folder (or prepare cache) the vectors were computed from: its held-out
    /// files (never used by `musicvae attributes` nor by VAE training) are evaluated.
    #[arg(long)]
    pub data: PathBuf,
    /// The genre classifier that judges (default: models/genre-classifier, or genre-classifier
    /// beside the model folder; drum-style-classifier for a drum model). Its kind (melody or
    /// drums) must be the model's.
    #[arg(long, value_name = "DIR")]
    pub classifier: Option<PathBuf>,
    /// Attribute vectors (default: attributes.json in the model folder).
    #[arg(long, value_name = "FILE")]
    pub attributes: Option<PathBuf>,
    /// How far to move: z = μ ± A·v_g.
    #[arg(long, default_value_t = 1.0)]
    pub amount: f64,
    /// Evaluate every file's windows, not only the held-out ones (for a folder that neither
    /// training nor `musicvae attributes` saw).
    #[arg(long)]
    pub all_files: bool,
    /// Held-out windows per label (a seeded random subset; 0 = all).
    #[arg(long, default_value_t = 100)]
    pub max_per_label: usize,
    /// Decoding temperature (0 = argmax, the default here so that results are repeatable).
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Drums: also measure real beats of each style as a yardstick. For every window and style,
    /// the style's held-out window (of another file) nearest the reconstruction (fewest hits
    /// changed) and the one the judge rates most that style among those within --hit-budget: how
    /// far a real beat of the style is, and the most that turning beats into real beats of the
    /// style could raise the judge's probability while changing at most that share of hits.
    #[arg(long)]
    pub real_beats: bool,
    /// The hit budget of --real-beats (fraction of hits, 0–1).
    #[arg(long, default_value_t = 0.4, requires = "real_beats")]
    pub hit_budget: f64,
    /// Which real beats --real-beats compares with.
    #[arg(long, value_enum, default_value_t = RealPool::HeldOut, requires = "real_beats")]
    pub real_beats_from: RealPool,
    /// Also write the table as JSON.
    #[arg(long, short = 'o', value_name = "FILE.json")]
    pub out: Option<PathBuf>,
}

/// The pool of real beats of `--real-beats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RealPool {
    /// The held-out files' windows (never the evaluated beat's own file): the judge has not seen
    /// them, so its probabilities of them are fair.
    HeldOut,
    /// The training files' windows: four times as many, so nearer beats, but the judge was
    /// trained on them and is surer of them than of unseen beats.
    Training,
}

impl RealPool {
    fn describe(self) -> &'static str {
        match self {
            RealPool::HeldOut => "held-out",
            RealPool::Training => "training",
        }
    }
}

impl OnBackend for EvalAttributesArgs {
    fn run<B: Backend>(self, device: &B::Device) -> Result<()> {
        let a = self;
        if !a.amount.is_finite() || a.amount <= 0.0 || a.amount > 100.0 {
            bail!("--amount must be a number in (0, 100], got {}", a.amount);
        }
        if !(0.0..=1.0).contains(&a.hit_budget) {
            bail!(
                "--hit-budget must be a fraction of hits in [0, 1], got {}",
                a.hit_budget
            );
        }
        let dir = a.model.resolve()?;
        let vae = Vae::<B>::load(&dir, device)
            .with_context(|| format!("loading the model in {}", dir.display()))?;
        let (apath, attrs) = load_vectors(&a, &dir, &vae)?;
        let (cdir, clf) = load_classifier_for(a.classifier.as_deref(), &dir, &vae, device)?;
        let genres = judged_genres(&attrs, &apath, &clf)?;
        let cache = load_data(&a.data, &vae.config)?;
        let (picked, files) = pick_windows(&a, &cache)?;
        let (acc, bases) = measure(&a, &vae, &clf, &cache, &picked, &genres)?;
        let real_beats = if a.real_beats {
            Some(real_beats(&a, &clf, &cache, &picked, &genres, &bases)?)
        } else {
            None
        };
        let eval = AttributeEvaluation {
            model: vae.config.model.name.clone(),
            classifier: cdir.display().to_string(),
            amount: a.amount,
            windows: picked.len(),
            rows: genres
                .iter()
                .zip(&acc)
                .map(|((_, v), r)| r.finish(&v.label))
                .collect(),
            real_beats,
        };
        println!(
            "{} {} windows from {files} files of {}, decoded by {} (T = {}), judged by {}",
            picked.len(),
            if a.all_files { "" } else { "held-out" },
            a.data.display(),
            vae.describe(),
            a.temperature,
            cdir.display()
        );
        print_table(&eval, a.amount);
        if let Some(out) = &a.out {
            let json = serde_json::to_vec_pretty(&eval)?;
            write_atomic(out, &json)?;
            println!("wrote {}", out.display());
        }
        Ok(())
    }
}

/// The attribute vectors (`--attributes`, or attributes.json in the model folder), checked to
/// belong to a model of `vae`'s latent size.
fn load_vectors<B: Backend>(
    a: &EvalAttributesArgs,
    dir: &Path,
    vae: &Vae<B>,
) -> Result<(PathBuf, Attributes)> {
    let apath = a
        .attributes
        .clone()
        .unwrap_or_else(|| Attributes::path(dir));
    let attrs = Attributes::load(&apath)?;
    if let Some(v) = attrs.vectors.first() {
        if v.vector.len() != vae.z_size() {
            bail!(
                "{}: the vectors were computed with another model ({}, z {}); run `musicvae attributes` for this one",
                apath.display(),
                attrs.model,
                v.vector.len()
            );
        }
    }
    Ok((apath, attrs))
}

/// Genres that have both a vector and a classifier output: (classifier output, vector).
fn judged_genres<'a, B: Backend>(
    attrs: &'a Attributes,
    apath: &Path,
    clf: &GenreClassifier<B>,
) -> Result<Vec<(usize, &'a AttributeVector)>> {
    let genres: Vec<(usize, &AttributeVector)> = attrs
        .vectors
        .iter()
        .filter_map(|v| clf.label_index(&v.label).map(|c| (c, v)))
        .collect();
    if genres.is_empty() {
        bail!(
            "no genre is both in {} ({}) and known to the classifier ({})",
            apath.display(),
            attrs
                .vectors
                .iter()
                .map(|v| v.label.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            clf.labels().join(", ")
        );
    }
    Ok(genres)
}

/// The windows to evaluate, as (window, folder label): held-out files' (every file's with
/// `--all-files`), at most `--max-per-label` per label, a seeded random subset; and how many files
/// they come from.
fn pick_windows(a: &EvalAttributesArgs, cache: &Cache) -> Result<(Vec<(usize, usize)>, usize)> {
    let names = &cache.meta.labels;
    let mut per_label: Vec<Vec<usize>> = vec![Vec::new(); names.len()];
    let mut files = 0;
    for f in cache
        .meta
        .files
        .iter()
        .filter(|f| f.held_out || a.all_files)
    {
        if let Some(l) = names.iter().position(|n| n == &f.label) {
            per_label[l].extend(f.first_window..f.first_window + f.num_windows);
            files += 1;
        }
    }
    let mut rng = Rng::new(a.seed);
    let mut picked: Vec<(usize, usize)> = Vec::new(); // (window, folder label)
    for (l, idx) in per_label.iter_mut().enumerate() {
        rng.shuffle(idx);
        if a.max_per_label > 0 {
            idx.truncate(a.max_per_label);
        }
        picked.extend(idx.iter().map(|&w| (w, l)));
    }
    if picked.is_empty() {
        bail!(
            "{}: no held-out windows to evaluate (prepare the data with a held-out fraction > 0, or give --all-files for a folder nothing was trained on)",
            a.data.display()
        );
    }
    Ok((picked, files))
}

/// A reconstruction and the judge's probabilities of it.
type Judged = (Window, Vec<f32>);

/// Encode the picked windows, decode them as they are and moved ±A·v along every genre's vector,
/// and let the classifier judge each decoding: one accumulator per genre, and the reconstructions
/// with the judge's probabilities of them.
fn measure<B: Backend>(
    a: &EvalAttributesArgs,
    vae: &Vae<B>,
    clf: &GenreClassifier<B>,
    cache: &Cache,
    picked: &[(usize, usize)],
    genres: &[(usize, &AttributeVector)],
) -> Result<(Vec<RowAccumulator>, Vec<Judged>)> {
    let names = &cache.meta.labels;
    let drums = vae.kind() == DataKind::Drums;
    let mut acc = vec![RowAccumulator::default(); genres.len()];
    let mut bases: Vec<Judged> = Vec::with_capacity(picked.len());
    let pb = bar(picked.len() as u64, "evaluate");
    for chunk in picked.chunks(64) {
        let ws: Vec<Window> = chunk
            .iter()
            .map(|&(w, _)| cache.windows[w].clone())
            .collect();
        let mus: Vec<Vec<f32>> = vae.encode(&ws)?.into_iter().map(|l| l.mu).collect();
        let base = vae.decode(&mus, a.temperature, a.seed)?;
        let p_base = clf.predict_windows(&base)?;
        for (gi, (c, v)) in genres.iter().enumerate() {
            let up: Vec<Vec<f32>> = mus.iter().map(|m| shift(m, &v.vector, a.amount)).collect();
            let down: Vec<Vec<f32>> = mus.iter().map(|m| shift(m, &v.vector, -a.amount)).collect();
            let w_up = vae.decode(&up, a.temperature, a.seed)?;
            let w_down = vae.decode(&down, a.temperature, a.seed)?;
            let p_up = clf.predict_windows(&w_up)?;
            let p_down = clf.predict_windows(&w_down)?;
            for (k, &(_, folder)) in chunk.iter().enumerate() {
                acc[gi].add(WindowMeasure {
                    same_genre: names[folder].eq_ignore_ascii_case(&v.label),
                    p_before: p_base[k][*c] as f64,
                    p_toward: p_up[k][*c] as f64,
                    p_away: p_down[k][*c] as f64,
                    changed_toward: 1.0 - token_accuracy(&w_up[k], &base[k]),
                    changed_away: 1.0 - token_accuracy(&w_down[k], &base[k]),
                    hits_changed: drums.then(|| {
                        (
                            hits_changed(&w_up[k].tracks[0], &base[k].tracks[0]),
                            hits_changed(&w_down[k].tracks[0], &base[k].tracks[0]),
                        )
                    }),
                });
            }
        }
        bases.extend(base.into_iter().zip(p_base));
        pb.inc(chunk.len() as u64);
    }
    pb.finish_and_clear();
    Ok((acc, bases))
}

/// The real-beat yardstick (`--real-beats`): the judge rates every window of the pool
/// (`--real-beats-from`) of the judged styles once; then for every evaluated window's
/// reconstruction and every style, the nearest of the style's pool windows of other files and the
/// likeliest within the hit budget.
fn real_beats<B: Backend>(
    a: &EvalAttributesArgs,
    clf: &GenreClassifier<B>,
    cache: &Cache,
    picked: &[(usize, usize)],
    genres: &[(usize, &AttributeVector)],
    bases: &[Judged],
) -> Result<RealBeatReference> {
    if bases.iter().any(|(w, _)| w.tracks.len() != 1) {
        bail!("--real-beats measures drum beats; this model is not a drum model");
    }
    // The candidates: every window of the pool's files of the judged styles, per style; and every
    // window's file, so that a beat is never compared with its own file's windows.
    let mut file_of = vec![usize::MAX; cache.windows.len()];
    let mut per_genre: Vec<Vec<usize>> = vec![Vec::new(); genres.len()];
    for (fi, f) in cache.meta.files.iter().enumerate() {
        let range = f.first_window..f.first_window + f.num_windows; // checked when the cache loaded
        for w in range.clone() {
            file_of[w] = fi;
        }
        let pool = match a.real_beats_from {
            RealPool::HeldOut => f.held_out || a.all_files,
            RealPool::Training => !f.held_out,
        };
        if !pool {
            continue;
        }
        for (gi, (_, v)) in genres.iter().enumerate() {
            if f.label.eq_ignore_ascii_case(&v.label) {
                per_genre[gi].extend(range.clone());
            }
        }
    }
    let all: Vec<usize> = per_genre.iter().flatten().copied().collect();
    if all.is_empty() {
        bail!(
            "{}: no {} windows of the judged styles ({}) to compare with",
            a.data.display(),
            a.real_beats_from.describe(),
            genres
                .iter()
                .map(|(_, v)| v.label.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let pb = bar(all.len() as u64, "judge real beats");
    let mut p_real = vec![0f32; cache.windows.len()]; // P(the window's own style), by window
    for (gi, idx) in per_genre.iter().enumerate() {
        let c = genres[gi].0;
        for chunk in idx.chunks(256) {
            let ws: Vec<Window> = chunk.iter().map(|&w| cache.windows[w].clone()).collect();
            for (&w, p) in chunk.iter().zip(clf.predict_windows(&ws)?) {
                p_real[w] = p[c];
            }
            pb.inc(chunk.len() as u64);
        }
    }
    pb.finish_and_clear();
    // (track, P(style)) per style, built once; a beat's own file is left out below.
    let pools: Vec<Vec<(usize, &[u16], f64)>> = per_genre
        .iter()
        .map(|idx| {
            idx.iter()
                .map(|&w| {
                    (
                        file_of[w],
                        cache.windows[w].tracks[0].as_slice(),
                        p_real[w] as f64,
                    )
                })
                .collect()
        })
        .collect();
    let mut acc = vec![RealBeatAccumulator::default(); genres.len()];
    let mut cands: Vec<(&[u16], f64)> = Vec::new();
    for ((base, p_base), &(w0, _)) in bases.iter().zip(picked) {
        for (gi, (c, _)) in genres.iter().enumerate() {
            cands.clear();
            cands.extend(
                pools[gi]
                    .iter()
                    .filter(|(f, _, _)| *f != file_of[w0])
                    .map(|&(_, t, p)| (t, p)),
            );
            if let Some(m) = real_beat_reference(&base.tracks[0], &cands, a.hit_budget) {
                acc[gi].add(p_base[*c] as f64, m);
            }
        }
    }
    Ok(RealBeatReference {
        pool: a.real_beats_from.describe().to_string(),
        budget: a.hit_budget,
        candidates: all.len(),
        // A style without windows in the pool has no yardstick.
        rows: genres
            .iter()
            .zip(&acc)
            .zip(&per_genre)
            .filter(|(_, idx)| !idx.is_empty())
            .map(|(((_, v), r), _)| r.finish(&v.label))
            .collect(),
    })
}

/// The per-genre table and the mean rise and fall.
fn print_table(eval: &AttributeEvaluation, amount: f64) {
    let drums = eval.rows.iter().any(|r| r.hits_changed_toward.is_some());
    println!(
        "mean P(genre), A = {}: before → after +A·v  (−A·v)   | other genres' windows: before → after | steps changed +v / −v{}",
        amount,
        if drums { " | hits changed +v / −v" } else { "" }
    );
    let pct = |v: Option<f64>| v.map_or(String::new(), |v| format!("{:>4.0}%", 100.0 * v));
    for r in &eval.rows {
        let hits = if drums {
            format!(
                " | {} / {}",
                pct(r.hits_changed_toward),
                pct(r.hits_changed_away)
            )
        } else {
            String::new()
        };
        println!(
            "  {:<16} {:>5.1}% → {:>5.1}%  ({:>5.1}%)   | {:>5.1}% → {:>5.1}% | {:>4.0}% / {:>4.0}%{hits}",
            r.label,
            100.0 * r.before,
            100.0 * r.toward,
            100.0 * r.away,
            100.0 * r.before_others,
            100.0 * r.toward_others,
            100.0 * r.changed_toward,
            100.0 * r.changed_away
        );
    }
    let hits = if drums {
        let mean = eval
            .rows
            .iter()
            .filter_map(|r| r.hits_changed_toward)
            .sum::<f64>()
            / eval.rows.len().max(1) as f64;
        format!("; hits changed by +A·v: {:.0}% on average", 100.0 * mean)
    } else {
        String::new()
    };
    println!(
        "mean rise toward the genre: {:+.1} points; mean fall away from it: {:+.1} points{hits}",
        100.0 * eval.mean_rise(),
        -100.0 * eval.mean_fall()
    );
    if let Some(rb) = &eval.real_beats {
        print_real_beats(rb);
    }
    if let Some(c) = eval.full_conversion() {
        let own: Vec<String> = eval
            .rows
            .iter()
            .filter_map(|r| {
                r.before_own
                    .map(|p| format!("{} {:.0}%", r.label, 100.0 * p))
            })
            .collect();
        println!(
            "mean P(genre) on reconstructions of the genre's own windows: {}\n\
             full conversion (every other genre's phrase as sure a phrase of the genre as its own \
             are) would raise P(genre) by {:+.1} points on average",
            own.join(", "),
            100.0 * c
        );
    }
}

/// The `--real-beats` table.
fn print_real_beats(rb: &RealBeatReference) {
    let budget = 100.0 * rb.budget;
    println!(
        "real beats of the style ({} {} windows, never the beat's own file): nearest to the reconstruction: hits changed, rise of P(style) | likeliest within {budget:.0}% of hits: rise, windows with one",
        rb.candidates, rb.pool
    );
    for r in &rb.rows {
        println!(
            "  {:<16} {:>4.0}%  {:>+6.1} points | {:>+6.1} points  {:>4.0}%",
            r.label,
            100.0 * r.nearest_hits,
            100.0 * r.nearest_rise,
            100.0 * r.best_within_rise,
            100.0 * r.within_share
        );
    }
    println!(
        "the nearest real beat of the style changes {:.0}% of hits and raises P(style) by {:+.1} points on average; the likeliest real beat within {budget:.0}% of hits (chosen by the judge: an upper bound for turning beats into real beats of the style) by {:+.1}",
        100.0 * rb.mean_nearest_hits(),
        100.0 * rb.mean_nearest_rise(),
        100.0 * rb.mean_best_within_rise()
    );
}

pub fn run(a: EvalAttributesArgs) -> Result<()> {
    if let Some(out) = &a.out {
        let dir = a.model.resolve()?;
        let mut files = super::guard::Files::new().model(&dir);
        for (what, p) in [
            ("--attributes", &a.attributes),
            ("--classifier", &a.classifier),
        ] {
            if let Some(p) = p {
                files = files.input(what, p).model(p);
            }
        }
        files.output("--out", out).check()?;
    }
    let kind = a.model.device;
    dispatch(kind, a)
}
