//! Guessing the master key from one address is slowed to a crawl: each wrong master key
//! (admin API bearer, dashboard login, metrics token) from an address adds
//! `FORGIVE_EVERY` to that address's debt (a GCRA cell), and while the debt exceeds
//! `BURST` failures, every master-key attempt from it is refused with 429 and
//! `Retry-After` — a right one too, or the refusal would tell a guesser nothing. A
//! forgotten or mistyped key costs an operator nothing; ten wrong ones cost a few minutes.
//!
//! The address is the TCP peer's: behind a reverse proxy every client shares the proxy's,
//! so there the limit is shared too (see the README's admin section).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Wrong master keys an address may send in a row before it must wait.
pub const BURST: u32 = 10;
/// One failure is forgiven this often.
pub const FORGIVE_EVERY: Duration = Duration::from_secs(30);
/// Addresses tracked at most (a flood of addresses evicts the forgiven first, then stops
/// tracking new ones rather than growing without bound).
const MAX_TRACKED: usize = 65_536;

/// Where an address's debt is paid off (its theoretical arrival time), by address.
#[derive(Default)]
pub struct Throttle {
    debts: Mutex<HashMap<IpAddr, Instant>>,
}

impl Throttle {
    /// `Err(wait)` while `ip` must wait before trying the master key again.
    pub fn check(&self, ip: Option<IpAddr>, now: Instant) -> Result<(), Duration> {
        let Some(ip) = ip else { return Ok(()) };
        let debts = self.debts.lock().unwrap_or_else(|e| e.into_inner());
        match debts.get(&ip) {
            Some(&paid_at) => {
                let allowed = FORGIVE_EVERY * BURST;
                let owed = paid_at.saturating_duration_since(now);
                if owed > allowed {
                    Err(owed - allowed)
                } else {
                    Ok(())
                }
            }
            None => Ok(()),
        }
    }

    /// `ip` sent a wrong master key.
    pub fn failed(&self, ip: Option<IpAddr>, now: Instant) {
        let Some(ip) = ip else { return };
        let mut debts = self.debts.lock().unwrap_or_else(|e| e.into_inner());
        if debts.len() >= MAX_TRACKED && !debts.contains_key(&ip) {
            debts.retain(|_, paid_at| *paid_at > now);
            if debts.len() >= MAX_TRACKED {
                return;
            }
        }
        let paid_at = debts.entry(ip).or_insert(now);
        *paid_at = (*paid_at).max(now) + FORGIVE_EVERY;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_wrong_keys_then_a_wait_that_wears_off() {
        let t = Throttle::default();
        let ip = Some("10.0.0.1".parse().unwrap());
        let other = Some("10.0.0.2".parse().unwrap());
        let t0 = Instant::now();
        for _ in 0..BURST {
            assert_eq!(t.check(ip, t0), Ok(()));
            t.failed(ip, t0);
        }
        assert_eq!(
            t.check(ip, t0),
            Ok(()),
            "the tenth failure is still allowed"
        );
        t.failed(ip, t0);
        let wait = t.check(ip, t0).unwrap_err();
        assert_eq!(wait, FORGIVE_EVERY);
        assert_eq!(t.check(other, t0), Ok(()), "another address is not held");
        assert_eq!(t.check(ip, t0 + wait), Ok(()));
        // Failing again at once owes a full interval more.
        t.failed(ip, t0 + wait);
        assert_eq!(t.check(ip, t0 + wait), Err(FORGIVE_EVERY));
        // Unknown peers (no address) are never held.
        t.failed(None, t0);
        assert_eq!(t.check(None, t0), Ok(()));
    }
}
