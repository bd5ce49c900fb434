//! Moderation before any paid step (`MODERATION`) and the operator's
//! blocked words (`BLOCKED_WORDS_FILE`), decided once at start-up.

use std::path::PathBuf;

use super::{ConfigError, Lookup, get};
use crate::domain::BlockedWords;

/// Who screens a prompt before anything is paid for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModerationMode {
    /// Nobody: generations start at once.
    Off,
    /// OpenAI's `/v1/moderations` (`omni-moderation-latest`), once per asset key.
    OpenAi,
}

#[derive(Debug, Clone)]
pub struct ModerationSettings {
    pub mode: ModerationMode,
    /// The words and phrases of `BLOCKED_WORDS_FILE`, read at start-up.
    pub blocked_words: Option<BlockedWords>,
    pub blocked_words_file: Option<PathBuf>,
}

impl ModerationSettings {
    /// `MODERATION=off|openai` — the default is `openai` when
    /// `OPENAI_API_KEY` is set (`openai_key`), else `off`; `openai` without
    /// a key stops the start. `BLOCKED_WORDS_FILE` must be readable.
    pub fn from_lookup(lookup: Lookup<'_>, openai_key: bool) -> Result<Self, ConfigError> {
        let mode = match get(lookup, "MODERATION").map(|v| v.to_ascii_lowercase()).as_deref() {
            None if openai_key => ModerationMode::OpenAi,
            None | Some("off") => ModerationMode::Off,
            Some("openai") if openai_key => ModerationMode::OpenAi,
            Some("openai") => {
                return Err(ConfigError::Missing {
                    name: "OPENAI_API_KEY",
                    hint: "MODERATION=openai asks OpenAI's /v1/moderations and needs the key (or set MODERATION=off)",
                });
            }
            Some(other) => {
                return Err(ConfigError::Invalid { name: "MODERATION", reason: format!("`{other}`: use off or openai") });
            }
        };
        let blocked_words_file = get(lookup, "BLOCKED_WORDS_FILE").map(PathBuf::from);
        let blocked_words = match &blocked_words_file {
            None => None,
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Invalid {
                    name: "BLOCKED_WORDS_FILE",
                    reason: format!("cannot read {}: {e}", path.display()),
                })?;
                Some(BlockedWords::parse(&text))
            }
        };
        Ok(Self { mode, blocked_words, blocked_words_file })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(vars: &[(&str, &str)], key: bool) -> Result<ModerationSettings, ConfigError> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        ModerationSettings::from_lookup(&move |name| vars.get(name).cloned(), key)
    }

    #[test]
    fn moderation_defaults_to_openai_only_with_a_key() {
        assert_eq!(read(&[], true).map(|s| s.mode).ok(), Some(ModerationMode::OpenAi));
        assert_eq!(read(&[], false).map(|s| s.mode).ok(), Some(ModerationMode::Off));
        assert_eq!(read(&[("MODERATION", "off")], true).map(|s| s.mode).ok(), Some(ModerationMode::Off));
        assert!(read(&[("MODERATION", "openai")], false).is_err(), "openai needs the key");
        assert!(read(&[("MODERATION", "azure")], true).is_err());
        assert!(read(&[("BLOCKED_WORDS_FILE", "/nonexistent/blocked.txt")], true).is_err());
    }
}
