//! New guests, editing, clone, snapshots and delete through the HTTP API,
//! against libvirt's test driver (the demo fixtures: demo-alpha has web01
//! running, db01 running, build01 shut off, cache01 paused; pools `default`,
//! `iso`, `shared-nfs`; network `default`). The XML libvirt keeps is what the
//! detail endpoint reads back. Real QEMU guests: `lab_guests`.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

const BUILD01: &str = "6b1f7c3e-0a11-4c5e-9a01-00000000a003";
const WEB01: &str = "6b1f7c3e-0a11-4c5e-9a01-00000000a001";

async fn guest_names(app: &TestApp, c: &reqwest::Client) -> Vec<String> {
    let (status, list) = app.get(c, "/api/guests?host=demo-alpha").await;
    assert_eq!(status, 200, "{list}");
    list.as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_string())
        .collect()
}

async fn volume_names(app: &TestApp, c: &reqwest::Client, pool: &str) -> Vec<String> {
    let (status, list) = app
        .get(c, &format!("/api/volumes?host=demo-alpha&pool={pool}"))
        .await;
    assert_eq!(status, 200, "{list}");
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect()
}

async fn detail(app: &TestApp, c: &reqwest::Client, uuid: &str) -> Value {
    let (status, d) = app
        .get(
            c,
            &format!("/api/guests/detail?host=demo-alpha&uuid={uuid}"),
        )
        .await;
    assert_eq!(status, 200, "{d}");
    d
}

fn new_guest() -> Value {
    json!({
        "host": "demo-alpha",
        "name": "web03",
        "memory_mib": 1024,
        "vcpus": 2,
        "firmware": "bios",
        "install": {"kind": "iso", "pool": "iso", "volume": "debian-12-netinst.iso"},
        "disk": {"pool": "default", "name": "web03.qcow2", "format": "qcow2", "capacity": "8G"},
        "network": "default",
        "os": "debian12",
        "start": true
    })
}

#[tokio::test]
async fn the_options_say_what_the_host_offers() {
    let app = spawn_app(vec![]).await;
    let c = app.admin().await;
    let (status, o) = app.get(&c, "/api/guests/options?host=demo-alpha").await;
    assert_eq!(status, 200, "{o}");
    assert_eq!(o["cpus"], 8);
    assert_eq!(o["memory_total_mib"], 32768);
    assert_eq!(o["accels"], json!(["test"]));
    // The test driver has no UEFI firmware to offer.
    assert_eq!(o["firmware"], json!(["bios"]));
    assert_eq!(o["networks"][0]["name"], "default");
    assert!(o["presets"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["id"] == "win10" && p["disk_bus"] == "sata"));
    let (status, _) = app.get(&c, "/api/guests/options?host=nowhere").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_new_guest_is_defined_started_and_read_back() {
    let app = spawn_app(vec![]).await;
    let c = app.admin().await;
    let (status, g) = app.post(&c, "/api/guests", &new_guest()).await;
    assert_eq!(status, 200, "{g}");
    assert_eq!(g["name"], "web03");
    assert_eq!(g["state"], "running");
    assert_eq!(g["memory_kib"], 1024 * 1024);
    assert_eq!(g["vcpus"], 2);
    assert!(guest_names(&app, &c).await.contains(&"web03".to_string()));
    assert!(volume_names(&app, &c, "default")
        .await
        .contains(&"web03.qcow2".to_string()));

    let uuid = g["uuid"].as_str().unwrap();
    let d = detail(&app, &c, uuid).await;
    assert_eq!(d["boot"], json!(["cdrom", "hd"]));
    assert_eq!(d["os"], "http://debian.org/debian/12");
    assert_eq!(d["max_memory_kib"], 1024 * 1024);
    let disks = d["disks"].as_array().unwrap();
    assert_eq!(disks.len(), 2, "{d}");
    assert_eq!(disks[0]["device"], "disk");
    assert_eq!(disks[0]["target"], "vda");
    assert_eq!(disks[0]["bus"], "virtio");
    assert_eq!(disks[0]["format"], "qcow2");
    assert_eq!(disks[0]["pool"], "default");
    assert_eq!(disks[0]["volume"], "web03.qcow2");
    assert_eq!(disks[0]["capacity"], 8u64 << 30);
    assert_eq!(disks[1]["device"], "cdrom");
    assert_eq!(
        disks[1]["path"],
        "/var/lib/libvirt/iso/debian-12-netinst.iso"
    );
    assert_eq!(disks[1]["readonly"], true);
    assert_eq!(d["nics"][0]["source"], "default");
    assert_eq!(d["nics"][0]["model"], "virtio");

    let audit = app.audit("guest.create").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].outcome, "ok");
}

#[tokio::test]
async fn bad_requests_are_refused_and_leave_nothing_behind() {
    let app = spawn_app(vec![]).await;
    let c = app.admin().await;
    let guests_before = guest_names(&app, &c).await;
    let volumes_before = volume_names(&app, &c, "default").await;
    let with = |patch: Value| {
        let mut body = new_guest();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let cases = [
        (
            with(json!({"name": "web01"})),
            409,
            "already has a guest named web01",
        ),
        (
            with(json!({"memory_mib": 40000})),
            400,
            "more than host demo-alpha has (32768 MiB)",
        ),
        (with(json!({"memory_mib": -1})), 400, "memory_mib"),
        (with(json!({"memory_mib": 1e40})), 400, "memory_mib"),
        (
            with(json!({"vcpus": 64})),
            400,
            "more than host demo-alpha has (8 CPUs)",
        ),
        (with(json!({"name": "x'><evil/>"})), 400, "guest name"),
        (with(json!({"name": ""})), 400, "guest name is required"),
        (with(json!({"network": "nonet"})), 404, "no network named"),
        (with(json!({"firmware": "uefi"})), 422, "UEFI"),
        (with(json!({"accel": "kvm"})), 400, "cannot run kvm guests"),
        (
            with(json!({"install": {"kind": "iso", "pool": "iso", "volume": "missing.iso"}})),
            404,
            "no volume named",
        ),
        (
            with(json!({"install": {"kind": "iso", "pool": "nopool", "volume": "a.iso"}})),
            404,
            "no storage pool named",
        ),
        (
            with(json!({"disk": {"pool": "default", "name": "web01.qcow2", "capacity": "1G"}})),
            409,
            "already has a volume named web01.qcow2",
        ),
        (
            with(json!({"disk": {"pool": "default", "name": "x.qcow2", "capacity": -5}})),
            400,
            "negative",
        ),
        (
            with(json!({"install": {"kind": "network"}, "network": null})),
            400,
            "network boot needs a network",
        ),
    ];
    for (body, want, words) in cases {
        let (status, err) = app.post(&c, "/api/guests", &body).await;
        assert_eq!(status, want, "{body} → {err}");
        let message = err["message"].as_str().unwrap_or_default();
        assert!(message.contains(words), "{words:?} not in {message:?}");
    }
    assert_eq!(guest_names(&app, &c).await, guests_before);
    assert_eq!(volume_names(&app, &c, "default").await, volumes_before);
    let audit = app.audit("guest.create").await;
    assert!(audit.iter().all(|r| r.outcome != "ok"), "{audit:?}");
}

#[tokio::test]
async fn a_shut_off_guest_is_edited_and_a_running_one_within_its_maximum() {
    let app = spawn_app(vec![]).await;
    let c = app.admin().await;
    let update = |body: Value| {
        let mut b = json!({"host": "demo-alpha", "uuid": BUILD01});
        for (k, v) in body.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let (status, d) = app
        .post(
            &c,
            "/api/guests/update",
            &update(json!({
                "memory_mib": 2048, "vcpus": 2, "autostart": true, "boot": ["network", "hd"],
                "attach_disk": {"pool": "shared-nfs", "volume": "golden-image.qcow2"},
                "attach_nic": {"network": "default", "model": "e1000e"}
            })),
        )
        .await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["max_memory_kib"], 2048 * 1024);
    assert_eq!(d["guest"]["vcpus"], 2);
    assert_eq!(d["guest"]["autostart"], true);
    assert_eq!(d["boot"], json!(["network", "hd"]));
    let disks = d["disks"].as_array().unwrap();
    assert_eq!(disks.len(), 2, "{d}");
    assert_eq!(disks[1]["target"], "vdb");
    assert_eq!(disks[1]["volume"], "golden-image.qcow2");
    assert_eq!(d["nics"][0]["model"], "e1000e");
    let mac = d["nics"][0]["mac"]
        .as_str()
        .expect("libvirt gave a MAC")
        .to_string();

    let (status, d) = app
        .post(
            &c,
            "/api/guests/update",
            &update(json!({"detach_disk": "vdb", "detach_nic": mac})),
        )
        .await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["disks"].as_array().unwrap().len(), 1);
    assert!(d["nics"].as_array().unwrap().is_empty());

    for (body, want, words) in [
        (json!({"detach_disk": "vdz"}), 404, "has no disk vdz"),
        (json!({"memory_mib": 99999}), 400, "more than host"),
        (json!({"boot": ["hd", "hd"]}), 400, "twice"),
        (json!({}), 400, "nothing to change"),
    ] {
        let (status, err) = app.post(&c, "/api/guests/update", &update(body)).await;
        assert_eq!(status, want, "{err}");
        assert!(err["message"].as_str().unwrap().contains(words), "{err}");
    }
    // web01 runs with 2048 MiB as its maximum.
    let (status, err) = app
        .post(
            &c,
            "/api/guests/update",
            &json!({"host": "demo-alpha", "uuid": WEB01, "memory_mib": 4096}),
        )
        .await;
    assert_eq!(status, 409, "{err}");
    assert!(err["message"]
        .as_str()
        .unwrap()
        .contains("at most 2048 MiB"));
    let (status, d) = app
        .post(
            &c,
            "/api/guests/update",
            &json!({"host": "demo-alpha", "uuid": WEB01, "memory_mib": 1024}),
        )
        .await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["memory_kib"], 1024 * 1024);
}

async fn wait_job(app: &TestApp, c: &reqwest::Client, id: &str) -> Value {
    for _ in 0..100 {
        let (status, job) = app.get(c, &format!("/api/guests/jobs?id={id}")).await;
        assert_eq!(status, 200, "{job}");
        if job["state"] != "running" {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the job did not end");
}

#[tokio::test]
async fn a_clone_is_a_new_guest_with_its_own_disks() {
    let app = spawn_app(vec![]).await;
    let c = app.admin().await;
    // Give build01 a network interface, so that its clone must get a new MAC.
    let (status, before) = app
        .post(
            &c,
            "/api/guests/update",
            &json!({"host": "demo-alpha", "uuid": BUILD01, "attach_nic": {"network": "default"}}),
        )
        .await;
    assert_eq!(status, 200, "{before}");
    let (status, r) = app
        .post(
            &c,
            "/api/guests/clone",
            &json!({"host": "demo-alpha", "uuid": BUILD01, "name": "build02"}),
        )
        .await;
    assert_eq!(status, 200, "{r}");
    let job = wait_job(&app, &c, r["id"].as_str().unwrap()).await;
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(job["percent"], 100.0);
    let clone = &job["result"];
    assert_eq!(clone["name"], "build02");
    assert_ne!(clone["uuid"], BUILD01);
    let d = detail(&app, &c, clone["uuid"].as_str().unwrap()).await;
    assert_eq!(d["disks"][0]["path"], "/var/lib/libvirt/images/build02.raw");
    assert_eq!(d["disks"][0]["volume"], "build02.raw");
    assert_ne!(d["nics"][0]["mac"], before["nics"][0]["mac"]);
    assert!(volume_names(&app, &c, "default")
        .await
        .contains(&"build02.raw".to_string()));
    // The source is unchanged.
    let src = detail(&app, &c, BUILD01).await;
    assert_eq!(
        src["disks"][0]["path"],
        "/var/lib/libvirt/images/build01.raw"
    );

    for (body, want, words) in [
        (json!({"uuid": WEB01, "name": "web09"}), 409, "shut it down"),
        (
            json!({"uuid": BUILD01, "name": "web01"}),
            409,
            "already has a guest named web01",
        ),
        (
            json!({"uuid": BUILD01, "name": "build02x", "pool": "nopool"}),
            404,
            "no storage pool",
        ),
        (json!({"uuid": BUILD01, "name": "a/b"}), 400, "guest name"),
    ] {
        let mut b = body.clone();
        b["host"] = json!("demo-alpha");
        let (status, err) = app.post(&c, "/api/guests/clone", &b).await;
        assert_eq!(status, want, "{body} → {err}");
        assert!(err["message"].as_str().unwrap().contains(words), "{err}");
    }
    assert_eq!(app.audit("guest.clone").await.len(), 5);
}

#[tokio::test]
async fn a_clone_job_survives_a_restart() {
    let app = spawn_app(vec![]).await;
    let c = app.admin().await;
    let (status, r) = app
        .post(
            &c,
            "/api/guests/clone",
            &json!({"host": "demo-alpha", "uuid": BUILD01, "name": "build02"}),
        )
        .await;
    assert_eq!(status, 200, "{r}");
    let id = r["id"].as_str().unwrap().to_string();
    let ended = wait_job(&app, &c, &id).await;
    assert_eq!(ended["state"], "done", "{ended}");

    let app = app.restart().await;
    let c = app.admin().await;
    let (status, job) = app.get(&c, &format!("/api/guests/jobs?id={id}")).await;
    assert_eq!(status, 200, "{job}");
    assert_eq!(job, ended, "the job reads back as it ended");
    assert_eq!(job["result"]["name"], "build02");
    assert_eq!(job["percent"], 100.0);
    let (status, _) = app.get(&c, "/api/guests/jobs?id=nonesuch").await;
    assert_eq!(status, 404);
}

/// A clone job as the database holds it while it runs.
async fn store_running_clone(app: &TestApp, id: &str, name: &str, started: Value) {
    let job = json!({
        "id": id, "kind": "clone", "host": "demo-alpha", "uuid": BUILD01,
        "source_name": "build01", "name": name, "user": "admin", "state": "running",
        "phase": "copying disk vda (1 of 1)", "bytes_done": 1, "bytes_total": 2,
        "percent": 50.0, "started_at": "2026-01-01T00:00:00Z", "ended_at": null,
        "error": null, "result": null
    });
    let pool = sqlx::SqlitePool::connect(&app.database()).await.unwrap();
    sqlx::query(
        "INSERT INTO jobs (id, kind, state, snapshot, notes, started_at, updated_at) \
         VALUES (?, 'clone', 'running', ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(job.to_string())
    .bind(json!({ "started": started }).to_string())
    .bind("2026-01-01T00:00:00Z")
    .bind("2026-01-01T00:00:01Z")
    .execute(&pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_clone_running_at_a_restart_fails_and_its_partial_copy_is_removed() {
    let app = spawn_app(vec![]).await;
    let c = app.admin().await;
    // What the copy had written when virtdeck stopped.
    let (status, vol) = app
        .post(
            &c,
            "/api/volumes",
            &json!({"host": "demo-alpha", "pool": "default", "name": "build07.raw",
                    "format": "raw", "capacity": "1G", "allocation": "sparse"}),
        )
        .await;
    assert_eq!(status, 200, "{vol}");
    // Its first disk copied, the second (never begun on the host) noted.
    store_running_clone(
        &app,
        "job-copying",
        "build07",
        json!([["default", "build07.raw"], ["default", "build07-vdb.raw"]]),
    )
    .await;
    store_running_clone(&app, "job-planned", "build08", json!([])).await;

    let app = app.restart().await;
    let c = app.admin().await;
    let (status, job) = app.get(&c, "/api/guests/jobs?id=job-copying").await;
    assert_eq!(status, 200, "{job}");
    assert_eq!(job["state"], "failed", "{job}");
    assert!(job["ended_at"].is_string(), "{job}");
    let error = job["error"].as_str().unwrap();
    assert!(
        error.contains("virtdeck restarted while the copy ran; the partial copies were removed")
            && error.contains("build07.raw in pool default"),
        "{error}"
    );
    assert!(!volume_names(&app, &c, "default")
        .await
        .contains(&"build07.raw".to_string()));
    let (_, job) = app.get(&c, "/api/guests/jobs?id=job-planned").await;
    assert_eq!(job["state"], "failed", "{job}");
    assert!(
        job["error"]
            .as_str()
            .unwrap()
            .contains("before the copy began"),
        "{job}"
    );
}

#[tokio::test]
async fn snapshots_are_taken_listed_as_a_tree_reverted_and_deleted() {
    let app = spawn_app(vec![]).await;
    let c = app.admin().await;
    let snap = |name: &str, description: &str| json!({"host": "demo-alpha", "uuid": WEB01, "name": name, "description": description});
    let (status, s1) = app
        .post(
            &c,
            "/api/guests/snapshots",
            &snap("before-upgrade", "kernel <6.1> & \"libc\""),
        )
        .await;
    assert_eq!(status, 200, "{s1}");
    assert_eq!(s1["description"], "kernel <6.1> & \"libc\"");
    assert_eq!(s1["memory"], true);
    let (status, s2) = app
        .post(&c, "/api/guests/snapshots", &snap("after", ""))
        .await;
    assert_eq!(status, 200, "{s2}");
    assert_eq!(s2["parent"], "before-upgrade");
    let (status, err) = app
        .post(&c, "/api/guests/snapshots", &snap("after", ""))
        .await;
    assert_eq!(status, 409, "{err}");
    let (status, err) = app
        .post(&c, "/api/guests/snapshots", &snap("a<b", ""))
        .await;
    assert_eq!(status, 400, "{err}");

    let action = |snapshot: &str, action: &str| json!({"host": "demo-alpha", "uuid": WEB01, "snapshot": snapshot, "action": action});
    let (status, list) = app
        .post(
            &c,
            "/api/guests/snapshots/action",
            &action("before-upgrade", "revert"),
        )
        .await;
    assert_eq!(status, 200, "{list}");
    let current: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["current"] == true)
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(current, ["before-upgrade"]);
    let (status, list) = app
        .post(
            &c,
            "/api/guests/snapshots/action",
            &action("after", "delete"),
        )
        .await;
    assert_eq!(status, 200, "{list}");
    let (_, listed) = app
        .get(
            &c,
            &format!("/api/guests/snapshots?host=demo-alpha&uuid={WEB01}"),
        )
        .await;
    assert_eq!(list, listed);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    for (body, want) in [
        (action("after", "delete"), 404),
        (action("before-upgrade", "explode"), 400),
    ] {
        let (status, err) = app.post(&c, "/api/guests/snapshots/action", &body).await;
        assert_eq!(status, want, "{err}");
    }
    let audit = app.audit("guest.snapshot.").await;
    let actions: Vec<&str> = audit.iter().map(|r| r.action.as_str()).collect();
    assert!(actions.contains(&"guest.snapshot.invalid"), "{actions:?}");
}

#[tokio::test]
async fn delete_removes_the_guest_and_only_its_own_unshared_volumes() {
    let app = spawn_app(vec![]).await;
    let c = app.admin().await;
    // build01 also gets db01's data disk: that one must never be deleted with it.
    let (status, d) = app
        .post(
            &c,
            "/api/guests/update",
            &json!({"host": "demo-alpha", "uuid": BUILD01,
                    "attach_disk": {"pool": "shared-nfs", "volume": "db01-data.qcow2"}}),
        )
        .await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["disks"][1]["shared_with"][0]["name"], "db01");
    assert_eq!(d["disks"][1]["shared_with"][0]["host"], "demo-alpha");
    assert_eq!(d["disks"][1]["shared_with"].as_array().unwrap().len(), 1);
    let own = "/var/lib/libvirt/images/build01.raw";
    let shared = "/var/lib/libvirt/images/shared-nfs/db01-data.qcow2";
    for (paths, want, words) in [
        (json!([own, shared]), 409, "also used by db01"),
        (
            json!(["/var/lib/libvirt/images/web01.qcow2"]),
            400,
            "is not a disk of build01",
        ),
    ] {
        let (status, err) = app
            .post(
                &c,
                "/api/guests/delete",
                &json!({"host": "demo-alpha", "uuid": BUILD01, "delete_volumes": paths}),
            )
            .await;
        assert_eq!(status, want, "{err}");
        assert!(err["message"].as_str().unwrap().contains(words), "{err}");
    }
    assert!(guest_names(&app, &c).await.contains(&"build01".to_string()));
    assert!(volume_names(&app, &c, "default")
        .await
        .contains(&"build01.raw".to_string()));

    let (status, report) = app
        .post(
            &c,
            "/api/guests/delete",
            &json!({"host": "demo-alpha", "uuid": BUILD01, "delete_volumes": [own]}),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["deleted_volumes"], json!([own]));
    assert!(!guest_names(&app, &c).await.contains(&"build01".to_string()));
    assert!(!volume_names(&app, &c, "default")
        .await
        .contains(&"build01.raw".to_string()));
    assert!(volume_names(&app, &c, "shared-nfs")
        .await
        .contains(&"db01-data.qcow2".to_string()));

    // A running guest is forced off first.
    let (status, report) = app
        .post(
            &c,
            "/api/guests/delete",
            &json!({"host": "demo-alpha", "uuid": WEB01}),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["stopped"], true);
    assert_eq!(report["deleted_volumes"], json!([]));
    let (status, _) = app
        .get(
            &c,
            &format!("/api/guests/detail?host=demo-alpha&uuid={WEB01}"),
        )
        .await;
    assert_eq!(status, 404);
}
