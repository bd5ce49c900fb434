//! Sign-in with `ADMIN_TOKEN` and protection of every form.
//!
//! The session is a cookie (`HttpOnly; SameSite=Strict`) holding when it
//! was issued, a random nonce and the operator's name, signed with an HMAC
//! keyed by the token: nothing is kept on the server, so any replica (and
//! a restart) accepts it, and changing the token signs everyone out.
//! Every form carries a CSRF token derived from the session's nonce (the
//! sign-in form: a random value also set as a cookie), and a POST whose
//! `Origin` or `Sec-Fetch-Site` says it came from another site is refused.
//! The cookies are `Secure` when the proxy in front says the browser came
//! over https (`X-Forwarded-Proto`). Failed sign-ins are throttled
//! ([`Throttle`]); the token is compared in constant time.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Strict`, for the whole
/// console; `Secure` when the request came over https ([`over_https`]).
pub fn set_cookie(name: &str, value: &str, max_age: u64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

/// True when the browser reached the console over https: the console
/// itself speaks plain HTTP, so this is what the proxy in front of it says
/// (`X-Forwarded-Proto: https`, or `Forwarded: proto=https`).
pub fn over_https(headers: &HeaderMap) -> bool {
    let first = |name: &str| {
        headers.get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.split(',').next()).map(|v| v.trim().to_owned())
    };
    if first("x-forwarded-proto").is_some_and(|proto| proto.eq_ignore_ascii_case("https")) {
        return true;
    }
    first("forwarded").is_some_and(|forwarded| {
        forwarded
            .split(';')
            .filter_map(|pair| pair.trim().split_once('='))
            .any(|(k, v)| k.trim().eq_ignore_ascii_case("proto") && v.trim().trim_matches('"').eq_ignore_ascii_case("https"))
    })
}

/// Failed sign-ins allowed per client address in [`THROTTLE_WINDOW`].
pub const FAILURES_PER_CLIENT: usize = 5;
/// Failed sign-ins allowed from all clients together in [`THROTTLE_WINDOW`].
pub const FAILURES_IN_ALL: usize = 20;
pub const THROTTLE_WINDOW: Duration = Duration::from_secs(60);
/// Client addresses remembered at most (the oldest are forgotten first).
const CLIENTS_KEPT: usize = 10_000;

/// Slows down token guessing: after [`FAILURES_PER_CLIENT`] failed
/// sign-ins from one address (or [`FAILURES_IN_ALL`] from everyone) in a
/// minute, every sign-in is refused until the oldest of them is a minute
/// old. Kept in memory, per process.
#[derive(Default)]
pub struct Throttle {
    failures: Mutex<Failures>,
}

#[derive(Default)]
struct Failures {
    all: VecDeque<Instant>,
    by_client: HashMap<IpAddr, VecDeque<Instant>>,
}

/// Drops what is older than the window; returns how long until a slot frees
/// when `limit` is reached.
fn wait_in(times: &mut VecDeque<Instant>, limit: usize, now: Instant) -> Option<Duration> {
    while times.front().is_some_and(|t| now.duration_since(*t) >= THROTTLE_WINDOW) {
        times.pop_front();
    }
    if times.len() < limit {
        return None;
    }
    times.front().map(|oldest| THROTTLE_WINDOW.saturating_sub(now.duration_since(*oldest)))
}

impl Throttle {
    /// `Err(wait)` when `client` must wait before signing in again.
    pub fn check(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let all = wait_in(&mut failures.all, FAILURES_IN_ALL, now);
        let mine = failures.by_client.get_mut(&client).and_then(|times| wait_in(times, FAILURES_PER_CLIENT, now));
        match all.into_iter().chain(mine).max() {
            Some(wait) => Err(wait.max(Duration::from_secs(1))),
            None => Ok(()),
        }
    }

    /// A sign-in from `client` failed.
    pub fn failed(&self, client: IpAddr, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.all.push_back(now);
        if failures.all.len() > FAILURES_IN_ALL {
            failures.all.pop_front();
        }
        if failures.by_client.len() >= CLIENTS_KEPT && !failures.by_client.contains_key(&client) {
            failures.by_client.retain(|_, times| times.back().is_some_and(|t| now.duration_since(*t) < THROTTLE_WINDOW));
            if failures.by_client.len() >= CLIENTS_KEPT {
                failures.by_client.clear();
            }
        }
        let times = failures.by_client.entry(client).or_default();
        times.push_back(now);
        if times.len() > FAILURES_PER_CLIENT {
            times.pop_front();
        }
    }
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

    #[test]
    fn failed_sign_ins_are_throttled_per_client_and_in_all() {
        let throttle = Throttle::default();
        let start = Instant::now();
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().expect("ip"), "10.0.0.2".parse().expect("ip"));
        for i in 0..FAILURES_PER_CLIENT {
            assert_eq!(throttle.check(a, start), Ok(()), "failure {i}");
            throttle.failed(a, start);
        }
        let wait = throttle.check(a, start + Duration::from_secs(10)).expect_err("throttled");
        assert_eq!(wait, Duration::from_secs(50));
        assert_eq!(throttle.check(b, start), Ok(()), "another client is not");
        assert_eq!(throttle.check(a, start + THROTTLE_WINDOW), Ok(()), "a minute later");
        // many clients together
        for i in 0..FAILURES_IN_ALL {
            throttle.failed(IpAddr::from([10, 1, 0, i as u8]), start + Duration::from_secs(1));
        }
        assert!(throttle.check(IpAddr::from([10, 2, 0, 1]), start + Duration::from_secs(2)).is_err());
    }

    #[test]
    fn cookies_are_secure_behind_an_https_proxy() {
        let mut headers = HeaderMap::new();
        assert!(!over_https(&headers));
        assert!(!set_cookie("a", "b", 1, false).contains("Secure"));
        assert!(set_cookie("a", "b", 1, true).ends_with("; Secure"));
        headers.insert("x-forwarded-proto", HeaderValue::from_static("HTTPS, http"));
        assert!(over_https(&headers));
        headers.insert("x-forwarded-proto", HeaderValue::from_static("http"));
        assert!(!over_https(&headers));
        headers.remove("x-forwarded-proto");
        headers.insert("forwarded", HeaderValue::from_static("for=1.2.3.4;proto=https;by=5.6.7.8"));
        assert!(over_https(&headers));
    }
}
