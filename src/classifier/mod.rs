//! Genre classifier over melody piano rolls, and drum-style classifier over drum rolls:
//! MobileNetV3-Small/-Large (squeeze-and-excitation, h-swish) per the paper's tables, a ResNet of
//! basic blocks, and the ENAS factorized reduction in place of strided downsampling
//! (`--arch …-fr`).
//!
//! The input is a window exactly as the VAE reads and writes it, so the classifier can judge
//! phrases decoded by the VAE: a melody (90-class tokens, one track) rendered as a binary piano
//! roll `[channels, 88 pitches, 16·bars steps]`, or drums (512-way tokens, one track) rendered as
//! `[1, 9 drum classes, 16·bars steps]` (see [`pianoroll`]). The config's `kind` says which.
//!
//! Other code calls [`GenreClassifier`]: `load(dir, device)`, `labels()`, `window_steps()`,
//! `predict_windows(&[Window])` (probabilities per window), `log_probs_windows`, `predict_file(path)`
//! and [`aggregate`] (file-level distribution from window log-probabilities).

pub mod activation;
pub mod config;
pub mod conv_bn;
pub mod conv_ops;
pub mod data;
pub mod eval;
pub mod factorized_reduction;
pub mod inverted_residual;
pub mod mobilenetv3;
pub mod model;
pub mod pianoroll;
pub mod predict;
pub mod resnet;
pub mod squeeze_excite;
pub mod train;
pub mod width;

pub use config::{Arch, ClassifierConfig, Reduction};
pub use data::ClassifierData;
pub use eval::{aggregate, Evaluation};
pub use model::ClassifierNet;
pub use predict::{CpuGenreClassifier, FilePrediction, GenreClassifier, WindowPrediction};
pub use train::{train_classifier, ClassifierObserver, TrainOutcome};
