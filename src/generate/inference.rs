//! A trained MusicVAE ready for generation, on a non-autodiff backend: encode windows to (μ, σ),
//! decode latent vectors to windows (argmax at temperature 0, otherwise a categorical draw at the
//! temperature, fed back step by step), sample from the prior. Every random draw comes from a seed.

use super::latent_prior::LatentPrior;
use super::refine::{refine_latents, RefineOptions, RefineReport};
use crate::data::converter::{DataKind, Window};
use crate::error::{Error, Result};
use crate::model::batch::make_batch;
use crate::model::noise::StepNoise;
use crate::model::store::load_model;
use crate::model::vae::DecodeMode;
use crate::model::{Config, MusicVae};
use crate::rng::Rng;
use burn::backend::Autodiff;
use burn::module::Module;
use burn::tensor::{backend::Backend, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Windows decoded per batch (bounds memory for `sample -n 10000`).
const MAX_BATCH: usize = 256;

/// The posterior of one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Latent {
    pub mu: Vec<f32>,
    pub sigma: Vec<f32>,
}

/// A loaded model with its config.
pub struct Vae<B: Backend> {
    pub model: MusicVae<B>,
    pub config: Config,
    pub dir: PathBuf,
    device: B::Device,
}

impl<B: Backend> Vae<B> {
    /// Load `model.mpk` + `config.json` from a model or training-run folder.
    pub fn load(dir: &Path, device: &B::Device) -> Result<Self> {
        let (model, config) = load_model::<B>(dir, device)?;
        Ok(Vae {
            model,
            config,
            dir: dir.to_path_buf(),
            device: device.clone(),
        })
    }

    pub fn kind(&self) -> DataKind {
        self.config.model.data.kind
    }

    /// Window length in steps.
    pub fn steps(&self) -> usize {
        self.config.model.data.steps()
    }

    pub fn z_size(&self) -> usize {
        self.config.model.z_size
    }

    /// A one-line description: "cat-mel_2bar_small (2-bar melody, z 256)".
    pub fn describe(&self) -> String {
        let d = &self.config.model.data;
        format!(
            "{} ({}-bar {}, z {})",
            self.config.model.name,
            d.slice_bars,
            d.kind.name(),
            self.z_size()
        )
    }

    fn check_windows(&self, windows: &[Window]) -> Result<()> {
        let tracks = self.kind().track_depths().len();
        for w in windows {
            if w.tracks.len() != tracks || w.tracks.iter().any(|t| t.len() != self.steps()) {
                return Err(Error::Invalid(format!(
                    "a window of {} track(s) × {} steps does not fit model {} ({} track(s) × {} steps)",
                    w.tracks.len(),
                    w.tracks.first().map(|t| t.len()).unwrap_or(0),
                    self.describe(),
                    tracks,
                    self.steps()
                )));
            }
        }
        Ok(())
    }

    /// μ and σ of each window.
    pub fn encode(&self, windows: &[Window]) -> Result<Vec<Latent>> {
        self.check_windows(windows)?;
        let mut out = Vec::with_capacity(windows.len());
        for chunk in windows.chunks(MAX_BATCH) {
            let refs: Vec<&Window> = chunk.iter().collect();
            let batch = make_batch::<B>(self.kind(), &refs, &self.device);
            let (mu, sigma) = self.model.encode(batch.inputs); // [n, Z] each
            let (mu, sigma) = (rows(mu)?, rows(sigma)?);
            out.extend(
                mu.into_iter()
                    .zip(sigma)
                    .map(|(mu, sigma)| Latent { mu, sigma }),
            );
        }
        Ok(out)
    }

    /// Decode latent vectors in batches. Temperature 0 = argmax; otherwise each step's token is
    /// drawn from softmax(logits / temperature) (Gumbel-max with noise from `seed`).
    pub fn decode(&self, zs: &[Vec<f32>], temperature: f64, seed: u64) -> Result<Vec<Window>> {
        if !(0.0..=100.0).contains(&temperature) || temperature.is_nan() {
            return Err(Error::Invalid(format!(
                "temperature must be between 0 and 100, got {temperature}"
            )));
        }
        let z_size = self.z_size();
        if let Some(bad) = zs.iter().find(|z| z.len() != z_size) {
            return Err(Error::Invalid(format!(
                "a latent vector has {} values but model {} needs {z_size}",
                bad.len(),
                self.describe()
            )));
        }
        if zs.iter().flatten().any(|v| !v.is_finite()) {
            return Err(Error::Invalid(
                "a latent vector holds a value that is not a finite number".into(),
            ));
        }
        let mut rng = Rng::new(seed);
        let mut out = Vec::with_capacity(zs.len());
        for chunk in zs.chunks(MAX_BATCH) {
            let n = chunk.len();
            let flat: Vec<f32> = chunk.iter().flatten().copied().collect();
            let z: Tensor<B, 2> =
                Tensor::from_data(TensorData::new(flat, [n, z_size]), &self.device); // [n, Z]
            let noise = StepNoise::draw(
                &mut rng,
                &self.model.tracks,
                n,
                self.model.steps,
                temperature,
                None,
                &self.device,
            );
            let decoded = self.model.decode(
                z,
                DecodeMode::Stepwise {
                    inputs: None,
                    noise,
                },
            );
            let tracks: Vec<Vec<Vec<u16>>> = decoded
                .tokens
                .into_iter()
                .map(token_rows)
                .collect::<Result<_>>()?; // [track][n][T]
            for i in 0..n {
                out.push(Window {
                    tracks: tracks.iter().map(|t| t[i].clone()).collect(),
                });
            }
        }
        Ok(out)
    }

    /// The σ of the neighbourhood of a code (refinement's unit and pull, `variations`' spread): the
    /// model's `neighbourhood_sigma` when its config sets one, the posterior's σ otherwise.
    pub fn neighbourhood_sigma(&self, latent: &Latent) -> Vec<f32> {
        match self.config.model.neighbourhood_sigma {
            Some(s) => vec![s as f32; latent.mu.len()],
            None => latent.sigma.clone(),
        }
    }

    /// How messages name the unit of [`neighbourhood_sigma`](Self::neighbourhood_sigma): "σ", or
    /// "neighbourhood σ (0.62)" when the config sets one.
    pub fn neighbourhood_unit(&self) -> String {
        neighbourhood_unit(self.config.model.neighbourhood_sigma)
    }

    /// Codes for `windows` refined by gradient descent on z with the decoder fixed (see
    /// [`super::refine`]), in units of each code's [neighbourhood σ](Self::neighbourhood_sigma); `opts.steps == 0` gives μ back unchanged. Loads a second copy of the
    /// weights on the autodiff wrapper of this backend.
    pub fn refine(
        &self,
        windows: &[Window],
        latents: &[Latent],
        opts: &RefineOptions,
        progress: impl FnMut(usize),
    ) -> Result<(Vec<Vec<f32>>, RefineReport)> {
        self.check_windows(windows)?;
        opts.validate()?;
        if opts.steps == 0 {
            let zs: Vec<Vec<f32>> = latents.iter().map(|l| l.mu.clone()).collect();
            return Ok((
                zs,
                RefineReport {
                    windows: windows.len(),
                    ..RefineReport::default()
                },
            ));
        }
        let (model, _) = load_model::<Autodiff<B>>(&self.dir, &self.device)?;
        let around: Vec<Latent> = latents
            .iter()
            .map(|l| Latent {
                mu: l.mu.clone(),
                sigma: self.neighbourhood_sigma(l),
            })
            .collect();
        refine_latents(
            &model.no_grad(),
            self.kind(),
            windows,
            &around,
            opts,
            &self.device,
            progress,
        )
    }

    /// `n` draws z ~ N(0, I) (from `seed`), or from a fitted latent prior, and their decodings.
    pub fn sample(
        &self,
        n: usize,
        temperature: f64,
        seed: u64,
        prior: Option<&LatentPrior>,
    ) -> Result<(Vec<Vec<f32>>, Vec<Window>)> {
        if let Some(p) = prior {
            if p.z_size() != self.z_size() {
                return Err(Error::Invalid(format!(
                    "the fitted latent prior has z {}, model {} has z {}",
                    p.z_size(),
                    self.describe(),
                    self.z_size()
                )));
            }
        }
        let mut rng = Rng::new(seed);
        let zs: Vec<Vec<f32>> = (0..n)
            .map(|_| match prior {
                Some(p) => p.draw(&mut rng),
                None => rng.normals(self.z_size()),
            })
            .collect();
        let windows = self.decode(&zs, temperature, seed.wrapping_add(1))?;
        Ok((zs, windows))
    }
}

fn rows<B: Backend>(t: Tensor<B, 2>) -> Result<Vec<Vec<f32>>> {
    let [n, d] = t.dims();
    let v: Vec<f32> = t
        .into_data()
        .convert::<f32>()
        .to_vec()
        .map_err(|e| Error::Invalid(format!("reading the encoder output: {e:?}")))?;
    Ok((0..n).map(|i| v[i * d..(i + 1) * d].to_vec()).collect())
}

fn token_rows<B: Backend>(t: Tensor<B, 2, Int>) -> Result<Vec<Vec<u16>>> {
    let [n, steps] = t.dims();
    let v: Vec<i64> = t
        .into_data()
        .convert::<i64>()
        .to_vec()
        .map_err(|e| Error::Invalid(format!("reading decoded tokens: {e:?}")))?;
    Ok((0..n)
        .map(|i| {
            v[i * steps..(i + 1) * steps]
                .iter()
                .map(|&x| x as u16)
                .collect()
        })
        .collect())
}

/// How messages and tables name the unit that refinement and `variations` step in: "σ" (each
/// code's posterior σ), or "neighbourhood σ (0.62)" when the config sets `neighbourhood_sigma`.
pub fn neighbourhood_unit(neighbourhood_sigma: Option<f64>) -> String {
    match neighbourhood_sigma {
        Some(s) => format!("neighbourhood σ ({s})"),
        None => "σ".into(),
    }
}

/// Fraction of steps (over all tracks) where two windows agree.
pub fn token_accuracy(a: &Window, b: &Window) -> f64 {
    let (mut same, mut total) = (0usize, 0usize);
    for (ta, tb) in a.tracks.iter().zip(&b.tracks) {
        for (x, y) in ta.iter().zip(tb) {
            same += (x == y) as usize;
            total += 1;
        }
    }
    if total == 0 {
        0.0
    } else {
        same as f64 / total as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accuracy_counts_equal_steps() {
        let a = Window {
            tracks: vec![vec![1, 2, 3, 4]],
        };
        let b = Window {
            tracks: vec![vec![1, 2, 0, 4]],
        };
        assert_eq!(token_accuracy(&a, &b), 0.75);
        assert_eq!(token_accuracy(&a, &a), 1.0);
    }

    #[test]
    fn neighbourhood_unit_names_the_configured_sigma() {
        assert_eq!(neighbourhood_unit(None), "σ");
        assert_eq!(neighbourhood_unit(Some(0.62)), "neighbourhood σ (0.62)");
    }
}
