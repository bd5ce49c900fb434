//! What can keep the bot from doing what an update asked.

use sea_orm::DbErr;

use crate::db::is_retryable;

/// Why an update could not be answered as asked. The handler logs it with
/// its cause (`telemetry::Chain`) and answers "try again"; one failed
/// update never stops the bot.
#[derive(Debug, thiserror::Error)]
pub enum BotError {
    /// The database is out of reach or busy for now (no connection, a
    /// conflict that outlived its retries): the same update may work later.
    #[error("the database is unavailable while {doing}")]
    Unavailable {
        doing: &'static str,
        #[source]
        source: DbErr,
    },
    /// The database refused what was asked: trying again won't help.
    #[error("the database failed while {doing}")]
    Database {
        doing: &'static str,
        #[source]
        source: DbErr,
    },
}

impl BotError {
    /// Wraps a database error met while `doing` (for `map_err`), telling
    /// an outage or a conflict from a failure.
    pub fn db(doing: &'static str) -> impl FnOnce(DbErr) -> Self {
        move |source| {
            if is_retryable(&source) { BotError::Unavailable { doing, source } } else { BotError::Database { doing, source } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::BotError;
    use crate::telemetry::Chain;

    #[test]
    fn an_outage_reads_apart_from_a_failure_and_keeps_its_cause() {
        let lost = BotError::db("recording a request")(sea_orm::DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout));
        assert!(matches!(lost, BotError::Unavailable { .. }), "{lost:?}");
        let text = Chain(&lost).to_string();
        assert!(text.starts_with("the database is unavailable while recording a request: "), "{text}");
        let refused = BotError::db("reading a user's choices")(sea_orm::DbErr::Custom("no such column".into()));
        assert!(matches!(refused, BotError::Database { .. }), "{refused:?}");
        assert!(Chain(&refused).to_string().ends_with("no such column"), "{}", Chain(&refused));
    }
}
