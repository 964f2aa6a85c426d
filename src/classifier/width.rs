//! Channel widths, shared by MobileNetV3, its squeeze-and-excitation blocks and the ResNet:
//! torchvision's rounding of `c · α` to a multiple of 8.

/// torchvision's `_make_divisible`: round `v` to the nearest multiple of `divisor` (at least
/// `divisor`), adding one `divisor` if rounding down lost more than 10 %.
pub fn make_divisible(v: f64, divisor: usize) -> usize {
    let d = divisor as f64;
    let mut new_v = (((v + d / 2.0) / d).floor() * d).max(d);
    if new_v < 0.9 * v {
        new_v += d;
    }
    new_v as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn make_divisible_values() {
        assert_eq!(make_divisible(16.0, 8), 16);
        assert_eq!(make_divisible(12.0, 8), 16); // 24 × 0.5
        assert_eq!(make_divisible(18.0, 8), 24); // 72 / 4: 16 would lose > 10 %
        assert_eq!(make_divisible(30.0, 8), 32);
        assert_eq!(make_divisible(3.0, 8), 8);
        assert_eq!(make_divisible(96.0 * 0.75, 8), 72);
        assert_eq!(make_divisible(1024.0 * 0.75, 8), 768);
        assert_eq!(make_divisible(88.0 * 0.35, 8), 32); // 30.8 → 32
    }
}
