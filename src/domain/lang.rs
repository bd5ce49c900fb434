use std::sync::OnceLock;

use sea_orm::sea_query::StringLen;
use sea_orm::{DeriveActiveEnum, EnumIter};

/// A language the bot speaks, stored with each request (`user_requests.language`)
/// so texts sent later — notes, progress edits, the video's caption, failure
/// notices — are in the language of the user who asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(8))")]
pub enum Lang {
    #[sea_orm(string_value = "en")]
    En,
    #[sea_orm(string_value = "ru")]
    Ru,
}

/// The language of users without a `language_code` (`DEFAULT_LANGUAGE`),
/// set once at start.
static DEFAULT: OnceLock<Lang> = OnceLock::new();

impl Lang {
    /// Every language, in the order menus list them.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Ru];

    /// The language for a Telegram user's `language_code` (an IETF tag such
    /// as `ru` or `ru-RU`): Russian for Russian, Ukrainian and Belarusian
    /// speakers, English for every other code, the configured default
    /// (`DEFAULT_LANGUAGE`) when there is none.
    pub fn for_code(code: Option<&str>) -> Self {
        let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) else { return Lang::default() };
        let primary = code.split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase();
        match primary.as_str() {
            "ru" | "uk" | "be" => Lang::Ru,
            _ => Lang::En,
        }
    }

    /// Parses a setting's value: `en` or `ru` (a region tag like `ru-RU` too).
    pub fn parse(value: &str) -> Option<Self> {
        let primary = value.trim().split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "ru" => Some(Lang::Ru),
            _ => None,
        }
    }

    /// The ISO 639-1 code.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ru => "ru",
        }
    }

    /// The Telegram `language_code`s whose users are spoken to in this
    /// language (for the command menu registered per language).
    pub fn telegram_codes(self) -> &'static [&'static str] {
        match self {
            Lang::En => &["en"],
            Lang::Ru => &["ru", "uk", "be"],
        }
    }

    /// Makes `lang` the language of users without a `language_code`. Only
    /// the first call counts (start-up, from `DEFAULT_LANGUAGE`).
    pub fn set_default(lang: Lang) {
        let _ = DEFAULT.set(lang);
    }
}

impl Default for Lang {
    /// `DEFAULT_LANGUAGE`, English unless set.
    fn default() -> Self {
        DEFAULT.get().copied().unwrap_or(Lang::En)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_pick_the_language() {
        for code in ["ru", "ru-RU", "RU", "uk", "uk-UA", "be", "be_BY"] {
            assert_eq!(Lang::for_code(Some(code)), Lang::Ru, "{code}");
        }
        for code in ["en", "en-US", "de", "fr", "kk", "rus", "b"] {
            assert_eq!(Lang::for_code(Some(code)), Lang::En, "{code}");
        }
        assert_eq!(Lang::parse("ru"), Some(Lang::Ru));
        assert_eq!(Lang::parse(" EN "), Some(Lang::En));
        assert_eq!(Lang::parse("de"), None);
    }
}
