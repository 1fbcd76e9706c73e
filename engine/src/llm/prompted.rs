//! The model behind an HTTP provider: each role renders LightRAG's prompt and sends it
//! to the provider's chat endpoint.

use std::sync::Arc;

use super::prompts::{self, render};
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
                prompts::ENTITY_EXTRACTION_SYSTEM,
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
                prompts::ENTITY_EXTRACTION_USER,
                &[("language", language)],
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
                        prompts::ENTITY_CONTINUE_EXTRACTION_USER,
                        &[("language", language)],
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
                prompts::SUMMARIZE_DESCRIPTIONS,
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
            // The query goes in last, so text in it is never taken for a placeholder.
            let prompt = render(
                prompts::KEYWORDS_EXTRACTION,
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
