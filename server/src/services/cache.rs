//! What virtdeck knows of one host: its facts, guests and storage pools, as
//! last read. Updating it says what changed, so that only real changes are
//! announced (an action through virtdeck and the libvirt event it causes
//! update the same entry; the second finds nothing new).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

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
    /// `guests` sorted for listing, built on first use after a change.
    sorted: Option<Arc<SortedGuests>>,
}

/// One host's guests sorted by name, with what the list's filters and
/// counts need, so that a page or a count costs what it returns.
#[derive(Debug, Default)]
pub struct SortedGuests {
    /// By name (`stale` as cached: false).
    pub guests: Vec<GuestSummary>,
    /// `guests[i].name` in lower case, for the text filter.
    pub lower_names: Vec<String>,
    /// How many guests are in each state (`GuestState::ALL` order).
    by_state: [usize; GuestState::ALL.len()],
}

impl SortedGuests {
    fn new(guests: &BTreeMap<String, GuestSummary>) -> Self {
        let mut list: Vec<GuestSummary> = guests.values().cloned().collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        let mut by_state = [0; GuestState::ALL.len()];
        for g in &list {
            by_state[state_index(g.state)] += 1;
        }
        SortedGuests {
            lower_names: list.iter().map(|g| g.name.to_lowercase()).collect(),
            guests: list,
            by_state,
        }
    }

    /// How many guests are in `state`.
    pub fn in_state(&self, state: GuestState) -> usize {
        self.by_state[state_index(state)]
    }
}

fn state_index(state: GuestState) -> usize {
    GuestState::ALL
        .iter()
        .position(|s| *s == state)
        .expect("ALL lists every state")
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
                self.sorted = None;
                self.guests.insert(uuid.to_string(), g.clone());
                Some(Change::Guest(g))
            }
            None => self
                .guests
                .remove(uuid)
                .inspect(|_| {
                    self.running_since.remove(uuid);
                    self.sorted = None;
                })
                .map(|_| Change::GuestGone(uuid.to_string())),
        }
    }

    /// The guests sorted for listing; built again only after a change.
    pub fn sorted(&mut self) -> Arc<SortedGuests> {
        self.sorted
            .get_or_insert_with(|| Arc::new(SortedGuests::new(&self.guests)))
            .clone()
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

    /// Whether the first full read is done.
    pub fn is_filled(&self) -> bool {
        self.filled
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
        let seen: HashSet<String> = guests.iter().map(|g| g.uuid.clone()).collect();
        for g in guests {
            let uuid = g.uuid.clone();
            changes.extend(self.guest(&uuid, Some(g)));
        }
        let gone: Vec<String> = self
            .guests
            .keys()
            .filter(|k| !seen.contains(*k))
            .cloned()
            .collect();
        for uuid in gone {
            changes.extend(self.guest(&uuid, None));
        }
        let seen: HashSet<String> = pools.iter().map(|p| p.name.clone()).collect();
        for p in pools {
            let name = p.name.clone();
            changes.extend(self.pool(&name, Some(p)));
        }
        let gone: Vec<String> = self
            .pools
            .keys()
            .filter(|k| !seen.contains(*k))
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

    #[test]
    fn the_sorted_list_follows_every_change_and_only_changes() {
        let mut c = HostCache::default();
        c.replace(
            HostFacts::default(),
            vec![g("2", GuestState::Running), g("1", GuestState::Shutoff)],
            vec![],
        );
        let first = c.sorted();
        let names: Vec<&str> = first.guests.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["g1", "g2"]);
        assert_eq!(first.lower_names, ["g1", "g2"]);
        assert_eq!(first.in_state(GuestState::Running), 1);
        c.guest("2", Some(g("2", GuestState::Running)));
        assert!(Arc::ptr_eq(&first, &c.sorted()), "no change, no rebuild");
        c.guest("2", Some(g("2", GuestState::Paused)));
        let second = c.sorted();
        assert_eq!(second.in_state(GuestState::Running), 0);
        assert_eq!(second.in_state(GuestState::Paused), 1);
        c.guest("1", None);
        assert_eq!(c.sorted().guests.len(), 1);
        c.guest("0", Some(g("0", GuestState::Crashed)));
        assert_eq!(c.sorted().guests[0].name, "g0");
    }
}
