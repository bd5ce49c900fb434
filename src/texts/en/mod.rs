//! English.
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

use super::{Texts, en_count};
use crate::domain::Category;

/// A credit amount: "1 credit", "20 credits".
fn credits(n: i64) -> String {
    en_count(n, "credit", "credits")
}

/// A signed credit amount for operators: "+1 credit", "-20 credits".
fn signed_credits(n: i64) -> String {
    format!("{n:+} {}", if n.abs() == 1 { "credit" } else { "credits" })
}

pub struct English;

/// A moderation category in words.
fn category(category: Category) -> &'static str {
    match category {
        Category::Harassment => "harassment",
        Category::HarassmentThreatening => "threats",
        Category::Hate => "hate",
        Category::HateThreatening => "hateful threats",
        Category::Illicit => "illegal activity",
        Category::IllicitViolent => "violent crime",
        Category::SelfHarm => "self-harm",
        Category::SelfHarmIntent => "intent to self-harm",
        Category::SelfHarmInstructions => "self-harm instructions",
        Category::Sexual => "sexual content",
        Category::SexualMinors => "sexual content involving minors",
        Category::Violence => "violence",
        Category::ViolenceGraphic => "graphic violence",
    }
}

const CLEAR_USAGE: &str =
    "Usage: /clear <prompt> — the prompt is matched the same way as requests (case and spaces don't matter).";

/// Every topic is written: English is a whole catalogue.
impl Texts for English {}
