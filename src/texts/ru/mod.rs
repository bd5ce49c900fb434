//! Русский. Counts are mostly written "что: N", which needs no plural
//! form; where a number stands before its noun, `ru_count`/`ru_form` pick
//! the form (1 продолжение, 2 продолжения, 5 продолжений).
//!
//! One file per topic, each implementing that topic's trait (see the
//! parent module); the compiler checks that none is missing.

mod approvals;
mod credits;
mod extend;
mod input;
mod menu;
mod operator;
mod requests;
mod search;

use super::{Texts, ru_form};
use crate::domain::{AssetStatus, Category};

/// A signed credit amount for operators: "+1 кредит", "-3 кредита", "+20 кредитов".
fn signed_credits(n: i64) -> String {
    format!("{n:+} {}", ru_form(n, "кредит", "кредита", "кредитов"))
}

pub struct Russian;

/// A moderation category in words.
fn category(category: Category) -> &'static str {
    match category {
        Category::Harassment => "травля",
        Category::HarassmentThreatening => "угрозы",
        Category::Hate => "ненависть",
        Category::HateThreatening => "угрозы на почве ненависти",
        Category::Illicit => "противозаконные действия",
        Category::IllicitViolent => "насильственные преступления",
        Category::SelfHarm => "причинение вреда себе",
        Category::SelfHarmIntent => "намерение причинить себе вред",
        Category::SelfHarmInstructions => "инструкции по причинению вреда себе",
        Category::Sexual => "сексуальный контент",
        Category::SexualMinors => "сексуальный контент с участием несовершеннолетних",
        Category::Violence => "насилие",
        Category::ViolenceGraphic => "натуралистичное насилие",
    }
}

const CLEAR_USAGE: &str =
    "Как пользоваться: /clear <запрос> — запрос сравнивается так же, как при заказе видео (регистр и пробелы не важны).";

fn asset_status(status: AssetStatus) -> &'static str {
    match status {
        AssetStatus::Pending => "в очереди",
        AssetStatus::Generating => "создаётся",
        AssetStatus::Available => "готово",
        AssetStatus::Failed => "не удалось",
        AssetStatus::Awaiting => "ждёт одобрения",
    }
}

/// Every topic is written: Russian is a whole catalogue.
impl Texts for Russian {}
