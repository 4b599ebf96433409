//! SQLite through sqlx: one file, WAL mode, migrations from `migrations/`.

pub mod cache;
pub mod conversations;
pub mod digests;
pub mod discord;
pub mod embeddings;
pub mod guides;
pub mod slack;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

pub use conversations::{HistoryCheck, Message, NewTurn, RecordedTurn, Role};
pub use embeddings::ChunkVector;
pub use guides::{ChunkDetails, ChunkRecord, ChunkText, GuideRecord};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("could not open the database at {path}: {message}")]
    Open { path: String, message: String },
    #[error("database migration failed: {0}")]
    Migrate(String),
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    #[error("conversation {0} belongs to someone else")]
    NotOwner(String),
}

#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
}

impl Store {
    /// Opens (creating if needed) the database file and applies migrations.
    /// The file is readable and writable by its owner only (0600); SQLite
    /// gives its -wal and -shm files the same mode.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        let open_err = |e: std::io::Error| StoreError::Open {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(open_err)?;
            }
        }
        owner_only(path).map_err(open_err)?;
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(|e| StoreError::Open {
                path: path.display().to_string(),
                message: e.to_string(),
            })?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Open {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Migrate(e.to_string()))?;
        Ok(Store { pool })
    }

    /// Only the store's own modules run SQL.
    fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Whether the database answers, for `/readyz`.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    pub async fn journal_mode(&self) -> Result<String, StoreError> {
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&self.pool)
            .await?;
        Ok(mode)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Creates the database file with mode 0600 before SQLite opens it (SQLite
/// would create it 0644 under the usual umask), and tightens an existing
/// file and its -wal/-shm companions.
fn owner_only(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)?;
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        match std::fs::metadata(&name) {
            Ok(m) if m.permissions().mode() & 0o777 != 0o600 => {
                std::fs::set_permissions(&name, std::fs::Permissions::from_mode(0o600))?;
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[tokio::test]
    async fn the_database_files_are_readable_by_their_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("data").join("costbot.db");
        let store = Store::open(&db).await.unwrap();
        // A write, so the -wal and -shm files exist while the pool is open.
        store.cache_prune(chrono::Utc::now()).await.unwrap();
        for suffix in ["", "-wal", "-shm"] {
            let p = dir.path().join("data").join(format!("costbot.db{suffix}"));
            assert!(p.exists(), "{} exists", p.display());
            assert_eq!(mode(&p), 0o600, "{}", p.display());
        }
        store.close().await;

        // An existing file with a looser mode is tightened.
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        let store = Store::open(&db).await.unwrap();
        assert_eq!(mode(&db), 0o600);
        store.close().await;
    }
}
