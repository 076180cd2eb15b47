//! The web hardening an admin tool needs: other sites' pages cannot act with
//! the user's cookie, logins are throttled, the first password is not logged,
//! refused attempts are audited, every response carries security headers, and
//! a socket ends with its session.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{
    close_code, fixture_hosts, socket, spawn_app, spawn_app_configured, TestApp, ADMIN_PASSWORD,
};

async fn guest(app: &TestApp, client: &reqwest::Client, name: &str) -> Value {
    let (status, list) = app.get(client, "/api/guests").await;
    assert_eq!(status, 200);
    list.as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == name)
        .unwrap_or_else(|| panic!("no guest {name}"))
        .clone()
}

#[tokio::test]
async fn pages_of_other_sites_cannot_act_with_the_users_cookie() {
    let app = spawn_app(vec![]).await;
    let client = app.admin().await;
    let web = guest(&app, &client, "web01").await;
    assert_eq!(web["state"], "running");
    let body = json!({"host": web["host"], "uuid": web["uuid"], "action": "destroy"}).to_string();
    let url = format!("{}/api/guests/action", app.url);

    // <form enctype="text/plain"> on another port of the same host: the
    // browser sends the cookie (same site), its Origin and text/plain.
    let resp = client
        .post(&url)
        .header("origin", "http://127.0.0.1:1")
        .header("sec-fetch-site", "same-site")
        .header("content-type", "text/plain")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let error: Value = resp.json().await.unwrap();
    assert_eq!(error["error"], "forbidden");
    // fetch() with JSON from that page (its preflight is never granted, but
    // the server must not rely on that).
    let resp = client
        .post(&url)
        .header("origin", "http://127.0.0.1:1")
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    // A browser that sends no Origin but says the request is cross-site.
    let resp = client
        .post(&url)
        .header("sec-fetch-site", "cross-site")
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    // Not JSON: refused before anything is parsed.
    let resp = client
        .post(&url)
        .header("content-type", "text/plain")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    assert_eq!(
        guest(&app, &client, "web01").await["state"],
        "running",
        "nothing changed"
    );

    // virtdeck's own page (its Origin) and scripts (no Origin) still work.
    let resp = client
        .post(&url)
        .header("origin", &app.url)
        .header("sec-fetch-site", "same-origin")
        .header("content-type", "application/json")
        .body(json!({"host": web["host"], "uuid": web["uuid"], "action": "suspend"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(guest(&app, &client, "web01").await["state"], "paused");

    let refused: Vec<_> = app
        .audit("request")
        .await
        .into_iter()
        .filter(|r| r.outcome == "refused")
        .collect();
    let requests: i64 = refused.iter().map(|r| r.count).sum();
    assert_eq!(requests, 4, "{refused:#?}");
    assert!(refused
        .iter()
        .all(|r| r.target == "POST /api/guests/action"));
}

#[tokio::test]
async fn refused_requests_are_audited_with_the_clients_address() {
    let app = spawn_app(vec![]).await;
    let anonymous = app.anonymous();
    let (status, _) = app
        .post(
            &anonymous,
            "/api/guests/action",
            &json!({"host": "x", "uuid": "y", "action": "start"}),
        )
        .await;
    assert_eq!(status, 401);
    let pool = sqlx::SqlitePool::connect(&app.database()).await.unwrap();
    type Row = (Option<String>, Option<String>, String, String, String);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT username, client, action, target, outcome FROM audit_log WHERE action = 'request'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let (user, client, _, target, outcome) = &rows[0];
    assert_eq!(user, &None);
    // The address without its port: refusals without a login are counted
    // per address (each connection has a port of its own).
    assert_eq!(client.as_deref(), Some("127.0.0.1"), "{client:?}");
    assert_eq!(target, "POST /api/guests/action");
    assert_eq!(outcome, "refused");

    // An unknown action is recorded as `invalid`, not as the client's text.
    let client = app.admin().await;
    let web = guest(&app, &client, "web01").await;
    let (status, _) = app
        .post(
            &client,
            "/api/guests/action",
            &json!({"host": web["host"], "uuid": web["uuid"], "action": "<script>x</script>"}),
        )
        .await;
    assert_eq!(status, 400);
    let rows = app.audit("guest.").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].action, "guest.invalid");
    assert_eq!(rows[0].outcome, "refused");
}

#[tokio::test]
async fn every_response_carries_security_headers_and_pages_a_policy_with_their_nonce() {
    let app = spawn_app(vec![]).await;
    let client = app.admin().await;
    let page = client
        .get(format!("{}/guests", app.url))
        .send()
        .await
        .unwrap();
    let headers = page.headers().clone();
    let html = page.text().await.unwrap();
    let policy = headers["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a nonce in the policy");
    assert!(
        html.contains(&format!("nonce=\"{nonce}\"")),
        "the page's inline scripts carry the policy's nonce"
    );
    assert!(policy.contains("frame-ancestors 'none'"));
    assert!(policy.contains("'wasm-unsafe-eval'"));
    assert!(!policy.contains("'unsafe-eval'"), "{policy}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "same-origin");

    // The next page gets another nonce.
    let again = client
        .get(format!("{}/guests", app.url))
        .send()
        .await
        .unwrap();
    assert_ne!(
        again.headers()["content-security-policy"].to_str().unwrap(),
        policy
    );

    for path in ["/api/guests", "/login", "/api/nothing"] {
        let resp = client
            .get(format!("{}{path}", app.url))
            .send()
            .await
            .unwrap();
        let h = resp.headers();
        assert!(
            h["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'"),
            "{path}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
    }
}

#[tokio::test]
async fn a_flood_of_wrong_logins_is_held_back_and_the_right_user_gets_in_after_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let hosts = fixture_hosts(&dir.path().join("hosts"));
    let app = spawn_app_configured(
        dir,
        hosts,
        &[
            ("VIRTDECK_LOGIN_ATTEMPTS", "3"),
            ("VIRTDECK_LOGIN_WINDOW_SECS", "2"),
        ],
    )
    .await;
    let client = app.anonymous();
    for _ in 0..3 {
        assert_eq!(app.login(&client, "wrong password").await.status(), 401);
    }
    let started = std::time::Instant::now();
    let held = app.login(&client, ADMIN_PASSWORD).await;
    assert_eq!(held.status(), 429, "even the right password waits");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "answered at once, no hashing"
    );
    let wait: u64 = held.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3).contains(&wait), "Retry-After: {wait}");
    let error: Value = held.json().await.unwrap();
    assert_eq!(error["error"], "too_many_requests");
    // The plain login form is held back the same way.
    let form = client
        .post(format!("{}/login", app.url))
        .header("origin", &app.url)
        .form(&[("username", "admin"), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 429);

    tokio::time::sleep(Duration::from_secs(wait)).await;
    assert_eq!(app.login(&client, ADMIN_PASSWORD).await.status(), 200);
    let throttled = app
        .audit("login")
        .await
        .into_iter()
        .filter(|r| r.outcome == "refused")
        .map(|r| r.count)
        .sum::<i64>();
    assert_eq!(
        throttled, 2,
        "both held-back attempts are audited (counted)"
    );
}

#[tokio::test]
async fn a_generated_first_password_goes_to_a_file_only_its_owner_can_read() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let hosts = fixture_hosts(&dir.path().join("hosts"));
    let file = dir.path().join("virtdeck-admin-password");
    let app = spawn_app_configured(dir, hosts, &[("VIRTDECK_ADMIN_PASSWORD", "")]).await;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let password = std::fs::read_to_string(&file).unwrap().trim().to_string();
    assert!(password.len() >= 20);
    let client = app.anonymous();
    assert_eq!(app.login(&client, &password).await.status(), 200);
}

#[tokio::test]
async fn an_open_socket_ends_with_its_session() {
    let app = spawn_app(vec![]).await;
    let client = app.anonymous();
    let login = app.login(&client, ADMIN_PASSWORD).await;
    let cookie = crate::helpers::set_cookie(&login, "virtdeck_session")
        .as_str()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let mut socket = socket(&app, "cookie", &cookie).await;

    let (status, _) = app.post(&client, "/api/logout", &json!({})).await;
    assert_eq!(status, 200);
    let closed = close_code(&mut socket).await;
    assert_eq!(closed, Some(4001));
}

#[tokio::test]
async fn old_audit_rows_are_pruned_by_the_retention() {
    let app = spawn_app(vec![]).await;
    let _ = app.admin().await; // one fresh "login" row
    let pool = sqlx::SqlitePool::connect(&app.database()).await.unwrap();
    sqlx::query(
        "INSERT INTO audit_log (at, username, action, target, outcome) \
         VALUES ('2001-01-01T00:00:00.000Z', 'admin', 'guest.start', 'old', 'ok')",
    )
    .execute(&pool)
    .await
    .unwrap();
    let audit = server::audit::SqlAudit::new(pool.clone());
    assert_eq!(audit.prune(30).await.unwrap(), 1);
    let left: Vec<(String,)> = sqlx::query_as("SELECT action FROM audit_log")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(left, [("login".to_string(),)]);
}

#[tokio::test]
async fn admins_read_the_audit_log_filtered_by_user_action_object_outcome_and_time() {
    let app = spawn_app(vec![]).await;
    let client = app.admin().await;
    let anonymous = app.anonymous();
    assert_eq!(app.login(&anonymous, "wrong").await.status(), 401);
    let web = guest(&app, &client, "web01").await;
    let uuid = web["uuid"].as_str().unwrap().to_string();
    let act = json!({"host": web["host"], "uuid": uuid, "action": "suspend"});
    assert_eq!(app.post(&client, "/api/guests/action", &act).await.0, 200);
    // Suspending a paused guest fails (libvirt says why).
    assert_ne!(app.post(&client, "/api/guests/action", &act).await.0, 200);

    let rows = |v: Value| v.as_array().unwrap().clone();
    let (status, all) = app.get(&client, "/api/audit").await;
    assert_eq!(status, 200);
    let all = rows(all);
    assert!(all.len() >= 4, "{all:?}");
    assert!(
        all.windows(2)
            .all(|w| w[0]["id"].as_i64() > w[1]["id"].as_i64()),
        "newest first"
    );

    let (_, mine) = app
        .get(&client, &format!("/api/audit?action=guest.&object={uuid}"))
        .await;
    let outcomes: Vec<_> = rows(mine)
        .iter()
        .map(|r| r["outcome"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(outcomes, ["failed", "ok"]);
    let (_, anon) = app.get(&client, "/api/audit?user=-&action=login").await;
    let anon = rows(anon);
    assert_eq!(anon.len(), 1);
    assert!(anon[0]["client"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));
    let (_, none) = app.get(&client, "/api/audit?since=2999-01-01").await;
    assert!(rows(none).is_empty());
    let (_, page) = app.get(&client, "/api/audit?limit=1&offset=1").await;
    assert_eq!(rows(page)[0]["id"], all[1]["id"]);
    for bad in ["since=yesterday", "outcome=maybe", "limit=0", "limit=-1"] {
        assert_eq!(
            app.get(&client, &format!("/api/audit?{bad}")).await.0,
            400,
            "{bad}"
        );
    }
}

#[tokio::test]
async fn two_factor_login_with_an_authenticator_code_and_single_use_recovery_codes() {
    let app = spawn_app(vec![]).await;
    let admin = app.admin().await;
    // Enrolment asks for the password again.
    let (status, err) = app
        .post(&admin, "/api/me/totp/start", &json!({"password": "not it"}))
        .await;
    assert_eq!(status, 400, "{err}");
    let (status, setup) = app
        .post(
            &admin,
            "/api/me/totp/start",
            &json!({"password": ADMIN_PASSWORD}),
        )
        .await;
    assert_eq!(status, 200, "{setup}");
    assert!(setup["otpauth_url"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/virtdeck:admin?secret="));
    assert!(setup["qr_svg"].as_str().unwrap().contains("<svg"));
    let secret = totp_rs::Secret::Encoded(setup["secret"].as_str().unwrap().to_string())
        .to_bytes()
        .unwrap();
    let totp = totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, secret);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();

    let (status, _) = app
        .post(&admin, "/api/me/totp/confirm", &json!({"code": "000000"}))
        .await;
    assert_eq!(status, 400, "a wrong code does not turn it on");
    let (status, codes) = app
        .post(
            &admin,
            "/api/me/totp/confirm",
            &json!({"code": totp.generate(now)}),
        )
        .await;
    assert_eq!(status, 200, "{codes}");
    let codes: Vec<String> = serde_json::from_value(codes).unwrap();
    assert_eq!(codes.len(), 10);

    // The password alone is not enough; the half-logged-in client can do nothing.
    let login = |client: reqwest::Client| {
        let url = app.url.clone();
        async move {
            let resp = client
                .post(format!("{url}/api/login"))
                .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            resp.json::<Value>().await.unwrap()
        }
    };
    let phone = app.anonymous();
    assert_eq!(login(phone.clone()).await, json!({"totp_required": true}));
    assert_eq!(app.get(&phone, "/api/guests").await.0, 401);
    let (status, _) = app
        .post(&phone, "/api/login/totp", &json!({"code": "123456"}))
        .await;
    assert_eq!(status, 401);
    // The code used to confirm is spent; the next one (30 s skew allowed) works.
    let (status, _) = app
        .post(
            &phone,
            "/api/login/totp",
            &json!({"code": totp.generate(now)}),
        )
        .await;
    assert_eq!(status, 401, "a code works once");
    let (status, me) = app
        .post(
            &phone,
            "/api/login/totp",
            &json!({"code": totp.generate(now + 30)}),
        )
        .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(app.get(&phone, "/api/guests").await.0, 200);

    // A recovery code works once.
    let laptop = app.anonymous();
    login(laptop.clone()).await;
    let (status, _) = app
        .post(&laptop, "/api/login/totp", &json!({"code": codes[0]}))
        .await;
    assert_eq!(status, 200);
    let tablet = app.anonymous();
    login(tablet.clone()).await;
    let (status, _) = app
        .post(&tablet, "/api/login/totp", &json!({"code": codes[0]}))
        .await;
    assert_eq!(status, 401, "a recovery code used twice");
    assert_eq!(app.get(&tablet, "/api/guests").await.0, 401);

    // Off again, with the password.
    let (status, _) = app
        .post(&phone, "/api/me/totp/disable", &json!({"password": "nope"}))
        .await;
    assert_eq!(status, 400);
    let (status, _) = app
        .post(
            &phone,
            "/api/me/totp/disable",
            &json!({"password": ADMIN_PASSWORD}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(login(app.anonymous()).await["username"], "admin");
    let actions: Vec<String> = app
        .audit("user.totp")
        .await
        .into_iter()
        .map(|r| r.action)
        .collect();
    assert_eq!(
        actions,
        [
            "user.totp.enable",
            "user.totp.enable",
            "user.totp.disable",
            "user.totp.disable"
        ]
    );
}

#[tokio::test]
async fn admins_can_be_required_to_use_two_factor_login() {
    let app = spawn_app(vec![]).await;
    let admin = app.admin().await;
    // Not before one's own is on: that would lock the asking admin out.
    let (status, _) = app
        .post(
            &admin,
            "/api/settings",
            &json!({"require_totp_for_admins": true}),
        )
        .await;
    assert_eq!(status, 409);
    let (_, setup) = app
        .post(
            &admin,
            "/api/me/totp/start",
            &json!({"password": ADMIN_PASSWORD}),
        )
        .await;
    let code = |setup: &Value, offset: u64| {
        let secret = totp_rs::Secret::Encoded(setup["secret"].as_str().unwrap().to_string())
            .to_bytes()
            .unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, secret)
            .generate(now + offset)
    };
    let (status, _) = app
        .post(
            &admin,
            "/api/me/totp/confirm",
            &json!({"code": code(&setup, 0)}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, settings) = app
        .post(
            &admin,
            "/api/settings",
            &json!({"require_totp_for_admins": true}),
        )
        .await;
    assert_eq!(
        (status, settings["require_totp_for_admins"].as_bool()),
        (200, Some(true))
    );

    // Another admin, without two-factor login: nothing but setting it up.
    let (status, _) = app
        .post(
            &admin,
            "/api/users",
            &json!({"username": "ada", "password": "first-password-ada", "role": "admin"}),
        )
        .await;
    assert_eq!(status, 200);
    let ada = app.anonymous();
    let resp = ada
        .post(format!("{}/api/login", app.url))
        .json(&json!({"username": "ada", "password": "first-password-ada"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (status, _) = app
        .post(
            &ada,
            "/api/me/password",
            &json!({"current": "first-password-ada", "new": "adas-own-password"}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, err) = app.get(&ada, "/api/guests").await;
    assert_eq!(status, 403);
    assert!(
        err["message"].as_str().unwrap().contains("two-factor"),
        "{err}"
    );
    let page = ada.get(format!("{}/guests", app.url)).send().await.unwrap();
    assert_eq!(page.headers()["location"], "/account?enrol_totp=1");
    let (_, setup) = app
        .post(
            &ada,
            "/api/me/totp/start",
            &json!({"password": "adas-own-password"}),
        )
        .await;
    let (status, _) = app
        .post(
            &ada,
            "/api/me/totp/confirm",
            &json!({"code": code(&setup, 0)}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        app.get(&ada, "/api/guests").await.0,
        200,
        "set up: free to work"
    );
    // Operators and viewers are not concerned.
    let (status, _) = app
        .post(
            &admin,
            "/api/users",
            &json!({"username": "otto", "password": "first-password-otto", "role": "operator"}),
        )
        .await;
    assert_eq!(status, 200);
    let otto = app.anonymous();
    otto.post(format!("{}/api/login", app.url))
        .json(&json!({"username": "otto", "password": "first-password-otto"}))
        .send()
        .await
        .unwrap();
    app.post(
        &otto,
        "/api/me/password",
        &json!({"current": "first-password-otto", "new": "ottos-own-password"}),
    )
    .await;
    assert_eq!(app.get(&otto, "/api/guests").await.0, 200);
    assert_eq!(
        app.audit("settings.").await.len(),
        2,
        "both attempts audited"
    );
}
