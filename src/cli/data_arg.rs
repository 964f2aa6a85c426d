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

/// The μ and the σ of a list of windows, in order.
pub type Codes = (Vec<Vec<f32>>, Vec<Vec<f32>>);

/// μ and σ of `cache.windows[i]` for every `i` in `idx`, encoded 256 at a time behind a progress
/// bar.
pub fn encode_windows<B: burn::tensor::backend::Backend>(
    vae: &musicvae::generate::Vae<B>,
    cache: &Cache,
    idx: &[usize],
) -> Result<Codes> {
    let pb = bar(idx.len() as u64, "encode");
    let (mut mus, mut sigmas) = (Vec::with_capacity(idx.len()), Vec::with_capacity(idx.len()));
    for chunk in idx.chunks(256) {
        let ws: Vec<_> = chunk.iter().map(|&w| cache.windows[w].clone()).collect();
        for l in vae.encode(&ws)? {
            mus.push(l.mu);
            sigmas.push(l.sigma);
        }
        pb.inc(chunk.len() as u64);
    }
    pb.finish_and_clear();
    Ok((mus, sigmas))
}
