//! The libvirt backend against libvirt's test driver (real libvirt, no daemon).

use std::time::{Duration, Instant};

use app::{
    api::{
        events::ServerEvent,
        guests::{GuestAction, GuestState, GuestSummary},
        hosts::HostState,
        ApiError,
    },
    backend::Fleet,
};
use server::{
    config::HostConfig,
    services::{HostRegistry, LibvirtFleet},
};
use tokio::sync::broadcast;

/// The fixture hosts (and `extra`), once their first connection attempts ended.
async fn fleet(extra: Vec<HostConfig>) -> (LibvirtFleet, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut hosts = crate::helpers::fixture_hosts(dir.path());
    hosts.extend(extra);
    let (events, _) = broadcast::channel(256);
    let registry = HostRegistry::new(&hosts, events);
    registry
        .wait_settled(std::time::Duration::from_secs(10))
        .await;
    (LibvirtFleet::new(registry), dir)
}

async fn guest(fleet: &LibvirtFleet, name: &str) -> GuestSummary {
    fleet
        .guests()
        .await
        .into_iter()
        .find(|g| g.name == name)
        .unwrap_or_else(|| panic!("no guest {name}"))
}

#[tokio::test]
async fn lists_both_hosts_with_their_facts() {
    let (fleet, _dir) = fleet(vec![]).await;
    let hosts = fleet.hosts().await;
    let names: Vec<_> = hosts.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["demo-alpha", "demo-beta"]);
    let alpha = &hosts[0];
    assert!(alpha.connected, "{:?}", alpha.error);
    assert_eq!(alpha.guests, Some(4));
    assert_eq!(alpha.cpus, Some(8));
    assert_eq!(alpha.memory_kib, Some(32 * 1024 * 1024));
    assert!(alpha.libvirt_version.as_deref().unwrap().contains('.'));
    assert!(alpha.hypervisor_version.is_some());
    assert!(alpha.arch.is_some());
    assert_eq!(hosts[1].guests, Some(3));
}

#[tokio::test]
async fn lists_every_guest_of_every_host_with_its_state() {
    let (fleet, _dir) = fleet(vec![]).await;
    let guests = fleet.guests().await;
    assert_eq!(guests.len(), 7);
    let find = |name: &str| guests.iter().find(|g| g.name == name).unwrap();
    assert_eq!(find("web01").host, "demo-alpha");
    assert_eq!(find("web01").state, GuestState::Running);
    assert_eq!(find("web01").vcpus, 2);
    assert_eq!(find("web01").memory_kib, 2 * 1024 * 1024);
    assert_eq!(find("build01").state, GuestState::Shutoff);
    assert_eq!(find("cache01").state, GuestState::Paused);
    assert_eq!(find("mail01").host, "demo-beta");
    assert!(find("mail01").persistent);
}

#[tokio::test]
async fn each_lifecycle_action_changes_the_state_libvirt_reports() {
    let (fleet, _dir) = fleet(vec![]).await;
    let web = guest(&fleet, "web01").await;
    let steps = [
        (GuestAction::Suspend, GuestState::Paused),
        (GuestAction::Resume, GuestState::Running),
        (GuestAction::Reboot, GuestState::Running),
        (GuestAction::Shutdown, GuestState::Shutoff),
        (GuestAction::Start, GuestState::Running),
        (GuestAction::Destroy, GuestState::Shutoff),
    ];
    for (action, expected) in steps {
        let returned = fleet
            .guest_action(&web.host, &web.uuid, action)
            .await
            .unwrap();
        assert_eq!(returned.state, expected, "after {action}");
        // A fresh listing (a new read from libvirt) agrees.
        assert_eq!(
            guest(&fleet, "web01").await.state,
            expected,
            "listed after {action}"
        );
    }
}

#[tokio::test]
async fn an_action_the_state_forbids_is_refused_with_libvirts_reason() {
    let (fleet, _dir) = fleet(vec![]).await;
    let build = guest(&fleet, "build01").await; // shut off
    let err = fleet
        .guest_action(&build.host, &build.uuid, GuestAction::Suspend)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not running"), "{err}");
    assert!(err.to_string().contains("demo-alpha"), "{err}");
    assert_eq!(guest(&fleet, "build01").await.state, GuestState::Shutoff);

    let db = guest(&fleet, "db01").await; // running
    let err = fleet
        .guest_action(&db.host, &db.uuid, GuestAction::Start)
        .await
        .unwrap_err();
    // QEMU reports this as an invalid operation (409); the test driver as an internal error.
    assert!(
        matches!(err, ApiError::Conflict(_) | ApiError::Libvirt(_)),
        "{err:?}"
    );
    assert!(err.to_string().contains("already running"), "{err}");
    assert_eq!(guest(&fleet, "db01").await.state, GuestState::Running);
}

#[tokio::test]
async fn unknown_host_or_guest_is_not_found() {
    let (fleet, _dir) = fleet(vec![]).await;
    let web = guest(&fleet, "web01").await;
    let err = fleet
        .guest_action("nope", &web.uuid, GuestAction::Start)
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::NotFound(_)), "{err:?}");
    // web01's UUID on the other host.
    let err = fleet
        .guest_action("demo-beta", &web.uuid, GuestAction::Start)
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::NotFound(_)), "{err:?}");
    assert!(err.to_string().contains("demo-beta"), "{err}");
}

#[tokio::test]
async fn a_dead_host_is_reported_and_never_blocks_the_others() {
    // Port 9 on loopback: nothing listens there, the connection is refused.
    let dead = HostConfig::new("dead", "qemu+tcp://127.0.0.1:9/system");
    let (fleet, _dir) = fleet(vec![dead]).await;
    let hosts = fleet.hosts().await;
    let dead = hosts.iter().find(|h| h.name == "dead").unwrap();
    assert!(!dead.connected);
    assert_eq!(dead.state, HostState::Unreachable);
    assert!(dead.state_since.is_some() && dead.next_attempt_at.is_some());
    let error = dead.error.as_deref().unwrap();
    assert!(
        error.to_lowercase().contains("connect"),
        "libvirt's reason is kept: {error}"
    );
    assert!(hosts.iter().filter(|h| h.connected).count() == 2);

    // Guests of the others are still listed, and asking again never waits
    // for the dead host: lists come from what is known.
    assert_eq!(fleet.guests().await.len(), 7);
    let started = Instant::now();
    for _ in 0..100 {
        let again = fleet.hosts().await;
        assert!(!again.iter().find(|h| h.name == "dead").unwrap().connected);
        assert_eq!(fleet.guests().await.len(), 7);
    }
    let took = started.elapsed();
    assert!(took < Duration::from_millis(500), "100 lists took {took:?}");
    let err = fleet
        .guest_action(
            "dead",
            "6b1f7c3e-0a11-4c5e-9a01-00000000a001",
            GuestAction::Start,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::HostUnavailable(_)), "{err:?}");
}

#[tokio::test]
async fn actions_are_announced_to_websocket_listeners() {
    let dir = tempfile::tempdir().unwrap();
    let hosts = crate::helpers::fixture_hosts(dir.path());
    let (events, mut rx) = broadcast::channel(256);
    let registry = HostRegistry::new(&hosts, events);
    assert!(
        registry
            .wait_connected(std::time::Duration::from_secs(10))
            .await
    );
    let fleet = LibvirtFleet::new(registry);
    let cache = guest(&fleet, "cache01").await;
    // What connecting announced (host states, the first guest lists).
    while rx.try_recv().is_ok() {}
    fleet
        .guest_action(&cache.host, &cache.uuid, GuestAction::Resume)
        .await
        .unwrap();
    match rx.try_recv().unwrap() {
        app::api::events::ServerEvent::GuestChanged { guest } => {
            assert_eq!(guest.name, "cache01");
            assert_eq!(guest.state, GuestState::Running);
        }
        other => panic!("unexpected event {other:?}"),
    }
}

/// A host's first read is said once, as the host with its count, not as
/// one event per guest: 600 guests would overflow a listener's queue of 256
/// (the socket relay would then close every page's socket). A change after
/// it is still said guest by guest.
#[tokio::test]
async fn a_first_read_is_one_host_event_not_one_per_guest() {
    let dir = tempfile::tempdir().unwrap();
    let hosts = vec![generated_host(dir.path(), "big", 600)];
    let (events, mut rx) = broadcast::channel(256);
    let registry = HostRegistry::new(&hosts, events);
    assert!(registry.wait_connected(Duration::from_secs(10)).await);
    let fleet = LibvirtFleet::new(registry);
    assert_eq!(fleet.guests().await.len(), 600);
    let mut said = Vec::new();
    loop {
        match rx.try_recv() {
            Ok(event) => said.push(event),
            Err(broadcast::error::TryRecvError::Empty) => break,
            Err(e) => panic!("the first read overflowed the queue: {e:?}"),
        }
    }
    assert!(
        !said.iter().any(|e| matches!(
            e,
            ServerEvent::GuestChanged { .. } | ServerEvent::GuestRemoved { .. }
        )),
        "guests announced one by one: {} events",
        said.len()
    );
    let counted = said.iter().rev().find_map(|e| match e {
        ServerEvent::HostChanged { host } => host.guests,
        _ => None,
    });
    assert_eq!(
        counted,
        Some(600),
        "the host's last event carries its count"
    );

    let guest = fleet
        .guests()
        .await
        .into_iter()
        .find(|g| g.state == GuestState::Paused)
        .unwrap();
    fleet
        .guest_action(&guest.host, &guest.uuid, GuestAction::Resume)
        .await
        .unwrap();
    match rx.try_recv().unwrap() {
        ServerEvent::GuestChanged { guest: changed } => {
            assert_eq!(changed.uuid, guest.uuid);
            assert_eq!(changed.state, GuestState::Running);
        }
        other => panic!("unexpected event {other:?}"),
    }
}

/// A generated host for the list's index: mixed-case names, four states.
fn generated_host(dir: &std::path::Path, name: &str, guests: usize) -> HostConfig {
    let mut xml = String::from("<node><memory>268435456</memory>\n");
    for i in 0..guests {
        let state = [1, 3, 5, 6][i % 4];
        let guest = match i % 3 {
            0 => format!("Web-{name}-{i:03}"),
            1 => format!("db{i:03}{name}"),
            _ => format!("CACHE_{i}"),
        };
        xml.push_str(&format!(
            "<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\
             <name>{guest}</name><uuid>{:08x}-0000-4000-8000-{:012x}</uuid>\
             <memory unit='MiB'>512</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os>\
             <test:runstate>{state}</test:runstate></domain>\n",
            name.len() * 1000 + i,
            i * 7919,
        ));
    }
    xml.push_str("</node>\n");
    let path = dir.join(format!("{name}.xml"));
    std::fs::write(&path, xml).unwrap();
    HostConfig::new(name, &format!("test://{}", path.display()))
}

/// The paged list and the counts come from each host's sorted index; every
/// combination of filters and pages must give exactly what the plain reading
/// of the query gives over the whole list.
#[tokio::test]
async fn paged_lists_and_counts_agree_with_the_plain_reading_of_the_query() {
    use app::api::guests::{count_guests, GuestQuery};
    let gen = tempfile::tempdir().unwrap();
    let extra = vec![
        generated_host(gen.path(), "gen-a", 37),
        generated_host(gen.path(), "gen-bb", 0),
        generated_host(gen.path(), "gen-ccc", 61),
    ];
    let (fleet, _dir) = fleet(extra).await;
    let all = fleet.guests().await;
    assert_eq!(all.len(), 7 + 37 + 61);
    let uuid_part = all[50].uuid[24..32].to_string();
    let mut checked = 0;
    for host in [
        None,
        Some("gen-a"),
        Some("gen-bb"),
        Some("gen-ccc"),
        Some("demo-beta"),
        Some("nowhere"),
    ] {
        for state in [
            None,
            Some("running"),
            Some("paused"),
            Some("shutoff"),
            Some("crashed"),
            Some("pmsuspended"),
        ] {
            for text in [
                "",
                "web",
                "DB0",
                "cache_1",
                "GEN-C",
                uuid_part.as_str(),
                "zzz",
            ] {
                for (offset, limit) in [
                    (None, None),
                    (Some(0), Some(0)),
                    (Some(0), Some(1)),
                    (Some(3), Some(10)),
                    (Some(36), Some(5)),
                    (Some(40), Some(50)),
                    (Some(98), None),
                    (Some(1000), Some(50)),
                ] {
                    let query = GuestQuery {
                        host: host.map(String::from),
                        state: state.map(String::from),
                        q: Some(text.to_string()),
                        offset,
                        limit,
                    };
                    let page = fleet.guest_page(&query).await.unwrap();
                    assert_eq!(page, query.apply(all.clone()).unwrap(), "{query:?}");
                    let counts = fleet.guest_counts(&query).await.unwrap();
                    assert_eq!(counts, count_guests(&all, &query).unwrap(), "{query:?}");
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 6 * 6 * 7 * 8);
    let bad = GuestQuery {
        state: Some("sleeping".into()),
        ..Default::default()
    };
    assert!(matches!(
        fleet.guest_page(&bad).await,
        Err(ApiError::BadRequest(_))
    ));
    assert!(matches!(
        fleet.guest_counts(&bad).await,
        Err(ApiError::BadRequest(_))
    ));

    // After a change the index follows.
    let web = all.iter().find(|g| g.name == "Web-gen-a-000").unwrap();
    fleet
        .guest_action(&web.host, &web.uuid, GuestAction::Destroy)
        .await
        .unwrap();
    let query = GuestQuery {
        state: Some("shutoff".into()),
        q: Some("web-gen-a".into()),
        ..Default::default()
    };
    let now = fleet.guests().await;
    let page = fleet.guest_page(&query).await.unwrap();
    assert!(page.iter().any(|g| g.name == "Web-gen-a-000"), "{page:?}");
    assert_eq!(page, query.apply(now.clone()).unwrap());
    assert_eq!(
        fleet.guest_counts(&query).await.unwrap(),
        count_guests(&now, &query).unwrap()
    );
}
