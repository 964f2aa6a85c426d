//! Deterministic mutational fuzzing of MIDI bytes (used by `tests/fuzz.rs` and `scripts/fuzz`):
//! a seeded mutator that damages real files the ways hostile files do (bit flips, inserted and
//! deleted bytes, corrupted chunk lengths and delta times, absurd tempos and ticks per quarter,
//! truncations), and builders of the hostile files that once took the process down.

/// xorshift64*: small, fast, and the same sequence on every platform.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in 0..n (0 when n is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
    fn byte(&mut self) -> u8 {
        self.next_u64() as u8
    }
}

/// Offsets of every chunk header ("MThd"/"MTrk") in `b`.
fn chunk_offsets(b: &[u8]) -> Vec<usize> {
    b.windows(4)
        .enumerate()
        .filter(|(_, w)| *w == b"MTrk" || *w == b"MThd")
        .map(|(i, _)| i)
        .collect()
}

/// A variable-length quantity (MIDI delta time) for `v` (< 2^28).
pub fn vlq(v: u32) -> Vec<u8> {
    let v = v & 0x0FFF_FFFF;
    let mut out = vec![(v & 0x7F) as u8];
    let mut v = v >> 7;
    while v > 0 {
        out.insert(0, 0x80 | (v & 0x7F) as u8);
        v >>= 7;
    }
    out
}

/// Apply one random mutation to `b`.
pub fn mutate_once(b: &mut Vec<u8>, rng: &mut Rng) {
    let len = b.len();
    match rng.below(12) {
        // Bit flips.
        0 | 1 => {
            for _ in 0..1 + rng.below(8) {
                if len > 0 {
                    let i = rng.below(len);
                    b[i] ^= 1 << rng.below(8);
                }
            }
        }
        // Random bytes inserted.
        2 => {
            let at = rng.below(len + 1);
            let n = 1 + rng.below(16);
            let ins: Vec<u8> = (0..n).map(|_| rng.byte()).collect();
            b.splice(at..at, ins);
        }
        // A byte range deleted.
        3 => {
            if len > 0 {
                let at = rng.below(len);
                let n = (1 + rng.below(32)).min(len - at);
                b.drain(at..at + n);
            }
        }
        // A chunk length corrupted (huge, zero, off by a little, or random).
        4 => {
            let offs = chunk_offsets(b);
            if !offs.is_empty() {
                let at = offs[rng.below(offs.len())] + 4;
                if at + 4 <= len {
                    let old = u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
                    let v = match rng.below(4) {
                        0 => u32::MAX - rng.below(16) as u32,
                        1 => 0,
                        2 => old.wrapping_add(rng.below(64) as u32).wrapping_sub(32),
                        _ => rng.next_u64() as u32,
                    };
                    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
                }
            }
        }
        // A huge delta time inserted inside a track (track length kept consistent).
        5 => {
            let offs: Vec<usize> = chunk_offsets(b)
                .into_iter()
                .filter(|&o| &b[o..o + 4] == b"MTrk" && o + 8 <= len)
                .collect();
            if !offs.is_empty() {
                let o = offs[rng.below(offs.len())];
                let tlen = u32::from_be_bytes([b[o + 4], b[o + 5], b[o + 6], b[o + 7]]);
                let body = (len - o - 8).min(tlen as usize);
                let at = o + 8 + rng.below(body + 1);
                let big = vlq(match rng.below(3) {
                    0 => 0x0FFF_FFFF,
                    1 => 1 << (10 + rng.below(18)),
                    _ => rng.next_u64() as u32,
                });
                let grow = big.len() as u32;
                b.splice(at..at, big);
                b[o + 4..o + 8].copy_from_slice(&tlen.wrapping_add(grow).to_be_bytes());
            }
        }
        // A tempo event's value replaced (tiny, huge, zero, random).
        6 => {
            let at: Vec<usize> = b
                .windows(3)
                .enumerate()
                .filter(|(_, w)| *w == [0xFF, 0x51, 0x03])
                .map(|(i, _)| i + 3)
                .filter(|&i| i + 3 <= len)
                .collect();
            if !at.is_empty() {
                let i = at[rng.below(at.len())];
                let v: u32 = match rng.below(4) {
                    0 => 0xFF_FFFF,
                    1 => 0,
                    2 => 1 + rng.below(64) as u32,
                    _ => rng.next_u64() as u32 & 0xFF_FFFF,
                };
                b[i..i + 3].copy_from_slice(&v.to_be_bytes()[1..]);
            }
        }
        // Ticks per quarter (or SMPTE timing) replaced.
        7 => {
            if len >= 14 {
                let v: u16 = match rng.below(5) {
                    0 => 1,
                    1 => 0,
                    2 => 0x7FFF,
                    3 => 0x8000 | rng.byte() as u16,
                    _ => rng.next_u64() as u16,
                };
                b[12..14].copy_from_slice(&v.to_be_bytes());
            }
        }
        // Format or track count replaced.
        8 => {
            if len >= 12 {
                let at = if rng.below(2) == 0 { 8 } else { 10 };
                let v: u16 = match rng.below(3) {
                    0 => rng.below(3) as u16,
                    1 => 0xFFFF,
                    _ => rng.next_u64() as u16,
                };
                b[at..at + 2].copy_from_slice(&v.to_be_bytes());
            }
        }
        // Truncated.
        9 => {
            let n = rng.below(len + 1);
            b.truncate(n);
        }
        // A piece of the file repeated in place (more notes, longer tracks).
        10 => {
            if len > 0 {
                let from = rng.below(len);
                let n = (1 + rng.below(256)).min(len - from);
                let at = rng.below(len + 1);
                let piece = b[from..from + n].to_vec();
                b.splice(at..at, piece);
            }
        }
        // One byte set to an interesting value.
        _ => {
            if len > 0 {
                let i = rng.below(len);
                b[i] = [0x00, 0x7F, 0x80, 0xFF, 0x90, 0x80, 0xFF, 0x2F][rng.below(8)];
            }
        }
    }
}

/// A mutated copy of `input`: 1 to 4 mutations.
pub fn mutate(input: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut b = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        mutate_once(&mut b, rng);
    }
    b
}

/// A standard MIDI file from raw track bodies (each body: delta-time + event bytes, without the
/// end-of-track meta event, which is appended).
pub fn smf(format: u16, division: u16, tracks: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"MThd".to_vec();
    out.extend_from_slice(&6u32.to_be_bytes());
    out.extend_from_slice(&format.to_be_bytes());
    out.extend_from_slice(&(tracks.len() as u16).to_be_bytes());
    out.extend_from_slice(&division.to_be_bytes());
    for t in tracks {
        let mut body = t.clone();
        body.extend_from_slice(&[0x00, 0xFF, 0x2F, 0x00]);
        out.extend_from_slice(b"MTrk");
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        out.extend_from_slice(&body);
    }
    out
}

/// Event bytes: a note on (channel, pitch, velocity) after `delta` ticks.
pub fn note_on(delta: u32, ch: u8, pitch: u8, vel: u8) -> Vec<u8> {
    let mut v = vlq(delta);
    v.extend_from_slice(&[0x90 | (ch & 15), pitch & 0x7F, vel & 0x7F]);
    v
}

/// Event bytes: a note off after `delta` ticks.
pub fn note_off(delta: u32, ch: u8, pitch: u8) -> Vec<u8> {
    let mut v = vlq(delta);
    v.extend_from_slice(&[0x80 | (ch & 15), pitch & 0x7F, 0x40]);
    v
}

/// Event bytes: a program change after `delta` ticks.
pub fn program(delta: u32, ch: u8, program: u8) -> Vec<u8> {
    let mut v = vlq(delta);
    v.extend_from_slice(&[0xC0 | (ch & 15), program & 0x7F]);
    v
}

/// Event bytes: a tempo (µs per quarter note) after `delta` ticks.
pub fn tempo(delta: u32, us_per_quarter: u32) -> Vec<u8> {
    let mut v = vlq(delta);
    v.extend_from_slice(&[0xFF, 0x51, 0x03]);
    v.extend_from_slice(&us_per_quarter.to_be_bytes()[1..]);
    v
}

/// Event bytes: a track name.
pub fn track_name(delta: u32, name: &[u8]) -> Vec<u8> {
    let mut v = vlq(delta);
    v.extend_from_slice(&[0xFF, 0x03]);
    v.extend(vlq(name.len() as u32));
    v.extend_from_slice(name);
    v
}

/// The hostile files of issue 13, rebuilt: (name, bytes). Each once made `inspect`, `prepare`,
/// `reconstruct` or `classify` use GiBs or minutes.
pub fn hostile_files() -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    // One note held for 2^28 ticks at 1 tick per quarter: a 4 GB melody buffer.
    out.push((
        "long_note_tpq1",
        smf(
            0,
            1,
            &[[note_on(0, 0, 60, 90), note_off(0x0FFF_FFFF, 0, 60)].concat()],
        ),
    ));
    // The same at the slowest tempo, with the note-off far beyond on a 2^28 delta twice over.
    out.push((
        "long_note_slow_tempo",
        smf(
            0,
            1,
            &[[
                tempo(0, 0xFF_FFFF),
                note_on(0, 0, 64, 90),
                note_off(0x0FFF_FFFF, 0, 64),
                note_on(0x0FFF_FFFF, 0, 65, 90),
                note_off(0x0FFF_FFFF, 0, 65),
            ]
            .concat()],
        ),
    ));
    // Three parts (format 2, played one after another), each with a very long note.
    let part = |p: u8| [note_on(0, 0, p, 90), note_off(0x0FFF_FFFF, 0, p)].concat();
    out.push(("three_parts", smf(2, 1, &[part(60), part(62), part(64)])));
    // A trio (melody, bass, drums) over a million-bar section.
    out.push((
        "long_trio",
        smf(
            1,
            1,
            &[
                [
                    program(0, 0, 0),
                    note_on(0, 0, 72, 90),
                    note_off(0x0FFF_FFFF, 0, 72),
                ]
                .concat(),
                [
                    program(0, 1, 33),
                    note_on(0, 1, 36, 90),
                    note_off(0x0FFF_FFFF, 1, 36),
                ]
                .concat(),
                [note_on(0, 9, 36, 90), note_off(0x0FFF_FFFF, 9, 36)].concat(),
            ],
        ),
    ));
    // Tempo changes every tick around long notes: many sections.
    let mut t = Vec::new();
    for i in 0..200u32 {
        t.extend(tempo(1, 400_000 + (i % 2) * 100_000));
    }
    t.extend([note_on(0, 0, 60, 90), note_off(0x0FFF_FFFF, 0, 60)].concat());
    out.push(("many_sections_long_note", smf(0, 1, &[t])));
    out
}

/// Large hostile files (too big to commit, built on demand): (name, bytes).
pub fn large_hostile_files() -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    // ~100k notes, each alone in its bar: melody extraction once sorted all notes per melody.
    let mut t = Vec::new();
    for i in 0..100_000u32 {
        t.extend(note_on(
            if i == 0 { 0 } else { 8 },
            0,
            40 + (i % 40) as u8,
            90,
        ));
        t.extend(note_off(1, 0, 40 + (i % 40) as u8));
    }
    out.push(("bar_gap_notes_100k", smf(0, 1, &[t])));
    // ~100k drum hits: drum extraction once searched the hit list per hit.
    let mut t = Vec::new();
    for i in 0..100_000u32 {
        let p = [36u8, 38, 42, 46, 51][(i % 5) as usize];
        t.extend(note_on(0, 9, p, 90));
        t.extend(note_off(1, 9, p));
    }
    out.push(("drum_hits_100k", smf(0, 4, &[t])));
    // A 1 MB track name on a track that uses 128 programs × 16 channels (2048 instruments).
    let mut t = track_name(0, &vec![b'x'; 1 << 20]);
    for ch in 0..16u8 {
        for p in 0..128u8 {
            t.extend(program(0, ch, p));
            t.extend(note_on(0, ch, 60, 90));
            t.extend(note_off(1, ch, 60));
        }
    }
    out.push(("long_name_2048_instruments", smf(0, 4, &[t])));
    // 50k note-ons piled on one key, closed by one note-off: 50k notes on one onset.
    let mut t = Vec::new();
    for _ in 0..50_000 {
        t.extend(note_on(0, 0, 60, 90));
    }
    t.extend(note_off(1, 0, 60));
    out.push(("stacked_notes_same_tick", smf(0, 96, &[t])));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vlq_and_smf_parse() {
        assert_eq!(vlq(0), [0]);
        assert_eq!(vlq(0x80), [0x81, 0x00]);
        assert_eq!(vlq(0x0FFF_FFFF), [0xFF, 0xFF, 0xFF, 0x7F]);
        for (name, b) in hostile_files().into_iter().chain(large_hostile_files()) {
            let seq =
                crate::music::midi_in::parse_midi(&b).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!seq.notes.is_empty(), "{name}");
        }
    }

    #[test]
    fn mutator_is_deterministic() {
        let base = hostile_files().remove(0).1;
        let a: Vec<Vec<u8>> = {
            let mut r = Rng::new(7);
            (0..50).map(|_| mutate(&base, &mut r)).collect()
        };
        let mut r = Rng::new(7);
        let b: Vec<Vec<u8>> = (0..50).map(|_| mutate(&base, &mut r)).collect();
        assert_eq!(a, b);
        assert!(a.iter().any(|m| m != &base));
    }
}
