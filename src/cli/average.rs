//! `musicvae average A B [C ...] --out DIR [--half]`: the element-wise mean of the weights of
//! several models of one architecture (a "model soup", Wortsman et al. 2022) saved as a model
//! folder with the first model's config. Fine-tunes of one start average into a model that is
//! often better than each of them; models trained from different starts do not average into a
//! working model, and nothing here can tell, so the help says so.

use anyhow::{bail, Context, Result};
use burn::module::Module;
use clap::Args;
use musicvae::model::average::average;
use musicvae::model::store::load_model;
use musicvae::model::Config;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct AverageArgs {
    /// Model folders or training runs (their newest checkpoint) of one architecture, all
    /// fine-tuned from the same weights (e.g. runs started with the same --init).
    #[arg(required = true, num_args = 2.., value_name = "MODEL")]
    pub models: Vec<PathBuf>,
    // --out gets the averaged weights and the first model's config.
    #[command(flatten)]
    pub dest: super::export::ModelOut,
}

/// The parts of a config that decide the weights' shapes and meaning.
fn architecture(c: &Config) -> serde_json::Value {
    let m = &c.model;
    serde_json::json!({
        "kind": m.data.kind,
        "slice_bars": m.data.slice_bars,
        "enc_rnn_size": m.enc_rnn_size,
        "dec_rnn_size": m.dec_rnn_size,
        "hierarchical": m.hierarchical,
        "z_size": m.z_size,
    })
}

pub fn run(a: AverageArgs) -> Result<()> {
    let d = &a.dest;
    for m in &a.models {
        if super::guard::same_file(m, &d.out) {
            bail!(
                "--out {} is one of the models being averaged; choose another folder",
                d.out.display()
            );
        }
    }
    d.check()?;
    let device = Default::default();
    let mut models = Vec::with_capacity(a.models.len());
    let mut first: Option<Config> = None;
    for dir in &a.models {
        let (model, config) = load_model::<super::backend::CpuBackend>(dir, &device)
            .with_context(|| format!("loading the model in {}", dir.display()))?;
        match &first {
            None => first = Some(config),
            Some(f) if architecture(f) != architecture(&config) => bail!(
                "{}: its architecture ({}) differs from {}'s ({}); only models of one architecture average",
                dir.display(),
                architecture(&config),
                a.models[0].display(),
                architecture(f)
            ),
            Some(_) => {}
        }
        models.push(model);
    }
    let Some(config) = first else {
        bail!("no model to average");
    };
    let n = models.len();
    let model = average(models).context("averaging the weights")?;
    d.save(&model, &config)?;
    // What belonged to the weights an --force replaced, and what belongs to each input model
    // alone: neither describes the averaged weights.
    for (name, why) in [
        (
            "attributes.json",
            "attribute vectors of other weights (compute them with `musicvae attributes`)",
        ),
        (
            "latent_prior.json",
            "a latent prior fitted to other weights (fit one with `musicvae fit-prior`)",
        ),
        ("metrics.jsonl", "the training curves of other weights"),
        ("curves.png", "the training curves of other weights"),
    ] {
        super::export::remove_stale(&d.out.join(name), why)?;
    }
    println!(
        "averaged the weights of {n} models ({} parameters, {} weights) into {}; config from {}. Evaluate it before use: models that did not start from the same weights do not average into a working model.",
        model.num_params(),
        d.precision(),
        d.out.display(),
        a.models[0].display()
    );
    Ok(())
}
