//! The catalog search as the bot uses it: the similar-video offer on a
//! miss (`SIMILAR_VIDEOS`, `SIMILARITY_THRESHOLD`) and inline mode's
//! answers. Both read [`crate::db::search`], the postings kept with the
//! assets in the database.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};

use crate::config::SearchSettings;
use crate::db::assets;
use crate::db::entities::similar_offers;
use crate::db::search::{self, Found};
use crate::domain::{AssetId, AssetStatus, Format, Prompt, PromptKey, Recipe, Terms, UserId};
use crate::service::intake::NewRequest;

/// Results in one inline answer at most (Telegram's limit).
pub const INLINE_PAGE: u64 = 50;

/// An offer kept for the user's choice.
#[derive(Debug, Clone)]
pub struct Offer {
    pub id: i64,
    /// The similar video's prompt as first typed.
    pub typed: String,
}

/// What a press on an offer's button found.
#[derive(Debug, Clone)]
pub enum Taken {
    /// The offer, answered now by its own user (once); with ▶️ the
    /// similar video's asset (available, with a `file_id`).
    Yours { offer: similar_offers::Model, asset: Option<Box<assets::Asset>> },
    /// Someone else's offer: nothing changes.
    NotYours,
    /// Answered before, or unknown.
    Gone,
    /// ▶️, but the video was cleared meanwhile: the offer stays open (✨ still works).
    VideoGone,
}

/// One inline answer.
#[derive(Debug, Clone, Default)]
pub struct InlineAnswer {
    pub results: Vec<Found>,
    /// The offset of the next page, when there may be one.
    pub next_offset: Option<String>,
    /// The answer lists the user's own videos (`is_personal`).
    pub personal: bool,
    /// The `start_parameter` of the button that makes the typed prompt,
    /// when nothing matched it exactly.
    pub start: Option<String>,
}

pub struct Search {
    db: DatabaseConnection,
    settings: SearchSettings,
    max_prompt_chars: usize,
}

impl Search {
    pub fn new(db: DatabaseConnection, settings: SearchSettings, max_prompt_chars: usize) -> Self {
        Self { db, settings, max_prompt_chars }
    }

    /// On a miss: the available video of the same recipe whose prompt is
    /// close enough to offer instead, if any. `None` when the offer is
    /// off, for a remix, when `prompt`'s own asset exists (a hit, or a
    /// generation to join: no question), or when nothing is close enough.
    #[tracing::instrument(skip_all)]
    pub async fn similar_to(&self, prompt: &Prompt, recipe: &Recipe) -> Result<Option<Found>, DbErr> {
        if !self.settings.similar_videos || recipe.image.is_some() {
            return Ok(None);
        }
        let key = PromptKey::of(prompt, recipe);
        if let Some(own) = assets::find_by_key(&self.db, &key).await?
            && own.status != AssetStatus::Failed
        {
            return Ok(None);
        }
        let best = search::most_similar(&self.db, prompt, recipe).await?;
        Ok(best.filter(|(_, similarity)| *similarity >= self.settings.similarity_threshold).map(|(found, _)| found))
    }

    /// Keeps `new`'s wording until its user chooses between `found` and it.
    pub async fn keep_offer(&self, new: &NewRequest, found: &Found) -> Result<Offer, DbErr> {
        let row = similar_offers::ActiveModel {
            user_id: Set(new.user_id),
            chat_id: Set(new.chat_id),
            message_id: Set(new.message_id),
            raw_text: Set(new.raw_text.clone()),
            language: Set(new.language),
            asset_id: Set(found.asset_id),
            created_at: Set(Utc::now()),
            answered_at: Set(None),
            ..Default::default()
        }
        .insert(&self.db)
        .await?;
        Ok(Offer { id: row.id, typed: found.typed.clone() })
    }

    /// A press on offer `id` by `user` (`send`: ▶️, else ✨): answers the
    /// offer once (a second press, or a press on someone else's offer,
    /// changes nothing).
    pub async fn take_offer(&self, id: i64, user: UserId, send: bool) -> Result<Taken, DbErr> {
        let Some(offer) = similar_offers::Entity::find_by_id(id).one(&self.db).await? else { return Ok(Taken::Gone) };
        if offer.user_id != user {
            return Ok(Taken::NotYours);
        }
        if offer.answered_at.is_some() {
            return Ok(Taken::Gone);
        }
        let asset = match send {
            true => match self.offered(offer.asset_id).await? {
                Some(asset) => Some(Box::new(asset)),
                None => return Ok(Taken::VideoGone),
            },
            false => None,
        };
        let answered = similar_offers::Entity::update_many()
            .col_expr(similar_offers::Column::AnsweredAt, Expr::value(Utc::now()))
            .filter(similar_offers::Column::Id.eq(id))
            .filter(similar_offers::Column::UserId.eq(user))
            .filter(similar_offers::Column::AnsweredAt.is_null())
            .exec(&self.db)
            .await?;
        if answered.rows_affected != 1 {
            return Ok(Taken::Gone);
        }
        search::add_count(&self.db, if send { search::OFFERS_ACCEPTED } else { search::OFFERS_DECLINED }, 1).await?;
        Ok(Taken::Yours { offer, asset })
    }

    /// The asset an offer names, while it is available with a `file_id`.
    pub async fn offered(&self, asset: AssetId) -> Result<Option<assets::Asset>, DbErr> {
        Ok(assets::find(&self.db, asset).await?.filter(|a| a.status == AssetStatus::Available && a.file_id.is_some()))
    }

    /// Inline mode: `query` typed by `user` (preferring `prefer`'s format),
    /// from `offset` (the `next_offset` of the page before).
    #[tracing::instrument(skip_all)]
    pub async fn inline(&self, user: UserId, query: &str, offset: &str, prefer: Format) -> Result<InlineAnswer, DbErr> {
        let from: u64 = offset.parse().unwrap_or(0);
        let Ok(prompt) = Prompt::parse(query, self.max_prompt_chars) else {
            // an empty query: the user's own recent videos
            let results = search::recent_of(&self.db, user, from, INLINE_PAGE).await?;
            let next_offset = (results.len() as u64 == INLINE_PAGE).then(|| (from + INLINE_PAGE).to_string());
            return Ok(InlineAnswer { results, next_offset, personal: true, start: None });
        };
        let exact = search::exact(&self.db, &prompt, prefer).await?;
        let start = match exact.is_empty() {
            true => Some(search::keep_start(&self.db, &prompt, query).await?),
            false => None,
        };
        // the exact matches open the first page; the word matches follow, on every page
        let shown_first = if from == 0 { exact.len() as u64 } else { 0 };
        let want = INLINE_PAGE - shown_first;
        let terms = Terms::of(&prompt);
        let raw = search::matching(&self.db, &terms, prefer, from, want + exact.len() as u64).await?;
        let (mut words, mut consumed) = (Vec::new(), 0u64);
        for found in raw {
            if words.len() as u64 == want {
                break;
            }
            consumed += 1;
            if !exact.iter().any(|e| e.asset_id == found.asset_id) {
                words.push(found);
            }
        }
        let next_offset = (words.len() as u64 == want).then(|| (from + consumed).to_string());
        let mut results = if from == 0 { exact } else { Vec::new() };
        results.extend(words);
        Ok(InlineAnswer { results, next_offset, personal: false, start })
    }

    /// The prompt kept under an inline answer's `start_parameter`.
    pub async fn started(&self, parameter: &str) -> Result<Option<String>, DbErr> {
        search::started(&self.db, parameter).await
    }

    /// Counts an inline answer, or a result chosen from one.
    pub async fn count(&self, name: &'static str) {
        if let Err(err) = search::add_count(&self.db, name, 1).await {
            tracing::warn!(error = %err, counter = name, "could not count");
        }
    }
}
