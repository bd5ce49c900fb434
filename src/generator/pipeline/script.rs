//! The script the chat model writes, and the instructions it and the
//! per-segment prompt writers are given.

use serde::{Deserialize, Serialize};

/// The script the chat model writes: what is said and shown per segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Script {
    #[serde(default)]
    pub title: String,
    pub segments: Vec<ScriptSegment>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptSegment {
    pub narration: String,
    pub visual: String,
}

/// Why a model's answer is not a usable script.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error("the script is not the JSON asked for: {0}")]
    NotJson(serde_json::Error),
    #[error("the script has {usable} usable segments, {asked} were asked for")]
    TooShort { usable: usize, asked: usize },
}

impl Script {
    /// Parses the model's answer (tolerating a Markdown code fence) and
    /// keeps the first `segments` segments; fewer is an error.
    pub fn parse(answer: &str, segments: usize) -> Result<Self, ScriptError> {
        let text = answer.trim();
        let text = text.strip_prefix("```json").or_else(|| text.strip_prefix("```")).unwrap_or(text);
        let text = text.strip_suffix("```").unwrap_or(text).trim();
        let mut script: Script = serde_json::from_str(text).map_err(ScriptError::NotJson)?;
        script.segments.retain(|s| !s.visual.trim().is_empty());
        if script.segments.len() < segments {
            return Err(ScriptError::TooShort { usable: script.segments.len(), asked: segments });
        }
        script.segments.truncate(segments);
        Ok(script)
    }

    /// Everything the voice-over says.
    pub fn narration(&self) -> String {
        self.segments.iter().map(|s| s.narration.trim()).filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" ")
    }
}

/// The instructions for the script. The fake provider in the tests reads
/// "exactly N segments" from it, as a model would.
pub fn script_instructions(segments: usize, seconds: u32) -> String {
    let words = (seconds as f32 * 2.2).round() as u32;
    format!(
        "You write scripts for short narrated videos. Answer with one JSON object only, of the form \
         {{\"title\": string, \"segments\": [{{\"narration\": string, \"visual\": string}}]}}, \
         with exactly {segments} segments. Each segment lasts {seconds} seconds: its narration is what the \
         voice-over says in that time (at most {words} words) and its visual describes one scene that can \
         be shown as a still image and gently animated. Keep characters, places and style consistent from \
         the first to the last segment. Write the narration in the language of the request."
    )
}

pub(in crate::generator) const IMAGE_PROMPT_INSTRUCTIONS: &str = "You write prompts for a text-to-image model. Given one scene of a short video, \
     answer with the prompt only: one paragraph, concrete and visual (subject, setting, lighting, composition, style), \
     at most 900 characters, no text or letters in the image.";

pub(in crate::generator) const ANIMATION_PROMPT_INSTRUCTIONS: &str = "You write prompts for an image-to-video model that animates a still image. \
     Given the scene and the prompt of its image, answer with the prompt only: one or two sentences describing the \
     camera movement and the motion in the scene, at most 900 characters.";

pub(in crate::generator) const VIDEO_PROMPT_INSTRUCTIONS: &str = "You write prompts for a text-to-video model. Given one scene of a short video, \
     answer with the prompt only: one paragraph describing subject, setting, action, camera movement, lighting and \
     style, at most 900 characters, no on-screen text.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_parse_with_fences_and_extra_segments() {
        let answer = "```json\n{\"title\":\"t\",\"segments\":[{\"narration\":\"a\",\"visual\":\"x\"},{\"narration\":\"b\",\"visual\":\"y\"},{\"narration\":\"c\",\"visual\":\"z\"}]}\n```";
        let script = Script::parse(answer, 2).expect("parses");
        assert_eq!(script.segments.len(), 2);
        assert_eq!(script.narration(), "a b");
        assert!(Script::parse(answer, 4).unwrap_err().to_string().contains("3 usable segments"));
        assert!(Script::parse("not json", 1).is_err());
    }

    #[test]
    fn instructions_name_the_shape() {
        let text = script_instructions(10, 5);
        assert!(text.contains("exactly 10 segments"), "{text}");
        assert!(text.contains("lasts 5 seconds"), "{text}");
    }
}
