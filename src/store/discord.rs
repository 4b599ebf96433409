//! Discord's own state: how registering the application commands went.

use sqlx::Row;

use super::{now_rfc3339, Store, StoreError};

/// The last registration of costbot's commands for one target.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    /// "global" or "guild:<id>".
    pub target: String,
    pub application_id: String,
    pub ok: bool,
    /// What was registered, or why it failed (no secrets: Discord's error text).
    pub detail: String,
    /// RFC 3339.
    pub at: String,
}

impl Store {
    /// Keeps the outcome of a registration, replacing the one before.
    pub async fn discord_registration_record(
        &self,
        application_id: &str,
        target: &str,
        ok: bool,
        detail: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO discord_registrations (application_id, target, ok, detail, at) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (application_id, target) DO UPDATE SET ok = excluded.ok, detail = excluded.detail, at = excluded.at",
        )
        .bind(application_id)
        .bind(target)
        .bind(ok)
        .bind(detail)
        .bind(now_rfc3339())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The last registration for this application and target, if any.
    pub async fn discord_registration(
        &self,
        application_id: &str,
        target: &str,
    ) -> Result<Option<Registration>, StoreError> {
        let row = sqlx::query(
            "SELECT target, application_id, ok, detail, at FROM discord_registrations WHERE application_id = ? AND target = ?",
        )
        .bind(application_id)
        .bind(target)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| Registration {
            target: r.get("target"),
            application_id: r.get("application_id"),
            ok: r.get::<i64, _>("ok") == 1,
            detail: r.get("detail"),
            at: r.get("at"),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_latest_outcome_per_target_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).await.unwrap();
        assert_eq!(
            store.discord_registration("1", "global").await.unwrap(),
            None
        );
        store
            .discord_registration_record("1", "global", false, "HTTP 401")
            .await
            .unwrap();
        store
            .discord_registration_record("1", "global", true, "/cost (ask, help)")
            .await
            .unwrap();
        store
            .discord_registration_record("1", "guild:5", false, "HTTP 403")
            .await
            .unwrap();
        let g = store
            .discord_registration("1", "global")
            .await
            .unwrap()
            .unwrap();
        assert!(g.ok);
        assert_eq!(g.detail, "/cost (ask, help)");
        let guild = store
            .discord_registration("1", "guild:5")
            .await
            .unwrap()
            .unwrap();
        assert!(!guild.ok);
        assert_eq!(
            store.discord_registration("2", "global").await.unwrap(),
            None
        );
        store.close().await;
    }
}
