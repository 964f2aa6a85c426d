//! Numerical agreement with another implementation: write a model's weights (safetensors), one
//! batch of tokens, ε, and the loss terms we compute on it, so the PyTorch reference can load the
//! same weights, compute the same loss and compare (bench/pytorch/musicvae_torch.py --agreement).

use super::npy::{write_f32, write_u16};
use crate::data::converter::Window;
use crate::error::{Error, Result};
use crate::model::batch::make_batch;
use crate::model::export::{named_tensors, write_safetensors};
use crate::model::loss::vae_loss;
use crate::model::vae::DecodeMode;
use crate::model::{Config, MusicVae};
use crate::rng::Rng;
use burn::tensor::{backend::Backend, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Our side of the comparison (`ours.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OurLoss {
    pub config: Config,
    /// Global step whose β is used.
    pub step: u64,
    pub beta: f64,
    pub loss: f64,
    pub r_loss: f64,
    pub kl: f64,
    pub kl_cost: f64,
}

fn mean<B: Backend>(t: Tensor<B, 1>) -> Result<f64> {
    let v: Vec<f64> = t
        .into_data()
        .convert::<f64>()
        .to_vec()
        .map_err(|e| Error::Invalid(format!("{e:?}")))?;
    Ok(v.iter().sum::<f64>() / v.len().max(1) as f64)
}

/// Write `weights.safetensors`, `tokens.npy` `[B, tracks·T]`, `eps.npy` `[B, Z]` and `ours.json`
/// into `dir` for a freshly initialised model of `config` (seed `config.train.seed`).
pub fn write_agreement_case<B: Backend>(
    config: &Config,
    windows: &[Window],
    step: u64,
    dir: &Path,
    device: &B::Device,
) -> Result<OurLoss> {
    let mc = &config.model;
    let model = MusicVae::<B>::new(mc, config.train.seed, device);
    let refs: Vec<&Window> = windows.iter().collect();
    let b = refs.len();
    let batch = make_batch::<B>(mc.data.kind, &refs, device);
    let eps_v = Rng::new(config.train.seed ^ 0xE95).normals(b * mc.z_size);
    let eps: Tensor<B, 2> =
        Tensor::from_data(TensorData::new(eps_v.clone(), [b, mc.z_size]), device); // [B, Z]
    let (mu, sigma) = model.encode(batch.inputs.clone());
    let z = mu.clone() + sigma.clone() * eps; // [B, Z]
    let out = model.decode(
        z,
        DecodeMode::TeacherForced {
            inputs: batch.inputs.clone(),
        },
    );
    let beta = mc.beta(step);
    let t = vae_loss(&out.logits, &batch.targets, mu, sigma, mc.free_nats(), beta);
    let ours = OurLoss {
        config: config.clone(),
        step,
        beta,
        loss: mean(t.loss)?,
        r_loss: mean(t.r_loss)?,
        kl: mean(t.kl)?,
        kl_cost: mean(t.kl_cost)?,
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    write_safetensors(&dir.join("weights.safetensors"), &named_tensors(&model)?)?;
    let steps = mc.data.steps();
    let tracks = mc.data.kind.track_depths().len();
    let tokens: Vec<u16> = windows
        .iter()
        .flat_map(|w| w.tracks.iter().flatten().copied())
        .collect();
    write_u16(&dir.join("tokens.npy"), &[b, tracks * steps], &tokens)?;
    write_f32(&dir.join("eps.npy"), &[b, mc.z_size], &eps_v)?;
    crate::io_util::write_atomic(
        &dir.join("ours.json"),
        &serde_json::to_vec_pretty(&ours).map_err(|e| Error::Invalid(e.to_string()))?,
    )?;
    Ok(ours)
}
