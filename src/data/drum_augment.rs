//! Augmentation of drum training windows (the drum-style classifier's, and the drum VAE's with
//! `train.rotate_bars`). Drums do not transpose, and takes of one groove differ in ways that do
//! not change its style; two of them are made here:
//! - bar rotation: the window starts at a random bar of itself and the bars before that bar
//!   wrap round to its end (a 2-bar window plays bar 2 then bar 1 half the time): across a
//!   performance a groove's bars come in either order;
//! - hit dropout: every hit (a drum class at a step) is dropped with probability p, as ghost
//!   notes and hi-hat detail differ between takes.

use crate::music::quantize::STEPS_PER_BAR;
use crate::rng::Rng;

/// One augmented copy of a 512-way drum track (bit c of a token = drum class c hit).
pub fn augment_drums(tokens: &[u16], rotate_bars: bool, drop_hits: f64, rng: &mut Rng) -> Vec<u16> {
    let bar = STEPS_PER_BAR as usize;
    let bars = tokens.len() / bar;
    let start = if rotate_bars && bars > 1 && tokens.len().is_multiple_of(bar) {
        bar * rng.below(bars)
    } else {
        0
    };
    let mut out: Vec<u16> = tokens[start..]
        .iter()
        .chain(&tokens[..start])
        .copied()
        .collect();
    if drop_hits > 0.0 {
        for t in out.iter_mut() {
            let mut bits = *t;
            let mut kept = 0u16;
            while bits != 0 {
                let hit = bits & bits.wrapping_neg(); // lowest set bit
                bits &= bits - 1;
                if rng.uniform() >= drop_hits {
                    kept |= hit;
                }
            }
            *t = kept;
        }
    }
    out
}

/// Groups of drum classes that play one part of a groove (bit c = drum class c): kick and snare,
/// the cymbals (closed and open hi-hat, crash, ride), the toms.
pub const DRUM_GROUPS: [u16; 3] = [
    0b11,
    (1 << 2) | (1 << 3) | (1 << 7) | (1 << 8),
    (1 << 4) | (1 << 5) | (1 << 6),
];

/// Track `a` with one group of drums (drawn at random from [`DRUM_GROUPS`]) taken from track `b`
/// instead: b's kick and snare under a's cymbals, say. Tracks of different lengths leave `a` as
/// it is.
pub fn recombine_drums(a: &[u16], b: &[u16], rng: &mut Rng) -> Vec<u16> {
    if a.len() != b.len() {
        return a.to_vec();
    }
    let m = DRUM_GROUPS[rng.below(DRUM_GROUPS.len())];
    a.iter().zip(b).map(|(&x, &y)| (x & !m) | (y & m)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_bars() -> Vec<u16> {
        let mut t = vec![0u16; 32];
        t[0] = 0b1; // kick, bar 1
        t[4] = 0b110; // snare + closed hi-hat, bar 1
        t[16] = 0b1000; // bar 2
        t
    }

    #[test]
    fn recombination_swaps_one_group_and_keeps_the_rest() {
        let a = two_bars();
        let mut b = vec![0u16; 32];
        b[2] = 0b1_0000_0001; // kick + ride
        b[8] = 0b111_0000; // three toms
        let mut rng = Rng::new(5);
        let mut seen = [false; 3];
        for _ in 0..200 {
            let r = recombine_drums(&a, &b, &mut rng);
            let g = DRUM_GROUPS
                .iter()
                .position(|&m| r.iter().zip(&b).all(|(x, y)| x & m == y & m))
                .expect("one group comes from b");
            seen[g] = true;
            let m = DRUM_GROUPS[g];
            assert!(r.iter().zip(&a).all(|(x, y)| x & !m == y & !m));
        }
        assert_eq!(seen, [true; 3]);
        // The groups cover the nine classes once each.
        assert_eq!(DRUM_GROUPS.iter().fold(0, |acc, m| acc | m), 0b1_1111_1111);
        assert_eq!(DRUM_GROUPS.iter().map(|m| m.count_ones()).sum::<u32>(), 9);
        assert_eq!(recombine_drums(&a, &b[..16], &mut rng), a);
    }

    #[test]
    fn off_is_the_identity() {
        let t = two_bars();
        assert_eq!(augment_drums(&t, false, 0.0, &mut Rng::new(1)), t);
    }

    #[test]
    fn rotation_swaps_the_bars_of_a_two_bar_window_about_half_the_time() {
        let t = two_bars();
        let mut swapped = 0;
        let mut rng = Rng::new(3);
        for _ in 0..1000 {
            let a = augment_drums(&t, true, 0.0, &mut rng);
            if a != t {
                assert_eq!(&a[..16], &t[16..]);
                assert_eq!(&a[16..], &t[..16]);
                swapped += 1;
            }
        }
        assert!((400..600).contains(&swapped), "{swapped}");
        // A window that is not whole bars is left as it is.
        let odd = vec![1u16; 20];
        assert_eq!(augment_drums(&odd, true, 0.0, &mut rng), odd);
    }

    #[test]
    fn hit_dropout_removes_hits_only_and_at_its_rate() {
        let t = vec![0b1_1111_1111u16; 32]; // all 9 classes at every step: 288 hits
        let mut rng = Rng::new(5);
        let (mut kept, mut total) = (0u32, 0u32);
        for _ in 0..200 {
            let a = augment_drums(&t, false, 0.25, &mut rng);
            for (x, y) in a.iter().zip(&t) {
                assert_eq!(x & !y, 0, "no hit added");
                kept += x.count_ones();
                total += y.count_ones();
            }
        }
        let rate = 1.0 - kept as f64 / total as f64;
        assert!((rate - 0.25).abs() < 0.01, "{rate}");
        assert_eq!(
            augment_drums(&[0u16; 32], true, 0.5, &mut rng),
            vec![0u16; 32]
        );
    }
}
