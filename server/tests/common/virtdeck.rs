//! virtdeck as a process of its own (the built binary), so that a test can
//! kill it like a real one and start it again on the same database and port.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use futures::StreamExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};

pub const PASSWORD: &str = "correct horse battery staple";

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A configuration directory: `virtdeck.toml` naming `hosts`, plus `extra`
/// top-level settings; the database and the logs go there too.
pub fn config_dir(hosts: &[(&str, &str)], extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut config = format!("{extra}\n");
    for (name, uri) in hosts {
        config += &format!("[[hosts]]\nname = \"{name}\"\nuri = \"{uri}\"\n");
    }
    std::fs::write(dir.path().join("virtdeck.toml"), config).unwrap();
    dir
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Virtdeck {
    child: Child,
    pub url: String,
    pub client: reqwest::Client,
    cookie: String,
    pub log: PathBuf,
}

impl Virtdeck {
    /// Starts virtdeck on `dir`'s configuration and database, and logs in as admin.
    pub async fn start(dir: &Path, port: u16) -> Virtdeck {
        let log = dir.join(format!("log-{}", rand::random::<u32>()));
        let child = Command::new(env!("CARGO_BIN_EXE_virtdeck"))
            .env("VIRTDECK_CONFIG", dir.join("virtdeck.toml"))
            .env(
                "VIRTDECK_DATABASE_URL",
                format!("sqlite://{}", dir.join("v.db").display()),
            )
            .env("VIRTDECK_DATA_DIR", dir.join("data"))
            .env("VIRTDECK_LISTEN", format!("127.0.0.1:{port}"))
            .env("VIRTDECK_ADMIN_PASSWORD", PASSWORD)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start virtdeck");
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        // Killed and reaped on drop, also when it does not come up.
        let mut v = Virtdeck {
            child,
            url: format!("http://127.0.0.1:{port}"),
            client,
            cookie: String::new(),
            log,
        };
        for _ in 0..400 {
            if let Ok(r) = v
                .client
                .post(format!("{}/api/login", v.url))
                .json(&json!({"username": "admin", "password": PASSWORD}))
                .send()
                .await
            {
                assert_eq!(r.status(), 200);
                v.cookie = r
                    .headers()
                    .get_all("set-cookie")
                    .iter()
                    .filter_map(|h| h.to_str().ok())
                    .find(|c| c.starts_with("virtdeck_session="))
                    .and_then(|c| c.split(';').next())
                    .expect("a session cookie")
                    .to_string();
                // The login is served while the hosts connect; the rest
                // waits for the start (at most 5 s for a hung host). Started
                // means that is over.
                v.get("/api/hosts").await;
                return v;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("virtdeck did not start on port {port}");
    }

    /// Starts virtdeck over `hosts` in a new configuration directory (kept
    /// as long as the answered directory lives).
    pub async fn with_hosts(hosts: &[(&str, &str)]) -> (Virtdeck, tempfile::TempDir) {
        let dir = config_dir(hosts, "");
        let v = Virtdeck::start(dir.path(), free_port()).await;
        (v, dir)
    }

    /// SIGKILL, as a crash or an OOM kill would.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// A GET of the API that must succeed.
    pub async fn get(&self, path: &str) -> Value {
        self.timed_get(path).await.0
    }

    /// A GET that must succeed, with how long it took: JSON for `/api/…`,
    /// the page's text otherwise.
    pub async fn timed_get(&self, path: &str) -> (Value, Duration) {
        let started = Instant::now();
        let resp = self
            .client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "GET {path}");
        let body = if path.starts_with("/api/") {
            resp.json().await.unwrap()
        } else {
            Value::String(resp.text().await.unwrap())
        };
        (body, started.elapsed())
    }

    /// Waits until every configured host is connected (at most 30 s).
    pub async fn until_connected(&self) {
        self.until(
            Duration::from_secs(30),
            "the lab hosts connected",
            || async {
                let hosts = self.get("/api/hosts").await;
                hosts
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|h| h["connected"] == true)
            },
        )
        .await;
    }

    /// The host `name` as `/api/hosts` shows it.
    pub async fn host(&self, name: &str) -> Value {
        self.get("/api/hosts")
            .await
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["name"] == name)
            .unwrap()
            .clone()
    }

    /// Polls until `f` holds (or `limit` passes); answers how long it took.
    pub async fn until<F, Fut>(&self, limit: Duration, what: &str, f: F) -> Duration
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let started = Instant::now();
        while !f().await {
            assert!(started.elapsed() < limit, "{what} not within {limit:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        started.elapsed()
    }

    /// The process's threads now.
    pub fn threads(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/task", self.child.id()))
            .unwrap()
            .count()
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let resp = self
            .client
            .post(format!("{}{path}", self.url))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn job(&self, id: &str) -> Value {
        self.get(&format!("/api/migrations?id={id}")).await[0].clone()
    }

    /// Polls the job until it is no longer running (at most `limit`).
    pub async fn wait_end(&self, id: &str, limit: Duration) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let job = self.job(id).await;
            if job["status"] != "running" {
                return job;
            }
            assert!(
                Instant::now() < deadline,
                "migration {id} still running after {limit:?}: {job}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The event socket, as the admin.
    pub async fn ws(&self) -> Socket {
        let mut request = (self.url.replace("http://", "ws://") + "/ws")
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("cookie", self.cookie.parse().unwrap());
        tokio_tungstenite::connect_async(request).await.unwrap().0
    }
}

impl Drop for Virtdeck {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The next `migration_progress` message of job `id` (at most `limit` away).
pub async fn next_progress(socket: &mut Socket, id: &str, limit: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let left = deadline.checked_duration_since(tokio::time::Instant::now())?;
        let event = next_event(socket, "migration_progress", left).await?;
        if event["id"] == id {
            return Some(event);
        }
    }
}

/// The next message of this `type` (at most `limit` away).
pub async fn next_event(socket: &mut Socket, kind: &str, limit: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let msg = tokio::time::timeout_at(deadline, socket.next())
            .await
            .ok()??
            .ok()?;
        let Message::Text(text) = msg else { continue };
        // Every message the tests see is read the pages' way too, and must
        // come out as the derived decoder reads it.
        assert_eq!(
            app::api::events::decode_event(&text).ok(),
            Some(serde_json::from_str::<app::api::events::ServerEvent>(&text).unwrap()),
            "the pages read this message differently: {text}"
        );
        let event: Value = serde_json::from_str(&text).ok()?;
        if event["type"] == kind {
            return Some(event);
        }
    }
}
