//! Whether a new request is let in, and on what terms: from the facts the
//! recording transaction loaded (the asset of its key, a remembered
//! refusal, the user's balance and recent requests), one pure decision.

use std::collections::HashSet;

use chrono::{DateTime, Duration as ChronoDuration, Utc};

use crate::domain::{AssetStatus, BlockedWords, Choices, Failure, Length, Quality, RefusalReason, UserId};

/// What requests cost (credits on), and what a new user is given (`free`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pricing {
    pub free: i64,
    pub new: i64,
    pub cached: i64,
    /// Added for Quality.
    pub quality_extra: i64,
    /// Added for Long.
    pub long_extra: i64,
}

impl Pricing {
    /// What a request costs: the base price (`starts`: it starts a
    /// generation) plus the extras its choices add.
    pub fn price(&self, starts: bool, choices: Choices) -> i64 {
        let base = if starts { self.new } else { self.cached };
        let quality = if choices.quality == Quality::Quality { self.quality_extra } else { 0 };
        let length = if choices.length == Length::Long { self.long_extra } else { 0 };
        base + quality + length
    }
}

/// What the recording transaction checks before a request is let in:
/// its price (held in the same transaction) and the fair-use limits kept
/// in the database. The default lets everything in for free.
#[derive(Debug, Clone, Default)]
pub struct Admission {
    /// Credits on: what requests cost.
    pub pricing: Option<Pricing>,
    /// A user's requests waiting at once (0: no limit).
    pub max_waiting: u32,
    /// Rate windows kept in the database (empty when Redis keeps them):
    /// at most `.0` requests that start or join a generation in any `.1`.
    pub rate: Vec<(u32, ChronoDuration)>,
    /// Operators: never limited.
    pub exempt: HashSet<UserId>,
    /// `BLOCKED_WORDS_FILE`: a prompt with one of these is refused at once
    /// (no API call), unless an operator allowed it.
    pub blocked_words: Option<BlockedWords>,
}

impl Admission {
    /// Whether any limit is kept in the database.
    pub fn limits_on(&self) -> bool {
        self.max_waiting > 0 || !self.rate.is_empty()
    }

    /// Whether `user`'s requests count against the limits.
    pub fn limits(&self, user: UserId) -> bool {
        self.limits_on() && !self.exempt.contains(&user)
    }

    /// How far back a user's requests matter to the rate windows.
    pub fn longest_window(&self) -> ChronoDuration {
        self.rate.iter().map(|(_, per)| *per).max().unwrap_or_else(ChronoDuration::zero)
    }

    /// Whether one more limited request by a user whose limited requests
    /// are `history` ((created, still waiting)) may go in `now`.
    pub fn check_limits(&self, history: &[(DateTime<Utc>, bool)], now: DateTime<Utc>) -> Option<Refusal> {
        if self.max_waiting > 0 && history.iter().filter(|(_, waiting)| *waiting).count() >= self.max_waiting as usize {
            return Some(Refusal::Waiting { max: self.max_waiting });
        }
        let mut wait = ChronoDuration::zero();
        for &(max, per) in &self.rate {
            let mut within: Vec<DateTime<Utc>> = history.iter().map(|(at, _)| *at).filter(|at| *at > now - per).collect();
            if within.len() >= max as usize {
                within.sort();
                // The request that must leave the window before another may enter.
                let leaves = within[within.len() - max as usize] + per - now;
                wait = wait.max(leaves);
            }
        }
        (wait > ChronoDuration::zero()).then(|| Refusal::Rate { retry_after: wait.to_std().unwrap_or_default() })
    }
}

/// Why a request was not recorded: nothing was held or changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The price is more than the balance.
    Credits { price: i64, balance: i64 },
    /// The user has `max` requests waiting already.
    Waiting { max: u32 },
    /// The rate limit is reached; the next request is let in after this long.
    Rate { retry_after: std::time::Duration },
}

/// What a new request holds and whether it counts against the limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Charge {
    pub price: i64,
    pub held: bool,
    pub limited: bool,
}

/// The asset a request's key already has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetFacts {
    pub status: AssetStatus,
    /// It can be sent at once (available with a `file_id`).
    pub sendable: bool,
    /// A safety refusal remembered on its key (`None`: none, or lifted).
    pub remembered: Option<Failure>,
    /// An operator allowed it (`/allow`): blocked words don't apply.
    pub allowed: bool,
}

impl AssetFacts {
    /// A failed (or operator-cleared) asset, or an available one whose
    /// video was never uploaded, needs a new generation before it can be sent.
    pub fn needs_generation(&self) -> bool {
        match self.status {
            AssetStatus::Failed => true,
            AssetStatus::Available => !self.sendable,
            AssetStatus::Pending | AssetStatus::Generating | AssetStatus::Awaiting => false,
        }
    }
}

/// Everything the decision on one new request depends on.
#[derive(Debug, Clone)]
pub struct Facts {
    /// The asset of its key (`None`: never asked for).
    pub asset: Option<AssetFacts>,
    /// A blocked word its prompt holds.
    pub blocked: Option<String>,
    /// The limits' verdict, when the user's requests count against them.
    pub over_limit: Option<Refusal>,
    /// Credits on: the price (by [`Pricing::price`]) and the balance left.
    pub price: Option<(i64, i64)>,
}

impl Facts {
    /// It is answered from the cache at once.
    pub fn hit(&self) -> bool {
        self.asset.as_ref().is_some_and(|asset| asset.sendable)
    }

    /// It starts a generation (a new asset, or one that needs making again).
    pub fn starts(&self) -> bool {
        self.asset.as_ref().is_none_or(AssetFacts::needs_generation)
    }
}

/// The decision on one new request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admit {
    /// Not recorded (credits, limits): nothing held, nothing changed.
    Refuse(Refusal),
    /// Its key carries a remembered safety refusal: recorded as failed
    /// with it, answered at once; no moderation, no provider, no charge.
    AnswerRefusal(Failure),
    /// Its prompt holds a blocked word: the asset is refused (and the
    /// refusal remembered), the request recorded as failed; no API call.
    Block(RefusalReason),
    /// Recorded. `start`: it queues a generation (the caller pushes
    /// exactly that job); `charge`: what it holds.
    Record { start: bool, charge: Charge },
}

/// Decides one new request from its facts. A cache hit is never refused
/// by the limits or for a remembered refusal; a safety refusal is checked
/// before the limits (it costs nothing); credits are checked last.
pub fn admit(facts: &Facts) -> Admit {
    let hit = facts.hit();
    let starts = facts.starts();
    if !hit {
        if let Some(asset) = &facts.asset
            && asset.status == AssetStatus::Failed
            && let Some(failure) = &asset.remembered
        {
            return Admit::AnswerRefusal(failure.clone());
        }
        let screened = facts.asset.as_ref().is_none_or(|asset| !asset.allowed);
        if starts
            && screened
            && let Some(phrase) = &facts.blocked
        {
            return Admit::Block(RefusalReason::blocked(phrase));
        }
        if let Some(refusal) = facts.over_limit {
            return Admit::Refuse(refusal);
        }
    }
    let mut charge = Charge { limited: !hit, ..Charge::default() };
    if let Some((price, balance)) = facts.price {
        if balance < price {
            return Admit::Refuse(Refusal::Credits { price, balance });
        }
        charge.price = price;
        charge.held = price > 0;
    }
    Admit::Record { start: starts, charge }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(max_waiting: u32, rate: &[(u32, i64)]) -> Admission {
        Admission {
            max_waiting,
            rate: rate.iter().map(|(max, secs)| (*max, ChronoDuration::seconds(*secs))).collect(),
            ..Admission::default()
        }
    }

    #[test]
    fn limits_count_waiting_requests_and_windows() {
        let now = Utc::now();
        let ago = |secs: i64| now - ChronoDuration::seconds(secs);
        // Two waiting, a cap of 2: refused; of 3: let in.
        let history = vec![(ago(5), true), (ago(4), true)];
        assert_eq!(admission(2, &[]).check_limits(&history, now), Some(Refusal::Waiting { max: 2 }));
        assert_eq!(admission(3, &[]).check_limits(&history, now), None);
        // 3 a minute, three in the last minute: the oldest leaves it in 20 s.
        let history = vec![(ago(40), false), (ago(30), false), (ago(10), false), (ago(400), false)];
        let refusal = admission(0, &[(3, 60), (20, 3600)]).check_limits(&history, now);
        let Some(Refusal::Rate { retry_after }) = refusal else { panic!("{refusal:?}") };
        assert!((19..=20).contains(&retry_after.as_secs()), "{retry_after:?}");
        // The longer window decides when it is the one that is full.
        let refusal = admission(0, &[(5, 60), (4, 3600)]).check_limits(&history, now);
        let Some(Refusal::Rate { retry_after }) = refusal else { panic!("{refusal:?}") };
        assert!((3199..=3200).contains(&retry_after.as_secs()), "{retry_after:?}");
        assert_eq!(admission(0, &[(5, 60), (5, 3600)]).check_limits(&history, now), None);
    }

    fn asset(status: AssetStatus, sendable: bool) -> AssetFacts {
        AssetFacts { status, sendable, remembered: None, allowed: false }
    }

    fn facts(asset: Option<AssetFacts>) -> Facts {
        Facts { asset, blocked: None, over_limit: None, price: None }
    }

    const LIMITED: Refusal = Refusal::Waiting { max: 1 };

    #[test]
    fn a_hit_is_recorded_despite_limits_and_costs_the_cached_price() {
        let mut hit = facts(Some(asset(AssetStatus::Available, true)));
        hit.over_limit = Some(LIMITED);
        hit.price = Some((1, 1));
        assert_eq!(admit(&hit), Admit::Record { start: false, charge: Charge { price: 1, held: true, limited: false } });
    }

    #[test]
    fn a_new_prompt_starts_once_and_counts_against_the_limits() {
        let new = facts(None);
        assert_eq!(admit(&new), Admit::Record { start: true, charge: Charge { price: 0, held: false, limited: true } });
        let joining = facts(Some(asset(AssetStatus::Generating, false)));
        assert_eq!(admit(&joining), Admit::Record { start: false, charge: Charge { limited: true, ..Charge::default() } });
        let mut limited = facts(None);
        limited.over_limit = Some(LIMITED);
        assert_eq!(admit(&limited), Admit::Refuse(LIMITED));
    }

    #[test]
    fn a_remembered_refusal_is_answered_before_limits_and_credits() {
        let mut refused = asset(AssetStatus::Failed, false);
        refused.remembered = Some(Failure::Refused(RefusalReason::blocked("x")));
        let mut asked = facts(Some(refused.clone()));
        asked.over_limit = Some(LIMITED);
        asked.price = Some((5, 0));
        assert_eq!(admit(&asked), Admit::AnswerRefusal(Failure::Refused(RefusalReason::blocked("x"))));
        // lifted by a new generation under way: joins it
        refused.status = AssetStatus::Pending;
        assert!(matches!(admit(&facts(Some(refused))), Admit::Record { start: false, .. }));
    }

    #[test]
    fn a_blocked_word_refuses_only_what_would_start_unless_allowed() {
        let mut new = facts(None);
        new.blocked = Some("bad".into());
        new.price = Some((5, 0));
        assert_eq!(admit(&new), Admit::Block(RefusalReason::blocked("bad")));
        let mut cached = facts(Some(asset(AssetStatus::Available, true)));
        cached.blocked = Some("bad".into());
        assert!(matches!(admit(&cached), Admit::Record { .. }));
        let mut allowed = asset(AssetStatus::Failed, false);
        allowed.allowed = true;
        let mut again = facts(Some(allowed));
        again.blocked = Some("bad".into());
        assert!(matches!(admit(&again), Admit::Record { start: true, .. }));
    }

    #[test]
    fn credits_refuse_what_the_balance_cannot_pay() {
        let mut poor = facts(None);
        poor.price = Some((5, 4));
        assert_eq!(admit(&poor), Admit::Refuse(Refusal::Credits { price: 5, balance: 4 }));
        poor.price = Some((5, 5));
        assert_eq!(admit(&poor), Admit::Record { start: true, charge: Charge { price: 5, held: true, limited: true } });
    }

    #[test]
    fn an_available_asset_without_a_video_is_made_again() {
        assert!(asset(AssetStatus::Available, false).needs_generation());
        assert!(!asset(AssetStatus::Available, true).needs_generation());
        assert!(asset(AssetStatus::Failed, false).needs_generation());
        assert!(!asset(AssetStatus::Awaiting, false).needs_generation());
    }
}
