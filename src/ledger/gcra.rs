//! The generic cell rate algorithm (GCRA), weighted: a limit of `limit` units per `period`
//! refills continuously, allows a burst of at most `limit` units, and never lets more than
//! `limit` through in a burst however the requests are timed (no fixed-window edge).
//!
//! The state is one number, the theoretical arrival time (`tat`). The same arithmetic runs
//! in-process (here) and in Redis (`redis.rs`'s script), so both give the same answers.
//! Token limits reserve an estimate at admission and settle by the difference at the end.

/// A limit: `limit` units per `period_ns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub limit: u64,
    pub period_ns: i64,
}

/// What a decision tells the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u64,
    /// Units that could still be taken at once.
    pub remaining: u64,
    /// Until the limit is back to its full capacity.
    pub reset_ns: i64,
    /// When refused: how long until this request would be allowed.
    pub retry_after_ns: i64,
}

impl Rate {
    pub fn per_minute(limit: u64) -> Rate {
        Rate {
            limit: limit.max(1),
            period_ns: 60_000_000_000,
        }
    }

    /// The time `units` take to refill.
    pub fn cost_ns(&self, units: u64) -> i64 {
        let ns = (u128::from(units) * self.period_ns as u128).div_ceil(u128::from(self.limit));
        i64::try_from(ns).unwrap_or(i64::MAX)
    }

    /// Takes `units` if they fit; updates `tat` only when allowed.
    pub fn take(&self, tat: &mut i64, now: i64, units: u64) -> Decision {
        let base = (*tat).max(now);
        let new_tat = base.saturating_add(self.cost_ns(units));
        let allowed = new_tat - now <= self.period_ns;
        if allowed {
            *tat = new_tat;
        }
        let held = (*tat).max(now) - now;
        Decision {
            allowed,
            limit: self.limit,
            remaining: self.remaining(held),
            reset_ns: held,
            retry_after_ns: if allowed {
                0
            } else {
                new_tat - self.period_ns - now
            },
        }
    }

    /// Takes at least `need` units for a replica's local pool, and more when the cell has
    /// room: half of what is free, at most a sixteenth of the limit. Chunks keep the shared
    /// cell off the hot path while no replica can sit on much of the limit. `Err` when even
    /// `need` does not fit (nothing is taken). The decision's `remaining` is what is free
    /// after the grant.
    pub fn lease(&self, tat: &mut i64, now: i64, need: u64) -> Result<(u64, Decision), Decision> {
        let free = self.remaining((*tat).max(now) - now);
        if free < need {
            let d = self.take(&mut tat.clone(), now, need);
            return Err(d);
        }
        let chunk = (free / 2).min(self.limit.div_ceil(16));
        let grant = chunk.max(need).min(free);
        let d = self.take(tat, now, grant);
        debug_assert!(d.allowed);
        Ok((grant, d))
    }

    /// Settles a reservation: gives back `reserved - actual` units when fewer were used, or
    /// charges the extra (possibly past the limit: the next requests wait it off).
    pub fn settle(&self, tat: &mut i64, now: i64, reserved: u64, actual: u64) {
        if actual >= reserved {
            *tat = (*tat)
                .max(now)
                .saturating_add(self.cost_ns(actual - reserved));
        } else {
            *tat = (*tat - self.cost_ns(reserved - actual)).max(now);
        }
    }

    /// The state seen without taking anything.
    pub fn peek(&self, tat: i64, now: i64) -> Decision {
        let held = tat.max(now) - now;
        Decision {
            allowed: true,
            limit: self.limit,
            remaining: self.remaining(held),
            reset_ns: held,
            retry_after_ns: 0,
        }
    }

    fn remaining(&self, held_ns: i64) -> u64 {
        let free = (self.period_ns - held_ns).max(0) as u128;
        (free * u128::from(self.limit) / self.period_ns as u128) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn burst_then_steady_rate() {
        let r = Rate::per_minute(60);
        let mut tat = 0;
        let now = 1_000 * S;
        for i in 0..60 {
            let d = r.take(&mut tat, now, 1);
            assert!(d.allowed, "request {i}");
            assert_eq!(d.remaining, 59 - i);
        }
        let d = r.take(&mut tat, now, 1);
        assert!(!d.allowed);
        assert_eq!(d.retry_after_ns, S);
        assert_eq!(d.reset_ns, 60 * S);
        // One unit refills per second.
        assert!(!r.take(&mut tat, now + S - 1, 1).allowed);
        assert!(r.take(&mut tat, now + S, 1).allowed);
    }

    #[test]
    fn never_more_than_the_limit_in_any_window_after_a_full_start() {
        // Requests arriving every 100 ms for five minutes: no 60 s window from the start
        // sees more than limit + the refill during it, and the steady rate is the limit.
        let r = Rate::per_minute(30);
        let mut tat = 0;
        let mut allowed_at = Vec::new();
        for step in 0..3000 {
            let now = 10_000 * S + step * S / 10;
            if r.take(&mut tat, now, 1).allowed {
                allowed_at.push(now);
            }
        }
        for (i, &t) in allowed_at.iter().enumerate() {
            let in_window = allowed_at[i..]
                .iter()
                .take_while(|&&u| u < t + 60 * S)
                .count();
            assert!(in_window <= 60, "window at {t}: {in_window}");
        }
        // After the initial burst, 30 a minute.
        let last_minute = allowed_at
            .iter()
            .filter(|&&t| t >= 10_000 * S + 240 * S)
            .count();
        assert!((29..=31).contains(&last_minute), "{last_minute}");
    }

    #[test]
    fn weighted_take_and_settle() {
        let r = Rate::per_minute(1000);
        let mut tat = 0;
        let now = 50 * S;
        assert!(r.take(&mut tat, now, 800).allowed);
        assert!(!r.take(&mut tat, now, 300).allowed);
        // The request used only 100 of its 800: 700 come back.
        r.settle(&mut tat, now, 800, 100);
        assert_eq!(r.peek(tat, now).remaining, 900);
        assert!(r.take(&mut tat, now, 300).allowed);
        // Using more than reserved goes into debt.
        r.settle(&mut tat, now, 300, 2000);
        let d = r.take(&mut tat, now, 1);
        assert!(!d.allowed);
        assert!(d.retry_after_ns > 0);
    }

    #[test]
    fn leases_take_chunks_and_never_more_than_the_cell_allows() {
        let r = Rate::per_minute(160);
        let mut tat = 0;
        let now = 100 * S;
        // Half of what is free, capped at a sixteenth of the limit.
        let (g, d) = r.lease(&mut tat, now, 1).unwrap();
        assert_eq!((g, d.remaining), (10, 150));
        // A larger need is served whole.
        let (g, _) = r.lease(&mut tat, now, 40).unwrap();
        assert_eq!(g, 40);
        // Whatever the needs, the grants add up to at most the limit at one instant.
        let mut total = 50;
        while let Ok((g, _)) = r.lease(&mut tat, now, 1) {
            total += g;
        }
        assert_eq!(total, 160);
        let d = r.lease(&mut tat, now, 1).unwrap_err();
        assert!(!d.allowed);
        assert_eq!(d.retry_after_ns, 60 * S / 160);
    }

    #[test]
    fn lease_grants_over_time_never_pass_limit_plus_refill() {
        // Property: grants to many replicas asking at random moments and sizes never exceed,
        // in any 60 s window, the limit plus what refills in the window.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut rnd = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        for limit in [1u64, 7, 60, 1000] {
            let r = Rate::per_minute(limit);
            let mut tat = 0;
            let mut now = 10_000 * S;
            let mut grants: Vec<(i64, u64)> = Vec::new();
            for _ in 0..2000 {
                now += rnd(2 * S as u64) as i64;
                if let Ok((g, _)) = r.lease(&mut tat, now, 1 + rnd(limit.min(50))) {
                    grants.push((now, g));
                }
            }
            for (i, &(t, _)) in grants.iter().enumerate() {
                let sum: u64 = grants[i..]
                    .iter()
                    .take_while(|(u, _)| *u < t + 60 * S)
                    .map(|(_, g)| g)
                    .sum();
                assert!(
                    sum <= 2 * limit,
                    "limit {limit}: {sum} in the window at {t}"
                );
            }
        }
    }

    #[test]
    fn a_request_larger_than_the_limit_is_never_allowed() {
        let r = Rate::per_minute(100);
        let mut tat = 0;
        assert!(!r.take(&mut tat, 0, 101).allowed);
        assert!(r.take(&mut tat, 0, 100).allowed);
    }

    #[test]
    fn huge_limits_do_not_overflow() {
        let r = Rate::per_minute(u64::MAX);
        let mut tat = 0;
        assert!(r.take(&mut tat, i64::MAX / 2, u64::MAX).allowed);
        let r = Rate::per_minute(1);
        let mut tat = 0;
        assert!(!r.take(&mut tat, 0, u64::MAX).allowed);
    }
}
