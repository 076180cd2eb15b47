//! The HTTP API and the login gate against the real server (test-driver hosts).

use crate::helpers::{spawn_app, ADMIN_PASSWORD};
use futures::StreamExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};

async fn guests(client: &reqwest::Client, url: &str) -> Vec<Value> {
    let resp = client
        .get(format!("{url}/api/guests"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

async fn get_json<T: serde::de::DeserializeOwned>(
    client: &reqwest::Client,
    url: &str,
    path: &str,
) -> T {
    let resp = client.get(format!("{url}{path}")).send().await.unwrap();
    assert_eq!(resp.status(), 200, "GET {path}");
    resp.json().await.unwrap()
}

async fn act(client: &reqwest::Client, url: &str, body: &Value) -> reqwest::Response {
    client
        .post(format!("{url}/api/guests/action"))
        .json(body)
        .send()
        .await
        .unwrap()
}

fn by_name<'a>(guests: &'a [Value], name: &str) -> &'a Value {
    guests.iter().find(|g| g["name"] == name).unwrap()
}

#[tokio::test]
async fn every_route_refuses_a_request_without_session() {
    let app = spawn_app(vec![]).await;
    let client = app.anonymous();
    for page in ["/", "/guests", "/hosts", "/nowhere"] {
        let resp = client
            .get(format!("{}{page}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 303, "{page}");
        let location = resp.headers()["location"].to_str().unwrap();
        assert!(location.starts_with("/login?next="), "{page} -> {location}");
    }
    for (method, path) in [
        ("GET", "/api/hosts"),
        ("GET", "/api/guests"),
        ("GET", "/api/me"),
        ("POST", "/api/guests/action"),
        ("POST", "/api/logout"),
        ("GET", "/ws"),
    ] {
        let req = client.request(method.parse().unwrap(), format!("{}{path}", app.url));
        let resp = req.json(&json!({})).send().await.unwrap();
        assert_eq!(resp.status(), 401, "{method} {path}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "unauthorized", "{method} {path}");
    }
    // The login page itself and static files are reachable.
    let resp = client
        .get(format!("{}/login", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("Log in"));
}

#[tokio::test]
async fn a_wrong_password_is_refused_and_audited() {
    let app = spawn_app(vec![]).await;
    let client = app.anonymous();
    let resp = app.login(&client, "wrong").await;
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["message"], "wrong username or password");
    assert!(resp_has_no_session(&client, &app.url).await);

    let resp = client
        .post(format!("{}/api/login", app.url))
        .json(&json!({"username": "nobody", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    let pool = sqlx::SqlitePool::connect(&app.database()).await.unwrap();
    let failed: Vec<(Option<String>, String)> =
        sqlx::query_as("SELECT username, outcome FROM audit_log WHERE action = 'login'")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(failed.len(), 2);
    assert!(failed
        .iter()
        .all(|(user, outcome)| user.is_none() && outcome == "failed"));
}

async fn resp_has_no_session(client: &reqwest::Client, url: &str) -> bool {
    client
        .get(format!("{url}/api/me"))
        .send()
        .await
        .unwrap()
        .status()
        == 401
}

#[tokio::test]
async fn login_sets_a_safe_cookie_that_changes_at_each_login() {
    let app = spawn_app(vec![]).await;
    let client = app.anonymous();
    let first = app.login(&client, ADMIN_PASSWORD).await;
    assert_eq!(first.status(), 200);
    let cookie = crate::helpers::set_cookie(&first, "virtdeck_session")
        .as_str()
        .to_string();
    assert!(cookie.starts_with("virtdeck_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain http on loopback: {cookie}"
    );
    let me: Value = get_json(&client, &app.url, "/api/me").await;
    assert_eq!(me["username"], "admin");

    let second = app.login(&client, ADMIN_PASSWORD).await;
    let cookie2 = crate::helpers::set_cookie(&second, "virtdeck_session")
        .as_str()
        .to_string();
    let id = |c: &str| c.split(';').next().unwrap().to_string();
    assert_ne!(id(&cookie), id(&cookie2), "session id must change at login");

    // Log out ends the session.
    let resp = client
        .post(format!("{}/api/logout", app.url))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp_has_no_session(&client, &app.url).await);
}

#[tokio::test]
async fn login_list_pause_and_list_again() {
    let app = spawn_app(vec![]).await;
    let client = app.admin().await;

    let hosts: Vec<Value> = get_json(&client, &app.url, "/api/hosts").await;
    assert_eq!(hosts.len(), 2);
    for key in [
        "name",
        "uri",
        "connected",
        "error",
        "arch",
        "cpu_model",
        "memory_kib",
        "libvirt_version",
        "hypervisor_version",
        "guests",
    ] {
        assert!(hosts[0].get(key).is_some(), "hosts[0] lacks {key}");
    }

    let before = guests(&client, &app.url).await;
    assert_eq!(before.len(), 7);
    let web = by_name(&before, "web01");
    assert_eq!(web["state"], "running");
    for key in [
        "host",
        "name",
        "uuid",
        "state",
        "vcpus",
        "memory_kib",
        "persistent",
        "autostart",
    ] {
        assert!(web.get(key).is_some(), "guest lacks {key}");
    }

    let resp = act(
        &client,
        &app.url,
        &json!({"host": web["host"], "uuid": web["uuid"], "action": "suspend"}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let paused: Value = resp.json().await.unwrap();
    assert_eq!(paused["state"], "paused");

    let after = guests(&client, &app.url).await;
    assert_eq!(by_name(&after, "web01")["state"], "paused");
    assert_eq!(
        by_name(&after, "db01")["state"],
        "running",
        "only web01 changed"
    );

    let pool = sqlx::SqlitePool::connect(&app.database()).await.unwrap();
    let (user, target, outcome): (String, String, String) = sqlx::query_as(
        "SELECT username, target, outcome FROM audit_log WHERE action = 'guest.suspend'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(user, "admin");
    assert!(target.contains(web["uuid"].as_str().unwrap()));
    assert_eq!(outcome, "ok");
}

/// The list's filters and paging as a script (or the browser after the
/// first page) sends them: in the query string.
#[tokio::test]
async fn guests_are_filtered_paged_and_counted_from_the_query_string() {
    let app = spawn_app(vec![]).await;
    let client = app.admin().await;
    let names = |list: Vec<Value>| -> Vec<String> {
        list.iter()
            .map(|g| g["name"].as_str().unwrap().to_string())
            .collect()
    };
    let beta: Vec<Value> = get_json(&client, &app.url, "/api/guests?host=demo-beta").await;
    assert_eq!(names(beta), ["backup01", "ci-runner", "mail01"]);
    let page: Vec<Value> = get_json(
        &client,
        &app.url,
        "/api/guests?host=demo-beta&offset=1&limit=1",
    )
    .await;
    assert_eq!(names(page), ["ci-runner"]);
    let found: Vec<Value> = get_json(&client, &app.url, "/api/guests?q=WEB&state=running").await;
    assert_eq!(names(found), ["web01"]);
    let counts: Value = get_json(
        &client,
        &app.url,
        "/api/guests/counts?host=demo-beta&offset=0&limit=100",
    )
    .await;
    assert_eq!(counts["total"], 7);
    assert_eq!(counts["matching"], 3);
    assert_eq!(counts["by_host"]["demo-alpha"], 4);
    assert_eq!(counts["by_state"]["paused"], 2);

    for (query, says) in [
        ("offset=-1", "is not a count"),
        ("limit=lots", "is not a count"),
        ("limit=99999999999999999999999", "is not a count"),
        ("state=sleeping", "sleeping"),
    ] {
        let resp = client
            .get(format!("{}/api/guests?{query}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{query}");
        let body: Value = resp.json().await.unwrap();
        assert!(
            body["message"].as_str().unwrap().contains(says),
            "{query}: {body}"
        );
    }
}

#[tokio::test]
async fn bad_requests_get_clear_4xx_errors_and_change_nothing() {
    let app = spawn_app(vec![]).await;
    let client = app.admin().await;
    let web = by_name(&guests(&client, &app.url).await, "web01").clone();
    let uuid = web["uuid"].as_str().unwrap();
    let long = "x".repeat(100_000);
    let cases: Vec<(Value, u16, &str)> = vec![
        (
            json!({"host": "nope", "uuid": uuid, "action": "suspend"}),
            404,
            "no host named",
        ),
        (
            json!({"host": "demo-beta", "uuid": uuid, "action": "suspend"}),
            404,
            "no guest with UUID",
        ),
        (
            json!({"host": "demo-alpha", "uuid": uuid, "action": "explode"}),
            400,
            "unknown action",
        ),
        (
            json!({"host": "demo-alpha", "uuid": "<script>&'\"", "action": "start"}),
            400,
            "not a guest UUID",
        ),
        (
            json!({"host": "demo-alpha", "uuid": uuid}),
            400,
            "invalid request",
        ),
        (
            json!({"host": 12, "uuid": uuid, "action": "start"}),
            400,
            "invalid request",
        ),
        (
            json!({"host": long, "uuid": uuid, "action": "suspend"}),
            404,
            "no host named",
        ),
        (
            json!({"host": "demo-alpha", "uuid": uuid, "action": -1}),
            400,
            "invalid request",
        ),
    ];
    for (body, status, text) in cases {
        let resp = act(&client, &app.url, &body).await;
        assert_eq!(resp.status().as_u16(), status, "{body}");
        let err: Value = resp.json().await.unwrap();
        let message = err["message"].as_str().unwrap();
        assert!(message.contains(text), "{body}: {message}");
        assert!(message.len() < 400, "long input is not echoed whole");
    }
    let resp = client
        .post(format!("{}/api/guests/action", app.url))
        .header("content-type", "application/json")
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = client
        .get(format!("{}/api/nothing", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);

    let after = guests(&client, &app.url).await;
    assert!(after
        .iter()
        .all(|g| g["name"] != "web01" || g["state"] == "running"));
}

#[tokio::test]
async fn a_dead_host_shows_as_unreachable_and_the_others_work() {
    let dead = server::config::HostConfig::new("dead", "qemu+tcp://127.0.0.1:9/system");
    let app = spawn_app(vec![dead]).await;
    let client = app.admin().await;
    let hosts: Vec<Value> = get_json(&client, &app.url, "/api/hosts").await;
    let dead = hosts.iter().find(|h| h["name"] == "dead").unwrap();
    assert_eq!(dead["connected"], false);
    assert_eq!(dead["state"], "unreachable");
    assert!(
        dead["error"].as_str().unwrap().contains("connect"),
        "{dead}"
    );
    // The compact list the guests page and the migrate dialog use: the same
    // hosts in the same order, the reason only for the one not connected.
    let states: Vec<Value> = get_json(&client, &app.url, "/api/hosts/states").await;
    let names = |list: &[Value]| -> Vec<String> {
        list.iter()
            .map(|h| h["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&states), names(&hosts));
    for (link, host) in states.iter().zip(&hosts) {
        assert_eq!(link["state"], host["state"], "{link}");
        if host["connected"] == true {
            assert!(link.get("error").is_none(), "{link}");
        } else {
            assert_eq!(link["error"], host["error"], "{link}");
        }
    }
    assert_eq!(guests(&client, &app.url).await.len(), 7);
    let page = client
        .get(format!("{}/guests", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("dead</strong> is unreachable"),
        "the guests page names the dead host"
    );
    assert!(html.contains("web01"));
}

#[tokio::test]
async fn pages_render_on_the_server_with_the_guests() {
    let app = spawn_app(vec![]).await;
    let client = app.admin().await;
    let html = client
        .get(format!("{}/guests", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "web01",
        "db01",
        "mail01",
        "ci-runner",
        "demo-alpha",
        "demo-beta",
        "7 guests",
    ] {
        assert!(html.contains(name), "/guests lacks {name}");
    }
    let html = client
        .get(format!("{}/hosts", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for host in ["demo-alpha", "demo-beta"] {
        assert!(
            html.contains(&format!(r#"data-host="{host}" data-state="connected""#)),
            "{host} rendered as connected"
        );
    }
    // "/" leads to the guest list.
    let resp = client.get(format!("{}/", app.url)).send().await.unwrap();
    assert!(resp.status().is_redirection());
    assert_eq!(resp.headers()["location"], "/guests");
}

/// Pages come compressed at the usual level (a slow phone's first visit
/// waits for them): within 5 % of gzip 6 or brotli 4 over the whole page at
/// once (they are compressed as they stream; the fastest level made the
/// gzip 15 % larger); JSON answers come compressed too, and
/// both decode to what an uncompressed request gets.
#[tokio::test]
async fn pages_and_answers_come_compressed() {
    use std::io::{Read, Write};
    let app = spawn_app(vec![]).await;
    let client = app.admin().await;
    let fetch = |path: &'static str, encoding: &'static str| {
        let client = client.clone();
        let url = format!("{}{path}", app.url);
        async move {
            let resp = client
                .get(url)
                .header("accept-encoding", encoding)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200, "{path}");
            let served = resp
                .headers()
                .get("content-encoding")
                .map(|v| v.to_str().unwrap().to_string());
            (served, resp.bytes().await.unwrap().to_vec())
        }
    };
    let gunzip = |bytes: &[u8]| {
        let mut text = String::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_string(&mut text)
            .unwrap();
        text
    };
    let unbrotli = |bytes: &[u8]| {
        let mut text = String::new();
        brotli::Decompressor::new(bytes, 4096)
            .read_to_string(&mut text)
            .unwrap();
        text
    };

    let (encoding, gz) = fetch("/guests", "gzip").await;
    assert_eq!(encoding.as_deref(), Some("gzip"));
    let page = gunzip(&gz);
    assert!(
        page.contains("demo-alpha") && page.contains("7 guests"),
        "{page}"
    );
    let mut whole = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    whole.write_all(page.as_bytes()).unwrap();
    let whole = whole.finish().unwrap().len();
    assert!(
        gz.len() * 100 <= whole * 105,
        "/guests: {} bytes of gzip for {} of HTML; level 6 at once makes {whole}",
        gz.len(),
        page.len()
    );

    let (encoding, br) = fetch("/guests", "br").await;
    assert_eq!(encoding.as_deref(), Some("br"));
    let page = unbrotli(&br);
    assert!(
        page.contains("demo-alpha") && page.contains("7 guests"),
        "{page}"
    );
    let mut whole = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 4,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut page.as_bytes(), &mut whole, &params).unwrap();
    assert!(
        br.len() * 100 <= whole.len() * 105,
        "/guests: {} bytes of brotli for {} of HTML; quality 4 at once makes {}",
        br.len(),
        page.len(),
        whole.len()
    );

    let (encoding, plain) = fetch("/api/guests", "identity").await;
    assert_eq!(encoding, None);
    let plain: Value = serde_json::from_slice(&plain).unwrap();
    let (encoding, gz) = fetch("/api/guests", "gzip").await;
    assert_eq!(encoding.as_deref(), Some("gzip"));
    assert_eq!(serde_json::from_str::<Value>(&gunzip(&gz)).unwrap(), plain);
    let (encoding, br) = fetch("/api/guests", "br").await;
    assert_eq!(encoding.as_deref(), Some("br"));
    assert_eq!(
        serde_json::from_str::<Value>(&unbrotli(&br)).unwrap(),
        plain
    );
}

#[tokio::test]
async fn the_websocket_needs_a_session_and_streams_guest_changes() {
    let app = spawn_app(vec![]).await;
    let ws_url = app.url.replace("http://", "ws://") + "/ws";

    let refused = tokio_tungstenite::connect_async(ws_url.clone()).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 401),
        other => panic!("expected 401, got {other:?}"),
    }

    let client = app.anonymous();
    let login = app.login(&client, ADMIN_PASSWORD).await;
    let cookie = crate::helpers::set_cookie(&login, "virtdeck_session")
        .as_str()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let mut request = ws_url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("cookie", cookie.parse().unwrap());
    // A page of another site (another port here) cannot use the cookie.
    let mut foreign = request.clone();
    foreign
        .headers_mut()
        .insert("origin", "http://127.0.0.1:1".parse().unwrap());
    match tokio_tungstenite::connect_async(foreign).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 403),
        other => panic!("expected 403, got {other:?}"),
    }
    let mut own = request.clone();
    let origin = app.url.clone();
    own.headers_mut().insert("origin", origin.parse().unwrap());
    let (own_socket, _) = tokio_tungstenite::connect_async(own).await.unwrap();
    drop(own_socket);
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();

    let next = |msg: Option<Result<Message, _>>| -> Value {
        match msg.unwrap().unwrap() {
            Message::Text(text) => crate::helpers::event(&text),
            other => panic!("unexpected {other:?}"),
        }
    };
    let hello = next(socket.next().await);
    assert_eq!(hello, json!({"type": "hello", "user": "admin"}));

    let cache = by_name(&guests(&client, &app.url).await, "cache01").clone();
    act(
        &client,
        &app.url,
        &json!({"host": cache["host"], "uuid": cache["uuid"], "action": "resume"}),
    )
    .await;
    let event = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next())
        .await
        .expect("an event within 10 s");
    let event = next(event);
    assert_eq!(event["type"], "guest_changed");
    assert_eq!(event["guest"]["name"], "cache01");
    assert_eq!(event["guest"]["state"], "running");
}

/// A host that accepts TCP and never answers holds the start up to its bound
/// (5 s). Meanwhile a browser gets the login page and signs in; the guest
/// list waits for the start to end, then shows the other hosts' guests.
#[tokio::test]
async fn while_a_hung_host_holds_the_start_up_the_login_is_served_and_the_list_waits() {
    // The kernel completes the connections; nobody ever reads or answers.
    let hung = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let uri = format!(
        "qemu+tcp://127.0.0.1:{}/system",
        hung.local_addr().unwrap().port()
    );
    let app = spawn_app(vec![server::config::HostConfig::new("hung", &uri)]).await;

    let admin = app.admin().await;
    let list = tokio::spawn({
        let url = format!("{}/api/guests", app.url);
        async move { admin.get(url).send().await.unwrap() }
    });
    let browser = app.anonymous();
    let page = browser
        .get(format!("{}/login", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Log in"));
    let login = app.login(&browser, ADMIN_PASSWORD).await;
    assert_eq!(login.status(), 200, "{}", login.text().await.unwrap());
    assert!(
        !list.is_finished(),
        "the guest list answered before the hung host's start was over"
    );

    // The start ends within its bound: a list that never came fails here.
    let list = tokio::time::timeout(std::time::Duration::from_secs(30), list)
        .await
        .expect("the guest list answered after the start")
        .unwrap();
    assert_eq!(list.status(), 200);
    let guests: Vec<Value> = list.json().await.unwrap();
    assert_eq!(guests.len(), 7, "the fixture hosts' guests");
    drop(hung);
}
