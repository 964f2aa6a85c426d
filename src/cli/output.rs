//! Output options shared by the generating commands: `--png` (a piano roll beside the MIDI
//! output), `--wav FILE` (the output rendered to audio), `--play` (heard at once), and the list of
//! files written, printed at the end.

use super::render::SynthArgs;
use anyhow::{bail, Context, Result};
use clap::Args;
use musicvae::data::converter::DataKind;
use musicvae::generate::dynamics::Velocity;
use musicvae::generate::output::Panel;
use musicvae::music::note_sequence::NoteSequence;
use std::path::{Path, PathBuf};

#[derive(Args, Debug, Clone)]
pub struct OutputArgs {
    /// Also write a piano-roll picture of the phrases (OUT.png beside the MIDI output).
    #[arg(long)]
    pub png: bool,
    /// Also render the output to this 16-bit WAV file (a General MIDI SoundFont if one is
    /// installed, otherwise the built-in synthesizer; see `musicvae render`).
    #[arg(long, value_name = "FILE.wav")]
    pub wav: Option<PathBuf>,
    /// Play the output once it is written (needs a musicvae built with `--features playback`);
    /// Ctrl-C stops.
    #[arg(long)]
    pub play: bool,
    #[command(flatten)]
    pub synth: SynthArgs,
}

/// `--qpm` and `--velocity`: how decoded phrases are performed.
#[derive(Args, Debug, Clone)]
pub struct PerformanceArgs {
    /// Tempo of the written MIDI in quarter notes per minute (default: the first input's tempo).
    #[arg(long, value_name = "QPM")]
    pub qpm: Option<f64>,
    /// Velocities of the written notes: `input` (each decoded note takes the velocity of the
    /// input note nearest in time and pitch, blended between A and B along a path; drums per
    /// drum class) or a fixed number 1–127 (e.g. `--velocity 100`, Magenta Studio's choice).
    #[arg(long, default_value = "input", value_name = "input|N")]
    pub velocity: Velocity,
}

impl PerformanceArgs {
    /// Refuse a tempo our own MIDI reader would reject.
    pub fn check(&self) -> Result<()> {
        if let Some(q) = self.qpm {
            if !(q.is_finite() && (1.0..=1000.0).contains(&q)) {
                bail!("--qpm must be between 1 and 1000 quarter notes per minute, got {q}");
            }
        }
        Ok(())
    }

    /// The tempo: `--qpm`, else `input` (the first input's tempo).
    pub fn qpm(&self, input: f64) -> f64 {
        self.qpm.unwrap_or(input)
    }
}

/// Files written by a command, printed at the end.
#[derive(Debug, Default)]
pub struct Written(pub Vec<PathBuf>);

impl Written {
    pub fn push(&mut self, p: PathBuf) {
        self.0.push(p);
    }
    pub fn print(&self) {
        for p in &self.0 {
            println!("wrote {}", p.display());
        }
    }
}

impl OutputArgs {
    /// Refuse at once what cannot be done at the end (so no model work is wasted): `--play` in a
    /// build without the `playback` feature, a `--wav` path that is not a .wav file.
    pub fn check(&self) -> Result<()> {
        if self.play && !musicvae::audio::PLAYBACK_AVAILABLE {
            let hint = musicvae::audio::PLAYBACK_HINT;
            let (head, _) = hint.split_once(" Or render").unwrap_or((hint, ""));
            bail!(
                "--play: {head} Or write the audio with --wav FILE.wav and open it in any player."
            );
        }
        if let Some(w) = &self.wav {
            if !w.extension().is_some_and(|e| e.eq_ignore_ascii_case("wav")) {
                bail!("--wav {}: the file name must end in .wav", w.display());
            }
        }
        Ok(())
    }

    /// Add the extra outputs (`--png` beside `out`, `--wav`) to the files a command writes.
    pub fn outputs(&self, files: super::guard::Files, out: &Path) -> super::guard::Files {
        let mut files = files;
        if self.png {
            files = files.output("--png", &out.with_extension("png"));
        }
        if let Some(w) = &self.wav {
            files = files.output("--wav", w);
        }
        files
    }

    /// Write the extra outputs for `panels` (whose MIDI went to `out`), print every file
    /// written, then play the output if asked; `seq` is the whole output as one note sequence.
    /// Ctrl-C during `--play` ends the process with code 130 once everything is written.
    pub fn finish(
        &self,
        kind: DataKind,
        panels: &[Panel],
        title: &str,
        out: &Path,
        seq: &NoteSequence,
        written: &mut Written,
    ) -> Result<()> {
        if self.png {
            let png = out.with_extension("png");
            musicvae::generate::output::write_png(kind, panels, title, &png)
                .with_context(|| format!("writing the picture {}", png.display()))?;
            written.push(png);
        }
        if let Some(wav) = &self.wav {
            let r = musicvae::audio::render_sequence_to_wav(seq, wav, &self.synth.options())
                .with_context(|| format!("rendering the output to {}", wav.display()))?;
            eprintln!(
                "rendered {:.1} s of audio with the {} (peak {:.1} dBFS)",
                r.seconds, r.engine, r.peak_dbfs
            );
            written.push(wav.clone());
        }
        written.print();
        if self.play {
            let outcome = musicvae::audio::play_sequence_until_ctrl_c(seq, &self.synth.options())
                .context("playing the output")?;
            if outcome == musicvae::audio::PlayOutcome::Stopped {
                eprintln!("stopped");
                std::process::exit(130);
            }
        }
        Ok(())
    }
}
