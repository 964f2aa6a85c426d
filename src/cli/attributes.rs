//! `musicvae attributes --model VAE_DIR --data DIR [--labels folders|classifier]`: genre attribute
//! vectors in latent space.

use super::backend::{dispatch, ModelArgs, OnBackend};
use super::classifier_arg::load_classifier_for;
use super::data_arg::{encode_windows, load_data};
use super::progress::bar;
use anyhow::{bail, Context, Result};
use burn::tensor::backend::Backend;
use clap::{Args, ValueEnum};
use musicvae::classifier::eval::argmax;
use musicvae::classifier::GenreClassifier;
use musicvae::data::converter::Window;
use musicvae::generate::attributes::{
    attribute_vectors, discriminant_vectors, random_vectors, Attributes, Direction, FORMAT,
};
use musicvae::generate::Vae;
use musicvae::model_dir::resolve_classifier_for;
use musicvae::rng::Rng;
use std::path::{Path, PathBuf};

/// Where each window's genre comes from.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelSource {
    /// The classifier's prediction when a genre classifier (--classifier, or the shipped one) knows
    /// exactly the data's genres; the folders otherwise
    Auto,
    /// The folder the file is in.
    Folders,
    /// The genre classifier's prediction for the window.
    Classifier,
}

#[derive(Args, Debug)]
pub struct AttributesArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Labelled MIDI folder (labels = first-level folder names) or a prepare cache.
    #[arg(long)]
    pub data: PathBuf,
    /// At most this many training-split windows per label (a seeded random subset; 0 = all).
    #[arg(long, default_value_t = 2000)]
    pub max_per_label: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Label each window by its folder, or by the genre classifier's prediction.
    #[arg(long, value_enum, default_value_t = LabelSource::Auto)]
    pub labels: LabelSource,
    /// The genre classifier for `--labels classifier|auto` (default: genre-classifier beside the
    /// model folder, or models/genre-classifier; drum-style-classifier for a drum model). Its kind
    /// (melody or drums) must be the model's.
    #[arg(long, value_name = "DIR")]
    pub classifier: Option<PathBuf>,
    /// How each label's vector is derived: the mean difference of its codes from the rest's
    /// (Magenta's attribute vectors), or that difference whitened by the codes' within-label
    /// covariance (a linear discriminant: less of the step spent on variation every label has),
    /// scaled to the same length; or, as a control, a random direction of that length (needs -o:
    /// never the model's own attributes.json).
    #[arg(long, value_enum, default_value_t = Direction::Mean)]
    pub direction: Direction,
    /// Where to write the vectors (default: attributes.json in the model folder).
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
}

impl OnBackend for AttributesArgs {
    fn run<B: Backend>(self, device: &B::Device) -> Result<()> {
        let a = self;
        let dir = a.model.resolve()?;
        let vae = Vae::<B>::load(&dir, device)
            .with_context(|| format!("loading the model in {}", dir.display()))?;
        let cache = load_data(&a.data, &vae.config)?;
        let names = cache.meta.labels.clone();
        if names.iter().filter(|l| !l.is_empty()).count() < 2 {
            bail!(
                "{}: attribute vectors need at least two labels (first-level folders); found {:?}",
                a.data.display(),
                names
            );
        }
        // Training-split windows only, so held-out windows stay unseen for eval-attributes.
        let mut per_label: Vec<Vec<usize>> = vec![Vec::new(); names.len()];
        for f in cache.meta.files.iter().filter(|f| !f.held_out) {
            let l = names.iter().position(|n| n == &f.label).unwrap_or(0);
            per_label[l].extend(f.first_window..f.first_window + f.num_windows);
        }
        let classifier = match a.labels {
            LabelSource::Folders => None,
            LabelSource::Classifier => Some(load_classifier_for(
                a.classifier.as_deref(),
                &dir,
                &vae,
                device,
            )?),
            LabelSource::Auto => {
                auto_classifier(a.classifier.as_deref(), &dir, &vae, &names, device)?
            }
        };
        let mut rng = Rng::new(a.seed);
        let mut picked: Vec<(usize, usize)> = Vec::new(); // (window, label)
        for (l, idx) in per_label.iter_mut().enumerate() {
            rng.shuffle(idx);
            if a.max_per_label > 0 {
                idx.truncate(a.max_per_label);
            }
            picked.extend(idx.iter().map(|&w| (w, l)));
        }
        let idx: Vec<usize> = picked.iter().map(|&(w, _)| w).collect();
        let (mus, sigmas) = encode_windows(&vae, &cache, &idx)?;
        let labels_from = if classifier.is_some() {
            "classifier"
        } else {
            "folders"
        };
        let (names, labels, classifier) = match classifier {
            None => (names, picked.iter().map(|&(_, l)| l).collect(), None),
            Some((cdir, clf)) => {
                let pb = bar(picked.len() as u64, "classify");
                let mut labels = Vec::with_capacity(picked.len());
                for chunk in picked.chunks(256) {
                    let ws: Vec<Window> = chunk
                        .iter()
                        .map(|&(w, _)| cache.windows[w].clone())
                        .collect();
                    labels.extend(clf.predict_windows(&ws)?.iter().map(|p| argmax(p)));
                    pb.inc(chunk.len() as u64);
                }
                pb.finish_and_clear();
                let agree = labels
                    .iter()
                    .zip(&picked)
                    .filter(|(l, (_, f))| clf.labels()[**l] == names[*f])
                    .count();
                println!(
                    "classifier {} agrees with the folder label on {:.1}% of the windows",
                    cdir.display(),
                    100.0 * agree as f64 / picked.len().max(1) as f64
                );
                (
                    clf.labels().to_vec(),
                    labels,
                    Some(cdir.display().to_string()),
                )
            }
        };
        let vectors = match a.direction {
            Direction::Mean => attribute_vectors(&mus, &labels, &names),
            Direction::Discriminant => discriminant_vectors(&mus, &sigmas, &labels, &names)?,
            Direction::Random => random_vectors(attribute_vectors(&mus, &labels, &names), a.seed),
        };
        let attrs = Attributes {
            format: FORMAT.into(),
            model: vae.config.model.name.clone(),
            labels_from: labels_from.into(),
            classifier,
            direction: a.direction,
            data: a.data.display().to_string(),
            windows: mus.len(),
            vectors,
        };
        println!(
            "{}: {} training-split windows encoded with {}",
            a.data.display(),
            mus.len(),
            vae.describe()
        );
        println!(
            "{:<20} {:>8} {:>8} {:>8}",
            "label", "windows", "rest", "|v|"
        );
        for v in &attrs.vectors {
            println!(
                "{:<20} {:>8} {:>8} {:>8.3}",
                v.label, v.count, v.rest, v.norm
            );
        }
        let out = a.out.clone().unwrap_or_else(|| Attributes::path(&dir));
        attrs.save(&out)?;
        println!("wrote {}", out.display());
        Ok(())
    }
}

/// `--labels auto`: the classifier if one is found (or given) whose genres are exactly the data's
/// labels and that reads the model's windows; `None` (folders) otherwise, saying why. A classifier
/// given with --classifier that cannot be loaded is an error, not a fallback.
fn auto_classifier<B: Backend>(
    given: Option<&Path>,
    dir: &Path,
    vae: &Vae<B>,
    names: &[String],
    device: &B::Device,
) -> Result<Option<(PathBuf, GenreClassifier<B>)>> {
    let (cdir, clf) = match given {
        Some(_) => load_classifier_for(given, dir, vae, device)?,
        None => {
            let Ok(found) = resolve_classifier_for(None, dir, vae.kind()) else {
                println!("labels: the folders (no genre classifier found)");
                return Ok(None);
            };
            match load_classifier_for(Some(&found), dir, vae, device) {
                Ok(found) => found,
                Err(e) => {
                    println!("labels: the folders ({e:#})");
                    return Ok(None);
                }
            }
        }
    };
    let mut ours: Vec<&str> = names
        .iter()
        .filter(|n| !n.is_empty())
        .map(|n| n.as_str())
        .collect();
    let mut theirs: Vec<&str> = clf.labels().iter().map(|n| n.as_str()).collect();
    ours.sort_unstable();
    theirs.sort_unstable();
    if ours != theirs {
        println!(
            "labels: the folders (classifier {} knows {}, the data has {})",
            cdir.display(),
            theirs.join(", "),
            ours.join(", ")
        );
        return Ok(None);
    }
    println!("labels: the predictions of classifier {}", cdir.display());
    Ok(Some((cdir, clf)))
}

pub fn run(a: AttributesArgs) -> Result<()> {
    if a.direction == Direction::Random {
        let dir = a.model.resolve()?;
        let own = Attributes::path(&dir);
        match &a.out {
            Some(o) if !super::guard::same_file(o, &own) => {}
            _ => bail!(
                "--direction random writes control vectors, not ones `morph` should use: give -o FILE.json outside the model folder's {}",
                own.display()
            ),
        }
    }
    if let Some(out) = &a.out {
        // Writing the model's own attributes.json is this command's job; its weights and
        // config are not.
        let dir = a.model.resolve()?;
        super::guard::Files::new()
            .input("the model's weights", &dir.join("model.mpk"))
            .input("the model's config.json", &dir.join("config.json"))
            .output("--out", out)
            .check()?;
    }
    let kind = a.model.device;
    dispatch(kind, a)
}
