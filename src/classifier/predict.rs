//! A trained classifier on disk (`model.mpk` + `config.json` with the labels) and prediction:
//! per-window genre (or drum style) probabilities and a whole-file distribution (softmax of the
//! mean log-probability over the file's windows). The windows are melodies or drums, as the
//! config's `kind` says ([`GenreClassifier::kind`]).

use super::config::ClassifierConfig;
use super::data::converter_for;
use super::eval::{aggregate, argmax, log_probs};
use super::model::ClassifierNet;
use super::pianoroll::RollSpec;
use crate::data::converter::{extract, DataKind, Window, WindowOrigin};
use crate::error::{Error, Result};
use crate::io_util::write_atomic;
use crate::model::record_check;
use crate::model::store::recorder;
use crate::music::note_sequence::NoteSequence;
use crate::music::read_midi_file;
use burn::module::Module;
use burn::record::Recorder;
use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const MODEL_FILE: &str = "model.mpk";
pub const CONFIG_FILE: &str = "config.json";

/// Write `model.mpk` and `config.json` (with the label list) into `dir`, each atomically.
pub fn save_classifier<B: Backend>(
    dir: &Path,
    net: &ClassifierNet<B>,
    cfg: &ClassifierConfig,
) -> Result<()> {
    let bytes = recorder()
        .record(net.clone().into_record(), ())
        .map_err(|e| Error::Invalid(format!("cannot serialise the classifier: {e}")))?;
    write_atomic(&dir.join(MODEL_FILE), &bytes)?;
    cfg.save(&dir.join(CONFIG_FILE))
}

/// Probabilities of one window.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WindowPrediction {
    pub origin: WindowOrigin,
    pub probs: Vec<f32>,
}

/// Per-window and whole-file probabilities of a MIDI file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FilePrediction {
    pub labels: Vec<String>,
    pub windows: Vec<WindowPrediction>,
    /// Softmax of the mean log-probability over the windows.
    pub file: Vec<f32>,
    pub predicted: String,
}

/// A loaded classifier, ready to predict (on an inner, non-autodiff backend).
#[derive(Debug)]
pub struct GenreClassifier<B: Backend> {
    net: ClassifierNet<B>,
    config: ClassifierConfig,
    spec: RollSpec,
    device: B::Device,
}

/// The classifier on the CPU backend.
pub type CpuGenreClassifier = GenreClassifier<burn::backend::NdArray<f32>>;

impl<B: Backend> GenreClassifier<B> {
    /// Load `dir/model.mpk` + `dir/config.json`.
    pub fn load(dir: &Path, device: &B::Device) -> Result<Self> {
        let (mp, cp) = (dir.join(MODEL_FILE), dir.join(CONFIG_FILE));
        if !mp.is_file() || !cp.is_file() {
            return Err(Error::bad_input(
                dir,
                format!("no classifier here (expected {MODEL_FILE} and {CONFIG_FILE}; train one with `musicvae train-classifier`)"),
            ));
        }
        let config = ClassifierConfig::load(&cp)?;
        let bytes = std::fs::read(&mp).map_err(|e| Error::io(&mp, e))?;
        // Check every tensor (byte length, names, shapes) before burn reads the record: burn does
        // not compare shapes, and a short buffer would be read past its end.
        let leaves = record_check::tensors(&bytes)
            .map_err(|e| Error::bad_input(&mp, format!("{e}; the file is damaged")))?;
        let fresh = ClassifierNet::<B>::new(&config, config.labels.len(), device);
        let expected = recorder()
            .record(fresh.clone().into_record(), ())
            .map_err(|e| Error::Invalid(format!("cannot serialise the classifier: {e}")))?;
        let expected = record_check::tensors(&expected).map_err(Error::Invalid)?;
        record_check::same_structure(&leaves, &expected).map_err(|e| {
            Error::bad_input(
                &mp,
                format!("{e}; its config.json does not describe these weights"),
            )
        })?;
        let record = recorder().load(bytes, device).map_err(|e| {
            Error::bad_input(
                &mp,
                format!("cannot read the weights ({e}); does config.json match them?"),
            )
        })?;
        let net = fresh.load_record(record);
        Ok(Self::from_parts(net, config, device))
    }

    /// Wrap a network (e.g. `trained.valid()`) and its config.
    pub fn from_parts(net: ClassifierNet<B>, config: ClassifierConfig, device: &B::Device) -> Self {
        GenreClassifier {
            spec: RollSpec::of(&config),
            net,
            config,
            device: device.clone(),
        }
    }

    pub fn config(&self) -> &ClassifierConfig {
        &self.config
    }
    pub fn net(&self) -> &ClassifierNet<B> {
        &self.net
    }
    /// Class names, in the order of every probability vector.
    pub fn labels(&self) -> &[String] {
        &self.config.labels
    }
    pub fn label_index(&self, name: &str) -> Option<usize> {
        self.config.labels.iter().position(|l| l == name)
    }
    /// The windows it reads: melody or drums.
    pub fn kind(&self) -> DataKind {
        self.config.kind
    }
    /// Steps a window must have (16 per bar).
    pub fn window_steps(&self) -> usize {
        self.config.steps()
    }

    fn check(&self, windows: &[Window]) -> Result<()> {
        let steps = self.window_steps();
        let kind = self.kind().name();
        // One track of melody tokens (90) or drum tokens (512).
        let depth = self.kind().track_depths().first().copied().unwrap_or(0);
        for (i, w) in windows.iter().enumerate() {
            let t = w
                .tracks
                .first()
                .ok_or_else(|| Error::Invalid(format!("window {i} has no {kind} track")))?;
            if t.len() != steps {
                return Err(Error::Invalid(format!(
                    "window {i} has {} steps; this classifier reads {}-bar windows ({steps} steps)",
                    t.len(),
                    self.config.bars
                )));
            }
            if let Some(&bad) = t.iter().find(|&&x| x as usize >= depth) {
                return Err(Error::Invalid(format!(
                    "window {i} holds token {bad}, not a {kind} token (0..{depth})"
                )));
            }
        }
        Ok(())
    }

    /// Natural-log probabilities `[windows][labels]` of melody or drum windows, as
    /// [`kind`](Self::kind) says (track 0 is read).
    pub fn log_probs_windows(&self, windows: &[Window]) -> Result<Vec<Vec<f32>>> {
        self.check(windows)?;
        let refs: Vec<&Window> = windows.iter().collect();
        Ok(log_probs(&self.net, &self.spec, &refs, &self.device))
    }

    /// Genre probabilities `[windows][labels]` of windows of the classifier's kind, exactly
    /// `window_steps()` steps long.
    pub fn predict_windows(&self, windows: &[Window]) -> Result<Vec<Vec<f32>>> {
        Ok(self
            .log_probs_windows(windows)?
            .into_iter()
            .map(|r| r.into_iter().map(f32::exp).collect())
            .collect())
    }

    /// Every window of the classifier's kind in a note sequence (deduplicated, as training saw
    /// them) and the whole-sequence distribution. No usable window → an error that says why.
    pub fn predict_sequence(&self, seq: &NoteSequence) -> Result<FilePrediction> {
        let ex = extract(seq, &converter_for(&self.config));
        if ex.windows.is_empty() {
            return Err(Error::Invalid(ex.why_none.unwrap_or_else(|| {
                format!("no {}-bar {} window", self.config.bars, self.kind().name())
            })));
        }
        let lp = self.log_probs_windows(&ex.windows)?;
        let file = aggregate(&lp);
        let predicted = self.config.labels[argmax(&file)].clone();
        Ok(FilePrediction {
            labels: self.config.labels.clone(),
            windows: ex
                .origins
                .into_iter()
                .zip(lp)
                .map(|(origin, r)| WindowPrediction {
                    origin,
                    probs: r.into_iter().map(f32::exp).collect(),
                })
                .collect(),
            file,
            predicted,
        })
    }

    /// [`predict_sequence`](Self::predict_sequence) of a MIDI file.
    pub fn predict_file(&self, path: &Path) -> Result<FilePrediction> {
        let seq = read_midi_file(path)?;
        self.predict_sequence(&seq)
            .map_err(|e| Error::bad_input(path, e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classifier::config::{Arch, Reduction};
    use burn::backend::NdArray;

    type B = NdArray<f32>;

    fn tiny(cfg: ClassifierConfig) -> GenreClassifier<B> {
        let dev = Default::default();
        let mut cfg = cfg;
        cfg.width = 0.35;
        cfg.labels = vec!["funk".into(), "rock".into(), "jazz".into()];
        let net = ClassifierNet::<B>::new(&cfg, 3, &dev);
        GenreClassifier::from_parts(net, cfg, &dev)
    }

    #[test]
    fn drum_windows_in_melody_windows_out() {
        let clf = tiny(ClassifierConfig::new_drums(
            Arch::MobileNetV3Small,
            Reduction::Strided,
            2,
        ));
        assert_eq!(clf.kind(), DataKind::Drums);
        // Drum tokens up to 511 are fine; a melody classifier refuses them.
        let w = Window {
            tracks: vec![(0..32).map(|i| (i * 37 % 512) as u16).collect()],
        };
        let p = clf.predict_windows(&[w.clone(), w.clone()]).unwrap();
        assert_eq!(p.len(), 2);
        assert!((p[0].iter().sum::<f32>() - 1.0).abs() < 1e-4);
        let bad = Window {
            tracks: vec![vec![512; 32]],
        };
        let e = clf.predict_windows(&[bad]).unwrap_err().to_string();
        assert!(e.contains("not a drums token (0..512)"), "{e}");
        let mel = tiny(ClassifierConfig::new(
            Arch::MobileNetV3Small,
            Reduction::Strided,
            2,
        ));
        let e = mel.predict_windows(&[w]).unwrap_err().to_string();
        assert!(e.contains("not a melody token (0..90)"), "{e}");
    }

    #[test]
    fn a_drum_file_is_classified_by_its_drum_windows() {
        let clf = tiny(ClassifierConfig::new_drums(
            Arch::ResNet,
            Reduction::Factorized,
            2,
        ));
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let f = root.join("midi_data_drums/funk/drummer7_session2_72_funk_100_beat_4-4.mid");
        let p = clf.predict_file(&f).unwrap();
        assert!(!p.windows.is_empty());
        assert_eq!(p.labels.len(), 3);
        assert!((p.file.iter().sum::<f32>() - 1.0).abs() < 1e-4);
        // A melody has no drums: the reason, not a panic.
        let tune = Window {
            tracks: vec![(0..32).map(|i| if i % 4 == 0 { 60 } else { 0 }).collect()],
        };
        let seq = crate::data::converter::window_to_sequence(DataKind::Melody, &tune, 120.0);
        assert!(!seq.notes.is_empty() && seq.notes.iter().all(|n| !n.is_drum));
        let e = clf.predict_sequence(&seq).unwrap_err().to_string();
        assert!(e.contains("drum"), "{e}");
    }
}
