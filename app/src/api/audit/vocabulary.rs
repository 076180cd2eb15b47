//! The audit log's words: the fixed action names and how targets are worded.

use strum::{AsRefStr, Display, EnumIter, EnumString, IntoStaticStr};

use crate::api::{
    clip, guest_detail::SnapshotAction, guests::GuestAction, migrations::MigrationMode,
    pools::PoolAction, volumes::VolumeAction,
};

/// What was attempted: the audit log's fixed vocabulary (`guest.start`,
/// `login`, …). The strings are stored and filtered on (`?action=guest.`):
/// never change one. `request` is a request refused before it was
/// understood; `…invalid` an action whose name was not understood.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, IntoStaticStr, AsRefStr, EnumString, Display, EnumIter,
)]
pub enum AuditAction {
    #[strum(serialize = "request")]
    Request,
    #[strum(serialize = "login")]
    Login,
    #[strum(serialize = "login.totp")]
    LoginTotp,
    #[strum(serialize = "logout")]
    Logout,

    #[strum(serialize = "guest.start")]
    GuestStart,
    #[strum(serialize = "guest.shutdown")]
    GuestShutdown,
    #[strum(serialize = "guest.reboot")]
    GuestReboot,
    #[strum(serialize = "guest.destroy")]
    GuestDestroy,
    #[strum(serialize = "guest.suspend")]
    GuestSuspend,
    #[strum(serialize = "guest.resume")]
    GuestResume,
    #[strum(serialize = "guest.invalid")]
    GuestInvalid,
    #[strum(serialize = "guest.create")]
    GuestCreate,
    #[strum(serialize = "guest.update")]
    GuestUpdate,
    #[strum(serialize = "guest.delete")]
    GuestDelete,
    #[strum(serialize = "guest.clone")]
    GuestClone,
    #[strum(serialize = "guest.snapshot.create")]
    GuestSnapshotCreate,
    #[strum(serialize = "guest.snapshot.revert")]
    GuestSnapshotRevert,
    #[strum(serialize = "guest.snapshot.delete")]
    GuestSnapshotDelete,
    #[strum(serialize = "guest.snapshot.invalid")]
    GuestSnapshotInvalid,
    #[strum(serialize = "guest.console.serial")]
    GuestConsoleSerial,
    #[strum(serialize = "guest.console.vnc")]
    GuestConsoleVnc,

    #[strum(serialize = "pool.create")]
    PoolCreate,
    #[strum(serialize = "pool.start")]
    PoolStart,
    #[strum(serialize = "pool.stop")]
    PoolStop,
    #[strum(serialize = "pool.refresh")]
    PoolRefresh,
    #[strum(serialize = "pool.autostart_on")]
    PoolAutostartOn,
    #[strum(serialize = "pool.autostart_off")]
    PoolAutostartOff,
    #[strum(serialize = "pool.delete")]
    PoolDelete,
    /// Deleted with its volumes and directory or volume group.
    #[strum(serialize = "pool.delete+storage")]
    PoolDeleteStorage,
    #[strum(serialize = "pool.invalid")]
    PoolInvalid,

    #[strum(serialize = "volume.create")]
    VolumeCreate,
    #[strum(serialize = "volume.delete")]
    VolumeDelete,
    #[strum(serialize = "volume.resize")]
    VolumeResize,
    #[strum(serialize = "volume.wipe")]
    VolumeWipe,
    #[strum(serialize = "volume.clone")]
    VolumeClone,
    #[strum(serialize = "volume.invalid")]
    VolumeInvalid,
    #[strum(serialize = "volume.upload")]
    VolumeUpload,
    #[strum(serialize = "volume.download")]
    VolumeDownload,

    #[strum(serialize = "migration.start.live")]
    MigrationStartLive,
    #[strum(serialize = "migration.start.paused")]
    MigrationStartPaused,
    #[strum(serialize = "migration.start.offline")]
    MigrationStartOffline,
    #[strum(serialize = "migration.start.invalid")]
    MigrationStartInvalid,
    #[strum(serialize = "migration.cancel")]
    MigrationCancel,
    #[strum(serialize = "migration.tune")]
    MigrationTune,

    #[strum(serialize = "host.maintenance.enter")]
    MaintenanceEnter,
    #[strum(serialize = "host.maintenance.exit")]
    MaintenanceExit,
    #[strum(serialize = "host.maintenance.invalid")]
    MaintenanceInvalid,
    #[strum(serialize = "evacuation.cancel")]
    EvacuationCancel,
    /// A step an evacuation took on its user's behalf: one guest's migration.
    #[strum(serialize = "evacuation.migrate")]
    EvacuationMigrate,
    /// A blocked guest shut down at the end, as the user asked.
    #[strum(serialize = "evacuation.shut_down")]
    EvacuationShutDown,

    /// A balance recommendation applied by a user.
    #[strum(serialize = "balance.apply")]
    BalanceApply,
    /// A migration the advisor started by itself (automatic mode).
    #[strum(serialize = "balance.migrate")]
    BalanceMigrate,
    #[strum(serialize = "balance.settings")]
    BalanceSettings,

    #[strum(serialize = "user.create")]
    UserCreate,
    #[strum(serialize = "user.disable")]
    UserDisable,
    #[strum(serialize = "user.enable")]
    UserEnable,
    #[strum(serialize = "user.role")]
    UserRole,
    #[strum(serialize = "user.password")]
    UserPassword,
    #[strum(serialize = "user.totp.enable")]
    UserTotpEnable,
    #[strum(serialize = "user.totp.disable")]
    UserTotpDisable,
    /// An admin turned another user's two-factor login off (a lost phone).
    #[strum(serialize = "user.totp.reset")]
    UserTotpReset,
    #[strum(serialize = "session.end")]
    SessionEnd,
    #[strum(serialize = "token.create")]
    TokenCreate,
    #[strum(serialize = "token.revoke")]
    TokenRevoke,
    #[strum(serialize = "settings.update")]
    SettingsUpdate,
}

impl AuditAction {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// A guest lifecycle action; `None` when its name was not understood.
    pub fn guest(action: Option<GuestAction>) -> Self {
        match action {
            Some(GuestAction::Start) => Self::GuestStart,
            Some(GuestAction::Shutdown) => Self::GuestShutdown,
            Some(GuestAction::Reboot) => Self::GuestReboot,
            Some(GuestAction::Destroy) => Self::GuestDestroy,
            Some(GuestAction::Suspend) => Self::GuestSuspend,
            Some(GuestAction::Resume) => Self::GuestResume,
            None => Self::GuestInvalid,
        }
    }

    pub fn snapshot(action: Option<SnapshotAction>) -> Self {
        match action {
            Some(SnapshotAction::Revert) => Self::GuestSnapshotRevert,
            Some(SnapshotAction::Delete) => Self::GuestSnapshotDelete,
            None => Self::GuestSnapshotInvalid,
        }
    }

    /// A pool action; a delete with `delete_storage` is its own entry.
    pub fn pool(action: Option<PoolAction>, delete_storage: bool) -> Self {
        match action {
            Some(PoolAction::Delete) if delete_storage => Self::PoolDeleteStorage,
            Some(PoolAction::Start) => Self::PoolStart,
            Some(PoolAction::Stop) => Self::PoolStop,
            Some(PoolAction::Refresh) => Self::PoolRefresh,
            Some(PoolAction::AutostartOn) => Self::PoolAutostartOn,
            Some(PoolAction::AutostartOff) => Self::PoolAutostartOff,
            Some(PoolAction::Delete) => Self::PoolDelete,
            None => Self::PoolInvalid,
        }
    }

    pub fn volume(action: Option<VolumeAction>) -> Self {
        match action {
            Some(VolumeAction::Delete) => Self::VolumeDelete,
            Some(VolumeAction::Resize) => Self::VolumeResize,
            Some(VolumeAction::Wipe) => Self::VolumeWipe,
            Some(VolumeAction::Clone) => Self::VolumeClone,
            None => Self::VolumeInvalid,
        }
    }

    /// Entering or leaving maintenance.
    pub fn maintenance(action: Option<crate::api::maintenance::MaintenanceAction>) -> Self {
        use crate::api::maintenance::MaintenanceAction as A;
        match action {
            Some(A::Enter) => Self::MaintenanceEnter,
            Some(A::Exit) => Self::MaintenanceExit,
            None => Self::MaintenanceInvalid,
        }
    }

    /// Starting a migration, by its mode.
    pub fn migration_start(mode: Option<MigrationMode>) -> Self {
        match mode {
            Some(MigrationMode::Live) => Self::MigrationStartLive,
            Some(MigrationMode::Paused) => Self::MigrationStartPaused,
            Some(MigrationMode::Offline) => Self::MigrationStartOffline,
            None => Self::MigrationStartInvalid,
        }
    }
}

impl From<AuditAction> for String {
    fn from(action: AuditAction) -> String {
        action.as_str().to_string()
    }
}

/// The object an audit line is about, always worded the same way
/// (`guest <uuid> on host <host>`, …) so that `?object=` finds it. Text from
/// the request is clipped (`clip`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target(String);

impl Target {
    /// A guest by UUID, or by name while it is being created.
    pub fn guest(host: &str, guest: &str) -> Self {
        Target(format!("guest {} on host {}", clip(guest), clip(host)))
    }

    /// A guest on its way from `host` to `destination`.
    pub fn migration_of(host: &str, uuid: &str, destination: &str) -> Self {
        Target(format!(
            "guest {} on host {} to host {}",
            clip(uuid),
            clip(host),
            clip(destination)
        ))
    }

    /// A host by name.
    pub fn host(host: &str) -> Self {
        Target(format!("host {}", clip(host)))
    }

    /// An evacuation job by id.
    pub fn evacuation(id: &str) -> Self {
        Target(format!("evacuation {}", clip(id)))
    }

    /// A balance recommendation by id.
    pub fn recommendation(id: &str) -> Self {
        Target(format!("recommendation {}", clip(id)))
    }

    /// The balance advisor's settings.
    pub fn balance() -> Self {
        Target("balance advisor".into())
    }

    /// A migration job by id.
    pub fn migration(id: &str) -> Self {
        Target(format!("migration {}", clip(id)))
    }

    /// A pool on a host (or on several: their names joined with commas).
    pub fn pool(host: &str, pool: &str) -> Self {
        Target(format!("pool {} on host {}", clip(pool), clip(host)))
    }

    pub fn volume(host: &str, pool: &str, volume: &str) -> Self {
        Target(format!(
            "volume {} in pool {} on host {}",
            clip(volume),
            clip(pool),
            clip(host)
        ))
    }

    /// A user by name (stored names have at most 64 characters, so a real
    /// user's name is never clipped).
    pub fn user(username: &str) -> Self {
        Target(format!("user {}", clip(username)))
    }

    /// Login session number `id` of `username`.
    pub fn session(id: i64, username: &str) -> Self {
        Target(format!("session {id} of user {username}"))
    }

    /// API token number `id` of `username`.
    pub fn token(id: i64, username: &str) -> Self {
        Target(format!("token {id} of user {username}"))
    }

    /// A new API token, by the name asked for.
    pub fn new_token(name: &str, username: &str) -> Self {
        Target(format!("token {:?} of user {username}", clip(name)))
    }

    /// A setting and its new value.
    pub fn setting(name: &str, value: impl std::fmt::Display) -> Self {
        Target(format!("{name}={value}"))
    }

    /// A request refused before it was understood: `METHOD /path`.
    pub fn request(method: &str, path: &str) -> Self {
        Target(format!("{method} {}", clip(path)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Target {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use strum::IntoEnumIterator;

    use super::*;

    /// The stored vocabulary, byte for byte: rows written before a change
    /// must still be found by the same filters.
    #[test]
    fn the_action_vocabulary_is_fixed() {
        let all: Vec<&str> = AuditAction::iter().map(AuditAction::as_str).collect();
        assert_eq!(
            all,
            [
                "request",
                "login",
                "login.totp",
                "logout",
                "guest.start",
                "guest.shutdown",
                "guest.reboot",
                "guest.destroy",
                "guest.suspend",
                "guest.resume",
                "guest.invalid",
                "guest.create",
                "guest.update",
                "guest.delete",
                "guest.clone",
                "guest.snapshot.create",
                "guest.snapshot.revert",
                "guest.snapshot.delete",
                "guest.snapshot.invalid",
                "guest.console.serial",
                "guest.console.vnc",
                "pool.create",
                "pool.start",
                "pool.stop",
                "pool.refresh",
                "pool.autostart_on",
                "pool.autostart_off",
                "pool.delete",
                "pool.delete+storage",
                "pool.invalid",
                "volume.create",
                "volume.delete",
                "volume.resize",
                "volume.wipe",
                "volume.clone",
                "volume.invalid",
                "volume.upload",
                "volume.download",
                "migration.start.live",
                "migration.start.paused",
                "migration.start.offline",
                "migration.start.invalid",
                "migration.cancel",
                "migration.tune",
                "host.maintenance.enter",
                "host.maintenance.exit",
                "host.maintenance.invalid",
                "evacuation.cancel",
                "evacuation.migrate",
                "evacuation.shut_down",
                "balance.apply",
                "balance.migrate",
                "balance.settings",
                "user.create",
                "user.disable",
                "user.enable",
                "user.role",
                "user.password",
                "user.totp.enable",
                "user.totp.disable",
                "user.totp.reset",
                "session.end",
                "token.create",
                "token.revoke",
                "settings.update",
            ]
        );
        for action in AuditAction::iter() {
            assert_eq!(action.as_str().parse::<AuditAction>(), Ok(action));
            assert_eq!(action.to_string(), action.as_str());
        }
    }

    /// Actions named after an enum's wire name follow it (`guest.<action>`).
    #[test]
    fn actions_of_enums_use_their_wire_names() {
        for a in GuestAction::ALL {
            assert_eq!(AuditAction::guest(Some(a)).as_str(), format!("guest.{a}"));
        }
        for a in PoolAction::iter() {
            assert_eq!(
                AuditAction::pool(Some(a), false).as_str(),
                format!("pool.{a}")
            );
        }
        for a in VolumeAction::iter() {
            assert_eq!(AuditAction::volume(Some(a)).as_str(), format!("volume.{a}"));
        }
        for m in MigrationMode::iter() {
            assert_eq!(
                AuditAction::migration_start(Some(m)).as_str(),
                format!("migration.start.{m}")
            );
        }
        for a in SnapshotAction::iter() {
            assert_eq!(
                AuditAction::snapshot(Some(a)).as_str(),
                format!("guest.snapshot.{a}")
            );
        }
        assert_eq!(
            AuditAction::pool(Some(PoolAction::Delete), true).as_str(),
            "pool.delete+storage"
        );
        assert_eq!(
            AuditAction::pool(Some(PoolAction::Stop), true).as_str(),
            "pool.stop"
        );
    }

    #[test]
    fn targets_keep_their_wording() {
        let uuid = "6b1f7c3e-0a11-4c5e-9a01-00000000a001";
        assert_eq!(
            Target::guest("kvm1", uuid).as_str(),
            format!("guest {uuid} on host kvm1")
        );
        assert_eq!(
            Target::volume("kvm1", "default", "d.qcow2").as_str(),
            "volume d.qcow2 in pool default on host kvm1"
        );
        assert_eq!(
            Target::new_token("ci", "alice").as_str(),
            "token \"ci\" of user alice"
        );
        assert_eq!(
            Target::setting("require_totp_for_admins", true).as_str(),
            "require_totp_for_admins=true"
        );
        assert_eq!(Target::user(&"x".repeat(100)).as_str().chars().count(), 86);
    }
}
