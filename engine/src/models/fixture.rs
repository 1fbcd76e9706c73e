//! A tiny random BERT directory for unit tests: a WordPiece tokenizer over a dozen
//! words and a two-layer encoder with deterministic weights.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};

pub const WORDS: &[&str] = &[
    "the", "cat", "sat", "on", "mat", "dog", "ran", "in", "park", "a", "red", "ball",
];

pub const HIDDEN: usize = 16;

fn tensor(rng: &mut fastrand::Rng, shape: &[usize]) -> Tensor {
    let n = shape.iter().product();
    let values: Vec<f32> = (0..n).map(|_| rng.f32() - 0.5).collect();
    Tensor::from_vec(values, shape, &Device::Cpu).unwrap()
}

/// Writes the model into `dir`, its weights under `prefix` (`""` or `"bert."`).
pub fn write(dir: &Path, prefix: &str, max_seq_length: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let vocab_size = 4 + WORDS.len();
    let config = serde_json::json!({
        "model_type": "bert", "vocab_size": vocab_size, "hidden_size": HIDDEN,
        "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 32,
        "hidden_act": "gelu", "max_position_embeddings": 64, "type_vocab_size": 2,
        "layer_norm_eps": 1e-12, "pad_token_id": 0
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let sentence = serde_json::json!({"max_seq_length": max_seq_length});
    std::fs::write(dir.join("sentence_bert_config.json"), sentence.to_string()).unwrap();
    let mut vocab = serde_json::json!({"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3});
    for (i, word) in WORDS.iter().enumerate() {
        vocab[*word] = serde_json::json!(4 + i);
    }
    let special = |id: u32, content: &str| {
        serde_json::json!({"id": id, "content": content, "single_word": false,
            "lstrip": false, "rstrip": false, "normalized": false, "special": true})
    };
    let token = |name: &str, type_id: u32| serde_json::json!({"SpecialToken": {"id": name, "type_id": type_id}});
    let sequence = |name: &str, type_id: u32| serde_json::json!({"Sequence": {"id": name, "type_id": type_id}});
    let tokenizer = serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": [special(0, "[PAD]"), special(1, "[UNK]"), special(2, "[CLS]"), special(3, "[SEP]")],
        "normalizer": {"type": "BertNormalizer", "clean_text": true,
            "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "TemplateProcessing",
            "single": [token("[CLS]", 0), sequence("A", 0), token("[SEP]", 0)],
            "pair": [token("[CLS]", 0), sequence("A", 0), token("[SEP]", 0),
                sequence("B", 1), token("[SEP]", 1)],
            "special_tokens": {
                "[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
                "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}},
        "decoder": null,
        "model": {"type": "WordPiece", "unk_token": "[UNK]",
            "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
            "vocab": vocab}
    });
    std::fs::write(dir.join("tokenizer.json"), tokenizer.to_string()).unwrap();
    let mut rng = fastrand::Rng::with_seed(7);
    let mut weights: HashMap<String, Tensor> = HashMap::new();
    let mut put = |name: String, shape: &[usize]| {
        // Unit norms: random gains and shifts would make every pooled vector alike.
        let value = match name.contains("LayerNorm") {
            true if name.ends_with("weight") => Tensor::ones(shape, DType::F32, &Device::Cpu),
            true => Tensor::zeros(shape, DType::F32, &Device::Cpu),
            false => Ok(tensor(&mut rng, shape)),
        };
        weights.insert(format!("{prefix}{name}"), value.unwrap());
    };
    put(
        "embeddings.word_embeddings.weight".into(),
        &[vocab_size, HIDDEN],
    );
    put(
        "embeddings.position_embeddings.weight".into(),
        &[64, HIDDEN],
    );
    put(
        "embeddings.token_type_embeddings.weight".into(),
        &[2, HIDDEN],
    );
    for norm in ["embeddings.LayerNorm".to_owned()]
        .into_iter()
        .chain((0..2).flat_map(|i| {
            [
                format!("encoder.layer.{i}.attention.output.LayerNorm"),
                format!("encoder.layer.{i}.output.LayerNorm"),
            ]
        }))
    {
        put(format!("{norm}.weight"), &[HIDDEN]);
        put(format!("{norm}.bias"), &[HIDDEN]);
    }
    for i in 0..2 {
        let l = format!("encoder.layer.{i}");
        for (name, out, inp) in [
            ("attention.self.query", HIDDEN, HIDDEN),
            ("attention.self.key", HIDDEN, HIDDEN),
            ("attention.self.value", HIDDEN, HIDDEN),
            ("attention.output.dense", HIDDEN, HIDDEN),
            ("intermediate.dense", 32, HIDDEN),
            ("output.dense", HIDDEN, 32),
        ] {
            put(format!("{l}.{name}.weight"), &[out, inp]);
            put(format!("{l}.{name}.bias"), &[out]);
        }
    }
    candle_core::safetensors::save(&weights, dir.join("model.safetensors")).unwrap();
}
