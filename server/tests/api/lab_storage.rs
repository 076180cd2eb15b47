//! Storage on real libvirt: the two hosts of `scripts/lab` (libvirtd + QEMU,
//! each in its own mount namespace) and its userspace iSCSI target. What the
//! test driver cannot do is tested here: pool capabilities, real files on
//! disk, resize, wipe, a netfs mount that fails, an iSCSI pool shared by both
//! hosts, and streamed upload and download.
//!
//! `scripts/test` brings the lab up first; by hand: `scripts/lab up`.

use std::{os::unix::fs::MetadataExt, path::PathBuf, process::Command};

use futures::StreamExt;
use rand::{rngs::StdRng, RngCore, SeedableRng};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::{
    helpers::{spawn_app_with, TestApp},
    lab::{unique, Lab},
};

async fn lab_app() -> (Lab, TestApp, reqwest::Client) {
    let lab = Lab::load();
    let app = spawn_app_with(lab.hosts()).await;
    let client = app.admin().await;
    (lab, app, client)
}

fn qemu_img_info(path: &PathBuf) -> Value {
    let out = Command::new("qemu-img")
        .args(["info", "--output=json", "-U"])
        .arg(path)
        .output()
        .expect("qemu-img runs");
    assert!(
        out.status.success(),
        "qemu-img info {}: {out:?}",
        path.display()
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Bytes really allocated on disk for a file.
fn allocated(path: &PathBuf) -> u64 {
    std::fs::metadata(path).unwrap().blocks() * 512
}

#[tokio::test]
async fn lab_pool_types_come_from_the_hosts_capabilities() {
    let (_lab, app, client) = lab_app().await;
    let (status, types) = app.get(&client, "/api/pools/types?host=lab-a").await;
    assert_eq!(status, 200, "{types}");
    assert_eq!(types["from_capabilities"], true);
    assert_eq!(types["note"], Value::Null);
    let names: Vec<&str> = types["types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["type"].as_str().unwrap())
        .collect();
    for t in [
        "dir",
        "fs",
        "netfs",
        "logical",
        "disk",
        "iscsi",
        "iscsi-direct",
        "scsi",
        "mpath",
    ] {
        assert!(names.contains(&t), "{t} in {names:?}");
    }
    for t in ["rbd", "gluster", "zfs"] {
        assert!(!names.contains(&t), "this libvirt lacks {t}: {names:?}");
    }
    let dir = &types["types"][0];
    let formats: Vec<&str> = dir["volume_formats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    for f in [
        "raw", "qcow2", "vmdk", "vdi", "qcow", "qed", "vpc", "cloop", "cow",
    ] {
        assert!(formats.contains(&f), "{f} in {formats:?}");
    }
    let read_only = dir["read_only_formats"].as_array().unwrap();
    assert!(read_only.contains(&json!("cloop")) && read_only.contains(&json!("cow")));
    assert!(!read_only.contains(&json!("qcow2")));
}

#[tokio::test]
async fn lab_a_dir_pool_and_its_volumes_are_real_files() {
    let (lab, app, client) = lab_app().await;
    let name = unique("vd-dir");
    let target = format!("/var/lib/libvirt/images/{name}");
    let dir = lab.outside("lab-a", &target);
    assert!(!dir.exists());
    let (status, pool) = app
        .post(
            &client,
            "/api/pools",
            &json!({"host": "lab-a", "name": name, "type": "dir", "target_path": target, "autostart": true}),
        )
        .await;
    assert_eq!(status, 200, "{pool}");
    assert_eq!(pool["state"], "active");
    assert_eq!(pool["autostart"], true);
    assert!(dir.is_dir(), "the build step made {}", dir.display());
    assert!(
        pool["capacity"].as_u64().unwrap() > 0,
        "a real file system's size"
    );
    let (status, p) = app
        .post(
            &client,
            "/api/pools/action",
            &json!({"host": "lab-a", "pool": name, "action": "refresh"}),
        )
        .await;
    assert_eq!(status, 200, "{p}");

    const M: u64 = 1 << 20;
    for (vol, format, capacity, allocation) in [
        ("q-sparse.qcow2", "qcow2", 1024 * M, json!("sparse")),
        ("q-full.qcow2", "qcow2", 64 * M, json!("full")),
        ("r-sparse.raw", "raw", 1024 * M, json!(0)),
        ("r-full.raw", "raw", 64 * M, json!("64M")),
        ("r-part.raw", "raw", 1024 * M, json!("256MiB")),
    ] {
        let (status, v) = app
            .post(
                &client,
                "/api/volumes",
                &json!({"host": "lab-a", "pool": name, "name": vol, "format": format,
                        "capacity": capacity, "allocation": allocation}),
            )
            .await;
        assert_eq!(status, 200, "{vol}: {v}");
        assert_eq!(v["capacity"], capacity, "{vol}");
        let file = dir.join(vol);
        let info = qemu_img_info(&file);
        assert_eq!(info["format"], format, "{vol}: {info}");
        assert_eq!(info["virtual-size"], capacity, "{vol}: {info}");
        let on_disk = allocated(&file);
        match vol {
            "q-sparse.qcow2" => {
                assert!(on_disk < M, "{vol}: {on_disk} bytes on disk");
                assert_eq!(info["format-specific"]["data"]["compat"], "1.1", "{info}");
            }
            "r-sparse.raw" => assert!(on_disk < M, "{vol}: {on_disk}"),
            "q-full.qcow2" | "r-full.raw" => assert!(on_disk >= 64 * M, "{vol}: {on_disk}"),
            "r-part.raw" => assert!(
                (256 * M..300 * M).contains(&on_disk),
                "{vol}: {on_disk} bytes on disk"
            ),
            _ => unreachable!(),
        }
        // libvirt's own figure is what the list shows.
        assert!(
            v["allocation"].as_u64().unwrap().abs_diff(on_disk) < 2 * M,
            "{vol}: {v}"
        );
    }

    let action = |vol: &str, act: &str, extra: Value| {
        let mut body = json!({"host": "lab-a", "pool": name, "name": vol, "action": act});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let (status, v) = app
        .post(
            &client,
            "/api/volumes/action",
            &action("r-sparse.raw", "resize", json!({"capacity": "2G"})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        qemu_img_info(&dir.join("r-sparse.raw"))["virtual-size"],
        2048 * M
    );
    let (status, v) = app
        .post(
            &client,
            "/api/volumes/action",
            &action("r-part.raw", "wipe", json!({})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = app
        .post(
            &client,
            "/api/volumes/action",
            &action("q-sparse.qcow2", "wipe", json!({})),
        )
        .await;
    assert_eq!(status, 400, "wiping would destroy the qcow2 image: {v}");
    assert_eq!(
        qemu_img_info(&dir.join("q-sparse.qcow2"))["format"],
        "qcow2"
    );
    let (status, v) = app
        .post(
            &client,
            "/api/volumes/action",
            &action(
                "q-sparse.qcow2",
                "clone",
                json!({"new_name": "q-copy.qcow2"}),
            ),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let copy = qemu_img_info(&dir.join("q-copy.qcow2"));
    assert_eq!(
        (copy["format"].as_str(), copy["virtual-size"].as_u64()),
        (Some("qcow2"), Some(1024 * M))
    );

    let (status, vols) = app
        .get(&client, &format!("/api/volumes?host=lab-a&pool={name}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(vols.as_array().unwrap().len(), 6);

    // Deleting the pool with its storage removes the files and the directory.
    let (status, p) = app
        .post(
            &client,
            "/api/pools/action",
            &json!({"host": "lab-a", "pool": name, "action": "delete", "delete_storage": true}),
        )
        .await;
    assert_eq!((status, &p), (200, &Value::Null), "{p}");
    assert!(!dir.exists(), "{} is gone", dir.display());
}

#[tokio::test]
async fn lab_a_netfs_pool_that_cannot_mount_leaves_nothing_behind() {
    let (lab, app, client) = lab_app().await;
    let name = unique("vd-nfs");
    let request = json!({"host": "lab-a", "name": name, "type": "netfs",
                         "source_host": "127.0.0.1", "source_path": "/export/vm"});
    let (status, err) = app.post(&client, "/api/pools", &request).await;
    assert_eq!(status, 502, "{err}");
    let message = err["message"].as_str().unwrap();
    assert!(message.contains("host lab-a"), "{message}");
    assert!(
        message.contains("mount"),
        "libvirt's own message: {message}"
    );
    assert!(message.contains("nothing was left behind"), "{message}");
    let (_, pools) = app.get(&client, "/api/pools").await;
    assert!(
        !pools.as_array().unwrap().iter().any(|p| p["name"] == name),
        "no pool {name} is defined: {pools}"
    );
    let mount_point = lab.outside("lab-a", &format!("/var/lib/libvirt/images/{name}"));
    assert!(!mount_point.exists(), "the directory it made was removed");

    // Asked to keep it, the definition stays (inactive) for the admin to fix.
    let mut keep = request.clone();
    keep["keep_on_failure"] = json!(true);
    let (status, err) = app.post(&client, "/api/pools", &keep).await;
    assert_eq!(status, 502, "{err}");
    assert!(err["message"].as_str().unwrap().contains("kept, as asked"));
    let (_, pools) = app.get(&client, "/api/pools").await;
    let kept = pools
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .expect("kept");
    assert_eq!(kept["state"], "inactive");
    assert!(mount_point.exists(), "kept with the directory it made");
    let (status, _) = app
        .post(
            &client,
            "/api/pools/action",
            &json!({"host": "lab-a", "pool": name, "action": "delete", "delete_storage": true}),
        )
        .await;
    assert_eq!(status, 200);
    // Deleted with its storage, its directory goes too, although it cannot mount.
    assert!(!mount_point.exists(), "{} is gone", mount_point.display());
    let audit = app.audit("pool.create").await;
    assert_eq!(audit.len(), 2);
    assert!(audit[0].detail.as_deref().unwrap().contains("mount"));
}

#[tokio::test]
async fn lab_an_iscsi_direct_pool_is_found_by_scan_and_shared_by_both_hosts() {
    let (lab, app, client) = lab_app().await;
    let target = lab.get("LAB_ISCSI_TARGET");
    let (portal, port) = lab.get("LAB_ISCSI_PORTAL").split_once(':').unwrap();
    let (status, found) = app
        .post(
            &client,
            "/api/pools/scan",
            &json!({"host": "lab-a", "type": "iscsi-direct", "source_host": portal, "source_port": port.parse::<u16>().unwrap()}),
        )
        .await;
    assert_eq!(status, 200, "{found}");
    let source = found
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["source_device"] == target)
        .unwrap_or_else(|| panic!("the scan finds {target}: {found}"))
        .clone();

    let name = unique("vd-iscsi");
    let (status, results) = app
        .post(
            &client,
            "/api/pools",
            &json!({"hosts": ["lab-a", "lab-b"], "name": name, "type": "iscsi-direct",
                    "source_host": source["source_host"], "source_port": source["source_port"],
                    "source_device": source["source_device"]}),
        )
        .await;
    assert_eq!(status, 200, "{results}");
    let mut initiators = Vec::new();
    for r in results.as_array().unwrap() {
        assert_eq!(r["error"], Value::Null, "{r}");
        assert_eq!(r["pool"]["state"], "active", "{r}");
        initiators.push(
            r["pool"]["source"]["initiator_iqn"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(
        initiators,
        [
            "iqn.2026-11.org.virtdeck:lab-a",
            "iqn.2026-11.org.virtdeck:lab-b"
        ],
        "each host logs in with its own initiator name"
    );

    let mut luns = Vec::new();
    for host in ["lab-a", "lab-b"] {
        let (status, vols) = app
            .get(&client, &format!("/api/volumes?host={host}&pool={name}"))
            .await;
        assert_eq!(status, 200, "{vols}");
        let lun = vols
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == "unit:0:0:1")
            .unwrap_or_else(|| panic!("{host} lists LUN 1: {vols}"))
            .clone();
        assert!(lun["capacity"].as_u64().unwrap() > 250 << 20, "{lun}");
        assert_eq!(lun["format"], Value::Null);
        luns.push(lun["path"].clone());
    }
    assert_eq!(luns[0], luns[1], "both hosts see the same LUN");

    // The same source on both hosts: the storage page shows it as shared.
    let (_, pools) = app.get(&client, "/api/pools").await;
    let ours: Vec<app::api::pools::PoolSummary> = pools
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"] == name)
        .map(|p| serde_json::from_value(p.clone()).unwrap())
        .collect();
    let groups = app::api::pools::group_by_name(&ours);
    assert_eq!(groups.len(), 1);
    assert!(groups[0].shared, "{groups:?}");

    // A LUN cannot be made through libvirt: said plainly.
    let (status, err) = app
        .post(
            &client,
            "/api/volumes",
            &json!({"host": "lab-a", "pool": name, "name": "x", "capacity": "1G"}),
        )
        .await;
    assert_eq!(status, 422, "{err}");
    assert!(err["message"].as_str().unwrap().contains("LUNs"), "{err}");

    for host in ["lab-a", "lab-b"] {
        let (status, p) = app
            .post(
                &client,
                "/api/pools/action",
                &json!({"host": host, "pool": name, "action": "delete"}),
            )
            .await;
        assert_eq!((status, &p), (200, &Value::Null), "{host}: {p}");
    }
}

/// `len` bytes of reproducible random data in 1 MiB chunks.
fn data(seed: u64, len: u64) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut left = len;
    futures::stream::poll_fn(move |_| {
        if left == 0 {
            return std::task::Poll::Ready(None);
        }
        let n = left.min(1 << 20) as usize;
        let mut chunk = vec![0u8; n];
        rng.fill_bytes(&mut chunk);
        left -= n as u64;
        std::task::Poll::Ready(Some(Ok(chunk)))
    })
}

async fn digest_of(
    stream: impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>>,
) -> Vec<u8> {
    let mut hash = Sha256::new();
    futures::pin_mut!(stream);
    while let Some(chunk) = stream.next().await {
        hash.update(chunk.unwrap());
    }
    hash.finalize().to_vec()
}

#[tokio::test]
async fn lab_an_iso_sized_upload_comes_back_identical() {
    let (lab, app, client) = lab_app().await;
    const LEN: u64 = 256 << 20;
    let seed = rand::random::<u64>();
    let expected = digest_of(data(seed, LEN)).await;
    let name = format!("{}.iso", unique("upload"));
    let url = |path: &str, extra: &str| {
        format!(
            "{}/api/volumes/{path}?host=lab-b&pool=default&name={name}{extra}",
            app.url
        )
    };

    let started = std::time::Instant::now();
    let resp = client
        .put(url("upload", ""))
        .header("content-type", "application/octet-stream")
        .header("content-length", LEN)
        .body(reqwest::Body::wrap_stream(data(seed, LEN)))
        .send()
        .await
        .unwrap();
    let upload_secs = started.elapsed().as_secs_f64();
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["capacity"], LEN, "sized from the upload: {body}");
    let on_disk = lab.outside("lab-b", &format!("/var/lib/libvirt/images/{name}"));
    let file = std::fs::read(&on_disk).unwrap();
    assert_eq!(file.len() as u64, LEN);
    assert_eq!(
        Sha256::digest(&file).to_vec(),
        expected,
        "the file on the host"
    );
    drop(file);

    let started = std::time::Instant::now();
    let resp = client.get(url("download", "")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-length"], LEN.to_string().as_str());
    assert!(resp.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains(&name));
    let got = digest_of(
        resp.bytes_stream()
            .map(|c| c.map(|b| b.to_vec()).map_err(std::io::Error::other)),
    )
    .await;
    let download_secs = started.elapsed().as_secs_f64();
    assert_eq!(got, expected, "downloaded back identical");
    println!(
        "256 MiB upload {upload_secs:.2} s ({:.0} MiB/s), download {download_secs:.2} s ({:.0} MiB/s)",
        256.0 / upload_secs,
        256.0 / download_secs
    );

    // An upload that breaks off leaves no volume behind.
    let broken = format!("{}.iso", unique("broken"));
    let chunks = data(seed, 8 << 20).chain(futures::stream::once(async {
        Err(std::io::Error::other("the client went away"))
    }));
    let result = client
        .put(format!(
            "{}/api/volumes/upload?host=lab-b&pool=default&name={broken}",
            app.url
        ))
        .header("content-type", "application/octet-stream")
        .header("content-length", LEN)
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await;
    assert!(result.is_err() || !result.unwrap().status().is_success());
    // The server finishes on its own after the client is gone: wait for its
    // audit record, written once the clean-up is done.
    let mut left = 200;
    while app.audit("volume.upload").await.len() < 2 && left > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        left -= 1;
    }
    let gone = lab.outside("lab-b", &format!("/var/lib/libvirt/images/{broken}"));
    assert!(!gone.exists(), "the half-uploaded volume was removed");
    let (_, vols) = app
        .get(&client, "/api/volumes?host=lab-b&pool=default")
        .await;
    assert!(!vols
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["name"] == broken.as_str()));

    let (status, v) = app
        .post(
            &client,
            "/api/volumes/action",
            &json!({"host": "lab-b", "pool": "default", "name": name, "action": "delete"}),
        )
        .await;
    assert_eq!((status, &v), (200, &Value::Null));
    assert!(!on_disk.exists());
    let audit = app.audit("volume.").await;
    let uploads: Vec<&str> = audit
        .iter()
        .filter(|r| r.action == "volume.upload")
        .map(|r| r.outcome.as_str())
        .collect();
    assert_eq!(uploads, ["ok", "failed"]);
}

#[tokio::test]
async fn lab_a_scan_that_needs_a_missing_tool_names_it() {
    let (_lab, app, client) = lab_app().await;
    // The lab hosts have neither the LVM tools nor the kernel iSCSI initiator.
    for (body, tool) in [
        (json!({"host": "lab-a", "type": "logical"}), "lvm2"),
        (
            json!({"host": "lab-a", "type": "iscsi", "source_host": "127.0.0.1"}),
            "open-iscsi",
        ),
    ] {
        let (status, err) = app.post(&client, "/api/pools/scan", &body).await;
        assert_eq!(status, 422, "{body}: {err}");
        let message = err["message"].as_str().unwrap();
        assert!(message.contains(tool), "{body}: {message}");
        assert!(message.contains("libvirt said"), "{message}");
    }
    let (status, err) = app
        .post(
            &client,
            "/api/pools/scan",
            &json!({"host": "lab-a", "type": "dir"}),
        )
        .await;
    assert_eq!(status, 400, "{err}");
}
