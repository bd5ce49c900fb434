use std::fmt;

use sea_orm::DeriveValueType;

use super::recipe::{Choices, Recipe};

const SEP: &[u8] = b"\x1f";
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

/// The stable key of an asset: lowercase hex SHA-256 over what its video is
/// made from (see [`PromptKey::of`]).
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

    /// The digest of the normalized text alone: the key the previous
    /// release (before the recipe was keyed) gave a prompt's asset, and the
    /// indexed column by which operators find every recipe's asset of a
    /// prompt.
    pub fn legacy_key(&self) -> PromptKey {
        PromptKey(hex_sha256(&[self.0.as_bytes()]))
    }
}

pub(super) fn hex_sha256(parts: &[&[u8]]) -> String {
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

/// Bumped when what the key covers changes on purpose (a re-key).
pub const KEY_VERSION: i32 = 2;

impl PromptKey {
    /// The key of a prompt's own video made with `recipe`: the digest of
    /// a version tag, the normalized prompt, quality, format, length, the
    /// generator kind and (a remix) the photo's digest, separated by a
    /// control character no normalized prompt holds. Same prompt and same
    /// recipe: same key; any field changed: another key.
    pub fn of(prompt: &Prompt, recipe: &Recipe) -> PromptKey {
        let Choices { quality, format, length } = recipe.choices;
        let image = recipe.image.as_ref().map_or("", |d| d.as_str());
        PromptKey(hex_sha256(&[
            b"vidcache-key/2",
            SEP,
            prompt.0.as_bytes(),
            SEP,
            quality.token().as_bytes(),
            SEP,
            format.token().as_bytes(),
            SEP,
            length.token().as_bytes(),
            SEP,
            recipe.generator.token().as_bytes(),
            SEP,
            image.as_bytes(),
        ]))
    }

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

    fn key(prompt: &str) -> PromptKey {
        PromptKey::of(&p(prompt), &Recipe::default())
    }

    #[test]
    fn legacy_key_is_what_the_previous_release_stored() {
        // The previous release keyed an asset by sha256 of the normalized prompt alone.
        assert_eq!(p("abc").legacy_key().as_str(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(p(" ABC ").legacy_key(), p("abc").legacy_key());
        // The recipe's key never meets a legacy one.
        assert_ne!(key("abc"), p("abc").legacy_key());
    }

    #[test]
    fn key_is_lowercase_hex_and_normalized() {
        let k = key("Zoë");
        assert_eq!(k.as_str().len(), 64);
        assert!(k.as_str().chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(k, key(" ZOË "));
        assert_ne!(k, key("zoe"));
    }

    #[test]
    fn extension_keys_depend_on_parent_and_normalized_continuation() {
        let parent = key("zoë");
        let k = PromptKey::extension(&parent, &p("And Then  a Dragon"));
        assert_eq!(k, PromptKey::extension(&parent, &p("and then a dragon")));
        assert_ne!(k, PromptKey::extension(&key("zoe"), &p("and then a dragon")));
        assert_ne!(k, key("and then a dragon"));
        assert_eq!(k.as_str().len(), 64);
    }

    fn recipes() -> impl Strategy<Value = Recipe> {
        use crate::domain::{Format, GeneratorKind, ImageDigest, Length, Quality};
        (
            prop::sample::select(Quality::ALL),
            prop::sample::select(Format::ALL),
            prop::sample::select(Length::ALL),
            prop::sample::select(GeneratorKind::ALL),
            prop::option::of(prop::collection::vec(any::<u8>(), 0..16)),
        )
            .prop_map(|(quality, format, length, generator, image)| Recipe {
                choices: Choices { quality, format, length },
                generator,
                image: image.map(|bytes| ImageDigest::of(&bytes)),
            })
    }

    /// Every way to change one field of a recipe.
    fn one_field_changed(r: &Recipe) -> Vec<Recipe> {
        use crate::domain::{Format, GeneratorKind, ImageDigest, Length, Quality};
        let c = r.choices;
        let mut out = Vec::new();
        out.extend(
            Quality::ALL
                .iter()
                .filter(|q| **q != c.quality)
                .map(|q| Recipe { choices: Choices { quality: *q, ..c }, ..r.clone() }),
        );
        out.extend(
            Format::ALL.iter().filter(|f| **f != c.format).map(|f| Recipe { choices: Choices { format: *f, ..c }, ..r.clone() }),
        );
        out.extend(
            Length::ALL.iter().filter(|l| **l != c.length).map(|l| Recipe { choices: Choices { length: *l, ..c }, ..r.clone() }),
        );
        out.extend(GeneratorKind::ALL.iter().filter(|g| **g != r.generator).map(|g| Recipe { generator: *g, ..r.clone() }));
        out.push(Recipe {
            image: match &r.image {
                Some(_) => None,
                None => Some(ImageDigest::of(b"x")),
            },
            ..r.clone()
        });
        if let Some(d) = &r.image {
            let mut other = d.as_str().as_bytes().to_vec();
            other.push(b'!');
            out.push(Recipe { image: Some(ImageDigest::of(&other)), ..r.clone() });
        }
        out
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
            prop_assert_eq!(a.legacy_key(), c.legacy_key());
            prop_assert_eq!(PromptKey::of(&a, &Recipe::default()), PromptKey::of(&c, &Recipe::default()));
            prop_assert_eq!(PromptKey::of(&b, &Recipe::default()), PromptKey::of(&c, &Recipe::default()));
        }

        #[test]
        fn same_inputs_same_key(s in "\\PC{1,40}", recipe in recipes()) {
            if let Ok(prompt) = Prompt::parse(&s, usize::MAX) {
                prop_assert_eq!(PromptKey::of(&prompt, &recipe), PromptKey::of(&prompt.clone(), &recipe.clone()));
            }
        }

        #[test]
        fn changing_any_one_field_changes_the_key(s in "[a-z ]{1,30}", other in "[a-z ]{1,30}", recipe in recipes()) {
            if let (Ok(prompt), Ok(other)) = (Prompt::parse(&s, usize::MAX), Prompt::parse(&other, usize::MAX)) {
                let key = PromptKey::of(&prompt, &recipe);
                for changed in one_field_changed(&recipe) {
                    prop_assert_ne!(&key, &PromptKey::of(&prompt, &changed), "{:?} vs {:?}", recipe, changed);
                }
                if other != prompt {
                    prop_assert_ne!(&key, &PromptKey::of(&other, &recipe));
                }
                prop_assert_ne!(&key, &prompt.legacy_key());
            }
        }

        #[test]
        fn parse_never_panics(s in any::<String>(), max in 0usize..2000) {
            let _ = Prompt::parse(&s, max);
        }
    }
}
