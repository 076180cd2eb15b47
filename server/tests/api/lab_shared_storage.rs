//! Issue 15's data-loss items on the lab's real hosts, with real files and
//! their checksums before and after: the shared iSCSI LUN (a file served by
//! the lab's userspace target) and the hosts' `default` directory pools.

use std::path::PathBuf;

use futures::StreamExt;
use rand::RngCore;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::{
    helpers::{spawn_app_with, TestApp},
    lab::{bios_guest, new_uuid, unique, Lab},
};

async fn lab_app() -> (Lab, TestApp, reqwest::Client) {
    let lab = Lab::load();
    let app = spawn_app_with(lab.hosts()).await;
    let client = app.admin().await;
    (lab, app, client)
}

fn sha(path: &PathBuf) -> Vec<u8> {
    Sha256::digest(std::fs::read(path).unwrap()).to_vec()
}

/// Creates raw volume `name` of `capacity` in `host`'s default pool; its path.
async fn raw_volume(
    app: &TestApp,
    c: &reqwest::Client,
    host: &str,
    name: &str,
    capacity: &str,
) -> String {
    let (status, v) = app
        .post(
            c,
            "/api/volumes",
            &json!({"host": host, "pool": "default", "name": name, "format": "raw", "capacity": capacity}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    v["path"].as_str().unwrap().to_string()
}

/// `PUT /api/volumes/upload` of `body` into lab-a's default pool as `name`
/// with `mode`: the status and the JSON answer.
async fn upload(
    app: &TestApp,
    c: &reqwest::Client,
    name: &str,
    mode: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    let resp = c
        .put(format!(
            "{}/api/volumes/upload?host=lab-a&pool=default&name={name}&mode={mode}",
            app.url
        ))
        .header("content-type", "application/octet-stream")
        .header("content-length", body.len())
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json::<Value>().await.unwrap_or(Value::Null))
}

/// Deletes a pool on both hosts when dropped (a failed test too).
struct SharedPool {
    lab: Lab,
    name: String,
}

impl Drop for SharedPool {
    fn drop(&mut self) {
        for host in ["lab-a", "lab-b"] {
            let _ = self.lab.virsh_ok(host, &["pool-destroy", &self.name]);
            let _ = self.lab.virsh_ok(host, &["pool-undefine", &self.name]);
        }
    }
}

async fn shared_iscsi_pool(lab: &Lab, app: &TestApp, c: &reqwest::Client) -> SharedPool {
    let name = unique("shared-iscsi");
    let guard = SharedPool {
        lab: lab.clone(),
        name: name.clone(),
    };
    let (portal, port) = lab.get("LAB_ISCSI_PORTAL").split_once(':').unwrap();
    let (status, results) = app
        .post(
            c,
            "/api/pools",
            &json!({"hosts": ["lab-a", "lab-b"], "name": name, "type": "iscsi-direct",
                    "source_host": portal, "source_port": port.parse::<u16>().unwrap(),
                    "source_device": lab.get("LAB_ISCSI_TARGET"),
                    "initiator_iqn": "iqn.2026-11.org.virtdeck:shared-{host}"}),
        )
        .await;
    assert_eq!(status, 200, "{results}");
    for r in results.as_array().unwrap() {
        assert!(r["error"].is_null(), "{results}");
    }
    guard
}

#[tokio::test]
async fn lab_a_disk_in_use_on_another_host_cannot_be_deleted() {
    let (lab, app, c) = lab_app().await;
    let pool = shared_iscsi_pool(&lab, &app, &c).await;
    // A guest on lab-a runs from LUN 1 of the shared target.
    let (name, uuid) = (unique("shared-user"), new_uuid());
    let disk = format!(
        "<disk type='volume' device='disk'><driver name='qemu' type='raw'/><source pool='{}' volume='unit:0:0:1'/><target dev='vda' bus='virtio'/></disk>",
        pool.name
    );
    lab.define("lab-a", &bios_guest(&name, &uuid, &disk), true);
    let _guest = lab.guard(&name);
    let lun = PathBuf::from(lab.get("LAB_DIR")).join("iscsi/shared.img");
    let before = sha(&lun);

    // Through lab-b, whose guests do not use it, the volume lists lab-a's
    // guest, and wiping it (libvirt can, over iSCSI) is refused.
    let (status, vols) = app
        .get(&c, &format!("/api/volumes?host=lab-b&pool={}", pool.name))
        .await;
    assert_eq!(status, 200, "{vols}");
    let lun1 = vols
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "unit:0:0:1")
        .unwrap_or_else(|| panic!("{vols}"));
    assert_eq!(lun1["used_by"][0]["name"], name.as_str(), "{lun1}");
    assert_eq!(lun1["used_by"][0]["host"], "lab-a", "{lun1}");
    let body = |host: &str| json!({"host": host, "pool": pool.name, "name": "unit:0:0:1", "action": "wipe"});
    let (status, err) = app.post(&c, "/api/volumes/action", &body("lab-b")).await;
    assert_eq!(status, 409, "{err}");
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("{name} (running, on lab-a)")),
        "{message}"
    );
    assert_eq!(sha(&lun), before, "the LUN's content is untouched");
    assert_eq!(lab.state("lab-a", &name).as_deref(), Some("running"));
}

#[tokio::test]
async fn lab_upload_with_mode_overwrite_ignores_running_guests() {
    let (lab, app, c) = lab_app().await;
    // A running guest on lab-a with a raw disk in the default pool, content known.
    let vol = format!("{}.raw", unique("overwrite"));
    let path = raw_volume(&app, &c, "lab-a", &vol, "1M").await;
    let file = lab.outside("lab-a", &path);
    let mut content = vec![0u8; 1 << 20];
    rand::thread_rng().fill_bytes(&mut content);
    std::fs::write(&file, &content).unwrap();
    let before = sha(&file);
    let (name, uuid) = (unique("overwrite-guest"), new_uuid());
    let disk = format!(
        "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{path}'/><target dev='vda' bus='virtio'/></disk>"
    );
    lab.define("lab-a", &bios_guest(&name, &uuid, &disk), true);
    let guest = lab.guard(&name);

    let (status, err) = upload(&app, &c, &vol, "overwrite", vec![0xAB; 4096]).await;
    assert_eq!(status, 409, "{err}");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains(&format!("{name} (running)")),
        "{err}"
    );
    assert_eq!(sha(&file), before, "the running guest's disk is untouched");
    // Shut off, its definition still names the disk: refused as for wipe.
    lab.virsh("lab-a", &["destroy", &name]);
    let (status, err) = upload(&app, &c, &vol, "overwrite", vec![0xAB; 4096]).await;
    assert_eq!(status, 409, "{err}");
    assert!(
        err["message"].as_str().unwrap().contains("shut off"),
        "{err}"
    );
    assert_eq!(sha(&file), before);
    // Once no guest names it, the upload overwrites it.
    drop(guest);
    let (status, v) = upload(&app, &c, &vol, "overwrite", vec![0xAB; 4096]).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(std::fs::read(&file).unwrap()[..4096], [0xAB; 4096]);
    let audit = app.audit("volume.upload").await;
    let outcomes: Vec<&str> = audit.iter().map(|r| r.outcome.as_str()).collect();
    assert_eq!(
        outcomes.iter().filter(|o| **o != "ok").count(),
        2,
        "{outcomes:?}"
    );
    let (status, _) = app
        .post(
            &c,
            "/api/volumes/action",
            &json!({"host": "lab-a", "pool": "default", "name": vol, "action": "delete"}),
        )
        .await;
    assert_eq!(status, 200);
}

/// Deletes a volume from both hosts' default pools when dropped.
struct Volumes {
    lab: Lab,
    name: String,
}

impl Drop for Volumes {
    fn drop(&mut self) {
        for host in ["lab-a", "lab-b"] {
            let _ = self
                .lab
                .virsh_ok(host, &["vol-delete", &self.name, "--pool", "default"]);
        }
    }
}

#[tokio::test]
async fn lab_copy_storage_migration_writes_into_a_same_named_volume() {
    let (lab, app, c) = lab_app().await;
    // lab-a's guest has a raw disk; lab-b's default pool has a volume of the
    // same name: another, shut-off guest's disk with data of its own.
    let vol = format!("{}.raw", unique("clash"));
    let _volumes = Volumes {
        lab: lab.clone(),
        name: vol.clone(),
    };
    let mut paths = Vec::new();
    for host in ["lab-a", "lab-b"] {
        paths.push(raw_volume(&app, &c, host, &vol, "4M").await);
    }
    let theirs = lab.outside("lab-b", &paths[1]);
    let mut content = vec![0u8; 4 << 20];
    rand::thread_rng().fill_bytes(&mut content);
    std::fs::write(&theirs, &content).unwrap();
    let before = sha(&theirs);
    let (other, other_uuid) = (unique("clash-owner"), new_uuid());
    let disk = |path: &str| {
        format!(
            "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{path}'/><target dev='vda' bus='virtio'/></disk>"
        )
    };
    lab.define(
        "lab-b",
        &bios_guest(&other, &other_uuid, &disk(&paths[1])),
        false,
    );
    let _other = lab.guard(&other);
    let (name, uuid) = (unique("clash-mover"), new_uuid());
    lab.define("lab-a", &bios_guest(&name, &uuid, &disk(&paths[0])), true);
    let _mover = lab.guard(&name);

    let body = json!({"host": "lab-a", "uuid": uuid, "destination": "lab-b", "mode": "live",
                      "storage": "copy"});
    let (status, preflight) = app.post(&c, "/api/migrations/preflight", &body).await;
    assert_eq!(status, 200, "{preflight}");
    let vda = preflight["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "disk:vda")
        .cloned()
        .unwrap_or_else(|| panic!("{preflight}"));
    assert_eq!(vda["verdict"], "blocked", "{vda}");
    assert!(
        vda["message"]
            .as_str()
            .unwrap()
            .contains(&format!("already has a volume named {vol}")),
        "{vda}"
    );
    assert!(vda["fix"].as_str().unwrap().contains("rename"), "{vda}");
    let (status, err) = app.post(&c, "/api/migrations", &body).await;
    assert_eq!(status, 409, "{err}");
    assert_eq!(lab.state("lab-a", &name).as_deref(), Some("running"));
    assert_eq!(lab.state("lab-b", &name), None);
    assert_eq!(sha(&theirs), before, "the other guest's disk is untouched");
}

#[tokio::test]
async fn lab_a_clone_shares_the_sources_writable_network_and_lun_disks() {
    let (lab, app, c) = lab_app().await;
    // A shut-off guest on lab-a: its own file (vda) and a writable iSCSI disk
    // of the shared target (vdb), which libvirt cannot copy.
    let vol = format!("{}.raw", unique("clone-src"));
    let _volumes = Volumes {
        lab: lab.clone(),
        name: vol.clone(),
    };
    let path = raw_volume(&app, &c, "lab-a", &vol, "1M").await;
    let (portal, port) = lab.get("LAB_ISCSI_PORTAL").split_once(':').unwrap();
    let iqn = lab.get("LAB_ISCSI_TARGET");
    let disks = format!(
        "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{path}'/><target dev='vda' bus='virtio'/></disk>\
         <disk type='network' device='disk'><driver name='qemu' type='raw'/><source protocol='iscsi' name='{iqn}/1'><host name='{portal}' port='{port}'/></source><target dev='vdb' bus='virtio'/></disk>"
    );
    let (name, uuid) = (unique("clone-net"), new_uuid());
    lab.define("lab-a", &bios_guest(&name, &uuid, &disks), false);
    let _source = lab.guard(&name);
    let lun = PathBuf::from(lab.get("LAB_DIR")).join("iscsi/shared.img");
    let before = sha(&lun);
    let clone_name = unique("clone-net-copy");
    let _clone = lab.guard(&clone_name);
    let volumes = |app: &TestApp| {
        let c = c.clone();
        let app_url = app.url.clone();
        async move {
            let r: Value = c
                .get(format!("{app_url}/api/volumes?host=lab-a&pool=default"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            r.as_array().unwrap().len()
        }
    };
    let count = volumes(&app).await;

    // Never silently shared: refused, saying which disk and what to do.
    let (status, err) = app
        .post(
            &c,
            "/api/guests/clone",
            &json!({"host": "lab-a", "uuid": uuid, "name": clone_name}),
        )
        .await;
    assert_eq!(status, 409, "{err}");
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains("vdb is a network disk (iscsi"),
        "{message}"
    );
    assert!(message.contains("Leave those disks out"), "{message}");
    assert_eq!(lab.state("lab-a", &clone_name), None, "no clone defined");
    assert_eq!(volumes(&app).await, count, "nothing copied");

    // Left out on request: the clone has its own vda and no vdb at all.
    let (status, r) = app
        .post(
            &c,
            "/api/guests/clone",
            &json!({"host": "lab-a", "uuid": uuid, "name": clone_name, "leave_out": ["vdb"]}),
        )
        .await;
    assert_eq!(status, 200, "{r}");
    let id = r["id"].as_str().unwrap();
    let job = loop {
        let (status, job) = app.get(&c, &format!("/api/guests/jobs?id={id}")).await;
        assert_eq!(status, 200, "{job}");
        if job["state"] != "running" {
            break job;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(job["state"], "done", "{job}");
    let xml = lab.virsh("lab-a", &["dumpxml", &clone_name]);
    assert!(!xml.contains("protocol='iscsi'"), "{xml}");
    assert!(!xml.contains("dev='vdb'"), "{xml}");
    assert!(xml.contains(&format!("{clone_name}.raw")), "{xml}");
    assert_eq!(sha(&lun), before);
    let _ = lab.virsh_ok("lab-a", &["undefine", &clone_name]);
    let _ = lab.virsh_ok(
        "lab-a",
        &[
            "vol-delete",
            &format!("{clone_name}.raw"),
            "--pool",
            "default",
        ],
    );
}

/// Runs `qemu-img` here (the lab's pools are directories of this machine).
fn qemu_img(args: &[&str]) {
    let out = std::process::Command::new("qemu-img")
        .args(args)
        .output()
        .expect("qemu-img runs");
    assert!(out.status.success(), "qemu-img {args:?}: {out:?}");
}

#[tokio::test]
async fn lab_uploaded_images_with_a_backing_file() {
    let (lab, app, c) = lab_app().await;
    let dir = tempfile::tempdir().unwrap();
    let evil = dir.path().join("evil.qcow2");
    // A qcow2 whose header names a host file as its backing file.
    qemu_img(&[
        "create",
        "-f",
        "qcow2",
        "-b",
        "/etc/hostname",
        "-F",
        "raw",
        evil.to_str().unwrap(),
        "1M",
    ]);
    let base = format!("{}.raw", unique("base"));
    let overlay = dir.path().join("overlay.qcow2");
    qemu_img(&[
        "create",
        "-f",
        "qcow2",
        "-b",
        &base,
        "-F",
        "raw",
        "-u",
        overlay.to_str().unwrap(),
        "1M",
    ]);
    let names = [
        format!("{}.qcow2", unique("evil")),
        base.clone(),
        format!("{}.qcow2", unique("overlay")),
    ];
    let _volumes: Vec<Volumes> = names
        .iter()
        .map(|n| Volumes {
            lab: lab.clone(),
            name: n.clone(),
        })
        .collect();
    let list = || async {
        let (_, vols) = app.get(&c, "/api/volumes?host=lab-a&pool=default").await;
        vols.as_array()
            .unwrap()
            .iter()
            .map(|v| v["name"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };

    let (status, err) = upload(&app, &c, &names[0], "new", std::fs::read(&evil).unwrap()).await;
    assert_eq!(status, 400, "{err}");
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains("backing file \"/etc/hostname\""),
        "{message}"
    );
    assert!(!list().await.contains(&names[0]), "nothing was created");
    let on_disk = lab.outside("lab-a", &format!("/var/lib/libvirt/images/{}", names[0]));
    assert!(!on_disk.exists());

    // Overwriting an existing volume with it is refused before a byte is written.
    let (status, v) = upload(&app, &c, &base, "new", vec![7u8; 1 << 20]).await;
    assert_eq!(status, 200, "{v}");
    let base_file = lab.outside("lab-a", v["path"].as_str().unwrap());
    let before = sha(&base_file);
    let (status, err) = upload(&app, &c, &base, "overwrite", std::fs::read(&evil).unwrap()).await;
    assert_eq!(status, 400, "{err}");
    assert_eq!(sha(&base_file), before);

    // A backing file that is a volume of the same pool is fine.
    let (status, v) = upload(&app, &c, &names[2], "new", std::fs::read(&overlay).unwrap()).await;
    assert_eq!(status, 200, "{v}");

    // An image put there by other means cannot be attached to a guest.
    let planted = format!("/var/lib/libvirt/images/{}", names[0]);
    std::fs::copy(&evil, lab.outside("lab-a", &planted)).unwrap();
    lab.virsh("lab-a", &["pool-refresh", "default"]);
    let (name, uuid) = (unique("backing"), new_uuid());
    lab.define("lab-a", &bios_guest(&name, &uuid, ""), false);
    let _guest = lab.guard(&name);
    let (status, err) = app
        .post(
            &c,
            "/api/guests/update",
            &json!({"host": "lab-a", "uuid": uuid,
                    "attach_disk": {"pool": "default", "volume": names[0]}}),
        )
        .await;
    assert_eq!(status, 400, "{err}");
    assert!(
        err["message"].as_str().unwrap().contains("/etc/hostname"),
        "{err}"
    );
    assert!(!lab.virsh("lab-a", &["dumpxml", &name]).contains(&names[0]));
}

#[tokio::test]
async fn lab_stalled_transfers_can_take_every_blocking_thread() {
    let lab = Lab::load();
    let app = crate::helpers::spawn_app_configured(
        tempfile::tempdir().unwrap(),
        lab.hosts(),
        &[("VIRTDECK_TRANSFER_IDLE_SECS", "3")],
    )
    .await;
    let c = app.admin().await;
    let (name, uuid) = (unique("stall-guest"), new_uuid());
    lab.define("lab-a", &bios_guest(&name, &uuid, ""), true);
    let _guest = lab.guard(&name);
    // Uploads whose clients send 64 KiB of the 10 MiB they announce, then stop.
    let names: Vec<String> = (0..6)
        .map(|i| format!("{}-{i}.raw", unique("stall")))
        .collect();
    let _volumes: Vec<Volumes> = names
        .iter()
        .map(|n| Volumes {
            lab: lab.clone(),
            name: n.clone(),
        })
        .collect();
    let started = std::time::Instant::now();
    let stalled: Vec<_> = names
        .iter()
        .map(|n| {
            let url = format!(
                "{}/api/volumes/upload?host=lab-a&pool=default&name={n}&format=raw",
                app.url
            );
            let c = c.clone();
            tokio::spawn(async move {
                let body =
                    futures::stream::once(async { Ok::<_, std::io::Error>(vec![1u8; 64 << 10]) })
                        .chain(futures::stream::pending());
                let resp = c
                    .put(url)
                    .header("content-type", "application/octet-stream")
                    .header("content-length", 10u64 << 20)
                    .body(reqwest::Body::wrap_stream(body))
                    .send()
                    .await;
                match resp {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        (
                            status,
                            r.json::<Value>().await.unwrap_or(Value::Null),
                            started.elapsed(),
                        )
                    }
                    Err(e) => (0, json!(e.to_string()), started.elapsed()),
                }
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    // Meanwhile a login and a guest action answer within a second.
    let t = std::time::Instant::now();
    let fresh = app.anonymous();
    assert_eq!(
        app.login(&fresh, crate::helpers::ADMIN_PASSWORD)
            .await
            .status(),
        200
    );
    let login = t.elapsed();
    let t = std::time::Instant::now();
    let (status, g) = app
        .post(
            &c,
            "/api/guests/action",
            &json!({"host": "lab-a", "uuid": uuid, "action": "suspend"}),
        )
        .await;
    let action = t.elapsed();
    assert_eq!(status, 200, "{g}");
    println!("with stalled uploads: login {login:?}, guest action {action:?}");
    assert!(
        login < std::time::Duration::from_secs(1),
        "login took {login:?}"
    );
    assert!(
        action < std::time::Duration::from_secs(1),
        "guest action took {action:?}"
    );
    // Four per user at once: the others were refused at once; the four end
    // when the idle time has passed, and leave no volume behind.
    let mut answers = Vec::new();
    for s in stalled {
        answers.push(s.await.unwrap());
    }
    let refused = answers.iter().filter(|(s, _, _)| *s == 429).count();
    assert_eq!(refused, 2, "{answers:?}");
    for (status, body, after) in answers.iter().filter(|(s, _, _)| *s != 429) {
        assert_eq!(*status, 400, "{body}");
        assert!(body.to_string().contains("sent nothing for 3 s"), "{body}");
        assert!(*after < std::time::Duration::from_secs(30), "{after:?}");
    }
    let (_, vols) = app.get(&c, "/api/volumes?host=lab-a&pool=default").await;
    for n in &names {
        assert!(
            !vols.to_string().contains(n.as_str()),
            "{n} was left behind"
        );
    }
}
