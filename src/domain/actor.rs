//! Who did an operator's action: recorded with it.

use std::fmt;

use super::UserId;

/// An operator: one of `ADMIN_USER_IDS` in Telegram, or someone logged in
/// to the console with `ADMIN_TOKEN` under a name of their choosing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Telegram(UserId),
    Console(ConsoleName),
}

/// The name a console operator gave at login: 1-64 printable characters
/// (`operator` when none was given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleName(String);

impl ConsoleName {
    pub const MAX_CHARS: usize = 64;

    /// Trims, drops control characters and keeps at most [`Self::MAX_CHARS`].
    pub fn parse(raw: &str) -> Self {
        let name: String = raw.trim().chars().filter(|c| !c.is_control()).take(Self::MAX_CHARS).collect();
        if name.trim().is_empty() { Self("operator".to_owned()) } else { Self(name.trim().to_owned()) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Actor {
    /// `telegram:<user id>` or `console:<name>`, as stored.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Telegram(user) => write!(f, "telegram:{user}"),
            Actor::Console(name) => write!(f, "console:{}", name.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_are_stored_with_their_origin() {
        assert_eq!(Actor::Telegram(UserId(42)).to_string(), "telegram:42");
        assert_eq!(Actor::Console(ConsoleName::parse("  Ann\u{7}  ")).to_string(), "console:Ann");
        assert_eq!(ConsoleName::parse("   ").as_str(), "operator");
        assert_eq!(ConsoleName::parse(&"x".repeat(100)).as_str().len(), 64);
    }
}
