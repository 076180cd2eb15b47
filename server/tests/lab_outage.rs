//! The live fleet against the lab's real hosts: changes made outside
//! virtdeck (virsh) reach the API within a second; a host whose daemon stops,
//! or goes silent (SIGSTOP), is shown unreachable within 15 s, with libvirt's
//! reason, while the other
//! answers as before, and reconnects by itself; a host that accepts TCP and
//! never answers holds nothing up, and the server's threads stay bounded;
//! the balance advisor's sampling goes on beside a silent host.
//!
//! A test binary of its own: these tests stop lab hosts, so they must not
//! run beside the `api` tests that use them (cargo runs test binaries one
//! after the other), and they run one at a time here.

use std::{
    collections::HashMap, io::Read, net::TcpListener, path::PathBuf, process::Command,
    time::Duration,
};

use serde_json::Value;

#[allow(dead_code)]
#[path = "common/virtdeck.rs"]
mod virtdeck;

use virtdeck::Virtdeck;

/// One test at a time: they take lab hosts down.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Lab(HashMap<String, String>);

impl Lab {
    fn load() -> Lab {
        let dir = std::env::var("VIRTDECK_LAB").unwrap_or_else(|_| "/tmp/virtdeck-lab".into());
        let text =
            std::fs::read_to_string(PathBuf::from(&dir).join("lab.env")).unwrap_or_else(|e| {
                panic!("the lab is not up ({dir}/lab.env: {e}): run scripts/lab up")
            });
        Lab(text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect())
    }
    fn get(&self, key: &str) -> &str {
        &self.0[key]
    }
    fn virsh(&self, host: &str, args: &[&str]) -> Option<String> {
        let uri = if host == "a" {
            self.get("LAB_HOST_A_URI")
        } else {
            self.get("LAB_HOST_B_URI")
        };
        let out = Command::new("timeout")
            .args(["30", "virsh", "-q", "-c", uri])
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
    /// `scripts/lab stop|start b`.
    fn lab(&self, args: &[&str]) {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/lab");
        let status = Command::new(script)
            .args(args)
            .status()
            .expect("scripts/lab runs");
        assert!(status.success(), "scripts/lab {args:?}");
    }
    fn libvirtd_pid(&self, host: &str) -> i32 {
        let file = PathBuf::from(self.get("LAB_DIR")).join(format!("hosts/{host}/libvirtd.pid"));
        std::fs::read_to_string(file)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }
}

fn guest_xml(name: &str) -> String {
    format!(
        "<domain type='qemu'><name>{name}</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type></os><devices>\
         <emulator>/usr/bin/qemu-system-x86_64</emulator><memballoon model='none'/></devices></domain>"
    )
}

async fn state_of(v: &Virtdeck, host: &str, name: &str) -> Option<(String, bool)> {
    let (guests, _) = v.timed_get(&format!("/api/guests?host={host}")).await;
    guests
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == name)
        .map(|g| {
            (
                g["state"].as_str().unwrap().to_string(),
                g["stale"].as_bool().unwrap(),
            )
        })
}

#[tokio::test]
async fn changes_made_with_virsh_reach_the_api_within_a_second() {
    let _serial = SERIAL.lock().await;
    let lab = Lab::load();
    let (v, _dir) = Virtdeck::with_hosts(&[
        ("lab-a", lab.get("LAB_HOST_A_URI")),
        ("lab-b", lab.get("LAB_HOST_B_URI")),
    ])
    .await;
    let name = format!("outside-{:06x}", rand::random::<u32>() & 0xffffff);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), guest_xml(&name)).unwrap();
    let limit = Duration::from_secs(2);
    let mut took = Vec::new();

    lab.virsh("a", &["define", file.path().to_str().unwrap()])
        .expect("define");
    took.push(
        v.until(limit, "defined guest listed", || async {
            state_of(&v, "lab-a", &name)
                .await
                .is_some_and(|(s, _)| s == "shutoff")
        })
        .await,
    );
    for (cmd, state) in [
        ("start", "running"),
        ("suspend", "paused"),
        ("resume", "running"),
        ("destroy", "shutoff"),
    ] {
        lab.virsh("a", &[cmd, &name])
            .unwrap_or_else(|| panic!("virsh {cmd}"));
        took.push(
            v.until(limit, state, || async {
                state_of(&v, "lab-a", &name)
                    .await
                    .is_some_and(|(s, _)| s == state)
            })
            .await,
        );
    }
    lab.virsh("a", &["undefine", &name]).expect("undefine");
    took.push(
        v.until(limit, "undefined guest gone", || async {
            state_of(&v, "lab-a", &name).await.is_none()
        })
        .await,
    );
    println!("virsh change → /api/guests: {took:?}");
    assert!(
        took.iter().all(|t| *t < Duration::from_secs(1)),
        "each within 1 s: {took:?}"
    );
}

#[tokio::test]
async fn a_stopped_or_silent_host_is_unreachable_within_15_s_and_comes_back() {
    let _serial = SERIAL.lock().await;
    let lab = Lab::load();
    // The balance advisor samples every second: a silent host must not stall it.
    let _dir = virtdeck::config_dir(
        &[
            ("lab-a", lab.get("LAB_HOST_A_URI")),
            ("lab-b", lab.get("LAB_HOST_B_URI")),
        ],
        "balance_sample_secs = 1",
    );
    let v = Virtdeck::start(_dir.path(), virtdeck::free_port()).await;
    let name = format!("outage-{:06x}", rand::random::<u32>() & 0xffffff);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), guest_xml(&name)).unwrap();
    lab.virsh("b", &["define", file.path().to_str().unwrap()])
        .expect("define on b");
    v.until(Duration::from_secs(3), "guest on b listed", || async {
        state_of(&v, "lab-b", &name).await.is_some()
    })
    .await;

    // 1. The daemon stops.
    lab.lab(&["stop", "b"]);
    let took = v
        .until(Duration::from_secs(15), "lab-b unreachable", || async {
            v.host("lab-b").await["state"] == "unreachable"
        })
        .await;
    println!("daemon stopped → unreachable in {took:?}");
    assert_reason(&v.host("lab-b").await);
    let (_, t) = v.timed_get("/api/guests").await;
    assert!(t < Duration::from_secs(1), "{t:?}");
    assert_eq!(
        state_of(&v, "lab-b", &name).await,
        Some(("shutoff".into(), true)),
        "listed as last seen"
    );
    assert_eq!(v.host("lab-a").await["state"], "connected");
    let b = v.host("lab-b").await;
    assert!(
        b["next_attempt_at"].is_string() && b["state_since"].is_string(),
        "{b}"
    );
    lab.lab(&["start", "b"]);
    let took = v
        .until(Duration::from_secs(60), "lab-b back", || async {
            v.host("lab-b").await["state"] == "connected"
        })
        .await;
    println!("daemon back → connected in {took:?}");
    v.until(Duration::from_secs(3), "current again", || async {
        state_of(&v, "lab-b", &name).await == Some(("shutoff".into(), false))
    })
    .await;

    // 2. The daemon goes silent (stopped, not dead): keepalive notices.
    let pid = lab.libvirtd_pid("b");
    assert!(Command::new("kill")
        .args(["-STOP", &pid.to_string()])
        .status()
        .unwrap()
        .success());
    // Thawed again even when the wait fails.
    struct Thaw(i32);
    impl Drop for Thaw {
        fn drop(&mut self) {
            let _ = Command::new("kill")
                .args(["-CONT", &self.0.to_string()])
                .status();
        }
    }
    let _thaw = Thaw(pid);
    let stopped = std::time::Instant::now();
    // While lab-b is silent but not yet known to be, the balance advisor
    // goes on reading lab-a, and its page answers at once.
    let before = v.get("/api/balance").await["sampled_at"].clone();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (balance, t) = v.timed_get("/api/balance").await;
    assert!(t < Duration::from_secs(1), "{t:?}");
    assert_ne!(balance["sampled_at"], before, "sampling stalled: {balance}");
    v.until(
        Duration::from_secs(15),
        "silent lab-b unreachable",
        || async { v.host("lab-b").await["state"] == "unreachable" },
    )
    .await;
    let silent = stopped.elapsed();
    let (_, t) = v.timed_get("/api/guests").await;
    assert_reason(&v.host("lab-b").await);
    assert!(Command::new("kill")
        .args(["-CONT", &pid.to_string()])
        .status()
        .unwrap()
        .success());
    println!("daemon silent → unreachable in {silent:?}");
    assert!(t < Duration::from_secs(1), "{t:?}");
    let took = v
        .until(
            Duration::from_secs(90),
            "lab-b back after SIGCONT",
            || async { v.host("lab-b").await["state"] == "connected" },
        )
        .await;
    println!("daemon continued → connected in {took:?}");
    lab.virsh("b", &["undefine", &name]);
}

/// An unreachable host's summary gives libvirt's reason, not only a state.
fn assert_reason(host: &Value) {
    let error = host["error"].as_str().unwrap_or("");
    println!("{} unreachable: {error}", host["name"]);
    assert!(
        [
            "unable to connect",
            "Connection refused",
            "End of file",
            "keepalive",
            "closed",
            "timed out",
            "Timed out",
            // A host that accepts TCP and never answers gives libvirt nothing to say.
            "no answer within 12 s",
        ]
        .iter()
        .any(|r| error.contains(r)),
        "libvirt's reason in {host}"
    );
}

/// A "host" that accepts TCP connections and never answers.
fn hung_listener() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            let mut s = stream;
            let mut buf = [0u8; 1024];
            let _ = s.set_read_timeout(Some(Duration::from_millis(10)));
            let _ = s.read(&mut buf);
            held.push(s);
        }
    });
    port
}

#[tokio::test]
async fn a_hung_host_holds_nothing_up_and_threads_stay_bounded() {
    let _serial = SERIAL.lock().await;
    let lab = Lab::load();
    let hung = format!("qemu+tcp://127.0.0.1:{}/system", hung_listener());
    let (v, _dir) =
        Virtdeck::with_hosts(&[("lab-a", lab.get("LAB_HOST_A_URI")), ("hung", &hung)]).await;
    let mut slowest = Duration::ZERO;
    for i in 0..200 {
        let path = match i % 4 {
            0 => "/api/guests",
            1 => "/api/hosts",
            2 => "/api/guests/counts",
            _ => "/guests",
        };
        let (_, t) = v.timed_get(path).await;
        slowest = slowest.max(t);
    }
    println!(
        "200 requests beside a hung host: slowest {slowest:?}, {} threads",
        v.threads()
    );
    assert!(slowest < Duration::from_secs(1), "slowest {slowest:?}");
    assert!(v.threads() <= 64, "{} threads", v.threads());
    v.until(
        Duration::from_secs(15),
        "the hung host unreachable",
        || async { v.host("hung").await["state"] == "unreachable" },
    )
    .await;
    assert_reason(&v.host("hung").await);
    let (guests, _) = v.timed_get("/api/guests").await;
    assert!(guests
        .as_array()
        .unwrap()
        .iter()
        .all(|g| g["host"] == "lab-a"));
    let (page, _) = v.timed_get("/guests").await;
    assert!(
        page.as_str().unwrap().contains("hung</strong> is"),
        "the page names the hung host"
    );
}
