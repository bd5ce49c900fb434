//! The catalog search's settings: the similar-video offer
//! (`SIMILAR_VIDEOS`, `SIMILARITY_THRESHOLD`) and inline mode's feedback
//! (`INLINE_FEEDBACK`).

use super::{ConfigError, Lookup, get, on_off};

/// What the catalog search is set to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchSettings {
    /// `SIMILAR_VIDEOS=on|off` (default on): a miss whose prompt is close
    /// to an available video's of the same recipe is asked about first.
    pub similar_videos: bool,
    /// `SIMILARITY_THRESHOLD` (0–1, default 0.75): how alike the prompts'
    /// words must be to offer.
    pub similarity_threshold: f64,
    /// `INLINE_FEEDBACK=on|off` (default off): ask Telegram for
    /// `chosen_inline_result` (turn BotFather's /setinlinefeedback on too).
    pub inline_feedback: bool,
}

impl Default for SearchSettings {
    fn default() -> Self {
        Self { similar_videos: true, similarity_threshold: 0.75, inline_feedback: false }
    }
}

impl SearchSettings {
    pub fn from_lookup(lookup: Lookup<'_>) -> Result<Self, ConfigError> {
        let similarity_threshold = match get(lookup, "SIMILARITY_THRESHOLD") {
            None => 0.75,
            Some(raw) => match raw.parse::<f64>() {
                Ok(t) if (0.0..=1.0).contains(&t) && t > 0.0 => t,
                _ => {
                    return Err(ConfigError::Invalid {
                        name: "SIMILARITY_THRESHOLD",
                        reason: format!("`{raw}`: use a number above 0 and at most 1 (e.g. 0.75)"),
                    });
                }
            },
        };
        Ok(Self {
            similar_videos: on_off(lookup, "SIMILAR_VIDEOS", true)?,
            similarity_threshold,
            inline_feedback: on_off(lookup, "INLINE_FEEDBACK", false)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<SearchSettings, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        SearchSettings::from_lookup(&move |name| map.get(name).cloned())
    }

    #[test]
    fn defaults_and_values() {
        assert_eq!(read(&[]).expect("defaults"), SearchSettings::default());
        let set = read(&[("SIMILAR_VIDEOS", "off"), ("SIMILARITY_THRESHOLD", "0.9"), ("INLINE_FEEDBACK", "on")]).expect("set");
        assert!(!set.similar_videos && set.inline_feedback);
        assert!((set.similarity_threshold - 0.9).abs() < 1e-9);
        for bad in ["0", "1.5", "-1", "high"] {
            assert!(read(&[("SIMILARITY_THRESHOLD", bad)]).is_err(), "{bad}");
        }
        assert!(read(&[("SIMILAR_VIDEOS", "maybe")]).is_err());
    }
}
