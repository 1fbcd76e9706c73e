//! Bounded property runs over the Ollama bodies: any bytes, and objects of the known
//! fields with values of every JSON type (messages of any shape, mode prefixes and
//! bracketed prompts, strings around the size limits), come back as a request or a
//! 400/413, never as a panic.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::*;

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,12}",
        prop::sample::select(vec![
            "user",
            "system",
            "assistant",
            "/local who?",
            "/bypass hi",
            "/context q",
            "/mix[be brief] who is Wukong?",
            "/[x] q",
            "/[",
            "/local[",
            "/]",
            "/mixcontext",
            "孙悟",
            "ab",
            "  ",
            "\n<chat_history>\nUSER: hi",
            "who is Wukong?",
        ])
        .prop_map(str::to_owned),
        (
            any::<char>(),
            prop::sample::select(vec![
                0usize, 1, 3, 64, 65, 256, 257, 32_769, 65_537, 131_073
            ]),
        )
            .prop_map(|(c, n)| c.to_string().repeat(n)),
        (
            prop::sample::select(vec!["/", "/local", "/[", "/naive["]),
            ".{0,8}",
            ".{0,8}"
        )
            .prop_map(|(prefix, a, b)| format!("{prefix}{a}]{b}")),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(".{0,6}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A message: usually the expected shape, sometimes anything at all.
fn message() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => (text(), text(), prop::option::of(0..20usize)).prop_map(|(role, content, images)| {
            let mut m = json!({"role": role, "content": content});
            if let Some(n) = images {
                m["images"] = Value::from(vec!["aGk="; n]);
            }
            m
        }),
        1 => value(),
    ]
}

fn messages() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => prop::collection::vec(message(), 0..6).prop_map(Value::from),
        // Earlier messages of any kind, then the user's question.
        4 => (prop::collection::vec(message(), 0..4), text()).prop_map(|(mut earlier, question)| {
            earlier.push(json!({"role": "user", "content": question}));
            Value::from(earlier)
        }),
        1 => (message(), prop::sample::select(vec![128usize, 129])).prop_map(|(m, n)| Value::from(vec![m; n])),
        1 => value(),
    ]
}

fn body() -> impl Strategy<Value = Map<String, Value>> {
    let field = |name: &'static str, strategy: BoxedStrategy<Value>| {
        prop::option::of(strategy).prop_map(move |v| v.map(|v| (name.to_owned(), v)))
    };
    (
        field(
            "model",
            prop_oneof![text().prop_map(Value::from), value()].boxed(),
        ),
        field(
            "prompt",
            prop_oneof![text().prop_map(Value::from), value()].boxed(),
        ),
        field(
            "system",
            prop_oneof![text().prop_map(Value::from), value()].boxed(),
        ),
        field(
            "stream",
            prop_oneof![any::<bool>().prop_map(Value::from), value()].boxed(),
        ),
        field("messages", messages().boxed()),
        prop::collection::btree_map(".{0,6}", value(), 0..3),
    )
        .prop_map(|(model, prompt, system, stream, messages, junk)| {
            junk.into_iter()
                .chain(
                    [model, prompt, system, stream, messages]
                        .into_iter()
                        .flatten(),
                )
                .collect()
        })
}

fn refused(e: &ApiError) -> Result<(), TestCaseError> {
    prop_assert!(matches!(e.status.as_u16(), 400 | 413), "{}", e.status);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_are_an_object_or_a_400(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        if let Err(e) = object(&bytes) {
            prop_assert_eq!(e.status.as_u16(), 400);
        }
    }

    /// A generate request has a prompt that is not blank, within its limits.
    #[test]
    fn any_generate_body_is_refused_or_bounded(body in body()) {
        match generate(&body) {
            Err(e) => refused(&e)?,
            Ok(r) => {
                prop_assert!(!r.prompt.trim().is_empty());
                prop_assert!(r.prompt.chars().count() <= MAX_PROMPT_CHARS);
                prop_assert!(r.system.as_ref().is_none_or(|s| s.chars().count() <= MAX_SYSTEM_CHARS));
            }
        }
    }

    /// A chat request has a question heavy enough for RAG (or goes to the model), and
    /// a history within the message limits.
    #[test]
    fn any_chat_body_is_refused_or_bounded(body in body()) {
        match chat(&body) {
            Err(e) => refused(&e)?,
            Ok(r) => {
                prop_assert!(!r.routed.query.trim().is_empty());
                prop_assert!(r.direct || query_weight(r.routed.query.trim()) >= 3);
                prop_assert!(r.history.len() < MAX_MESSAGES);
                prop_assert!(r.history.iter().all(|m| m.content.chars().count() <= MAX_MESSAGE_CHARS));
            }
        }
    }
}
