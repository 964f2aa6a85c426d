//! Command-line interface: argument parsing and one module per subcommand.

mod attributes;
mod average;
mod backend;
mod bench;
mod chain;
mod classifier_arg;
mod classify;
mod config_arg;
mod data_arg;
mod decode;
mod encode;
mod eval;
mod eval_attributes;
mod export;
mod fit_prior;
mod grid;
mod guard;
mod inspect;
mod inspect_windows;
mod interpolate;
mod morph;
mod output;
mod play;
mod prepare;
mod progress;
mod reconstruct;
mod refine_arg;
mod render;
mod sample;
mod train;
mod train_classifier;
mod variations;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Learn the space of short musical phrases from MIDI files, then sample, interpolate and morph.
///
/// Start with: musicvae interpolate A.mid B.mid --png --wav out.wav (uses the shipped models/mel_2bar).
///
/// MusicVAE (Roberts et al., ICML 2018) in Rust. Phrases are quantized to 16 steps per 4/4 bar and
/// tokenised like Magenta's converters (melody: 90 classes; drums: 512; trio: melody + bass + drums).
#[derive(Parser, Debug)]
#[command(name = "musicvae", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Morph one MIDI phrase into another: encode both, walk between them in latent space (slerp),
    /// decode every point, write one MIDI file (and a piano-roll picture with --png).
    Interpolate(interpolate::InterpolateArgs),
    /// A 2-D latent grid: four MIDI phrases at the corners, every cell decoded from the mix of
    /// their codes (magenta.js's interpolation grid).
    Grid(grid::GridArgs),
    /// A long piece through several phrases in order, K interpolated phrases between each pair.
    Chain(chain::ChainArgs),
    /// Phrases similar to a MIDI phrase (z = μ + amount·σ·ε), sorted by how far they are from it.
    Variations(variations::VariationsArgs),
    /// Sample new phrases from the model's latent prior (the fitted one where the model has it,
    /// else z ~ N(0, I)) into a folder of MIDI files.
    Sample(sample::SampleArgs),
    /// Move a phrase toward (or away from) a genre along its attribute vector.
    Morph(morph::MorphArgs),
    /// Encode a phrase of a MIDI file to its latent code (μ, σ) as JSON.
    Encode(encode::EncodeArgs),
    /// Decode latent vectors (JSON from `encode`, or plain vectors) to MIDI.
    Decode(decode::DecodeArgs),
    /// Encode a phrase and decode it again; report how many steps came back.
    Reconstruct(reconstruct::ReconstructArgs),
    /// Render a MIDI file to a 16-bit WAV: with a SoundFont (--soundfont, or a General MIDI one
    /// installed on the system) or the built-in synthesizer.
    Render(render::RenderArgs),
    /// Play a MIDI or WAV file in real time with a progress line (needs the `playback` feature).
    Play(play::PlayArgs),
    /// Train a MusicVAE on a folder of MIDI files or a prepared cache (CPU, or GPU with --features cuda).
    Train(train::TrainArgs),
    /// Evaluate models on the held-out split: teacher-forced and sampled accuracy (per bar), KL,
    /// and the interpolation check. Several --model give a comparison table.
    Eval(eval::EvalArgs),
    /// Genre attribute vectors: mean latent code of each genre minus that of the rest.
    Attributes(attributes::AttributesArgs),
    /// Fit the model's latent distribution (a Gaussian mixture over the codes of its training
    /// windows) so that `sample` draws where the decoder was trained, not from N(0, I).
    FitPrior(fit_prior::FitPriorArgs),
    /// How well the attribute vectors work: the genre classifier's probability of each genre
    /// before and after moving held-out phrases along its vector.
    EvalAttributes(eval_attributes::EvalAttributesArgs),
    /// Train a genre classifier (MobileNetV3-Small/-Large with squeeze-and-excitation, or a ResNet)
    /// on melody piano-roll windows of a folder with one sub-folder per genre.
    TrainClassifier(train_classifier::TrainClassifierArgs),
    /// Genre probabilities of every melody window of a MIDI file and of the whole file.
    Classify(classify::ClassifyArgs),
    /// Scan a folder of MIDI files (labels = first-level folder names), extract every window for a
    /// config and write a cache for training. Bad files are skipped with their reason.
    Prepare(prepare::PrepareArgs),
    /// Show what a MIDI file holds: tracks, tempo and meter maps, notes, and how many melody,
    /// drum and trio windows MusicVAE can take from it (and, where none, exactly why).
    Inspect(inspect::InspectArgs),
    /// Copy a trained model (weights, config, attribute vectors) into a model folder, optionally f16.
    Export(export::ExportArgs),
    /// Average the weights of several fine-tunes of one model (a "model soup") into a model
    /// folder: often better than each of them. Models from different starts do not average.
    Average(average::AverageArgs),
    /// Benchmarks: training throughput, interpolation latency, prepare throughput, and the
    /// agreement case for the PyTorch reference (bench/pytorch).
    Bench(bench::BenchArgs),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(a) => inspect::run(a),
        Command::Prepare(a) => prepare::run(a),
        Command::Train(a) => train::run(a),
        Command::Interpolate(a) => interpolate::run(a),
        Command::Sample(a) => sample::run(a),
        Command::Grid(a) => grid::run(a),
        Command::Chain(a) => chain::run(a),
        Command::Variations(a) => variations::run(a),
        Command::Encode(a) => encode::run(a),
        Command::Decode(a) => decode::run(a),
        Command::Reconstruct(a) => reconstruct::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Export(a) => export::run(a),
        Command::Average(a) => average::run(a),
        Command::Attributes(a) => attributes::run(a),
        Command::FitPrior(a) => fit_prior::run(a),
        Command::Morph(a) => morph::run(a),
        Command::EvalAttributes(a) => eval_attributes::run(a),
        Command::Render(a) => render::run(a),
        Command::Play(a) => play::run(a),
        Command::TrainClassifier(a) => train_classifier::run(a),
        Command::Classify(a) => classify::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            let mut src = e.source();
            while let Some(s) = src {
                let msg = s.to_string();
                if !e.to_string().contains(&msg) {
                    eprintln!("  caused by: {msg}");
                }
                src = s.source();
            }
            ExitCode::FAILURE
        }
    }
}
