//! The built-in synthesizer: every note of a sequence is given a voice (drum kit, bass or melodic
//! voice), rendered on its own and mixed into a stereo buffer with a fixed stereo position.
//! It needs no SoundFont and no system library.

use super::drumkit::{render_drum, DrumSound};
use super::dsp::pan_gains;
use super::voices::{render_tone, BASS, MELODIC, MIN_HELD_SECONDS};
use crate::music::{Note, NoteSequence};

/// Which voice plays a note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Voice {
    Melodic,
    Bass,
    Drum(DrumSound),
}

/// Voice of a note: drum notes use the drum kit (by class), GM programs 32–39 the bass voice, all
/// others the melodic voice.
pub fn voice_for(note: &Note) -> Voice {
    if note.is_drum {
        Voice::Drum(DrumSound::for_pitch(note.pitch))
    } else if (32..=39).contains(&note.program) {
        Voice::Bass
    } else {
        Voice::Melodic
    }
}

/// Seconds from a note's onset until its sound is over.
pub fn sounding_seconds(note: &Note) -> f64 {
    let held = (note.end_time - note.start_time).max(MIN_HELD_SECONDS);
    match voice_for(note) {
        Voice::Melodic => MELODIC.envelope.length(held),
        Voice::Bass => BASS.envelope.length(held),
        Voice::Drum(d) => d.seconds(),
    }
}

fn pan_for(note: &Note, voice: Voice) -> f64 {
    match voice {
        Voice::Drum(d) => d.pan(),
        Voice::Bass => 0.0,
        // Several melodic instruments are spread a little so they stay apart.
        Voice::Melodic => [-0.25, 0.25, -0.1, 0.1][note.instrument as usize % 4],
    }
}

/// Render `seq` with the built-in voices: interleaved stereo at `sample_rate`, unlimited (the
/// caller applies the limiter). Notes with velocity 0 or a negative start are skipped.
pub fn render_builtin(seq: &NoteSequence, sample_rate: u32) -> Vec<f32> {
    let sr = sample_rate as f64;
    let notes: Vec<&Note> = seq
        .notes
        .iter()
        .filter(|n| n.velocity > 0 && n.start_time >= 0.0 && n.start_time.is_finite())
        .collect();
    let end = notes
        .iter()
        .map(|n| n.start_time + sounding_seconds(n))
        .fold(0.0, f64::max);
    let frames = (end * sr).ceil() as usize + 1;
    let mut out = vec![0f32; 2 * frames];
    for n in notes {
        let voice = voice_for(n);
        let start = (n.start_time * sr).round() as usize;
        let held = n.end_time - n.start_time;
        let mono = match voice {
            Voice::Melodic => render_tone(&MELODIC, n.pitch, n.velocity, held, sample_rate),
            Voice::Bass => render_tone(&BASS, n.pitch, n.velocity, held, sample_rate),
            Voice::Drum(d) => render_drum(d, n.velocity, sample_rate, start as u64),
        };
        let (gl, gr) = pan_gains(pan_for(n, voice));
        for (i, s) in mono.iter().enumerate() {
            let f = start + i;
            if f >= frames {
                break;
            }
            out[2 * f] += gl * s;
            out[2 * f + 1] += gr * s;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(pitch: u8, start: f64, end: f64, program: u8, is_drum: bool) -> Note {
        Note {
            pitch,
            velocity: 100,
            start_time: start,
            end_time: end,
            start_tick: 0,
            end_tick: 0,
            program,
            instrument: 0,
            is_drum,
        }
    }

    #[test]
    fn voices_by_program_and_drum_flag() {
        assert_eq!(voice_for(&note(60, 0.0, 1.0, 0, false)), Voice::Melodic);
        assert_eq!(voice_for(&note(40, 0.0, 1.0, 33, false)), Voice::Bass);
        assert_eq!(voice_for(&note(40, 0.0, 1.0, 40, false)), Voice::Melodic);
        assert_eq!(
            voice_for(&note(38, 0.0, 1.0, 0, true)),
            Voice::Drum(DrumSound::Snare)
        );
    }

    #[test]
    fn buffer_covers_every_release_and_is_stereo() {
        let seq = NoteSequence {
            notes: vec![note(60, 0.0, 0.5, 0, false), note(49, 0.25, 0.3, 0, true)],
            ..Default::default()
        };
        let x = render_builtin(&seq, 8000);
        let frames = x.len() / 2;
        assert_eq!(x.len() % 2, 0);
        assert!(frames as f64 >= (0.25 + DrumSound::Crash.seconds()) * 8000.0);
        // Crash is panned left: more energy on the left channel late in the buffer.
        let (l, r) = x[2 * 8000..]
            .chunks(2)
            .fold((0.0, 0.0), |(l, r), c| (l + c[0].abs(), r + c[1].abs()));
        assert!(l > r);
    }
}
