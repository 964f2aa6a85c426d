//! MusicVAE: bidirectional LSTM encoder → (μ, σ = softplus) → z → flat or hierarchical decoder.
//! The model carries its own shape (tracks, hierarchy levels, window length), set from the config
//! at construction, so decoding needs only z and a mode.

use super::batch::{input_width, TrackSpec};
use super::config::ModelConfig;
use super::decoder::{input_tables, CoreDecoder};
use super::init::{Dense, InitRng};
use super::lstm::{BiLstm, StackedLstm};
use super::noise::StepNoise;
use burn::module::Module;
use burn::tensor::activation::{softplus, tanh};
use burn::tensor::{backend::Backend, Int, Tensor};

/// The conductor of the hierarchical decoder: an LSTM stack fed zeros, started from tanh(dense(z)),
/// whose top output at bar u is that bar's embedding.
#[derive(Module, Debug)]
pub struct Conductor<B: Backend> {
    pub lstm: StackedLstm<B>,
    pub init: Dense<B>,
}

/// The whole model.
#[derive(Module, Debug)]
pub struct MusicVae<B: Backend> {
    pub encoder: BiLstm<B>,
    pub mu: Dense<B>,
    pub sigma: Dense<B>,
    pub conductor: Option<Conductor<B>>,
    /// Flat: one core over all tracks, conditioned on z. Hierarchical: one core per track,
    /// conditioned on the bar embedding.
    pub cores: Vec<CoreDecoder<B>>,
    /// The tracks it decodes (token classes and input encoding of each), from the config's data.
    /// Not a weight: set at construction; the record stores no data for this field or the next two
    /// (burn writes an empty entry for each, and files without them load as before).
    pub tracks: Vec<TrackSpec>,
    /// Hierarchical decoder: `[bars, steps per bar]` (Magenta's `level_lengths`); None = flat.
    pub level_lengths: Option<[usize; 2]>,
    /// Steps of a window.
    pub steps: usize,
}

/// Decoder outputs.
#[derive(Debug, Clone)]
pub struct DecodeOut<B: Backend> {
    /// Per track `[B, T, depth]`.
    pub logits: Vec<Tensor<B, 3>>,
    /// Per track `[B, T]`: argmax (teacher forcing) or the tokens fed back (stepwise).
    pub tokens: Vec<Tensor<B, 2, Int>>,
}

/// How to decode.
#[derive(Debug, Clone)]
pub enum DecodeMode<B: Backend> {
    /// True previous tokens as inputs. `inputs` `[B, T, W]` are the (unshifted) encoded tokens.
    TeacherForced { inputs: Tensor<B, 3> },
    /// Step by step, feeding back samples where `noise.feed_sample` says (all of them if None and no inputs).
    Stepwise {
        inputs: Option<Tensor<B, 3>>,
        noise: StepNoise<B>,
    },
}

impl<B: Backend> MusicVae<B> {
    /// A freshly initialised model (deterministic in `seed`).
    pub fn new(cfg: &ModelConfig, seed: u64, device: &B::Device) -> Self {
        let mut rng = InitRng::new(seed);
        let w = input_width(cfg.data.kind);
        let encoder = BiLstm::new(w, &cfg.enc_rnn_size, cfg.forget_bias, &mut rng, device);
        let s = encoder.summary_size();
        let mu = Dense::normal(s, cfg.z_size, 0.001, &mut rng, device);
        let sigma = Dense::normal(s, cfg.z_size, 0.001, &mut rng, device);
        let specs: Vec<TrackSpec> = cfg
            .data
            .kind
            .representation()
            .tracks
            .iter()
            .map(TrackSpec::of)
            .collect();
        let (conductor, cores) = match cfg.hierarchical {
            None => {
                let out: usize = specs.iter().map(|t| t.depth).sum();
                (
                    None,
                    vec![CoreDecoder::new(
                        w,
                        cfg.z_size,
                        &cfg.dec_rnn_size,
                        out,
                        cfg.forget_bias,
                        &mut rng,
                        device,
                    )],
                )
            }
            Some(_) => {
                let lstm =
                    StackedLstm::new(1, &cfg.dec_rnn_size, cfg.forget_bias, &mut rng, device);
                let init = Dense::normal(cfg.z_size, lstm.state_width(), 0.001, &mut rng, device);
                let emb = lstm.top_size();
                let cores = specs
                    .iter()
                    .map(|t| {
                        CoreDecoder::new(
                            t.input.width(),
                            emb,
                            &cfg.dec_rnn_size,
                            t.depth,
                            cfg.forget_bias,
                            &mut rng,
                            device,
                        )
                    })
                    .collect();
                (Some(Conductor { lstm, init }), cores)
            }
        };
        MusicVae {
            encoder,
            mu,
            sigma,
            conductor,
            cores,
            tracks: specs,
            level_lengths: cfg.hierarchical,
            steps: cfg.data.steps(),
        }
    }

    /// `[B, T, W]` → (μ, σ), each `[B, Z]`.
    pub fn encode(&self, inputs: Tensor<B, 3>) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let (_, summary) = self.encoder.forward(inputs); // [B, 2H]
        let mu = self.mu.forward2(summary.clone()); // [B, Z]
        let sigma = softplus(self.sigma.forward2(summary), 1.0); // [B, Z]
        (mu, sigma)
    }

    /// Bar embeddings `[B, U, H]` from z.
    fn conduct(&self, c: &Conductor<B>, z: Tensor<B, 2>, bars: usize) -> Tensor<B, 3> {
        let [b, _] = z.dims();
        let states = c.lstm.split_state(tanh(c.init.forward2(z)));
        let l0 = &c.lstm.layers[0];
        // Zero input: the first layer's projection is its bias alone.
        let xp = l0
            .bias
            .val()
            .unsqueeze_dim::<2>(0)
            .unsqueeze_dim::<3>(0)
            .repeat_dim(0, b)
            .repeat_dim(1, bars); // [B, U, 4H]
        let (h, _) = c.lstm.seq_projected(xp, states);
        h
    }

    /// Decode z `[B, Z]` into a window of [`steps`](Self::steps) steps of every track.
    pub fn decode(&self, z: Tensor<B, 2>, mode: DecodeMode<B>) -> DecodeOut<B> {
        let specs = &self.tracks;
        let steps = self.steps;
        let [b, _] = z.dims();
        let device = z.device();
        let widths: Vec<usize> = specs.iter().map(|t| t.input.width()).collect();
        let w: usize = widths.iter().sum();
        let shift = |x: Tensor<B, 3>| -> Tensor<B, 3> {
            let [bb, t, ww] = x.dims();
            Tensor::cat(
                vec![
                    Tensor::zeros([bb, 1, ww], &x.device()),
                    x.narrow(1, 0, t - 1),
                ],
                1,
            ) // [B, T, W]
        };
        let split_tracks = |x: Tensor<B, 3>, sizes: &[usize]| -> Vec<Tensor<B, 3>> {
            let mut off = 0;
            sizes
                .iter()
                .map(|&s| {
                    let p = x.clone().narrow(2, off, s);
                    off += s;
                    p
                })
                .collect()
        };
        let depths: Vec<usize> = specs.iter().map(|t| t.depth).collect();
        match (&self.conductor, mode) {
            (None, DecodeMode::TeacherForced { inputs }) => {
                let logits = self.cores[0].teacher_forced(shift(inputs), z); // [B, T, Σdepth]
                let logits = split_tracks(logits, &depths);
                let tokens = logits
                    .iter()
                    .map(|l| l.clone().argmax(2).squeeze_dim::<2>(2))
                    .collect();
                DecodeOut { logits, tokens }
            }
            (None, DecodeMode::Stepwise { inputs, noise }) => {
                let tables = input_tables::<B>(specs, &device);
                let first = Tensor::zeros([b, w], &device);
                let truth = inputs.map(shift);
                let (logits, tokens) =
                    self.cores[0].stepwise(z, first, truth, steps, specs, &noise, &tables);
                DecodeOut {
                    logits: split_tracks(logits, &depths),
                    tokens,
                }
            }
            (Some(c), mode) => {
                let [bars, per_bar] = self.level_lengths.unwrap_or([1, steps]);
                let emb = self.conduct(c, z, bars); // [B, U, H]
                let h = emb.dims()[2];
                match mode {
                    DecodeMode::TeacherForced { inputs } => {
                        // All bars in one batch: [B·U, S, w_k] with the globally shifted inputs.
                        let prev = split_tracks(shift(inputs), &widths);
                        let cond = emb.reshape([b * bars, h]); // [B·U, H]
                        let mut logits = Vec::new();
                        for (k, core) in self.cores.iter().enumerate() {
                            let pk = prev[k].clone().reshape([b * bars, per_bar, widths[k]]); // [B·U, S, w_k]
                            let lk = core.teacher_forced(pk, cond.clone()); // [B·U, S, d_k]
                            logits.push(lk.reshape([b, bars * per_bar, depths[k]]));
                            // [B, T, d_k]
                        }
                        let tokens = logits
                            .iter()
                            .map(|l| l.clone().argmax(2).squeeze_dim::<2>(2))
                            .collect();
                        DecodeOut { logits, tokens }
                    }
                    DecodeMode::Stepwise { inputs, noise } => {
                        let truth: Option<Vec<Tensor<B, 3>>> =
                            inputs.map(|x| split_tracks(shift(x), &widths));
                        let mut logits_k: Vec<Vec<Tensor<B, 3>>> = vec![Vec::new(); specs.len()];
                        let mut tokens_k: Vec<Vec<Tensor<B, 2, Int>>> =
                            vec![Vec::new(); specs.len()];
                        let mut last: Vec<Tensor<B, 2>> = widths
                            .iter()
                            .map(|&wk| Tensor::zeros([b, wk], &device))
                            .collect();
                        for u in 0..bars {
                            let cu = emb.clone().narrow(1, u, 1).squeeze_dim::<2>(1); // [B, H]
                            for (k, core) in self.cores.iter().enumerate() {
                                let spec = [specs[k].clone()];
                                let tables = input_tables::<B>(&spec, &device);
                                let tr = truth
                                    .as_ref()
                                    .map(|t| t[k].clone().narrow(1, u * per_bar, per_bar)); // [B, S, w_k]
                                let bar_noise = StepNoise {
                                    feed_sample: noise
                                        .feed_sample
                                        .clone()
                                        .map(|m| m.narrow(1, u * per_bar, per_bar)),
                                    gumbel: noise.gumbel.clone().map(|g| {
                                        vec![g[k].clone().narrow(1, u * per_bar, per_bar)]
                                    }),
                                    temperature: noise.temperature,
                                };
                                // First input of bar u: the truth (teacher forcing) where given and not sampled,
                                // otherwise the previous bar's last fed-back token.
                                let first = match (&tr, &bar_noise.feed_sample) {
                                    (Some(t), None) => {
                                        t.clone().narrow(1, 0, 1).squeeze_dim::<2>(1)
                                    }
                                    (Some(t), Some(m)) if u > 0 => {
                                        let m0 = m.clone().narrow(1, 0, 1); // [B, 1]
                                        last[k].clone() * m0.clone()
                                            + t.clone().narrow(1, 0, 1).squeeze_dim::<2>(1)
                                                * m0.neg().add_scalar(1.0)
                                    }
                                    _ => last[k].clone(),
                                };
                                let (lk, tk) = core.stepwise(
                                    cu.clone(),
                                    first,
                                    tr,
                                    per_bar,
                                    &spec,
                                    &bar_noise,
                                    &tables,
                                );
                                // Encoding of the last token of this bar, for the next bar's first input.
                                let lt =
                                    tk[0].clone().narrow(1, per_bar - 1, 1).squeeze_dim::<1>(1); // [B]
                                let oh = lt.one_hot::<2>(specs[k].depth).float();
                                last[k] = match &tables[0] {
                                    Some(tab) => oh.matmul(tab.clone()),
                                    None => oh,
                                };
                                logits_k[k].push(lk);
                                tokens_k[k].push(tk[0].clone());
                            }
                        }
                        DecodeOut {
                            logits: logits_k.into_iter().map(|v| Tensor::cat(v, 1)).collect(),
                            tokens: tokens_k.into_iter().map(|v| Tensor::cat(v, 1)).collect(),
                        }
                    }
                }
            }
        }
    }
}
