//! `--data`: a folder of MIDI files (read and split by file now) or a cache from `musicvae prepare`.

use super::progress::bar;
use anyhow::{bail, Result};
use musicvae::data::cache::Cache;
use musicvae::data::prepare::{prepare_dir, SplitConfig};
use musicvae::model::Config;
use std::path::Path;

/// Windows for `config`'s converter, split by file with the config's split seed and fraction
/// (a cache keeps the split it was prepared with).
pub fn load_data(data: &Path, config: &Config) -> Result<Cache> {
    let want = &config.model.data;
    if data.join("cache.json").is_file() {
        let c = Cache::load(data)?;
        if c.meta.converter.kind != want.kind || c.meta.converter.slice_bars != want.slice_bars {
            bail!(
                "{}: this cache holds {}-bar {} windows but model {} needs {}-bar {}; run `musicvae prepare` with --config {}",
                data.display(),
                c.meta.converter.slice_bars,
                c.meta.converter.kind.name(),
                config.model.name,
                want.slice_bars,
                want.kind.name(),
                config.model.name
            );
        }
        return Ok(c);
    }
    let pb = bar(0, "reading MIDI");
    let split = SplitConfig {
        seed: config.train.split_seed,
        held_out_fraction: config.train.held_out_fraction,
    };
    let c = prepare_dir(data, want, split, &|d, t| {
        pb.set_length(t as u64);
        pb.set_position(d as u64);
    })?;
    pb.finish_and_clear();
    Ok(c)
}
