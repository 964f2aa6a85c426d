//! Model and training hyper-parameters. Every value lives here, is saved as `config.json` beside the
//! weights, and named presets mirror Magenta's `configs.py` (numbers checked against its source,
//! see shared/magenta-facts.md §1).

use crate::data::converter::{ConverterConfig, DataKind};
use crate::data::representation::MEL_PROGRAMS;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Scheduled-sampling schedule (Magenta `sampling_schedule` / `sampling_rate`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "rate", rename_all = "snake_case")]
pub enum SamplingSchedule {
    /// Always teacher forcing.
    None,
    /// p = rate at every step.
    Constant(f64),
    /// p = 1 − k / (k + exp(step / k)).
    InverseSigmoid(f64),
    /// p = 1 − rate^step.
    Exponential(f64),
}

impl SamplingSchedule {
    /// Probability of feeding the model's own sample instead of the truth at `step`.
    pub fn probability(&self, step: u64) -> f64 {
        match *self {
            SamplingSchedule::None => 0.0,
            SamplingSchedule::Constant(p) => p,
            SamplingSchedule::InverseSigmoid(k) => {
                let e = (step as f64 / k).exp();
                if e.is_infinite() {
                    1.0
                } else {
                    1.0 - k / (k + e)
                }
            }
            SamplingSchedule::Exponential(r) => 1.0 - r.powf(step as f64),
        }
    }
    pub fn is_none(&self) -> bool {
        matches!(self, SamplingSchedule::None)
            || matches!(self, SamplingSchedule::Constant(p) if *p == 0.0)
    }
}

/// Architecture and loss of a MusicVAE.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Preset name this config started from.
    pub name: String,
    pub data: ConverterConfig,
    pub z_size: usize,
    /// Units per direction of each bidirectional encoder layer.
    pub enc_rnn_size: Vec<usize>,
    /// Units of each decoder layer (the conductor uses the same sizes, as in Magenta).
    pub dec_rnn_size: Vec<usize>,
    /// Hierarchical decoder: `[bars, steps per bar]` (Magenta level_lengths [16, 16]); None = flat.
    pub hierarchical: Option<[usize; 2]>,
    /// Constant added to the forget gate (TF LSTMBlockCell: 1.0).
    pub forget_bias: f64,
    /// Free bits of KL (one budget for the whole z, in bits).
    pub free_bits: f64,
    pub max_beta: f64,
    /// β = (1 − beta_rate^step) · max_beta.
    pub beta_rate: f64,
    pub sampling: SamplingSchedule,
    /// Set when the schedules were fitted to a step budget ([`ModelConfig::fit_anneal`]): β
    /// reaches 99 % of `max_beta` at this step. `None`: Magenta's schedules as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anneal_steps: Option<u64>,
    /// Magenta's `dropout_keep_prob`: while training, every LSTM layer of the encoder and of a
    /// flat decoder reads its input through dropout (TF `DropoutWrapper(input_keep_prob)`: a
    /// fresh mask per step and feature, kept values scaled by 1 / keep). 1.0 (every preset, and
    /// configs saved before the field existed): no dropout. Magenta's Groove configs use 0.3.
    #[serde(default = "keep_all")]
    pub dropout_keep_prob: f64,
    /// The σ of a code's neighbourhood, in z, for latent refinement (its steps and its pull back
    /// toward the code) and `variations` (z = μ + amount·σ·ε), in place of each code's posterior
    /// σ. `None` (every preset, and configs saved before the field existed): the posterior's σ.
    /// Set for an encoder trained on alone with many free bits, whose posterior is far tighter
    /// than the noise its frozen decoder learnt from: steps in units of that posterior would not
    /// move a code. Not used in training.
    #[serde(default)]
    pub neighbourhood_sigma: Option<f64>,
}

/// `dropout_keep_prob`'s default: keep every input.
fn keep_all() -> f64 {
    1.0
}

/// Optimisation and bookkeeping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub batch_size: usize,
    pub learning_rate: f64,
    pub decay_rate: f64,
    pub min_learning_rate: f64,
    pub adam_beta1: f64,
    pub adam_beta2: f64,
    pub adam_epsilon: f64,
    /// Global-norm gradient clipping.
    pub grad_clip: f64,
    /// A step whose global norm is above this (or not finite) is skipped.
    pub grad_norm_skip: f64,
    /// Transposition augmentation ±semitones (Magenta: ±5 for the 2-bar melody configs).
    pub transpose: i32,
    /// Ours, not Magenta's (off in every preset): start each drum training window at a random bar
    /// of itself, the bars before it wrapping round to the end ([`crate::data::drum_augment`]).
    /// Drums only.
    #[serde(default)]
    pub rotate_bars: bool,
    /// Ours, not Magenta's (0 in every preset): the probability that a drum training window has
    /// one group of its drums (kick and snare, cymbals, or toms) replaced by the same group of
    /// another training window ([`crate::data::drum_augment::recombine_drums`]): new grooves
    /// from the training set's parts. Drums only.
    #[serde(default)]
    pub recombine: f64,
    /// Ours, not Magenta's (0 in every preset): every hit (a drum class at a step) of a drum
    /// training window is dropped with this probability ([`crate::data::drum_augment`]): takes of
    /// one groove differ in ghost notes and hi-hat detail, and no two copies of a window are the
    /// same, so an encoder trained with it cannot learn the training windows by heart. Drums only.
    #[serde(default)]
    pub drop_hits: f64,
    /// Ours: train only the encoder (and its μ, σ layers); the decoder's weights stay as loaded
    /// (`--init`). The decoder already reconstructs held-out phrases from a good code (`eval
    /// --refine`); this teaches the encoder to find it.
    #[serde(default)]
    pub freeze_decoder: bool,
    pub steps: u64,
    pub eval_every: u64,
    pub checkpoint_every: u64,
    /// Held-out windows used per evaluation (0 = all).
    pub eval_windows: usize,
    pub seed: u64,
    pub split_seed: u64,
    pub held_out_fraction: f64,
    /// The model folder whose weights a new run starts from (`train --init`; fine-tuning or a
    /// continued recipe); None: fresh weights from `seed`. Kept for the record in config.json.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_from: Option<String>,
}

/// Everything saved beside the weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    pub model: ModelConfig,
    pub train: TrainConfig,
}

/// Largest latent size a config may ask for.
pub const MAX_Z: usize = 4096;
/// Most units in one LSTM layer.
pub const MAX_LAYER: usize = 8192;
/// Most LSTM layers in the encoder or decoder.
pub const MAX_LAYERS: usize = 8;
/// Longest window in bars.
pub const MAX_BARS: usize = 64;
/// Largest batch.
pub const MAX_BATCH: usize = 1 << 16;
/// Most weights of a model (2³⁰ ≈ 1.07 G, 4 GiB as f32; Magenta's biggest preset has ≈ 0.2 G).
pub const MAX_PARAMS: u128 = 1 << 30;

/// Magenta's training settings, shared by every `configs.py` preset (`base_model.py` hparams
/// and `music_vae_train.py` flags; no Magenta config overrides the learning-rate schedule).
pub const MAGENTA_TRAIN: TrainConfig = TrainConfig {
    // batch_size
    batch_size: 512,
    // learning_rate
    learning_rate: 1e-3,
    // decay_rate
    decay_rate: 0.9999,
    // min_learning_rate
    min_learning_rate: 1e-5,
    // tf.train.AdamOptimizer's defaults.
    adam_beta1: 0.9,
    adam_beta2: 0.999,
    adam_epsilon: 1e-8,
    // grad_clip (clip_mode 'global_norm')
    grad_clip: 1.0,
    // grad_norm_clip_to_zero
    grad_norm_skip: 1e4,
    // note_sequence_augmenter transposition (none unless the preset says so)
    transpose: 0,
    // Ours: bar rotation, recombination (drums) and a frozen decoder off.
    rotate_bars: false,
    recombine: 0.0,
    drop_hits: 0.0,
    freeze_decoder: false,
    // --num_steps
    steps: 200_000,
    // Ours: evaluation, checkpoints and the held-out split.
    eval_every: 1000,
    checkpoint_every: 1000,
    eval_windows: 2048,
    seed: 1,
    split_seed: 42,
    held_out_fraction: 0.1,
    init_from: None,
};

/// Training settings of the small test presets (`tiny`, `tiny-hier`; not Magenta's).
pub const TINY_TRAIN: TrainConfig = TrainConfig {
    batch_size: 16,
    learning_rate: 1e-2,
    min_learning_rate: 1e-3,
    decay_rate: 0.999,
    steps: 300,
    eval_every: 100,
    checkpoint_every: 100,
    eval_windows: 256,
    ..MAGENTA_TRAIN
};

/// Magenta's inverse-sigmoid scheduled sampling with rate 1000 (p = ½ at step ≈ 6908).
const INVERSE_SIGMOID_1000: SamplingSchedule = SamplingSchedule::InverseSigmoid(1000.0);

/// One named preset: an entry of Magenta's `configs.py` `CONFIG_MAP`, one field per hparam
/// (each commented with Magenta's name). [`Preset::config`] turns it into a [`Config`].
#[derive(Debug, Clone, PartialEq)]
pub struct Preset {
    /// The `CONFIG_MAP` key, and the `--config` value.
    pub name: &'static str,
    /// One line for `--help`.
    pub about: &'static str,
    /// `data_converter`.
    pub data: ConverterConfig,
    /// `z_size`.
    pub z_size: usize,
    /// `enc_rnn_size`: units per direction of each bidirectional encoder layer.
    pub enc_rnn_size: &'static [usize],
    /// `dec_rnn_size`: units of each decoder layer (and of the conductor's).
    pub dec_rnn_size: &'static [usize],
    /// `level_lengths` of a `HierarchicalLstmDecoder`; None: a flat `CategoricalLstmDecoder`.
    pub hierarchical: Option<[usize; 2]>,
    /// `free_bits`.
    pub free_bits: f64,
    /// `max_beta`.
    pub max_beta: f64,
    /// `beta_rate`.
    pub beta_rate: f64,
    /// `sampling_schedule` with its `sampling_rate`.
    pub sampling: SamplingSchedule,
    /// `batch_size`, the learning-rate schedule, clipping, and the transposition augmentation.
    pub train: TrainConfig,
}

/// `cat-mel_2bar_small`; `cat-mel_2bar_big` differs in its sizes and `max_beta` only.
const CAT_MEL_2BAR_SMALL: Preset = Preset {
    name: "cat-mel_2bar_small",
    about: "2-bar melody, flat decoder, z 256 (Magenta's; the shipped models/mel_2bar)",
    // mel_2bar_converter: OneHotMelodyConverter(valid_programs=MEL_PROGRAMS, slice_bars=2)
    data: ConverterConfig::melody(2, Some(MEL_PROGRAMS)),
    // z_size
    z_size: 256,
    // enc_rnn_size
    enc_rnn_size: &[512],
    // dec_rnn_size
    dec_rnn_size: &[256, 256],
    // CategoricalLstmDecoder
    hierarchical: None,
    // free_bits
    free_bits: 0.0,
    // max_beta
    max_beta: 0.2,
    // beta_rate
    beta_rate: 0.99999,
    // sampling_schedule='inverse_sigmoid', sampling_rate=1000
    sampling: INVERSE_SIGMOID_1000,
    // batch_size; note_sequence_augmenter: transpose_range=(-5, 5)
    train: TrainConfig {
        batch_size: 512,
        transpose: 5,
        ..MAGENTA_TRAIN
    },
};

/// `hierdec-mel_16bar`; the trio preset derives from it as Magenta's `configs.py` does.
const HIERDEC_MEL_16BAR: Preset = Preset {
    name: "hierdec-mel_16bar",
    about: "16-bar melody, hierarchical decoder (16 bars × 16 steps), z 512 (Magenta's)",
    // mel_16bar_converter: OneHotMelodyConverter(slice_bars=16)
    data: ConverterConfig::melody(16, None),
    // z_size
    z_size: 512,
    // enc_rnn_size
    enc_rnn_size: &[2048, 2048],
    // dec_rnn_size
    dec_rnn_size: &[1024, 1024],
    // HierarchicalLstmDecoder(level_lengths=[16, 16])
    hierarchical: Some([16, 16]),
    // free_bits
    free_bits: 256.0,
    // max_beta
    max_beta: 0.2,
    // beta_rate
    beta_rate: 0.0,
    // sampling_schedule='constant', sampling_rate=0.0
    sampling: SamplingSchedule::None,
    // batch_size
    train: TrainConfig {
        batch_size: 512,
        ..MAGENTA_TRAIN
    },
};

/// The presets, in `--help` order.
pub const PRESETS: &[Preset] = &[
    CAT_MEL_2BAR_SMALL,
    Preset {
        name: "cat-mel_2bar_big",
        about: "2-bar melody, flat decoder, z 512, 3 × 2048-unit decoder layers (Magenta's)",
        // z_size
        z_size: 512,
        // enc_rnn_size
        enc_rnn_size: &[2048],
        // dec_rnn_size
        dec_rnn_size: &[2048, 2048, 2048],
        // max_beta
        max_beta: 0.5,
        ..CAT_MEL_2BAR_SMALL
    },
    HIERDEC_MEL_16BAR,
    Preset {
        name: "flat-mel_16bar",
        about: "16-bar melody, flat decoder (256 steps), z 512, 3 × 2048-unit decoder layers (Magenta's; the baseline the hierarchy is measured against)",
        // dec_rnn_size
        dec_rnn_size: &[2048, 2048, 2048],
        // CategoricalLstmDecoder
        hierarchical: None,
        // everything else (mel_16bar_converter, z 512, enc [2048, 2048], free_bits 256,
        // max_beta 0.2, constant β and no scheduled sampling, batch 512) as hierdec-mel_16bar
        ..HIERDEC_MEL_16BAR
    },
    Preset {
        name: "cat-drums_2bar_small",
        about: "2-bar drums (9 classes, drum-roll input), flat decoder, z 256 (Magenta's)",
        // DrumsConverter(max_bars=100, slice_bars=2, roll_input=True)
        data: ConverterConfig::drums(2),
        // z_size
        z_size: 256,
        // enc_rnn_size
        enc_rnn_size: &[512],
        // dec_rnn_size
        dec_rnn_size: &[256, 256],
        // CategoricalLstmDecoder
        hierarchical: None,
        // free_bits
        free_bits: 48.0,
        // max_beta
        max_beta: 0.2,
        // beta_rate (default)
        beta_rate: 0.0,
        // sampling_schedule='inverse_sigmoid', sampling_rate=1000
        sampling: INVERSE_SIGMOID_1000,
        // batch_size
        train: TrainConfig {
            batch_size: 512,
            ..MAGENTA_TRAIN
        },
    },
    Preset {
        name: "hierdec-trio_16bar",
        about: "16-bar trio (melody, bass, drums), hierarchical decoder, z 512 (Magenta's)",
        // trio_16bar_converter: TrioConverter(slice_bars=16, gap_bars=2)
        data: ConverterConfig::trio(16),
        // batch_size; dec_rnn_size is that of each of the three split decoders
        train: TrainConfig {
            batch_size: 256,
            ..MAGENTA_TRAIN
        },
        ..HIERDEC_MEL_16BAR
    },
    // Small presets for tests and CPU experiments (not Magenta configs).
    Preset {
        name: "tiny",
        about: "tests and CPU experiments: 2-bar melody, z 16, 128-unit layers, 300 steps",
        data: ConverterConfig::melody(2, Some(MEL_PROGRAMS)),
        z_size: 16,
        enc_rnn_size: &[128],
        dec_rnn_size: &[128],
        hierarchical: None,
        free_bits: 0.0,
        max_beta: 0.05,
        beta_rate: 0.99999,
        sampling: SamplingSchedule::None,
        train: TINY_TRAIN,
    },
    Preset {
        name: "tiny-hier",
        about: "tests: 4-bar melody, hierarchical decoder (4 bars × 16 steps), z 16",
        data: ConverterConfig::melody(4, Some(MEL_PROGRAMS)),
        z_size: 16,
        enc_rnn_size: &[64],
        dec_rnn_size: &[128],
        hierarchical: Some([4, 16]),
        free_bits: 0.0,
        max_beta: 0.05,
        beta_rate: 0.99999,
        sampling: SamplingSchedule::None,
        train: TINY_TRAIN,
    },
];

impl Preset {
    /// The preset called exactly `name`.
    pub fn named(name: &str) -> Option<&'static Preset> {
        PRESETS.iter().find(|p| p.name == name)
    }

    /// The full config this preset starts a run with.
    pub fn config(&self) -> Config {
        Config {
            model: ModelConfig {
                name: self.name.to_string(),
                data: self.data.clone(),
                z_size: self.z_size,
                enc_rnn_size: self.enc_rnn_size.to_vec(),
                dec_rnn_size: self.dec_rnn_size.to_vec(),
                hierarchical: self.hierarchical,
                // TF LSTMBlockCell's default (not a Magenta hparam).
                forget_bias: 1.0,
                free_bits: self.free_bits,
                max_beta: self.max_beta,
                beta_rate: self.beta_rate,
                sampling: self.sampling.clone(),
                anneal_steps: None,
                // dropout_keep_prob (default; no cat- or hierdec- preset sets it)
                dropout_keep_prob: 1.0,
                neighbourhood_sigma: None,
            },
            train: self.train.clone(),
        }
    }
}

/// Names of the presets, comma-separated (for messages).
pub fn preset_names() -> String {
    PRESETS
        .iter()
        .map(|p| p.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The data converter a name stands for: a preset's (`cat-mel_2bar_small`, `tiny`) or a named
/// converter ([`ConverterConfig::named`]: `cat-mel_2bar`, `mel_16bar`, `hierdec-trio_16bar`, …).
/// Case-insensitive.
pub fn converter_named(name: &str) -> Option<ConverterConfig> {
    let n = name.to_ascii_lowercase();
    match Preset::named(&n) {
        Some(p) => Some(p.data.clone()),
        None => ConverterConfig::named(&n),
    }
}

impl Config {
    /// A named preset (Magenta's numbers), or an error listing the names.
    pub fn preset(name: &str) -> Result<Config> {
        Preset::named(name).map(Preset::config).ok_or_else(|| {
            Error::Invalid(format!(
                "unknown config '{name}'; presets: {}",
                preset_names()
            ))
        })
    }

    /// Apply `key=value` overrides (dotted paths into the JSON form, e.g. `model.z_size=64`,
    /// `train.batch_size=32`, `model.dec_rnn_size=[128,128]`; a bare key, or a path whose first
    /// part is neither `model` nor `train` (`sampling.rate=500`), is looked up in model then train).
    pub fn apply_overrides(&mut self, overrides: &[String]) -> Result<()> {
        let mut v = serde_json::to_value(&*self).map_err(|e| Error::Invalid(e.to_string()))?;
        for o in overrides {
            let (key, val) = o
                .split_once('=')
                .ok_or_else(|| Error::Invalid(format!("override '{o}' is not key=value")))?;
            let parsed: serde_json::Value = serde_json::from_str(val)
                .unwrap_or_else(|_| serde_json::Value::String(val.to_string()));
            let parts: Vec<&str> = key.split('.').collect();
            let path: Vec<&str> = if parts.len() > 1 && v.get(parts[0]).is_some() {
                parts
            } else if v["model"].get(parts[0]).is_some() {
                std::iter::once("model").chain(parts).collect()
            } else if v["train"].get(parts[0]).is_some() {
                std::iter::once("train").chain(parts).collect()
            } else {
                return Err(Error::Invalid(format!("unknown config field '{key}'")));
            };
            let mut cur = &mut v;
            for (i, p) in path.iter().enumerate() {
                if cur.get(*p).is_none() {
                    return Err(Error::Invalid(format!("unknown config field '{key}'")));
                }
                if i + 1 == path.len() {
                    cur[*p] = parsed.clone();
                } else {
                    cur = &mut cur[*p];
                }
            }
        }
        *self =
            serde_json::from_value(v).map_err(|e| Error::Invalid(format!("bad override: {e}")))?;
        self.validate()
    }

    /// Merge a JSON file (full config or a partial `{"model": {...}, "train": {...}}`).
    pub fn merge_json_file(&mut self, path: &std::path::Path) -> Result<()> {
        let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let patch: serde_json::Value = serde_json::from_slice(&raw).map_err(|e| Error::Json {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let mut v = serde_json::to_value(&*self).map_err(|e| Error::Invalid(e.to_string()))?;
        fn merge(a: &mut serde_json::Value, b: &serde_json::Value) {
            match (a, b) {
                (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
                    for (k, bv) in b {
                        merge(a.entry(k.clone()).or_insert(serde_json::Value::Null), bv);
                    }
                }
                (a, b) => *a = b.clone(),
            }
        }
        merge(&mut v, &patch);
        *self = serde_json::from_value(v).map_err(|e| Error::Json {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        self.validate()
    }

    /// Check every value against the limits below, so a hostile or mistyped config.json fails here with
    /// one line instead of deep inside training or with a huge allocation.
    ///
    /// Limits: `z_size` 1..=[`MAX_Z`]; 1..=[`MAX_LAYERS`] layers of 1..=[`MAX_LAYER`] units in the
    /// encoder and decoder; `slice_bars` 1..=[`MAX_BARS`]; at most [`MAX_PARAMS`] weights in all;
    /// `batch_size` 1..=[`MAX_BATCH`]; `transpose` 0..=24; every float finite; rates, β and
    /// probabilities in their ranges; learning rate and Adam ε > 0.
    pub fn validate(&self) -> Result<()> {
        self.model.validate()?;
        let t = &self.train;
        let bad = |s: String| Err(Error::Invalid(s));
        if t.batch_size == 0 || t.batch_size > MAX_BATCH {
            return bad(format!("batch_size must be in 1..={MAX_BATCH}"));
        }
        if !(0.0..=1.0).contains(&t.held_out_fraction) {
            return bad("held_out_fraction must be in [0, 1]".into());
        }
        let pos = [
            ("learning_rate", t.learning_rate),
            ("adam_epsilon", t.adam_epsilon),
            ("grad_clip", t.grad_clip),
            ("grad_norm_skip", t.grad_norm_skip),
        ];
        for (name, v) in pos {
            if !(v.is_finite() && v > 0.0) {
                return bad(format!("{name} must be a finite number > 0 (got {v})"));
            }
        }
        let unit = [
            ("decay_rate", t.decay_rate),
            ("adam_beta1", t.adam_beta1),
            ("adam_beta2", t.adam_beta2),
        ];
        for (name, v) in unit {
            if !(0.0..=1.0).contains(&v) {
                return bad(format!("{name} must be in [0, 1] (got {v})"));
            }
        }
        if !(t.min_learning_rate.is_finite() && t.min_learning_rate >= 0.0) {
            return bad("min_learning_rate must be a finite number >= 0".into());
        }
        if !(0..=24).contains(&t.transpose) {
            return bad(format!("transpose must be in 0..=24 (got {})", t.transpose));
        }
        if !(0.0..=1.0).contains(&t.recombine) {
            return bad(format!("recombine must be in [0, 1], got {}", t.recombine));
        }
        if !(0.0..0.5).contains(&t.drop_hits) {
            return bad(format!(
                "drop_hits must be in [0, 0.5), got {}",
                t.drop_hits
            ));
        }
        for (name, on) in [
            ("recombine", t.recombine > 0.0),
            ("drop_hits", t.drop_hits > 0.0),
        ] {
            if on && self.model.data.kind != DataKind::Drums {
                return bad(format!(
                    "{name} is a drum augmentation; this is a {} model",
                    self.model.data.kind.name()
                ));
            }
        }
        if t.rotate_bars && self.model.data.kind != DataKind::Drums {
            return bad(format!(
                "rotate_bars is a drum augmentation; this is a {} model (melodies transpose: train.transpose)",
                self.model.data.kind.name()
            ));
        }
        Ok(())
    }

    pub fn kind(&self) -> DataKind {
        self.model.data.kind
    }
}

impl ModelConfig {
    /// Check the architecture, the data window and the loss settings (see [`Config::validate`]).
    /// What differs between the weights' shapes and data of `self` and `other` (layer sizes,
    /// z, hierarchy, data representation and window length); empty when weights of one fit the other.
    pub fn architecture_differences(&self, other: &ModelConfig) -> Vec<String> {
        let describe = |c: &ModelConfig| {
            [
                c.z_size.to_string(),
                format!("{:?}", c.enc_rnn_size),
                format!("{:?}", c.dec_rnn_size),
                format!("{:?}", c.hierarchical),
                format!("{} {}-bar", c.data.kind.name(), c.data.slice_bars),
            ]
        };
        let names = [
            "z_size",
            "enc_rnn_size",
            "dec_rnn_size",
            "hierarchical",
            "data",
        ];
        let d: Vec<String> = names
            .iter()
            .zip(describe(self).into_iter().zip(describe(other)))
            .filter(|(_, (a, b))| a != b)
            .map(|(name, (a, b))| format!("{name} {a} vs {b}"))
            .collect();
        d
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |s: String| Err(Error::Invalid(s));
        if self.z_size == 0 || self.z_size > MAX_Z {
            return bad(format!(
                "z_size must be in 1..={MAX_Z} (got {})",
                self.z_size
            ));
        }
        for (name, sizes) in [
            ("enc_rnn_size", &self.enc_rnn_size),
            ("dec_rnn_size", &self.dec_rnn_size),
        ] {
            if sizes.is_empty() || sizes.len() > MAX_LAYERS {
                return bad(format!(
                    "{name} must list 1..={MAX_LAYERS} layer sizes (got {})",
                    sizes.len()
                ));
            }
            if let Some(s) = sizes.iter().find(|&&s| s == 0 || s > MAX_LAYER) {
                return bad(format!(
                    "{name}: layer sizes must be in 1..={MAX_LAYER} (got {s})"
                ));
            }
        }
        let d = &self.data;
        if d.slice_bars == 0 || d.slice_bars > MAX_BARS {
            return bad(format!(
                "data.slice_bars must be in 1..={MAX_BARS} (got {})",
                d.slice_bars
            ));
        }
        if !(d.gap_bars.is_finite() && d.gap_bars >= 0.0) {
            return bad("data.gap_bars must be a finite number >= 0".into());
        }
        if let Some([bars, steps]) = self.hierarchical {
            if bars.checked_mul(steps) != Some(d.steps()) {
                return bad(format!(
                    "hierarchical [{bars}, {steps}] does not cover the {} steps of a {}-bar window",
                    d.steps(),
                    d.slice_bars
                ));
            }
        }
        let finite = [
            ("forget_bias", self.forget_bias),
            ("free_bits", self.free_bits),
            ("max_beta", self.max_beta),
        ];
        for (name, v) in finite {
            if !v.is_finite() || (name != "forget_bias" && v < 0.0) {
                return bad(format!(
                    "{name} must be a finite number{} (got {v})",
                    if name == "forget_bias" { "" } else { " >= 0" }
                ));
            }
        }
        if !(0.0..=1.0).contains(&self.beta_rate) {
            return bad(format!(
                "beta_rate must be in [0, 1] (got {})",
                self.beta_rate
            ));
        }
        let keep = self.dropout_keep_prob;
        if !(keep > 0.0 && keep <= 1.0) {
            return bad(format!(
                "dropout_keep_prob must be in (0, 1] (got {keep}; 1 = no dropout)"
            ));
        }
        if let Some(s) = self.neighbourhood_sigma {
            if !(s.is_finite() && s > 0.0 && s <= 100.0) {
                return bad(format!(
                    "neighbourhood_sigma must be in (0, 100] or null (the posterior's σ), got {s}"
                ));
            }
        }
        if keep < 1.0 && self.hierarchical.is_some() {
            return bad(format!(
                "dropout_keep_prob {keep}: dropout is implemented for flat decoders only; use 1 with a hierarchical decoder"
            ));
        }
        let rate_ok = match self.sampling {
            SamplingSchedule::None => true,
            SamplingSchedule::Constant(p) | SamplingSchedule::Exponential(p) => {
                (0.0..=1.0).contains(&p)
            }
            SamplingSchedule::InverseSigmoid(k) => k.is_finite() && k > 0.0,
        };
        if !rate_ok {
            return bad(
                "sampling rate out of range (constant/exponential: [0, 1]; inverse_sigmoid: > 0)"
                    .into(),
            );
        }
        let n = self.num_params();
        if n > MAX_PARAMS {
            return bad(format!(
                "the model would have {n} weights, more than the limit of {MAX_PARAMS}"
            ));
        }
        Ok(())
    }

    /// Number of weights [`MusicVae::new`](super::MusicVae::new) allocates for this config, computed
    /// without allocating (saturating; compared with `model.mpk` before the model is built).
    pub fn num_params(&self) -> u128 {
        use super::batch::input_width;
        let (add, mul) = (u128::saturating_add, u128::saturating_mul);
        let u = |x: usize| x as u128;
        // One fused cell: w_ih [d, 4H], w_hh [H, 4H], bias [4H].
        let cell = |d: u128, h: u128| mul(mul(4, h), add(add(d, h), 1));
        let dense = |i: u128, o: u128| add(mul(i, o), o);
        let stacked = |d0: u128, sizes: &[usize]| {
            let (mut d, mut n) = (d0, 0u128);
            for &h in sizes {
                n = add(n, cell(d, u(h)));
                d = u(h);
            }
            n
        };
        let sizes = &self.dec_rnn_size;
        let state_width: u128 = sizes.iter().map(|&h| 2 * u(h)).fold(0, add);
        let top = u(sizes.last().copied().unwrap_or(0));
        let core = |in_w: u128, cond: u128, out: u128| {
            add(
                add(stacked(add(in_w, cond), sizes), dense(cond, state_width)),
                dense(top, out),
            )
        };
        let w = u(input_width(self.data.kind));
        let z = u(self.z_size);
        let (mut d, mut n) = (w, 0u128);
        for &h in &self.enc_rnn_size {
            n = add(n, mul(2, cell(d, u(h))));
            d = 2 * u(h);
        }
        let summary = 2 * u(self.enc_rnn_size.last().copied().unwrap_or(0));
        n = add(n, mul(2, dense(summary, z)));
        let depths = self.data.kind.track_depths();
        match self.hierarchical {
            // The decoder is fed one-hot tokens (Σ depths wide), whatever the encoder reads.
            None => add(n, core(u(depths.iter().sum()), z, u(depths.iter().sum()))),
            Some(_) => {
                let conductor = add(stacked(1, sizes), dense(z, state_width));
                let cores = depths
                    .iter()
                    .map(|&dep| core(u(dep), top, u(dep)))
                    .fold(0, add);
                add(add(n, conductor), cores)
            }
        }
    }

    /// Fit the schedules to a run of a known length (short CPU runs): β = (1 − r^step)·max_beta
    /// reaches 99 % of `max_beta` at step `k` (r = 0.01^(1/k)), and the scheduled-sampling ramp
    /// is compressed by the same factor as β's against the preset: an exponential schedule's rate
    /// r becomes r^(1/s); an inverse-sigmoid schedule's k becomes the k' whose midpoint
    /// k'·ln k' is s times the preset's (s = k / the step where the preset's β reaches 99 %).
    /// A preset whose β is constant (rate 0) keeps its β and scales the sampling ramp by
    /// k / 100 000. The result is recorded in `anneal_steps`.
    pub fn fit_anneal(&mut self, k: u64) -> Result<()> {
        if k == 0 || k > 100_000_000 {
            return Err(Error::Invalid(format!(
                "--anneal-steps must be between 1 and 100000000, got {k}"
            )));
        }
        let preset_k = if self.beta_rate > 0.0 && self.beta_rate < 1.0 {
            0.01f64.ln() / self.beta_rate.ln()
        } else {
            100_000.0
        };
        let s = k as f64 / preset_k;
        if self.beta_rate > 0.0 && self.beta_rate < 1.0 {
            self.beta_rate = 0.01f64.powf(1.0 / k as f64);
        }
        self.sampling = match self.sampling {
            SamplingSchedule::Exponential(r) => SamplingSchedule::Exponential(r.powf(1.0 / s)),
            SamplingSchedule::InverseSigmoid(c) => {
                SamplingSchedule::InverseSigmoid(inverse_sigmoid_k(s * c * c.ln()))
            }
            ref other => other.clone(),
        };
        self.anneal_steps = Some(k);
        Ok(())
    }

    /// β at `step`.
    pub fn beta(&self, step: u64) -> f64 {
        (1.0 - self.beta_rate.powf(step as f64)) * self.max_beta
    }
    /// Free nats = free_bits · ln 2.
    pub fn free_nats(&self) -> f64 {
        self.free_bits * std::f64::consts::LN_2
    }
}

/// The inverse-sigmoid constant k (≥ 1.5) whose midpoint k·ln k is `midpoint` steps (bisection).
fn inverse_sigmoid_k(midpoint: f64) -> f64 {
    let (mut lo, mut hi) = (1.5f64, 1e9f64);
    if midpoint <= lo * lo.ln() {
        return lo;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid * mid.ln() < midpoint {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

impl TrainConfig {
    /// lr = (lr0 − lr_min) · decay^step + lr_min.
    pub fn learning_rate_at(&self, step: u64) -> f64 {
        (self.learning_rate - self.min_learning_rate) * self.decay_rate.powf(step as f64)
            + self.min_learning_rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anneal_fitted_to_a_budget() {
        let mut m = Config::preset("cat-mel_2bar_small").unwrap().model;
        // Magenta: β reaches 99 % of 0.2 after ln 0.01 / ln 0.99999 ≈ 460 515 steps.
        assert!((m.beta(460_515) / m.max_beta - 0.99).abs() < 1e-4);
        let mid = |m: &ModelConfig| (0..2_000_000u64).find(|&s| m.sampling.probability(s) >= 0.5);
        let before = mid(&m).unwrap();
        m.fit_anneal(4000).unwrap();
        assert_eq!(m.anneal_steps, Some(4000));
        assert!((m.beta(4000) / m.max_beta - 0.99).abs() < 1e-9);
        assert!(m.beta(2000) > 0.8 * m.max_beta);
        // The sampling ramp's midpoint moved by the same factor (4000 / 460 515).
        let after = mid(&m).unwrap() as f64;
        let want = before as f64 * 4000.0 / 460_515.2;
        assert!(
            (after - want).abs() <= 0.02 * want + 2.0,
            "{after} vs {want}"
        );
        assert!(m.fit_anneal(0).is_err());
        // Saved and read back.
        let json = serde_json::to_string(&m).unwrap();
        let back: ModelConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
        // Old configs without the field still load.
        let plain = Config::preset("tiny").unwrap().model;
        let json = serde_json::to_string(&plain).unwrap();
        assert!(!json.contains("anneal_steps"));
    }

    #[test]
    fn schedules_hand_computed() {
        let m = Config::preset("cat-mel_2bar_small").unwrap().model;
        assert_eq!(m.beta(0), 0.0);
        // (1 − 0.99999^10000) · 0.2 = 0.2 · (1 − e^{10000·ln 0.99999}) = 0.019032…
        assert!((m.beta(10_000) - 0.2 * (1.0 - 0.99999f64.powi(10_000))).abs() < 1e-12);
        assert!((m.beta(10_000) - 0.019_032_6).abs() < 1e-6);
        let h = Config::preset("hierdec-mel_16bar").unwrap().model;
        assert_eq!(h.beta(0), 0.0);
        assert_eq!(h.beta(1), 0.2);
        // 256 bits = 177.445 nats.
        assert!((h.free_nats() - 177.445_678).abs() < 1e-5);
        let t = Config::preset("cat-mel_2bar_small").unwrap().train;
        assert!((t.learning_rate_at(0) - 1e-3).abs() < 1e-15);
        // (1e-3 − 1e-5) · 0.9999^10000 + 1e-5 = 3.7421e-4
        assert!((t.learning_rate_at(10_000) - 3.7421e-4).abs() < 1e-7);
        let s = SamplingSchedule::InverseSigmoid(1000.0);
        assert!((s.probability(0) - (1.0 - 1000.0 / 1001.0)).abs() < 1e-12);
        assert!((s.probability(6908) - 0.5).abs() < 1e-3);
        assert!((s.probability(10_000) - 0.9567).abs() < 1e-3);
        assert_eq!(s.probability(1_000_000), 1.0);
    }

    #[test]
    fn param_count_matches_the_built_model() {
        use burn::module::Module;
        type B = burn::backend::NdArray<f32>;
        let dev = Default::default();
        for (preset, sets) in [
            ("tiny", vec![]),
            ("tiny-hier", vec![]),
            ("tiny", vec!["dec_rnn_size=[8,12]", "enc_rnn_size=[6,10]"]),
            (
                "cat-drums_2bar_small",
                vec!["z_size=8", "enc_rnn_size=[8]", "dec_rnn_size=[8,8]"],
            ),
            (
                "hierdec-trio_16bar",
                vec!["z_size=4", "enc_rnn_size=[4,6]", "dec_rnn_size=[6,4]"],
            ),
        ] {
            let mut c = Config::preset(preset).unwrap();
            c.apply_overrides(&sets.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap();
            let m = crate::model::MusicVae::<B>::new(&c.model, 0, &dev);
            assert_eq!(
                c.model.num_params(),
                m.num_params() as u128,
                "{preset} {sets:?}"
            );
        }
        for p in PRESETS {
            assert!(Config::preset(p.name).unwrap().model.num_params() < MAX_PARAMS);
        }
    }

    #[test]
    fn absurd_values_rejected() {
        for set in [
            "z_size=1000000000",
            "enc_rnn_size=[1000000000]",
            "dec_rnn_size=[8,8,8,8,8,8,8,8,8]",
            "dec_rnn_size=[8192,8192,8192,8192,8192,8192,8192,8192]",
            "model.data.slice_bars=0",
            "learning_rate=-1",
            "adam_epsilon=0",
            "beta_rate=2",
            "batch_size=0",
            "transpose=-3",
            "dropout_keep_prob=0",
            "dropout_keep_prob=1.5",
            "neighbourhood_sigma=0",
            "neighbourhood_sigma=-0.5",
            "rotate_bars=true",
            "drop_hits=0.1",
        ] {
            let mut c = Config::preset("tiny").unwrap();
            assert!(c.apply_overrides(&[set.to_string()]).is_err(), "{set}");
        }
    }

    #[test]
    fn presets_valid_and_overrides() {
        for p in PRESETS {
            Config::preset(p.name).unwrap().validate().unwrap();
        }
        let mut c = Config::preset("tiny").unwrap();
        c.apply_overrides(&[
            "z_size=4".into(),
            "train.batch_size=8".into(),
            "dec_rnn_size=[8,8]".into(),
        ])
        .unwrap();
        assert_eq!(c.model.z_size, 4);
        assert_eq!(c.train.batch_size, 8);
        assert_eq!(c.model.dec_rnn_size, vec![8, 8]);
        assert!(c.apply_overrides(&["nope=1".into()]).is_err());
        assert!(Config::preset("nope").is_err());
        // A nested field without its `model.` prefix is found too; unknown nested ones are not.
        let mut d = Config::preset("cat-drums_2bar_small").unwrap();
        d.apply_overrides(&["sampling.rate=500".into()]).unwrap();
        assert_eq!(d.model.sampling, SamplingSchedule::InverseSigmoid(500.0));
        d.apply_overrides(&["model.sampling.rate=250".into()])
            .unwrap();
        assert_eq!(d.model.sampling, SamplingSchedule::InverseSigmoid(250.0));
        for bad in ["sampling.nope=1", "nope.rate=1", "model.nope=1"] {
            let e = d.apply_overrides(&[bad.into()]).unwrap_err().to_string();
            assert!(e.contains("unknown config field"), "{bad}: {e}");
        }
        // The neighbourhood σ: unset (the posterior's) in every preset, settable, and back to
        // unset with null.
        let mut n = Config::preset("cat-drums_2bar_small").unwrap();
        assert_eq!(n.model.neighbourhood_sigma, None);
        n.apply_overrides(&["model.neighbourhood_sigma=0.6".into()])
            .unwrap();
        assert_eq!(n.model.neighbourhood_sigma, Some(0.6));
        n.apply_overrides(&["neighbourhood_sigma=null".into()])
            .unwrap();
        assert_eq!(n.model.neighbourhood_sigma, None);
        // Bar rotation: drums only, off in every preset and in configs saved before it existed.
        let mut d = Config::preset("cat-drums_2bar_small").unwrap();
        assert!(!d.train.rotate_bars);
        d.apply_overrides(&["train.rotate_bars=true".into()])
            .unwrap();
        assert!(d.train.rotate_bars);
        // Hit dropout: drums only, below one half, 0 in configs saved before it existed.
        d.apply_overrides(&["train.drop_hits=0.1".into()]).unwrap();
        assert_eq!(d.train.drop_hits, 0.1);
        assert!(d.apply_overrides(&["train.drop_hits=0.5".into()]).is_err());
        assert!(d.apply_overrides(&["train.drop_hits=-0.1".into()]).is_err());
        let mut v = serde_json::to_value(Config::preset("tiny").unwrap()).unwrap();
        v["train"].as_object_mut().unwrap().remove("rotate_bars");
        v["train"].as_object_mut().unwrap().remove("drop_hits");
        let old: Config = serde_json::from_value(v).unwrap();
        assert!(!old.train.rotate_bars);
        assert_eq!(old.train.drop_hits, 0.0);
    }

    #[test]
    fn dropout_keep_prob_defaults_to_one_and_is_flat_only() {
        // A config.json saved before the field existed keeps every input.
        let mut v = serde_json::to_value(Config::preset("tiny").unwrap()).unwrap();
        v["model"]
            .as_object_mut()
            .unwrap()
            .remove("dropout_keep_prob");
        let old: Config = serde_json::from_value(v).unwrap();
        assert_eq!(old.model.dropout_keep_prob, 1.0);
        let mut c = Config::preset("cat-drums_2bar_small").unwrap();
        c.apply_overrides(&["dropout_keep_prob=0.3".into()])
            .unwrap();
        assert_eq!(c.model.dropout_keep_prob, 0.3);
        let mut h = Config::preset("tiny-hier").unwrap();
        let e = h
            .apply_overrides(&["dropout_keep_prob=0.5".into()])
            .unwrap_err();
        assert!(e.to_string().contains("flat decoders only"), "{e}");
    }
}
