//! Maintenance windows on the lab's three real libvirt hosts with real QEMU
//! guests (TCG): lab-c is emptied onto lab-a and lab-b. Every guest leaves
//! and the host shows *in maintenance* only after the last one; a shut-off
//! guest's definition moves with it; a guest that cannot leave is listed
//! before anything starts; a migration that fails on its first target is
//! retried on another; a scheduled evacuation starts at its time after
//! virtdeck restarted in between; exit brings the guests back.
//!
//! A test binary of its own (cargo runs test binaries one after the other,
//! so nothing else uses the lab meanwhile), one test at a time. Each test
//! runs its own virtdeck (its own database: a host's maintenance is
//! virtdeck's, not libvirt's) and removes its guests and pools, also when it
//! fails. Each prints its figures (`EVACUATION …` lines).

#[path = "common/hook.rs"]
mod hook;
#[allow(dead_code)]
#[path = "api/lab.rs"]
mod lab;
#[allow(dead_code)]
#[path = "common/virtdeck.rs"]
mod virtdeck;

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use lab::{bios_guest, new_uuid, unique, GuestGuard, Lab};
use virtdeck::{config_dir, free_port, Virtdeck};

/// One test at a time: they empty lab-c.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const C: &str = "lab-c";

fn hosts(lab: &Lab) -> Vec<(&str, &str)> {
    vec![
        ("lab-a", lab.get("LAB_HOST_A_URI")),
        ("lab-b", lab.get("LAB_HOST_B_URI")),
        (C, lab.get("LAB_HOST_C_URI")),
    ]
}

/// virtdeck over the three hosts, once it sees them connected.
async fn virtdeck(lab: &Lab, dir: &tempfile::TempDir, port: u16) -> Virtdeck {
    let _ = hosts(lab);
    let v = Virtdeck::start(dir.path(), port).await;
    v.until_connected().await;
    v
}

/// Running diskless guests on lab-c, removed from every host when dropped.
fn running_guests(lab: &Lab, prefix: &str, n: usize) -> Vec<(String, String, GuestGuard)> {
    (0..n)
        .map(|_| {
            let (name, uuid) = (unique(prefix), new_uuid());
            lab.define(C, &bios_guest(&name, &uuid, ""), true);
            let guard = lab.guard(&name);
            (name, uuid, guard)
        })
        .collect()
}

/// Waits until virtdeck lists at least `n` guests on lab-c.
async fn sees_at_least(v: &Virtdeck, n: usize) {
    v.until(
        Duration::from_secs(20),
        "virtdeck sees the guests",
        || async {
            let page = v.get("/api/guests?host=lab-c").await;
            page.as_array().map_or(0, |g| g.len()) >= n
        },
    )
    .await;
}

/// Waits until virtdeck lists guest `uuid` on lab-c.
async fn sees(v: &Virtdeck, uuid: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let page = v.get("/api/guests?host=lab-c").await;
        if page
            .as_array()
            .is_some_and(|g| g.iter().any(|x| x["uuid"] == uuid))
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "virtdeck does not list {uuid} on lab-c: {page}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn evacuation(v: &Virtdeck, id: &str) -> Value {
    v.get(&format!("/api/evacuations?id={id}")).await[0].clone()
}

/// The plan of lab-c with these options (`{}`: the defaults).
async fn plan_of(v: &Virtdeck, options: Value) -> Value {
    let mut body = json!({"host": C});
    body.as_object_mut()
        .unwrap()
        .extend(options.as_object().unwrap().clone());
    let (status, plan) = v.post("/api/hosts/maintenance/plan", &body).await;
    assert_eq!(status, 200, "{plan}");
    plan
}

/// A guest's row in a plan or an evacuation.
fn row<'a>(e: &'a Value, uuid: &str) -> &'a Value {
    e["guests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["uuid"] == uuid)
        .unwrap_or_else(|| panic!("guest {uuid} in {e}"))
}

fn ended(e: &Value) -> bool {
    !matches!(e["state"].as_str(), Some("running" | "scheduled"))
}

/// Polls the evacuation until it ended (at most `limit`).
async fn wait_ended(v: &Virtdeck, id: &str, limit: Duration) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let e = evacuation(v, id).await;
        if ended(&e) {
            return e;
        }
        assert!(
            Instant::now() < deadline,
            "evacuation {id} after {limit:?}: {e}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The names of the guests running on a lab host, from libvirt itself.
fn running_on(lab: &Lab, host: &str) -> Vec<String> {
    lab.virsh(host, &["list", "--state-running", "--name"])
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// A pool on the lab's shared iSCSI LUN, on all three hosts; deleted on drop.
struct SharedPool {
    lab: Lab,
    name: String,
}

impl Drop for SharedPool {
    fn drop(&mut self) {
        for host in ["lab-a", "lab-b", C] {
            let _ = self.lab.virsh_ok(host, &["pool-destroy", &self.name]);
            let _ = self.lab.virsh_ok(host, &["pool-undefine", &self.name]);
        }
    }
}

async fn shared_pool(lab: &Lab, v: &Virtdeck) -> SharedPool {
    let name = unique("mnt-iscsi");
    let (portal, port) = lab.get("LAB_ISCSI_PORTAL").split_once(':').unwrap();
    let (status, results) = v
        .post(
            "/api/pools",
            &json!({"hosts": ["lab-a", "lab-b", C], "name": name, "type": "iscsi-direct",
                    "source_host": portal, "source_port": port.parse::<u16>().unwrap(),
                    "source_device": lab.get("LAB_ISCSI_TARGET"),
                    "initiator_iqn": "iqn.2026-11.org.virtdeck:mnt-{host}"}),
        )
        .await;
    let pool = SharedPool {
        lab: lab.clone(),
        name,
    };
    assert_eq!(status, 200, "{results}");
    for r in results.as_array().unwrap() {
        assert!(r["error"].is_null(), "{results}");
    }
    pool
}

const SECRET: &str = "lab-webhook-secret-0123";

#[tokio::test]
async fn lab_maintenance_every_guest_leaves_then_the_host_is_in_maintenance_and_they_come_back() {
    let _serial = SERIAL.lock().await;
    let lab = Lab::load();
    let (hook, got) = hook::receiver(0).await;
    let notify = format!(
        "[[notify]]\nurl = \"{hook}\"\nevents = [\"evacuation.started\", \"evacuation.done\", \"evacuation.failed\"]\nsecret = \"{SECRET}\"\n"
    );
    let dir = config_dir(&hosts(&lab), &notify);
    let v = virtdeck(&lab, &dir, free_port()).await;
    let pool = shared_pool(&lab, &v).await;

    let running = running_guests(&lab, "mnt-run", 4);
    let (off_name, off_uuid) = (unique("mnt-off"), new_uuid());
    let disk = format!(
        "<disk type='volume' device='disk'><driver name='qemu' type='raw'/><source pool='{}' volume='unit:0:0:1'/><target dev='vda' bus='virtio'/></disk>",
        pool.name
    );
    lab.define(C, &bios_guest(&off_name, &off_uuid, &disk), false);
    let _off = lab.guard(&off_name);
    sees_at_least(&v, 5).await;

    // The plan: four live migrations spread over both targets, one definition.
    let plan = plan_of(&v, json!({})).await;
    assert_eq!(plan["fits"], true, "{plan}");
    let mut destinations = Vec::new();
    for (_, uuid, _) in &running {
        let p = row(&plan, uuid);
        assert_eq!(p["action"], "migrate", "{p}");
        destinations.push(p["destination"].as_str().unwrap().to_string());
    }
    assert!(
        destinations.iter().any(|d| d == "lab-a"),
        "{destinations:?}"
    );
    assert!(
        destinations.iter().any(|d| d == "lab-b"),
        "{destinations:?}"
    );
    let off = row(&plan, &off_uuid);
    assert_eq!(off["action"], "migrate_offline", "{off}");

    let started = Instant::now();
    let (status, body) = v
        .post(
            "/api/hosts/maintenance",
            &json!({"host": C, "action": "enter"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let id = body["id"].as_str().unwrap().to_string();

    // Watch: "entering" while guests are left; "on" only once lab-c runs nothing.
    let mut saw_entering_with_guests = false;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let m = v.host(C).await["maintenance"].clone();
        match m["state"].as_str() {
            Some("entering") => {
                if !running_on(&lab, C).is_empty() {
                    saw_entering_with_guests = true;
                }
            }
            Some("on") => {
                assert_eq!(
                    running_on(&lab, C),
                    Vec::<String>::new(),
                    "in maintenance while guests run"
                );
                let e = evacuation(&v, &id).await;
                assert_eq!(e["state"], "done", "{e}");
                break;
            }
            other => panic!("lab-c maintenance {other:?}: {}", evacuation(&v, &id).await),
        }
        assert!(Instant::now() < deadline, "{}", evacuation(&v, &id).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = started.elapsed();
    assert!(
        saw_entering_with_guests,
        "the host said entering while its guests left"
    );
    let e = evacuation(&v, &id).await;
    for (name, uuid, _) in &running {
        let r = row(&e, uuid);
        assert_eq!(r["status"], "done", "{r}");
        assert_eq!(r["attempts"], 1, "{r}");
        let dest = r["destination"].as_str().unwrap();
        assert_eq!(
            lab.state(dest, name).as_deref(),
            Some("running"),
            "{name} on {dest}"
        );
        assert!(lab.persistent(dest, name), "{name} defined on {dest}");
        assert_eq!(lab.state(C, name), None, "{name} left lab-c for good");
    }
    let r = row(&e, &off_uuid);
    assert_eq!(r["status"], "done", "{r}");
    let dest = r["destination"].as_str().unwrap();
    assert_eq!(lab.state(dest, &off_name).as_deref(), Some("shut off"));
    assert_eq!(lab.state(C, &off_name), None, "the definition moved");
    let m = v.host(C).await["maintenance"].clone();
    assert_eq!(m["evacuation"], id.as_str());
    println!(
        "EVACUATION 4 running + 1 shut-off guest(s) off lab-c in {:.1} s",
        took.as_secs_f64()
    );

    // The webhook receiver got both events of this evacuation, signed.
    let deadline = Instant::now() + Duration::from_secs(60);
    let events = loop {
        let events: Vec<(String, String, String)> = got.lock().unwrap().clone();
        if events.iter().any(|(e, _, _)| e == "evacuation.done") {
            break events;
        }
        assert!(
            Instant::now() < deadline,
            "no evacuation.done within 60 s: {events:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let names: Vec<&str> = events.iter().map(|(e, _, _)| e.as_str()).collect();
    assert_eq!(
        names,
        ["evacuation.started", "evacuation.done"],
        "{events:?}"
    );
    for (_, signature, body) in &events {
        assert_eq!(signature, &hook::signed(SECRET, body), "{body}");
        let body: Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["data"]["id"], id.as_str(), "{body}");
        assert_eq!(body["data"]["host"], C);
    }

    // Nothing may arrive or start there now.
    let (status, err) = v
        .post(
            "/api/migrations",
            &json!({"host": destinations[0], "uuid": running[0].1, "destination": C, "mode": "live"}),
        )
        .await;
    assert_eq!(status, 409, "{err}");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("host lab-c is in maintenance"),
        "{err}"
    );

    // Exit, bringing them back.
    let started = Instant::now();
    let (status, body) = v
        .post(
            "/api/hosts/maintenance",
            &json!({"host": C, "action": "exit", "return_guests": true}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        v.host(C).await["maintenance"],
        Value::Null,
        "out of maintenance at once"
    );
    let back = wait_ended(&v, body["id"].as_str().unwrap(), Duration::from_secs(300)).await;
    assert_eq!(back["state"], "done", "{back}");
    assert_eq!(back["kind"], "exit");
    assert_eq!(
        back["guests"].as_array().unwrap().len(),
        4,
        "the running ones: {back}"
    );
    for (name, _, _) in &running {
        assert_eq!(
            lab.state(C, name).as_deref(),
            Some("running"),
            "{name} is back"
        );
    }
    println!(
        "EVACUATION return of 4 guest(s) to lab-c in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    drop(pool);
}

#[tokio::test]
async fn lab_maintenance_a_guest_with_a_local_disk_is_blocked_before_anything_starts() {
    let _serial = SERIAL.lock().await;
    let lab = Lab::load();
    let dir = config_dir(&hosts(&lab), "");
    let v = virtdeck(&lab, &dir, free_port()).await;
    let (name, uuid) = (unique("mnt-local"), new_uuid());
    let volume = format!("{name}.raw");
    lab.virsh(C, &["vol-create-as", "default", &volume, "1M"]);
    let disk = format!(
        "<disk type='volume' device='disk'><driver name='qemu' type='raw'/><source pool='default' volume='{volume}'/><target dev='vda' bus='virtio'/></disk>"
    );
    lab.define(C, &bios_guest(&name, &uuid, &disk), true);
    let _guard = lab.guard(&name);
    let _volume = VolumeGuard(lab.clone(), volume.clone());
    let mover = running_guests(&lab, "mnt-fine", 1);
    sees_at_least(&v, 2).await;

    let plan = plan_of(&v, json!({})).await;
    let g = row(&plan, &uuid);
    assert_eq!(g["action"], "blocked", "{g}");
    let reason = g["reason"].as_str().unwrap();
    assert!(reason.starts_with("it cannot leave: to lab-"), "{reason}");
    assert!(reason.contains("vda"), "the disk is named: {reason}");
    let other = row(&plan, &mover[0].1);
    assert_eq!(other["action"], "migrate", "{other}");

    let (status, err) = v
        .post(
            "/api/hosts/maintenance",
            &json!({"host": C, "action": "enter"}),
        )
        .await;
    assert_eq!(status, 409, "{err}");
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("{name}: it cannot leave")),
        "{message}"
    );
    assert!(message.contains("nothing was started"), "{message}");
    assert_eq!(v.host(C).await["maintenance"], Value::Null);
    assert_eq!(v.get("/api/evacuations").await, json!([]));
    assert_eq!(
        v.get("/api/migrations").await,
        json!([]),
        "no migration started"
    );
    let mut here = running_on(&lab, C);
    here.sort();
    let mut want = vec![name.clone(), mover[0].0.clone()];
    want.sort();
    assert_eq!(here, want, "both still run on lab-c");

    // With copy storage allowed, the plan copies its disk instead.
    let plan = plan_of(&v, json!({"copy_storage": true})).await;
    let g = row(&plan, &uuid);
    assert_eq!(
        (&g["action"], &g["copy_storage"]),
        (&json!("migrate"), &json!(true)),
        "{g}"
    );
}

/// Deletes a volume of lab-c's `default` pool when dropped.
struct VolumeGuard(Lab, String);

impl Drop for VolumeGuard {
    fn drop(&mut self) {
        for host in ["lab-a", "lab-b", C] {
            let _ = self
                .0
                .virsh_ok(host, &["vol-delete", "--pool", "default", &self.1]);
        }
    }
}

/// Listeners on every migration port of lab-a's address: QEMU there cannot
/// listen, so a migration to lab-a fails in libvirt ("Unable to find an
/// unused port in range 'migration'"). Dropped: the ports are free again.
struct BlockedPorts(#[allow(dead_code)] Vec<std::net::TcpListener>);

fn block_migrations_to_lab_a() -> BlockedPorts {
    BlockedPorts(
        (49152..=49183)
            .map(|p| {
                std::net::TcpListener::bind(("127.0.0.2", p)).expect("a free lab-a migration port")
            })
            .collect(),
    )
}

#[tokio::test]
async fn lab_maintenance_a_failed_migration_is_retried_on_another_target() {
    let _serial = SERIAL.lock().await;
    let lab = Lab::load();
    let dir = config_dir(&hosts(&lab), "");
    let v = virtdeck(&lab, &dir, free_port()).await;
    let guests = running_guests(&lab, "mnt-retry", 1);
    let (name, uuid) = (guests[0].0.clone(), guests[0].1.clone());
    sees(&v, &uuid).await;
    let blocked = block_migrations_to_lab_a();
    let mut pins = serde_json::Map::new();
    pins.insert(uuid.clone(), json!("lab-a"));
    let (status, body) = v
        .post(
            "/api/hosts/maintenance",
            &json!({"host": C, "action": "enter", "pins": pins}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let id = body["id"].as_str().unwrap();
    let e = wait_ended(&v, id, Duration::from_secs(180)).await;
    drop(blocked);
    assert_eq!(e["state"], "done", "{e}");
    let r = row(&e, &uuid);
    assert_eq!(r["status"], "done", "{r}");
    assert_eq!(r["attempts"], 2, "{r}");
    assert_eq!(r["tried"], json!(["lab-a", "lab-b"]), "{r}");
    assert_eq!(r["destination"], "lab-b");
    assert_eq!(lab.state("lab-b", &name).as_deref(), Some("running"));
    assert_eq!(lab.state("lab-a", &name), None);
    let failed = e["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["phase"] == "attempt failed")
        .unwrap_or_else(|| panic!("{e}"));
    let text = failed["text"].as_str().unwrap();
    assert!(text.contains("to lab-a failed"), "{text}");
    assert!(
        text.contains("Unable to find an unused port"),
        "libvirt's reason: {text}"
    );
    assert!(
        e["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["phase"] == "retrying"
                && s["text"].as_str().unwrap().ends_with("retrying on lab-b")),
        "{e}"
    );
    assert_eq!(v.host(C).await["maintenance"]["state"], "on");
}

#[tokio::test]
async fn lab_maintenance_a_scheduled_evacuation_starts_at_its_time_after_a_restart() {
    let _serial = SERIAL.lock().await;
    let lab = Lab::load();
    let dir = config_dir(&hosts(&lab), "");
    let port = free_port();
    let v = virtdeck(&lab, &dir, port).await;
    let guests = running_guests(&lab, "mnt-sched", 1);
    let (name, uuid) = (guests[0].0.clone(), guests[0].1.clone());
    sees(&v, &uuid).await;
    let rfc3339 = &time::format_description::well_known::Rfc3339;
    let due = (time::OffsetDateTime::now_utc() + time::Duration::seconds(10))
        .replace_nanosecond(0)
        .unwrap();
    let at = due.format(rfc3339).unwrap();
    let (status, body) = v
        .post(
            "/api/hosts/maintenance",
            &json!({"host": C, "action": "enter", "at": at}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    assert_eq!(v.host(C).await["maintenance"]["state"], "scheduled");
    // virtdeck dies and comes back before the time.
    v.kill();
    let v = virtdeck(&lab, &dir, port).await;
    assert_eq!(
        v.host(C).await["maintenance"]["state"],
        "scheduled",
        "kept across the restart"
    );
    assert_eq!(
        lab.state(C, &name).as_deref(),
        Some("running"),
        "not before its time"
    );
    let e = wait_ended(&v, &id, Duration::from_secs(120)).await;
    assert_eq!(e["state"], "done", "{e}");
    let started = time::OffsetDateTime::parse(e["started_at"].as_str().unwrap(), rfc3339).unwrap();
    assert!(started >= due, "started {started}, due {due}");
    let late = started - due;
    assert!(late <= time::Duration::seconds(30), "started {late} late");
    println!(
        "EVACUATION scheduled start {:.1} s after its time (virtdeck restarted in between)",
        late.as_seconds_f64()
    );
    assert_ne!(lab.state(C, &name).as_deref(), Some("running"));
    assert_eq!(v.host(C).await["maintenance"]["state"], "on");
}
