use std::sync::Arc;

use super::bert::TokenBatch;
use super::directory::Pooling;
use super::{LoadError, ModelDirectory, fixture, threads};
use crate::embedding::Embedder;
use crate::embedding::local::LocalEmbedder;

fn dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("lrm-models-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn embedder(path: &std::path::Path) -> LocalEmbedder {
    let model = ModelDirectory::open(path).unwrap();
    LocalEmbedder::new(Arc::new(model), threads::pool(1).unwrap())
}

fn cos(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn texts(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn padding_rows_to_the_longest_member() {
    let batch = TokenBatch::pad(&[(vec![5, 6, 7], vec![0, 0, 1]), (vec![8], vec![0])], 0);
    assert_eq!((batch.rows, batch.len), (2, 3));
    assert_eq!(batch.ids, [5, 6, 7, 8, 0, 0]);
    assert_eq!(batch.type_ids, [0, 0, 1, 0, 0, 0]);
    assert_eq!(batch.mask, [1, 1, 1, 1, 0, 0]);
}

#[test]
fn a_text_embeds_the_same_alone_and_beside_a_longer_one() {
    let path = dir("padding");
    fixture::write(&path, "", 64);
    let e = embedder(&path);
    assert_eq!(e.dim(), fixture::HIDDEN);
    let alone = crate::llm::wait(e.embed(&texts(&["the cat sat"]))).unwrap();
    let both = crate::llm::wait(e.embed(&texts(&[
        "the cat sat",
        "a red ball ran in the park on the mat",
    ])))
    .unwrap();
    assert!(
        cos(&alone[0], &both[0]) > 0.99999,
        "{}",
        cos(&alone[0], &both[0])
    );
    assert!(cos(&both[0], &both[1]) < 0.9999);
    for v in &both {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
    }
    let _ = std::fs::remove_dir_all(&path);
}

#[test]
fn a_text_longer_than_the_window_is_pooled_over_windows_not_truncated() {
    let path = dir("windows");
    // Six tokens a window: [CLS], four words, [SEP].
    fixture::write(&path, "", 6);
    let e = embedder(&path);
    let long = "the cat sat on the mat the dog ran in the park";
    let head = "the cat sat on";
    let v = e.embed_blocking(&texts(&[long, head])).unwrap();
    assert!(cos(&v[0], &v[1]) < 0.9999, "the tail was dropped");
    assert!(v[0].iter().all(|x| x.is_finite()));
    // The same words in one window (a model wide enough) are another vector again:
    // each window is encoded in its own context.
    let wide = dir("windows-wide");
    fixture::write(&wide, "", 64);
    let w = embedder(&wide).embed_blocking(&texts(&[long])).unwrap();
    assert!(cos(&v[0], &w[0]) < 0.99999);
    let _ = std::fs::remove_dir_all(&path);
    let _ = std::fs::remove_dir_all(&wide);
}

#[test]
fn weights_under_a_bert_prefix_and_cls_pooling_load() {
    let path = dir("prefix");
    fixture::write(&path, "bert.", 64);
    std::fs::create_dir_all(path.join("1_Pooling")).unwrap();
    std::fs::write(
        path.join("1_Pooling/config.json"),
        r#"{"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}"#,
    )
    .unwrap();
    let model = ModelDirectory::open(&path).unwrap();
    assert_eq!(model.encoder_prefix, "bert");
    assert_eq!(model.pooling, Pooling::Cls);
    let batch = TokenBatch::pad(&[(vec![2, 4, 5, 3], vec![0; 4])], 0);
    let states = model.encoder.forward(&batch).unwrap();
    assert_eq!(states.states.dims(), [1, 4, fixture::HIDDEN]);
    assert_eq!(states.cls().unwrap().dims(), [1, fixture::HIDDEN]);
    std::fs::write(
        path.join("1_Pooling/config.json"),
        r#"{"pooling_mode_max_tokens": true}"#,
    )
    .unwrap();
    let error = ModelDirectory::open(&path).err().unwrap();
    assert!(matches!(error, LoadError::Unsupported { .. }), "{error}");
    let _ = std::fs::remove_dir_all(&path);
}

#[test]
fn a_missing_file_is_named() {
    let path = dir("missing");
    std::fs::create_dir_all(&path).unwrap();
    let error = ModelDirectory::open(&path).err().unwrap();
    assert!(error.to_string().contains("config.json"), "{error}");
    fixture::write(&path, "", 64);
    std::fs::remove_file(path.join("tokenizer.json")).unwrap();
    let error = ModelDirectory::open(&path).err().unwrap();
    assert!(error.to_string().contains("tokenizer.json"), "{error}");
    let _ = std::fs::remove_dir_all(&path);
}
