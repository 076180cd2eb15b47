//! Login throttling: failed logins are counted per key (a client address in
//! the gate, a user name in `accounts`) over a sliding window; past the limit
//! that key is answered 429 with `Retry-After` until its oldest failure leaves
//! the window. A successful login clears the key's count. Other keys are not
//! affected, and a throttled attempt costs no hashing.

use std::{
    collections::{HashMap, VecDeque},
    hash::Hash,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Addresses remembered at most; beyond it, expired entries are dropped.
const MAX_ADDRESSES: usize = 10_000;

pub struct LoginThrottle<K = IpAddr> {
    limit: usize,
    window: Duration,
    failures: Mutex<HashMap<K, VecDeque<Instant>>>,
}

impl<K: Hash + Eq + Clone> LoginThrottle<K> {
    pub fn new(limit: u32, window: Duration) -> Self {
        LoginThrottle {
            limit: limit.max(1) as usize,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(wait)` when `ip` has used up its attempts for now.
    pub fn check(&self, ip: &K) -> Result<(), Duration> {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let Some(times) = map.get_mut(ip) else {
            return Ok(());
        };
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            times.pop_front();
        }
        if times.len() < self.limit {
            return Ok(());
        }
        let oldest = *times.front().expect("at least `limit` entries");
        Err(self.window.saturating_sub(now.duration_since(oldest)))
    }

    pub fn failed(&self, ip: &K) {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_ADDRESSES {
            let window = self.window;
            map.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < window)
            });
        }
        let times = map.entry(ip.clone()).or_default();
        times.push_back(now);
        while times.len() > self.limit {
            times.pop_front();
        }
    }

    pub fn succeeded(&self, ip: &K) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_held_back_after_the_limit_and_others_are_not() {
        let t: LoginThrottle = LoginThrottle::new(3, Duration::from_millis(200));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..3 {
            assert!(t.check(&a).is_ok());
            t.failed(&a);
        }
        let wait = t.check(&a).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(200));
        assert!(t.check(&b).is_ok(), "another address is not affected");
        std::thread::sleep(wait);
        assert!(t.check(&a).is_ok(), "free again once the window has passed");
        t.failed(&a);
        t.succeeded(&a);
        assert!(t.check(&a).is_ok());
    }
}
