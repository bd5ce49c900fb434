//! One flood budget for every process of the bot, kept in Redis.
//!
//! Telegram's limits belong to the bot token, not to a process: two
//! replicas that each keep 30/s together send 60/s. With a Redis URL the
//! limiter's schedules (the global one and one per chat) live in Redis as
//! GCRA "theoretical arrival times", updated atomically by a Lua script that
//! reads Redis's clock, so replicas on different machines share them.
//! The paid broadcast lane (`PAID_BROADCAST=on`) is one more schedule
//! there, so two replicas together never send more than
//! `PAID_BROADCAST_RATE` paid messages a second.
//!
//! A 429 for one chat is kept there too, as that chat's pause: every
//! replica's sends to that chat wait it out, and no other chat's do. A 429
//! of the whole bot (several chats at once) freezes the global schedule and
//! the paid lane of every replica.

use std::time::Duration;

use redis::Script;
use redis::aio::ConnectionManager;

/// The longest wait the shared budget ever imposes (a flood pause included).
const MAX_WAIT: Duration = Duration::from_secs(super::api::MAX_FLOOD_WAIT_SECS);

const RESERVE: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
if ARGV[3] == '1' then
  local frozen = tonumber(redis.call('GET', KEYS[2]) or '0')
  if frozen > now then return -(frozen - now) end
end
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local allowed = tat - tolerance
if allowed < now then allowed = now end
local next_tat = tat + interval
redis.call('SET', KEYS[1], next_tat, 'PX', math.floor((next_tat - now) / 1000) + 1000)
return allowed - now
"#;

/// Holds KEYS[1] (a freeze or a chat's pause) until now + ARGV[1] µs, and
/// restarts the schedules KEYS[2..] (of tolerance ARGV[2] µs) after it, at
/// their rate rather than in a burst.
const FREEZE: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local untill = now + tonumber(ARGV[1])
local frozen = tonumber(redis.call('GET', KEYS[1]) or '0')
if untill > frozen then
  redis.call('SET', KEYS[1], untill, 'PX', math.floor(tonumber(ARGV[1]) / 1000) + 1000)
end
local restart = untill + tonumber(ARGV[2])
for i = 2, #KEYS do
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < restart then
    redis.call('SET', KEYS[i], restart, 'PX', math.floor((restart - now) / 1000) + 2000)
  end
end
return 0
"#;

#[derive(Clone)]
pub struct SharedBudget {
    conn: ConnectionManager,
    prefix: String,
    global_interval_us: u64,
    chat_interval_us: u64,
    chat_tolerance_us: u64,
    /// The paid broadcast lane's interval, when it is on.
    paid_interval_us: Option<u64>,
    reserve: Script,
    freeze: Script,
}

impl std::fmt::Debug for SharedBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedBudget").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

impl SharedBudget {
    /// `bot_id` keys the budget: every process of one bot shares it.
    pub async fn connect(url: &str, bot_id: i64, global_per_second: u32, chat_burst: u32) -> Result<Self, redis::RedisError> {
        // Opened on first use: the process starts while Redis is away.
        let conn = queue::lazy_redis(url)?;
        Ok(Self {
            conn,
            prefix: format!("vidcache:flood:{bot_id}"),
            global_interval_us: 1_000_000 / u64::from(global_per_second.max(1)),
            chat_interval_us: 1_000_000,
            chat_tolerance_us: 1_000_000 * u64::from(chat_burst.saturating_sub(1)),
            paid_interval_us: None,
            reserve: Script::new(RESERVE),
            freeze: Script::new(FREEZE),
        })
    }

    /// Shares the paid broadcast lane too: at most `per_second` paid sends
    /// a second over every process of the bot (`None`: no paid lane).
    pub fn with_paid_rate(mut self, per_second: Option<u32>) -> Self {
        self.paid_interval_us = per_second.map(|rate| 1_000_000 / u64::from(rate.max(1)));
        self
    }

    /// Whether the paid broadcast lane is kept here.
    pub fn shares_paid(&self) -> bool {
        self.paid_interval_us.is_some()
    }

    fn global_key(&self) -> String {
        format!("{}:global", self.prefix)
    }

    fn frozen_key(&self) -> String {
        format!("{}:frozen", self.prefix)
    }

    fn paid_key(&self) -> String {
        format!("{}:paid", self.prefix)
    }

    fn chat_key(&self, chat_id: i64) -> String {
        format!("{}:chat:{chat_id}", self.prefix)
    }

    /// Until when (Redis's clock) a chat Telegram answered 429 is paused.
    fn paused_key(&self, chat_id: i64) -> String {
        format!("{}:paused:{chat_id}", self.prefix)
    }

    /// Reserves a slot; the returned duration is how long to wait before
    /// using it. `Err(wait)` means "held: wait, then ask again" — while
    /// `hold` (the bot's freeze, or a chat's pause) has a time still to come.
    async fn reserve(
        &self,
        key: String,
        interval_us: u64,
        tolerance_us: u64,
        hold: Option<String>,
    ) -> Result<Result<Duration, Duration>, redis::RedisError> {
        let mut conn = self.conn.clone();
        let check = hold.is_some();
        let micros: i64 = self
            .reserve
            .key(key)
            .key(hold.unwrap_or_else(|| self.frozen_key()))
            .arg(interval_us)
            .arg(tolerance_us)
            .arg(if check { "1" } else { "0" })
            .invoke_async(&mut conn)
            .await?;
        // What Redis answers is capped like any wait a network gives: a
        // corrupted key must not park every sender for ever.
        let wait = |us: u64| Duration::from_micros(us).min(MAX_WAIT);
        Ok(if micros >= 0 { Ok(wait(micros.unsigned_abs())) } else { Err(wait(micros.unsigned_abs())) })
    }

    /// Waits until a message to `chat_id` may go as far as the chat's own
    /// budget goes, shared with every other process: past a pause any
    /// process was told of ([`SharedBudget::pause_chat`]), then at the
    /// chat's rate. Errors mean Redis is unreachable.
    pub async fn acquire_chat(&self, chat_id: i64) -> Result<(), redis::RedisError> {
        loop {
            let hold = Some(self.paused_key(chat_id));
            match self.reserve(self.chat_key(chat_id), self.chat_interval_us, self.chat_tolerance_us, hold).await? {
                Ok(wait) => {
                    tokio::time::sleep(wait).await;
                    return Ok(());
                }
                Err(paused) => tokio::time::sleep(paused).await,
            }
        }
    }

    /// Telegram answered 429 for a send to `chat_id`: every process's sends
    /// to that chat wait `retry_after`, and then go at the chat's rate (the
    /// chat's schedule restarts after the pause). Other chats are not held.
    pub async fn pause_chat(&self, chat_id: i64, retry_after: Duration) -> Result<(), redis::RedisError> {
        let mut conn = self.conn.clone();
        let _: i64 = self
            .freeze
            .key(self.paused_key(chat_id))
            .key(self.chat_key(chat_id))
            .arg(retry_after.min(MAX_WAIT).as_micros() as u64)
            .arg(self.chat_tolerance_us)
            .invoke_async(&mut conn)
            .await?;
        Ok(())
    }

    /// Waits for the next slot of the bot's global budget, shared with
    /// every other process (and paused while it is frozen).
    pub async fn acquire_global(&self) -> Result<(), redis::RedisError> {
        loop {
            match self.reserve(self.global_key(), self.global_interval_us, 0, Some(self.frozen_key())).await? {
                Ok(wait) => {
                    tokio::time::sleep(wait).await;
                    return Ok(());
                }
                Err(frozen) => tokio::time::sleep(frozen).await,
            }
        }
    }

    /// Waits for the next slot of the bot's paid broadcast budget, shared
    /// with every other process (and paused while the bot is frozen).
    /// Without a paid lane here ([`SharedBudget::with_paid_rate`]) it
    /// returns at once.
    pub async fn acquire_paid(&self) -> Result<(), redis::RedisError> {
        let Some(interval) = self.paid_interval_us else { return Ok(()) };
        loop {
            match self.reserve(self.paid_key(), interval, 0, Some(self.frozen_key())).await? {
                Ok(wait) => {
                    tokio::time::sleep(wait).await;
                    return Ok(());
                }
                Err(frozen) => tokio::time::sleep(frozen).await,
            }
        }
    }

    /// The bot as a whole is over its limit: every process pauses for
    /// `retry_after` (the paid lane's backlog resumes at its rate after it too).
    pub async fn freeze(&self, retry_after: Duration) -> Result<(), redis::RedisError> {
        let mut conn = self.conn.clone();
        let _: i64 = self
            .freeze
            .key(self.frozen_key())
            .key(self.global_key())
            .key(self.paid_key())
            .arg(retry_after.min(MAX_WAIT).as_micros() as u64)
            .arg(0)
            .invoke_async(&mut conn)
            .await?;
        Ok(())
    }
}
