//! One key's live state on this replica: its budget lease (granted, spent against it,
//! reserved by requests in flight), its rate-limit cells and its concurrency count. Pure
//! arithmetic under the account's mutex; the ledger does the IO around it.

use super::gcra::{Decision, Rate};
use crate::types::keys::KeyPolicy;

#[derive(Debug, Default)]
pub struct AccountState {
    /// The budget period the lease belongs to.
    pub period_start: i64,
    /// This replica's grant for the period (mirrors its lease row).
    pub granted: i64,
    /// Settled cost of requests admitted against this lease.
    pub spent: i64,
    /// Upper estimates of requests in flight.
    pub reserved: i64,
    /// The lease may be used until then (local clock, unix ms), well before it expires in
    /// the database, so a replica cut off from the database stops spending in time.
    pub lease_valid_until: i64,
    /// The period's written spend across replicas, as last read (for messages).
    pub spent_seen: i64,
    /// Last admission, for returning idle leases.
    pub last_used: i64,
    pub rpm_tat: i64,
    pub tpm_tat: i64,
    pub in_flight: u64,
}

/// Why the budget cannot cover a request right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetCheck {
    Reserved,
    /// The lease is too small or no longer valid: ask the database for more.
    NeedLease {
        need: i64,
    },
}

impl AccountState {
    /// Starts a new budget period when `period_start` moved on: the old lease is void
    /// (its spend stays counted in the database); reservations in flight stay reserved.
    pub fn roll_period(&mut self, period_start: i64) {
        if self.period_start != period_start {
            self.period_start = period_start;
            self.granted = 0;
            self.spent = 0;
            self.lease_valid_until = 0;
            self.spent_seen = 0;
        }
    }

    pub fn available(&self) -> i64 {
        self.granted - self.spent - self.reserved
    }

    /// Reserves `estimate` against the lease when it fits.
    pub fn try_reserve(&mut self, estimate: i64, now: i64) -> BudgetCheck {
        if now < self.lease_valid_until && self.available() >= estimate {
            self.reserved += estimate;
            self.last_used = now;
            BudgetCheck::Reserved
        } else {
            let avail = if now < self.lease_valid_until {
                self.available().max(0)
            } else {
                0
            };
            BudgetCheck::NeedLease {
                need: (estimate - avail).max(1),
            }
        }
    }

    /// Applies a grant from the database by its delta (so it commutes with a concurrent
    /// shrink). A fresh lease starts its own grant and spend count.
    pub fn apply_grant(
        &mut self,
        added: i64,
        fresh: bool,
        now: i64,
        valid_until: i64,
        spent_seen: i64,
    ) {
        if fresh {
            self.spent = 0;
            self.granted = added;
        } else {
            self.granted += added;
        }
        self.lease_valid_until = valid_until;
        self.spent_seen = spent_seen;
        // A lease just granted is not idle.
        self.last_used = now;
    }

    /// Ends a request admitted in `period_start`: its reservation is released and its cost
    /// counted against the lease (a request that straddled a period change is counted in the
    /// database only).
    pub fn settle_budget(&mut self, period_start: i64, reserved: i64, cost: i64) {
        self.reserved = (self.reserved - reserved).max(0);
        if period_start == self.period_start {
            self.spent += cost;
        }
    }

    /// Takes one request and `tokens` from the key's per-minute limits; all or nothing.
    pub fn take_limits(&mut self, policy: &KeyPolicy, now_ns: i64, tokens: u64) -> Limits {
        let mut out = Limits::default();
        if let Some(rpm) = policy.rpm {
            let mut tat = self.rpm_tat;
            let d = Rate::per_minute(rpm).take(&mut tat, now_ns, 1);
            out.requests = Some(d);
            if !d.allowed {
                return out;
            }
            out.rpm_tat = Some(tat);
        }
        if let Some(tpm) = policy.tpm {
            let mut tat = self.tpm_tat;
            let d = Rate::per_minute(tpm).take(&mut tat, now_ns, tokens);
            out.tokens = Some(d);
            if !d.allowed {
                return out;
            }
            out.tpm_tat = Some(tat);
        }
        // Commit only when every limit allowed it.
        if let Some(t) = out.rpm_tat {
            self.rpm_tat = t;
        }
        if let Some(t) = out.tpm_tat {
            self.tpm_tat = t;
        }
        out
    }

    /// Gives back what a refused or finished request took from the limits.
    pub fn settle_limits(&mut self, policy: &KeyPolicy, now_ns: i64, s: LimitSettlement) {
        if s.refund_request {
            if let Some(rpm) = policy.rpm {
                Rate::per_minute(rpm).settle(&mut self.rpm_tat, now_ns, 1, 0);
            }
        }
        if let Some(tpm) = policy.tpm {
            if s.reserved_tokens > 0 || s.actual_tokens > 0 {
                Rate::per_minute(tpm).settle(
                    &mut self.tpm_tat,
                    now_ns,
                    s.reserved_tokens,
                    s.actual_tokens,
                );
            }
        }
    }
}

/// The decisions of one admission's rate limits.
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    pub requests: Option<Decision>,
    pub tokens: Option<Decision>,
    rpm_tat: Option<i64>,
    tpm_tat: Option<i64>,
}

impl Limits {
    pub fn allowed(&self) -> bool {
        self.requests.is_none_or(|d| d.allowed) && self.tokens.is_none_or(|d| d.allowed)
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct LimitSettlement {
    /// Give the request back (it was refused after taking its place).
    pub refund_request: bool,
    pub reserved_tokens: u64,
    pub actual_tokens: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_never_exceed_the_grant() {
        let mut a = AccountState::default();
        a.roll_period(0);
        assert_eq!(a.try_reserve(10, 1), BudgetCheck::NeedLease { need: 10 });
        a.apply_grant(25, true, 0, 1_000, 0);
        assert_eq!(a.try_reserve(10, 1), BudgetCheck::Reserved);
        assert_eq!(a.try_reserve(10, 1), BudgetCheck::Reserved);
        assert_eq!(a.try_reserve(10, 1), BudgetCheck::NeedLease { need: 5 });
        a.settle_budget(0, 10, 3);
        assert_eq!(a.available(), 25 - 3 - 10);
        assert_eq!(a.try_reserve(10, 1), BudgetCheck::Reserved);
        // An expired lease is never used, whatever is left in it.
        a.settle_budget(0, 10, 0);
        assert_eq!(a.try_reserve(1, 1_000), BudgetCheck::NeedLease { need: 1 });
    }

    /// Property: whatever the interleaving of admissions, settlements and grants, when no
    /// request costs more than it reserved, what this replica spends never exceeds what it
    /// was granted.
    #[test]
    fn spend_never_exceeds_grants_under_any_interleaving() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut rnd = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        for _ in 0..200 {
            let mut a = AccountState::default();
            a.roll_period(0);
            let mut total_granted = 0;
            let mut in_flight: Vec<i64> = Vec::new();
            for _ in 0..500 {
                match rnd(4) {
                    0 | 1 => {
                        let est = 1 + rnd(50) as i64;
                        if a.try_reserve(est, 1) == BudgetCheck::Reserved {
                            in_flight.push(est);
                        }
                    }
                    2 if !in_flight.is_empty() => {
                        let est = in_flight.swap_remove(rnd(in_flight.len() as u64) as usize);
                        let cost = rnd(est as u64 + 1) as i64;
                        a.settle_budget(0, est, cost);
                    }
                    _ => {
                        let more = rnd(100) as i64;
                        total_granted += more;
                        a.apply_grant(more, false, 0, 1_000, 0);
                    }
                }
                assert!(a.spent + a.reserved <= a.granted, "{a:?}");
                assert_eq!(a.granted, total_granted);
            }
        }
    }

    #[test]
    fn a_new_period_voids_the_lease() {
        let mut a = AccountState::default();
        a.roll_period(100);
        a.apply_grant(50, true, 0, 10_000, 0);
        assert_eq!(a.try_reserve(20, 1), BudgetCheck::Reserved);
        a.roll_period(200);
        assert_eq!(a.granted, 0);
        // The old period's request settles without counting against the new lease.
        a.settle_budget(100, 20, 20);
        assert_eq!((a.reserved, a.spent), (0, 0));
    }

    #[test]
    fn limits_are_all_or_nothing() {
        let p = KeyPolicy {
            rpm: Some(10),
            tpm: Some(100),
            ..KeyPolicy::default()
        };
        let mut a = AccountState::default();
        let l = a.take_limits(&p, 0, 90);
        assert!(l.allowed());
        assert_eq!(l.requests.unwrap().remaining, 9);
        // Tokens refuse: the request is not taken either.
        let l = a.take_limits(&p, 0, 20);
        assert!(!l.allowed());
        assert_eq!(a.take_limits(&p, 0, 10).requests.unwrap().remaining, 8);
        a.settle_limits(
            &p,
            0,
            LimitSettlement {
                refund_request: true,
                reserved_tokens: 10,
                actual_tokens: 0,
            },
        );
        assert!(a.take_limits(&p, 0, 10).allowed());
    }
}
