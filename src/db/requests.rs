//! Queries on `user_requests`: recording a request and delivering it once.

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use sea_orm::ExprTrait;
use sea_orm::sea_query::{Expr, OnConflict};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, SelectTwo,
};

use super::assets::Asset;
use super::credits::{self, Movement, Pricing};
use super::entities::{user_requests, video_assets};
use super::refusals;
use super::retry::serializable;
use crate::domain::{
    AssetId, AssetStatus, BlockedWords, ChatId, Failure, Generation, HoldState, Lang, LedgerKind, MessageId, PromptKey,
    RefusalReason, RequestId, RequestStatus, Stage, ThreadId, UserId, Wanted,
};

pub type Request = user_requests::Model;

/// Who asked, where, with which message.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub user_id: UserId,
    pub chat_id: ChatId,
    pub message_id: MessageId,
    pub raw_text: String,
    /// The language of the user who asked.
    pub language: Lang,
    /// The forum topic it was asked in (`None`: not a topic, or General).
    pub thread_id: Option<ThreadId>,
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

/// Why a request was not recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The price is more than the balance.
    Credits { price: i64, balance: i64 },
    /// The user has `max` requests waiting already.
    Waiting { max: u32 },
    /// The rate limit is reached; the next request is let in after this long.
    Rate { retry_after: std::time::Duration },
}

/// The outcome of recording a request.
#[derive(Debug)]
#[allow(clippy::large_enum_variant, reason = "a return value matched once by its caller; boxing would only add an allocation")]
pub enum Submitted {
    /// Telegram delivered this message before; it is already recorded.
    Duplicate(Request),
    /// Not recorded: nothing was held or changed.
    Refused(Refusal),
    Recorded {
        request: Request,
        asset: Asset,
        /// Set when this transaction moved the asset into `pending`: the
        /// caller must push exactly this job (then mark it dispatched).
        dispatch: Option<Generation>,
    },
}

fn new_request(
    new: &NewRequest,
    asset_id: AssetId,
    now: DateTime<Utc>,
    claimed_until: Option<DateTime<Utc>>,
    charge: Charge,
) -> user_requests::ActiveModel {
    user_requests::ActiveModel {
        id: NotSet,
        telegram_user_id: Set(new.user_id),
        chat_id: Set(new.chat_id),
        message_id: Set(new.message_id),
        raw_text: Set(new.raw_text.clone()),
        asset_id: Set(asset_id),
        status: Set(RequestStatus::Pending),
        error: Set(None),
        claimed_until: Set(claimed_until),
        created_at: Set(now),
        updated_at: Set(now),
        delivered_at: Set(None),
        notified_at: Set(None),
        progress_message_id: Set(None),
        paid_broadcast: Set(false),
        language: Set(new.language),
        thread_id: Set(new.thread_id),
        price: Set(charge.price),
        hold: Set(charge.held.then_some(HoldState::Held)),
        limited: Set(charge.limited),
    }
}

/// What a new request holds and whether it counts against the limits.
#[derive(Debug, Clone, Copy, Default)]
struct Charge {
    price: i64,
    held: bool,
    limited: bool,
}

/// Finds or creates the asset for `prompt`, records the request, and decides
/// whether a generation must be enqueued — all in one serializable
/// transaction, retried on conflict, under `admission`'s prices and limits.
/// However many requests for one prompt race, exactly one of them gets
/// `dispatch: Some` per generation.
///
/// When the asset is already available with a `file_id`, the request is
/// recorded as claimed by the caller for `claim`, who sends it at once.
pub async fn submit_admitted(
    db: &DatabaseConnection,
    new: NewRequest,
    wanted: Wanted,
    claim: ChronoDuration,
    admission: Arc<Admission>,
) -> Result<Submitted, DbErr> {
    let mut submitted = submit_many_admitted(db, Arc::from([(new, wanted)]), claim, admission).await?;
    submitted.pop().ok_or_else(|| DbErr::Custom("a submitted batch came back empty".to_owned()))
}

/// [`submit`] for many requests in one serializable transaction: one
/// outcome per item, in order. Items for the same prompt share the asset
/// (only the first can carry the `dispatch`); an item whose message is
/// already recorded — or repeated within the batch — is a `Duplicate`.
/// The number of statements does not grow with the batch, so a burst of
/// updates costs a handful of round trips instead of a handful per update.
pub async fn submit_many(
    db: &DatabaseConnection,
    items: Arc<[(NewRequest, Wanted)]>,
    claim: ChronoDuration,
) -> Result<Vec<Submitted>, DbErr> {
    submit_many_admitted(db, items, claim, Arc::new(Admission::default())).await
}

/// [`submit_many`] under `admission`: each item's price is held (or the
/// item refused for want of credits) and the limits checked in the same
/// transaction that records it, so concurrent requests can't spend one
/// balance twice or slip past a limit together.
pub async fn submit_many_admitted(
    db: &DatabaseConnection,
    items: Arc<[(NewRequest, Wanted)]>,
    claim: ChronoDuration,
    admission: Arc<Admission>,
) -> Result<Vec<Submitted>, DbErr> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    serializable(db, move |txn| {
        let items = items.clone();
        let admission = admission.clone();
        Box::pin(async move { submit_in(txn, &items, claim, &admission).await })
    })
    .await
}

/// A user's requests that count against the limits: (created, waiting).
async fn limited_history<C: ConnectionTrait>(
    txn: &C,
    users: &[UserId],
    since: DateTime<Utc>,
) -> Result<HashMap<UserId, Vec<(DateTime<Utc>, bool)>>, DbErr> {
    let rows: Vec<(UserId, DateTime<Utc>, RequestStatus)> = user_requests::Entity::find()
        .select_only()
        .column(user_requests::Column::TelegramUserId)
        .column(user_requests::Column::CreatedAt)
        .column(user_requests::Column::Status)
        .filter(user_requests::Column::TelegramUserId.is_in(users.iter().copied()))
        .filter(user_requests::Column::Limited.eq(true))
        .filter(
            Condition::any()
                .add(user_requests::Column::Status.eq(RequestStatus::Pending))
                .add(user_requests::Column::CreatedAt.gt(since)),
        )
        .into_tuple()
        .all(txn)
        .await?;
    let mut history: HashMap<UserId, Vec<(DateTime<Utc>, bool)>> = HashMap::new();
    for (user, created, status) in rows {
        history.entry(user).or_default().push((created, status == RequestStatus::Pending));
    }
    Ok(history)
}

/// What the fair-use limits kept in the database would say of one more
/// request by `user` now, without recording anything: checked before
/// something is paid for a request (a voice message's transcription).
/// The recording transaction checks again.
pub async fn would_limit<C: ConnectionTrait>(db: &C, admission: &Admission, user: UserId) -> Result<Option<Refusal>, DbErr> {
    let limits_on = admission.max_waiting > 0 || !admission.rate.is_empty();
    if !limits_on || admission.exempt.contains(&user) {
        return Ok(None);
    }
    let now = Utc::now();
    let longest = admission.rate.iter().map(|(_, per)| *per).max().unwrap_or_else(ChronoDuration::zero);
    let history = limited_history(db, &[user], now - longest).await?;
    Ok(check_limits(admission, history.get(&user).map_or(&[][..], Vec::as_slice), now))
}

/// Whether one more limited request by a user with `history` may go in now.
fn check_limits(admission: &Admission, history: &[(DateTime<Utc>, bool)], now: DateTime<Utc>) -> Option<Refusal> {
    if admission.max_waiting > 0 && history.iter().filter(|(_, waiting)| *waiting).count() >= admission.max_waiting as usize {
        return Some(Refusal::Waiting { max: admission.max_waiting });
    }
    let mut wait = ChronoDuration::zero();
    for &(max, per) in &admission.rate {
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

/// How one item of a batch is handled.
enum Plan {
    /// Recorded already (or repeated within the batch).
    Duplicate,
    Refused(Refusal),
    Record {
        key: PromptKey,
        dispatch: Option<Generation>,
        charge: Charge,
    },
    /// Refused for safety — remembered on the key, or a blocked word:
    /// recorded as failed with this reason, holding and dispatching
    /// nothing; its user is told at once (a failure notice is due).
    Unsafe {
        key: PromptKey,
        failure: Failure,
    },
}

async fn submit_in(
    txn: &DatabaseTransaction,
    items: &[(NewRequest, Wanted)],
    claim: ChronoDuration,
    admission: &Admission,
) -> Result<Vec<Submitted>, DbErr> {
    let messages = items.iter().fold(Condition::any(), |any, (new, _)| {
        any.add(user_requests::Column::ChatId.eq(new.chat_id).and(user_requests::Column::MessageId.eq(new.message_id)))
    });
    let recorded: HashMap<(ChatId, MessageId), Request> = user_requests::Entity::find()
        .filter(messages)
        .all(txn)
        .await?
        .into_iter()
        .map(|request| ((request.chat_id, request.message_id), request))
        .collect();
    let keys: Vec<PromptKey> = items.iter().map(|(_, wanted)| wanted.key()).collect();
    let mut assets: HashMap<PromptKey, Asset> = video_assets::Entity::find()
        .filter(video_assets::Column::PromptKey.is_in(keys.iter().cloned()))
        .all(txn)
        .await?
        .into_iter()
        .map(|asset| (asset.prompt_key.clone(), asset))
        .collect();
    let known: Vec<AssetId> = assets.values().map(|asset| asset.id).collect();
    let verdicts = refusals::for_assets(txn, &known).await?;
    // requests answered from a remembered refusal, per asset
    let mut answered: HashMap<AssetId, i64> = HashMap::new();
    let now = Utc::now();
    let users: Vec<UserId> = items.iter().map(|(new, _)| new.user_id).collect();
    let mut balances = match admission.pricing {
        Some(pricing) => credits::open_accounts_in(txn, &users, pricing.free).await?,
        None => HashMap::new(),
    };
    let longest = admission.rate.iter().map(|(_, per)| *per).max().unwrap_or_else(ChronoDuration::zero);
    let limits_on = admission.max_waiting > 0 || !admission.rate.is_empty();
    let mut history = if limits_on { limited_history(txn, &users, now - longest).await? } else { HashMap::new() };
    // Per item: the asset it links to, the job it must push, what it holds.
    let mut plan: Vec<Plan> = Vec::with_capacity(items.len());
    // The first copy of each message in this batch: a repeat is answered
    // the way the first copy was (recorded, or refused for the same reason).
    let mut seen: HashMap<(ChatId, MessageId), usize> = HashMap::new();
    for ((new, wanted), key) in items.iter().zip(&keys) {
        let message = (new.chat_id, new.message_id);
        if recorded.contains_key(&message) {
            plan.push(Plan::Duplicate);
            continue;
        }
        if let Some(&first) = seen.get(&message) {
            plan.push(match plan.get(first) {
                Some(Plan::Refused(refusal)) => Plan::Refused(*refusal),
                _ => Plan::Duplicate,
            });
            continue;
        }
        seen.insert(message, plan.len());
        let existing = assets.get(key);
        let hit = existing.is_some_and(|a| a.sendable().is_some());
        let starts = existing.is_none_or(needs_generation);
        if !hit {
            let verdict = existing.and_then(|asset| verdicts.get(&asset.id));
            // a remembered refusal: answered with it, no moderation, no call, no charge
            if let (Some(asset), Some(failure)) = (existing, verdict.and_then(refusals::failure_of))
                && asset.status == AssetStatus::Failed
            {
                *answered.entry(asset.id).or_default() += 1;
                plan.push(Plan::Unsafe { key: key.clone(), failure });
                continue;
            }
            if starts
                && refusals::screened(verdict)
                && let Some(phrase) = admission.blocked_words.as_ref().and_then(|words| words.find(&wanted.prompt))
            {
                let reason = RefusalReason::blocked(&phrase);
                let asset = refuse_asset(txn, existing, key, wanted, new, &reason, now).await?;
                assets.insert(key.clone(), asset);
                plan.push(Plan::Unsafe { key: key.clone(), failure: Failure::Refused(reason) });
                continue;
            }
        }
        let user = new.user_id;
        if !hit && limits_on && !admission.exempt.contains(&user) {
            let past = history.entry(user).or_default();
            if let Some(refusal) = check_limits(admission, past, now) {
                plan.push(Plan::Refused(refusal));
                continue;
            }
            past.push((now, true));
        }
        let mut charge = Charge { limited: !hit, ..Charge::default() };
        if let Some(pricing) = admission.pricing {
            let price = pricing.price(starts, wanted.recipe.choices);
            let balance = balances.get(&user).copied().unwrap_or_default();
            if balance < price {
                if !hit
                    && limits_on
                    && let Some(past) = history.get_mut(&user)
                {
                    past.pop();
                }
                plan.push(Plan::Refused(Refusal::Credits { price, balance }));
                continue;
            }
            balances.insert(user, balance - price);
            charge.price = price;
            charge.held = price > 0;
        }
        let dispatch = match existing {
            None => {
                let asset =
                    video_assets::ActiveModel::new_pending(key.clone(), wanted, Some(new.raw_text.trim().to_owned()), now)
                        .insert(txn)
                        .await?;
                let job = asset.current_generation();
                assets.insert(key.clone(), asset);
                Some(job)
            }
            Some(asset) if needs_generation(asset) => {
                let generation = asset.generation + 1;
                let mut active: video_assets::ActiveModel = asset.clone().into();
                active.status = Set(AssetStatus::Pending);
                active.generation = Set(generation);
                active.last_error = Set(None);
                active.stage = Set(Some(Stage::Queued));
                active.lease_owner = Set(None);
                active.lease_until = Set(None);
                active.updated_at = Set(now);
                // made anew: drawn as the request that starts it typed it
                active.typed_prompt = Set(Some(new.raw_text.trim().to_owned()));
                let asset = active.update(txn).await?;
                let job = Generation { asset: asset.id, number: generation };
                assets.insert(key.clone(), asset);
                Some(job)
            }
            Some(_) => None,
        };
        plan.push(Plan::Record { key: key.clone(), dispatch, charge });
    }
    let rows: Vec<user_requests::ActiveModel> = items
        .iter()
        .zip(&plan)
        .filter_map(|((new, _), planned)| match planned {
            Plan::Record { key, charge, .. } => {
                let asset = assets.get(key)?;
                let claimed_until = asset.sendable().is_some().then(|| claim_deadline(claim));
                Some(new_request(new, asset.id, now, claimed_until, *charge))
            }
            Plan::Unsafe { key, failure } => {
                let mut row = new_request(new, assets.get(key)?.id, now, None, Charge::default());
                row.status = Set(RequestStatus::Failed);
                row.error = Set(Some(failure.clone()));
                Some(row)
            }
            Plan::Duplicate | Plan::Refused(_) => None,
        })
        .collect();
    let mut inserted: HashMap<(ChatId, MessageId), Request> = HashMap::new();
    if !rows.is_empty() {
        for request in user_requests::Entity::insert_many(rows).exec_with_returning(txn).await? {
            inserted.insert((request.chat_id, request.message_id), request);
        }
    }
    let holds: Vec<Movement> = inserted
        .values()
        .filter(|r| r.hold == Some(HoldState::Held))
        .map(|r| Movement { request: Some(r.id), ..Movement::new(r.telegram_user_id, LedgerKind::Hold, -r.price) })
        .collect();
    credits::record_in(txn, &holds).await?;
    refusals::count_answered_in(txn, &answered).await?;
    let mut outcomes = Vec::with_capacity(items.len());
    for ((new, _), planned) in items.iter().zip(plan) {
        let message = (new.chat_id, new.message_id);
        let outcome = match planned {
            Plan::Refused(refusal) => Submitted::Refused(refusal),
            Plan::Duplicate => match recorded.get(&message).or_else(|| inserted.get(&message)) {
                Some(existing) => Submitted::Duplicate(existing.clone()),
                None => return Err(DbErr::Custom(format!("request for message {message:?} vanished from its batch"))),
            },
            Plan::Record { key, dispatch, .. } => recorded_outcome(&inserted, &assets, message, key, dispatch)?,
            Plan::Unsafe { key, .. } => recorded_outcome(&inserted, &assets, message, key, None)?,
        };
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// The outcome of an item recorded in this batch.
fn recorded_outcome(
    inserted: &HashMap<(ChatId, MessageId), Request>,
    assets: &HashMap<PromptKey, Asset>,
    message: (ChatId, MessageId),
    key: PromptKey,
    dispatch: Option<Generation>,
) -> Result<Submitted, DbErr> {
    let request = inserted
        .get(&message)
        .cloned()
        .ok_or_else(|| DbErr::Custom(format!("request for message {message:?} was not inserted")))?;
    let asset = assets.get(&key).cloned().ok_or_else(|| DbErr::Custom(format!("asset {key} vanished")))?;
    Ok(Submitted::Recorded { request, asset, dispatch })
}

/// The asset of a prompt refused for a blocked word, failed with `reason`
/// (created, or an old failed one marked so), and the refusal remembered.
async fn refuse_asset(
    txn: &DatabaseTransaction,
    existing: Option<&Asset>,
    key: &PromptKey,
    wanted: &Wanted,
    new: &NewRequest,
    reason: &RefusalReason,
    now: DateTime<Utc>,
) -> Result<Asset, DbErr> {
    let mut active: video_assets::ActiveModel = match existing {
        Some(asset) => asset.clone().into(),
        None => video_assets::ActiveModel::new_pending(key.clone(), wanted, Some(new.raw_text.trim().to_owned()), now),
    };
    active.status = Set(AssetStatus::Failed);
    active.last_error = Set(Some(Failure::Refused(reason.clone())));
    active.stage = Set(None);
    active.lease_owner = Set(None);
    active.lease_until = Set(None);
    active.updated_at = Set(now);
    let asset = match existing {
        Some(_) => active.update(txn).await?,
        None => active.insert(txn).await?,
    };
    refusals::remember_in(txn, asset.id, reason).await?;
    Ok(asset)
}

/// A failed (or operator-cleared) asset, or an available one whose video
/// was never uploaded, needs a new generation before it can be sent.
fn needs_generation(asset: &Asset) -> bool {
    match asset.status {
        AssetStatus::Failed => true,
        AssetStatus::Available => asset.file_id.is_none(),
        AssetStatus::Pending | AssetStatus::Generating | AssetStatus::Awaiting => false,
    }
}

/// The cache-hit path: record a request for an asset known to be available,
/// already claimed by the caller. `None` when Telegram re-delivered a
/// message that is recorded already.
pub async fn record_claimed(
    db: &DatabaseConnection,
    new: &NewRequest,
    asset_id: AssetId,
    claim: ChronoDuration,
) -> Result<Option<Request>, DbErr> {
    let now = Utc::now();
    let insert = user_requests::Entity::insert(new_request(new, asset_id, now, Some(claim_deadline(claim)), Charge::default()))
        .on_conflict(
            OnConflict::columns([user_requests::Column::ChatId, user_requests::Column::MessageId]).do_nothing().to_owned(),
        )
        .exec_with_returning(db)
        .await;
    match insert {
        Ok(request) => Ok(Some(request)),
        Err(DbErr::RecordNotInserted) => Ok(None),
        Err(err) => Err(err),
    }
}

/// The video reached the user: the request is completed — only from
/// `pending`. A request that ended meanwhile (cancelled by /cancel during
/// the send, failed by a /clear) stays as it is, and the caller must not
/// capture its hold (its end already released it). True if it completed.
/// `paid`: it went out as a paid broadcast send.
pub async fn mark_delivered(db: &DatabaseConnection, request_id: RequestId, paid: bool) -> Result<bool, DbErr> {
    let now = Utc::now();
    let completed = user_requests::Entity::update_many()
        .col_expr(user_requests::Column::Status, Expr::value(RequestStatus::Completed))
        .col_expr(user_requests::Column::PaidBroadcast, Expr::value(paid))
        .col_expr(user_requests::Column::DeliveredAt, Expr::value(now))
        .col_expr(user_requests::Column::ClaimedUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(user_requests::Column::UpdatedAt, Expr::value(now))
        .filter(user_requests::Column::Id.eq(request_id))
        .filter(user_requests::Column::Status.eq(RequestStatus::Pending))
        .exec(db)
        .await?;
    Ok(completed.rows_affected == 1)
}

/// The request cannot be delivered (e.g. the user blocked the bot); the
/// user is not told, since they cannot be reached.
pub async fn mark_undeliverable(db: &DatabaseConnection, request_id: RequestId, reason: &Failure) -> Result<(), DbErr> {
    let now = Utc::now();
    user_requests::Entity::update_many()
        .col_expr(user_requests::Column::Status, Expr::value(RequestStatus::Failed))
        .col_expr(user_requests::Column::Error, Expr::value(reason.clone()))
        .col_expr(user_requests::Column::ClaimedUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(user_requests::Column::NotifiedAt, Expr::value(now))
        .col_expr(user_requests::Column::UpdatedAt, Expr::value(now))
        .filter(user_requests::Column::Id.eq(request_id))
        .filter(user_requests::Column::Status.eq(RequestStatus::Pending))
        .exec(db)
        .await?;
    Ok(())
}

/// The video can't be sent after all: the request fails with `reason`, and
/// its user is told (a failure notice is due).
pub async fn mark_failed_to_notify(db: &DatabaseConnection, request_id: RequestId, reason: &Failure) -> Result<(), DbErr> {
    user_requests::Entity::update_many()
        .col_expr(user_requests::Column::Status, Expr::value(RequestStatus::Failed))
        .col_expr(user_requests::Column::Error, Expr::value(reason.clone()))
        .col_expr(user_requests::Column::ClaimedUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(user_requests::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(user_requests::Column::Id.eq(request_id))
        .filter(user_requests::Column::Status.eq(RequestStatus::Pending))
        .exec(db)
        .await?;
    Ok(())
}

/// Every request still waiting in `chat` fails with `reason` (the chat
/// can't be written to: the bot lost its rights, was removed, the chat is
/// gone), without a notice (nobody there could read it). Returns the ended
/// requests and whether each held credits, for the caller to release.
pub async fn end_chat(db: &DatabaseConnection, chat: ChatId, reason: &Failure) -> Result<Vec<(RequestId, bool)>, DbErr> {
    let waiting: Vec<(RequestId, Option<HoldState>)> = user_requests::Entity::find()
        .select_only()
        .column(user_requests::Column::Id)
        .column(user_requests::Column::Hold)
        .filter(user_requests::Column::ChatId.eq(chat))
        .filter(user_requests::Column::Status.eq(RequestStatus::Pending))
        .into_tuple()
        .all(db)
        .await?;
    let mut ended = Vec::with_capacity(waiting.len());
    for (id, hold) in waiting {
        mark_undeliverable(db, id, reason).await?;
        ended.push((id, hold == Some(HoldState::Held)));
    }
    Ok(ended)
}

/// The group `old` became the supergroup `new`: its waiting requests are
/// answered there (outside any topic: a migrated group has none yet).
pub async fn move_chat(db: &DatabaseConnection, old: ChatId, new: ChatId) -> Result<u64, DbErr> {
    let moved = user_requests::Entity::update_many()
        .col_expr(user_requests::Column::ChatId, Expr::value(new))
        .col_expr(user_requests::Column::ThreadId, Expr::value(Option::<ThreadId>::None))
        .col_expr(user_requests::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(user_requests::Column::ChatId.eq(old))
        .filter(user_requests::Column::Status.eq(RequestStatus::Pending))
        .exec(db)
        .await?;
    Ok(moved.rows_affected)
}

/// The other requests still waiting for `asset` in the same group topic as
/// `request`: one video in the group answers them all.
pub async fn waiting_beside(db: &DatabaseConnection, request: &Request) -> Result<Vec<Request>, DbErr> {
    let thread = match request.thread_id {
        Some(thread) => user_requests::Column::ThreadId.eq(thread),
        None => user_requests::Column::ThreadId.is_null(),
    };
    user_requests::Entity::find()
        .filter(user_requests::Column::ChatId.eq(request.chat_id))
        .filter(user_requests::Column::AssetId.eq(request.asset_id))
        .filter(user_requests::Column::Status.eq(RequestStatus::Pending))
        .filter(user_requests::Column::Id.ne(request.id))
        .filter(thread)
        .all(db)
        .await
}

/// Whether `request` is the first one waiting for its asset in its chat:
/// in a group only that one gets a "being made" note.
pub async fn first_waiting_in_chat(db: &DatabaseConnection, request: &Request) -> Result<bool, DbErr> {
    let earlier = user_requests::Entity::find()
        .filter(user_requests::Column::ChatId.eq(request.chat_id))
        .filter(user_requests::Column::AssetId.eq(request.asset_id))
        .filter(user_requests::Column::Status.eq(RequestStatus::Pending))
        .filter(user_requests::Column::Id.lt(request.id))
        .count(db)
        .await?;
    Ok(earlier == 0)
}

/// Nobody holds the request: never claimed, or the claim ran out before `now`.
fn unclaimed(now: DateTime<Utc>) -> Condition {
    Condition::any().add(user_requests::Column::ClaimedUntil.is_null()).add(user_requests::Column::ClaimedUntil.lt(now))
}

/// The end of a claim taken now: whole milliseconds, so that the value
/// compares exactly after a round trip through SQLite or PostgreSQL and can
/// serve as the claim's token.
pub fn claim_deadline(claim: ChronoDuration) -> DateTime<Utc> {
    let until = Utc::now() + claim;
    DateTime::from_timestamp_millis(until.timestamp_millis()).unwrap_or(until)
}

/// What a claim is taken for: the request must still need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Errand {
    /// Sending the video: the request is pending.
    Video,
    /// Telling the user it failed: the request failed and nobody told them.
    FailureNotice,
}

impl Errand {
    fn still_due(self) -> Condition {
        match self {
            Errand::Video => Condition::all().add(user_requests::Column::Status.eq(RequestStatus::Pending)),
            Errand::FailureNotice => Condition::all()
                .add(user_requests::Column::Status.eq(RequestStatus::Failed))
                .add(user_requests::Column::NotifiedAt.is_null()),
        }
    }
}

/// The one claim protocol. Takes (`token: None`) or extends (`token:
/// Some`, the deadline this sender set) the claim on a request for
/// `errand`, just before a send. Returns the new token, or `None` when
/// another sender holds it or the errand is done.
pub async fn hold(
    db: &DatabaseConnection,
    request_id: RequestId,
    errand: Errand,
    token: Option<DateTime<Utc>>,
    claim: ChronoDuration,
) -> Result<Option<DateTime<Utc>>, DbErr> {
    let now = Utc::now();
    let until = claim_deadline(claim);
    let mut update = user_requests::Entity::update_many()
        .col_expr(user_requests::Column::ClaimedUntil, Expr::value(until))
        .filter(user_requests::Column::Id.eq(request_id))
        .filter(errand.still_due());
    update = match token {
        None => update.filter(unclaimed(now)),
        Some(token) => update.filter(user_requests::Column::ClaimedUntil.eq(token)),
    };
    let updated = update.exec(db).await?;
    Ok((updated.rows_affected == 1).then_some(until))
}

/// Requests with `errand` due that nobody holds, oldest first: candidates
/// for a sender (each is claimed with [`hold`] right before its send).
/// `asset` narrows them to one asset.
pub async fn due(db: &DatabaseConnection, errand: Errand, asset: Option<AssetId>, limit: u64) -> Result<Vec<Request>, DbErr> {
    let now = Utc::now();
    let mut query = user_requests::Entity::find().filter(errand.still_due()).filter(unclaimed(now));
    if let Some(asset) = asset {
        query = query.filter(user_requests::Column::AssetId.eq(asset));
    }
    query.order_by_asc(user_requests::Column::Id).limit(limit).all(db).await
}

/// Whether a "being made" note still makes sense: the request waits and
/// its video is not made yet.
pub async fn note_wanted(db: &DatabaseConnection, request_id: RequestId) -> Result<bool, DbErr> {
    let found = user_requests::Entity::find_by_id(request_id)
        .inner_join(video_assets::Entity)
        .filter(user_requests::Column::Status.eq(RequestStatus::Pending))
        .filter(video_assets::Column::Status.ne(AssetStatus::Available))
        .count(db)
        .await?;
    Ok(found > 0)
}

/// Gives a claim back (the send did not happen), so another sender may try.
pub async fn release_claim(db: &DatabaseConnection, request_id: RequestId) -> Result<(), DbErr> {
    user_requests::Entity::update_many()
        .col_expr(user_requests::Column::ClaimedUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .filter(user_requests::Column::Id.eq(request_id))
        .exec(db)
        .await?;
    Ok(())
}

/// The user was told their request failed.
pub async fn mark_notified(db: &DatabaseConnection, request_id: RequestId) -> Result<(), DbErr> {
    let now = Utc::now();
    user_requests::Entity::update_many()
        .col_expr(user_requests::Column::NotifiedAt, Expr::value(now))
        .col_expr(user_requests::Column::ClaimedUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .filter(user_requests::Column::Id.eq(request_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Assets that have waiting requests although a `file_id` exists: work for
/// the sweeper (a fan-out that died, or a request that slipped past one).
///
/// Only assets that became available before `settled_before` count: a fresh
/// one is still being fanned out, and a sweep racing that fan-out would
/// spend flood budget on sends the fan-out then wins.
pub async fn assets_with_stranded_requests(
    db: &DatabaseConnection,
    limit: u64,
    settled_before: DateTime<Utc>,
) -> Result<Vec<AssetId>, DbErr> {
    let now = Utc::now();
    user_requests::Entity::find()
        .select_only()
        .column(user_requests::Column::AssetId)
        .distinct()
        .inner_join(video_assets::Entity)
        .filter(user_requests::Column::Status.eq(RequestStatus::Pending))
        .filter(unclaimed(now))
        .filter(video_assets::Column::Status.eq(AssetStatus::Available))
        .filter(video_assets::Column::FileId.is_not_null())
        .filter(video_assets::Column::UpdatedAt.lt(settled_before))
        .limit(limit)
        .into_tuple()
        .all(db)
        .await
}

/// A user's most recent requests with their assets, newest first.
pub async fn recent_for_user(
    db: &DatabaseConnection,
    user_id: UserId,
    limit: u64,
) -> Result<Vec<(Request, Option<Asset>)>, DbErr> {
    recent_for_user_query(user_id, limit).all(db).await
}

pub(crate) fn recent_for_user_query(user_id: UserId, limit: u64) -> SelectTwo<user_requests::Entity, video_assets::Entity> {
    user_requests::Entity::find()
        .filter(user_requests::Column::TelegramUserId.eq(user_id))
        .order_by_desc(user_requests::Column::Id)
        .limit(limit)
        .find_also_related(video_assets::Entity)
}

/// Requests in `status`, for /stats, tests and benchmarks.
pub async fn count_by_status(db: &DatabaseConnection, status: RequestStatus) -> Result<u64, DbErr> {
    user_requests::Entity::find().filter(user_requests::Column::Status.eq(status)).count(db).await
}

/// Deliveries that went out as paid broadcast sends, for /stats.
pub async fn count_paid_broadcasts(db: &DatabaseConnection) -> Result<u64, DbErr> {
    user_requests::Entity::find().filter(user_requests::Column::PaidBroadcast.eq(true)).count(db).await
}

/// How many requests ever asked for an asset.
pub async fn count_for_asset(db: &DatabaseConnection, asset_id: AssetId) -> Result<u64, DbErr> {
    user_requests::Entity::find().filter(user_requests::Column::AssetId.eq(asset_id)).count(db).await
}

/// Records the "being made" note sent for a request, to edit it later.
pub async fn set_progress_message(db: &DatabaseConnection, request_id: RequestId, message_id: MessageId) -> Result<(), DbErr> {
    user_requests::Entity::update_many()
        .col_expr(user_requests::Column::ProgressMessageId, Expr::value(message_id))
        .filter(user_requests::Column::Id.eq(request_id))
        .exec(db)
        .await?;
    Ok(())
}

/// The "being made" notes of an asset's waiting requests: (chat, message,
/// the language of the user who asked).
pub async fn progress_notes(
    db: &DatabaseConnection,
    asset_id: AssetId,
    limit: u64,
) -> Result<Vec<(ChatId, MessageId, Lang)>, DbErr> {
    user_requests::Entity::find()
        .select_only()
        .column(user_requests::Column::ChatId)
        .column(user_requests::Column::ProgressMessageId)
        .column(user_requests::Column::Language)
        .filter(user_requests::Column::AssetId.eq(asset_id))
        .filter(user_requests::Column::Status.eq(RequestStatus::Pending))
        .filter(user_requests::Column::ProgressMessageId.is_not_null())
        .order_by_asc(user_requests::Column::Id)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await
}

/// A user's delivered videos that can still be sent again (the asset is
/// available with a `file_id`), newest first, one per asset.
pub async fn delivered_videos(db: &DatabaseConnection, user_id: UserId, limit: usize) -> Result<Vec<(Request, Asset)>, DbErr> {
    let rows = delivered_videos_query(user_id, limit).all(db).await?;
    let mut seen = HashSet::new();
    Ok(rows
        .into_iter()
        .filter_map(|(request, asset)| asset.map(|asset| (request, asset)))
        .filter(|(_, asset)| asset.sendable().is_some())
        .filter(|(_, asset)| seen.insert(asset.id))
        .take(limit)
        .collect())
}

/// By the index on (user, status, id): the user's newest delivered rows
/// only, however many videos they have.
pub(crate) fn delivered_videos_query(user_id: UserId, limit: usize) -> SelectTwo<user_requests::Entity, video_assets::Entity> {
    user_requests::Entity::find()
        .filter(user_requests::Column::TelegramUserId.eq(user_id))
        .filter(user_requests::Column::Status.eq(RequestStatus::Completed))
        .order_by_desc(user_requests::Column::Id)
        .limit(limit as u64 * 10)
        .find_also_related(video_assets::Entity)
}

/// One request and its asset.
pub async fn find_with_asset(db: &DatabaseConnection, id: RequestId) -> Result<Option<(Request, Option<Asset>)>, DbErr> {
    user_requests::Entity::find_by_id(id).find_also_related(video_assets::Entity).one(db).await
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
        assert_eq!(check_limits(&admission(2, &[]), &history, now), Some(Refusal::Waiting { max: 2 }));
        assert_eq!(check_limits(&admission(3, &[]), &history, now), None);
        // 3 a minute, three in the last minute: the oldest leaves it in 20 s.
        let history = vec![(ago(40), false), (ago(30), false), (ago(10), false), (ago(400), false)];
        let refusal = check_limits(&admission(0, &[(3, 60), (20, 3600)]), &history, now);
        let Some(Refusal::Rate { retry_after }) = refusal else { panic!("{refusal:?}") };
        assert!((19..=20).contains(&retry_after.as_secs()), "{retry_after:?}");
        // The longer window decides when it is the one that is full.
        let refusal = check_limits(&admission(0, &[(5, 60), (4, 3600)]), &history, now);
        let Some(Refusal::Rate { retry_after }) = refusal else { panic!("{refusal:?}") };
        assert!((3199..=3200).contains(&retry_after.as_secs()), "{retry_after:?}");
        assert_eq!(check_limits(&admission(0, &[(5, 60), (5, 3600)]), &history, now), None);
    }
}
