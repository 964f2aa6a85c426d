//! Generation with a trained model: find it, take phrases out of MIDI files, encode, move through
//! latent space (slerp / linear), decode at a temperature, and write MIDI and pictures.

pub mod attribute_eval;
pub mod attributes;
pub mod dynamics;
pub mod grid;
pub mod inference;
pub mod input;
pub mod interpolation_check;
pub mod latent_file;
pub mod latent_prior;
pub mod output;
pub mod refine;
pub mod sample_quality;
pub mod slerp;

pub use inference::{neighbourhood_unit, token_accuracy, Latent, Vae};
pub use input::{pick, pick_window, PickedWindow, WindowChoice};
pub use refine::{RefineOptions, RefineReport};
pub use slerp::{path, slerp, Interpolation};
