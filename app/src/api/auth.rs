//! Sessions: `POST /api/login`, `POST /api/logout`, `GET /api/me`.

use leptos::server;
use leptos::server_fn::codec::{GetUrl, Json};
use serde::{Deserialize, Serialize};

use super::ApiError;

/// The logged-in user, as stored in the session and shown in the UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUser {
    pub id: i64,
    pub username: String,
}

/// Checks the password and starts a session (the session id changes at login).
#[server(prefix = "/api", endpoint = "login", input = Json)]
pub async fn login(username: String, password: String) -> Result<SessionUser, ApiError> {
    use super::ssr;
    ssr::respond(
        async {
            let services = ssr::services()?;
            if username.is_empty() || username.len() > 128 || password.len() > 1024 {
                return Err(ApiError::BadRequest(
                "a username (at most 128 characters) and a password (at most 1024) are required"
                    .into(),
            ));
            }
            let user = services
                .accounts
                .verify_password(&username, &password)
                .await?;
            let Some(user) = user else {
                services
                    .audit
                    .record(
                        None,
                        "login",
                        &format!("user {}", super::clip(&username)),
                        Err("wrong username or password"),
                    )
                    .await;
                return Err(ApiError::Unauthorized("wrong username or password".into()));
            };
            ssr::start_session(&user).await?;
            services
                .audit
                .record(
                    Some(&user),
                    "login",
                    &format!("user {}", user.username),
                    Ok(()),
                )
                .await;
            Ok(user)
        }
        .await,
    )
}

/// Ends the session. Logging out without a session is not an error.
#[server(prefix = "/api", endpoint = "logout", input = Json)]
pub async fn logout() -> Result<(), ApiError> {
    use super::ssr;
    ssr::respond(
        async {
            let services = ssr::services()?;
            if let Some(user) = ssr::end_session().await? {
                services
                    .audit
                    .record(
                        Some(&user),
                        "logout",
                        &format!("user {}", user.username),
                        Ok(()),
                    )
                    .await;
            }
            Ok(())
        }
        .await,
    )
}

/// The user of this session.
#[server(prefix = "/api", endpoint = "me", input = GetUrl)]
pub async fn current_user() -> Result<SessionUser, ApiError> {
    super::ssr::authorized(|ctx| async move { Ok(ctx.user) }).await
}
