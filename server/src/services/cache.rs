//! What virtdeck knows of one host: its facts, guests and storage pools, as
//! last read. Updating it says what changed, so that only real changes are
//! announced (an action through virtdeck and the libvirt event it causes
//! update the same entry; the second finds nothing new).

use std::collections::BTreeMap;

use app::api::{
    guests::{GuestState, GuestSummary},
    pools::PoolSummary,
};

use crate::libvirt::host::HostFacts;

/// A change to announce.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Guest(GuestSummary),
    GuestGone(String),
    Pool(Box<PoolSummary>),
    PoolGone(String),
}

#[derive(Debug, Default)]
pub struct HostCache {
    pub facts: Option<HostFacts>,
    /// By UUID.
    pub guests: BTreeMap<String, GuestSummary>,
    /// By name.
    pub pools: BTreeMap<String, PoolSummary>,
    /// When a guest was seen to start (only starts seen while connected).
    pub running_since: BTreeMap<String, std::time::SystemTime>,
    /// The first full read is done: guests that appear later are new.
    filled: bool,
}

impl HostCache {
    /// One guest as read now (`None`: the host no longer has it).
    pub fn guest(&mut self, uuid: &str, now: Option<GuestSummary>) -> Option<Change> {
        match now {
            Some(g) => {
                let running = g.state == GuestState::Running;
                let was = self
                    .guests
                    .get(uuid)
                    .map(|o| o.state == GuestState::Running);
                if !running {
                    self.running_since.remove(uuid);
                } else if was == Some(false) || (was.is_none() && self.filled) {
                    self.running_since
                        .insert(uuid.to_string(), std::time::SystemTime::now());
                }
                if self.guests.get(uuid) == Some(&g) {
                    return None;
                }
                self.guests.insert(uuid.to_string(), g.clone());
                Some(Change::Guest(g))
            }
            None => self
                .guests
                .remove(uuid)
                .inspect(|_| {
                    self.running_since.remove(uuid);
                })
                .map(|_| Change::GuestGone(uuid.to_string())),
        }
    }

    pub fn pool(&mut self, name: &str, now: Option<PoolSummary>) -> Option<Change> {
        match now {
            Some(p) => {
                if self.pools.get(name) == Some(&p) {
                    return None;
                }
                self.pools.insert(name.to_string(), p.clone());
                Some(Change::Pool(Box::new(p)))
            }
            None => self
                .pools
                .remove(name)
                .map(|_| Change::PoolGone(name.to_string())),
        }
    }

    /// Everything as read now; what differs from before.
    pub fn replace(
        &mut self,
        facts: HostFacts,
        guests: Vec<GuestSummary>,
        pools: Vec<PoolSummary>,
    ) -> Vec<Change> {
        self.facts = Some(facts);
        let mut changes = Vec::new();
        let seen: Vec<String> = guests.iter().map(|g| g.uuid.clone()).collect();
        for g in guests {
            let uuid = g.uuid.clone();
            changes.extend(self.guest(&uuid, Some(g)));
        }
        let gone: Vec<String> = self
            .guests
            .keys()
            .filter(|k| !seen.contains(k))
            .cloned()
            .collect();
        for uuid in gone {
            changes.extend(self.guest(&uuid, None));
        }
        let seen: Vec<String> = pools.iter().map(|p| p.name.clone()).collect();
        for p in pools {
            let name = p.name.clone();
            changes.extend(self.pool(&name, Some(p)));
        }
        let gone: Vec<String> = self
            .pools
            .keys()
            .filter(|k| !seen.contains(k))
            .cloned()
            .collect();
        for name in gone {
            changes.extend(self.pool(&name, None));
        }
        self.filled = true;
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::api::guests::GuestState;

    fn g(uuid: &str, state: GuestState) -> GuestSummary {
        GuestSummary {
            host: "h".into(),
            name: format!("g{uuid}"),
            uuid: uuid.into(),
            state,
            vcpus: 1,
            memory_kib: 1,
            persistent: true,
            autostart: false,
            stale: false,
        }
    }

    #[test]
    fn only_real_changes_are_reported() {
        let mut c = HostCache::default();
        let first = c.replace(
            HostFacts::default(),
            vec![g("1", GuestState::Running), g("2", GuestState::Shutoff)],
            vec![],
        );
        assert_eq!(first.len(), 2);
        assert_eq!(
            c.guest("1", Some(g("1", GuestState::Running))),
            None,
            "the same again"
        );
        assert_eq!(
            c.guest("1", Some(g("1", GuestState::Paused))),
            Some(Change::Guest(g("1", GuestState::Paused)))
        );
        let resync = c.replace(
            HostFacts::default(),
            vec![g("1", GuestState::Paused)],
            vec![],
        );
        assert_eq!(resync, [Change::GuestGone("2".into())]);
        assert_eq!(c.guest("9", None), None, "an unknown guest gone is no news");
    }
}
