//! MIDI file → [`NoteSequence`], with the semantics of pretty_midi + note_seq's `midi_to_note_sequence`
//! (which Magenta's pipeline uses), so that our token windows match Magenta's bit for bit:
//! - tempo and time-signature events are read from the first track only (pretty_midi does the same);
//!   repeated identical tempos are ignored; tick → seconds uses pretty_midi's piecewise-linear formula;
//! - notes are grouped into instruments by (program, channel, track), in order of their first finished note;
//! - a note-off (or note-on with velocity 0) closes every open note of that pitch and channel that started
//!   at an earlier tick; a note-off at the same tick as its note-on keeps that note open (or drops it);
//!   notes never closed are dropped;
//! - channel 10 (index 9) is drums.
//!
//! Format 2 files (independent sequential tracks) are played one after another. SMPTE timing is
//! converted to seconds directly (ticks per second = fps × ticks per frame); tempo events then only give qpm.

use super::note_sequence::{InstrumentInfo, Note, NoteSequence, Tempo, TimeSignature, DEFAULT_QPM};
use crate::error::{Error, Result};
use midly::{Format, MetaMessage, MidiMessage, Smf, Timing, TrackEventKind};
use std::collections::HashMap;
use std::path::Path;

/// Largest MIDI file we accept (real MIDI files are a few hundred KB at most).
pub const MAX_MIDI_BYTES: u64 = 16 * 1024 * 1024;
/// Longest track name kept, in bytes (longer ones are cut).
pub const MAX_NAME_BYTES: usize = 256;
/// Tempos outside this range (quarter notes per minute) are rejected as corrupt.
pub const MIN_QPM: f64 = 1.0;
pub const MAX_QPM: f64 = 2000.0;

/// Read and parse a MIDI file.
pub fn read_midi_file(path: &Path) -> Result<NoteSequence> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Err(Error::bad_input(path, "is a folder, not a MIDI file"));
    }
    if meta.len() > MAX_MIDI_BYTES {
        return Err(Error::bad_input(
            path,
            format!(
                "file is {:.1} MB, larger than the {} MB limit for a MIDI file (is it really MIDI?)",
                meta.len() as f64 / 1e6,
                MAX_MIDI_BYTES / (1024 * 1024)
            ),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse_midi(&bytes).map_err(|reason| Error::Midi {
        path: path.to_path_buf(),
        reason,
    })
}

/// One event flattened out of a track, with its absolute tick.
struct Ev<'a> {
    tick: u64,
    kind: TrackEventKind<'a>,
}

/// Piecewise tick → seconds conversion (pretty_midi `_update_tick_to_time`).
struct TickMap {
    /// (start tick, seconds per tick, seconds at start tick)
    segments: Vec<(u64, f64, f64)>,
}

impl TickMap {
    fn new(scales: &[(u64, f64)]) -> Self {
        let mut segments = Vec::with_capacity(scales.len());
        let mut last_end_time = 0.0f64;
        for (i, &(start, scale)) in scales.iter().enumerate() {
            segments.push((start, scale, last_end_time));
            if let Some(&(end, _)) = scales.get(i + 1) {
                last_end_time += scale * (end - start) as f64;
            }
        }
        TickMap { segments }
    }
    fn time(&self, tick: u64) -> f64 {
        let idx = self.segments.partition_point(|s| s.0 <= tick);
        let (start, scale, base) = self.segments[idx.saturating_sub(1)];
        base + scale * (tick - start) as f64
    }
}

/// Walk the chunk headers of a plain SMF and report a truncated file precisely (midly itself
/// silently recovers what it can from a cut-off track).
fn check_chunks(bytes: &[u8]) -> std::result::Result<(), String> {
    if &bytes[0..4] != b"MThd" {
        return Ok(()); // RIFF-wrapped: leave it to midly
    }
    let be32 = |at: usize| {
        u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize
    };
    let header_len = be32(4);
    let declared_tracks = u16::from_be_bytes([bytes[10], bytes[11]]) as usize;
    let mut at = 8 + header_len;
    let mut track = 0;
    while track < declared_tracks {
        if at + 8 > bytes.len() {
            return Err(format!(
                "the file is truncated: the header declares {declared_tracks} track(s) but it ends after {track}"
            ));
        }
        let len = be32(at + 4);
        let is_track = &bytes[at..at + 4] == b"MTrk";
        if at + 8 + len > bytes.len() {
            return Err(format!(
                "the file is truncated: {} {} declares {len} bytes but only {} remain",
                if is_track { "track" } else { "chunk" },
                track,
                bytes.len() - at - 8
            ));
        }
        if is_track {
            track += 1;
        }
        at += 8 + len;
    }
    Ok(())
}

/// SMPTE timing must name one of the four frame rates. (midly 0.5 overflows negating a frame-rate
/// byte of 0x80: checked here first.)
fn check_smpte(bytes: &[u8]) -> std::result::Result<(), String> {
    let Some(at) = bytes.windows(4).position(|w| w == b"MThd") else {
        return Ok(());
    };
    let Some(&hi) = bytes.get(at + 12) else {
        return Ok(());
    };
    if hi & 0x80 != 0 && ![0xE8, 0xE7, 0xE3, 0xE2].contains(&hi) {
        return Err(format!(
            "invalid SMPTE timing: frame rate byte 0x{hi:02X} is not 24, 25, 29.97 or 30 frames per second"
        ));
    }
    Ok(())
}

/// Parse MIDI bytes into a note sequence. Errors are plain reasons (the caller adds the path).
pub fn parse_midi(bytes: &[u8]) -> std::result::Result<NoteSequence, String> {
    check_header(bytes)?;
    check_chunks(bytes)?;
    check_smpte(bytes)?;
    let smf = Smf::parse(bytes).map_err(|e| format!("{e}"))?;
    if smf.tracks.is_empty() {
        return Err("the file has no tracks".into());
    }
    let sequential = smf.header.format == Format::Sequential;
    let tracks = flatten_tracks(&smf, sequential)?;
    let (resolution, smpte_seconds_per_tick) = timing(smf.header.timing)?;
    let (tempo_events, ts_events) = meta_events(&tracks, sequential);
    check_tempos(&tempo_events)?;
    let tick_map = tick_map(resolution, smpte_seconds_per_tick, &tempo_events);

    let mut seq = NoteSequence {
        ticks_per_quarter: resolution,
        ..Default::default()
    };
    seq.tempos = tempos(resolution, smpte_seconds_per_tick, &tempo_events, &tick_map);
    seq.time_signatures = time_signatures(&ts_events, &tick_map)?;
    let mut instruments = Instruments::default();
    for (track_idx, track) in tracks.iter().enumerate() {
        read_notes(track_idx, track, &tick_map, &mut instruments);
    }
    for notes in instruments.notes {
        seq.notes.extend(notes);
    }
    seq.instruments = instruments.infos;
    seq.update_total_time();
    Ok(seq)
}

/// A standard MIDI file starts with `MThd` (or is RIFF-wrapped, which midly unwraps).
fn check_header(bytes: &[u8]) -> std::result::Result<(), String> {
    if bytes.len() < 14 || &bytes[0..4] != b"MThd" {
        if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"RMID" {
            // RIFF-wrapped MIDI is fine, midly unwraps it.
        } else if bytes.is_empty() {
            return Err("the file is empty".into());
        } else {
            return Err("no MIDI header (the file does not start with 'MThd')".into());
        }
    }
    Ok(())
}

/// Every track's events at absolute ticks. Format 2: tracks follow one another.
fn flatten_tracks<'a>(
    smf: &Smf<'a>,
    sequential: bool,
) -> std::result::Result<Vec<Vec<Ev<'a>>>, String> {
    let mut tracks: Vec<Vec<Ev>> = Vec::with_capacity(smf.tracks.len());
    let mut offset = 0u64;
    for track in &smf.tracks {
        let mut tick = if sequential { offset } else { 0 };
        let mut evs = Vec::with_capacity(track.len());
        for e in track {
            tick = tick
                .checked_add(e.delta.as_int() as u64)
                .ok_or_else(|| "event times overflow".to_string())?;
            evs.push(Ev { tick, kind: e.kind });
        }
        if sequential {
            offset = tick;
        }
        tracks.push(evs);
    }
    Ok(tracks)
}

/// Ticks per quarter note (0 for SMPTE timing), and seconds per tick for SMPTE timing.
fn timing(timing: Timing) -> std::result::Result<(u16, Option<f64>), String> {
    match timing {
        Timing::Metrical(t) => {
            let t = t.as_int();
            if t == 0 {
                return Err("the header says 0 ticks per quarter note".into());
            }
            Ok((t, None))
        }
        Timing::Timecode(fps, sub) => {
            if sub == 0 {
                return Err("SMPTE timing with 0 ticks per frame".into());
            }
            Ok((0u16, Some(1.0 / (fps.as_f32() as f64 * sub as f64))))
        }
    }
}

/// A tempo event: tick, µs per quarter note.
type TempoEvent = (u64, u32);
/// A time-signature event: tick, numerator, log2 of the denominator.
type MeterEvent = (u64, u8, u8);

/// Tempo and time-signature events, sorted by tick. pretty_midi reads them from the first track
/// only; for format 2 every track carries its own, so all of them are read.
fn meta_events(tracks: &[Vec<Ev>], sequential: bool) -> (Vec<TempoEvent>, Vec<MeterEvent>) {
    let meta_tracks = if sequential { tracks } else { &tracks[..1] };
    let mut tempo_events: Vec<TempoEvent> = Vec::new();
    let mut ts_events: Vec<MeterEvent> = Vec::new();
    for tr in meta_tracks {
        for ev in tr.iter() {
            match ev.kind {
                TrackEventKind::Meta(MetaMessage::Tempo(us)) => {
                    tempo_events.push((ev.tick, us.as_int()))
                }
                TrackEventKind::Meta(MetaMessage::TimeSignature(n, d, _, _)) => {
                    ts_events.push((ev.tick, n, d))
                }
                _ => {}
            }
        }
    }
    tempo_events.sort_by_key(|t| t.0);
    ts_events.sort_by_key(|t| t.0);
    (tempo_events, ts_events)
}

/// Every tempo must lie within [`MIN_QPM`]–[`MAX_QPM`].
fn check_tempos(tempo_events: &[TempoEvent]) -> std::result::Result<(), String> {
    for &(tick, us) in tempo_events {
        if us == 0 {
            return Err(format!(
                "absurd tempo (0 µs per quarter note) at tick {tick}"
            ));
        }
        let qpm = 6e7 / us as f64;
        if !(MIN_QPM..=MAX_QPM).contains(&qpm) {
            return Err(format!(
                "absurd tempo {qpm:.1} quarter notes per minute at tick {tick} (accepted: {MIN_QPM}–{MAX_QPM})"
            ));
        }
    }
    Ok(())
}

/// Tick scales (seconds per tick), pretty_midi `_load_tempo_changes`.
fn tick_map(
    resolution: u16,
    smpte_seconds_per_tick: Option<f64>,
    tempo_events: &[TempoEvent],
) -> TickMap {
    if let Some(spt) = smpte_seconds_per_tick {
        return TickMap::new(&[(0, spt)]);
    }
    let res = resolution as f64;
    let mut scales: Vec<(u64, f64)> = vec![(0, 60.0 / (DEFAULT_QPM * res))];
    for &(tick, us) in tempo_events {
        let bpm = 6e7 / us as f64;
        let scale = 60.0 / (bpm * res);
        if tick == 0 {
            scales = vec![(0, scale)];
        } else {
            let last = scales.last().map(|s| s.1).unwrap_or(scale);
            if scale != last {
                scales.push((tick, scale));
            }
        }
    }
    TickMap::new(&scales)
}

/// Tempos as note_seq reports them (pretty_midi get_tempo_changes: always one at time 0).
fn tempos(
    resolution: u16,
    smpte_seconds_per_tick: Option<f64>,
    tempo_events: &[TempoEvent],
    tick_map: &TickMap,
) -> Vec<Tempo> {
    if smpte_seconds_per_tick.is_some() {
        let mut qpms = vec![(0u64, DEFAULT_QPM)];
        for &(tick, us) in tempo_events {
            let q = 6e7 / us as f64;
            if tick == 0 {
                qpms = vec![(0, q)];
            } else if qpms.last().map(|x| x.1) != Some(q) {
                qpms.push((tick, q));
            }
        }
        qpms.into_iter()
            .map(|(tick, qpm)| Tempo {
                time: tick_map.time(tick),
                qpm,
            })
            .collect()
    } else {
        let res = resolution as f64;
        tick_map
            .segments
            .iter()
            .map(|&(start, scale, _)| Tempo {
                time: tick_map.time(start),
                qpm: 60.0 / (scale * res),
            })
            .collect()
    }
}

/// Time signatures at their times (a denominator above 2^30 is refused).
fn time_signatures(
    ts_events: &[MeterEvent],
    tick_map: &TickMap,
) -> std::result::Result<Vec<TimeSignature>, String> {
    let mut out = Vec::with_capacity(ts_events.len());
    for &(tick, n, d) in ts_events {
        if d > 30 {
            return Err(format!(
                "invalid time signature denominator 2^{d} at tick {tick}"
            ));
        }
        out.push(TimeSignature {
            time: tick_map.time(tick),
            numerator: n as u32,
            denominator: 1u32 << d,
        });
    }
    Ok(out)
}

/// Instruments, one per (program, channel, track), in order of their first finished note, each
/// with its notes (pretty_midi `_load_instruments`).
#[derive(Default)]
struct Instruments {
    index: HashMap<(u8, u8, usize), u32>,
    infos: Vec<InstrumentInfo>,
    notes: Vec<Vec<Note>>,
}

impl Instruments {
    /// The index of the instrument of (`program`, `channel`, `track`), made now if it is new.
    fn get(&mut self, program: u8, channel: u8, track: usize, track_name: &str) -> u32 {
        *self
            .index
            .entry((program, channel, track))
            .or_insert_with(|| {
                let idx = self.infos.len() as u32;
                self.infos.push(InstrumentInfo {
                    index: idx,
                    program,
                    channel,
                    track,
                    is_drum: channel == 9,
                    name: track_name.to_string(),
                });
                self.notes.push(Vec::new());
                idx
            })
    }
}

/// The notes of one track. A note-off (or note-on with velocity 0) closes every open note of its
/// pitch and channel that started at an earlier tick.
fn read_notes(track_idx: usize, track: &[Ev], tick_map: &TickMap, instruments: &mut Instruments) {
    let mut track_name = String::new();
    let mut current_program = [0u8; 16];
    let mut open: HashMap<(u8, u8), Vec<(u64, u8)>> = HashMap::new();
    for ev in track {
        match ev.kind {
            TrackEventKind::Meta(MetaMessage::TrackName(name)) => {
                // Names are cut to MAX_NAME_BYTES: a name is copied into every instrument of
                // its track, and a multi-MB one would be copied thousands of times.
                let name = &name[..name.len().min(MAX_NAME_BYTES)];
                track_name = String::from_utf8_lossy(name).trim().to_string();
            }
            TrackEventKind::Midi { channel, message } => {
                let ch = channel.as_int();
                match message {
                    MidiMessage::ProgramChange { program } => {
                        current_program[ch as usize] = program.as_int();
                    }
                    MidiMessage::NoteOn { key, vel } if vel.as_int() > 0 => {
                        open.entry((ch, key.as_int()))
                            .or_default()
                            .push((ev.tick, vel.as_int()));
                    }
                    MidiMessage::NoteOn { key, .. } | MidiMessage::NoteOff { key, .. } => {
                        let k = (ch, key.as_int());
                        if let Some(open_notes) = open.remove(&k) {
                            let end_tick = ev.tick;
                            let (close, keep): (Vec<_>, Vec<_>) =
                                open_notes.into_iter().partition(|(s, _)| *s != end_tick);
                            for (start_tick, velocity) in &close {
                                let program = current_program[ch as usize];
                                let idx = instruments.get(program, ch, track_idx, &track_name);
                                instruments.notes[idx as usize].push(Note {
                                    pitch: key.as_int(),
                                    velocity: *velocity,
                                    start_time: tick_map.time(*start_tick),
                                    end_time: tick_map.time(end_tick),
                                    start_tick: *start_tick,
                                    end_tick,
                                    program,
                                    instrument: idx,
                                    is_drum: ch == 9,
                                });
                            }
                            if !close.is_empty() && !keep.is_empty() {
                                open.insert(k, keep);
                            }
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_map_piecewise() {
        let m = TickMap::new(&[(0, 0.01), (100, 0.02)]);
        assert!((m.time(50) - 0.5).abs() < 1e-12);
        assert!((m.time(100) - 1.0).abs() < 1e-12);
        assert!((m.time(150) - 2.0).abs() < 1e-12);
    }

    #[test]
    fn rejects_non_midi() {
        assert!(parse_midi(b"hello world, this is not midi").is_err());
        assert!(parse_midi(b"").is_err());
    }

    #[test]
    fn rejects_truncated_files() {
        let ok =
            b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x60MTrk\x00\x00\x00\x04\x00\xff\x2f\x00";
        assert!(parse_midi(ok).is_ok());
        let e = parse_midi(&ok[..ok.len() - 2]).unwrap_err();
        assert!(e.contains("truncated"), "{e}");
        let e = parse_midi(&ok[..14]).unwrap_err();
        assert!(e.contains("ends after 0"), "{e}");
    }

    #[test]
    fn rejects_bad_smpte_frame_rate_without_panicking() {
        let mut b =
            b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x80\x04MTrk\x00\x00\x00\x04\x00\xff\x2f\x00"
                .to_vec();
        let e = parse_midi(&b).unwrap_err();
        assert!(e.contains("SMPTE"), "{e}");
        b[12] = 0xE7; // 25 fps
        assert!(parse_midi(&b).is_ok());
    }
}
