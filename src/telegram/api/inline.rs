//! Inline mode: answering an inline query with cached videos.

use serde_json::{Value, json};

use super::{ApiError, BotApi};

/// A cached video in an inline answer (`InlineQueryResultCachedVideo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineVideo {
    /// Unique in the answer, 1–64 bytes.
    pub id: String,
    pub file_id: String,
    pub title: String,
    pub description: Option<String>,
}

/// The button above an inline answer that opens the private chat with
/// `/start <start_parameter>` (1–64 of `A-Za-z0-9_-`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineResultsButton {
    pub text: String,
    pub start_parameter: String,
}

impl BotApi {
    /// Answers an inline query (`answerInlineQuery`): at most 50 results.
    pub async fn answer_inline_query(
        &self,
        inline_query_id: &str,
        results: &[InlineVideo],
        next_offset: Option<&str>,
        is_personal: bool,
        cache_time: u32,
        button: Option<&InlineResultsButton>,
    ) -> Result<(), ApiError> {
        let results: Vec<Value> = results
            .iter()
            .take(50)
            .map(|r| {
                let mut item = json!({ "type": "video", "id": r.id, "video_file_id": r.file_id, "title": r.title });
                if let Some(description) = &r.description {
                    item["description"] = json!(description);
                }
                item
            })
            .collect();
        let mut body = json!({
            "inline_query_id": inline_query_id,
            "results": results,
            "cache_time": cache_time,
            "is_personal": is_personal,
        });
        if let Some(offset) = next_offset {
            body["next_offset"] = json!(offset);
        }
        if let Some(button) = button {
            body["button"] = json!({ "text": button.text, "start_parameter": button.start_parameter });
        }
        let _: Value = self.call("answerInlineQuery", body, None).await?;
        Ok(())
    }
}
