//! Users: the first admin, the list, creating and changing a user (the last
//! enabled admin stays one).

use anyhow::Context;
use app::api::{
    auth::Role,
    users::{UserInfo, UserUpdate},
    ApiError,
};

use super::{internal, passwords::hash_password, random_secret, SqlAccounts};

/// What `ensure_admin` did.
#[derive(Debug, PartialEq, Eq)]
pub enum FirstUser {
    /// Users existed; nothing was created.
    Existed,
    /// `admin` was created with the password from `VIRTDECK_ADMIN_PASSWORD`.
    FromEnvironment,
    /// `admin` was created with this random password, to be changed at first login.
    Generated(String),
}

impl SqlAccounts {
    /// Creates the first user, `admin`, when there are no users.
    pub async fn ensure_admin(&self, password: Option<String>) -> anyhow::Result<FirstUser> {
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await?;
        if count > 0 {
            return Ok(FirstUser::Existed);
        }
        let generated = password.is_none();
        let password = password.unwrap_or_else(|| random_secret(20));
        self.insert_user("admin", &password, Role::Admin, generated)
            .await?;
        Ok(if generated {
            FirstUser::Generated(password)
        } else {
            FirstUser::FromEnvironment
        })
    }

    /// Adds a user; `must_change`: the password was set by someone else.
    pub async fn insert_user(
        &self,
        username: &str,
        password: &str,
        role: Role,
        must_change: bool,
    ) -> anyhow::Result<i64> {
        let hash = {
            let _permit = self.hashing.acquire().await?;
            hash_password(password.to_string()).await?
        };
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO users (username, password_hash, role, must_change_password) \
             VALUES (?, ?, ?, ?) RETURNING id",
        )
        .bind(username)
        .bind(hash)
        .bind(role.as_str())
        .bind(must_change)
        .fetch_one(&self.pool)
        .await
        .with_context(|| format!("cannot create user {username}"))?;
        Ok(id)
    }

    async fn user_info(&self, username: &str) -> Result<UserInfo, ApiError> {
        let row: Option<UserRow> = sqlx::query_as(
            "SELECT username, role, disabled, must_change_password, created_at FROM users \
             WHERE username = ?",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await
        .map_err(internal)?;
        row.map(info)
            .ok_or_else(|| ApiError::NotFound(format!("there is no user {username}")))
    }
}

type UserRow = (String, String, bool, bool, String);

fn info((username, role, disabled, must_change_password, created_at): UserRow) -> UserInfo {
    UserInfo {
        username,
        role: Role::parse(&role).unwrap_or_default(),
        disabled,
        must_change_password,
        created_at,
    }
}

/// `Accounts::users`.
pub(super) async fn list(accounts: &SqlAccounts) -> Result<Vec<UserInfo>, ApiError> {
    let rows: Vec<UserRow> = sqlx::query_as(
        "SELECT username, role, disabled, must_change_password, created_at FROM users \
         ORDER BY username",
    )
    .fetch_all(&accounts.pool)
    .await
    .map_err(internal)?;
    Ok(rows.into_iter().map(info).collect())
}

/// `Accounts::create_user`.
pub(super) async fn create(
    accounts: &SqlAccounts,
    username: &str,
    password: &str,
    role: Role,
) -> Result<UserInfo, ApiError> {
    let exists: Option<(i64,)> = sqlx::query_as("SELECT id FROM users WHERE username = ?")
        .bind(username)
        .fetch_optional(&accounts.pool)
        .await
        .map_err(internal)?;
    if exists.is_some() {
        return Err(ApiError::Conflict(format!(
            "a user named {username} exists already"
        )));
    }
    accounts
        .insert_user(username, password, role, true)
        .await
        .map_err(internal)?;
    accounts.user_info(username).await
}

/// `Accounts::update_user`.
pub(super) async fn update(
    accounts: &SqlAccounts,
    username: &str,
    update: &UserUpdate,
) -> Result<UserInfo, ApiError> {
    // Exists (or not found).
    accounts.user_info(username).await?;
    let last_admin = || {
        ApiError::Conflict(format!(
            "{username} is the last admin: make another user admin first"
        ))
    };
    let hash = match &update.password {
        Some(p) => {
            let _permit = accounts.hashing_slot().await?;
            Some(hash_password(p.clone()).await.map_err(internal)?)
        }
        None => None,
    };
    let mut tx = accounts.pool.begin().await.map_err(internal)?;
    if let Some(role) = update.role {
        sqlx::query("UPDATE users SET role = ? WHERE username = ?")
            .bind(role.as_str())
            .bind(username)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
    }
    if let Some(disabled) = update.disabled {
        sqlx::query("UPDATE users SET disabled = ? WHERE username = ?")
            .bind(disabled)
            .bind(username)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
    }
    if let Some(hash) = hash {
        sqlx::query(
            "UPDATE users SET password_hash = ?, must_change_password = 1 WHERE username = ?",
        )
        .bind(hash)
        .bind(username)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
    }
    if update.disabled == Some(true) || update.password.is_some() {
        sqlx::query(
            "DELETE FROM user_sessions \
             WHERE user_id = (SELECT id FROM users WHERE username = ?)",
        )
        .bind(username)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
    }
    if update.reset_totp {
        sqlx::query(
            "UPDATE users SET totp_enabled = 0, totp_secret = NULL, totp_last_step = NULL \
             WHERE username = ?",
        )
        .bind(username)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
        sqlx::query(
            "DELETE FROM recovery_codes WHERE user_id = (SELECT id FROM users WHERE username = ?)",
        )
        .bind(username)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
    }
    if update.password.is_some() {
        // A reset password ends what the old one let anyone set up: tokens too.
        sqlx::query(
            "UPDATE api_tokens SET revoked = 1 \
             WHERE user_id = (SELECT id FROM users WHERE username = ?)",
        )
        .bind(username)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
    }
    // Counted inside the transaction, after the change: of two admins
    // disabling each other at once, the second waits for the first's write
    // and then sees no other admin left.
    if update.disabled == Some(true) || update.role.is_some_and(|r| r != Role::Admin) {
        let (admins,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0")
                .fetch_one(&mut *tx)
                .await
                .map_err(internal)?;
        if admins == 0 {
            tx.rollback().await.map_err(internal)?;
            return Err(last_admin());
        }
    }
    tx.commit().await.map_err(internal)?;
    accounts.user_info(username).await
}
