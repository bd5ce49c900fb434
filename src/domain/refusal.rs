//! Safety refusals: why a prompt is not made — moderation's categories, a
//! word of the operator's list, or a provider's safety filter — stored
//! after the `refused` token of a [`Failure`](super::Failure) and
//! remembered per asset key, and the operator's blocked words.

use std::fmt;
use std::str::FromStr;

use sea_orm::sea_query::StringLen;
use sea_orm::{DeriveActiveEnum, EnumIter};

use super::Prompt;

/// Who refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum RefusalSource {
    /// The moderation API (`MODERATION=openai`) flagged the prompt or photo.
    #[sea_orm(string_value = "moderation")]
    Moderation,
    /// A word or phrase of `BLOCKED_WORDS_FILE` is in the prompt.
    #[sea_orm(string_value = "blocked_words")]
    BlockedWords,
    /// A provider's safety filter (Runway `SAFETY.*`, Veo filtered media, a
    /// chat refusal).
    #[sea_orm(string_value = "provider")]
    Provider,
}

/// What is known of an asset key's safety (`refusals.verdict`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum Verdict {
    /// Refused: the next request is answered with the refusal at once.
    #[sea_orm(string_value = "refused")]
    Refused,
    /// An operator lifted a refusal (`/allow`): moderation and the blocked
    /// words are skipped for this key.
    #[sea_orm(string_value = "allowed")]
    Allowed,
    /// Moderation passed it: not asked again for this key.
    #[sea_orm(string_value = "passed")]
    Passed,
}

impl RefusalSource {
    pub const ALL: [RefusalSource; 3] = [RefusalSource::Moderation, RefusalSource::BlockedWords, RefusalSource::Provider];

    pub fn as_str(self) -> &'static str {
        match self {
            RefusalSource::Moderation => "moderation",
            RefusalSource::BlockedWords => "blocked_words",
            RefusalSource::Provider => "provider",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

impl fmt::Display for RefusalSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A moderation category, as OpenAI's `omni-moderation-latest` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    Harassment,
    HarassmentThreatening,
    Hate,
    HateThreatening,
    Illicit,
    IllicitViolent,
    SelfHarm,
    SelfHarmIntent,
    SelfHarmInstructions,
    Sexual,
    SexualMinors,
    Violence,
    ViolenceGraphic,
}

impl Category {
    pub const ALL: [Category; 13] = [
        Category::Harassment,
        Category::HarassmentThreatening,
        Category::Hate,
        Category::HateThreatening,
        Category::Illicit,
        Category::IllicitViolent,
        Category::SelfHarm,
        Category::SelfHarmIntent,
        Category::SelfHarmInstructions,
        Category::Sexual,
        Category::SexualMinors,
        Category::Violence,
        Category::ViolenceGraphic,
    ];

    /// The name in the moderation API's `categories` object.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Harassment => "harassment",
            Category::HarassmentThreatening => "harassment/threatening",
            Category::Hate => "hate",
            Category::HateThreatening => "hate/threatening",
            Category::Illicit => "illicit",
            Category::IllicitViolent => "illicit/violent",
            Category::SelfHarm => "self-harm",
            Category::SelfHarmIntent => "self-harm/intent",
            Category::SelfHarmInstructions => "self-harm/instructions",
            Category::Sexual => "sexual",
            Category::SexualMinors => "sexual/minors",
            Category::Violence => "violence",
            Category::ViolenceGraphic => "violence/graphic",
        }
    }

    /// `None` for a name this version does not know (a category the API
    /// added later): the refusal still stands, without naming it.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == raw)
    }
}

/// Why a prompt was refused for safety: who refused, the categories named
/// (moderation only), and a technical detail for operators (a provider's
/// words, the blocked phrase) that users never read.
///
/// Stored as `<source>[ <category>,<category>…][: <detail>]`; a row
/// written before the source existed (`SAFETY.INPUT.TEXT: blocked`) reads
/// as a provider refusal with that text as its detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusalReason {
    pub source: RefusalSource,
    pub categories: Vec<Category>,
    pub detail: String,
}

impl RefusalReason {
    /// A provider's safety refusal, in its (scrubbed) words.
    pub fn provider(detail: impl Into<String>) -> Self {
        Self { source: RefusalSource::Provider, categories: Vec::new(), detail: detail.into() }
    }

    /// Moderation flagged these categories.
    pub fn moderation(mut categories: Vec<Category>) -> Self {
        categories.sort();
        categories.dedup();
        Self { source: RefusalSource::Moderation, categories, detail: String::new() }
    }

    /// A phrase of the blocked words is in the prompt.
    pub fn blocked(phrase: &str) -> Self {
        Self { source: RefusalSource::BlockedWords, categories: Vec::new(), detail: phrase.to_owned() }
    }

    /// Reads the stored form; never fails (see the type's note).
    pub fn parse(raw: &str) -> Self {
        let (head, detail) = match raw.split_once(": ") {
            Some((head, detail)) => (head, detail),
            None => (raw, ""),
        };
        let mut words = head.split(' ');
        let source = words.next().and_then(RefusalSource::parse);
        let categories: Option<Vec<Category>> = match words.next() {
            None => Some(Vec::new()),
            Some(list) => list.split(',').map(Category::parse).collect(),
        };
        match (source, categories, words.next()) {
            (Some(source), Some(categories), None) => Self { source, categories, detail: detail.to_owned() },
            _ => Self::provider(raw.trim()),
        }
    }
}

impl fmt::Display for RefusalReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.source.as_str())?;
        for (i, category) in self.categories.iter().enumerate() {
            f.write_str(if i == 0 { " " } else { "," })?;
            f.write_str(category.as_str())?;
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

impl FromStr for RefusalReason {
    type Err = std::convert::Infallible;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Ok(Self::parse(raw))
    }
}

/// The words and phrases of `BLOCKED_WORDS_FILE`, normalized like prompts:
/// one per line, `#` starts a comment line. A phrase matches whole words
/// of the normalized prompt (`ax` does not match `relax`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockedWords {
    phrases: Vec<Vec<String>>,
}

/// Words of normalized text: letters and digits, split at everything else.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_owned).collect()
}

impl BlockedWords {
    /// Reads the file's text; blank lines and `#` comments are skipped.
    pub fn parse(text: &str) -> Self {
        let phrases = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .filter_map(|line| Prompt::parse(line, usize::MAX).ok())
            .map(|prompt| words(prompt.as_str()))
            .filter(|w| !w.is_empty())
            .collect();
        Self { phrases }
    }

    pub fn len(&self) -> usize {
        self.phrases.len()
    }

    pub fn is_empty(&self) -> bool {
        self.phrases.is_empty()
    }

    /// The first blocked phrase in `prompt`, if any.
    pub fn find(&self, prompt: &Prompt) -> Option<String> {
        let said = words(prompt.as_str());
        self.phrases
            .iter()
            .find(|phrase| said.windows(phrase.len()).any(|window| window == phrase.as_slice()))
            .map(|phrase| phrase.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_back_as_written() {
        let reasons = [
            RefusalReason::moderation(vec![Category::Violence, Category::SexualMinors, Category::Violence]),
            RefusalReason::moderation(Vec::new()),
            RefusalReason::blocked("bad word"),
            RefusalReason::provider("runway image_to_video: refused: no (SAFETY.INPUT.TEXT)"),
            RefusalReason::provider(""),
        ];
        for reason in reasons {
            assert_eq!(RefusalReason::parse(&reason.to_string()), reason, "{reason}");
        }
        assert_eq!(RefusalReason::moderation(vec![Category::Violence, Category::Hate]).to_string(), "moderation hate,violence");
    }

    #[test]
    fn older_rows_read_as_provider_refusals() {
        let legacy = RefusalReason::parse("SAFETY.INPUT.TEXT: blocked");
        assert_eq!(legacy, RefusalReason::provider("SAFETY.INPUT.TEXT: blocked"));
        assert_eq!(RefusalReason::parse("moderation nonsense"), RefusalReason::provider("moderation nonsense"));
    }

    #[test]
    fn blocked_words_match_whole_normalized_words() {
        let list = BlockedWords::parse("# comment\n\n  Forbidden \nred  FOX\n");
        assert_eq!(list.len(), 2);
        let find = |text: &str| list.find(&Prompt::parse(text, 1000).expect("a prompt"));
        assert_eq!(find("something FORBIDDEN here"), Some("forbidden".to_owned()));
        assert_eq!(find("A red fox, jumping"), Some("red fox".to_owned()));
        assert_eq!(find("a red  cat and a fox"), None);
        assert_eq!(find("unforbiddenly"), None);
    }
}
