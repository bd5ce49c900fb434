//! What a video is made from, besides its prompt: the user's choices
//! (quality, format, length), the generator kind of the deployment, and for
//! a remix the digest of the photo's bytes. Built once at intake; the
//! asset's key covers all of it ([`super::PromptKey::of`]).

use std::fmt;
use std::str::FromStr;

use sea_orm::sea_query::StringLen;
use sea_orm::{DeriveActiveEnum, DeriveValueType, EnumIter};

/// Model tier: a fast, cheaper model or the best one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum Quality {
    #[default]
    #[sea_orm(string_value = "fast")]
    Fast,
    #[sea_orm(string_value = "quality")]
    Quality,
}

/// Frame format: landscape 16:9 or portrait 9:16.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum Format {
    #[default]
    #[sea_orm(string_value = "16:9")]
    Landscape,
    #[sea_orm(string_value = "9:16")]
    Portrait,
}

/// Video length: short or long (how long each generator makes them is its
/// own business; long is always longer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum Length {
    #[default]
    #[sea_orm(string_value = "short")]
    Short,
    #[sea_orm(string_value = "long")]
    Long,
}

/// Which generator makes the video (`GENERATOR`): part of the key, so that
/// switching it makes new videos instead of answering with the old ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum GeneratorKind {
    #[default]
    #[sea_orm(string_value = "local")]
    Local,
    #[sea_orm(string_value = "pipeline")]
    Pipeline,
    #[sea_orm(string_value = "veo")]
    Veo,
}

/// A choice's value that is not one of the allowed ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a valid {what}: expected one of {allowed}")]
pub struct UnknownChoice {
    pub what: &'static str,
    pub value: String,
    pub allowed: &'static str,
}

macro_rules! token_enum {
    ($ty:ident, $what:literal, $allowed:literal, { $($variant:ident => $token:literal),+ $(,)? }) => {
        impl $ty {
            /// The stable token: stored, keyed and written in callback data.
            pub fn token(self) -> &'static str {
                match self { $($ty::$variant => $token),+ }
            }

            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];
        }

        impl FromStr for $ty {
            type Err = UnknownChoice;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.trim().to_ascii_lowercase().as_str() {
                    $($token => Ok($ty::$variant),)+
                    _ => Err(UnknownChoice { what: $what, value: s.to_owned(), allowed: $allowed }),
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.token())
            }
        }
    };
}

token_enum!(Quality, "quality", "fast, quality", { Fast => "fast", Quality => "quality" });
token_enum!(Format, "format", "16:9, 9:16", { Landscape => "16:9", Portrait => "9:16" });
token_enum!(Length, "length", "short, long", { Short => "short", Long => "long" });
token_enum!(GeneratorKind, "generator", "local, pipeline, veo", { Local => "local", Pipeline => "pipeline", Veo => "veo" });

impl Format {
    /// True for 9:16.
    pub fn is_portrait(self) -> bool {
        self == Format::Portrait
    }
}

/// A user's choices: what `/settings` shows and every new request uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Choices {
    pub quality: Quality,
    pub format: Format,
    pub length: Length,
}

/// One choice changed from the settings screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Choice {
    Quality(Quality),
    Format(Format),
    Length(Length),
}

impl Choices {
    /// These choices with `choice` applied.
    pub fn with(self, choice: Choice) -> Self {
        match choice {
            Choice::Quality(quality) => Self { quality, ..self },
            Choice::Format(format) => Self { format, ..self },
            Choice::Length(length) => Self { length, ..self },
        }
    }

    /// True when `choice` is what these choices hold.
    pub fn has(self, choice: Choice) -> bool {
        self.with(choice) == self
    }
}

impl Choice {
    /// Every choice the settings screen offers, in its order.
    pub fn all() -> impl Iterator<Item = Choice> {
        Quality::ALL
            .iter()
            .map(|q| Choice::Quality(*q))
            .chain(Format::ALL.iter().map(|f| Choice::Format(*f)))
            .chain(Length::ALL.iter().map(|l| Choice::Length(*l)))
    }

    /// `q:fast`, `f:9:16`, `l:long`: the compact form in callback data.
    pub fn token(self) -> String {
        match self {
            Choice::Quality(q) => format!("q{}", q.token()),
            Choice::Format(f) => format!("f{}", f.token()),
            Choice::Length(l) => format!("l{}", l.token()),
        }
    }

    pub fn parse(token: &str) -> Option<Choice> {
        let (kind, value) = token.split_at_checked(1)?;
        match kind {
            "q" => value.parse().ok().map(Choice::Quality),
            "f" => value.parse().ok().map(Choice::Format),
            "l" => value.parse().ok().map(Choice::Length),
            _ => None,
        }
    }
}

/// Lowercase hex SHA-256 of a photo's bytes: what a remix is made from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, DeriveValueType)]
pub struct ImageDigest(String);

impl ImageDigest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(super::prompt::hex_sha256(&[bytes]))
    }

    /// A stored digest: 64 lowercase hex digits, or `None`.
    pub fn parse(hex: &str) -> Option<Self> {
        (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))).then(|| Self(hex.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ImageDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Everything besides the prompt that changes the video: built once at
/// intake and handed to the generator as it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Recipe {
    pub choices: Choices,
    pub generator: GeneratorKind,
    /// A remix: the photo to animate.
    pub image: Option<ImageDigest>,
}

impl Recipe {
    pub fn new(choices: Choices, generator: GeneratorKind) -> Self {
        Self { choices, generator, image: None }
    }

    pub fn with_image(self, image: ImageDigest) -> Self {
        Self { image: Some(image), ..self }
    }
}

/// What a video was made with, as its generator reports it for a recipe:
/// recorded with the asset, shown to operators and in `/history`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MadeWith {
    /// The model (`veo-3.0-fast-generate-001`, `gen4_turbo`, `local`).
    pub model: String,
    /// `16:9` or `9:16`.
    pub aspect_ratio: String,
    /// Length of the video, in seconds.
    pub duration_secs: u32,
    /// Frame size, `1280x720`, or a provider's tier such as `720p`.
    pub resolution: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        for choice in Choice::all() {
            assert_eq!(Choice::parse(&choice.token()), Some(choice));
        }
        assert_eq!("9:16".parse::<Format>(), Ok(Format::Portrait));
        assert_eq!(" Quality ".parse::<Quality>(), Ok(Quality::Quality));
        assert!("4:3".parse::<Format>().is_err());
        assert_eq!(Choice::parse("x"), None);
        assert_eq!(Choice::parse(""), None);
    }

    #[test]
    fn choices_apply_and_report() {
        let c = Choices::default().with(Choice::Format(Format::Portrait));
        assert_eq!(c.format, Format::Portrait);
        assert!(c.has(Choice::Format(Format::Portrait)));
        assert!(!c.has(Choice::Format(Format::Landscape)));
        assert!(c.has(Choice::Quality(Quality::Fast)));
    }

    #[test]
    fn digests_parse_only_hex() {
        let d = ImageDigest::of(b"photo");
        assert_eq!(ImageDigest::parse(d.as_str()), Some(d));
        assert_eq!(ImageDigest::parse("xyz"), None);
    }
}
