//! Issue 15's account items on the demo fleet: what a stolen token or
//! session cannot turn into an account.

use serde_json::json;

use crate::helpers::{bearer, spawn_app, ADMIN_PASSWORD};

#[tokio::test]
async fn an_admin_api_token_can_take_over_its_own_admin_account() {
    let app = spawn_app(vec![]).await;
    let admin = app.admin().await;
    let (status, made) = app
        .post(
            &admin,
            "/api/tokens",
            &json!({"name": "script", "role": "admin"}),
        )
        .await;
    assert_eq!(status, 200, "{made}");
    let token = bearer(made["token"].as_str().unwrap());
    // The token acts as the admin for what scripts do…
    let (status, _) = app.get(&token, "/api/users").await;
    assert_eq!(status, 200);
    // …but cannot set any user's password, role or state, nor make users.
    for body in [
        json!({"username": "admin", "password": "taken-over-password-1"}),
        json!({"username": "admin", "role": "viewer"}),
        json!({"username": "admin", "disabled": true}),
    ] {
        let (status, err) = app.post(&token, "/api/users/update", &body).await;
        assert_eq!(status, 403, "{body}: {err}");
        assert!(err["message"].as_str().unwrap().contains("log in"), "{err}");
    }
    let (status, _) = app
        .post(
            &token,
            "/api/users",
            &json!({"username": "mallory", "password": "mallory-password-1", "role": "admin"}),
        )
        .await;
    assert_eq!(status, 403);
    // The admin's own session still works and the password is unchanged.
    assert_eq!(app.get(&admin, "/api/me").await.0, 200);
    let fresh = app.anonymous();
    assert_eq!(app.login(&fresh, ADMIN_PASSWORD).await.status(), 200);
    // An admin's own password goes through the Account page, with the current one.
    let (status, err) = app
        .post(
            &admin,
            "/api/users/update",
            &json!({"username": "admin", "password": "another-password-22"}),
        )
        .await;
    assert_eq!(status, 409, "{err}");
    assert!(err["message"]
        .as_str()
        .unwrap()
        .contains("/api/me/password"));
    assert_eq!(
        app.login(&app.anonymous(), ADMIN_PASSWORD).await.status(),
        200
    );
}

#[tokio::test]
async fn non_ascii_input_panics_a_handler() {
    let app = spawn_app(vec![]).await;
    let admin = app.admin().await;
    // Each answered with a 400 naming the expected format: the connection stays.
    let (status, err) = app
        .post(
            &admin,
            "/api/tokens",
            &json!({"name": "t", "expires_at": "2027-01-31T00:00:0é0Z"}),
        )
        .await;
    assert_eq!(status, 400, "{err}");
    assert!(err["message"]
        .as_str()
        .unwrap()
        .contains("2027-01-31T00:00:00Z"));
    for since in ["2026-11-2%C3%A9", "%C3%A9", "2026-11-26T10:00:0%C3%A90Z"] {
        let (status, err) = app.get(&admin, &format!("/api/audit?since={since}")).await;
        assert_eq!(status, 400, "{since}: {err}");
        assert!(
            err["message"].as_str().unwrap().contains("2026-11-26"),
            "{err}"
        );
    }
    // Any offset is read, and kept as UTC.
    let (status, made) = app
        .post(
            &admin,
            "/api/tokens",
            &json!({"name": "t2", "expires_at": "2099-01-31T01:00:00+01:00"}),
        )
        .await;
    assert_eq!(status, 200, "{made}");
    let (_, tokens) = app.get(&admin, "/api/tokens").await;
    let t2 = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "t2")
        .unwrap();
    assert_eq!(t2["expires_at"], "2099-01-31T00:00:00Z");
    assert_eq!(app.get(&admin, "/api/me").await.0, 200);
}

#[tokio::test]
async fn the_first_password_lands_in_the_repositorys_working_tree() {
    // As `./scripts/run` starts it: no configuration but the environment's
    // HOME, from a checkout as the working directory.
    let checkout = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let binary = env!("CARGO_BIN_EXE_virtdeck");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(binary)
        .current_dir(checkout.path())
        .env_clear()
        .env("HOME", home.path())
        .env("VIRTDECK_LISTEN", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let data = home.path().join(".local/share/virtdeck");
    let mut made = false;
    for _ in 0..200 {
        if data.join("virtdeck-admin-password").exists() {
            made = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(made, "the first password is in the data directory");
    assert!(data.join("virtdeck.db").exists());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&data).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the data directory is its owner's");
    let left: Vec<_> = std::fs::read_dir(checkout.path()).unwrap().collect();
    assert!(
        left.is_empty(),
        "nothing written into the checkout: {left:?}"
    );
    // And the repository ignores both names anyway.
    let ignore =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../.gitignore")).unwrap();
    assert!(ignore.lines().any(|l| l == "/virtdeck-admin-password"));
    assert!(ignore.lines().any(|l| l == "*.db"));
}

#[tokio::test]
async fn ws_sends_host_uris_to_viewers() {
    use server::config::HostConfig;
    // A host whose URI names a user and a key, and that never answers: its
    // reconnection attempts are announced as host_changed.
    let secret = "qemu+tcp://ops-root@127.0.0.1:1/system?keyfile=/root/.ssh/fleet-key";
    let app = spawn_app(vec![HostConfig::new("away", secret)]).await;
    let admin = app.admin().await;
    let token = |role: &'static str| {
        let (app, admin) = (&app, &admin);
        async move {
            let (status, made) = app
                .post(admin, "/api/tokens", &json!({"name": role, "role": role}))
                .await;
            assert_eq!(status, 200, "{made}");
            format!("Bearer {}", made["token"].as_str().unwrap())
        }
    };
    let mut viewer = crate::helpers::socket(&app, "authorization", &token("viewer").await).await;
    let mut operator =
        crate::helpers::socket(&app, "authorization", &token("operator").await).await;
    let seen = next_host_changed(&mut viewer).await;
    let event: serde_json::Value = serde_json::from_str(&seen).unwrap();
    assert!(event["host"]["uri"].is_null(), "{seen}");
    assert!(
        !seen.contains("fleet-key") && !seen.contains("ops-root"),
        "{seen}"
    );
    let seen = next_host_changed(&mut operator).await;
    let event: serde_json::Value = serde_json::from_str(&seen).unwrap();
    assert_eq!(event["host"]["uri"], secret, "operators see it");
}

async fn next_host_changed(socket: &mut crate::helpers::Socket) -> String {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            if let Some(Ok(Message::Text(text))) = socket.next().await {
                crate::helpers::event(&text);
                if text.contains("\"host_changed\"") && text.contains("\"away\"") {
                    return text.to_string();
                }
            }
        }
    })
    .await
    .expect("a host_changed for the unreachable host within 20 s")
}

#[tokio::test]
async fn the_last_admin_check_races() {
    // Two admins disable each other at the same moment. Whether the old
    // check lost depended on how the two requests interleaved: five rounds.
    for round in 0..5 {
        last_admin_round(round).await;
    }
}

async fn last_admin_round(round: usize) {
    let app = spawn_app(vec![]).await;
    let admin = app.admin().await;
    let second = crate::roles::user(&app, &admin, "adele", "admin").await;
    // Two admins disable each other at the same moment.
    let (off_adele, off_admin) = (
        json!({"username": "adele", "disabled": true}),
        json!({"username": "admin", "disabled": true}),
    );
    let (a, b) = tokio::join!(
        app.post(&admin, "/api/users/update", &off_adele),
        app.post(&second, "/api/users/update", &off_admin),
    );
    let oks = [a.0, b.0].iter().filter(|s| **s == 200).count();
    assert!(oks <= 1, "round {round}: both succeeded: {a:?} {b:?}");
    let (status, users) = app.get(&admin, "/api/users").await;
    let users = if status == 200 {
        users
    } else {
        app.get(&second, "/api/users").await.1
    };
    let active_admins = users
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["role"] == "admin" && u["disabled"] == false)
        .count();
    assert_eq!(active_admins, 1, "round {round}: {users}");
}

#[tokio::test]
async fn tokens_outlive_what_should_end_them() {
    let app = spawn_app(vec![]).await;
    let admin = app.admin().await;
    let otto = crate::roles::user(&app, &admin, "otto", "operator").await;
    let make = |client: reqwest::Client, name: &'static str| {
        let app = &app;
        async move {
            let (status, made) = app
                .post(&client, "/api/tokens", &json!({"name": name}))
                .await;
            assert_eq!(status, 200, "{made}");
            bearer(made["token"].as_str().unwrap())
        }
    };
    // A password reset by an admin revokes the user's tokens.
    let t = make(otto.clone(), "one").await;
    assert_eq!(app.get(&t, "/api/guests").await.0, 200);
    let (status, _) = app
        .post(
            &admin,
            "/api/users/update",
            &json!({"username": "otto", "password": "reset-by-admin-1"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        app.get(&t, "/api/guests").await.0,
        401,
        "revoked by the reset"
    );
    // So does one's own password change.
    let t = make(admin.clone(), "two").await;
    let (status, body) = app
        .post(
            &admin,
            "/api/me/password",
            &json!({"current": ADMIN_PASSWORD, "new": "a-new-admin-password-9"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        app.get(&t, "/api/guests").await.0,
        401,
        "revoked by the change"
    );
    // And "admins must use two-factor login" ends the tokens of admins
    // without it (the admin turning it on has it).
    let adele = crate::roles::user(&app, &admin, "adele", "admin").await;
    let hers = make(adele, "hers").await;
    let mine = make(admin.clone(), "mine").await;
    let (_, setup) = app
        .post(
            &admin,
            "/api/me/totp/start",
            &json!({"password": "a-new-admin-password-9"}),
        )
        .await;
    let code = crate::helpers::totp_code(setup["secret"].as_str().unwrap(), 0);
    let (status, body) = app
        .post(&admin, "/api/me/totp/confirm", &json!({"code": code}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .post(
            &admin,
            "/api/settings",
            &json!({"require_totp_for_admins": true}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        app.get(&hers, "/api/guests").await.0,
        401,
        "adele has no two-factor login"
    );
    assert_eq!(app.get(&mine, "/api/guests").await.0, 200);
}

#[tokio::test]
async fn an_admin_resets_another_users_two_factor_login() {
    let app = spawn_app(vec![]).await;
    let admin = app.admin().await;
    let otto = crate::roles::user(&app, &admin, "otto", "operator").await;
    // Enrolment asks for the password: a session left open is not enough.
    let (status, _) = app
        .post(&otto, "/api/me/totp/start", &json!({"password": "guess"}))
        .await;
    assert_eq!(status, 400);
    let (status, setup) = app
        .post(
            &otto,
            "/api/me/totp/start",
            &json!({"password": "otto-own-password"}),
        )
        .await;
    assert_eq!(status, 200, "{setup}");
    let code = crate::helpers::totp_code(setup["secret"].as_str().unwrap(), 0);
    let (status, _) = app
        .post(&otto, "/api/me/totp/confirm", &json!({"code": code}))
        .await;
    assert_eq!(status, 200);
    // Otto lost the phone: an admin turns it off; the password alone logs in.
    let (status, body) = app
        .post(
            &admin,
            "/api/users/update",
            &json!({"username": "otto", "reset_totp": true}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let fresh = app.anonymous();
    let (status, body) = app
        .post(
            &fresh,
            "/api/login",
            &json!({"username": "otto", "password": "otto-own-password"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.get("totp_required").is_none_or(|v| v != true),
        "{body}"
    );
    assert_eq!(app.audit("user.totp.reset").await.len(), 1);
    // Not one's own that way.
    let (status, _) = app
        .post(
            &admin,
            "/api/users/update",
            &json!({"username": "admin", "reset_totp": true}),
        )
        .await;
    assert_eq!(status, 409);
}

/// Otto, an operator with two-factor login on; answers the code generator.
async fn otto_with_totp(app: &crate::helpers::TestApp) -> impl Fn(u64) -> String {
    let admin = app.admin().await;
    let otto = crate::roles::user(app, &admin, "otto", "operator").await;
    let (_, setup) = app
        .post(
            &otto,
            "/api/me/totp/start",
            &json!({"password": "otto-own-password"}),
        )
        .await;
    let secret = setup["secret"].as_str().unwrap().to_string();
    let code = move |offset: u64| crate::helpers::totp_code(&secret, offset as i64 - 30);
    let (status, _) = app
        .post(&otto, "/api/me/totp/confirm", &json!({"code": code(0)}))
        .await;
    assert_eq!(status, 200);
    code
}

async fn password_step(app: &crate::helpers::TestApp) -> reqwest::Client {
    let client = app.anonymous();
    let (status, body) = app
        .post(
            &client,
            "/api/login",
            &json!({"username": "otto", "password": "otto-own-password"}),
        )
        .await;
    assert_eq!(
        (status, &body["totp_required"]),
        (200, &json!(true)),
        "{body}"
    );
    client
}

#[tokio::test]
async fn totp_codes_can_be_guessed_without_limit() {
    let app = spawn_app(vec![]).await;
    let code = otto_with_totp(&app).await;
    // One code, sent twice at once from two half-logged-in browsers: one wins.
    let (a, b) = (password_step(&app).await, password_step(&app).await);
    // (The next step's code: the confirmation used up the current ones.)
    let right = json!({"code": code(60)});
    let (ra, rb) = tokio::join!(
        app.post(&a, "/api/login/totp", &right),
        app.post(&b, "/api/login/totp", &right)
    );
    let wins = [ra.0, rb.0].iter().filter(|s| **s == 200).count();
    assert_eq!(wins, 1, "{ra:?} {rb:?}");
    // "Password + wrong codes" again and again: the right password does not
    // reset the count, and after 5 wrong codes the step answers 429 before
    // it looks at the code.
    // (A fresh user: the race above may or may not have left a failure,
    // depending on whether its winner's success came last.)
    let app = spawn_app(vec![]).await;
    let code = otto_with_totp(&app).await;
    for i in 0..5 {
        let c = password_step(&app).await;
        let (status, _) = app
            .post(&c, "/api/login/totp", &json!({"code": format!("{:06}", i)}))
            .await;
        assert_eq!(status, 401, "wrong code {i}");
    }
    let c = password_step(&app).await;
    let (status, err) = app
        .post(&c, "/api/login/totp", &json!({"code": code(60)}))
        .await;
    assert_eq!(status, 429, "{err}");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("too many wrong codes"),
        "{err}"
    );
    // A code step without a pending login guesses nothing and is not counted.
    let stranger = app.anonymous();
    let (status, _) = app
        .post(&stranger, "/api/login/totp", &json!({"code": "123456"}))
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn password_re_checks_have_no_throttle() {
    let app = spawn_app(vec![]).await;
    let admin = app.admin().await;
    let vera = crate::roles::user(&app, &admin, "vera", "viewer").await;
    // A stolen session guessing the current password: counted like logins
    // (10 per name in 5 minutes by default), then 429.
    let mut statuses = Vec::new();
    for i in 0..11 {
        let (status, _) = app
            .post(
                &vera,
                "/api/me/password",
                &json!({"current": format!("guess-{i}"), "new": "a-brand-new-password-1"}),
            )
            .await;
        statuses.push(status);
    }
    assert_eq!(statuses[..10], [400; 10], "{statuses:?}");
    assert_eq!(statuses[10], 429, "{statuses:?}");
    let (status, _) = app
        .post(&vera, "/api/me/totp/disable", &json!({"password": "guess"}))
        .await;
    assert_eq!(status, 429, "the same count");
    // Flooding the hashing queue: one re-check at a time per user, so a
    // viewer's burst cannot hold the queue logins wait in.
    let app2 = spawn_app(vec![]).await;
    let admin2 = app2.admin().await;
    let flood = crate::roles::user(&app2, &admin2, "flood", "viewer").await;
    let burst = (0..6).map(|i| {
        let (app2, flood) = (&app2, &flood);
        async move {
            app2.post(
                flood,
                "/api/me/totp/disable",
                &json!({"password": format!("x{i}")}),
            )
            .await
            .0
        }
    });
    let answers = futures::future::join_all(burst).await;
    assert!(answers.contains(&429), "{answers:?}");
    let fresh = app2.anonymous();
    assert_eq!(
        app2.login(&fresh, ADMIN_PASSWORD).await.status(),
        200,
        "logins go on"
    );
}

#[tokio::test]
async fn anyone_unauthenticated_can_grow_the_audit_log_without_limit() {
    let app = spawn_app(vec![]).await;
    let admin = app.admin().await;
    let stranger = app.anonymous();
    let before = app.audit("").await.len();
    for _ in 0..200 {
        let (status, _) = app.get(&stranger, "/api/guests").await;
        assert_eq!(status, 401);
    }
    let rows = app.audit("").await;
    assert!(
        rows.len() - before <= 2,
        "200 refusals in one minute are one row (two if the minute turned): {}",
        rows.len() - before
    );
    // The audit page shows how many they stand for.
    let (status, log) = app.get(&admin, "/api/audit?user=-&outcome=refused").await;
    assert_eq!(status, 200, "{log}");
    let total: u64 = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["client"]
                .as_str()
                .is_some_and(|c| c.starts_with("127.0.0.1"))
        })
        .map(|r| r["count"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 200, "{log}");
    // A logged-in user's refusals keep a row each.
    let vera = crate::roles::user(&app, &admin, "vera", "viewer").await;
    let act = json!({"host": "demo-alpha", "uuid": "6b1f7c3e-0a11-4c5e-9a01-00000000a001", "action": "suspend"});
    for _ in 0..3 {
        assert_eq!(app.post(&vera, "/api/guests/action", &act).await.0, 403);
    }
    let (_, theirs) = app
        .get(&admin, "/api/audit?user=vera&outcome=refused")
        .await;
    let rows = theirs
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["target"] == "POST /api/guests/action")
        .count();
    assert_eq!(rows, 3, "{theirs}");
}

#[tokio::test]
async fn lock_out_by_throttle_behind_a_reverse_proxy() {
    let try_login = |app: &crate::helpers::TestApp, from: &str, name: &str| {
        let (url, from, name) = (app.url.clone(), from.to_string(), name.to_string());
        async move {
            reqwest::Client::new()
                .post(format!("{url}/api/login"))
                .header("x-forwarded-for", from)
                .json(&json!({"username": name, "password": "wrong"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // Behind a trusted proxy (here: loopback), each client is counted alone.
    let app = crate::helpers::spawn_app_configured(
        tempfile::tempdir().unwrap(),
        vec![],
        &[
            ("VIRTDECK_TRUSTED_PROXIES", "127.0.0.1"),
            ("VIRTDECK_LOGIN_ATTEMPTS", "3"),
        ],
    )
    .await;
    for i in 0..3 {
        assert_eq!(try_login(&app, "203.0.113.7", &format!("n{i}")).await, 401);
    }
    assert_eq!(try_login(&app, "203.0.113.7", "n9").await, 429);
    assert_eq!(
        try_login(&app, "203.0.113.8", "n10").await,
        401,
        "another client behind the same proxy is not held back"
    );
    // From anyone not trusted the header is the client's own claim: ignored.
    let app = crate::helpers::spawn_app_configured(
        tempfile::tempdir().unwrap(),
        vec![],
        &[("VIRTDECK_LOGIN_ATTEMPTS", "3")],
    )
    .await;
    for i in 0..3 {
        assert_eq!(
            try_login(&app, &format!("198.51.100.{i}"), &format!("n{i}")).await,
            401
        );
    }
    assert_eq!(try_login(&app, "198.51.100.99", "n9").await, 429);
}

#[tokio::test]
async fn lock_out_by_throttle_spares_a_known_browser() {
    let app = crate::helpers::spawn_app_configured(
        tempfile::tempdir().unwrap(),
        vec![],
        &[("VIRTDECK_TRUSTED_PROXIES", "127.0.0.1")],
    )
    .await;
    let admin = app.admin().await;
    // Otto's own browser has logged in (and so carries a device cookie).
    let known = crate::roles::user(&app, &admin, "otto", "operator").await;
    let login = |client: &reqwest::Client, from: &str, password: &str| {
        let req = client
            .post(format!("{}/api/login", app.url))
            .header("x-forwarded-for", from.to_string())
            .json(&json!({"username": "otto", "password": password}));
        async move { req.send().await.unwrap().status().as_u16() }
    };
    // Wrong passwords for otto from ten addresses: the name is locked…
    for i in 0..10 {
        let stranger = reqwest::Client::new();
        assert_eq!(
            login(&stranger, &format!("203.0.113.{i}"), "wrong").await,
            401
        );
    }
    let new_browser = app.anonymous();
    assert_eq!(
        login(&new_browser, "198.51.100.1", "otto-own-password").await,
        429,
        "a browser otto never used is held back"
    );
    // …but not for the browser otto logged in with before.
    assert_eq!(
        login(&known, "198.51.100.2", "otto-own-password").await,
        200
    );
}
