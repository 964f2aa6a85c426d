//! The JSON files of `musicvae encode` / `musicvae decode`.
//!
//! `encode` writes
//! ```json
//! {"format": "musicvae-latent/1", "model": "cat-mel_2bar_small", "z_size": 256,
//!  "items": [{"source": "a.mid", "window": 0, "windows_in_file": 14, "start_time": 0.0,
//!             "qpm": 120.0, "mu": [...], "sigma": [...]}]}
//! ```
//! `decode` reads that format (μ of each item, or μ + σ·ε with `--sample`), and also a bare vector
//! `[0.1, ...]`, a list of vectors `[[...], [...]]`, or `{"z": [...]}`.

use crate::error::{Error, Result};
use crate::music::midi_in::{MAX_QPM, MIN_QPM};
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const FORMAT: &str = "musicvae-latent/1";

/// One encoded phrase.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LatentItem {
    pub source: String,
    pub window: usize,
    pub windows_in_file: usize,
    pub start_time: f64,
    pub qpm: f64,
    pub mu: Vec<f32>,
    pub sigma: Vec<f32>,
    /// The refined code (`encode --refine`, the default): `decode` decodes it instead of μ, and
    /// `decode --sample` draws around it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub z: Option<Vec<f32>>,
}

/// The file written by `encode`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LatentFile {
    pub format: String,
    pub model: String,
    pub z_size: usize,
    pub items: Vec<LatentItem>,
}

/// What `decode` takes out of a file: the vectors and, when known, their tempo.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeInput {
    pub mu: Vec<Vec<f32>>,
    /// σ per vector when the file has it (the `encode` format).
    pub sigma: Option<Vec<Vec<f32>>>,
    pub qpm: Option<f64>,
    pub model: Option<String>,
}

fn numbers(v: &serde_json::Value) -> Option<Vec<f32>> {
    v.as_array()?
        .iter()
        .map(|x| x.as_f64().map(|f| f as f32))
        .collect()
}

/// Parse any of the accepted forms.
pub fn parse_latent_json(path: &Path, bytes: &[u8]) -> Result<DecodeInput> {
    let bad = |why: String| Error::Json {
        path: path.to_path_buf(),
        reason: why,
    };
    let v: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
    if v.get("format").is_some() {
        let f: LatentFile =
            serde_json::from_value(v).map_err(|e| bad(format!("not a {FORMAT} file: {e}")))?;
        if f.format != FORMAT {
            return Err(bad(format!("format '{}' is not {FORMAT}", f.format)));
        }
        if f.items.is_empty() {
            return Err(bad("holds no latent vectors".into()));
        }
        for (k, i) in f.items.iter().enumerate() {
            if !(MIN_QPM..=MAX_QPM).contains(&i.qpm) {
                return Err(bad(format!(
                    "item {k}: qpm {} is not a tempo (accepted: {MIN_QPM}–{MAX_QPM})",
                    i.qpm
                )));
            }
            if i.mu.iter().any(|x| !x.is_finite()) {
                return Err(bad(format!(
                    "item {k}: mu holds a number too large for a latent vector"
                )));
            }
            if let Some(z) = &i.z {
                if z.len() != i.mu.len() || z.iter().any(|x| !x.is_finite()) {
                    return Err(bad(format!(
                        "item {k}: z (the refined code) must hold as many finite numbers as mu ({})",
                        i.mu.len()
                    )));
                }
            }
            if i.sigma.iter().any(|s| !(s.is_finite() && *s >= 0.0)) {
                return Err(bad(format!(
                    "item {k}: sigma holds a negative or infinite value"
                )));
            }
        }
        return Ok(DecodeInput {
            qpm: f.items.first().map(|i| i.qpm),
            mu: f
                .items
                .iter()
                .map(|i| i.z.clone().unwrap_or_else(|| i.mu.clone()))
                .collect(),
            sigma: Some(f.items.iter().map(|i| i.sigma.clone()).collect()),
            model: Some(f.model),
        });
    }
    let z = v.get("z").unwrap_or(&v);
    let mu = if let Some(one) = numbers(z) {
        vec![one]
    } else if let Some(list) = z
        .as_array()
        .map(|a| a.iter().map(numbers).collect::<Option<Vec<_>>>())
    {
        list.ok_or_else(|| bad("expected a list of numbers or a list of such lists".into()))?
    } else {
        return Err(bad(format!(
            "expected a {FORMAT} file, a vector of numbers, a list of vectors or {{\"z\": ...}}"
        )));
    };
    if mu.is_empty() || mu.iter().any(|m| m.is_empty()) {
        return Err(bad("holds an empty vector".into()));
    }
    if mu.iter().flatten().any(|x| !x.is_finite()) {
        return Err(bad("holds a number too large for a latent vector".into()));
    }
    Ok(DecodeInput {
        mu,
        sigma: None,
        qpm: None,
        model: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_forms() {
        let p = Path::new("z.json");
        assert_eq!(
            parse_latent_json(p, b"[1, 2.5]").unwrap().mu,
            vec![vec![1.0, 2.5]]
        );
        assert_eq!(parse_latent_json(p, b"[[1], [2]]").unwrap().mu.len(), 2);
        assert_eq!(
            parse_latent_json(p, br#"{"z": [3]}"#).unwrap().mu,
            vec![vec![3.0]]
        );
        let f = LatentFile {
            format: FORMAT.into(),
            model: "m".into(),
            z_size: 1,
            items: vec![LatentItem {
                source: "a".into(),
                window: 0,
                windows_in_file: 1,
                start_time: 0.0,
                qpm: 90.0,
                mu: vec![0.5],
                sigma: vec![0.1],
                z: None,
            }],
        };
        let d = parse_latent_json(p, &serde_json::to_vec(&f).unwrap()).unwrap();
        assert_eq!(d.qpm, Some(90.0));
        assert_eq!(d.sigma, Some(vec![vec![0.1]]));
        assert_eq!(d.mu, vec![vec![0.5]]);
        // A refined code is what gets decoded; one of the wrong size or not finite is refused.
        let mut refined = f.clone();
        refined.items[0].z = Some(vec![0.75]);
        let d = parse_latent_json(p, &serde_json::to_vec(&refined).unwrap()).unwrap();
        assert_eq!(d.mu, vec![vec![0.75]]);
        refined.items[0].z = Some(vec![0.75, 1.0]);
        let err = parse_latent_json(p, &serde_json::to_vec(&refined).unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("refined code"), "{err}");
        for bad in [
            &b"nope"[..],
            b"[]",
            b"[[]]",
            br#"{"format": "x", "model": "m", "z_size": 1, "items": []}"#,
            br#"["a"]"#,
            br#"[1e39]"#,
            br#"{"format": "musicvae-latent/1", "model": "m", "z_size": 1, "items": [{"source": "a", "window": 0, "windows_in_file": 1, "start_time": 0, "qpm": 0, "mu": [0], "sigma": [0]}]}"#,
            br#"{"format": "musicvae-latent/1", "model": "m", "z_size": 1, "items": [{"source": "a", "window": 0, "windows_in_file": 1, "start_time": 0, "qpm": -1, "mu": [0], "sigma": [0]}]}"#,
        ] {
            let e = parse_latent_json(p, bad).unwrap_err().to_string();
            assert!(e.starts_with("z.json: "), "{e}");
        }
    }
}
