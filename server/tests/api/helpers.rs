//! Test support: fixture hosts on libvirt's test driver and a running server.
#![allow(dead_code)]

use std::path::Path;

use server::{
    config::{Config, HostConfig},
    startup::{leptos_options, Application},
};
use tempfile::TempDir;

pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

/// Copies of the demo fixtures in a fresh directory: the test driver keeps one
/// state per file path in a process, so every test gets its own hosts.
pub fn fixture_hosts(dir: &Path) -> Vec<HostConfig> {
    server::demo::write_fixtures(dir).expect("write fixtures")
}

pub struct TestApp {
    pub url: String,
    pub dir: TempDir,
    pub client: reqwest::Client,
}

impl TestApp {
    pub fn database(&self) -> String {
        format!("sqlite://{}", self.dir.path().join("virtdeck.db").display())
    }

    /// A new client (own cookie jar), not logged in.
    pub fn anonymous(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    pub async fn login(&self, client: &reqwest::Client, password: &str) -> reqwest::Response {
        client
            .post(format!("{}/api/login", self.url))
            .json(&serde_json::json!({"username": "admin", "password": password}))
            .send()
            .await
            .unwrap()
    }

    /// A client that is logged in as admin.
    pub async fn admin(&self) -> reqwest::Client {
        let client = self.anonymous();
        let resp = self.login(&client, ADMIN_PASSWORD).await;
        assert_eq!(
            resp.status(),
            200,
            "login failed: {}",
            resp.text().await.unwrap()
        );
        client
    }
}

impl TestApp {
    /// A second `Application` on the same database file and the same fixture
    /// hosts, as after a restart (for apps from `spawn_app(vec![])`; the first
    /// server still listens, unused; libvirt's test driver keeps the hosts'
    /// state, as libvirtd would).
    pub async fn restart(self) -> TestApp {
        let hosts = fixture_hosts(&self.dir.path().join("hosts"));
        spawn_app_in(self.dir, hosts).await
    }
}

/// Starts the server on a free port with its own database, the fixture hosts
/// and `extra_hosts` after them.
pub async fn spawn_app(extra_hosts: Vec<HostConfig>) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut hosts = fixture_hosts(&dir.path().join("hosts"));
    hosts.extend(extra_hosts);
    spawn_app_in(dir, hosts).await
}

/// Starts the server with exactly these hosts.
pub async fn spawn_app_with(hosts: Vec<HostConfig>) -> TestApp {
    spawn_app_in(tempfile::tempdir().unwrap(), hosts).await
}

async fn spawn_app_in(dir: TempDir, hosts: Vec<HostConfig>) -> TestApp {
    spawn_app_configured(dir, hosts, &[]).await
}

/// Starts the server with these hosts and `VIRTDECK_*` settings (`env`).
pub async fn spawn_app_configured(
    dir: TempDir,
    hosts: Vec<HostConfig>,
    env: &[(&str, &str)],
) -> TestApp {
    spawn_app_notifying(dir, hosts, env, Vec::new()).await
}

/// Starts the server with webhooks (`[[notify]]`) too.
pub async fn spawn_app_notifying(
    dir: TempDir,
    hosts: Vec<HostConfig>,
    env: &[(&str, &str)],
    notify: Vec<server::config::NotifyConfig>,
) -> TestApp {
    let database_url = format!("sqlite://{}", dir.path().join("virtdeck.db").display());
    let data_dir = dir.path().join("data").display().to_string();
    let mut config = Config::from_sources("test", None, |key| {
        // An empty value leaves the setting unset.
        if let Some((_, v)) = env.iter().find(|(k, _)| *k == key) {
            return Some(v.to_string()).filter(|v| !v.is_empty());
        }
        match key {
            "VIRTDECK_LISTEN" => Some("127.0.0.1:0".into()),
            "VIRTDECK_DATABASE_URL" => Some(database_url.clone()),
            "VIRTDECK_DATA_DIR" => Some(data_dir.clone()),
            "VIRTDECK_ADMIN_PASSWORD" => Some(ADMIN_PASSWORD.into()),
            _ => None,
        }
    })
    .expect("test configuration");
    config.hosts = hosts;
    config.notify = notify;
    let app = Application::build(config, leptos_options())
        .await
        .expect("build app");
    let url = format!("http://{}", app.addr());
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    TestApp { url, dir, client }
}

/// The `Set-Cookie` header of the cookie `name` in `resp` (a login answer
/// sets the session cookie and a device cookie).
pub fn set_cookie(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie in {:?}", resp.headers()))
        .to_string()
}

/// One row of the audit log.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    pub username: Option<String>,
    pub action: String,
    pub target: String,
    pub outcome: String,
    pub detail: Option<String>,
    /// Requests the row stands for (anonymous refusals are counted per minute).
    pub count: i64,
}

impl TestApp {
    /// `GET path` with `client`: the status and the JSON body (`null` if none).
    pub async fn get(&self, client: &reqwest::Client, path: &str) -> (u16, serde_json::Value) {
        let resp = client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// `POST path` with a JSON body: the status and the JSON answer.
    pub async fn post(
        &self,
        client: &reqwest::Client,
        path: &str,
        body: &serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let resp = client
            .post(format!("{}{path}", self.url))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// The audit rows whose action starts with `prefix`, oldest first.
    pub async fn audit(&self, prefix: &str) -> Vec<AuditRow> {
        let pool = sqlx::SqlitePool::connect(&self.database()).await.unwrap();
        sqlx::query_as(
            "SELECT username, action, target, outcome, detail, count FROM audit_log \
             WHERE action LIKE ? || '%' ORDER BY id",
        )
        .bind(prefix)
        .fetch_all(&pool)
        .await
        .unwrap()
    }
}

/// A client that sends `Authorization: Bearer <token>` (a script).
pub fn bearer(token: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .default_headers(
            [(
                reqwest::header::AUTHORIZATION,
                format!("Bearer {token}").parse().unwrap(),
            )]
            .into_iter()
            .collect(),
        )
        .build()
        .unwrap()
}

/// A `/ws` message as JSON, after checking that the pages read it as the
/// derived decoder does (`decode_event` skips serde's buffered path).
pub fn event(text: &str) -> serde_json::Value {
    use app::api::events::{decode_event, ServerEvent};
    assert_eq!(
        decode_event(text).ok(),
        Some(serde_json::from_str::<ServerEvent>(text).unwrap()),
        "the pages read this message differently: {text}"
    );
    serde_json::from_str(text).unwrap()
}

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `/ws` with one header (`cookie` or `authorization`) and reads its hello.
pub async fn socket(app: &TestApp, header: &'static str, value: &str) -> Socket {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};
    let mut request = (app.url.replace("http://", "ws://") + "/ws")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(header, value.parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    match socket.next().await {
        Some(Ok(Message::Text(text))) => assert_eq!(event(&text)["type"], "hello"),
        other => panic!("expected the hello, got {other:?}"),
    }
    socket
}

/// The close code the server ends `socket` with (within 10 s).
pub async fn close_code(socket: &mut Socket) -> Option<u16> {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    })
    .await
    .expect("the socket is closed within 10 s")
}

/// The authenticator app's code for the base32 `secret` of a two-factor
/// enrolment, `offset` seconds from now.
pub fn totp_code(secret: &str, offset: i64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_string())
        .to_bytes()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes)
        .generate((now + offset) as u64)
}
