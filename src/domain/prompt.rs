use std::fmt;

use sea_orm::DeriveValueType;
use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;

/// A prompt in its normalized form: Unicode NFKC, case-folded, every run of
/// Unicode whitespace collapsed to one space, trimmed, invisible format
/// characters (zero-width space, joiners, BOM…) removed. Two messages ask
/// for the same video exactly when their `Prompt`s are equal.
///
/// The only way to get one is [`Prompt::parse`], which normalizes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Prompt(String);

/// Why a text is not a usable prompt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromptError {
    #[error("the prompt is empty")]
    Empty,
    #[error("the prompt has {chars} characters, more than the {max} allowed")]
    TooLong { chars: usize, max: usize },
}

/// The stable key of a prompt: lowercase hex SHA-256 of its normalized text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, DeriveValueType)]
pub struct PromptKey(String);

impl Prompt {
    /// Normalizes `raw` and checks it is non-empty and at most `max_chars`
    /// characters long (counted after normalization).
    pub fn parse(raw: &str, max_chars: usize) -> Result<Self, PromptError> {
        let normalized = normalize(raw);
        if normalized.is_empty() {
            return Err(PromptError::Empty);
        }
        let chars = normalized.chars().count();
        if chars > max_chars {
            return Err(PromptError::TooLong { chars, max: max_chars });
        }
        Ok(Self(normalized))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn key(&self) -> PromptKey {
        PromptKey(hex_sha256(&[self.0.as_bytes()]))
    }
}

fn hex_sha256(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    let mut hex = String::with_capacity(64);
    for byte in hasher.finalize() {
        hex.push(char::from_digit(u32::from(byte >> 4), 16).unwrap_or('0'));
        hex.push(char::from_digit(u32::from(byte & 0x0f), 16).unwrap_or('0'));
    }
    hex
}

impl fmt::Display for Prompt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PromptKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key of the extension of the video keyed `parent` by the
    /// (normalized) `continuation`: hex SHA-256 over both. A prompt's own
    /// key is the digest of its text alone, so no prompt can meet an
    /// extension (the separator is a control character, which a normalized
    /// prompt never holds).
    pub fn extension(parent: &PromptKey, continuation: &Prompt) -> PromptKey {
        PromptKey(hex_sha256(&[b"extend\x1f", parent.0.as_bytes(), b"\x1f", continuation.0.as_bytes()]))
    }
}

impl fmt::Display for PromptKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Characters that render as nothing and must not make two prompts differ
/// or an empty prompt non-empty.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' // soft hyphen
            | '\u{034F}' // combining grapheme joiner
            | '\u{061C}' // arabic letter mark
            | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' // hangul fillers
            | '\u{180E}' // mongolian vowel separator
            | '\u{200B}'..='\u{200F}' // zero-width space, joiners, LRM/RLM
            | '\u{202A}'..='\u{202E}' // bidi embeddings
            | '\u{2060}'..='\u{206F}' // word joiner, invisible operators, bidi isolates
            | '\u{FE00}'..='\u{FE0F}' // variation selectors
            | '\u{FEFF}' // BOM / zero-width no-break space
    ) || c.is_control() && !c.is_whitespace()
}

fn normalize(raw: &str) -> String {
    // NFKC, then full case folding (lowercase is Unicode's default folding
    // for all but a handful of special cases; `ß` folds to `ss`), then NFKC
    // again because folding can denormalize.
    let folded: String = raw.nfkc().filter(|c| !is_invisible(*c)).flat_map(fold_case).collect();
    let renormalized: String = folded.nfkc().filter(|c| !is_invisible(*c)).collect();
    let mut out = String::with_capacity(renormalized.len());
    for word in renormalized.split(char::is_whitespace).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

fn fold_case(c: char) -> impl Iterator<Item = char> {
    let special: Option<&'static str> = match c {
        'ß' | 'ẞ' => Some("ss"),
        'ς' => Some("σ"),
        'ﬅ' | 'ﬆ' => Some("st"),
        _ => None,
    };
    let (fixed, lower) = match special {
        Some(s) => (Some(s.chars()), None),
        None => (None, Some(c.to_lowercase())),
    };
    fixed.into_iter().flatten().chain(lower.into_iter().flatten())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn p(s: &str) -> Prompt {
        Prompt::parse(s, 1000).expect("valid prompt")
    }

    #[test]
    fn case_and_space_variants_meet() {
        assert_eq!(p("ZOË"), p("zoë"));
        assert_eq!(p(" Zoë "), p("zoë"));
        assert_eq!(p("Happy\t Birthday\n\u{3000}ZOË"), p("happy birthday zoë"));
        assert_eq!(p("happy birthday zoë").as_str(), "happy birthday zoë");
        assert_eq!(p("Straße").as_str(), "strasse");
    }

    #[test]
    fn compatibility_forms_meet() {
        // Decomposed e + combining diaeresis, fullwidth letters, ligature.
        assert_eq!(p("Zoe\u{0308}"), p("zoë"));
        assert_eq!(p("ＺＯＥ"), p("zoe"));
        assert_eq!(p("ﬁre"), p("fire"));
    }

    #[test]
    fn zero_width_characters_are_ignored() {
        assert_eq!(Prompt::parse("\u{200B}\u{200D}\u{FEFF}", 1000), Err(PromptError::Empty));
        assert_eq!(Prompt::parse(" \t\n ", 1000), Err(PromptError::Empty));
        assert_eq!(p("zo\u{200B}ë"), p("zoë"));
    }

    #[test]
    fn length_is_counted_after_normalization() {
        assert!(Prompt::parse(&"a".repeat(10), 10).is_ok());
        assert_eq!(Prompt::parse(&"a".repeat(11), 10), Err(PromptError::TooLong { chars: 11, max: 10 }));
        assert!(Prompt::parse(&format!("  {}  ", "a".repeat(10)), 10).is_ok());
    }

    #[test]
    fn key_is_hex_sha256_of_normalized_text() {
        let key = p("Zoë").key();
        assert_eq!(key.as_str().len(), 64);
        assert!(key.as_str().chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(key, p(" ZOË ").key());
        assert_ne!(key, p("zoe").key());
        // sha256("abc")
        assert_eq!(p("abc").key().as_str(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn extension_keys_depend_on_parent_and_normalized_continuation() {
        let parent = p("zoë").key();
        let key = PromptKey::extension(&parent, &p("And Then  a Dragon"));
        assert_eq!(key, PromptKey::extension(&parent, &p("and then a dragon")));
        assert_ne!(key, PromptKey::extension(&p("zoe").key(), &p("and then a dragon")));
        assert_ne!(key, p("and then a dragon").key());
        assert_eq!(key.as_str().len(), 64);
    }

    proptest! {
        #[test]
        fn normalization_is_idempotent(s in "\\PC{0,80}") {
            if let Ok(once) = Prompt::parse(&s, usize::MAX) {
                let twice = Prompt::parse(once.as_str(), usize::MAX).expect("normalized stays valid");
                prop_assert_eq!(&once, &twice);
            }
        }

        #[test]
        fn normalized_form_has_no_edge_or_double_spaces(s in "\\PC{0,80}") {
            if let Ok(prompt) = Prompt::parse(&s, usize::MAX) {
                let text = prompt.as_str();
                prop_assert!(!text.starts_with(' ') && !text.ends_with(' '));
                prop_assert!(!text.contains("  "));
                prop_assert!(!text.chars().any(|c| c.is_whitespace() && c != ' '));
            }
        }

        #[test]
        fn case_and_whitespace_variants_share_a_key(words in proptest::collection::vec("[a-zA-Zäöüéëß]{1,8}", 1..5), pad in "[ \t\n\u{00A0}\u{2003}]{0,3}") {
            let spaced = format!("{pad}{}{pad}", words.join(&format!(" {pad}")));
            let upper = words.join(" ").to_uppercase();
            let lower = words.join(" ").to_lowercase();
            let a = Prompt::parse(&spaced, usize::MAX).expect("non-empty");
            let b = Prompt::parse(&upper, usize::MAX).expect("non-empty");
            let c = Prompt::parse(&lower, usize::MAX).expect("non-empty");
            prop_assert_eq!(a.key(), c.key());
            prop_assert_eq!(b.key(), c.key());
        }

        #[test]
        fn parse_never_panics(s in any::<String>(), max in 0usize..2000) {
            let _ = Prompt::parse(&s, max);
        }
    }
}
