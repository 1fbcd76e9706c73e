//! The cross-encoder on a tiny random BERT the test writes itself (the models'
//! fixture plus a pooler and a one-label classifier), checked against an independent
//! forward pass: plain f64 loops over the same weights, token ids worked out from the
//! fixture's vocabulary.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{Device, Tensor};

use super::*;
use crate::llm::wait;
use crate::models::{fixture, threads};

fn dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lrm-cross-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The fixture's encoder under `bert.`, with a pooler and a classifier head.
fn write_cross_encoder(dir: &Path, max_seq_length: usize) {
    fixture::write(dir, "bert.", max_seq_length);
    let path = dir.join("model.safetensors");
    let mut weights = candle_core::safetensors::load(&path, &Device::Cpu).unwrap();
    let mut rng = fastrand::Rng::with_seed(11);
    let mut put = |name: &str, shape: &[usize]| {
        let n = shape.iter().product();
        let values: Vec<f32> = (0..n).map(|_| 2.0 * rng.f32() - 1.0).collect();
        weights.insert(
            name.to_owned(),
            Tensor::from_vec(values, shape, &Device::Cpu).unwrap(),
        );
    };
    let h = fixture::HIDDEN;
    put("bert.pooler.dense.weight", &[h, h]);
    put("bert.pooler.dense.bias", &[h]);
    put("classifier.weight", &[1, h]);
    put("classifier.bias", &[1]);
    candle_core::safetensors::save(&weights, &path).unwrap();
}

fn open(dir: &Path) -> CrossEncoder {
    let model = ModelDirectory::open(dir).unwrap();
    CrossEncoder::new(Arc::new(model), threads::pool(1).unwrap()).unwrap()
}

/// The same model as plain numbers.
struct Reference {
    weights: HashMap<String, Vec<f64>>,
    heads: usize,
}

impl Reference {
    fn load(dir: &Path) -> Reference {
        let tensors =
            candle_core::safetensors::load(dir.join("model.safetensors"), &Device::Cpu).unwrap();
        let weights = tensors
            .into_iter()
            .map(|(name, t)| {
                let flat: Vec<f32> = t.flatten_all().unwrap().to_vec1().unwrap();
                (name, flat.into_iter().map(f64::from).collect())
            })
            .collect();
        Reference { weights, heads: 2 }
    }

    fn w(&self, name: &str) -> &[f64] {
        &self.weights[name]
    }

    /// `x · Wᵀ + b` for a weight of `out × x.len()`.
    fn linear(&self, x: &[f64], name: &str) -> Vec<f64> {
        let (w, b) = (
            self.w(&format!("{name}.weight")),
            self.w(&format!("{name}.bias")),
        );
        (0..b.len())
            .map(|o| b[o] + (0..x.len()).map(|i| w[o * x.len() + i] * x[i]).sum::<f64>())
            .collect()
    }

    fn norm(&self, x: &[f64], name: &str) -> Vec<f64> {
        let (w, b) = (
            self.w(&format!("{name}.weight")),
            self.w(&format!("{name}.bias")),
        );
        let mean = x.iter().sum::<f64>() / x.len() as f64;
        let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / x.len() as f64;
        x.iter()
            .enumerate()
            .map(|(i, v)| (v - mean) / (var + 1e-12).sqrt() * w[i] + b[i])
            .collect()
    }

    /// The sigmoid of the classifier's logit for one pair.
    fn score(&self, ids: &[usize], types: &[usize]) -> f64 {
        let h = fixture::HIDDEN;
        let row = |name: &str, i: usize| self.w(name)[i * h..(i + 1) * h].to_vec();
        let mut xs: Vec<Vec<f64>> = (0..ids.len())
            .map(|p| {
                let word = row("bert.embeddings.word_embeddings.weight", ids[p]);
                let position = row("bert.embeddings.position_embeddings.weight", p);
                let kind = row("bert.embeddings.token_type_embeddings.weight", types[p]);
                let sum: Vec<f64> = (0..h).map(|i| word[i] + position[i] + kind[i]).collect();
                self.norm(&sum, "bert.embeddings.LayerNorm")
            })
            .collect();
        let head = h / self.heads;
        for layer in 0..2 {
            let l = format!("bert.encoder.layer.{layer}");
            let project = |n: &str, xs: &[Vec<f64>]| -> Vec<Vec<f64>> {
                xs.iter()
                    .map(|x| self.linear(x, &format!("{l}.attention.self.{n}")))
                    .collect()
            };
            let (q, k, v) = (
                project("query", &xs),
                project("key", &xs),
                project("value", &xs),
            );
            let mut context = vec![vec![0.0; h]; xs.len()];
            for hd in 0..self.heads {
                let span = hd * head..(hd + 1) * head;
                for (i, out) in context.iter_mut().enumerate() {
                    let scores: Vec<f64> = (0..xs.len())
                        .map(|j| {
                            span.clone().map(|d| q[i][d] * k[j][d]).sum::<f64>()
                                / (head as f64).sqrt()
                        })
                        .collect();
                    let max = scores.iter().cloned().fold(f64::MIN, f64::max);
                    let exp: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
                    let total: f64 = exp.iter().sum();
                    for d in span.clone() {
                        out[d] = (0..xs.len()).map(|j| exp[j] / total * v[j][d]).sum();
                    }
                }
            }
            xs = xs
                .iter()
                .zip(&context)
                .map(|(x, c)| {
                    let attended = self.linear(c, &format!("{l}.attention.output.dense"));
                    let sum: Vec<f64> = (0..h).map(|i| attended[i] + x[i]).collect();
                    let a = self.norm(&sum, &format!("{l}.attention.output.LayerNorm"));
                    let inner: Vec<f64> = self
                        .linear(&a, &format!("{l}.intermediate.dense"))
                        .into_iter()
                        .map(|u| 0.5 * u * (1.0 + erf(u / 2f64.sqrt())))
                        .collect();
                    let out = self.linear(&inner, &format!("{l}.output.dense"));
                    let sum: Vec<f64> = (0..h).map(|i| out[i] + a[i]).collect();
                    self.norm(&sum, &format!("{l}.output.LayerNorm"))
                })
                .collect();
        }
        let pooled: Vec<f64> = self
            .linear(&xs[0], "bert.pooler.dense")
            .into_iter()
            .map(f64::tanh)
            .collect();
        let logit = self.linear(&pooled, "classifier")[0];
        1.0 / (1.0 + (-logit).exp())
    }
}

/// Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7).
fn erf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.3275911 * x.abs());
    let poly = t
        * (0.254829592
            + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
    (1.0 - poly * (-x * x).exp()).copysign(x)
}

/// `[CLS] query [SEP] document [SEP]` from the fixture's vocabulary, and the segments.
fn pair(query: &str, document: &str) -> (Vec<usize>, Vec<usize>) {
    let id = |w: &str| 4 + fixture::WORDS.iter().position(|v| *v == w).unwrap();
    let q: Vec<usize> = query.split(' ').map(id).collect();
    let d: Vec<usize> = document.split(' ').map(id).collect();
    let ids = [vec![2], q.clone(), vec![3], d.clone(), vec![3]].concat();
    let types = [vec![0; q.len() + 2], vec![1; d.len() + 1]].concat();
    (ids, types)
}

fn docs(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn scores_match_an_independent_forward_pass() {
    let path = dir("reference");
    write_cross_encoder(&path, 64);
    let encoder = open(&path);
    let reference = Reference::load(&path);
    let query = "the red ball";
    let documents = docs(&[
        "a dog ran in the park",
        "the cat sat on the mat",
        "red ball",
        "the dog sat on a red mat in the park",
    ]);
    let scores = encoder.score_blocking(query, &documents).unwrap();
    for (document, score) in documents.iter().zip(&scores) {
        let (ids, types) = pair(query, document);
        let expected = reference.score(&ids, &types);
        assert!(
            (score - expected).abs() < 1e-5,
            "{document}: {score} vs {expected}"
        );
        assert!(*score > 0.0 && *score < 1.0);
    }
    let distinct: std::collections::BTreeSet<u64> =
        scores.iter().map(|s| (s * 1e6) as u64).collect();
    assert_eq!(distinct.len(), documents.len(), "{scores:?}");
    let _ = std::fs::remove_dir_all(&path);
}

#[test]
fn a_document_scores_the_same_alone_and_beside_longer_ones() {
    let path = dir("padding");
    write_cross_encoder(&path, 64);
    let encoder = open(&path);
    let alone = encoder.score_blocking("the cat", &docs(&["cat"])).unwrap();
    let batch = encoder
        .score_blocking(
            "the cat",
            &docs(&["cat", "a dog ran in the park on the red mat"]),
        )
        .unwrap();
    assert!((alone[0] - batch[0]).abs() < 1e-6, "{alone:?} {batch:?}");
    let _ = std::fs::remove_dir_all(&path);
}

#[test]
fn a_long_pair_is_cut_longest_first_to_the_window() {
    let path = dir("window");
    write_cross_encoder(&path, 8);
    let encoder = open(&path);
    let reference = Reference::load(&path);
    let long = "the dog ran in the park on a red mat";
    let score = encoder.score_blocking("red ball", &docs(&[long])).unwrap()[0];
    // 8 tokens: [CLS], the two query words, [SEP], three document words, [SEP].
    let (ids, types) = pair("red ball", "the dog ran");
    assert!((score - reference.score(&ids, &types)).abs() < 1e-5);
    let _ = std::fs::remove_dir_all(&path);
}

#[test]
fn rerank_orders_by_score_and_cuts_to_top_n() {
    let path = dir("order");
    write_cross_encoder(&path, 64);
    let encoder = open(&path);
    let documents = docs(&["a dog ran", "the cat sat", "red ball", "on the mat"]);
    let scores = encoder.score_blocking("the red ball", &documents).unwrap();
    let ranked = wait(encoder.rerank("the red ball", &documents, Some(3))).unwrap();
    assert_eq!(ranked.len(), 3);
    let mut expected: Vec<usize> = (0..4).collect();
    expected.sort_by(|a, b| scores[*b].total_cmp(&scores[*a]));
    assert_eq!(
        ranked.iter().map(|s| s.index).collect::<Vec<_>>(),
        expected[..3]
    );
    for s in &ranked {
        assert_eq!(s.relevance_score, scores[s.index]);
    }
    let _ = std::fs::remove_dir_all(&path);
}

#[test]
fn a_checkpoint_without_a_classifier_is_refused() {
    let path = dir("headless");
    fixture::write(&path, "", 64);
    let model = ModelDirectory::open(&path).unwrap();
    let refused = CrossEncoder::new(Arc::new(model), threads::pool(1).unwrap());
    assert!(
        matches!(refused, Err(LoadError::Unsupported { ref reason, .. }) if reason.contains("pooler")),
        "{:?}",
        refused.err()
    );
    let _ = std::fs::remove_dir_all(&path);
}
