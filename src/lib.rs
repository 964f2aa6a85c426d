//! musicvae: MusicVAE (Roberts et al., ICML 2018) in Rust on burn.
//!
//! The folders follow the architecture: [`music`] (MIDI, note sequences, tokens), [`data`]
//! (converters, corpus, cache), [`model`], [`train`], [`generate`], [`audio`], [`classifier`];
//! the binary's command line lives in `cli/`. Every folder may use the bottom floor: [`rng`],
//! [`model_dir`], [`io_util`], [`error`].

pub mod audio;
pub mod bench;
pub mod classifier;
pub mod data;
pub mod error;
pub mod generate;
pub mod io_util;
pub mod model;
pub mod model_dir;
pub mod music;
pub mod plot;
pub mod rng;
pub mod train;

pub use error::{Error, Result};
