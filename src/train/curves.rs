//! `RUN_DIR/curves.png`: the training curves drawn from `metrics.jsonl` (loss, KL, accuracy on the
//! training batches and the held-out split, β and learning rate).

use crate::error::{Error, Result};
use crate::plot::{grid, line_chart, ChartSpec, Series};
use std::path::Path;

/// Read `metrics.jsonl` and draw `curves.png` beside it (atomically).
pub fn draw_curves(run_dir: &Path) -> Result<()> {
    let metrics = run_dir.join("metrics.jsonl");
    let text = std::fs::read_to_string(&metrics).map_err(|e| Error::io(&metrics, e))?;
    let mut s: Vec<Series> = [
        "loss",
        "reconstruction",
        "KL (bits)",
        "train accuracy",
        "held-out teacher-forced",
        "held-out sampled",
        "beta",
        "learning rate",
    ]
    .iter()
    .map(|n| Series::new(*n, Vec::new()))
    .collect();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let Some(step) = v["step"].as_f64() else {
            continue;
        };
        if let Some(e) = v.get("eval") {
            for (i, key) in [(4, "teacher_forced_accuracy"), (5, "sampled_accuracy")] {
                if let Some(x) = e[key].as_f64() {
                    s[i].points.push((step, x));
                }
            }
            continue;
        }
        for (i, key) in [
            (0, "loss"),
            (1, "r_loss"),
            (2, "kl_bits"),
            (3, "accuracy"),
            (6, "beta"),
            (7, "lr"),
        ] {
            if let Some(x) = v[key].as_f64() {
                s[i].points.push((step, x));
            }
        }
    }
    let chart =
        |series: &[Series], title: &str, y: &str, range: Option<(f64, f64)>, log_y: bool| {
            line_chart(
                series,
                &ChartSpec {
                    y_range: range,
                    log_y,
                    ..ChartSpec::new(title, "step", y)
                },
            )
        };
    let charts = vec![
        chart(&s[0..2], "loss (nats per sequence)", "nats", None, false),
        chart(&s[2..3], "KL divergence", "bits", None, false),
        chart(
            &s[3..6],
            "accuracy",
            "fraction of steps",
            Some((0.0, 1.0)),
            false,
        ),
        chart(
            &s[6..8],
            "beta and learning rate",
            "value (log)",
            None,
            true,
        ),
    ];
    grid(&charts, 2).save_png(&run_dir.join("curves.png"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_from_metrics() {
        let d = tempfile::tempdir().unwrap();
        let mut lines = String::new();
        for step in 1..=20 {
            lines.push_str(&format!(
                "{{\"step\":{step},\"loss\":{},\"r_loss\":{},\"kl_bits\":3.0,\"beta\":0.1,\"lr\":0.001,\"accuracy\":0.5}}\n",
                100.0 / step as f64,
                90.0 / step as f64
            ));
        }
        lines.push_str(
            "{\"step\":20,\"eval\":{\"teacher_forced_accuracy\":0.8,\"sampled_accuracy\":0.6}}\n",
        );
        std::fs::write(d.path().join("metrics.jsonl"), lines).unwrap();
        draw_curves(d.path()).unwrap();
        let png = std::fs::read(d.path().join("curves.png")).unwrap();
        assert_eq!(&png[1..4], b"PNG");
    }
}
