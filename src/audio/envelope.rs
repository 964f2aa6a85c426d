//! ADSR envelope without clicks: a raised-cosine attack, an exponential decay to the sustain level,
//! and a release that starts from whatever level the note reached and lands exactly on zero with
//! zero slope.

use std::f64::consts::PI;

/// Attack, decay and release times in seconds; sustain level in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Adsr {
    pub attack: f64,
    /// Time constant of the exponential fall from 1 to `sustain`.
    pub decay: f64,
    pub sustain: f64,
    /// Length of the release; the level is exactly 0 from `release` seconds after the note-off.
    pub release: f64,
}

impl Adsr {
    /// Level while the key is held, `t` seconds after the onset.
    pub fn held(&self, t: f64) -> f64 {
        if t <= 0.0 {
            0.0
        } else if t < self.attack {
            0.5 - 0.5 * (PI * t / self.attack).cos()
        } else {
            let x = (t - self.attack) / self.decay.max(1e-6);
            self.sustain + (1.0 - self.sustain) * (-x).exp()
        }
    }

    /// Level `t` seconds after the onset of a note held for `held_for` seconds.
    pub fn level(&self, t: f64, held_for: f64) -> f64 {
        if t < held_for {
            return self.held(t);
        }
        let x = (t - held_for) / self.release.max(1e-6);
        if x >= 1.0 {
            0.0
        } else {
            self.held(held_for) * (1.0 - x).powi(3)
        }
    }

    /// Seconds from the onset until the envelope is silent for a note held `held_for` seconds.
    pub fn length(&self, held_for: f64) -> f64 {
        held_for.max(0.0) + self.release
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENV: Adsr = Adsr {
        attack: 0.01,
        decay: 0.1,
        sustain: 0.5,
        release: 0.2,
    };

    #[test]
    fn starts_and_ends_at_zero_and_is_continuous() {
        let held = 0.3;
        let sr = 44100.0;
        let n = (ENV.length(held) * sr) as usize + 10;
        let levels: Vec<f64> = (0..n).map(|i| ENV.level(i as f64 / sr, held)).collect();
        assert_eq!(levels[0], 0.0);
        assert_eq!(*levels.last().unwrap(), 0.0);
        let max_step = levels
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0, f64::max);
        // The steepest part is the 10 ms attack: at most π/2 / 441 per sample.
        assert!(max_step < 0.004, "jump {max_step}");
        assert!((ENV.level(0.01, held) - 1.0).abs() < 1e-9);
        assert!((ENV.level(0.29, held) - 0.5).abs() < 0.05);
    }

    #[test]
    fn short_note_releases_from_where_it_got() {
        let l = ENV.level(0.005, 0.005);
        assert!(l > 0.4 && l < 0.6, "{l}");
        assert!(ENV.level(0.006, 0.005) < l);
        assert_eq!(ENV.level(0.3, 0.005), 0.0);
    }
}
