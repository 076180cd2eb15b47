//! The first user and password storage, against a real SQLite database.

use app::backend::Accounts;
use server::{
    accounts::{FirstUser, SqlAccounts},
    db,
};

async fn accounts() -> (SqlAccounts, sqlx::SqlitePool, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("v.db").display());
    let pool = db::connect(&url).await.unwrap();
    (SqlAccounts::new(pool.clone()).await.unwrap(), pool, dir)
}

#[tokio::test]
async fn first_start_creates_admin_with_a_random_password_once() {
    let (accounts, pool, _dir) = accounts().await;
    let FirstUser::Generated(password) = accounts.ensure_admin(None).await.unwrap() else {
        panic!("expected a generated password");
    };
    assert!(password.len() >= 20, "a strong password: {password}");
    let user = accounts
        .verify_password("admin", &password)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.username, "admin");
    assert_eq!(
        accounts.verify_password("admin", "guess").await.unwrap(),
        None
    );
    assert_eq!(
        accounts.verify_password("root", &password).await.unwrap(),
        None
    );

    // Stored as an argon2id hash, never the password itself.
    let (hash,): (String,) =
        sqlx::query_as("SELECT password_hash FROM users WHERE username = 'admin'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains(&password));

    // A second start changes nothing, whatever the environment says.
    assert_eq!(
        accounts.ensure_admin(Some("other".into())).await.unwrap(),
        FirstUser::Existed
    );
    assert!(accounts
        .verify_password("admin", &password)
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn the_environment_can_choose_the_first_password() {
    let (accounts, _pool, _dir) = accounts().await;
    let outcome = accounts
        .ensure_admin(Some("chosen-password".into()))
        .await
        .unwrap();
    assert_eq!(outcome, FirstUser::FromEnvironment);
    assert!(accounts
        .verify_password("admin", "chosen-password")
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn a_login_flood_is_answered_at_once_instead_of_queueing_everyone() {
    let (accounts, _pool, _dir) = accounts().await;
    // The queue, not the per-user count, is under test here.
    let accounts = accounts.with_login_limits(1000, std::time::Duration::from_secs(60));
    accounts
        .ensure_admin(Some("right password".into()))
        .await
        .unwrap();
    // 60 logins at once: two are hashed, sixteen wait, the rest are told to
    // come back (429) without waiting.
    let attempts = (0..60).map(|_| accounts.verify_password("admin", "wrong"));
    let results = futures::future::join_all(attempts).await;
    let busy = results
        .iter()
        .filter(|r| matches!(r, Err(app::api::ApiError::TooManyRequests(_))))
        .count();
    let checked = results.iter().filter(|r| matches!(r, Ok(None))).count();
    assert_eq!((checked, busy), (18, 42));
    // Once the flood has been answered, the right password works.
    let user = accounts
        .verify_password("admin", "right password")
        .await
        .unwrap();
    assert!(user.is_some());
}

#[tokio::test]
async fn failed_logins_are_counted_per_user_name_too() {
    let (accounts, _pool, _dir) = accounts().await;
    let accounts = accounts.with_login_limits(3, std::time::Duration::from_millis(1500));
    accounts
        .ensure_admin(Some("right password".into()))
        .await
        .unwrap();
    accounts
        .insert_user("bob", "bobs password!", app::api::auth::Role::Viewer, false)
        .await
        .unwrap();
    for _ in 0..3 {
        assert_eq!(
            accounts.verify_password("Admin", "wrong").await.unwrap(),
            None
        );
    }
    // From any address: the name is held back, even with the right password…
    let held = accounts
        .verify_password("admin", "right password")
        .await
        .unwrap_err();
    assert!(
        matches!(held, app::api::ApiError::TooManyRequests(_)),
        "{held:?}"
    );
    let wait = held.retry_after_secs().unwrap();
    assert!((1..=2).contains(&wait), "{wait}");
    // …other users are not.
    assert!(accounts
        .verify_password("bob", "bobs password!")
        .await
        .unwrap()
        .is_some());
    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    assert!(accounts
        .verify_password("admin", "right password")
        .await
        .unwrap()
        .is_some());
}
