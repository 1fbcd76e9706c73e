//! The answer path against a real store indexed by the builtin model, with a scripted
//! chat that counts its calls.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::chunking::ChunkingOptions;
use crate::embedding::Batching;
use crate::embedding::builtin::HashedNgrams;
use crate::ingest::{Document, Ingest, SourceLimits, SummaryPolicy};
use crate::llm::builtin::{BuiltinModel, DEFAULT_ENTITY_TYPES};
use crate::llm::{BoxFuture, ExtractionSettings, Keywords, Role, SummaryRequest, collect};
use crate::query::{ChunkPick, PROGRESS_KEYWORDS};
use crate::storage::LocalGenerations;
use crate::storage::bundle::Indexes;
use crate::storage::sqlite::SqliteStorage;

const QUESTION: &str = "What did Marie Curie discover?";
static BUILTIN: BuiltinModel = BuiltinModel;

/// A workspace of its own in a fresh directory, removed afterwards.
struct Store {
    dir: PathBuf,
    storage: SqliteStorage,
    generations: LocalGenerations,
    indexes: Indexes,
}

impl StoreSource for Store {
    fn stores(&self) -> Stores<'_> {
        Stores::new(&self.storage, &self.generations, &self.indexes)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn embedder() -> HashedNgrams {
    HashedNgrams::new(256)
}

fn empty_store() -> Arc<Store> {
    let dir = std::env::temp_dir().join(format!(
        "lrm-answer-{}-{}",
        std::process::id(),
        fastrand::u32(..)
    ));
    Arc::new(Store {
        storage: SqliteStorage::open(&dir, "").unwrap(),
        dir,
        generations: LocalGenerations::default(),
        indexes: Indexes::default(),
    })
}

/// A store holding one document, indexed by the builtin model.
fn indexed_store() -> Arc<Store> {
    let store = empty_store();
    let ingest = Ingest {
        stores: store.stores(),
        tokenizer: &Tokenizer::o200k(),
        embedder: &embedder(),
        batching: Batching {
            batch_size: 10,
            concurrency: 1,
        },
        model: &BUILTIN,
        extraction: &ExtractionSettings {
            entity_types: DEFAULT_ENTITY_TYPES.iter().map(|t| t.to_string()).collect(),
            language: "English".to_owned(),
            max_gleaning: 0,
        },
        summary: &SummaryPolicy {
            force_on_merge: 8,
            max_tokens: 1200,
            length: 600,
        },
        limits: SourceLimits {
            entity_sources: 300,
            relation_sources: 300,
            file_paths: 75,
        },
        llm_concurrency: 1,
        scheduling: &crate::ingest::Scheduling::new(1),
        chunking: &ChunkingOptions::default(),
        use_cache: false,
        now: 1_795_674_000,
    };
    ingest
        .run(&Document {
            id: "doc-curie",
            content: "Marie Curie discovered Polonium and Radium in Paris. \
                      Marie Curie won the Nobel Prize with Pierre Curie.",
            file_path: "curie.txt",
            chunking: None,
            has_headings: false,
        })
        .unwrap();
    store
}

/// The builtin model, except that a chat answers with `pieces`, counted.
struct Scripted {
    pieces: Vec<Result<String, ModelError>>,
    chats: AtomicUsize,
    keyword_calls: AtomicUsize,
}

impl Scripted {
    fn new(pieces: Vec<Result<String, ModelError>>) -> Arc<Scripted> {
        Arc::new(Scripted {
            pieces,
            chats: AtomicUsize::new(0),
            keyword_calls: AtomicUsize::new(0),
        })
    }

    fn answering(pieces: &[&str]) -> Arc<Scripted> {
        Scripted::new(pieces.iter().map(|p| Ok(p.to_string())).collect())
    }

    fn chats(&self) -> usize {
        self.chats.load(Ordering::SeqCst)
    }
}

impl LanguageModel for Scripted {
    fn extract<'a>(
        &'a self,
        chunk: &'a str,
        section: Option<&'a str>,
        settings: &'a ExtractionSettings,
    ) -> BoxFuture<'a, Result<String, ModelError>> {
        BUILTIN.extract(chunk, section, settings)
    }

    fn summarize<'a>(
        &'a self,
        request: SummaryRequest<'a>,
    ) -> BoxFuture<'a, Result<String, ModelError>> {
        BUILTIN.summarize(request)
    }

    fn keywords<'a>(
        &'a self,
        query: &'a str,
        language: &'a str,
    ) -> BoxFuture<'a, Result<Keywords, ModelError>> {
        self.keyword_calls.fetch_add(1, Ordering::SeqCst);
        BUILTIN.keywords(query, language)
    }

    fn chat(&self, _messages: Vec<Message>) -> BoxFuture<'_, Result<TextStream, ModelError>> {
        self.chats.fetch_add(1, Ordering::SeqCst);
        let stream: TextStream = Box::pin(futures_util::stream::iter(self.pieces.clone()));
        Box::pin(async move { Ok(stream) })
    }
}

fn answerer(store: &Arc<Store>, model: &Arc<Scripted>, cache: bool) -> Answerer {
    Answerer {
        stores: store.clone(),
        model: model.clone(),
        embedder: Arc::new(embedder()),
        reranker: None,
        settings: Arc::new(AnswerSettings {
            retrieval: RetrievalSettings {
                cosine_threshold: 0.0,
                related_chunk_number: 5,
                chunk_pick: ChunkPick::Vector,
                language: "English".to_owned(),
                content_headings: true,
                min_rerank_score: 0.0,
            },
            cache: cache.then(|| CachedModel {
                binding: "test".to_owned(),
                model: "scripted".to_owned(),
            }),
        }),
    }
}

fn question() -> AnswerRequest {
    AnswerRequest {
        params: QueryParams {
            query: QUESTION.to_owned(),
            mode: Mode::Mix,
            top_k: 10,
            chunk_top_k: 5,
            max_entity_tokens: 6000,
            max_relation_tokens: 8000,
            max_total_tokens: 30000,
            hl_keywords: Vec::new(),
            ll_keywords: Vec::new(),
            response_type: "Multiple Paragraphs".to_owned(),
            user_prompt: String::new(),
            enable_rerank: false,
        },
        history: Vec::new(),
        only_need_context: false,
        only_need_prompt: false,
    }
}

async fn ask(answerer: &Answerer, request: AnswerRequest) -> Answered {
    answerer.answer(request, |_| {}).await.unwrap()
}

fn generated(answer: Answer) -> TextStream {
    match answer {
        Answer::Generated(stream) => stream,
        Answer::Fixed(text) | Answer::Cached(text) => panic!("not from the model: {text}"),
    }
}

fn fixed(answer: Answer) -> String {
    match answer {
        Answer::Fixed(text) => text,
        _ => panic!("not a fixed answer"),
    }
}

fn cut() -> ModelError {
    ModelError::Connect {
        provider: "scripted",
        reason: "cut".to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cached_answer_is_served_without_the_model() {
    let (store, model) = (
        indexed_store(),
        Scripted::answering(&["Polonium ", "and Radium."]),
    );
    let cached = answerer(&store, &model, true);
    let stream = generated(ask(&cached, question()).await.answer);
    assert_eq!(collect(stream).await.unwrap(), "Polonium and Radium.");
    match ask(&cached, question()).await.answer {
        Answer::Cached(text) => assert_eq!(text, "Polonium and Radium."),
        _ => panic!("the second answer should come from the cache"),
    }
    assert_eq!(model.chats(), 1);
    // Another history is another question.
    let mut follow_up = question();
    follow_up.history.push(Message::new(Role::User, "Hello"));
    assert!(matches!(
        ask(&cached, follow_up).await.answer,
        Answer::Generated(_)
    ));
    assert_eq!(model.chats(), 2);
    // Without ENABLE_LLM_CACHE the model answers every time.
    let uncached = answerer(&store, &model, false);
    assert!(matches!(
        ask(&uncached, question()).await.answer,
        Answer::Generated(_)
    ));
    assert_eq!(model.chats(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_cut_short_is_not_cached() {
    let store = indexed_store();
    let failing = Scripted::new(vec![Ok("Polonium ".to_owned()), Err(cut())]);
    let cached = answerer(&store, &failing, true);
    for _ in 0..2 {
        let stream = generated(ask(&cached, question()).await.answer);
        assert_eq!(collect(stream).await, Err(cut()));
    }
    assert_eq!(failing.chats(), 2);
    // A reader that leaves before the end does not cache it either.
    let model = Scripted::answering(&["Polonium ", "and Radium."]);
    let cached = answerer(&store, &model, true);
    let mut stream = generated(ask(&cached, question()).await.answer);
    assert_eq!(stream.next().await, Some(Ok("Polonium ".to_owned())));
    drop(stream);
    assert!(matches!(
        ask(&cached, question()).await.answer,
        Answer::Generated(_)
    ));
    assert_eq!(model.chats(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn context_or_prompt_only_never_asks_the_model() {
    let (store, model) = (indexed_store(), Scripted::answering(&["unused"]));
    let answerer = answerer(&store, &model, true);
    let request = AnswerRequest {
        only_need_context: true,
        ..question()
    };
    let Answered { retrieval, answer } = ask(&answerer, request).await;
    assert_eq!(retrieval.references[0].file_path, "curie.txt");
    let context = fixed(answer);
    for section in [
        "Knowledge Graph Data (Entity)",
        "Document Chunks",
        "[1] curie.txt",
    ] {
        assert!(context.contains(section), "{section}: {context}");
    }
    let request = AnswerRequest {
        only_need_prompt: true,
        ..question()
    };
    let prompt = fixed(ask(&answerer, request).await.answer);
    assert!(prompt.contains("---Role---") && prompt.contains(&context));
    assert!(prompt.ends_with(&format!("---User Query---\n{QUESTION}")));
    assert_eq!(model.chats(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_retrieved_is_lightrags_fixed_answer() {
    let (store, model) = (empty_store(), Scripted::answering(&["unused"]));
    let steps = Arc::new(Mutex::new(Vec::new()));
    let heard = steps.clone();
    let progress = move |step| heard.lock().unwrap().push(step);
    let answered = answerer(&store, &model, true)
        .answer(question(), progress)
        .await
        .unwrap();
    assert_eq!(fixed(answered.answer), crate::llm::prompts::FAIL_RESPONSE);
    assert_eq!(model.chats(), 0);
    let steps = steps.lock().unwrap();
    assert_eq!(steps.first(), Some(&PROGRESS_KEYWORDS));
    assert_eq!(steps.last(), Some(&PROGRESS_GENERATING));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repeated_question_takes_its_keywords_from_the_cache() {
    let store = indexed_store();
    let model = Scripted::answering(&["unused"]);
    let calls = || model.keyword_calls.load(Ordering::SeqCst);
    let request = || question().params;
    let uncached = answerer(&store, &model, false);
    let first = uncached.retrieve(request(), |_| {}).await.unwrap();
    uncached.retrieve(request(), |_| {}).await.unwrap();
    assert_eq!(
        calls(),
        2,
        "without the cache every question asks the model"
    );
    let cached = answerer(&store, &model, true);
    cached.retrieve(request(), |_| {}).await.unwrap();
    let again = cached.retrieve(request(), |_| {}).await.unwrap();
    assert_eq!(
        calls(),
        3,
        "the second question's keywords come from the cache"
    );
    assert_eq!(again.keywords, first.keywords);
    assert_eq!(again.chunks.len(), first.chunks.len());
    let key = crate::query::keywords::cache_key(&request());
    let entry = store
        .stores()
        .kv
        .kv_get(KvNamespace::LlmResponseCache, &key)
        .unwrap()
        .expect("kept under LightRAG's key");
    assert_eq!(entry["cache_type"], "keywords");
}
