//! `--config` values. A preset is a typed clap value built from the preset table
//! ([`PRESETS`]), so `--help` lists every preset with its one-line description; `prepare` also
//! takes a named data converter ([`NAMED_CONVERTERS`]) and looks the name up itself.

use clap::builder::PossibleValue;
use clap::ValueEnum;
use musicvae::data::converter::{ConverterConfig, NAMED_CONVERTERS};
use musicvae::model::config::{converter_named, preset_names, Preset, PRESETS};
use musicvae::model::Config;
use std::sync::LazyLock;

/// A `--config` preset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PresetArg(pub &'static Preset);

impl PresetArg {
    /// The config the preset starts a run with.
    pub fn config(&self) -> Config {
        self.0.config()
    }
}

impl ValueEnum for PresetArg {
    fn value_variants<'a>() -> &'a [Self] {
        static ALL: LazyLock<Vec<PresetArg>> =
            LazyLock::new(|| PRESETS.iter().map(PresetArg).collect());
        &ALL
    }
    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.0.name).help(self.0.about))
    }
}

/// Names of the named data converters, comma-separated.
fn converter_names() -> String {
    NAMED_CONVERTERS
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `--help` of a `--config` that takes a preset or a data converter (`prepare`, `bench prepare`).
pub fn data_config_help() -> String {
    format!(
        "Model config (or its data part). Presets: {}; data converters, alone or prefixed cat- / hierdec- (e.g. cat-mel_2bar): {}",
        preset_names(),
        converter_names()
    )
}

/// The data converter of a preset or converter name, or an error naming both lists.
pub fn data_config(name: &str) -> anyhow::Result<ConverterConfig> {
    converter_named(name).ok_or_else(|| {
        anyhow::anyhow!(
            "unknown config '{name}': use a preset ({}) or a data converter ({}, optionally prefixed cat- or hierdec-)",
            preset_names(),
            converter_names()
        )
    })
}
