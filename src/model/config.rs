//! Model and training hyper-parameters. Every value lives here, is saved as `config.json` beside the
//! weights, and named presets mirror Magenta's `configs.py` (numbers checked against its source,
//! see shared/magenta-facts.md §1).

use crate::data::converter::{ConverterConfig, DataKind};
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
    pub steps: u64,
    pub eval_every: u64,
    pub checkpoint_every: u64,
    /// Held-out windows used per evaluation (0 = all).
    pub eval_windows: usize,
    pub seed: u64,
    pub split_seed: u64,
    pub held_out_fraction: f64,
}

/// Everything saved beside the weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    pub model: ModelConfig,
    pub train: TrainConfig,
}

/// Names of the presets.
pub const PRESETS: &[&str] = &[
    "cat-mel_2bar_small",
    "cat-mel_2bar_big",
    "hierdec-mel_16bar",
    "cat-drums_2bar_small",
    "hierdec-trio_16bar",
    "tiny",
    "tiny-hier",
];

impl TrainConfig {
    fn magenta(batch_size: usize, transpose: i32) -> Self {
        TrainConfig {
            batch_size,
            learning_rate: 1e-3,
            decay_rate: 0.9999,
            min_learning_rate: 1e-5,
            adam_beta1: 0.9,
            adam_beta2: 0.999,
            // tf.train.AdamOptimizer's default epsilon.
            adam_epsilon: 1e-8,
            grad_clip: 1.0,
            grad_norm_skip: 1e4,
            transpose,
            steps: 200_000,
            eval_every: 1000,
            checkpoint_every: 1000,
            eval_windows: 2048,
            seed: 1,
            split_seed: 42,
            held_out_fraction: 0.1,
        }
    }
}

impl Config {
    /// A named preset (Magenta's numbers), or an error listing the names.
    pub fn preset(name: &str) -> Result<Config> {
        let mel2 = ConverterConfig::melody(2, Some((0, 31)));
        let model = |name: &str,
                     data: ConverterConfig,
                     z,
                     enc: &[usize],
                     dec: &[usize],
                     hier,
                     fb,
                     beta,
                     rate,
                     sampling| ModelConfig {
            name: name.to_string(),
            data,
            z_size: z,
            enc_rnn_size: enc.to_vec(),
            dec_rnn_size: dec.to_vec(),
            hierarchical: hier,
            forget_bias: 1.0,
            free_bits: fb,
            max_beta: beta,
            beta_rate: rate,
            sampling,
        };
        let inv = SamplingSchedule::InverseSigmoid(1000.0);
        let cfg = match name {
            "cat-mel_2bar_small" => Config {
                model: model(
                    name,
                    mel2,
                    256,
                    &[512],
                    &[256, 256],
                    None,
                    0.0,
                    0.2,
                    0.99999,
                    inv,
                ),
                train: TrainConfig::magenta(512, 5),
            },
            "cat-mel_2bar_big" => Config {
                model: model(
                    name,
                    mel2,
                    512,
                    &[2048],
                    &[2048, 2048, 2048],
                    None,
                    0.0,
                    0.5,
                    0.99999,
                    inv,
                ),
                train: TrainConfig::magenta(512, 5),
            },
            "hierdec-mel_16bar" => Config {
                model: model(
                    name,
                    ConverterConfig::melody(16, None),
                    512,
                    &[2048, 2048],
                    &[1024, 1024],
                    Some([16, 16]),
                    256.0,
                    0.2,
                    0.0,
                    SamplingSchedule::None,
                ),
                train: TrainConfig::magenta(512, 0),
            },
            "cat-drums_2bar_small" => Config {
                model: model(
                    name,
                    ConverterConfig::drums(2),
                    256,
                    &[512],
                    &[256, 256],
                    None,
                    48.0,
                    0.2,
                    0.0,
                    inv,
                ),
                train: TrainConfig::magenta(512, 0),
            },
            "hierdec-trio_16bar" => Config {
                model: model(
                    name,
                    ConverterConfig::trio(16),
                    512,
                    &[2048, 2048],
                    &[1024, 1024],
                    Some([16, 16]),
                    256.0,
                    0.2,
                    0.0,
                    SamplingSchedule::None,
                ),
                train: TrainConfig::magenta(256, 0),
            },
            // Small presets for tests and CPU experiments (not Magenta configs).
            "tiny" => Config {
                model: model(
                    name,
                    mel2,
                    16,
                    &[128],
                    &[128],
                    None,
                    0.0,
                    0.05,
                    0.99999,
                    SamplingSchedule::None,
                ),
                train: TrainConfig {
                    batch_size: 16,
                    learning_rate: 1e-2,
                    min_learning_rate: 1e-3,
                    decay_rate: 0.999,
                    steps: 300,
                    eval_every: 100,
                    checkpoint_every: 100,
                    eval_windows: 256,
                    ..TrainConfig::magenta(16, 0)
                },
            },
            "tiny-hier" => Config {
                model: model(
                    name,
                    ConverterConfig::melody(4, Some((0, 31))),
                    16,
                    &[64],
                    &[128],
                    Some([4, 16]),
                    0.0,
                    0.05,
                    0.99999,
                    SamplingSchedule::None,
                ),
                train: Config::preset("tiny")?.train,
            },
            other => {
                return Err(Error::Invalid(format!(
                    "unknown config '{other}'; presets: {}",
                    PRESETS.join(", ")
                )))
            }
        };
        Ok(cfg)
    }

    /// Apply `key=value` overrides (dotted paths into the JSON form, e.g. `model.z_size=64`,
    /// `train.batch_size=32`, `model.dec_rnn_size=[128,128]`; a bare key is looked up in model then train).
    pub fn apply_overrides(&mut self, overrides: &[String]) -> Result<()> {
        let mut v = serde_json::to_value(&*self).map_err(|e| Error::Invalid(e.to_string()))?;
        for o in overrides {
            let (key, val) = o
                .split_once('=')
                .ok_or_else(|| Error::Invalid(format!("override '{o}' is not key=value")))?;
            let parsed: serde_json::Value = serde_json::from_str(val)
                .unwrap_or_else(|_| serde_json::Value::String(val.to_string()));
            let path: Vec<&str> = if key.contains('.') {
                key.split('.').collect()
            } else if v["model"].get(key).is_some() {
                vec!["model", key]
            } else if v["train"].get(key).is_some() {
                vec!["train", key]
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

    /// Check the values that would otherwise fail deep inside training.
    pub fn validate(&self) -> Result<()> {
        let m = &self.model;
        let bad = |s: String| Err(Error::Invalid(s));
        if m.z_size == 0 || m.enc_rnn_size.is_empty() || m.dec_rnn_size.is_empty() {
            return bad("z_size, enc_rnn_size and dec_rnn_size must be non-empty".into());
        }
        if m.enc_rnn_size.contains(&0) || m.dec_rnn_size.contains(&0) {
            return bad("layer sizes must be > 0".into());
        }
        if let Some([bars, steps]) = m.hierarchical {
            if bars * steps != m.data.steps() {
                return bad(format!(
                    "hierarchical [{bars}, {steps}] does not cover the {} steps of a {}-bar window",
                    m.data.steps(),
                    m.data.slice_bars
                ));
            }
        }
        if self.train.batch_size == 0 {
            return bad("batch_size must be > 0".into());
        }
        if !(0.0..=1.0).contains(&self.train.held_out_fraction) {
            return bad("held_out_fraction must be in [0, 1]".into());
        }
        Ok(())
    }

    pub fn kind(&self) -> DataKind {
        self.model.data.kind
    }
}

impl ModelConfig {
    /// β at `step`.
    pub fn beta(&self, step: u64) -> f64 {
        (1.0 - self.beta_rate.powf(step as f64)) * self.max_beta
    }
    /// Free nats = free_bits · ln 2.
    pub fn free_nats(&self) -> f64 {
        self.free_bits * std::f64::consts::LN_2
    }
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
    fn presets_valid_and_overrides() {
        for p in PRESETS {
            Config::preset(p).unwrap().validate().unwrap();
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
    }
}
