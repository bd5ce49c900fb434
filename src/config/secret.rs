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

/// A connection URL whose credentials are secret: `Display`/`Debug` show
/// `postgres://user:***@host/db?sslmode=require&password=***` (see
/// [`redact_url`]); [`SecretUrl::expose`] gives the real one.
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

    /// The URL with every credential replaced by `***` ([`redact_url`]).
    pub fn redacted(&self) -> String {
        redact_url(self.0.expose())
    }
}

/// Query parameters whose values are credentials, compared case-insensitively
/// (besides any name ending in `password`, `_token`, `_secret` or `_key`).
const SECRET_PARAMS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "sslpassword",
    "token",
    "access_token",
    "secret",
    "key",
    "api_key",
    "apikey",
    "sig",
    "signature",
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
];

/// Schemes whose user name is only a name: a bare userinfo of any other
/// URL (`https://TOKEN@host`) is taken for a credential.
const NAMED_USER_SCHEMES: &[&str] = &["postgres", "postgresql", "redis", "rediss", "sqlite", "mysql"];

fn secret_param(name: &str) -> bool {
    let name = name.trim().to_ascii_lowercase();
    SECRET_PARAMS.contains(&name.as_str())
        || name.ends_with("password")
        || name.ends_with("_token")
        || name.ends_with("_secret")
        || name.ends_with("_key")
}

/// `query` (without its `?`) with the value of every credential parameter
/// replaced by `***`.
fn redact_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if secret_param(name) => format!("{name}=***"),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// `url` with every credential replaced by `***`: the password of its
/// userinfo (all of a bare userinfo, but for a database's user name), and
/// the value of every query parameter named like one (`password`, `pwd`,
/// `sslpassword`, `token`, `access_token`, `secret`, `key`, `api_key`,
/// `sig`, `signature`, `X-Amz-Signature`, `X-Amz-Credential`, …; any case).
/// Works on any scheme (`postgres`, `redis`, `rediss`, `sqlite`, `http(s)`,
/// `s3`, …) and never fails: what does not parse is kept as it is.
pub fn redact_url(url: &str) -> String {
    // The fragment is never needed in a log line, and may carry a token.
    let (url, fragment) = match url.split_once('#') {
        Some((url, _)) => (url, "#***"),
        None => (url, ""),
    };
    let (head, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(redact_query(query))),
        None => (url, None),
    };
    let head = match head.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            match authority.rsplit_once('@') {
                Some((userinfo, host)) => match userinfo.split_once(':') {
                    Some((user, _password)) => format!("{scheme}://{user}:***@{host}{path}"),
                    None if NAMED_USER_SCHEMES.contains(&scheme.to_ascii_lowercase().as_str()) => head.to_owned(),
                    None => format!("{scheme}://***@{host}{path}"),
                },
                None => head.to_owned(),
            }
        }
        None => head.to_owned(),
    };
    match query {
        Some(query) => format!("{head}?{query}{fragment}"),
        None => format!("{head}{fragment}"),
    }
}

/// `text` (an error message, say) with every URL in it passed through
/// [`redact_url`]: a driver's error that echoes its connection string
/// can be logged after this.
pub fn scrub_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        // the scheme: letters, digits, `+ - .` right before `://`
        let start = rest[..at]
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            .last()
            .map_or(at, |(i, _)| i);
        let end = rest[at..]
            .char_indices()
            .find(|(_, c)| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>' | ')' | ']' | '}' | ','))
            .map_or(rest.len(), |(i, _)| at + i);
        out.push_str(&rest[..start]);
        out.push_str(&redact_url(&rest[start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
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

    #[test]
    fn credentials_are_hidden_in_every_url_form() {
        let cases = [
            ("postgres://app@db/vidcache?password=hunter2", "hunter2"),
            ("postgres://app@db/vidcache?sslmode=require&Password=hunter2&application_name=x", "hunter2"),
            ("postgresql://db/vidcache?user=app&passwd=hunter2", "hunter2"),
            ("postgres://db/vidcache?PWD=hunter2", "hunter2"),
            ("postgres://db/vidcache?sslpassword=hunter2", "hunter2"),
            ("postgres://app:hunter2@db/vidcache?password=hunter3", "hunter3"),
            ("redis://:hunter2@127.0.0.1:6379/5", "hunter2"),
            ("rediss://default:hunter2@cache:6380/0", "hunter2"),
            ("redis://127.0.0.1:6379/0?password=hunter2", "hunter2"),
            ("sqlite:///data/x.sqlite?mode=rwc&key=hunter2", "hunter2"),
            ("https://api.example/v1?access_token=hunter2", "hunter2"),
            ("https://user:hunter2@api.example/v1", "hunter2"),
            ("https://bucket.s3.amazonaws.com/k?X-Amz-Credential=AKIA%2Fhunter2&X-Amz-Signature=hunter3", "hunter2"),
            ("https://bucket.s3.amazonaws.com/k?X-Amz-Credential=AKIA&X-Amz-Signature=hunter3", "hunter3"),
            ("s3://bucket/prefix?secret=hunter2", "hunter2"),
            ("https://x.example/?token=hunter2#frag", "hunter2"),
            ("https://x.example/?api_key=hunter2", "hunter2"),
            ("https://x.example/?sig=hunter2&signature=hunter3", "hunter2"),
            ("postgres://app:hunter2@db", "hunter2"),
        ];
        for (url, secret) in cases {
            let shown = SecretUrl::new(url).to_string();
            assert!(!shown.contains(secret), "{url} shows as {shown}");
            assert!(!format!("{:?}", SecretUrl::new(url)).contains(secret), "{url}");
            assert_eq!(SecretUrl::new(url).expose(), url);
        }
        assert_eq!(
            SecretUrl::new("postgres://app@db:5432/vidcache?sslmode=require&password=hunter2").to_string(),
            "postgres://app@db:5432/vidcache?sslmode=require&password=***"
        );
        assert_eq!(SecretUrl::new("redis://:hunter2@127.0.0.1:6379/5").to_string(), "redis://:***@127.0.0.1:6379/5");
        assert_eq!(
            SecretUrl::new("https://tok3n@api.example/x?keep=1").to_string(),
            "https://***@api.example/x?keep=1",
            "a bare userinfo of a web URL is a token"
        );
        assert_eq!(SecretUrl::new("postgres://app@db/vidcache").to_string(), "postgres://app@db/vidcache", "a user name stays");
    }
}
