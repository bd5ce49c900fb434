//! What can keep the bot from doing what an update asked: a database
//! outage or failure ([`DbFailure`]). The handler logs it with its cause
//! (`telemetry::Chain`) and answers "try again"; one failed update never
//! stops the bot.

pub use crate::db::DbFailure as BotError;

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
