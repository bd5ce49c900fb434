//! Why an asset or a request failed. Stored as a short machine token, with
//! a technical detail where there is one (`attempts 3: the provider timed
//! out`); users read the reason in their language (`texts`), operators also
//! see the detail. A row written before the token existed (free English
//! text) reads as [`Failure::Other`] with that text as its detail.

use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

use sea_orm::DeriveValueType;

use super::RefusalReason;

/// Why a video could not be made or sent.
#[derive(Debug, Clone, PartialEq, Eq, DeriveValueType)]
#[sea_orm(value_type = "String")]
pub enum Failure {
    /// A person rejected it at an approval gate.
    Rejected,
    /// Nobody decided at an approval gate within `APPROVAL_TIMEOUT_SECS`.
    TimedOut,
    /// Its requester withdrew with /cancel and nobody else waited.
    Cancelled,
    /// An operator cleared it (`/clear`, the console, or its parent's clear).
    Cleared,
    /// Telegram refused the cached copy and no copy is stored.
    NotStored,
    /// The video an extension continues is gone (cleared, being made again).
    ParentGone,
    /// Refused for safety: moderation (with its categories), a blocked
    /// word, or a provider's safety filter (its words). Remembered on the
    /// asset's key: the next request is answered with it at once.
    Refused(RefusalReason),
    /// This machine can't make it (ffmpeg missing for an extension); what to install.
    CannotRun(String),
    /// Every attempt failed; the last attempt's error.
    Attempts { attempts: u32, last: String },
    /// The finished video is above Telegram's 50 MB limit for bots.
    TooBig { megabytes: u64 },
    /// Telegram refused the upload, or the cache chat can't be reached.
    Upload(String),
    /// The user can't be reached (blocked the bot, deleted the chat); Telegram's words.
    Unreachable(String),
    /// Anything else (and every free-text reason of an older row): the
    /// detail is for operators only; empty when nothing was recorded.
    Other(String),
}

impl Failure {
    /// One failure of every kind, with a technical detail where the kind
    /// has one (for tests of what each language says).
    pub fn examples() -> Vec<Failure> {
        vec![
            Failure::Rejected,
            Failure::TimedOut,
            Failure::Cancelled,
            Failure::Cleared,
            Failure::NotStored,
            Failure::ParentGone,
            Failure::Refused(RefusalReason::provider("SAFETY.INPUT.TEXT: blocked")),
            Failure::Refused(RefusalReason::moderation(vec![super::Category::Violence, super::Category::SexualMinors])),
            Failure::Refused(RefusalReason::blocked("forbidden fruit")),
            Failure::CannotRun("install ffmpeg (apt-get install ffmpeg)".to_owned()),
            Failure::Attempts { attempts: 3, last: "runway: 500 Internal Server Error".to_owned() },
            Failure::TooBig { megabytes: 57 },
            Failure::Upload("Telegram refused the upload (Bad Request: wrong type)".to_owned()),
            Failure::Unreachable("Forbidden: bot was blocked by the user".to_owned()),
            Failure::Other("cannot create /data/videos: permission denied".to_owned()),
        ]
    }

    /// The technical detail operators read (provider or Telegram error
    /// text, a legacy row's text); `None` when the kind says it all.
    pub fn detail(&self) -> Option<&str> {
        match self {
            Self::Refused(reason) => Some(reason.detail.as_str()).filter(|d| !d.is_empty()),
            Self::CannotRun(d) | Self::Upload(d) | Self::Unreachable(d) | Self::Other(d) | Self::Attempts { last: d, .. } => {
                Some(d.as_str()).filter(|d| !d.is_empty())
            }
            _ => None,
        }
    }

    fn token(&self) -> String {
        match self {
            Self::Rejected => "rejected".to_owned(),
            Self::TimedOut => "timed_out".to_owned(),
            Self::Cancelled => "cancelled".to_owned(),
            Self::Cleared => "cleared".to_owned(),
            Self::NotStored => "not_stored".to_owned(),
            Self::ParentGone => "parent_gone".to_owned(),
            Self::Refused(_) => "refused".to_owned(),
            Self::CannotRun(_) => "cannot_run".to_owned(),
            Self::Attempts { attempts, .. } => format!("attempts {attempts}"),
            Self::TooBig { megabytes } => format!("too_big {megabytes}"),
            Self::Upload(_) => "upload".to_owned(),
            Self::Unreachable(_) => "unreachable".to_owned(),
            Self::Other(_) => "error".to_owned(),
        }
    }

    /// Reads free text written before the tokens (English sentences).
    fn legacy(raw: &str) -> Self {
        let text = raw.trim();
        match text {
            "rejected" => return Self::Rejected,
            "no answer in time" => return Self::TimedOut,
            "cancelled" => return Self::Cancelled,
            "cleared by an operator" => return Self::Cleared,
            "the video is no longer stored (Telegram refused its cached copy)" => return Self::NotStored,
            "the video to extend is no longer available" => return Self::ParentGone,
            _ => {}
        }
        if let Some(rest) = text.strip_prefix("generation failed after ")
            && let Some((n, last)) = rest.split_once(" attempts (")
            && let Ok(attempts) = n.parse()
        {
            return Self::Attempts { attempts, last: last.strip_suffix(')').unwrap_or(last).to_owned() };
        }
        if let Some(reason) = text.strip_prefix("the generator refused the prompt (") {
            return Self::Refused(RefusalReason::provider(reason.strip_suffix(')').unwrap_or(reason)));
        }
        Self::Other(text.to_owned())
    }
}

/// The stored form: the token, then `: detail` when there is one.
impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Self::Refused(reason) = self {
            // who refused and the categories, before the detail
            return write!(f, "{}: {reason}", self.token());
        }
        f.write_str(&self.token())?;
        match self.detail() {
            Some(detail) => write!(f, ": {detail}"),
            None => Ok(()),
        }
    }
}

impl FromStr for Failure {
    type Err = Infallible;

    /// Never fails: text that is not a token (a row written by an older
    /// version) reads as its legacy meaning, else as `Other` with the text.
    fn from_str(raw: &str) -> Result<Self, Infallible> {
        let (head, detail) = match raw.split_once(": ") {
            Some((head, detail)) => (head, detail.to_owned()),
            None => (raw, String::new()),
        };
        let mut words = head.split(' ');
        let kind = words.next().unwrap_or_default();
        let number = words.next().and_then(|n| n.parse::<u64>().ok());
        let single = words.next().is_none();
        let failure = match (kind, number, single) {
            ("rejected", None, true) if detail.is_empty() => Self::Rejected,
            ("timed_out", None, true) if detail.is_empty() => Self::TimedOut,
            ("cancelled", None, true) if detail.is_empty() => Self::Cancelled,
            ("cleared", None, true) if detail.is_empty() => Self::Cleared,
            ("not_stored", None, true) if detail.is_empty() => Self::NotStored,
            ("parent_gone", None, true) if detail.is_empty() => Self::ParentGone,
            ("refused", None, true) => Self::Refused(RefusalReason::parse(&detail)),
            ("cannot_run", None, true) => Self::CannotRun(detail),
            ("upload", None, true) => Self::Upload(detail),
            ("unreachable", None, true) => Self::Unreachable(detail),
            ("error", None, true) => Self::Other(detail),
            ("attempts", Some(n), true) => match u32::try_from(n) {
                Ok(attempts) => Self::Attempts { attempts, last: detail },
                Err(_) => Self::legacy(raw),
            },
            ("too_big", Some(megabytes), true) if detail.is_empty() => Self::TooBig { megabytes },
            _ => Self::legacy(raw),
        };
        Ok(failure)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every() -> Vec<Failure> {
        let mut every = Failure::examples();
        every.extend([
            Failure::Attempts { attempts: 3, last: "runway: 500 (boom): again".to_owned() },
            Failure::Other(String::new()),
            Failure::Attempts { attempts: 2, last: String::new() },
        ]);
        every
    }

    #[test]
    fn every_failure_reads_back_as_written() {
        for failure in every() {
            assert_eq!(failure.to_string().parse::<Failure>(), Ok(failure.clone()), "{failure}");
        }
    }

    #[test]
    fn free_text_of_older_rows_reads_as_its_meaning() {
        let read = |raw: &str| raw.parse::<Failure>().unwrap_or(Failure::Other(String::new()));
        assert_eq!(read("no answer in time"), Failure::TimedOut);
        assert_eq!(read("cleared by an operator"), Failure::Cleared);
        assert_eq!(read("the video is no longer stored (Telegram refused its cached copy)"), Failure::NotStored);
        assert_eq!(read("the video to extend is no longer available"), Failure::ParentGone);
        assert_eq!(
            read("generation failed after 3 attempts (render failed: oops)"),
            Failure::Attempts { attempts: 3, last: "render failed: oops".to_owned() }
        );
        assert_eq!(read("the generator refused the prompt (unsafe)"), Failure::Refused(RefusalReason::provider("unsafe")));
        // a refusal stored before its source was: a provider's, its text the detail
        assert_eq!(read("refused: SAFETY.INPUT.TEXT: x"), Failure::Refused(RefusalReason::provider("SAFETY.INPUT.TEXT: x")));
        let odd = "Telegram refused the upload (Bad Request: wrong type)";
        assert_eq!(read(odd), Failure::Other(odd.to_owned()));
        assert_eq!(read("rejected: by whom?"), Failure::Other("rejected: by whom?".to_owned()));
    }
}
