//! `musicvae attributes --model VAE_DIR --data DIR`: genre attribute vectors in latent space.

use super::backend::{dispatch, ModelArgs, OnBackend};
use super::data_arg::load_data;
use super::progress::bar;
use anyhow::{bail, Context, Result};
use burn::tensor::backend::Backend;
use clap::Args;
use musicvae::data::converter::Window;
use musicvae::generate::attributes::{attribute_vectors, Attributes, FORMAT};
use musicvae::generate::Vae;
use musicvae::train::rng::Rng;
use std::path::PathBuf;

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
        let mut rng = Rng::new(a.seed);
        let mut picked: Vec<(usize, usize)> = Vec::new(); // (window, label)
        for (l, idx) in per_label.iter_mut().enumerate() {
            rng.shuffle(idx);
            if a.max_per_label > 0 {
                idx.truncate(a.max_per_label);
            }
            picked.extend(idx.iter().map(|&w| (w, l)));
        }
        let pb = bar(picked.len() as u64, "encode");
        let mut mus = Vec::with_capacity(picked.len());
        for chunk in picked.chunks(256) {
            let ws: Vec<Window> = chunk
                .iter()
                .map(|&(w, _)| cache.windows[w].clone())
                .collect();
            mus.extend(vae.encode(&ws)?.into_iter().map(|l| l.mu));
            pb.inc(chunk.len() as u64);
        }
        pb.finish_and_clear();
        let labels: Vec<usize> = picked.iter().map(|&(_, l)| l).collect();
        let vectors = attribute_vectors(&mus, &labels, &names);
        let attrs = Attributes {
            format: FORMAT.into(),
            model: vae.config.model.name.clone(),
            labels_from: "folders".into(),
            classifier: None,
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

pub fn run(a: AttributesArgs) -> Result<()> {
    let kind = a.model.device;
    dispatch(kind, a)
}
