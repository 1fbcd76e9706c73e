//! Bounded property runs over the `/query` body parser: objects of known field names and
//! junk, with values of every JSON type (numbers at the integer edges, strings around
//! the length limits, nested lists and objects), must come back as a typed request
//! within the documented bounds or as field errors under `body`, never as a panic.

use proptest::prelude::*;
use serde_json::{Map, Number, Value, json};

use super::*;

const FIELDS: &[&str] = &[
    "query",
    "mode",
    "only_need_context",
    "only_need_prompt",
    "response_type",
    "top_k",
    "chunk_top_k",
    "max_entity_tokens",
    "max_relation_tokens",
    "max_total_tokens",
    "hl_keywords",
    "ll_keywords",
    "conversation_history",
    "user_prompt",
    "disable_user_prompt_prefix",
    "include_references",
    "include_chunk_content",
    "include_progress",
    "stream",
    "enable_rerank",
];

/// Any JSON number, the edges of every integer type and the limits included.
fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (0u64..16).prop_map(|d| Value::from(u64::MAX - d)),
        (-2i64..1_000_003).prop_map(Value::from),
        any::<f64>().prop_map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop::sample::select(vec![1e15, 1e15 - 1.0, 999.0, 1000.0, 1000.5, -0.0, 1e300])
            .prop_map(|f| json!(f)),
    ]
}

/// Short strings of any characters, and words the parser knows.
fn short_text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,12}",
        prop::sample::select(vec![
            "",
            "ab",
            "local",
            "global",
            "hybrid",
            "naive",
            "mix",
            "bypass",
            "true",
            "off",
            "user",
            "system",
            "assistant",
            "  ",
            "孙",
            "孙悟",
        ])
        .prop_map(str::to_owned),
    ]
}

/// One character repeated to just under or over a length limit.
fn long_text() -> impl Strategy<Value = String> {
    (
        any::<char>(),
        prop::sample::select(vec![
            256usize, 257, 512, 513, 32_769, 65_536, 65_537, 131_073,
        ]),
    )
        .prop_map(|(c, n)| c.to_string().repeat(n))
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        number(),
        short_text().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 48, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::from),
            prop::collection::btree_map(key(), inner.clone(), 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            // Lists just over the item limits.
            (inner, prop::sample::select(vec![64usize, 65, 128, 129]))
                .prop_map(|(v, n)| Value::from(vec![v; n])),
        ]
    })
}

/// A field's value: anything small, or a long string alone, in a list or as a message.
fn field_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => value(),
        1 => long_text().prop_map(Value::from),
        1 => long_text().prop_map(|t| json!([t])),
        1 => (short_text(), long_text()).prop_map(|(role, content)| json!([{"role": role, "content": content}])),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(FIELDS).prop_map(str::to_owned),
        prop::sample::select(vec!["role", "content"]).prop_map(str::to_owned),
        ".{0,8}",
    ]
}

fn body() -> impl Strategy<Value = Map<String, Value>> {
    (
        prop::collection::btree_map(key(), field_value(), 0..10),
        prop::option::of(prop_oneof![3 => short_text(), 1 => long_text()]),
    )
        .prop_map(|(fields, query)| {
            let mut body: Map<String, Value> = fields.into_iter().collect();
            // Most cases carry a query, so that the other fields get checked as well.
            if let Some(query) = query {
                body.insert("query".to_owned(), Value::from(query));
            }
            body
        })
}

fn within(value: Option<usize>, max: u64) -> bool {
    value.is_none_or(|n| n >= 1 && n as u64 <= max)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    /// Refused as field errors located in the body (a 422), or accepted within every
    /// documented limit, the mode being the one named (or mix).
    #[test]
    fn any_body_is_refused_or_bounded(body in body()) {
        match parse(&body) {
            Err(errors) => {
                prop_assert!(!errors.is_empty());
                for e in &errors {
                    prop_assert_eq!(e.loc.first(), Some(&Value::from("body")));
                }
            }
            Ok(r) => {
                let named = body.get("mode").filter(|m| !m.is_null());
                prop_assert_eq!(Some(r.mode), named.map_or(Some(Mode::Mix), |m| m.as_str().and_then(Mode::parse)));
                prop_assert!(!r.query.is_empty() && r.query.trim() == r.query);
                prop_assert!(r.query.chars().count() <= MAX_QUERY_CHARS);
                prop_assert!(r.mode == Mode::Bypass || query_weight(&r.query) >= MIN_QUERY_WEIGHT);
                for (value, max) in [(r.top_k, MAX_TOP_K), (r.chunk_top_k, MAX_TOP_K)] {
                    prop_assert!(within(value, max));
                }
                for value in [r.max_entity_tokens, r.max_relation_tokens, r.max_total_tokens] {
                    prop_assert!(within(value, MAX_TOKENS));
                }
                prop_assert!(r.response_type.as_ref().is_none_or(|t| (1..=MAX_RESPONSE_TYPE_CHARS).contains(&t.chars().count())));
                for keywords in [&r.hl_keywords, &r.ll_keywords] {
                    prop_assert!(keywords.len() <= MAX_KEYWORDS);
                    prop_assert!(keywords.iter().all(|k| k.chars().count() <= MAX_KEYWORD_CHARS));
                }
                prop_assert!(r.conversation_history.len() <= MAX_MESSAGES);
                prop_assert!(r.conversation_history.iter().all(|m| m.content.chars().count() <= MAX_MESSAGE_CHARS));
                let prompt = r.user_prompt.as_deref().map_or(0, |p| p.chars().count());
                prop_assert!(prompt <= MAX_QUERY_CHARS);
                prop_assert!(r.query.chars().count() + prompt <= MAX_TOTAL_CHARS);
            }
        }
    }
}
