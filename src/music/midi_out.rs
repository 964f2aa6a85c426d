//! [`NoteSequence`] → Standard MIDI File (format 1): a tempo/meter track, then one track per
//! instrument; drums on channel 10; 220 ticks per quarter note (note_seq's standard).

use super::note_sequence::{NoteSequence, DEFAULT_QPM, STANDARD_PPQ};
use crate::error::Result;
use midly::num::{u15, u24, u28, u4, u7};
use midly::{Format, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind};
use std::path::Path;

/// Seconds → ticks under a single tempo.
fn to_tick(seconds: f64, qpm: f64) -> u64 {
    (seconds * qpm / 60.0 * STANDARD_PPQ as f64)
        .round()
        .max(0.0) as u64
}

/// Encode a note sequence as SMF bytes. Tempo: the sequence's first tempo or 120 qpm.
pub fn sequence_to_midi_bytes(seq: &NoteSequence) -> Vec<u8> {
    let qpm = seq.tempos.first().map(|t| t.qpm).unwrap_or(DEFAULT_QPM);
    let mut tracks: Vec<Vec<TrackEvent<'static>>> = Vec::new();
    // Track 0: tempo + time signature.
    let mut t0 = vec![TrackEvent {
        delta: u28::new(0),
        kind: TrackEventKind::Meta(MetaMessage::Tempo(u24::new(
            (6e7 / qpm).round().clamp(1.0, 16_777_215.0) as u32,
        ))),
    }];
    let ts = seq.time_signatures.first();
    let (num, den) = ts.map(|t| (t.numerator, t.denominator)).unwrap_or((4, 4));
    t0.push(TrackEvent {
        delta: u28::new(0),
        kind: TrackEventKind::Meta(MetaMessage::TimeSignature(
            num.min(255) as u8,
            den.max(1).trailing_zeros() as u8,
            24,
            8,
        )),
    });
    t0.push(TrackEvent {
        delta: u28::new(0),
        kind: TrackEventKind::Meta(MetaMessage::EndOfTrack),
    });
    tracks.push(t0);

    // One track per (instrument, program, drum) with a channel each (9 reserved for drums).
    let mut keys: Vec<(u32, u8, bool)> = seq
        .notes
        .iter()
        .map(|n| (n.instrument, n.program, n.is_drum))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let mut next_channel = 0u8;
    for (inst, program, is_drum) in keys {
        let channel = if is_drum {
            9
        } else {
            let c = next_channel;
            next_channel = (next_channel + 1) % 16;
            if next_channel == 9 {
                next_channel = 10;
            }
            if c == 9 {
                10
            } else {
                c
            }
        };
        // (tick, order, message): note-offs (order 0) before note-ons (order 1) at the same tick.
        let mut evs: Vec<(u64, u8, MidiMessage)> = Vec::new();
        for n in seq
            .notes
            .iter()
            .filter(|n| n.instrument == inst && n.program == program && n.is_drum == is_drum)
        {
            let s = to_tick(n.start_time, qpm);
            let e = to_tick(n.end_time, qpm).max(s + 1);
            let key = u7::new(n.pitch.min(127));
            evs.push((
                s,
                1,
                MidiMessage::NoteOn {
                    key,
                    vel: u7::new(n.velocity.clamp(1, 127)),
                },
            ));
            evs.push((
                e,
                0,
                MidiMessage::NoteOff {
                    key,
                    vel: u7::new(0),
                },
            ));
        }
        evs.sort_by_key(|e| (e.0, e.1));
        let mut tr: Vec<TrackEvent<'static>> = Vec::new();
        if !is_drum {
            tr.push(TrackEvent {
                delta: u28::new(0),
                kind: TrackEventKind::Midi {
                    channel: u4::new(channel),
                    message: MidiMessage::ProgramChange {
                        program: u7::new(program.min(127)),
                    },
                },
            });
        }
        let mut last = 0u64;
        for (tick, _, msg) in evs {
            tr.push(TrackEvent {
                delta: u28::new((tick - last).min(0x0FFF_FFFF) as u32),
                kind: TrackEventKind::Midi {
                    channel: u4::new(channel),
                    message: msg,
                },
            });
            last = tick;
        }
        tr.push(TrackEvent {
            delta: u28::new(0),
            kind: TrackEventKind::Meta(MetaMessage::EndOfTrack),
        });
        tracks.push(tr);
    }
    let smf = Smf {
        header: Header::new(Format::Parallel, Timing::Metrical(u15::new(STANDARD_PPQ))),
        tracks,
    };
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = smf.write_std(&mut out);
    out
}

/// Write a note sequence to a MIDI file atomically.
pub fn write_midi_file(seq: &NoteSequence, path: &Path) -> Result<()> {
    crate::io_util::write_atomic(path, &sequence_to_midi_bytes(seq))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::music::melody::melody_to_sequence;
    use crate::music::midi_in::parse_midi;

    #[test]
    fn write_then_read_back() {
        let seq = melody_to_sequence(&[40, 0, 0, 1, 42, 0, 0, 0], 120.0);
        let bytes = sequence_to_midi_bytes(&seq);
        let back = parse_midi(&bytes).unwrap();
        assert_eq!(back.notes.len(), 2);
        assert_eq!(back.notes[0].pitch, 59);
        assert!((back.notes[0].end_time - 0.375).abs() < 1e-9);
        assert!((back.notes[1].end_time - 1.0).abs() < 1e-9);
        assert_eq!(back.time_signatures[0].numerator, 4);
    }
}
