//! MusicVAE: bidirectional LSTM encoder → (μ, σ = softplus) → z → flat or hierarchical decoder.
//! The model carries its own shape (tracks, hierarchy levels, window length), set from the config
//! at construction, so decoding needs only z and a mode.

use super::batch::{decoder_inputs, input_width, TrackSpec};
use super::config::ModelConfig;
use super::decoder::CoreDecoder;
pub use super::decoder::{DecodeMode, DecodeOut};
use super::dropout::InputDropout;
use super::flat_decoder::FlatDecoder;
pub use super::hier_decoder::Conductor;
use super::hier_decoder::HierDecoder;
use super::init::{Dense, InitRng};
use super::lstm::{BiLstm, StackedLstm};
use burn::module::Module;
use burn::tensor::activation::softplus;
use burn::tensor::{backend::Backend, Tensor};

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

impl<B: Backend> MusicVae<B> {
    /// A freshly initialised model (deterministic in `seed`).
    pub fn new(cfg: &ModelConfig, seed: u64, device: &B::Device) -> Self {
        Self::with_init(cfg, InitRng::new(seed), device)
    }

    /// A model of `cfg`'s shape with every weight zero, to load weights into.
    pub fn skeleton(cfg: &ModelConfig, device: &B::Device) -> Self {
        Self::with_init(cfg, InitRng::skeleton(), device)
    }

    fn with_init(cfg: &ModelConfig, mut rng: InitRng, device: &B::Device) -> Self {
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
                        specs.iter().map(|t| t.input.width()).sum(),
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
        self.encode_dropped(inputs, None)
    }

    /// [`encode`](Self::encode) with the encoder's input dropout of a training step.
    pub fn encode_dropped(
        &self,
        inputs: Tensor<B, 3>,
        drop: Option<&InputDropout<B>>,
    ) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let masks = drop.map(|d| d.encoder.as_slice());
        let summary = self.encoder.summary_dropped(inputs, masks); // [B, 2H]
        let mu = self.mu.forward2(summary.clone()); // [B, Z]
        let sigma = softplus(self.sigma.forward2(summary), 1.0); // [B, Z]
        (mu, sigma)
    }

    /// Decode z `[B, Z]` into a window of [`steps`](Self::steps) steps of every track.
    /// Inputs given in `mode` are encoder inputs (as [`encode`](Self::encode) takes them); the
    /// decoder is fed their one-hot tokens (see [`decoder_inputs`]).
    pub fn decode(&self, z: Tensor<B, 2>, mode: DecodeMode<B>) -> DecodeOut<B> {
        self.decode_dropped(z, mode, None)
    }

    /// [`decode`](Self::decode) with the decoder's input dropout of a training step (flat
    /// decoders; a hierarchical model's config keeps every input, and its masks are empty).
    pub fn decode_dropped(
        &self,
        z: Tensor<B, 2>,
        mode: DecodeMode<B>,
        drop: Option<&InputDropout<B>>,
    ) -> DecodeOut<B> {
        let mode = match mode {
            DecodeMode::TeacherForced { inputs } => DecodeMode::TeacherForced {
                inputs: decoder_inputs(&self.tracks, inputs),
            },
            DecodeMode::Stepwise { inputs, noise } => DecodeMode::Stepwise {
                inputs: inputs.map(|x| decoder_inputs(&self.tracks, x)),
                noise,
            },
        };
        match &self.conductor {
            None => FlatDecoder {
                core: &self.cores[0],
                tracks: &self.tracks,
                steps: self.steps,
                masks: drop.map(|d| d.decoder.as_slice()),
            }
            .decode(z, mode),
            Some(conductor) => HierDecoder {
                conductor,
                cores: &self.cores,
                tracks: &self.tracks,
                level_lengths: self.level_lengths.unwrap_or([1, self.steps]),
            }
            .decode(z, mode),
        }
    }
}
