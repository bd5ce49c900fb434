//! Values that must never reach a log line: the bot token, the webhook
//! secret, provider API keys, a database URL's password.

use std::fmt;

/// A secret value. Its `Debug` and `Display` are `***`; the value itself is
/// only handed out by [`Secret::expose`], for the one header or URL that
/// needs it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for an `Authorization` header or a request URL only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A connection URL whose password is a secret: `Display`/`Debug` show
/// `postgres://user:***@host/db`; [`SecretUrl::expose`] gives the real one.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(Secret);

impl SecretUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(Secret::new(url))
    }

    /// The URL with its password, for opening the connection only.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        let url = self.0.expose();
        let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
        let authority_end = rest.find('/').unwrap_or(rest.len());
        let (authority, path) = rest.split_at(authority_end);
        match authority.rsplit_once('@') {
            Some((userinfo, host)) => match userinfo.split_once(':') {
                Some((user, _password)) => format!("{scheme}://{user}:***@{host}{path}"),
                None => url.to_owned(),
            },
            None => url.to_owned(),
        }
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let key = Secret::new("sk-very-secret");
        assert_eq!(format!("{key} {key:?}"), "*** ***");
        assert_eq!(key.expose(), "sk-very-secret");
    }

    #[test]
    fn urls_hide_only_the_password() {
        let url = SecretUrl::new("postgres://app:hunter2@db:5432/vidcache");
        assert_eq!(url.to_string(), "postgres://app:***@db:5432/vidcache");
        assert!(!format!("{url:?}").contains("hunter2"));
        assert_eq!(url.expose(), "postgres://app:hunter2@db:5432/vidcache");
        assert_eq!(SecretUrl::new("redis://127.0.0.1:6379/0").to_string(), "redis://127.0.0.1:6379/0");
        assert_eq!(SecretUrl::new("sqlite:///tmp/x.sqlite?mode=rwc").to_string(), "sqlite:///tmp/x.sqlite?mode=rwc");
    }
}
