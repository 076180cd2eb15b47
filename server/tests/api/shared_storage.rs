//! Shared storage (issue 15, items 1 and 2) on the demo fleet: `shared-nfs`
//! is the same NFS export on demo-alpha and demo-beta; db01 runs on alpha
//! with its data disk `db01-data.qcow2` there. Whatever is done through beta
//! must count alpha's guests as users, as through alpha. (Real files and
//! checksums: `lab_storage`.)

use serde_json::{json, Value};

use crate::helpers::spawn_app;

const BACKUP01: &str = "6b1f7c3e-0a11-4c5e-9a01-00000000b002";
const BUILD01: &str = "6b1f7c3e-0a11-4c5e-9a01-00000000a003";
const DB01: &str = "6b1f7c3e-0a11-4c5e-9a01-00000000a002";

fn names(vols: &Value) -> Vec<String> {
    vols.as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_disk_in_use_on_another_host_cannot_be_deleted() {
    let app = spawn_app(vec![]).await;
    let c = app.admin().await;
    let volume = |host: &str, action: &str, extra: Value| {
        let mut b = json!({"host": host, "pool": "shared-nfs", "name": "db01-data.qcow2", "action": action});
        b.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        b
    };
    let list = |host: &'static str| {
        let (app, c) = (&app, &c);
        async move {
            let (status, vols) = app
                .get(c, &format!("/api/volumes?host={host}&pool=shared-nfs"))
                .await;
            assert_eq!(status, 200, "{vols}");
            vols
        }
    };
    let before = list("demo-beta").await;
    assert_eq!(names(&before), ["db01-data.qcow2", "golden-image.qcow2"]);
    // Through beta, the volume list says who uses it, and on which host.
    assert_eq!(
        before[0]["used_by"],
        json!([{"host": "demo-alpha", "uuid": DB01, "name": "db01", "state": "running"}])
    );
    assert_eq!(before[1]["used_by"], json!([]));

    // Through either host, nothing that would destroy or change db01's running disk.
    for host in ["demo-alpha", "demo-beta"] {
        // (Wiping a qcow2 image is refused for its format: see lab_storage.)
        for (action, extra) in [
            ("delete", json!({})),
            ("resize", json!({"capacity": "300G"})),
        ] {
            let (status, err) = app
                .post(&c, "/api/volumes/action", &volume(host, action, extra))
                .await;
            assert_eq!(status, 409, "{action} through {host}: {err}");
            let message = err["message"].as_str().unwrap();
            assert!(message.contains("db01"), "{message}");
            if host == "demo-beta" {
                assert!(message.contains("on demo-alpha"), "{message}");
                assert!(message.contains("shared storage"), "{message}");
            }
        }
    }
    // The pool with its storage cannot go through beta either (db01's disk is on it)…
    let (status, err) = app
        .post(
            &c,
            "/api/pools/action",
            &json!({"host": "demo-beta", "pool": "shared-nfs", "action": "delete", "delete_storage": true}),
        )
        .await;
    assert_eq!(status, 409, "{err}");
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains("db01 (running, on demo-alpha)"),
        "{message}"
    );
    assert_eq!(list("demo-beta").await, before, "nothing was deleted");
    assert_eq!(list("demo-alpha").await.as_array().unwrap().len(), 2);

    // A shut-off guest's definition counts for deleting and wiping: backup01
    // on beta gets the golden image, which then cannot be deleted through alpha.
    let (status, d) = app
        .post(
            &c,
            "/api/guests/update",
            &json!({"host": "demo-beta", "uuid": BACKUP01,
                    "attach_disk": {"pool": "shared-nfs", "volume": "golden-image.qcow2"}}),
        )
        .await;
    assert_eq!(status, 200, "{d}");
    let golden = |host: &str, action: &str| json!({"host": host, "pool": "shared-nfs", "name": "golden-image.qcow2", "action": action});
    for host in ["demo-alpha", "demo-beta"] {
        let (status, err) = app
            .post(&c, "/api/volumes/action", &golden(host, "delete"))
            .await;
        assert_eq!(status, 409, "through {host}: {err}");
        let message = err["message"].as_str().unwrap();
        assert!(message.contains("backup01 (shut off"), "{message}");
        assert!(message.contains("Remove the disk from them"), "{message}");
    }
    // …while a running guest is what stops a resize: backup01 is shut off.
    let (status, err) = app
        .post(
            &c,
            "/api/volumes/action",
            &json!({"host": "demo-alpha", "pool": "shared-nfs", "name": "golden-image.qcow2",
                    "action": "resize", "capacity": "40G"}),
        )
        .await;
    assert_ne!(status, 409, "{err}");
    // The guest pages say who shares the disk, and where.
    let (status, db01) = app
        .get(
            &c,
            &format!("/api/guests/detail?host=demo-alpha&uuid={DB01}"),
        )
        .await;
    assert_eq!(status, 200, "{db01}");
    assert_eq!(db01["disks"][1]["shared_with"], json!([]));
    let (status, b) = app
        .get(
            &c,
            &format!("/api/guests/detail?host=demo-beta&uuid={BACKUP01}"),
        )
        .await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["disks"][1]["volume"], "golden-image.qcow2");
    assert_eq!(b["disks"][1]["shared_with"], json!([]));
    // build01 (shut off, on alpha) takes the golden image too: its page names
    // backup01 with its host.
    let (status, d) = app
        .post(
            &c,
            "/api/guests/update",
            &json!({"host": "demo-alpha", "uuid": BUILD01,
                    "attach_disk": {"pool": "shared-nfs", "volume": "golden-image.qcow2"}}),
        )
        .await;
    assert_eq!(status, 200, "{d}");
    let golden_disk = |detail: &Value| {
        detail["disks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["volume"] == "golden-image.qcow2")
            .cloned()
            .unwrap()
    };
    assert_eq!(
        golden_disk(&d)["shared_with"],
        json!([{"host": "demo-beta", "uuid": BACKUP01, "name": "backup01", "state": "shutoff"}])
    );
    // Deleting backup01 with its disks cannot take the golden image build01 uses.
    let (status, err) = app
        .post(
            &c,
            "/api/guests/delete",
            &json!({"host": "demo-beta", "uuid": BACKUP01,
                    "delete_volumes": ["/var/lib/libvirt/images/shared-nfs/golden-image.qcow2"]}),
        )
        .await;
    assert_eq!(status, 409, "{err}");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("build01 (shut off, on demo-alpha)"),
        "{err}"
    );
    let (status, _) = app
        .get(
            &c,
            &format!("/api/guests/detail?host=demo-beta&uuid={BACKUP01}"),
        )
        .await;
    assert_eq!(status, 200, "backup01 is still there");
    assert_eq!(names(&list("demo-beta").await).len(), 2, "no volume went");
}
