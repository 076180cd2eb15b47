//! New guests on a real libvirt host of the lab (QEMU, TCG): created from the
//! API with a new qcow2 volume and started, snapshotted and reverted, cloned
//! (a separate file, a new MAC), deleted with their volumes (files gone), and
//! a start that fails leaves nothing behind.

use std::{path::PathBuf, process::Command, time::Duration, time::Instant};

use serde_json::{json, Value};

use crate::{
    helpers::{spawn_app_with, TestApp},
    lab::{linux_guest_with, new_uuid, unique, Lab},
};

fn qemu_img(args: &[&str], path: &PathBuf) -> String {
    let out = Command::new("qemu-img")
        .args(args)
        .arg(path)
        .output()
        .expect("qemu-img runs");
    assert!(out.status.success(), "qemu-img {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A dir pool of its own on lab-a, deleted with its files when dropped.
struct Pool<'a> {
    app: &'a TestApp,
    client: &'a reqwest::Client,
    name: String,
}

impl Pool<'_> {
    async fn delete(self) {
        let (status, body) = self
            .app
            .post(
                self.client,
                "/api/pools/action",
                &json!({"host": "lab-a", "pool": self.name, "action": "delete", "delete_storage": true}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
}

async fn pool<'a>(app: &'a TestApp, client: &'a reqwest::Client) -> Pool<'a> {
    let name = unique("vd-guests");
    let (status, body) = app
        .post(
            client,
            "/api/pools",
            &json!({"host": "lab-a", "name": name, "type": "dir",
                    "target_path": format!("/var/lib/libvirt/images/{name}")}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    Pool { app, client, name }
}

async fn wait_job(app: &TestApp, c: &reqwest::Client, id: &str) -> Value {
    for _ in 0..600 {
        let (status, job) = app.get(c, &format!("/api/guests/jobs?id={id}")).await;
        assert_eq!(status, 200, "{job}");
        if job["state"] != "running" {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the job did not end within a minute");
}

#[tokio::test]
async fn lab_a_guest_is_created_snapshotted_cloned_and_deleted_for_real() {
    let lab = Lab::load();
    let app = spawn_app_with(lab.hosts()).await;
    let c = app.admin().await;
    let pool = pool(&app, &c).await;
    let name = unique("vd-new");
    let _guard = lab.guard(&name);
    let clone_name = format!("{name}-copy");
    let _clone_guard = lab.guard(&clone_name);
    // An installer image to boot from (empty: the guest sits in the firmware).
    let (status, iso) = app
        .post(
            &c,
            "/api/volumes",
            &json!({"host": "lab-a", "pool": pool.name, "name": "installer.iso",
                    "format": "raw", "capacity": "1M"}),
        )
        .await;
    assert_eq!(status, 200, "{iso}");

    let started = Instant::now();
    let (status, g) = app
        .post(
            &c,
            "/api/guests",
            &json!({
                "host": "lab-a", "name": name, "memory_mib": 256, "vcpus": 1,
                "accel": "qemu", "os": "linux",
                "install": {"kind": "iso", "pool": pool.name, "volume": "installer.iso"},
                "disk": {"pool": pool.name, "name": format!("{name}.qcow2"), "format": "qcow2", "capacity": "1G"},
                "start": true
            }),
        )
        .await;
    let took = started.elapsed();
    assert_eq!(status, 200, "{g}");
    assert_eq!(g["state"], "running");
    println!("create-to-running through the API: {} ms", took.as_millis());
    assert_eq!(lab.state("lab-a", &name).as_deref(), Some("running"));
    let uuid = g["uuid"].as_str().unwrap().to_string();
    let disk_path = format!("/var/lib/libvirt/images/{}/{name}.qcow2", pool.name);
    let file = lab.outside("lab-a", &disk_path);
    assert!(qemu_img(&["info", "-U"], &file).contains("file format: qcow2"));
    // The display listens on the host's own address, with a password.
    let xml = lab.virsh("lab-a", &["dumpxml", "--security-info", &name]);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let graphics = doc
        .descendants()
        .find(|n| n.has_tag_name("graphics"))
        .expect("a VNC display");
    assert_eq!(graphics.attribute("type"), Some("vnc"));
    let address = lab.uri("lab-a").split('/').nth(2).unwrap().to_string();
    assert_eq!(graphics.attribute("listen"), Some(address.as_str()));
    assert_eq!(graphics.attribute("passwd").map(str::len), Some(8));

    // While it runs: the balloon within the maximum, a disk hot-plugged.
    let (status, d) = app
        .post(
            &c,
            "/api/guests/update",
            &json!({"host": "lab-a", "uuid": uuid, "memory_mib": 192}),
        )
        .await;
    assert_eq!(status, 200, "{d}");
    // libvirt itself has the new size in the definition (the running guest
    // is asked through its balloon; this one has no OS whose driver obeys).
    let config = lab.virsh("lab-a", &["dumpxml", "--inactive", &name]);
    assert!(
        config.contains("<currentMemory unit='KiB'>196608</currentMemory>"),
        "{config}"
    );
    let (status, err) = app
        .post(
            &c,
            "/api/guests/update",
            &json!({"host": "lab-a", "uuid": uuid, "memory_mib": 512}),
        )
        .await;
    assert_eq!(status, 409, "{err}");
    assert!(
        err["message"].as_str().unwrap().contains("at most 256 MiB"),
        "{err}"
    );
    let (status, extra) = app
        .post(
            &c,
            "/api/volumes",
            &json!({"host": "lab-a", "pool": pool.name, "name": "extra.qcow2",
                    "format": "qcow2", "capacity": "64M"}),
        )
        .await;
    assert_eq!(status, 200, "{extra}");
    let (status, d) = app
        .post(
            &c,
            "/api/guests/update",
            &json!({"host": "lab-a", "uuid": uuid,
                    "attach_disk": {"pool": pool.name, "volume": "extra.qcow2"}}),
        )
        .await;
    assert_eq!(status, 200, "{d}");
    let live = lab.virsh("lab-a", &["domblklist", &name]);
    assert!(live.contains("extra.qcow2"), "hot-plugged: {live}");
    let (status, d) = app
        .post(
            &c,
            "/api/guests/update",
            &json!({"host": "lab-a", "uuid": uuid, "detach_disk": "vdb"}),
        )
        .await;
    assert_eq!(status, 200, "{d}");
    // Gone from the definition (the running guest, which has no OS to
    // acknowledge a PCI unplug, lets go of it whenever it does).
    let config = lab.virsh("lab-a", &["domblklist", "--inactive", &name]);
    assert!(!config.contains("extra.qcow2"), "detached: {config}");

    // A snapshot of the running guest includes its memory.
    let (status, live) = app
        .post(
            &c,
            "/api/guests/snapshots",
            &json!({"host": "lab-a", "uuid": uuid, "name": "live"}),
        )
        .await;
    assert_eq!(status, 200, "{live}");
    assert_eq!(
        (live["state"].as_str(), live["memory"].as_bool()),
        (Some("running"), Some(true))
    );

    // Shut off (forced: there is no OS to obey ACPI), then a disk snapshot.
    let (status, body) = app
        .post(
            &c,
            "/api/guests/action",
            &json!({"host": "lab-a", "uuid": uuid, "action": "destroy"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, s) = app
        .post(
            &c,
            "/api/guests/snapshots",
            &json!({"host": "lab-a", "uuid": uuid, "name": "clean", "description": "fresh <install>"}),
        )
        .await;
    assert_eq!(status, 200, "{s}");
    assert!(qemu_img(&["snapshot", "-l", "-U"], &file).contains("clean"));
    let (status, list) = app
        .post(
            &c,
            "/api/guests/snapshots/action",
            &json!({"host": "lab-a", "uuid": uuid, "snapshot": "clean", "action": "revert"}),
        )
        .await;
    assert_eq!(status, 200, "{list}");
    let clean = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "clean")
        .unwrap();
    assert_eq!(clean["current"], true);
    assert_eq!(clean["description"], "fresh <install>");
    assert_eq!(clean["parent"], "live");
    // Back to the running state, memory and all; then off again.
    let (status, list) = app
        .post(
            &c,
            "/api/guests/snapshots/action",
            &json!({"host": "lab-a", "uuid": uuid, "snapshot": "live", "action": "revert"}),
        )
        .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(lab.state("lab-a", &name).as_deref(), Some("running"));
    let (status, body) = app
        .post(
            &c,
            "/api/guests/action",
            &json!({"host": "lab-a", "uuid": uuid, "action": "destroy"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // A network interface, so that the clone must get a MAC of its own.
    let (status, d) = app
        .post(
            &c,
            "/api/guests/update",
            &json!({"host": "lab-a", "uuid": uuid, "attach_nic": {"bridge": "vdkbr-none"}}),
        )
        .await;
    assert_eq!(status, 200, "{d}");
    let mac = d["nics"][0]["mac"].as_str().unwrap().to_string();

    let (status, r) = app
        .post(
            &c,
            "/api/guests/clone",
            &json!({"host": "lab-a", "uuid": uuid, "name": clone_name}),
        )
        .await;
    assert_eq!(status, 200, "{r}");
    let job = wait_job(&app, &c, r["id"].as_str().unwrap()).await;
    assert_eq!(job["state"], "done", "{job}");
    let clone_uuid = job["result"]["uuid"].as_str().unwrap().to_string();
    let (status, cd) = app
        .get(
            &c,
            &format!("/api/guests/detail?host=lab-a&uuid={clone_uuid}"),
        )
        .await;
    assert_eq!(status, 200, "{cd}");
    let clone_path = cd["disks"][0]["path"].as_str().unwrap().to_string();
    assert_eq!(
        clone_path,
        format!("/var/lib/libvirt/images/{}/{clone_name}.qcow2", pool.name)
    );
    let clone_file = lab.outside("lab-a", &clone_path);
    assert!(qemu_img(&["info", "-U"], &clone_file).contains("file format: qcow2"));
    assert_ne!(cd["nics"][0]["mac"].as_str().unwrap(), mac);
    // The ISO is shared by both now: it cannot go with either.
    let sharing = cd["disks"][1]["shared_with"].as_array().unwrap();
    assert_eq!(sharing.len(), 1, "{sharing:?}");
    assert_eq!(
        (&sharing[0]["name"], &sharing[0]["host"]),
        (&json!(name), &json!("lab-a"))
    );

    for (id, path, f) in [
        (&clone_uuid, &clone_path, &clone_file),
        (&uuid, &disk_path, &file),
    ] {
        let (status, report) = app
            .post(
                &c,
                "/api/guests/delete",
                &json!({"host": "lab-a", "uuid": id, "delete_volumes": [path]}),
            )
            .await;
        assert_eq!(status, 200, "{report}");
        assert_eq!(report["deleted_volumes"], json!([path]));
        assert!(!f.exists(), "{} is gone", f.display());
    }
    assert_eq!(lab.state("lab-a", &name), None);
    assert_eq!(lab.state("lab-a", &clone_name), None);
    pool.delete().await;
}

#[tokio::test]
async fn lab_a_guest_that_cannot_start_is_not_kept_nor_its_new_volume() {
    let lab = Lab::load();
    let app = spawn_app_with(lab.hosts()).await;
    let c = app.admin().await;
    let pool = pool(&app, &c).await;
    let name = unique("vd-nostart");
    let _guard = lab.guard(&name);
    let (status, err) = app
        .post(
            &c,
            "/api/guests",
            &json!({
                "host": "lab-a", "name": name, "memory_mib": 256, "vcpus": 1, "accel": "qemu",
                "install": {"kind": "network"}, "bridge": "vdkbr-missing",
                "disk": {"pool": pool.name, "name": "disk.qcow2", "format": "qcow2", "capacity": "1G"},
                "start": true
            }),
        )
        .await;
    assert!(status >= 400, "{err}");
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains("could not start, so it was not kept"),
        "{message}"
    );
    // libvirt's own words about the bridge reach the user.
    assert!(message.contains("vdkbr-missing"), "{message}");
    assert_eq!(lab.state("lab-a", &name), None);
    let file = lab.outside(
        "lab-a",
        &format!("/var/lib/libvirt/images/{}/disk.qcow2", pool.name),
    );
    assert!(!file.exists(), "no orphan volume at {}", file.display());
    pool.delete().await;
}

/// The tick numbers the lab's Linux guest wrote to its console after `from` bytes.
fn ticks(log: &PathBuf, from: usize) -> Vec<u64> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.get(from..)
        .unwrap_or("")
        .lines()
        .filter_map(|l| l.strip_prefix("tick "))
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect()
}

/// Waits until the guest has written a tick numbered at least `n` after `from` bytes.
async fn wait_tick(log: &PathBuf, from: usize, n: u64) -> Vec<u64> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let seen = ticks(log, from);
        if seen.iter().any(|t| *t >= n) || (n == 0 && !seen.is_empty()) {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "no tick {n} in {}",
            log.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Reverting to a snapshot taken with memory takes the guest itself back in
/// time: the tick counter it prints every 3 s starts again from where it was.
#[tokio::test]
async fn lab_reverting_to_a_memory_snapshot_takes_the_guest_back_in_time() {
    let lab = Lab::load();
    let app = spawn_app_with(lab.hosts()).await;
    let c = app.admin().await;
    let (name, uuid) = (unique("revert"), new_uuid());
    // Internal snapshots keep the memory in a qcow2 disk.
    let volume = format!("{name}.qcow2");
    lab.virsh(
        "lab-a",
        &[
            "vol-create-as",
            "default",
            &volume,
            "16M",
            "--format",
            "qcow2",
        ],
    );
    let disk = format!(
        "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>\
         <source file='/var/lib/libvirt/images/{volume}'/><target dev='vda' bus='virtio'/></disk>"
    );
    lab.define(
        "lab-a",
        &linux_guest_with(&lab, &name, &uuid, "fill=8", &disk),
        true,
    );
    let _guard = lab.guard(&name);
    lab.wait_ready("lab-a", &name).await;
    let log = lab.serial_log("lab-a", &name);
    wait_tick(&log, 0, 2).await;

    let (status, snap) = app
        .post(
            &c,
            "/api/guests/snapshots",
            &json!({"host": "lab-a", "uuid": uuid, "name": "then"}),
        )
        .await;
    assert_eq!(status, 200, "{snap}");
    assert_eq!(snap["memory"], true, "{snap}");
    let at_snapshot = *ticks(&log, 0).last().unwrap();
    // Time passes in the guest.
    let later = *wait_tick(&log, 0, at_snapshot + 3).await.last().unwrap();
    let from = std::fs::metadata(&log).unwrap().len() as usize;
    let (status, list) = app
        .post(
            &c,
            "/api/guests/snapshots/action",
            &json!({"host": "lab-a", "uuid": uuid, "snapshot": "then", "action": "revert"}),
        )
        .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(lab.state("lab-a", &name).as_deref(), Some("running"));
    let after = wait_tick(&log, from, 0).await;
    println!("ticks: {at_snapshot} at the snapshot, {later} before the revert, {after:?} after");
    assert!(
        after[0] <= at_snapshot + 1 && after[0] < later,
        "the guest's counter went back: {at_snapshot} at the snapshot, {later} before, {after:?} after"
    );
    lab.remove(&name);
    let _ = lab.virsh_ok("lab-a", &["vol-delete", "--pool", "default", &volume]);
}
