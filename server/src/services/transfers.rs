//! Bounds on volume transfers: how many run at once, per user and in all,
//! and how long one may wait on a client that neither sends nor reads. A
//! transfer runs on a thread and a libvirt connection of its own
//! (`run_dedicated`), never on the pool that logins and libvirt calls share;
//! these bounds keep stalled clients from piling up threads and connections.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use app::api::ApiError;

/// Transfers one user may run at once.
pub const PER_USER: usize = 4;
/// Transfers that may run at once in all.
pub const IN_ALL: usize = 16;
/// How long a transfer waits for a client that sends or reads nothing.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct Transfers {
    running: Mutex<HashMap<String, usize>>,
    pub idle: Duration,
}

impl Transfers {
    pub fn new(idle: Duration) -> Arc<Self> {
        Arc::new(Transfers {
            running: Mutex::default(),
            idle,
        })
    }

    /// A place for one more transfer of `user` (given back when dropped), or
    /// 429 saying which bound was reached.
    pub fn begin(self: &Arc<Self>, user: &str) -> Result<Slot, ApiError> {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let all: usize = running.values().sum();
        let mine = running.get(user).copied().unwrap_or(0);
        if mine >= PER_USER {
            return Err(ApiError::TooManyRequests(format!(
                "you have {PER_USER} uploads or downloads running: wait for one to end"
            )));
        }
        if all >= IN_ALL {
            return Err(ApiError::TooManyRequests(format!(
                "{IN_ALL} uploads or downloads are running: try again when one has ended"
            )));
        }
        *running.entry(user.to_string()).or_default() += 1;
        Ok(Slot {
            transfers: self.clone(),
            user: user.to_string(),
        })
    }
}

/// One running transfer.
pub struct Slot {
    transfers: Arc<Transfers>,
    user: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut running = self
            .transfers
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = running.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                running.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfers_are_bounded_per_user_and_in_all() {
        let t = Transfers::new(DEFAULT_IDLE);
        let mine: Vec<Slot> = (0..PER_USER).map(|_| t.begin("ann").unwrap()).collect();
        assert!(matches!(t.begin("ann"), Err(ApiError::TooManyRequests(_))));
        drop(mine);
        assert!(t.begin("ann").is_ok(), "given back when dropped");
        let others: Vec<Slot> = (0..IN_ALL)
            .map(|i| t.begin(&format!("u{}", i / PER_USER)).unwrap())
            .collect();
        let err = t.begin("zed").err().unwrap();
        assert!(err.message().contains("16 uploads"), "{err:?}");
        drop(others);
    }
}
