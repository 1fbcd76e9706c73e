//! The model behind an HTTP provider: each role renders LightRAG's prompt (the template
//! in effect, [`super::templates`]) and sends it to the provider's chat endpoint.

use std::sync::Arc;

use super::prompts::{self, render};
use super::templates::{Template, get};
use super::{
    BoxFuture, ExtractionSettings, Keywords, LanguageModel, Message, ModelError, Role,
    SummaryRequest, TextStream, collect,
};
use crate::providers::ChatProvider;

pub struct PromptedModel {
    provider: Arc<dyn ChatProvider>,
}

impl PromptedModel {
    pub fn new(provider: Arc<dyn ChatProvider>) -> PromptedModel {
        PromptedModel { provider }
    }

    async fn complete(&self, messages: Vec<Message>) -> Result<String, ModelError> {
        collect(self.provider.chat(messages, false).await?).await
    }
}

impl LanguageModel for PromptedModel {
    fn extract<'a>(
        &'a self,
        chunk: &'a str,
        section: Option<&'a str>,
        settings: &'a ExtractionSettings,
    ) -> BoxFuture<'a, Result<String, ModelError>> {
        Box::pin(async move {
            let types = settings.entity_types.join(",");
            let language = settings.language.as_str();
            let system = render(
                get(Template::EntityExtractionSystem),
                &[
                    ("entity_types", &types),
                    ("language", language),
                    ("input_text", chunk),
                ],
            );
            // LightRAG's heading breadcrumb goes before the task, only for a chunk in a
            // section.
            let mut user = section.map_or_else(String::new, |path| {
                render(
                    prompts::ENTITY_EXTRACTION_SECTION_CONTEXT,
                    &[("heading_path", path)],
                )
            });
            user.push_str(&render(
                get(Template::EntityExtractionUser),
                &[
                    ("entity_types", &types),
                    ("language", language),
                    ("input_text", chunk),
                ],
            ));
            let mut messages = vec![
                Message::new(Role::System, system),
                Message::new(Role::User, user),
            ];
            let mut answer = self.complete(messages.clone()).await?;
            let mut last = answer.clone();
            // Gleaning: ask for what the previous rounds missed.
            for _ in 0..settings.max_gleaning {
                messages.push(Message::new(Role::Assistant, last));
                messages.push(Message::new(
                    Role::User,
                    render(
                        get(Template::EntityContinueExtractionUser),
                        &[
                            ("entity_types", &types),
                            ("language", language),
                            ("input_text", chunk),
                        ],
                    ),
                ));
                last = self.complete(messages.clone()).await?;
                answer.push('\n');
                answer.push_str(&last);
            }
            Ok(answer)
        })
    }

    fn summarize<'a>(
        &'a self,
        request: SummaryRequest<'a>,
    ) -> BoxFuture<'a, Result<String, ModelError>> {
        Box::pin(async move {
            let list = request
                .descriptions
                .iter()
                .map(|d| serde_json::json!({"Description": d}).to_string())
                .collect::<Vec<_>>()
                .join("\n");
            let prompt = render(
                get(Template::SummarizeDescriptions),
                &[
                    ("description_type", request.kind),
                    ("description_name", request.name),
                    ("description_list", &list),
                    ("summary_length", &request.length.to_string()),
                    ("language", request.language),
                ],
            );
            Ok(self
                .complete(vec![Message::new(Role::User, prompt)])
                .await?
                .trim()
                .to_owned())
        })
    }

    fn keywords<'a>(
        &'a self,
        query: &'a str,
        language: &'a str,
    ) -> BoxFuture<'a, Result<Keywords, ModelError>> {
        Box::pin(async move {
            let prompt = render(
                get(Template::KeywordsExtraction),
                &[("language", language), ("query", query)],
            );
            let answer = self
                .complete(vec![Message::new(Role::User, prompt)])
                .await?;
            Ok(Keywords::parse(&answer))
        })
    }

    fn chat(&self, messages: Vec<Message>) -> BoxFuture<'_, Result<TextStream, ModelError>> {
        self.provider.chat(messages, true)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Answers every chat with one record and remembers what it was sent.
    #[derive(Default)]
    struct Recorder {
        calls: Mutex<Vec<Vec<Message>>>,
    }

    impl ChatProvider for Recorder {
        fn chat(
            &self,
            messages: Vec<Message>,
            _stream: bool,
        ) -> BoxFuture<'_, Result<TextStream, ModelError>> {
            self.calls.lock().unwrap().push(messages);
            Box::pin(async { Ok(super::super::once("entity<|#|>X<|#|>tool<|#|>d".into())) })
        }
    }

    #[tokio::test]
    async fn extraction_asks_max_gleaning_follow_ups_in_the_configured_language() {
        let recorder = Arc::new(Recorder::default());
        let model = PromptedModel::new(recorder.clone());
        let settings = ExtractionSettings {
            entity_types: vec!["person".into(), "tool".into()],
            language: "German".into(),
            max_gleaning: 3,
        };
        let answer = model
            .extract("Ada used a loom.", None, &settings)
            .await
            .unwrap();
        assert_eq!(answer.lines().count(), 4, "every round's records are kept");
        let calls = recorder.calls.lock().unwrap().clone();
        assert_eq!(calls.len(), 4);
        let system = &calls[0][0].content;
        assert!(system.contains("Entity_types: [person,tool]"), "{system}");
        assert!(system.contains("written in `German`"));
        assert!(system.contains("Ada used a loom."));
        for (round, call) in calls.iter().enumerate().skip(1) {
            // The earlier turns, then the continue prompt.
            assert_eq!(call.len(), 2 + 2 * round);
            let last = &call.last().unwrap().content;
            assert!(last.contains("missed or incorrectly formatted"), "{last}");
            assert!(last.contains("output language is German"));
        }
        let none = ExtractionSettings {
            max_gleaning: 0,
            ..settings
        };
        model.extract("Ada.", None, &none).await.unwrap();
        assert_eq!(recorder.calls.lock().unwrap().len(), 5);
    }
}
