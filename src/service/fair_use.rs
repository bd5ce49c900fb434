//! Fair use across replicas: with Redis, a user's rate limit is one
//! sliding-window log per user, checked and recorded by one atomic Lua
//! script on Redis's clock, so every bot replica counts the same requests.
//! Without Redis the recording transaction checks it in the database
//! (`domain::Admission`); waiting requests are always counted there.

use std::time::Duration;

use redis::Script;
use redis::aio::ConnectionManager;

use crate::config::RateWindow;
use crate::domain::UserId;

/// The Lua shared by [`CHECK`] and [`PEEK`]: `now` on Redis's clock, and
/// `wait`, how long until one more request fits every window (0: now).
macro_rules! window_wait {
    () => {
        r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait = 0
local pairs = (#ARGV - 1) / 2
for i = 1, pairs do
  local max = tonumber(ARGV[2 * i])
  local per = tonumber(ARGV[2 * i + 1])
  local inside = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. (now - per), '+inf', 'WITHSCORES')
  local count = #inside / 2
  if count >= max then
    local leaves = tonumber(inside[2 * (count - max + 1)]) + per - now
    if leaves > wait then wait = leaves end
  end
end
"#
    };
}

/// ARGV: longest window (ms), then (max, window ms) pairs. Returns
/// `{0, member}` when the request is let in (and recorded as `member`),
/// else `{milliseconds to wait, ""}`. (Entries older than the longest
/// window are dropped after the wait is worked out: none of them is
/// inside any window.)
const CHECK: &str = concat!(
    window_wait!(),
    r#"
local longest = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - longest)
if wait > 0 then return {wait, ''} end
local seq = redis.call('INCR', KEYS[2])
local member = now .. '-' .. seq
redis.call('ZADD', KEYS[1], now, member)
redis.call('PEXPIRE', KEYS[1], longest + 1000)
redis.call('PEXPIRE', KEYS[2], longest + 1000)
return {0, member}
"#
);

/// [`CHECK`] without counting: `{milliseconds to wait}` (0: one more is let in).
const PEEK: &str = concat!(window_wait!(), "return wait\n");

/// What the rate limit said of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admit {
    /// Let in, counted as this entry of the user's log: [`SharedRateLimit::release`]
    /// takes it back when the request is then refused for another reason.
    In(Option<String>),
    /// Over the limit: the next request is let in after this long.
    Wait(Duration),
}

/// The per-user rate limit kept in Redis.
#[derive(Clone)]
pub struct SharedRateLimit {
    conn: ConnectionManager,
    prefix: String,
    windows: Vec<RateWindow>,
    script: Script,
    peek: Script,
}

impl std::fmt::Debug for SharedRateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedRateLimit").field("prefix", &self.prefix).field("windows", &self.windows).finish_non_exhaustive()
    }
}

impl SharedRateLimit {
    /// `bot_id` keys the log: every process of one bot shares it.
    pub async fn connect(url: &str, bot_id: i64, windows: Vec<RateWindow>) -> Result<Self, redis::RedisError> {
        // Opened on first use: the process starts while Redis is away.
        let conn = queue::lazy_redis(url)?;
        Ok(Self { conn, prefix: format!("vidcache:rate:{bot_id}"), windows, script: Script::new(CHECK), peek: Script::new(PEEK) })
    }

    fn key(&self, user: UserId) -> String {
        format!("{}:{}", self.prefix, user.0)
    }

    /// Lets one request of `user` in (and counts it), or says how long to wait.
    #[tracing::instrument(skip(self))]
    pub async fn check(&self, user: UserId) -> Result<Admit, redis::RedisError> {
        if self.windows.is_empty() {
            return Ok(Admit::In(None));
        }
        let longest = self.windows.iter().map(|w| w.per.as_millis() as u64).max().unwrap_or_default();
        let mut invocation = self.script.prepare_invoke();
        invocation.key(self.key(user)).key(format!("{}:{}:seq", self.prefix, user.0)).arg(longest);
        for window in &self.windows {
            invocation.arg(window.max).arg(window.per.as_millis() as u64);
        }
        let mut conn = self.conn.clone();
        let (wait, member): (i64, String) = invocation.invoke_async(&mut conn).await?;
        if wait > 0 {
            // never longer than the longest window, whatever Redis holds
            return Ok(Admit::Wait(Duration::from_millis(wait.unsigned_abs().min(longest))));
        }
        Ok(Admit::In(Some(member).filter(|m| !m.is_empty())))
    }

    /// How long `user` must wait before one more request is let in
    /// (`None`: it would be), counting nothing: checked before something is
    /// paid for a request (a voice message's transcription).
    #[tracing::instrument(skip(self))]
    pub async fn peek(&self, user: UserId) -> Result<Option<Duration>, redis::RedisError> {
        let Some(longest) = self.windows.iter().map(|w| w.per.as_millis() as u64).max() else { return Ok(None) };
        let mut invocation = self.peek.prepare_invoke();
        invocation.key(self.key(user)).arg(longest);
        for window in &self.windows {
            invocation.arg(window.max).arg(window.per.as_millis() as u64);
        }
        let mut conn = self.conn.clone();
        let wait: i64 = invocation.invoke_async(&mut conn).await?;
        Ok((wait > 0).then(|| Duration::from_millis(wait.unsigned_abs().min(longest))))
    }

    /// Takes back a request [`check`](Self::check) let in that was then
    /// refused (not enough credits, too many waiting): it uses no slot.
    #[tracing::instrument(skip(self))]
    pub async fn release(&self, user: UserId, member: &str) -> Result<(), redis::RedisError> {
        let mut conn = self.conn.clone();
        redis::cmd("ZREM").arg(self.key(user)).arg(member).query_async::<i64>(&mut conn).await?;
        Ok(())
    }
}
