//! Classifier settings, saved as `config.json` beside the weights together with the label list.
//!
//! Defaults (seed 7, split seed 42, 10 % of each label's files held out) are chosen for a CPU:
//! see [`ClassifierConfig::new`]; a drum-style classifier starts from
//! [`ClassifierConfig::new_drums`].
//!
//! `kind` (melody or drums) and `min_rows` came later than the first saved classifiers: a
//! `config.json` without them reads as a melody classifier whose row axis is halved while it has
//! more than one row, which is exactly how those classifiers were built.

use crate::data::converter::DataKind;
use crate::error::{Error, Result};
use crate::io_util::write_atomic;
use crate::music::drums::DRUM_CLASSES;
use crate::music::melody::{MAX_PITCH, MIN_PITCH};
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const CONFIG_VERSION: u32 = 1;

/// The network family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Arch {
    #[serde(rename = "mobilenetv3-small")]
    MobileNetV3Small,
    #[serde(rename = "mobilenetv3-large")]
    MobileNetV3Large,
    #[serde(rename = "resnet")]
    ResNet,
}

/// How stride-2 layers downsample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reduction {
    /// The paper's strided convolutions.
    Strided,
    /// ENAS factorized reduction in place of strided downsampling (see `factorized_reduction`).
    Factorized,
}

/// Every accepted `--arch` value.
pub const ARCH_NAMES: [&str; 6] = [
    "mobilenetv3-small",
    "mobilenetv3-large",
    "resnet",
    "mobilenetv3-small-fr",
    "mobilenetv3-large-fr",
    "resnet-fr",
];

impl Arch {
    /// Parse an `--arch` value; a `-fr` suffix selects the factorized reduction.
    pub fn parse(s: &str) -> Result<(Arch, Reduction)> {
        let s = s.trim().to_ascii_lowercase();
        let (base, red) = match s.strip_suffix("-fr") {
            Some(b) => (b.to_string(), Reduction::Factorized),
            None => (s.clone(), Reduction::Strided),
        };
        let arch = match base.as_str() {
            "mobilenetv3-small" | "mobilenet-v3-small" | "small" => Arch::MobileNetV3Small,
            "mobilenetv3-large" | "mobilenet-v3-large" | "large" => Arch::MobileNetV3Large,
            "resnet" | "resnet18" | "resnet-18" => Arch::ResNet,
            _ => {
                return Err(Error::Invalid(format!(
                    "unknown --arch '{s}': use one of {}",
                    ARCH_NAMES.join(", ")
                )))
            }
        };
        Ok((arch, red))
    }

    pub fn name(self) -> &'static str {
        match self {
            Arch::MobileNetV3Small => "mobilenetv3-small",
            Arch::MobileNetV3Large => "mobilenetv3-large",
            Arch::ResNet => "resnet",
        }
    }
}

/// Most labels a classifier config may list (its output layer is sized from them).
pub const MAX_LABELS: usize = 1000;

fn melody_kind() -> DataKind {
    DataKind::Melody
}

fn one_row() -> usize {
    1
}

/// Everything that defines a classifier and its training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifierConfig {
    pub version: u32,
    /// The windows it reads: melody (one 90-class track, the default of configs saved before
    /// drums existed) or drums (one 512-way drum track). Trio is not supported.
    #[serde(default = "melody_kind")]
    pub kind: DataKind,
    pub arch: Arch,
    pub reduction: Reduction,
    /// Width multiplier α (channels → make_divisible(c·α, 8)).
    pub width: f64,
    /// Window length in 4/4 bars (16 steps each): 2 matches the 2-bar VAE, 16 the hierarchical one.
    pub bars: usize,
    /// Pitch rows of the roll, inclusive (default the 88 piano keys 21..=108 of the melody tokens).
    /// Melody only: a drum roll always has the 9 drum classes as rows (these are then unused).
    pub pitch_min: u8,
    pub pitch_max: u8,
    /// Add a second channel with note onsets (held vs repeated notes differ). Melody only: a drum
    /// roll has one channel (hits), so this must be false for drums.
    pub onset_channel: bool,
    /// Stride-2 layers stop halving the time axis below this many steps.
    pub min_time: usize,
    /// Stride-2 layers stop halving the row (pitch / drum class) axis below this many rows
    /// (1 = halve while more than one row, the melody behaviour; drums keep 4: 9 → 5 rows once,
    /// then no more vertical strides, so the kit's layout is not pooled away to one row).
    #[serde(default = "one_row")]
    pub min_rows: usize,
    pub dropout: f64,
    pub bn_momentum: f64,
    pub bn_epsilon: f64,
    /// AdamW peak learning rate (linear warm-up, then cosine decay to 0).
    pub learning_rate: f64,
    pub weight_decay: f64,
    pub warmup_steps: usize,
    pub label_smoothing: f64,
    pub epochs: usize,
    /// Class-balanced batches per epoch (label uniform, then file, then window).
    pub steps_per_epoch: usize,
    pub batch_size: usize,
    /// Random transposition of each training window by up to ±k semitones (kept inside the roll).
    /// Melody only (0 for drums: drum classes do not transpose).
    pub transpose: u8,
    /// Drums: start each training window at a random bar of itself, the bars before it wrapping
    /// round to the end ([`crate::data::drum_augment`]). Off in configs saved before it
    /// existed.
    #[serde(default)]
    pub rotate_bars: bool,
    /// Drums: drop each hit of a training window with this probability (0 = off).
    #[serde(default)]
    pub drop_hits: f64,
    pub seed: u64,
    /// Seed and fraction of the stratified file-level split (per label).
    pub split_seed: u64,
    pub held_out_fraction: f64,
    /// Held-out windows evaluated per file each epoch (0 = all); the final evaluation uses all.
    pub eval_windows_per_file: usize,
    /// Class names in output order (filled in by training from the data folders).
    pub labels: Vec<String>,
}

impl ClassifierConfig {
    /// Defaults for an architecture and a window length (presets for 2, 4 and 16 bars).
    ///
    /// MobileNetV3: width 1.0, dropout 0.2, BN momentum 0.01 / ε 1e-3 (torchvision). ResNet: width
    /// 0.5 (stages 32/64/128/256), dropout 0.2, BN momentum 0.1 / ε 1e-5. AdamW lr 2e-3, weight decay
    /// 1e-4 (decoupled, ×lr), 200 warm-up steps, transposition ±5 (Magenta's melody augmentation),
    /// seed 7, split seed 42, 10 % held out per label.
    pub fn new(arch: Arch, reduction: Reduction, bars: usize) -> Self {
        let resnet = arch == Arch::ResNet;
        let (batch_size, steps_per_epoch, epochs) = match bars {
            0..=2 => (64, 250, 12),
            3..=4 => (64, 200, 12),
            5..=8 => (48, 150, 12),
            _ => (32, 150, 12),
        };
        ClassifierConfig {
            version: CONFIG_VERSION,
            kind: DataKind::Melody,
            arch,
            reduction,
            width: if resnet { 0.5 } else { 1.0 },
            bars,
            pitch_min: MIN_PITCH,
            pitch_max: MAX_PITCH,
            onset_channel: true,
            min_time: 4,
            min_rows: 1,
            dropout: 0.2,
            bn_momentum: if resnet { 0.1 } else { 0.01 },
            bn_epsilon: if resnet { 1e-5 } else { 1e-3 },
            learning_rate: 2e-3,
            weight_decay: 1e-4,
            warmup_steps: 200,
            label_smoothing: 0.0,
            epochs,
            steps_per_epoch,
            batch_size,
            transpose: 5,
            rotate_bars: false,
            drop_hits: 0.0,
            seed: 7,
            split_seed: 42,
            held_out_fraction: 0.1,
            eval_windows_per_file: 16,
            labels: Vec::new(),
        }
    }

    /// Defaults for a drum-style classifier: [`new`](Self::new)'s, with a one-channel roll of the
    /// 9 drum classes (hits), no transposition but bar rotation and 10 % hit dropout (see
    /// [`crate::data::drum_augment`]), at least 4 rows kept by the strides, and BatchNorm
    /// momentum 0.1 for every architecture: with MobileNetV3's 0.01, the running statistics of the
    /// sparse drum rolls lagged so far behind the weights that the Groove styles' held-out windows
    /// all went to one class (balanced accuracy 0.100 after 150 steps of batch 64, 0.127 after
    /// 300; with 0.1: 0.25, 0.32, 0.35 after 150, 300, 450 steps of batch 32).
    pub fn new_drums(arch: Arch, reduction: Reduction, bars: usize) -> Self {
        ClassifierConfig {
            kind: DataKind::Drums,
            onset_channel: false,
            transpose: 0,
            rotate_bars: true,
            drop_hits: 0.1,
            min_rows: 4,
            bn_momentum: 0.1,
            ..Self::new(arch, reduction, bars)
        }
    }

    /// [`new`](Self::new) or [`new_drums`](Self::new_drums) by kind (trio gets the melody
    /// defaults and is refused by [`validate`](Self::validate)).
    pub fn new_for(kind: DataKind, arch: Arch, reduction: Reduction, bars: usize) -> Self {
        match kind {
            DataKind::Drums => Self::new_drums(arch, reduction, bars),
            _ => ClassifierConfig {
                kind,
                ..Self::new(arch, reduction, bars)
            },
        }
    }

    /// `mobilenetv3-small`, `resnet-fr`, …
    pub fn arch_name(&self) -> String {
        match self.reduction {
            Reduction::Strided => self.arch.name().to_string(),
            Reduction::Factorized => format!("{}-fr", self.arch.name()),
        }
    }

    pub fn steps(&self) -> usize {
        self.bars * crate::music::quantize::STEPS_PER_BAR as usize
    }
    /// Rows of the roll: the pitch range (melody) or the 9 drum classes (drums).
    pub fn pitches(&self) -> usize {
        match self.kind {
            DataKind::Drums => DRUM_CLASSES,
            _ => (self.pitch_max - self.pitch_min) as usize + 1,
        }
    }
    pub fn channels(&self) -> usize {
        if self.onset_channel && self.kind != DataKind::Drums {
            2
        } else {
            1
        }
    }
    /// Input shape of one example: `[channels, rows, steps]`.
    pub fn input_shape(&self) -> [usize; 3] {
        [self.channels(), self.pitches(), self.steps()]
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Invalid(m));
        match self.kind {
            DataKind::Melody => {
                if self.rotate_bars || self.drop_hits != 0.0 {
                    return bad("bar rotation and hit dropout are drum augmentations: rotate_bars must be false and drop_hits 0 for a melody classifier".into());
                }
            }
            DataKind::Drums => {
                if self.onset_channel {
                    return bad("a drum roll has one channel (hits): onset_channel must be false for a drums classifier".into());
                }
                if self.transpose != 0 {
                    return bad(format!(
                        "drum classes do not transpose: transpose must be 0 for a drums classifier, got {}",
                        self.transpose
                    ));
                }
            }
            DataKind::Trio => {
                return bad("the classifier reads melody or drum windows, not trio".into());
            }
        }
        if self.bars == 0 || self.bars > 64 {
            return bad(format!("bars must be in 1..=64, got {}", self.bars));
        }
        if self.pitch_min > self.pitch_max || self.pitch_max > 127 {
            return bad(format!(
                "pitch range {}..={} is empty or beyond MIDI 127",
                self.pitch_min, self.pitch_max
            ));
        }
        if !(self.width > 0.0 && self.width <= 4.0) {
            return bad(format!(
                "width multiplier must be in (0, 4], got {}",
                self.width
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return bad(format!("dropout must be in [0, 1), got {}", self.dropout));
        }
        if !(self.bn_momentum > 0.0 && self.bn_momentum <= 1.0) {
            return bad(format!(
                "BN momentum must be in (0, 1], got {}",
                self.bn_momentum
            ));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return bad(format!(
                "learning rate must be > 0, got {}",
                self.learning_rate
            ));
        }
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return bad(format!(
                "label smoothing must be in [0, 1), got {}",
                self.label_smoothing
            ));
        }
        if !(0.0..1.0).contains(&self.drop_hits) {
            return bad(format!(
                "drop_hits must be in [0, 1), got {}",
                self.drop_hits
            ));
        }
        if self.batch_size < 2 {
            return bad("batch size must be at least 2 (BatchNorm needs a batch)".into());
        }
        if self.epochs == 0 || self.steps_per_epoch == 0 {
            return bad("epochs and steps per epoch must be at least 1".into());
        }
        if !(0.0..1.0).contains(&self.held_out_fraction) {
            return bad(format!(
                "held-out fraction must be in [0, 1), got {}",
                self.held_out_fraction
            ));
        }
        if self.min_time == 0 {
            return bad("min_time must be at least 1".into());
        }
        if self.min_rows == 0 {
            return bad("min_rows must be at least 1".into());
        }
        Ok(())
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::Invalid(format!("cannot serialise the classifier config: {e}")))?;
        write_atomic(path, &json)
    }

    pub fn load(path: &Path) -> Result<Self> {
        let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let c: ClassifierConfig = serde_json::from_slice(&raw).map_err(|e| Error::Json {
            path: path.to_path_buf(),
            reason: format!("not a musicvae classifier config: {e}"),
        })?;
        if c.version != CONFIG_VERSION {
            return Err(Error::bad_input(
                path,
                format!(
                    "classifier config version {} (expected {CONFIG_VERSION})",
                    c.version
                ),
            ));
        }
        c.validate()
            .map_err(|e| Error::bad_input(path, e.to_string()))?;
        if c.labels.len() < 2 || c.labels.len() > MAX_LABELS {
            return Err(Error::bad_input(
                path,
                format!(
                    "the config lists {} labels (accepted: 2..={MAX_LABELS})",
                    c.labels.len()
                ),
            ));
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_arch_names() {
        for n in ARCH_NAMES {
            let (a, r) = Arch::parse(n).unwrap();
            let mut c = ClassifierConfig::new(a, r, 2);
            c.labels = vec!["a".into(), "b".into()];
            assert_eq!(c.arch_name(), n);
        }
        assert!(Arch::parse("vgg").is_err());
    }

    #[test]
    fn presets_and_shapes() {
        let c = ClassifierConfig::new(Arch::MobileNetV3Small, Reduction::Strided, 2);
        assert_eq!(c.input_shape(), [2, 88, 32]);
        let c = ClassifierConfig::new(Arch::ResNet, Reduction::Strided, 16);
        assert_eq!(c.input_shape(), [2, 88, 256]);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn save_load_roundtrip() {
        let d = tempfile::tempdir().unwrap();
        let mut c = ClassifierConfig::new(Arch::ResNet, Reduction::Factorized, 4);
        c.labels = vec!["irish".into(), "chorale".into()];
        let p = d.path().join("config.json");
        c.save(&p).unwrap();
        assert_eq!(ClassifierConfig::load(&p).unwrap(), c);
        std::fs::write(&p, b"{}").unwrap();
        assert!(ClassifierConfig::load(&p).is_err());
    }

    #[test]
    fn drums_config_roundtrip_and_shape() {
        let d = tempfile::tempdir().unwrap();
        let mut c = ClassifierConfig::new_drums(Arch::MobileNetV3Small, Reduction::Strided, 2);
        c.labels = vec!["funk".into(), "rock".into()];
        assert_eq!(c.kind, DataKind::Drums);
        assert_eq!(c.input_shape(), [1, 9, 32]);
        assert_eq!(
            ClassifierConfig::new_for(
                DataKind::Drums,
                Arch::MobileNetV3Small,
                Reduction::Strided,
                2
            )
            .input_shape(),
            [1, 9, 32]
        );
        let p = d.path().join("config.json");
        c.save(&p).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains("\"kind\": \"drums\""), "{text}");
        assert_eq!(ClassifierConfig::load(&p).unwrap(), c);
        // Melody-only settings are refused for drums, and trio is refused.
        let onsets = ClassifierConfig {
            onset_channel: true,
            ..c.clone()
        };
        assert!(onsets
            .validate()
            .unwrap_err()
            .to_string()
            .contains("one channel"));
        let shifted = ClassifierConfig {
            transpose: 2,
            ..c.clone()
        };
        assert!(shifted
            .validate()
            .unwrap_err()
            .to_string()
            .contains("transpose"));
        let trio = ClassifierConfig {
            kind: DataKind::Trio,
            ..c
        };
        assert!(trio.validate().is_err());
    }

    /// A `config.json` saved before drums (no `kind`, no `min_rows`), as in models/genre-classifier:
    /// it loads as the melody classifier it was.
    #[test]
    fn a_config_without_kind_loads_as_melody() {
        let old = r#"{
  "version": 1, "arch": "mobilenetv3-small", "reduction": "strided", "width": 1.0, "bars": 2,
  "pitch_min": 21, "pitch_max": 108, "onset_channel": true, "min_time": 4, "dropout": 0.2,
  "bn_momentum": 0.01, "bn_epsilon": 0.001, "learning_rate": 0.002, "weight_decay": 0.0001,
  "warmup_steps": 200, "label_smoothing": 0.0, "epochs": 6, "steps_per_epoch": 400,
  "batch_size": 32, "transpose": 5, "seed": 7, "split_seed": 42, "held_out_fraction": 0.1,
  "eval_windows_per_file": 8, "labels": ["irish", "chorale"]
}"#;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("config.json");
        std::fs::write(&p, old).unwrap();
        let c = ClassifierConfig::load(&p).unwrap();
        assert_eq!(c.kind, DataKind::Melody);
        assert_eq!(c.min_rows, 1);
        assert_eq!(c.input_shape(), [2, 88, 32]);
        let mut want = ClassifierConfig::new(Arch::MobileNetV3Small, Reduction::Strided, 2);
        want.epochs = 6;
        want.steps_per_epoch = 400;
        want.batch_size = 32;
        want.eval_windows_per_file = 8;
        want.labels = vec!["irish".into(), "chorale".into()];
        assert_eq!(c, want);
        // The shipped classifiers' own files, when present.
        let models = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
        for name in ["genre-classifier", "genre-classifier-resnet"] {
            let p = models.join(name).join("config.json");
            if p.is_file() {
                let c = ClassifierConfig::load(&p).unwrap();
                assert_eq!((c.kind, c.min_rows), (DataKind::Melody, 1), "{name}");
            }
        }
    }
}
