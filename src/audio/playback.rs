//! Real-time output through rodio (cargo feature `playback`): the audio is handed to a rodio
//! `Player` on the default output device, and the caller is told the position until it has played
//! or is stopped.

use super::{Audio, PlayOutcome};
use crate::error::{Error, Result};
use std::num::NonZero;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Play `audio` on the default output device (see [`super::play_audio`]).
pub fn play(audio: &Audio, stop: &AtomicBool, on_tick: &mut dyn FnMut(f64)) -> Result<PlayOutcome> {
    let (Some(channels), Some(rate)) = (
        NonZero::new(audio.channels),
        NonZero::new(audio.sample_rate),
    ) else {
        return Err(Error::Invalid(
            "cannot play audio with no channels or sample rate".into(),
        ));
    };
    let mut sink = rodio::DeviceSinkBuilder::open_default_sink().map_err(|e| {
        Error::Invalid(format!(
            "cannot open the default audio output ({e}); without a sound device, write a WAV \
                 file instead: musicvae render FILE.mid -o FILE.wav"
        ))
    })?;
    sink.log_on_drop(false);
    let player = rodio::Player::connect_new(sink.mixer());
    player.append(rodio::buffer::SamplesBuffer::new(
        channels,
        rate,
        audio.samples.clone(),
    ));
    let length = audio.seconds();
    let outcome = loop {
        if stop.load(Ordering::SeqCst) {
            player.stop();
            break PlayOutcome::Stopped;
        }
        if player.empty() {
            on_tick(length);
            break PlayOutcome::Finished;
        }
        on_tick(player.get_pos().as_secs_f64().min(length));
        std::thread::sleep(Duration::from_millis(50));
    };
    if outcome == PlayOutcome::Finished {
        // Let the device play out what is still in its buffer.
        std::thread::sleep(Duration::from_millis(250));
    }
    drop(player);
    drop(sink);
    Ok(outcome)
}
