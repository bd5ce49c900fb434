//! A user's own view: `/status`, their recent requests and their state.

use sea_orm::{DatabaseConnection, DbErr};

use crate::db::requests;
use crate::domain::UserId;
use crate::texts::{StatusLine, Texts};

pub struct UserStatus {
    db: DatabaseConnection,
}

impl UserStatus {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// The text of /status for `user`.
    pub async fn text(&self, user: UserId, texts: &dyn Texts) -> Result<String, DbErr> {
        let rows = requests::recent_for_user(&self.db, user, 10).await?;
        if rows.is_empty() {
            return Ok(texts.status_empty());
        }
        let mut lines = vec![texts.status_header()];
        for (request, asset) in &rows {
            let prompt = request.raw_text.trim();
            let error = request.error.as_ref().or_else(|| asset.as_ref().and_then(|a| a.last_error.as_ref()));
            lines.push(texts.status_line(&StatusLine {
                prompt,
                request: request.status,
                asset: asset.as_ref().map(|a| a.status),
                stage: asset.as_ref().and_then(|a| a.stage),
                error,
            }));
        }
        Ok(lines.join("\n"))
    }
}
