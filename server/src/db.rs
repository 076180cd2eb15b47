//! The application's own database (users, sessions, audit log): SQLite,
//! created on first start, schema by embedded migrations.

use std::{str::FromStr, time::Duration};

use anyhow::Context;
use sqlx::{
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions},
    SqlitePool,
};

pub async fn connect(database_url: &str) -> anyhow::Result<SqlitePool> {
    let options = SqliteConnectOptions::from_str(database_url)
        .with_context(|| format!("database_url {database_url:?} is not a SQLite URL"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await
        .with_context(|| format!("cannot open the database {database_url}"))?;
    sqlx::migrate!("./schema")
        .run(&pool)
        .await
        .context("cannot apply the database migrations")?;
    Ok(pool)
}
