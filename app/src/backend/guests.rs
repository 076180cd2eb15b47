//! The hosts and their guests: `Fleet` (hosts, the guest list, start/stop)
//! and `Guests` (one guest's whole life: create, edit, clone, snapshots, delete).
//!
//! The busy rule is the implementation's: a guest that a running job holds
//! (a migration moving it) refuses every change — lifecycle actions, edits,
//! snapshots, clone, delete — with a conflict saying what holds it.

use async_trait::async_trait;

use crate::api::{
    guest_detail::{
        CloneSpec, DeleteReport, GuestDetail, GuestJob, GuestStats, GuestUpdate, SnapshotAction,
        SnapshotInfo,
    },
    guest_new::{GuestOptions, NewGuest},
    guests::{GuestAction, GuestCounts, GuestQuery, GuestSummary},
    hosts::HostSummary,
    size::StorageName,
    ApiError,
};

/// The managed libvirt hosts.
#[async_trait]
pub trait Fleet: Send + Sync + 'static {
    /// Every configured host; unreachable ones say why. Never blocks on a dead host.
    async fn hosts(&self) -> Vec<HostSummary>;
    /// Every guest of every host (as last seen, `stale`, for a host not
    /// connected now), sorted by host (in configuration order) and name.
    async fn guests(&self) -> Vec<GuestSummary>;
    /// The page of `guests()` that `query` selects; agrees with
    /// `GuestQuery::apply` and costs what the page costs, not the fleet.
    async fn guest_page(&self, query: &GuestQuery) -> Result<Vec<GuestSummary>, ApiError>;
    /// Counts per state and per host, and how many `query` selects; agrees
    /// with `count_guests`.
    async fn guest_counts(&self, query: &GuestQuery) -> Result<GuestCounts, ApiError>;
    /// Runs `action` on the guest `uuid` of `host` and returns its new summary.
    async fn guest_action(
        &self,
        host: &str,
        uuid: &str,
        action: GuestAction,
    ) -> Result<GuestSummary, ApiError>;
}

/// One guest's life beyond start and stop: creating, reading its whole
/// definition, editing, cloning (as a job), snapshots and deleting. Changes
/// are announced like the fleet's (`guest_changed`, `guest_removed`,
/// `volumes_changed`, `guest_job`).
#[async_trait]
pub trait Guests: Send + Sync + 'static {
    /// What `host` offers a new guest.
    async fn options(&self, host: &str) -> Result<GuestOptions, ApiError>;
    /// Creates (and starts, if asked) a guest; leaves nothing behind on failure.
    async fn create(&self, spec: &NewGuest) -> Result<GuestSummary, ApiError>;
    async fn detail(&self, host: &str, uuid: &str) -> Result<GuestDetail, ApiError>;
    async fn stats(&self, host: &str, uuid: &str) -> Result<GuestStats, ApiError>;
    async fn update(
        &self,
        host: &str,
        uuid: &str,
        update: &GuestUpdate,
    ) -> Result<GuestDetail, ApiError>;
    /// Deletes the guest and the listed volumes (paths of its own disks).
    async fn delete(
        &self,
        host: &str,
        uuid: &str,
        delete_volumes: &[String],
    ) -> Result<DeleteReport, ApiError>;
    /// Starts a clone job; answers its id.
    async fn clone_guest(
        &self,
        user: &str,
        host: &str,
        uuid: &str,
        spec: &CloneSpec,
    ) -> Result<String, ApiError>;
    async fn job(&self, id: &str) -> Result<GuestJob, ApiError>;
    async fn snapshots(&self, host: &str, uuid: &str) -> Result<Vec<SnapshotInfo>, ApiError>;
    async fn create_snapshot(
        &self,
        host: &str,
        uuid: &str,
        name: &StorageName,
        description: Option<&str>,
        memory: Option<bool>,
    ) -> Result<SnapshotInfo, ApiError>;
    async fn snapshot_action(
        &self,
        host: &str,
        uuid: &str,
        snapshot: &StorageName,
        action: SnapshotAction,
    ) -> Result<Vec<SnapshotInfo>, ApiError>;
}
