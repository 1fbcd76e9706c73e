//! LightRAG's provider binding names, and what each binding falls back to when a
//! setting is not given: its default host, embedding model and dimension, and the
//! provider's own API-key variables (GEMINI_API_KEY, JINA_API_KEY ...).

use crate::spec::{self, Spec};

/// A model provider, by LightRAG's binding names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// The network-free model built into the server.
    Builtin,
    OpenAi,
    AzureOpenAi,
    Ollama,
    Lollms,
    Gemini,
    /// Amazon Bedrock (`bedrock`, or LightRAG's older name `aws_bedrock`).
    Bedrock,
    Jina,
    VoyageAi,
    /// A BERT embedding model run in process, from MODELS_DIR (embeddings only).
    Local,
}

/// What LLM_BINDING names: the LLM's binding, and for `openai-ollama` the embedding
/// binding it implies (LightRAG rewrites it to an openai LLM with ollama embeddings).
pub struct LlmChoice {
    pub llm: Binding,
    pub forces_embedding: Option<Binding>,
}

impl Binding {
    pub(crate) fn parse_llm(s: &str) -> Result<LlmChoice, String> {
        let llm = match s {
            "openai-ollama" => {
                return Ok(LlmChoice {
                    llm: Binding::OpenAi,
                    forces_embedding: Some(Binding::Ollama),
                });
            }
            "builtin" => Binding::Builtin,
            "lollms" => Binding::Lollms,
            "ollama" => Binding::Ollama,
            "openai" => Binding::OpenAi,
            "azure_openai" => Binding::AzureOpenAi,
            "bedrock" | "aws_bedrock" => Binding::Bedrock,
            "gemini" => Binding::Gemini,
            _ => {
                return Err("expected builtin, lollms, ollama, openai, openai-ollama, \
                     azure_openai, bedrock, aws_bedrock or gemini"
                    .to_owned());
            }
        };
        Ok(LlmChoice {
            llm,
            forces_embedding: None,
        })
    }

    pub(crate) fn parse_embedding(s: &str) -> Result<Binding, String> {
        Ok(match s {
            "builtin" => Binding::Builtin,
            "lollms" => Binding::Lollms,
            "ollama" => Binding::Ollama,
            "openai" => Binding::OpenAi,
            "azure_openai" => Binding::AzureOpenAi,
            "bedrock" | "aws_bedrock" => Binding::Bedrock,
            "jina" => Binding::Jina,
            "gemini" => Binding::Gemini,
            "voyageai" => Binding::VoyageAi,
            "local" if crate::local_model::AVAILABLE => Binding::Local,
            "local" => return Err("this build has no local models (feature local-models)".into()),
            _ => {
                return Err(
                    "expected builtin, local, lollms, ollama, openai, azure_openai, bedrock, \
                     aws_bedrock, jina, gemini or voyageai"
                        .to_owned(),
                );
            }
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Binding::Builtin => "builtin",
            Binding::OpenAi => "openai",
            Binding::AzureOpenAi => "azure_openai",
            Binding::Ollama => "ollama",
            Binding::Lollms => "lollms",
            Binding::Gemini => "gemini",
            Binding::Bedrock => "bedrock",
            Binding::Jina => "jina",
            Binding::VoyageAi => "voyageai",
            Binding::Local => "local",
        }
    }

    /// The base URL used when the binding's host is not given (Bedrock's depends on the
    /// region, so it is worked out with the credentials).
    pub(crate) fn default_host(self, region: Option<&str>) -> String {
        match self {
            Binding::Builtin | Binding::Local => String::new(),
            Binding::OpenAi | Binding::AzureOpenAi => "https://api.openai.com/v1".to_owned(),
            Binding::Ollama => "http://localhost:11434".to_owned(),
            Binding::Lollms => "http://localhost:9600".to_owned(),
            Binding::Gemini => "https://generativelanguage.googleapis.com".to_owned(),
            Binding::Bedrock => format!(
                "https://bedrock-runtime.{}.amazonaws.com",
                region.unwrap_or("us-east-1")
            ),
            Binding::Jina => "https://api.jina.ai/v1/embeddings".to_owned(),
            Binding::VoyageAi => "https://api.voyageai.com/v1".to_owned(),
        }
    }

    /// LightRAG's placeholder hosts meaning "the SDK's default endpoint".
    pub(crate) fn is_default_host_sentinel(s: &str) -> bool {
        matches!(s, "DEFAULT_GEMINI_ENDPOINT" | "DEFAULT_BEDROCK_ENDPOINT")
    }

    pub(crate) fn default_embedding_model(self) -> &'static str {
        match self {
            Binding::Builtin => "builtin",
            Binding::OpenAi | Binding::AzureOpenAi => "text-embedding-3-small",
            Binding::Ollama | Binding::Lollms => "bge-m3:latest",
            Binding::Gemini => "gemini-embedding-001",
            Binding::Bedrock => "amazon.titan-embed-text-v2:0",
            Binding::Jina => "jina-embeddings-v4",
            Binding::VoyageAi => "voyage-3",
            Binding::Local => crate::local_model::DEFAULT_LOCAL_EMBEDDING_MODEL,
        }
    }

    /// The provider's own API-key variables, read (in order) when the binding's key
    /// setting is not given.
    pub(crate) fn key_fallbacks(self) -> &'static [Spec] {
        match self {
            Binding::OpenAi => &[spec::OPENAI_API_KEY],
            Binding::AzureOpenAi => &[spec::AZURE_OPENAI_API_KEY],
            Binding::Gemini => &[spec::GEMINI_API_KEY],
            Binding::Jina => &[spec::JINA_API_KEY],
            Binding::VoyageAi => &[spec::VOYAGE_API_KEY, spec::VOYAGEAI_API_KEY],
            _ => &[],
        }
    }

    /// Bindings whose provider refuses every call without a key: refused at start.
    pub(crate) fn needs_key(self) -> bool {
        matches!(self, Binding::Gemini | Binding::Jina | Binding::VoyageAi)
    }

    /// Bindings that send EMBEDDING_DIM with every call whatever EMBEDDING_SEND_DIM says
    /// (LightRAG forces it for jina and gemini).
    pub fn always_sends_dim(self) -> bool {
        matches!(self, Binding::Jina | Binding::Gemini)
    }
}
