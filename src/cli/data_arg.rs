//! `--data`: a folder of MIDI files (read and split by file now) or a cache from `musicvae prepare`
//! ([`musicvae::data::source`] decides which), with a progress bar while MIDI files are read.

use super::progress::bar;
use anyhow::Result;
use indicatif::ProgressBar;
use musicvae::data::cache::Cache;
use musicvae::data::prepare::SplitConfig;
use musicvae::data::source::{self, ReadProgress, Reader};
use musicvae::model::Config;
use std::path::Path;
use std::sync::OnceLock;

/// Windows for `config`'s converter, split by file with the config's split seed and fraction
/// (a cache keeps the split it was prepared with).
pub fn load_data(data: &Path, config: &Config) -> Result<Cache> {
    let split = SplitConfig {
        seed: config.train.split_seed,
        held_out_fraction: config.train.held_out_fraction,
    };
    let reader = Reader::Model(config.model.name.clone());
    let progress = MidiBar(OnceLock::new());
    Ok(source::load(
        data,
        &config.model.data,
        split,
        &reader,
        &progress,
    )?)
}

/// The "reading MIDI" bar, made when a MIDI folder starts being read.
struct MidiBar(OnceLock<ProgressBar>);

impl ReadProgress for MidiBar {
    fn start(&self) {
        self.0.get_or_init(|| bar(0, "reading MIDI"));
    }
    fn files(&self, done: usize, total: usize) {
        if let Some(pb) = self.0.get() {
            pb.set_length(total as u64);
            pb.set_position(done as u64);
        }
    }
    fn finish(&self) {
        if let Some(pb) = self.0.get() {
            pb.finish_and_clear();
        }
    }
}
