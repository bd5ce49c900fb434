//! Sign-in with `ADMIN_TOKEN` and protection of every form.
//!
//! The session is a cookie (`HttpOnly; SameSite=Strict`) holding when it
//! was issued, a random nonce and the operator's name, signed with an HMAC
//! keyed by the token: nothing is kept on the server, so any replica (and
//! a restart) accepts it, and changing the token signs everyone out.
//! Every form carries a CSRF token derived from the session's nonce (the
//! sign-in form: a random value also set as a cookie), and a POST whose
//! `Origin` or `Sec-Fetch-Site` says it came from another site is refused.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use axum::http::header::{COOKIE, HOST, ORIGIN};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

use crate::config::Secret;
use crate::domain::ConsoleName;

pub const SESSION_COOKIE: &str = "vidcache_session";
pub const LOGIN_COOKIE: &str = "vidcache_login";
/// A session lasts this long.
pub const SESSION_SECS: u64 = 12 * 3600;

/// The signed-in operator.
#[derive(Debug, Clone)]
pub struct Session {
    pub name: ConsoleName,
    /// The value every form of this session must carry.
    pub csrf: String,
}

pub struct Keys {
    token: Secret,
    key: hmac::Key,
    random: SystemRandom,
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares without revealing, through timing, how much matched.
pub fn same(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len() && given.iter().zip(expected).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// The value of cookie `name` in the request, if any.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Strict`, for the whole console.
pub fn set_cookie(name: &str, value: &str, max_age: u64) -> String {
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}")
}

/// True when a POST came from another site: its `Origin` names another
/// host than the one it was sent to, or the browser says it is cross-site.
pub fn cross_site(headers: &HeaderMap) -> bool {
    if headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()).is_some_and(|v| v == "cross-site" || v == "same-site") {
        return true;
    }
    let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) else { return false };
    let host = headers.get(HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest).trim_end_matches('/');
    origin == "null" || !origin_host.eq_ignore_ascii_case(host)
}

impl Keys {
    pub fn new(token: Secret) -> Self {
        let key = hmac::Key::new(hmac::HMAC_SHA256, token.expose().as_bytes());
        Self { token, key, random: SystemRandom::new() }
    }

    /// Is `given` the admin token?
    pub fn is_token(&self, given: &str) -> bool {
        // Compare the MACs: equal lengths, and no timing hint about the token.
        let a = hmac::sign(&self.key, given.as_bytes());
        let b = hmac::sign(&self.key, self.token.expose().as_bytes());
        same(a.as_ref(), b.as_ref())
    }

    fn nonce(&self) -> String {
        let mut bytes = [0u8; 16];
        // The system's random source failing is not survivable for a login;
        // fall back to the clock so the caller still gets a (weaker) value.
        if self.random.fill(&mut bytes).is_err() {
            bytes[..8].copy_from_slice(&now_secs().to_le_bytes());
        }
        hex(&bytes)
    }

    fn mac(&self, parts: &[&str]) -> String {
        hex(hmac::sign(&self.key, parts.join("|").as_bytes()).as_ref())
    }

    /// A new session cookie value for `name`.
    pub fn issue(&self, name: &ConsoleName) -> String {
        let issued = now_secs().to_string();
        let nonce = self.nonce();
        let name = URL_SAFE_NO_PAD.encode(name.as_str());
        let mac = self.mac(&["session", &issued, &nonce, &name]);
        format!("{issued}.{nonce}.{name}.{mac}")
    }

    /// The session of a request, if its cookie is genuine and fresh.
    pub fn session(&self, headers: &HeaderMap) -> Option<Session> {
        let value = cookie(headers, SESSION_COOKIE)?;
        let mut parts = value.split('.');
        let (issued, nonce, name, mac) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || !same(mac.as_bytes(), self.mac(&["session", issued, nonce, name]).as_bytes()) {
            return None;
        }
        let issued: u64 = issued.parse().ok()?;
        if now_secs().saturating_sub(issued) > SESSION_SECS {
            return None;
        }
        let name = String::from_utf8(URL_SAFE_NO_PAD.decode(name).ok()?).ok()?;
        Some(Session { name: ConsoleName::parse(&name), csrf: self.mac(&["csrf", nonce]) })
    }

    /// A fresh value for the sign-in form and its cookie.
    pub fn login_nonce(&self) -> String {
        self.nonce()
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn with_cookie(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_str(&format!("other=1; {SESSION_COOKIE}={value}")).expect("header"));
        headers
    }

    #[test]
    fn sessions_are_signed_with_the_token() {
        let keys = Keys::new(Secret::new("the-admin-token"));
        assert!(keys.is_token("the-admin-token"));
        assert!(!keys.is_token("the-admin-tokem"));
        assert!(!keys.is_token(""));
        let cookie = keys.issue(&ConsoleName::parse("Ann"));
        let session = keys.session(&with_cookie(&cookie)).expect("genuine");
        assert_eq!(session.name.as_str(), "Ann");
        // Another token's keys, or a tampered name, are refused.
        assert!(Keys::new(Secret::new("another-token")).session(&with_cookie(&cookie)).is_none());
        let tampered = cookie.replacen(&URL_SAFE_NO_PAD.encode("Ann"), &URL_SAFE_NO_PAD.encode("Bob"), 1);
        assert!(keys.session(&with_cookie(&tampered)).is_none());
        assert!(keys.session(&with_cookie("garbage")).is_none());
        // Each session has its own CSRF value.
        let other = keys.session(&with_cookie(&keys.issue(&ConsoleName::parse("Ann")))).expect("genuine");
        assert_ne!(session.csrf, other.csrf);
    }

    #[test]
    fn cross_site_posts_are_recognized() {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("127.0.0.1:9090"));
        assert!(!cross_site(&headers));
        headers.insert(ORIGIN, HeaderValue::from_static("http://127.0.0.1:9090"));
        assert!(!cross_site(&headers));
        headers.insert(ORIGIN, HeaderValue::from_static("https://evil.example"));
        assert!(cross_site(&headers));
        headers.insert(ORIGIN, HeaderValue::from_static("http://127.0.0.1:9090"));
        headers.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(cross_site(&headers));
    }
}
