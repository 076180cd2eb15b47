//! Storage pools and volumes through the HTTP API and the backend, against
//! libvirt's test driver (the demo fixtures: pools `default`, `iso`,
//! `shared-nfs` on demo-alpha; `default`, `shared-nfs`, `backups` on demo-beta).
//! What the test driver cannot do (pool capabilities, resize, wipe, transfers)
//! is tested on the lab's real hosts in `lab_storage`.

use std::time::Duration;

use app::{
    api::{
        events::ServerEvent,
        pools::{PoolSpec, PoolType},
        size::StorageName,
    },
    backend::Storage,
};
use serde_json::{json, Value};
use server::services::{roots::StorageRoots, HostRegistry, LibvirtStorage};
use tokio::sync::broadcast;

use crate::helpers::{spawn_app, TestApp};

fn find<'a>(list: &'a Value, host: &str, name: &str) -> Option<&'a Value> {
    list.as_array()
        .unwrap()
        .iter()
        .find(|p| p["host"] == host && p["name"] == name)
}

async fn pools(app: &TestApp, client: &reqwest::Client) -> Value {
    let (status, pools) = app.get(client, "/api/pools").await;
    assert_eq!(status, 200, "{pools}");
    pools
}

async fn volumes(app: &TestApp, client: &reqwest::Client, host: &str, pool: &str) -> Value {
    let (status, vols) = app
        .get(client, &format!("/api/volumes?host={host}&pool={pool}"))
        .await;
    assert_eq!(status, 200, "{vols}");
    vols
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn pools_of_every_host_are_listed_with_their_fields() {
    let app = spawn_app(vec![]).await;
    let client = app.admin().await;
    let pools = pools(&app, &client).await;
    assert_eq!(pools.as_array().unwrap().len(), 6, "{pools}");

    let default = find(&pools, "demo-alpha", "default").expect("alpha's default pool");
    for key in [
        "host",
        "name",
        "uuid",
        "type",
        "state",
        "autostart",
        "persistent",
        "capacity",
        "allocation",
        "available",
        "target_path",
        "source",
        "volumes",
    ] {
        assert!(default.get(key).is_some(), "pool lacks {key}");
    }
    assert_eq!(default["type"], "dir");
    assert_eq!(default["state"], "active");
    assert_eq!(default["volumes"], 7);
    assert_eq!(default["target_path"], "/var/lib/libvirt/images");
    assert_eq!(default["source"], json!({}), "a dir pool has no source");
    // The test driver reports 100 GiB per pool, in bytes here.
    assert_eq!(default["capacity"], 100u64 << 30);
    assert_eq!(
        default["allocation"].as_u64().unwrap() + default["available"].as_u64().unwrap(),
        100u64 << 30
    );

    // The same NFS export on both hosts.
    let a = find(&pools, "demo-alpha", "shared-nfs").unwrap();
    let b = find(&pools, "demo-beta", "shared-nfs").unwrap();
    assert_eq!(a["type"], "netfs");
    assert_eq!(
        a["source"],
        json!({"source_host": "nfs1.example.test", "source_path": "/export/vm", "source_format": "nfs"})
    );
    assert_eq!(a["source"], b["source"]);
}

#[tokio::test]
async fn pool_types_fall_back_to_the_full_list_with_a_note() {
    let app = spawn_app(vec![]).await;
    let client = app.admin().await;
    let (status, types) = app.get(&client, "/api/pools/types?host=demo-alpha").await;
    assert_eq!(status, 200, "{types}");
    assert_eq!(types["from_capabilities"], false);
    assert!(
        types["note"]
            .as_str()
            .unwrap()
            .contains("every type is listed"),
        "{types}"
    );
    let list = types["types"].as_array().unwrap();
    let names: Vec<&str> = list.iter().map(|t| t["type"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "dir",
            "fs",
            "netfs",
            "logical",
            "disk",
            "iscsi",
            "iscsi-direct",
            "scsi",
            "mpath",
            "rbd",
            "gluster",
            "zfs"
        ]
    );
    let netfs = &list[2];
    let fields: Vec<&str> = netfs["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["source_host", "source_path", "source_format", "target_path"]
    );
    assert_eq!(
        netfs["fields"][2]["choices"],
        json!(["nfs", "glusterfs", "cifs", "auto"])
    );
    assert_eq!(list[6]["volumes_manageable"], false, "iscsi-direct LUNs");
    let (status, err) = app.get(&client, "/api/pools/types?host=nowhere").await;
    assert_eq!(status, 404, "{err}");
}

#[tokio::test]
async fn a_dir_pool_is_created_acted_on_and_deleted() {
    let app = spawn_app(vec![]).await;
    let client = app.admin().await;
    let (status, pool) = app
        .post(
            &client,
            "/api/pools",
            &json!({"host": "demo-beta", "name": "fast", "type": "dir",
                    "target_path": "/srv/virtdeck/fast", "autostart": true}),
        )
        .await;
    assert_eq!(status, 200, "{pool}");
    assert_eq!(pool["name"], "fast");
    assert_eq!(pool["state"], "active");
    assert_eq!(pool["autostart"], true);
    assert_eq!(pool["target_path"], "/srv/virtdeck/fast");
    assert!(find(&pools(&app, &client).await, "demo-beta", "fast").is_some());

    // The same name again is a conflict, and changes nothing.
    let (status, err) = app
        .post(
            &client,
            "/api/pools",
            &json!({"host": "demo-beta", "name": "fast", "type": "dir", "target_path": "/srv/virtdeck/other"}),
        )
        .await;
    assert_eq!(status, 409, "{err}");
    assert!(err["message"]
        .as_str()
        .unwrap()
        .contains("already has a storage pool named fast"));

    let action = |action: &str| json!({"host": "demo-beta", "pool": "fast", "action": action});
    let (status, p) = app
        .post(&client, "/api/pools/action", &action("autostart_off"))
        .await;
    assert_eq!((status, &p["autostart"]), (200, &json!(false)), "{p}");
    let (status, p) = app
        .post(&client, "/api/pools/action", &action("stop"))
        .await;
    assert_eq!(
        (status, &p["state"], &p["volumes"]),
        (200, &json!("inactive"), &Value::Null),
        "{p}"
    );
    let (status, p) = app
        .post(&client, "/api/pools/action", &action("start"))
        .await;
    assert_eq!((status, &p["state"]), (200, &json!("active")), "{p}");
    let (status, p) = app
        .post(&client, "/api/pools/action", &action("refresh"))
        .await;
    assert_eq!(status, 200, "{p}");
    let (status, p) = app
        .post(&client, "/api/pools/action", &action("start"))
        .await;
    assert_eq!(status, 409, "starting an active pool: {p}");
    let (status, p) = app
        .post(&client, "/api/pools/action", &action("delete"))
        .await;
    assert_eq!((status, &p), (200, &Value::Null));
    assert!(find(&pools(&app, &client).await, "demo-beta", "fast").is_none());

    let audit = app.audit("pool.").await;
    let actions: Vec<(&str, &str)> = audit
        .iter()
        .map(|r| (r.action.as_str(), r.outcome.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("pool.create", "ok"),
            ("pool.create", "failed"),
            ("pool.autostart_off", "ok"),
            ("pool.stop", "ok"),
            ("pool.start", "ok"),
            ("pool.refresh", "ok"),
            ("pool.start", "failed"),
            ("pool.delete", "ok"),
        ]
    );
    assert!(audit.iter().all(
        |r| r.username.as_deref() == Some("admin") && r.target == "pool fast on host demo-beta"
    ));
}

#[tokio::test]
async fn one_pool_is_created_on_several_hosts_with_a_result_per_host() {
    let app = spawn_app(vec![]).await;
    let client = app.admin().await;
    let (status, results) = app
        .post(
            &client,
            "/api/pools",
            &json!({"hosts": ["demo-alpha", "demo-beta", "nowhere"], "name": "nfs2",
                    "type": "netfs", "source_host": "10.0.0.5", "source_path": "/srv/vm"}),
        )
        .await;
    assert_eq!(status, 200, "{results}");
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), 3);
    for (i, host) in ["demo-alpha", "demo-beta"].into_iter().enumerate() {
        assert_eq!(results[i]["host"], host);
        assert_eq!(results[i]["error"], Value::Null);
        assert_eq!(results[i]["pool"]["state"], "active");
        assert_eq!(
            results[i]["pool"]["target_path"], "/var/lib/libvirt/images/nfs2",
            "the default mount point"
        );
        assert_eq!(results[i]["pool"]["source"]["source_format"], "nfs");
    }
    assert_eq!(results[2]["pool"], Value::Null);
    assert_eq!(results[2]["error"]["error"], "not_found");
    assert!(results[2]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("no host named"));
    // The failure on one host left the others' pools in place.
    let all = pools(&app, &client).await;
    assert!(find(&all, "demo-alpha", "nfs2").is_some());
    assert!(find(&all, "demo-beta", "nfs2").is_some());
    let audit = app.audit("pool.create").await;
    assert_eq!(audit.len(), 3);
    assert_eq!(audit.iter().filter(|r| r.outcome == "ok").count(), 2);
}

#[tokio::test]
async fn hostile_pool_definitions_are_refused_and_change_nothing() {
    let app = spawn_app(vec![]).await;
    let client = app.admin().await;
    let before = pools(&app, &client).await;
    let base = json!({"host": "demo-alpha", "name": "p1", "type": "dir", "target_path": "/srv/virtdeck/p1"});
    let with = |key: &str, value: Value| {
        let mut b = base.clone();
        b[key] = value;
        b
    };
    let cases = [
        (with("name", json!("../etc")), "not a valid pool name"),
        (
            with("name", json!("<pool type='dir'>")),
            "not a valid pool name",
        ),
        (with("name", json!("a&b")), "not a valid pool name"),
        (with("name", json!(".hidden")), "not a valid pool name"),
        (
            with("name", json!("x".repeat(129))),
            "not a valid pool name",
        ),
        (with("name", json!("")), "pool name is required"),
        (with("type", json!("nfs")), "unknown pool type"),
        (with("type", json!("other")), "unknown pool type"),
        (with("target_path", json!("../../etc")), "absolute path"),
        (
            with("target_path", json!("/var/lib/../../etc")),
            ". or .. components",
        ),
        (
            with("target_path", json!("/srv/virtdeck/a\u{0}b")),
            "control characters",
        ),
        (
            with("target_path", Value::Null),
            "target_path (Target path) is required",
        ),
        (
            with("source_host", json!("nfs1")),
            "source_host does not apply to a dir pool",
        ),
        (
            with("build", json!(true)),
            "only applies to fs, disk, logical",
        ),
        (with("host", json!(["demo-alpha"])), "invalid request"),
        (
            with("hosts", json!(["demo-alpha"])),
            "either \"host\" or \"hosts\"",
        ),
    ];
    for (body, why) in cases {
        let (status, err) = app.post(&client, "/api/pools", &body).await;
        assert_eq!(status, 400, "{body}: {err}");
        let message = err["message"].as_str().unwrap();
        assert!(message.contains(why), "{body}: {message}");
        assert!(message.len() < 600, "long input is not echoed whole");
    }
    let netfs = json!({"host": "demo-alpha", "name": "n1", "type": "netfs",
        "source_host": "nfs1;rm -rf /", "source_path": "/srv"});
    let (status, err) = app.post(&client, "/api/pools", &netfs).await;
    assert_eq!(status, 400, "{err}");
    assert!(err["message"].as_str().unwrap().contains("not a host name"));
    assert_eq!(
        pools(&app, &client).await,
        before,
        "nothing changed in libvirt"
    );
    // Refused attempts are audited too.
    let audit = app.audit("pool.create").await;
    assert_eq!(audit.len(), 16);
    assert!(audit
        .iter()
        .all(|r| r.outcome == "refused" && r.detail.is_some()));
}

#[tokio::test]
async fn xml_special_characters_in_a_path_are_escaped_not_obeyed() {
    let app = spawn_app(vec![]).await;
    let client = app.admin().await;
    let path = "/srv/virtdeck/a&b <c> 'd' \"e\"</path></target><source><host name='evil'/>";
    let (status, pool) = app
        .post(
            &client,
            "/api/pools",
            &json!({"host": "demo-alpha", "name": "odd", "type": "dir", "target_path": path}),
        )
        .await;
    assert_eq!(status, 200, "{pool}");
    assert_eq!(pool["target_path"], path, "read back exactly, as text");
    assert_eq!(pool["source"], json!({}), "no <source> was injected");
}

#[tokio::test]
async fn stopping_or_deleting_a_pool_that_running_guests_use_is_refused() {
    let app = spawn_app(vec![]).await;
    let client = app.admin().await;
    for action in ["stop", "delete"] {
        let (status, err) = app
            .post(
                &client,
                "/api/pools/action",
                &json!({"host": "demo-alpha", "pool": "default", "action": action}),
            )
            .await;
        assert_eq!(status, 409, "{err}");
        let message = err["message"].as_str().unwrap();
        assert!(message.contains("running guests use it"), "{message}");
        // web01 and db01 run from it; cache01 is paused (not shut off): it counts.
        for guest in ["web01", "db01", "cache01"] {
            assert!(message.contains(guest), "{message}");
        }
        assert!(
            !message.contains("build01"),
            "build01 is shut off: {message}"
        );
    }
    // db01 also uses shared-nfs (its data disk).
    let (status, err) = app
        .post(
            &client,
            "/api/pools/action",
            &json!({"host": "demo-alpha", "pool": "shared-nfs", "action": "stop"}),
        )
        .await;
    assert_eq!(status, 409, "{err}");
    assert!(err["message"].as_str().unwrap().contains("db01"));
    // With its storage, even a shut-off guest's disks block the delete.
    let (status, err) = app
        .post(
            &client,
            "/api/pools/action",
            &json!({"host": "demo-beta", "pool": "default", "action": "delete", "delete_storage": true}),
        )
        .await;
    assert_eq!(status, 409, "{err}");
    assert!(err["message"].as_str().unwrap().contains("backup01"));
    assert_eq!(pools(&app, &client).await.as_array().unwrap().len(), 6);

    // beta's shared-nfs is used by no guest of beta, but it is alpha's share
    // too, where db01 runs from it: not deleted with its volumes…
    let (status, err) = app
        .post(
            &client,
            "/api/pools/action",
            &json!({"host": "demo-beta", "pool": "shared-nfs", "action": "delete", "delete_storage": true}),
        )
        .await;
    assert_eq!(status, 409, "{err}");
    assert!(err["message"].as_str().unwrap().contains("db01"), "{err}");
    assert_eq!(app.audit("pool.delete+storage").await.len(), 2);
    // …but beta may forget its definition (the files stay).
    let (status, p) = app
        .post(
            &client,
            "/api/pools/action",
            &json!({"host": "demo-beta", "pool": "shared-nfs", "action": "delete"}),
        )
        .await;
    assert_eq!((status, &p), (200, &Value::Null));
    assert!(find(&pools(&app, &client).await, "demo-beta", "shared-nfs").is_none());
    let (status, err) = app
        .post(
            &client,
            "/api/pools/action",
            &json!({"host": "demo-beta", "pool": "backups", "action": "explode"}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(err["message"]
        .as_str()
        .unwrap()
        .contains("start, stop, refresh"));
    assert_eq!(app.audit("pool.invalid").await.len(), 1);
}

#[tokio::test]
async fn volumes_are_listed_with_formats_sizes_and_their_guests() {
    let app = spawn_app(vec![]).await;
    let client = app.admin().await;
    let vols = volumes(&app, &client, "demo-alpha", "default").await;
    assert_eq!(
        names(&vols),
        [
            "appliance.vdi",
            "build01.raw",
            "cache01.img",
            "db01.qcow2",
            "legacy.qcow",
            "web01.qcow2",
            "win2022-template.vmdk"
        ]
    );
    let web = &vols[5];
    for key in [
        "host",
        "pool",
        "name",
        "path",
        "format",
        "capacity",
        "allocation",
        "used_by",
    ] {
        assert!(web.get(key).is_some(), "volume lacks {key}");
    }
    assert_eq!(web["path"], "/var/lib/libvirt/images/web01.qcow2");
    assert_eq!(web["format"], "qcow2");
    assert_eq!(web["capacity"], 20u64 << 30);
    assert_eq!(web["allocation"], 6u64 << 30);
    assert_eq!(web["used_by"][0]["name"], "web01");
    assert_eq!(web["used_by"][0]["state"], "running");
    assert_eq!(vols[0]["format"], "vdi");
    assert_eq!(vols[6]["format"], "vmdk");
    assert_eq!(vols[6]["used_by"], json!([]));
    assert_eq!(vols[1]["used_by"][0]["state"], "shutoff");
    // The volume on shared storage is used by db01 on alpha: through either
    // host (its users say which host they are on).
    let nfs_a = volumes(&app, &client, "demo-alpha", "shared-nfs").await;
    let nfs_b = volumes(&app, &client, "demo-beta", "shared-nfs").await;
    assert_eq!(nfs_a[0]["used_by"][0]["name"], "db01");
    assert_eq!(nfs_a[0]["used_by"][0]["host"], "demo-alpha");
    assert_eq!(nfs_b[0]["used_by"], nfs_a[0]["used_by"]);

    let (status, page) = app
        .get(
            &client,
            "/api/volumes/page?host=demo-alpha&pool=default&q=QCOW&offset=1&limit=1",
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["total"], 3, "db01.qcow2, legacy.qcow, web01.qcow2");
    assert_eq!(page["volumes"][0]["name"], "legacy.qcow");
    assert_eq!(
        page["committed"],
        (20u64 + 100 + 8 + 16 + 60 + 16 + 4) << 30
    );

    for (query, status) in [
        ("host=demo-alpha&pool=nothing", 404),
        ("host=nowhere&pool=default", 404),
        ("host=demo-alpha&pool=../x", 400),
        ("host=demo-alpha", 400),
    ] {
        let (got, err) = app.get(&client, &format!("/api/volumes?{query}")).await;
        assert_eq!(got, status, "{query}: {err}");
    }
}

#[tokio::test]
async fn volumes_are_created_cloned_and_deleted_with_checks() {
    let app = spawn_app(vec![]).await;
    let client = app.admin().await;
    let create = |name: &str, format: &str, capacity: Value, allocation: Value| {
        json!({"host": "demo-beta", "pool": "default", "name": name, "format": format,
               "capacity": capacity, "allocation": allocation})
    };
    let (status, vol) = app
        .post(
            &client,
            "/api/volumes",
            &create("new.qcow2", "qcow2", json!("20G"), json!("sparse")),
        )
        .await;
    assert_eq!(status, 200, "{vol}");
    assert_eq!(vol["name"], "new.qcow2");
    assert_eq!(vol["format"], "qcow2");
    assert_eq!(vol["capacity"], 20u64 << 30);
    let (status, vol) = app
        .post(
            &client,
            "/api/volumes",
            &create("part.raw", "raw", json!(1u64 << 30), json!("256MiB")),
        )
        .await;
    assert_eq!(status, 200, "{vol}");
    assert_eq!(vol["capacity"], 1u64 << 30);

    let before = volumes(&app, &client, "demo-beta", "default").await;
    assert!(names(&before).contains(&"new.qcow2".to_string()));
    let bad = [
        (
            create("x.qcow2", "qcow2", json!("1G"), json!("256M")),
            400,
            "either sparse or fully allocated",
        ),
        (
            create("x.raw", "raw", json!(0), json!(null)),
            400,
            "zero bytes",
        ),
        (
            create("x.raw", "raw", json!(-1), json!(null)),
            400,
            "negative",
        ),
        (
            create("x.raw", "raw", json!("-5G"), json!(null)),
            400,
            "negative",
        ),
        (
            create("x.raw", "raw", json!("2EiB"), json!(null)),
            400,
            "1 EiB",
        ),
        (
            create("x.raw", "raw", json!(u64::MAX), json!(null)),
            400,
            "1 EiB",
        ),
        (
            create("x.raw", "raw", json!("ten gigs"), json!(null)),
            400,
            "not a size",
        ),
        (
            create("x.raw", "raw", json!(true), json!(null)),
            400,
            "expected a number",
        ),
        (
            create("x.raw", "raw", json!("1G"), json!("2G")),
            400,
            "larger than the capacity",
        ),
        (
            create("x.raw", "cloop", json!("1G"), json!(null)),
            400,
            "only be read",
        ),
        (
            create("x.raw", "exe", json!("1G"), json!(null)),
            400,
            "unknown volume format",
        ),
        (
            create("../x", "raw", json!("1G"), json!(null)),
            400,
            "not a valid volume name",
        ),
        (
            create("a<b>&'c\"", "raw", json!("1G"), json!(null)),
            400,
            "not a valid volume name",
        ),
        (
            create("new.qcow2", "qcow2", json!("1G"), json!(null)),
            409,
            "already has a volume",
        ),
        (
            create("x.vmdk", "vmdk", json!("1G"), json!("full")),
            400,
            "cannot be fully allocated",
        ),
    ];
    for (body, status, why) in bad {
        let (got, err) = app.post(&client, "/api/volumes", &body).await;
        assert_eq!(got, status, "{body}: {err}");
        assert!(
            err["message"].as_str().unwrap().contains(why),
            "{body}: {err}"
        );
    }
    assert_eq!(volumes(&app, &client, "demo-beta", "default").await, before);

    let action = |name: &str, action: &str, extra: Value| {
        let mut b = json!({"host": "demo-beta", "pool": "default", "name": name, "action": action});
        if let (Some(b), Some(e)) = (b.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        b
    };
    let (status, clone) = app
        .post(
            &client,
            "/api/volumes/action",
            &action("new.qcow2", "clone", json!({"new_name": "copy.qcow2"})),
        )
        .await;
    assert_eq!(status, 200, "{clone}");
    assert_eq!(clone["name"], "copy.qcow2");
    assert_eq!(clone["format"], "qcow2");
    let (status, err) = app
        .post(
            &client,
            "/api/volumes/action",
            &action("new.qcow2", "clone", json!({"new_name": "copy.qcow2"})),
        )
        .await;
    assert_eq!(status, 409, "{err}");

    // mail01 runs from its disk: no delete.
    let (status, err) = app
        .post(
            &client,
            "/api/volumes/action",
            &action("mail01.qcow2", "delete", json!({})),
        )
        .await;
    assert_eq!(status, 409, "{err}");
    assert!(err["message"].as_str().unwrap().contains("mail01"));
    // Shrinking is refused before libvirt is asked.
    let (status, err) = app
        .post(
            &client,
            "/api/volumes/action",
            &action("new.qcow2", "resize", json!({"capacity": "1G"})),
        )
        .await;
    assert_eq!(status, 400, "{err}");
    assert!(err["message"].as_str().unwrap().contains("only grows"));
    // The test driver cannot resize: libvirt's own message comes through.
    let (status, err) = app
        .post(
            &client,
            "/api/volumes/action",
            &action("new.qcow2", "resize", json!({"capacity": "40G"})),
        )
        .await;
    assert_eq!(status, 422, "{err}");
    assert!(
        err["message"].as_str().unwrap().contains("not supported"),
        "{err}"
    );
    // Wiping a qcow2 image would destroy it.
    let (status, err) = app
        .post(
            &client,
            "/api/volumes/action",
            &action("new.qcow2", "wipe", json!({})),
        )
        .await;
    assert_eq!(status, 400, "{err}");

    for name in ["new.qcow2", "copy.qcow2", "part.raw"] {
        let (status, v) = app
            .post(
                &client,
                "/api/volumes/action",
                &action(name, "delete", json!({})),
            )
            .await;
        assert_eq!((status, &v), (200, &Value::Null), "{name}");
    }
    let (status, err) = app
        .post(
            &client,
            "/api/volumes/action",
            &action("new.qcow2", "delete", json!({})),
        )
        .await;
    assert_eq!(status, 404, "{err}");
    let after = volumes(&app, &client, "demo-beta", "default").await;
    assert_eq!(
        names(&after),
        [
            "backup01.qcow2",
            "ci-runner.qcow2",
            "mail01.qcow2",
            "scratch.raw"
        ]
    );

    let audit = app.audit("volume.").await;
    assert_eq!(
        audit.iter().filter(|r| r.action == "volume.create").count(),
        17
    );
    assert_eq!(
        audit
            .iter()
            .filter(|r| r.action == "volume.delete" && r.outcome == "ok")
            .count(),
        3
    );
}

#[tokio::test]
async fn a_failed_upload_leaves_no_volume_behind() {
    let app = spawn_app(vec![]).await;
    let client = app.admin().await;
    let url = |q: &str| format!("{}/api/volumes/upload?{q}", app.url);
    // The test driver has no volume upload: the new volume is removed again.
    let resp = client
        .put(url("host=demo-alpha&pool=iso&name=new.iso"))
        .header("content-type", "application/octet-stream")
        .body(vec![7u8; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
    let err: Value = resp.json().await.unwrap();
    let message = err["message"].as_str().unwrap();
    assert!(message.contains("not supported"), "{message}");
    assert!(message.contains("The new volume was removed"), "{message}");
    let vols = volumes(&app, &client, "demo-alpha", "iso").await;
    assert_eq!(
        names(&vols),
        ["debian-12-netinst.iso", "ubuntu-24.04-live-server.iso"]
    );

    // No cross-site form can send this: it needs octet-stream and a length.
    let resp = client
        .post(url("host=demo-alpha&pool=iso&name=x.iso"))
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = client
        .put(url("host=demo-alpha&pool=iso&name=../x"))
        .header("content-type", "application/octet-stream")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = app
        .anonymous()
        .put(url("host=demo-alpha&pool=iso&name=x.iso"))
        .header("content-type", "application/octet-stream")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = client
        .get(format!(
            "{}/api/volumes/download?host=demo-alpha&pool=iso&name=nope.iso",
            app.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let audit = app.audit("volume.upload").await;
    assert_eq!(
        audit.len(),
        3,
        "every refused upload with a session is audited"
    );
}

#[tokio::test]
async fn storage_changes_are_announced() {
    let dir = tempfile::tempdir().unwrap();
    let hosts = crate::helpers::fixture_hosts(dir.path());
    let (events, mut rx) = broadcast::channel(64);
    let registry = HostRegistry::new(&hosts, events);
    assert!(registry.wait_connected(Duration::from_secs(10)).await);
    let storage = LibvirtStorage::new(
        registry,
        StorageRoots::new(vec!["/var/lib/libvirt/images".into()], &hosts),
    );
    // What connecting announced (host states, the first lists).
    while rx.try_recv().is_ok() {}
    let spec = PoolSpec {
        name: StorageName::parse("pool name", "events").unwrap(),
        pool_type: PoolType::Dir,
        target_path: Some("/var/lib/libvirt/images/events".into()),
        source: Default::default(),
        autostart: false,
        build: false,
        overwrite: false,
        keep_on_failure: false,
    };
    storage.create_pool("demo-alpha", &spec).await.unwrap();
    // libvirt's own pool events arrive beside the announcements of the
    // actions, in no fixed order: wait for each expected message.
    let is_events =
        |pool: &app::api::pools::PoolSummary| pool.host == "demo-alpha" && pool.name == "events";
    announced(
        &mut rx,
        "the new pool",
        |e| matches!(e, ServerEvent::PoolChanged { pool } if is_events(pool)),
    )
    .await;
    let volume = app::api::volumes::validate_new_volume(
        "v1",
        Some("raw"),
        &app::api::size::SizeArg::text("1G"),
        &Default::default(),
    )
    .unwrap();
    storage
        .create_volume("demo-alpha", &spec.name, &volume)
        .await
        .unwrap();
    // Both, in either order.
    let one_volume = |e: &ServerEvent| matches!(e, ServerEvent::PoolChanged { pool } if is_events(pool) && pool.volumes == Some(1));
    let before = announced(&mut rx, "its volumes changed", |e| {
        matches!(e, ServerEvent::VolumesChanged { host, pool } if host == "demo-alpha" && pool == "events")
    })
    .await;
    if !before.iter().any(one_volume) {
        announced(&mut rx, "the pool with one volume", one_volume).await;
    }
    storage
        .pool_action(
            "demo-alpha",
            &spec.name,
            app::api::pools::PoolAction::Delete,
            true,
        )
        .await
        .unwrap();
    announced(&mut rx, "the pool removed", |e| {
        matches!(e, ServerEvent::PoolRemoved { host, name } if host == "demo-alpha" && name == "events")
    })
    .await;
    // libvirt's own events of the deletion (stopped, undefined) may still be
    // on their way; once they are handled, the last word is the removal.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut last = None;
    while let Ok(event) = rx.try_recv() {
        match &event {
            ServerEvent::PoolChanged { pool } if is_events(pool) => last = Some(event),
            ServerEvent::PoolRemoved { host, name } if host == "demo-alpha" && name == "events" => {
                last = Some(event)
            }
            _ => {}
        }
    }
    assert!(
        last.is_none() || matches!(last, Some(ServerEvent::PoolRemoved { .. })),
        "the deleted pool was announced as existing last: {last:?}"
    );
    assert!(
        !storage.pools().await.iter().any(is_events),
        "the deleted pool is still listed"
    );
}

/// Waits (up to 5 s) for an announcement that `wanted` accepts; returns
/// those that came before it.
async fn announced(
    rx: &mut broadcast::Receiver<ServerEvent>,
    what: &str,
    wanted: impl Fn(&ServerEvent) -> bool,
) -> Vec<ServerEvent> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(event)) if wanted(&event) => return seen,
            Ok(Ok(event)) => seen.push(event),
            Ok(Err(e)) => panic!("waiting for {what}: {e}"),
            Err(_) => panic!("{what} was not announced; saw {seen:#?}"),
        }
    }
}

/// Issue 15 item 5: an operator must not own the hosts through a pool.
#[tokio::test]
async fn no_one_creates_a_pool_on_etc_root_or_virtdecks_own_data() {
    let app = spawn_app(vec![]).await;
    let admin = app.admin().await;
    let operator = crate::roles::user(&app, &admin, "op", "operator").await;
    let pool = |name: &str, path: &str| json!({"host": "demo-beta", "name": name, "type": "dir", "target_path": path});
    // Defining pools is the admins'.
    let (status, err) = app
        .post(&operator, "/api/pools", &pool("etc", "/etc"))
        .await;
    assert_eq!(status, 403, "{err}");
    let (status, err) = app
        .post(
            &operator,
            "/api/pools/scan",
            &json!({"host": "demo-beta", "type": "netfs", "source_host": "nfs1.example.test"}),
        )
        .await;
    assert_eq!(status, 403, "{err}");
    // And an admin's pools stay under the storage roots.
    let data = std::env::current_dir().unwrap().display().to_string();
    for (name, path) in [
        ("etc", "/etc"),
        ("ssh", "/root/.ssh"),
        ("own", data.as_str()),
        ("sibling", "/var/lib/libvirt/images-not"),
    ] {
        let (status, err) = app.post(&admin, "/api/pools", &pool(name, path)).await;
        assert_eq!(status, 403, "{path}: {err}");
        let message = err["message"].as_str().unwrap();
        assert!(
            message.contains("/var/lib/libvirt/images, /var/lib/libvirt/iso, /srv/virtdeck"),
            "the roots are named: {message}"
        );
    }
    let before = pools(&app, &admin).await;
    assert!(find(&before, "demo-beta", "etc").is_none());
    // Under a root, or under a pool the host has, it is fine.
    for (name, path) in [
        ("vms", "/srv/virtdeck/vms"),
        ("nested", "/mnt/backups/nested"),
    ] {
        let (status, p) = app.post(&admin, "/api/pools", &pool(name, path)).await;
        assert_eq!(status, 200, "{path}: {p}");
    }
    // Item 15: another pool's directory is the user's conflict, not libvirt's.
    let (status, err) = app
        .post(&admin, "/api/pools", &pool("twice", "/srv/virtdeck/vms/"))
        .await;
    assert_eq!(status, 409, "{err}");
    assert!(
        err["message"].as_str().unwrap().contains("pool vms"),
        "{err}"
    );
    // Operators use the pools there are, but do not delete them.
    let action = |action: &str| json!({"host": "demo-beta", "pool": "vms", "action": action});
    let (status, err) = app
        .post(&operator, "/api/pools/action", &action("delete"))
        .await;
    assert_eq!(status, 403, "{err}");
    let (status, p) = app
        .post(&operator, "/api/pools/action", &action("stop"))
        .await;
    assert_eq!(status, 200, "{p}");
    let (status, _) = app
        .post(&admin, "/api/pools/action", &action("delete"))
        .await;
    assert_eq!(status, 200);
    let refused: Vec<String> = app
        .audit("pool.")
        .await
        .into_iter()
        .filter(|r| r.outcome != "ok")
        .map(|r| r.action)
        .collect();
    // The admin's four and the conflict, the operator's delete (the gate's
    // refusals of create and scan are audited under their request lines).
    assert_eq!(refused.len(), 6, "every refusal is audited: {refused:?}");
}

/// Issue 15 item 15: another pool's directory is the user's conflict.
#[tokio::test]
async fn a_conflict_reported_as_a_host_failure() {
    let app = spawn_app(vec![]).await;
    let admin = app.admin().await;
    // demo-beta's pool "default" has /var/lib/libvirt/images.
    let (status, err) = app
        .post(
            &admin,
            "/api/pools",
            &json!({"host": "demo-beta", "name": "again", "type": "dir",
                    "target_path": "/var/lib/libvirt/images/"}),
        )
        .await;
    assert_eq!(status, 409, "not a 502 from libvirt: {err}");
    assert_eq!(err["error"], "conflict");
    assert!(
        err["message"].as_str().unwrap().contains("pool default"),
        "{err}"
    );
    assert!(find(&pools(&app, &admin).await, "demo-beta", "again").is_none());
}
