//! A BERT encoder (BertModel without its pooler): embeddings, then N post-norm
//! transformer layers, giving one hidden state per token. Written against candle's
//! tensors rather than taken from candle-transformers, which would compile every model
//! it ships for the one we run; the pooler and any head (a sentence embedding's mean
//! pooling, a cross-encoder's classifier) are the caller's, built on [`HiddenStates`].

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Embedding, LayerNorm, Linear, VarBuilder};
use serde::Deserialize;

/// The part of a Hugging Face `config.json` the encoder needs.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct BertConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    #[serde(default = "default_activation")]
    pub hidden_act: Activation,
    pub max_position_embeddings: usize,
    #[serde(default = "default_type_vocab_size")]
    pub type_vocab_size: usize,
    #[serde(default = "default_layer_norm_eps")]
    pub layer_norm_eps: f64,
    #[serde(default)]
    pub pad_token_id: u32,
}

fn default_activation() -> Activation {
    Activation::Gelu
}

fn default_type_vocab_size() -> usize {
    2
}

fn default_layer_norm_eps() -> f64 {
    1e-12
}

/// `hidden_act`, by its Hugging Face names.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
pub enum Activation {
    /// The exact (erf) GELU, BERT's own.
    #[serde(rename = "gelu")]
    Gelu,
    /// The tanh approximation.
    #[serde(rename = "gelu_new", alias = "gelu_pytorch_tanh")]
    GeluTanh,
    #[serde(rename = "relu")]
    Relu,
}

impl Activation {
    fn apply(self, xs: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Activation::Gelu => xs.gelu_erf(),
            Activation::GeluTanh => xs.gelu(),
            Activation::Relu => xs.relu(),
        }
    }
}

/// Tokenized texts (or text pairs), padded to the longest row: `rows × len` ids,
/// segment ids and an attention mask (1 for a real token, 0 for padding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenBatch {
    pub rows: usize,
    pub len: usize,
    pub ids: Vec<u32>,
    pub type_ids: Vec<u32>,
    pub mask: Vec<u32>,
}

impl TokenBatch {
    /// Pads each row (ids with their segment ids) with `pad_id` to the longest one.
    pub fn pad(rows: &[(Vec<u32>, Vec<u32>)], pad_id: u32) -> TokenBatch {
        let len = rows.iter().map(|(ids, _)| ids.len()).max().unwrap_or(0);
        let mut batch = TokenBatch {
            rows: rows.len(),
            len,
            ids: Vec::with_capacity(rows.len() * len),
            type_ids: Vec::with_capacity(rows.len() * len),
            mask: Vec::with_capacity(rows.len() * len),
        };
        for (ids, type_ids) in rows {
            let padding = len - ids.len();
            batch.ids.extend(ids);
            batch.ids.extend(std::iter::repeat_n(pad_id, padding));
            let mut types = type_ids.clone();
            types.resize(ids.len(), 0);
            batch.type_ids.extend(types);
            batch.type_ids.extend(std::iter::repeat_n(0, padding));
            batch.mask.extend(std::iter::repeat_n(1, ids.len()));
            batch.mask.extend(std::iter::repeat_n(0, padding));
        }
        batch
    }

    fn tensor(&self, values: &[u32], device: &Device) -> candle_core::Result<Tensor> {
        Tensor::from_slice(values, (self.rows, self.len), device)
    }
}

/// The encoder's output for a [`TokenBatch`]: `rows × len × hidden` states.
pub struct HiddenStates {
    pub states: Tensor,
    /// `rows × len`, 1.0 for a real token.
    pub mask: Tensor,
}

impl HiddenStates {
    /// Each row's first token (`[CLS]`): `rows × hidden`.
    pub fn cls(&self) -> candle_core::Result<Tensor> {
        self.states.narrow(1, 0, 1)?.squeeze(1)
    }

    /// Each row's masked sum of token states (`rows × hidden`) and its token count
    /// (`rows`): mean pooling is their quotient, and windows of one text add up.
    pub fn masked_sum(&self) -> candle_core::Result<(Tensor, Tensor)> {
        let mask = self.mask.unsqueeze(2)?;
        let sum = self.states.broadcast_mul(&mask)?.sum(1)?;
        Ok((sum, self.mask.sum(1)?))
    }
}

struct Embeddings {
    words: Embedding,
    positions: Embedding,
    types: Embedding,
    norm: LayerNorm,
}

struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_out: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    out: Linear,
    out_norm: LayerNorm,
}

/// BERT's encoder, on the CPU.
pub struct Encoder {
    config: BertConfig,
    embeddings: Embeddings,
    layers: Vec<Layer>,
    device: Device,
}

fn norm(config: &BertConfig, vb: VarBuilder) -> candle_core::Result<LayerNorm> {
    candle_nn::layer_norm(config.hidden_size, config.layer_norm_eps, vb)
}

impl Encoder {
    /// Loads the weights under `vb` (Hugging Face names: `embeddings.*`,
    /// `encoder.layer.N.*`, already scoped past any `bert.` prefix).
    pub fn load(vb: VarBuilder, config: &BertConfig) -> candle_core::Result<Encoder> {
        let h = config.hidden_size;
        let e = vb.pp("embeddings");
        let embeddings = Embeddings {
            words: candle_nn::embedding(config.vocab_size, h, e.pp("word_embeddings"))?,
            positions: candle_nn::embedding(
                config.max_position_embeddings,
                h,
                e.pp("position_embeddings"),
            )?,
            types: candle_nn::embedding(config.type_vocab_size, h, e.pp("token_type_embeddings"))?,
            norm: norm(config, e.pp("LayerNorm"))?,
        };
        let layers = (0..config.num_hidden_layers)
            .map(|i| {
                let l = vb.pp(format!("encoder.layer.{i}"));
                let (a, s) = (l.pp("attention"), l.pp("attention.self"));
                Ok(Layer {
                    query: candle_nn::linear(h, h, s.pp("query"))?,
                    key: candle_nn::linear(h, h, s.pp("key"))?,
                    value: candle_nn::linear(h, h, s.pp("value"))?,
                    attention_out: candle_nn::linear(h, h, a.pp("output.dense"))?,
                    attention_norm: norm(config, a.pp("output.LayerNorm"))?,
                    intermediate: candle_nn::linear(
                        h,
                        config.intermediate_size,
                        l.pp("intermediate.dense"),
                    )?,
                    out: candle_nn::linear(config.intermediate_size, h, l.pp("output.dense"))?,
                    out_norm: norm(config, l.pp("output.LayerNorm"))?,
                })
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        if !h.is_multiple_of(config.num_attention_heads) {
            return Err(candle_core::Error::Msg(format!(
                "hidden_size {h} is not a multiple of num_attention_heads {}",
                config.num_attention_heads
            )));
        }
        Ok(Encoder {
            config: config.clone(),
            embeddings,
            layers,
            device: vb.device().clone(),
        })
    }

    pub fn config(&self) -> &BertConfig {
        &self.config
    }

    /// The hidden states of every token of `batch`. Rows longer than
    /// `max_position_embeddings` are refused (callers window them first).
    pub fn forward(&self, batch: &TokenBatch) -> candle_core::Result<HiddenStates> {
        if batch.len > self.config.max_position_embeddings {
            return Err(candle_core::Error::Msg(format!(
                "{} tokens exceed the model's {} positions",
                batch.len, self.config.max_position_embeddings
            )));
        }
        let ids = batch.tensor(&batch.ids, &self.device)?;
        let type_ids = batch.tensor(&batch.type_ids, &self.device)?;
        let positions = Tensor::arange(0u32, batch.len as u32, &self.device)?
            .unsqueeze(0)?
            .broadcast_as((batch.rows, batch.len))?
            .contiguous()?;
        let e = &self.embeddings;
        let mut xs = e
            .words
            .forward(&ids)?
            .add(&e.positions.forward(&positions)?)?
            .add(&e.types.forward(&type_ids)?)?;
        xs = e.norm.forward(&xs)?;
        let mask = batch
            .tensor(&batch.mask, &self.device)?
            .to_dtype(DType::F32)?;
        // Padding gets a large negative score before the softmax: it receives no attention.
        let bias = ((mask.clone() - 1.0)? * 1e9)?.unsqueeze(1)?.unsqueeze(1)?;
        for layer in &self.layers {
            xs = self.layer(layer, &xs, &bias)?;
        }
        Ok(HiddenStates { states: xs, mask })
    }

    fn layer(&self, layer: &Layer, xs: &Tensor, bias: &Tensor) -> candle_core::Result<Tensor> {
        let (rows, len, hidden) = xs.dims3()?;
        let heads = self.config.num_attention_heads;
        let head = hidden / heads;
        let split = |t: Tensor| {
            t.reshape((rows, len, heads, head))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = split(layer.query.forward(xs)?)?;
        let k = split(layer.key.forward(xs)?)?;
        let v = split(layer.value.forward(xs)?)?;
        let scores = (q.matmul(&k.t()?)? / (head as f64).sqrt())?.broadcast_add(bias)?;
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        let context = probs
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((rows, len, hidden))?;
        let attended = layer
            .attention_norm
            .forward(&(layer.attention_out.forward(&context)? + xs)?)?;
        let inner = self
            .config
            .hidden_act
            .apply(&layer.intermediate.forward(&attended)?)?;
        layer
            .out_norm
            .forward(&(layer.out.forward(&inner)? + attended)?)
    }
}

/// Rows of `values` (`rows × dim`) as vectors.
pub fn rows(values: &Tensor) -> candle_core::Result<Vec<Vec<f32>>> {
    values.to_dtype(DType::F32)?.to_vec2()
}
