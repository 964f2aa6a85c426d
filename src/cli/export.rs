//! `musicvae export RUN_DIR --out MODEL_DIR [--half]`: copy a trained model (weights + resolved
//! config, and attribute vectors, the fitted latent prior and the training curves if present) into
//! a model folder, optionally with f16 weights. What `--force` replaces does not outlive its
//! weights: a file of the old model that the export has no new copy of is removed.

use anyhow::{Context, Result};
use clap::Args;
use musicvae::generate::attributes::Attributes;
use musicvae::generate::latent_prior::LatentPrior;
use musicvae::io_util::write_atomic;
use musicvae::model::store::{load_model, save_model, save_model_f16};
use musicvae::model::{Config, MusicVae};
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// A training run folder (or model folder).
    pub run: PathBuf,
    #[command(flatten)]
    pub dest: ModelOut,
}

/// Where a command writes a model folder (`export`, `average`), and how.
#[derive(Args, Debug)]
pub struct ModelOut {
    /// Destination folder (created).
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    /// Store the weights as f16 (half the size).
    #[arg(long)]
    pub half: bool,
    /// Replace the model already in --out (without it such a folder is refused).
    #[arg(long)]
    pub force: bool,
}

impl ModelOut {
    /// Refuse --out when it holds a model and --force was not given.
    pub fn check(&self) -> Result<()> {
        super::guard::refuse_model_folder(&self.out, "--out", self.force, "replace it with --force")
    }

    /// The precision the weights are written in.
    pub fn precision(&self) -> &'static str {
        if self.half {
            "f16"
        } else {
            "f32"
        }
    }

    /// Write the weights (f16 with --half) and the config into --out.
    pub fn save<B: burn::tensor::backend::Backend>(
        &self,
        model: &MusicVae<B>,
        config: &Config,
    ) -> Result<()> {
        std::fs::create_dir_all(&self.out)
            .with_context(|| format!("creating {}", self.out.display()))?;
        if self.half {
            save_model_f16(&self.out, model, config)?;
        } else {
            save_model(&self.out, model, config)?;
        }
        Ok(())
    }
}

pub fn run(a: ExportArgs) -> Result<()> {
    let d = &a.dest;
    if super::guard::same_file(&a.run, &d.out) {
        anyhow::bail!(
            "--out {} is the folder being exported; choose another folder",
            d.out.display()
        );
    }
    d.check()?;
    let device = Default::default();
    let (model, config) = load_model::<super::backend::CpuBackend>(&a.run, &device)
        .with_context(|| format!("loading the model in {}", a.run.display()))?;
    d.save(&model, &config)?;
    // Attribute vectors and the fitted latent prior belong to these weights, and so do the
    // training curves: copied with them, and one left in --out by the weights being replaced is
    // removed.
    let attrs = Attributes::path(&a.run);
    let out_attrs = Attributes::path(&d.out);
    if attrs.is_file() {
        Attributes::load(&attrs)?.save(&out_attrs)?;
    } else {
        remove_stale(
            &out_attrs,
            "computed for the weights now replaced (recompute with `musicvae attributes`)",
        )?;
    }
    let prior = LatentPrior::path(&a.run);
    let out_prior = LatentPrior::path(&d.out);
    if prior.is_file() {
        LatentPrior::load(&prior, config.model.z_size)?.save(&out_prior)?;
    } else {
        remove_stale(
            &out_prior,
            "it was fitted to the weights now replaced (refit with `musicvae fit-prior`)",
        )?;
    }
    for name in ["metrics.jsonl", "curves.png"] {
        let (from, to) = (a.run.join(name), d.out.join(name));
        if from.is_file() {
            let bytes =
                std::fs::read(&from).with_context(|| format!("reading {}", from.display()))?;
            write_atomic(&to, &bytes).with_context(|| format!("writing {}", to.display()))?;
        } else {
            remove_stale(&to, "the training curves of the weights now replaced")?;
        }
    }
    let size = std::fs::metadata(d.out.join("model.mpk"))
        .map(|m| m.len())
        .unwrap_or(0);
    use burn::module::Module;
    println!(
        "exported {} ({} parameters, {} weights, {:.1} MiB) to {}",
        config.model.name,
        model.num_params(),
        d.precision(),
        size as f64 / (1024.0 * 1024.0),
        d.out.display()
    );
    Ok(())
}

/// Remove `path` (a file the replaced model left in --out) when it exists, saying why.
pub(super) fn remove_stale(path: &Path, why: &str) -> Result<()> {
    if path.is_file() {
        std::fs::remove_file(path).with_context(|| format!("removing {}", path.display()))?;
        println!("removed {}: {why}", path.display());
    }
    Ok(())
}
