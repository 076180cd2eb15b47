//! The libvirt backend against libvirt's test driver (real libvirt, no daemon).

use std::time::{Duration, Instant};

use app::{
    api::{
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
