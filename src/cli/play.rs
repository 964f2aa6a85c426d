//! `musicvae play FILE.mid|FILE.wav`: real-time playback (cargo feature `playback`).

use super::render::{name_file, SynthArgs};
use anyhow::{anyhow, Result};
use clap::Args;
use musicvae::audio::{
    play_with_progress, read_midi_for_audio, read_wav, render_sequence, timeline::format_time,
    BarClock, PlayOutcome, PLAYBACK_AVAILABLE, PLAYBACK_HINT,
};
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct PlayArgs {
    /// A MIDI file (rendered first, as `render` would) or a WAV file.
    pub file: PathBuf,
    #[command(flatten)]
    pub synth: SynthArgs,
}

fn is_wav(path: &Path) -> Result<bool> {
    let mut magic = [0u8; 4];
    let one_line = |e: std::io::Error| anyhow!("{}: {e}", path.display());
    let mut f = std::fs::File::open(path).map_err(one_line)?;
    let n = f.read(&mut magic).map_err(one_line)?;
    Ok(n == 4 && &magic == b"RIFF")
}

/// [`PLAYBACK_HINT`] with the user's file in the suggested command.
fn hint_for(file: &Path) -> String {
    let wav_input = file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("wav"));
    if wav_input {
        let (head, _) = PLAYBACK_HINT
            .split_once(" Or render")
            .unwrap_or((PLAYBACK_HINT, ""));
        format!(
            "{head} Or open {} in any audio player (e.g. `aplay`)",
            file.display()
        )
    } else {
        PLAYBACK_HINT.replace(
            "FILE.mid -o FILE.wav",
            &format!(
                "{} -o {}",
                file.display(),
                file.with_extension("wav").display()
            ),
        )
    }
}

pub fn run(a: PlayArgs) -> Result<()> {
    if !PLAYBACK_AVAILABLE {
        anyhow::bail!("{}", hint_for(&a.file));
    }
    if play(a)? == PlayOutcome::Stopped {
        // Everything is dropped and the device closed; 130 = interrupted by Ctrl-C.
        std::process::exit(130);
    }
    Ok(())
}

fn play(a: PlayArgs) -> Result<PlayOutcome> {
    let (audio, clock, what) = if is_wav(&a.file)? {
        let audio = read_wav(&a.file)?;
        (audio, None, "WAV".to_string())
    } else {
        let seq = read_midi_for_audio(&a.file)?;
        let r = render_sequence(&seq, &a.synth.options()).map_err(|e| name_file(e, &a.file))?;
        (
            r.audio,
            Some(BarClock::from_sequence(&seq)),
            r.engine.to_string(),
        )
    };
    let stop = musicvae::io_util::ctrl_c_flag();
    eprintln!(
        "playing {} ({}, {}); Ctrl-C stops",
        a.file.display(),
        format_time(audio.seconds()),
        what
    );
    let outcome =
        play_with_progress(&audio, clock.as_ref(), &stop).map_err(|e| name_file(e, &a.file))?;
    if outcome == PlayOutcome::Stopped {
        eprintln!("stopped");
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hint_names_the_file() {
        let h = hint_for(Path::new("out/tune.mid"));
        assert!(
            h.contains("musicvae render out/tune.mid -o out/tune.wav"),
            "{h}"
        );
        assert!(h.contains("--features playback"), "{h}");
        let h = hint_for(Path::new("a.WAV"));
        assert!(
            h.contains("open a.WAV in any audio player") && !h.contains("render"),
            "{h}"
        );
    }
}
