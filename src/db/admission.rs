//! Recording a request: in one serializable transaction, its asset is
//! found or created, the lifecycle's decision ([`admit`]) is asked with the
//! facts loaded here (the asset, a remembered refusal, the user's balance
//! and recent requests), and the answer is stored — the request row, its
//! hold, the asset's move into `pending` — so that at most one generation
//! job exists per asset however many requests race.

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use std::collections::HashMap;
use std::sync::Arc;

use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait,
    ExprTrait, QueryFilter, QuerySelect,
};

use super::asset_moves;
use super::assets::Asset;
use super::claims;
use super::credits::{self, Movement};
use super::entities::{user_requests, video_assets};
use super::refusals;
use super::requests::{self, NewRequest, Request};
use super::retry::serializable;
use crate::domain::{
    Admission, Admit, AssetFacts, AssetId, AssetMove, Charge, ChatId, Facts, Failure, Generation, HoldState, LedgerKind,
    MessageId, PromptKey, Refusal, RefusalReason, RequestStatus, UserId, Wanted, admit,
};
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
    if !admission.limits(user) {
        return Ok(None);
    }
    let now = Utc::now();
    let history = limited_history(db, &[user], now - admission.longest_window()).await?;
    Ok(admission.check_limits(history.get(&user).map_or(&[][..], Vec::as_slice), now))
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
    let mut history = if admission.limits_on() {
        limited_history(txn, &users, now - admission.longest_window()).await?
    } else {
        HashMap::new()
    };
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
        let verdict = existing.and_then(|asset| verdicts.get(&asset.id));
        let asset = existing.map(|asset| AssetFacts {
            status: asset.status,
            sendable: asset.sendable().is_some(),
            remembered: verdict.and_then(refusals::failure_of),
            allowed: !refusals::screened(verdict),
        });
        let starts = asset.as_ref().is_none_or(AssetFacts::needs_generation);
        let user = new.user_id;
        let counted = admission.limits(user);
        let balance = balances.get(&user).copied().unwrap_or_default();
        let facts = Facts {
            blocked: if starts { admission.blocked_words.as_ref().and_then(|words| words.find(&wanted.prompt)) } else { None },
            over_limit: if counted {
                admission.check_limits(history.get(&user).map_or(&[][..], Vec::as_slice), now)
            } else {
                None
            },
            price: admission.pricing.map(|pricing| (pricing.price(starts, wanted.recipe.choices), balance)),
            asset,
        };
        match admit(&facts) {
            Admit::Refuse(refusal) => plan.push(Plan::Refused(refusal)),
            Admit::AnswerRefusal(failure) => {
                if let Some(asset) = existing {
                    *answered.entry(asset.id).or_default() += 1;
                }
                plan.push(Plan::Unsafe { key: key.clone(), failure });
            }
            Admit::Block(reason) => {
                let asset = refuse_asset(txn, existing, key, wanted, new, &reason, now).await?;
                assets.insert(key.clone(), asset);
                plan.push(Plan::Unsafe { key: key.clone(), failure: Failure::Refused(reason) });
            }
            Admit::Record { start, charge } => {
                if charge.limited && counted {
                    history.entry(user).or_default().push((now, true));
                }
                if admission.pricing.is_some() {
                    balances.insert(user, balance - charge.price);
                }
                let typed = Some(new.raw_text.trim().to_owned());
                let dispatch = match (start, existing) {
                    (false, _) => None,
                    (true, None) => {
                        let asset = video_assets::ActiveModel::new_pending(key.clone(), wanted, typed, now).insert(txn).await?;
                        let job = asset.current_generation();
                        assets.insert(key.clone(), asset);
                        Some(job)
                    }
                    (true, Some(asset)) => {
                        let queue = AssetMove::Queue { generation: asset.generation + 1, typed };
                        let asset = asset_moves::apply(txn, asset.id, &queue, Condition::all(), now).await?.ok_or_else(|| {
                            DbErr::Custom(format!("asset {} could not be queued from {:?}", asset.id, asset.status))
                        })?;
                        let job = asset.current_generation();
                        assets.insert(key.clone(), asset);
                        Some(job)
                    }
                };
                plan.push(Plan::Record { key: key.clone(), dispatch, charge });
            }
        }
    }
    let rows: Vec<user_requests::ActiveModel> = items
        .iter()
        .zip(&plan)
        .filter_map(|((new, _), planned)| match planned {
            Plan::Record { key, charge, .. } => {
                let asset = assets.get(key)?;
                let claimed_until = asset.sendable().is_some().then(|| claims::deadline(claim));
                Some(requests::row(new, asset.id, now, claimed_until, *charge))
            }
            Plan::Unsafe { key, failure } => {
                let mut row = requests::row(new, assets.get(key)?.id, now, None, Charge::default());
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
    let id = match existing {
        Some(asset) => asset.id,
        None => {
            let typed = Some(new.raw_text.trim().to_owned());
            video_assets::ActiveModel::new_pending(key.clone(), wanted, typed, now).insert(txn).await?.id
        }
    };
    let refuse = AssetMove::Refuse(reason.clone());
    let asset = asset_moves::apply(txn, id, &refuse, Condition::all(), now)
        .await?
        .ok_or_else(|| DbErr::Custom(format!("asset {id} could not be refused")))?;
    refusals::remember_in(txn, asset.id, reason).await?;
    Ok(asset)
}
