//! A confusion matrix as a picture: rows = true label, columns = predicted label, cells shaded by
//! the row-normalised fraction and annotated with the count.

use super::canvas::{blues, Canvas, BLACK, DARK_GREY, WHITE};

/// Draw `counts[true][predicted]` with `labels` on both axes.
pub fn confusion_matrix(labels: &[String], counts: &[Vec<usize>], title: &str) -> Canvas {
    let n = labels.len();
    let cell: i64 = 56;
    let label_w = labels
        .iter()
        .map(|l| Canvas::text_width(l, 1))
        .max()
        .unwrap_or(0)
        + 12;
    let left = label_w + 20;
    let top: i64 = 40 + label_w;
    let w = (left + cell * n as i64 + 20).max(Canvas::text_width(title, 2) + 20);
    let h = top + cell * n as i64 + 40;
    let mut c = Canvas::new(w as u32, h as u32, WHITE);
    c.text(10, 8, title, 2, BLACK);
    for (i, l) in labels.iter().enumerate() {
        // Row labels (true) on the left, column labels (predicted) vertical on top.
        c.text(
            left - Canvas::text_width(l, 1) - 6,
            top + i as i64 * cell + cell / 2 - 4,
            l,
            1,
            BLACK,
        );
        c.text_vertical(left + i as i64 * cell + cell / 2 - 4, top - 6, l, 1, BLACK);
    }
    c.text(
        left,
        h - 22,
        "predicted (columns) / true (rows)",
        1,
        DARK_GREY,
    );
    for (i, row) in counts.iter().enumerate().take(n) {
        let total: usize = row.iter().sum();
        for (j, &v) in row.iter().enumerate().take(n) {
            let frac = if total > 0 {
                v as f64 / total as f64
            } else {
                0.0
            };
            let (x, y) = (left + j as i64 * cell, top + i as i64 * cell);
            c.fill_rect(x, y, cell, cell, blues(frac));
            c.rect(x, y, cell, cell, DARK_GREY);
            let s = v.to_string();
            let col = if frac > 0.5 { WHITE } else { BLACK };
            c.text(
                x + cell / 2 - Canvas::text_width(&s, 1) / 2,
                y + cell / 2 - 4,
                &s,
                1,
                col,
            );
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagonal_is_darkest() {
        let labels = vec!["a".to_string(), "b".to_string()];
        let c = confusion_matrix(&labels, &[vec![9, 1], vec![2, 8]], "cm");
        assert!(c.width() > 100 && c.height() > 100);
    }
}
