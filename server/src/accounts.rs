//! Users and passwords: argon2id hashes, computed off the async runtime and
//! bounded in number (each hash takes ~19 MiB).

use std::sync::Arc;

use anyhow::Context;
use app::{
    api::{auth::SessionUser, ApiError},
    backend::Accounts,
};
use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};
use async_trait::async_trait;
use rand::{distributions::Alphanumeric, Rng};
use sqlx::SqlitePool;
use tokio::sync::Semaphore;

/// At most this many password hashes are computed at once.
const CONCURRENT_HASHES: usize = 2;
/// At most this many logins wait for a hashing slot; more are answered 429
/// at once instead of queueing the real administrator behind a flood.
const WAITING_LOGINS: usize = 16;

/// What `ensure_admin` did.
#[derive(Debug, PartialEq, Eq)]
pub enum FirstUser {
    /// Users existed; nothing was created.
    Existed,
    /// `admin` was created with the password from `VIRTDECK_ADMIN_PASSWORD`.
    FromEnvironment,
    /// `admin` was created with this random password.
    Generated(String),
}

pub struct SqlAccounts {
    pool: SqlitePool,
    hashing: Arc<Semaphore>,
    waiting: Arc<std::sync::atomic::AtomicUsize>,
    /// Verified against when the user does not exist, so both cases take as long.
    dummy_hash: String,
}

impl SqlAccounts {
    pub async fn new(pool: SqlitePool) -> anyhow::Result<Self> {
        let dummy_hash = hash_password("not a real password".to_string()).await?;
        Ok(SqlAccounts {
            pool,
            hashing: Arc::new(Semaphore::new(CONCURRENT_HASHES)),
            waiting: Arc::default(),
            dummy_hash,
        })
    }

    /// Creates the first user, `admin`, when there are no users.
    pub async fn ensure_admin(&self, password: Option<String>) -> anyhow::Result<FirstUser> {
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await?;
        if count > 0 {
            return Ok(FirstUser::Existed);
        }
        let generated = password.is_none();
        let password = password.unwrap_or_else(|| {
            rand::thread_rng()
                .sample_iter(&Alphanumeric)
                .take(20)
                .map(char::from)
                .collect()
        });
        self.create_user("admin", &password).await?;
        Ok(if generated {
            FirstUser::Generated(password)
        } else {
            FirstUser::FromEnvironment
        })
    }

    pub async fn create_user(&self, username: &str, password: &str) -> anyhow::Result<i64> {
        let hash = {
            let _permit = self.hashing.acquire().await?;
            hash_password(password.to_string()).await?
        };
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO users (username, password_hash) VALUES (?, ?) RETURNING id",
        )
        .bind(username)
        .bind(hash)
        .fetch_one(&self.pool)
        .await
        .with_context(|| format!("cannot create user {username}"))?;
        Ok(id)
    }
}

impl SqlAccounts {
    /// A slot to hash in, unless too many logins wait already.
    async fn hashing_slot(&self) -> Result<tokio::sync::SemaphorePermit<'_>, ApiError> {
        use std::sync::atomic::Ordering;
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= WAITING_LOGINS {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(ApiError::TooManyRequests(
                "the server is busy checking other logins; try again in a moment".into(),
            ));
        }
        let permit = self.hashing.acquire().await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        permit.map_err(internal)
    }
}

async fn hash_password(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))
    })
    .await?
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    tracing::error!("accounts: {e}");
    ApiError::internal()
}

#[async_trait]
impl Accounts for SqlAccounts {
    async fn verify_password(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<SessionUser>, ApiError> {
        let row: Option<(i64, String, String)> =
            sqlx::query_as("SELECT id, username, password_hash FROM users WHERE username = ?")
                .bind(username)
                .fetch_optional(&self.pool)
                .await
                .map_err(internal)?;
        let stored = row
            .as_ref()
            .map(|(_, _, hash)| hash.clone())
            .unwrap_or_else(|| self.dummy_hash.clone());
        let password = password.to_string();
        let _permit = self.hashing_slot().await?;
        let matches = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&stored)
                .map(|parsed| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &parsed)
                        .is_ok()
                })
                .unwrap_or(false)
        })
        .await
        .map_err(internal)?;
        Ok(match row {
            Some((id, username, _)) if matches => Some(SessionUser { id, username }),
            _ => None,
        })
    }
}
