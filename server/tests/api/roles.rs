//! Who may do what. The role matrix is built from the server's own list of
//! endpoints (every registered server function, plus the routes that are not
//! server functions): an endpoint without a rule here fails the test, so a new
//! endpoint cannot slip in unguarded. Then users, passwords and sessions.

use serde_json::{json, Value};

use crate::helpers::{bearer, close_code, socket, spawn_app, TestApp, ADMIN_PASSWORD};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    Anonymous,
    Viewer,
    Operator,
    Admin,
}

/// The least a caller must be for each endpoint (`Anonymous`: public).
fn rule(method: &str, path: &str) -> Option<Who> {
    use Who::*;
    Some(match (method, path) {
        ("POST", "/api/login") | ("POST", "/api/login/totp") => Anonymous,
        ("POST", "/api/logout")
        | ("GET", "/api/me")
        | ("GET", "/api/me/sessions")
        | ("POST", "/api/me/sessions/end")
        | ("POST", "/api/me/password")
        | ("GET", "/api/guests")
        | ("GET", "/api/guests/counts")
        | ("GET", "/api/guests/detail")
        | ("GET", "/api/guests/stats")
        | ("GET", "/api/guests/jobs")
        | ("GET", "/api/guests/snapshots")
        | ("GET", "/api/hosts")
        | ("GET", "/api/hosts/states")
        | ("GET", "/api/pools")
        | ("GET", "/api/pools/types")
        | ("GET", "/api/volumes")
        | ("GET", "/api/volumes/page")
        | ("GET", "/api/migrations")
        | ("GET", "/api/migrations/running")
        | ("GET", "/api/evacuations")
        | ("GET", "/api/balance")
        | ("GET", "/ws")
        | ("POST", "/api/me/totp/start")
        | ("POST", "/api/me/totp/confirm")
        | ("POST", "/api/me/totp/disable")
        | ("GET", "/api/tokens")
        | ("POST", "/api/tokens")
        | ("POST", "/api/tokens/revoke") => Viewer,
        ("POST", "/api/guests/action")
        | ("POST", "/api/guests")
        | ("GET", "/api/guests/options")
        | ("POST", "/api/guests/update")
        | ("POST", "/api/guests/delete")
        | ("POST", "/api/guests/clone")
        | ("POST", "/api/guests/snapshots")
        | ("POST", "/api/guests/snapshots/action")
        | ("POST", "/api/migrations/preflight")
        | ("POST", "/api/migrations")
        | ("POST", "/api/migrations/cancel")
        | ("POST", "/api/migrations/tune")
        | ("POST", "/api/hosts/maintenance/plan")
        | ("POST", "/api/hosts/maintenance")
        | ("POST", "/api/evacuations/cancel")
        | ("POST", "/api/balance/apply")
        | ("POST", "/api/pools/action")
        | ("POST", "/api/volumes")
        | ("POST", "/api/volumes/action")
        | ("PUT", "/api/volumes/upload")
        | ("POST", "/api/volumes/upload")
        | ("GET", "/api/volumes/download")
        | ("GET", "/ws/console/serial")
        | ("GET", "/ws/console/vnc") => Operator,
        ("GET", "/api/users")
        | ("GET", "/api/settings")
        | ("POST", "/api/settings")
        | ("GET", "/api/audit")
        | ("GET", "/api/notifications")
        | ("POST", "/api/balance/settings")
        | ("POST", "/api/users")
        | ("POST", "/api/users/update")
        | ("POST", "/api/pools/scan")
        | ("POST", "/api/pools") => Admin,
        _ => return None,
    })
}

/// Every endpoint the server answers: its server functions and the rest.
fn endpoints() -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, method)| (method.to_string(), path.to_string()))
        .collect();
    for (m, p) in [
        ("PUT", "/api/volumes/upload"),
        ("POST", "/api/volumes/upload"),
        ("GET", "/api/volumes/download"),
        ("GET", "/ws"),
        ("GET", "/ws/console/serial"),
        ("GET", "/ws/console/vnc"),
    ] {
        all.push((m.into(), p.into()));
    }
    all.sort();
    all.dedup();
    all
}

/// Creates `name` with `role` as admin, logs in as them and changes the
/// one-time password: a client ready to act as that user.
pub(crate) async fn user(
    app: &TestApp,
    admin: &reqwest::Client,
    name: &str,
    role: &str,
) -> reqwest::Client {
    let first = format!("first-{name}-password");
    let (status, body) = app
        .post(
            admin,
            "/api/users",
            &json!({"username": name, "password": first, "role": role}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["must_change_password"], true);
    let client = app.anonymous();
    assert_eq!(app.login(&client, &first).await.status(), 401, "wrong user");
    let resp = client
        .post(format!("{}/api/login", app.url))
        .json(&json!({"username": name, "password": first}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (status, _) = app.get(&client, "/api/guests").await;
    assert_eq!(status, 403, "nothing before the password is changed");
    let (status, body) = app
        .post(
            &client,
            "/api/me/password",
            &json!({"current": first, "new": format!("{name}-own-password")}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    client
}

async fn call(app: &TestApp, client: &reqwest::Client, method: &str, path: &str) -> u16 {
    let url = format!("{}{path}", app.url);
    let req = match method {
        "GET" => client.get(url),
        "PUT" => client
            .put(url)
            .header("content-type", "application/octet-stream"),
        _ => client.post(url).json(&json!({})),
    };
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn every_endpoint_is_allowed_or_refused_as_the_role_table_says() {
    let app = spawn_app(vec![]).await;
    let admin = app.admin().await;
    let viewer = user(&app, &admin, "vera", "viewer").await;
    let operator = user(&app, &admin, "otto", "operator").await;
    let anonymous = app.anonymous();

    let endpoints = endpoints();
    assert!(endpoints.len() > 30, "{endpoints:?}");
    let unruled: Vec<_> = endpoints
        .iter()
        .filter(|(m, p)| rule(m, p).is_none())
        .collect();
    assert!(
        unruled.is_empty(),
        "endpoints without a rule in the role table: {unruled:?}"
    );

    // A script's token: the admin's, limited to viewer.
    let (status, created) = app
        .post(
            &admin,
            "/api/tokens",
            &json!({"name": "matrix", "role": "viewer"}),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let token = created["token"].as_str().unwrap().to_string();
    let script = bearer(&token);

    let mut wrong = Vec::new();
    for (method, path) in &endpoints {
        // The token acts as a viewer, and never manages tokens, passwords or sessions.
        let personal = path.starts_with("/api/tokens") || path.starts_with("/api/me/");
        if path == "/api/login/totp" {
            continue; // public; what it answers depends on a pending login
        }
        let status = call(&app, &script, method, path).await;
        let need = rule(method, path).unwrap();
        let token_refused = match need {
            Who::Anonymous => false,
            _ if personal && path != "/api/me" => status != 403,
            Who::Viewer => status == 401 || status == 403,
            _ => status != 403,
        };
        if token_refused && path != "/api/logout" {
            wrong.push(format!(
                "viewer token {method} {path} -> {status} (needs {need:?})"
            ));
        }
        if path == "/api/logout" {
            continue; // would end the sessions used here; tested below
        }
        let need = rule(method, path).unwrap();
        for (who, client) in [
            (Who::Anonymous, &anonymous),
            (Who::Viewer, &viewer),
            (Who::Operator, &operator),
            (Who::Admin, &admin),
        ] {
            let status = call(&app, client, method, path).await;
            let refused = match (who, need) {
                (Who::Anonymous, Who::Anonymous) => false,
                (Who::Anonymous, _) => status != 401,
                (w, n) if w < n => status != 403,
                _ => status == 401 || status == 403,
            };
            if refused {
                wrong.push(format!(
                    "{who:?} {method} {path} -> {status} (needs {need:?})"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");

    // Forbidden attempts are audited as refused, with the user.
    let pool = sqlx::SqlitePool::connect(&app.database()).await.unwrap();
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM audit_log WHERE username = 'vera' AND outcome = 'refused' \
         AND target = 'POST /api/guests/action'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(n, 1);

    // Viewers see no host URIs; operators do.
    let (_, hosts) = app.get(&viewer, "/api/hosts").await;
    assert!(
        hosts.as_array().unwrap().iter().all(|h| h["uri"].is_null()),
        "{hosts}"
    );
    let (_, hosts) = app.get(&operator, "/api/hosts").await;
    assert!(hosts
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["uri"].is_string()));

    // A viewer's real attempt changes nothing; an operator's works.
    let (_, guests) = app.get(&viewer, "/api/guests").await;
    let web = guests
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "web01")
        .unwrap()
        .clone();
    let act = json!({"host": web["host"], "uuid": web["uuid"], "action": "suspend"});
    let (status, err) = app.post(&viewer, "/api/guests/action", &act).await;
    assert_eq!((status, err["error"].as_str()), (403, Some("forbidden")));
    let (status, guest) = app.post(&operator, "/api/guests/action", &act).await;
    assert_eq!((status, guest["state"].as_str()), (200, Some("paused")));
    assert_eq!(app.post(&anonymous, "/api/logout", &json!({})).await.0, 401);
    assert_eq!(app.post(&viewer, "/api/logout", &json!({})).await.0, 200);
    assert_eq!(app.get(&viewer, "/api/me").await.0, 401, "logged out");
}

#[tokio::test]
async fn users_are_managed_by_admins_and_a_disabled_user_is_out_at_once() {
    let app = spawn_app(vec![]).await;
    let admin = app.admin().await;
    let bad = [
        (
            json!({"username": "bob", "password": "short", "role": "viewer"}),
            400,
        ),
        (
            json!({"username": "bob-the-builder", "password": "bob-the-builder", "role": "viewer"}),
            400,
        ),
        (
            json!({"username": "<b>", "password": "long enough password", "role": "viewer"}),
            400,
        ),
        (
            json!({"username": "bob", "password": "long enough password", "role": "root"}),
            400,
        ),
        (
            json!({"username": "admin", "password": "long enough password", "role": "viewer"}),
            409,
        ),
    ];
    for (body, want) in bad {
        let (status, err) = app.post(&admin, "/api/users", &body).await;
        assert_eq!(status, want, "{body} -> {err}");
    }
    let (_, users) = app.get(&admin, "/api/users").await;
    assert_eq!(
        users.as_array().unwrap().len(),
        1,
        "nothing was created: {users}"
    );

    let bob = user(&app, &admin, "bob", "operator").await;
    // Bob's open socket and his pages.
    let cookie = {
        let resp = bob.get(format!("{}/api/me", app.url)).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let me: Value = resp.json().await.unwrap();
        assert_eq!(
            (me["username"].as_str(), me["role"].as_str()),
            (Some("bob"), Some("operator"))
        );
        // reqwest's jar does not hand out the cookie: log in once more to read it.
        let other = app.anonymous();
        let resp = other
            .post(format!("{}/api/login", app.url))
            .json(&json!({"username": "bob", "password": "bob-own-password"}))
            .send()
            .await
            .unwrap();
        crate::helpers::set_cookie(&resp, "virtdeck_session")
            .as_str()
            .split(';')
            .next()
            .unwrap()
            .to_string()
    };
    let mut socket = socket(&app, "cookie", &cookie).await;

    // The last admin cannot lock themselves out.
    let (status, _) = app
        .post(
            &admin,
            "/api/users/update",
            &json!({"username": "admin", "disabled": true}),
        )
        .await;
    assert_eq!(status, 409);
    let (status, _) = app
        .post(
            &admin,
            "/api/users/update",
            &json!({"username": "admin", "role": "viewer"}),
        )
        .await;
    assert_eq!(status, 409);

    let (status, body) = app
        .post(
            &admin,
            "/api/users/update",
            &json!({"username": "bob", "disabled": true}),
        )
        .await;
    assert_eq!(
        (status, body["disabled"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
    assert_eq!(
        app.get(&bob, "/api/guests").await.0,
        401,
        "bob's session ended"
    );
    let closed = close_code(&mut socket).await;
    assert_eq!(closed, Some(4001));
    let again = app.anonymous();
    let resp = again
        .post(format!("{}/api/login", app.url))
        .json(&json!({"username": "bob", "password": "bob-own-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403, "a disabled user cannot log in");

    // Enabled again with a password reset: he must change it once more.
    let (status, _) = app
        .post(
            &admin,
            "/api/users/update",
            &json!({"username": "bob", "disabled": false, "password": "temporary-password-1"}),
        )
        .await;
    assert_eq!(status, 200);
    let resp = again
        .post(format!("{}/api/login", app.url))
        .json(&json!({"username": "bob", "password": "temporary-password-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let page = again
        .get(format!("{}/guests", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303);
    assert_eq!(page.headers()["location"], "/account?must_change=1");

    let actions: Vec<String> = app
        .audit("user.")
        .await
        .into_iter()
        .map(|r| r.action)
        .collect();
    assert!(actions.contains(&"user.disable".to_string()), "{actions:?}");
    assert!(actions.contains(&"user.create".to_string()));
}

#[tokio::test]
async fn one_sees_and_ends_ones_own_sessions_and_a_new_password_ends_the_others() {
    let app = spawn_app(vec![]).await;
    let laptop = app.admin().await;
    let phone = app.admin().await;
    let (status, sessions) = app.get(&laptop, "/api/me/sessions").await;
    assert_eq!(status, 200);
    let sessions = sessions.as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    assert!(sessions
        .iter()
        .all(|s| s["client"].as_str().unwrap().starts_with("127.0.0.1:")));
    let other = sessions.iter().find(|s| s["current"] == false).unwrap();

    let (status, _) = app
        .post(&laptop, "/api/me/sessions/end", &json!({"id": other["id"]}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        app.get(&phone, "/api/guests").await.0,
        401,
        "the phone is logged out"
    );
    let (status, _) = app
        .post(&laptop, "/api/me/sessions/end", &json!({"id": 999_999}))
        .await;
    assert_eq!(status, 404);

    // A new password (the current one is required) ends the other sessions.
    let tablet = app.admin().await;
    let (status, err) = app
        .post(
            &laptop,
            "/api/me/password",
            &json!({"current": "wrong", "new": "a brand new password"}),
        )
        .await;
    assert_eq!(status, 400, "{err}");
    let (status, _) = app
        .post(
            &laptop,
            "/api/me/password",
            &json!({"current": ADMIN_PASSWORD, "new": "a brand new password"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(app.get(&tablet, "/api/guests").await.0, 401);
    assert_eq!(
        app.get(&laptop, "/api/guests").await.0,
        200,
        "this session goes on"
    );
    assert_eq!(
        app.login(&app.anonymous(), ADMIN_PASSWORD).await.status(),
        401
    );
}

#[tokio::test]
async fn api_tokens_act_for_scripts_within_their_users_role_until_revoked() {
    let app = spawn_app(vec![]).await;
    let admin = app.admin().await;
    let otto = user(&app, &admin, "otto", "operator").await;
    let with = bearer;
    // No more than one's own role; a future expiry; a name.
    let (status, _) = app
        .post(&otto, "/api/tokens", &json!({"name": "x", "role": "admin"}))
        .await;
    assert_eq!(status, 403);
    for bad in [
        json!({"name": "", "role": "viewer"}),
        json!({"name": "x", "expires_at": "2001-01-01T00:00:00Z"}),
        json!({"name": "x", "expires_at": "next week"}),
    ] {
        assert_eq!(app.post(&otto, "/api/tokens", &bad).await.0, 400, "{bad}");
    }
    let (status, created) = app
        .post(
            &otto,
            "/api/tokens",
            &json!({"name": "backup script", "expires_at": "2099-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["role"], "operator", "the user's role by default");
    let token = created["token"].as_str().unwrap().to_string();
    let script = with(&token);

    // It acts: an operator's action, audited under otto's name.
    let (_, guests) = app.get(&script, "/api/guests").await;
    let web = guests
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "web01")
        .unwrap()
        .clone();
    let (status, guest) = app
        .post(
            &script,
            "/api/guests/action",
            &json!({"host": web["host"], "uuid": web["uuid"], "action": "suspend"}),
        )
        .await;
    assert_eq!((status, guest["state"].as_str()), (200, Some("paused")));
    let rows = app.audit("guest.suspend").await;
    assert_eq!(rows.last().unwrap().username.as_deref(), Some("otto"));
    // ... follows events over /ws ...
    let mut socket = socket(&app, "authorization", &format!("Bearer {token}")).await;
    // ... but has no session and cannot make tokens.
    assert_eq!(
        app.post(&script, "/api/tokens", &json!({"name": "y"}))
            .await
            .0,
        403
    );
    assert!(script
        .get(format!("{}/guests", app.url))
        .send()
        .await
        .unwrap()
        .headers()
        .get("set-cookie")
        .is_none());

    // Listed without its secret, with its last use.
    let (_, tokens) = app.get(&otto, "/api/tokens").await;
    let listed = &tokens.as_array().unwrap()[0];
    assert!(listed.get("token").is_none(), "{listed}");
    assert!(listed["last_used_at"].is_string());
    assert!(!tokens
        .to_string()
        .contains(token.split('_').nth(2).unwrap()));

    // Demoted user: the token can do no more than a viewer now.
    app.post(
        &admin,
        "/api/users/update",
        &json!({"username": "otto", "role": "viewer"}),
    )
    .await;
    let act = json!({"host": web["host"], "uuid": web["uuid"], "action": "resume"});
    assert_eq!(app.post(&script, "/api/guests/action", &act).await.0, 403);

    // Revoked: refused, and its socket is closed.
    let (status, _) = app
        .post(&otto, "/api/tokens/revoke", &json!({"id": created["id"]}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(app.get(&script, "/api/guests").await.0, 401);
    let closed = close_code(&mut socket).await;
    assert_eq!(closed, Some(4001));
    assert_eq!(app.get(&with("vdk_1_guess"), "/api/guests").await.0, 401);
    assert_eq!(app.get(&with("nonsense"), "/api/guests").await.0, 401);

    // A disabled user's tokens are refused.
    let (_, again) = app.post(&otto, "/api/tokens", &json!({"name": "z"})).await;
    let script = with(again["token"].as_str().unwrap());
    assert_eq!(app.get(&script, "/api/guests").await.0, 200);
    app.post(
        &admin,
        "/api/users/update",
        &json!({"username": "otto", "disabled": true}),
    )
    .await;
    assert_eq!(app.get(&script, "/api/guests").await.0, 401);
}
