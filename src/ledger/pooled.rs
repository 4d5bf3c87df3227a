//! Rate limits and concurrency shared by replicas through the database, for PostgreSQL
//! deployments without Redis. The shape is the budget's: each replica holds a small pool
//! of units taken from the key's shared cells (`store::limits`) and admits against it in
//! memory; only an empty pool costs a round trip. Units not used within a second of idling
//! (or five seconds of holding) go back, so a replica never sits on much of a limit.
//!
//! Exactness: the database hands out each unit once, by the same GCRA as `gcra.rs`, so over
//! any minute the replicas together admit at most the limit plus what refills in that
//! minute, plus at most the units each replica still held from before it (one chunk: a
//! sixteenth of the limit). Concurrency slots are taken one at a time and kept while the
//! replica is busy, so a key never has more requests in flight than `max_concurrency`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::gcra::{Decision, Rate};
use super::redis::OnRedisFailure;
use super::{KeyRef, RateHeaders, Refusal};
use crate::store::{LimitWrite, Store, SLOT_TTL_US};
use crate::types::now_ms;

/// Return unused units after this long without an admission.
const IDLE_RETURN_MS: i64 = 1_000;
/// Return unused units taken this long ago even while busy.
const MAX_HOLD_MS: i64 = 5_000;
/// Renew slot rows this often (they live `SLOT_TTL_US` without renewal).
const SLOT_RENEW_MS: i64 = SLOT_TTL_US / 1000 / 3;

fn rate(limit: u64) -> Rate {
    // The database counts in microseconds.
    Rate {
        limit: limit.max(1),
        period_ns: 60_000_000,
    }
}

/// One key's pool on this replica.
#[derive(Debug, Default)]
struct PoolState {
    requests: u64,
    /// Negative: tokens used beyond what was reserved, owed to the shared cell.
    tokens: i64,
    /// Slots this replica holds in the database.
    slots: u64,
    in_flight: u64,
    last_used: i64,
    taken_at: i64,
    slots_renewed: i64,
    /// The shared cells as last seen, less what was taken here since.
    seen: RateHeaders,
    /// The policy the pool's units were taken under (for returning them).
    rpm: Option<u64>,
    tpm: Option<u64>,
}

struct Pool {
    key_id: String,
    state: Mutex<PoolState>,
    /// One trip to the database per key at a time (the cold path).
    refill: tokio::sync::Mutex<()>,
}

/// A request's hold on a pool, given back at settlement.
pub struct PooledTicket {
    pool: Arc<Pool>,
    slot: bool,
}

impl std::fmt::Debug for PooledTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PooledTicket")
            .field("key", &self.pool.key_id)
            .field("slot", &self.slot)
            .finish()
    }
}

pub enum PooledOutcome {
    Admitted(PooledTicket, RateHeaders),
    Refused(Refusal),
    /// The database could not decide and the policy is to use this replica's own limits.
    Local,
}

pub struct PooledLimits {
    store: Store,
    holder: String,
    on_failure: OnRedisFailure,
    pools: Mutex<HashMap<String, Arc<Pool>>>,
}

/// What one admission needs beyond what the pool holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Needs {
    requests: u64,
    tokens: u64,
    slots: u64,
}

impl PoolState {
    fn needs(&self, rpm: Option<u64>, tpm: Option<u64>, maxc: Option<u64>, tokens: u64) -> Needs {
        Needs {
            requests: if rpm.is_some() {
                1u64.saturating_sub(self.requests)
            } else {
                0
            },
            tokens: if tpm.is_some() {
                (i128::from(tokens) - i128::from(self.tokens)).clamp(0, i128::from(u64::MAX)) as u64
            } else {
                0
            },
            slots: if maxc.is_some() {
                (self.in_flight + 1).saturating_sub(self.slots)
            } else {
                0
            },
        }
    }

    /// Takes one request's units from the pool (the caller checked they are there).
    fn take(&mut self, key: &KeyRef, tokens: u64, now: i64) -> (bool, RateHeaders) {
        let p = &key.policy;
        if p.rpm.is_some() {
            self.requests -= 1;
            if let Some(d) = &mut self.seen.requests {
                d.remaining = d.remaining.saturating_sub(1);
            }
        }
        if p.tpm.is_some() {
            self.tokens -= i64::try_from(tokens).unwrap_or(i64::MAX);
            if let Some(d) = &mut self.seen.tokens {
                d.remaining = d.remaining.saturating_sub(tokens);
            }
        }
        let slot = p.max_concurrency.is_some();
        if slot {
            self.in_flight += 1;
        }
        self.last_used = now;
        let headers = RateHeaders {
            requests: p.rpm.and(self.seen.requests),
            tokens: p.tpm.and(self.seen.tokens),
        };
        (slot, headers)
    }
}

/// A decision in microseconds, as the headers want it (nanoseconds).
fn in_ns(mut d: Decision) -> Decision {
    d.reset_ns = d.reset_ns.saturating_mul(1000);
    d.retry_after_ns = d.retry_after_ns.saturating_mul(1000);
    d
}

/// One cell's part of a refill: `need` units leased from it (the grant, the cell's new state
/// and what the client is told), or its state as it is when nothing is needed; `Err` when
/// the cell cannot give `need`.
fn lease_cell(
    limit: u64,
    tat: i64,
    now_us: i64,
    need: u64,
) -> Result<(u64, Option<i64>, Decision), Decision> {
    let r = rate(limit);
    if need == 0 {
        return Ok((0, None, in_ns(r.peek(tat, now_us))));
    }
    let mut tat = tat;
    match r.lease(&mut tat, now_us, need) {
        Ok((g, d)) => Ok((g, Some(tat), in_ns(d))),
        Err(d) => Err(in_ns(d)),
    }
}

/// What the database decided for one refill.
enum Refill {
    Granted {
        requests: u64,
        tokens: u64,
        slots_mine: u64,
        seen: RateHeaders,
    },
    Refused(Refusal),
}

impl PooledLimits {
    pub fn new(store: Store, holder: String, on_failure: OnRedisFailure) -> PooledLimits {
        PooledLimits {
            store,
            holder,
            on_failure,
            pools: Mutex::new(HashMap::new()),
        }
    }

    fn pool(&self, key_id: &str) -> Arc<Pool> {
        let mut map = self.pools.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(key_id.to_owned())
            .or_insert_with(|| {
                Arc::new(Pool {
                    key_id: key_id.to_owned(),
                    state: Mutex::new(PoolState::default()),
                    refill: tokio::sync::Mutex::new(()),
                })
            })
            .clone()
    }

    /// Admits one request of `key` using up to `tokens`, from the pool or, when it runs
    /// short, from the shared cells.
    pub async fn admit(&self, key: &KeyRef, tokens: u64) -> PooledOutcome {
        let p = &key.policy;
        let pool = self.pool(&key.id);
        let try_pool = |pool: &Pool| {
            let mut st = pool.state.lock().unwrap_or_else(|e| e.into_inner());
            let needs = st.needs(p.rpm, p.tpm, p.max_concurrency, tokens);
            if needs == Needs::default() {
                Ok(st.take(key, tokens, now_ms()))
            } else {
                Err(needs)
            }
        };
        if let Ok((slot, h)) = try_pool(&pool) {
            return PooledOutcome::Admitted(PooledTicket { pool, slot }, h);
        }
        let _gate = pool.refill.lock().await;
        // Whoever waited may find the pool refilled by the one before.
        let needs = match try_pool(&pool) {
            Ok((slot, h)) => {
                let pool = pool.clone();
                return PooledOutcome::Admitted(PooledTicket { pool, slot }, h);
            }
            Err(n) => n,
        };
        match self.refill(key, needs).await {
            Ok(Refill::Granted {
                requests,
                tokens: got,
                slots_mine,
                seen,
            }) => {
                let mut st = pool.state.lock().unwrap_or_else(|e| e.into_inner());
                let now = now_ms();
                st.requests += requests;
                st.tokens += i64::try_from(got).unwrap_or(i64::MAX);
                if p.max_concurrency.is_some() {
                    st.slots = slots_mine;
                    st.slots_renewed = now;
                }
                st.rpm = p.rpm;
                st.tpm = p.tpm;
                st.taken_at = now;
                // The client's view: free in the shared cell plus still unused here.
                let local = [st.requests, st.tokens.max(0) as u64];
                st.seen = RateHeaders {
                    requests: seen.requests.map(|mut d| {
                        d.remaining = d.remaining.saturating_add(local[0]);
                        d
                    }),
                    tokens: seen.tokens.map(|mut d| {
                        d.remaining = d.remaining.saturating_add(local[1]);
                        d
                    }),
                };
                let (slot, h) = st.take(key, tokens, now);
                PooledOutcome::Admitted(
                    PooledTicket {
                        pool: pool.clone(),
                        slot,
                    },
                    h,
                )
            }
            Ok(Refill::Refused(r)) => PooledOutcome::Refused(r),
            Err(e) => {
                tracing::warn!(error = %e, "shared rate limits unavailable (database)");
                match self.on_failure {
                    OnRedisFailure::Local => PooledOutcome::Local,
                    OnRedisFailure::Refuse => PooledOutcome::Refused(Refusal::LimitsUnavailable),
                }
            }
        }
    }

    async fn refill(&self, key: &KeyRef, needs: Needs) -> Result<Refill, crate::store::StoreError> {
        let p = key.policy.clone();
        let name = key.name.clone();
        self.store
            .update_limits(&key.id, &self.holder, move |c| {
                let refused = |unit, limit, d: Decision, headers: RateHeaders| {
                    let r = Refusal::RateLimited {
                        key_name: name.clone(),
                        unit,
                        limit,
                        retry_after: Duration::from_nanos(d.retry_after_ns.max(0) as u64),
                        headers: Box::new(headers),
                    };
                    (LimitWrite::default(), Refill::Refused(r))
                };
                let mut write = LimitWrite::default();
                let cells = [
                    (p.rpm, c.rpm_tat, needs.requests),
                    (p.tpm, c.tpm_tat, needs.tokens),
                ];
                let mut got: [Option<(u64, Option<i64>, Decision)>; 2] = [None, None];
                for (i, (limit, tat, need)) in cells.into_iter().enumerate() {
                    let Some(limit) = limit else { continue };
                    match lease_cell(limit, tat, c.now_us, need) {
                        Ok(r) => got[i] = Some(r),
                        Err(d) => {
                            let headers = RateHeaders {
                                requests: if i == 0 { Some(d) } else { got[0].map(|r| r.2) },
                                tokens: (i == 1).then_some(d),
                            };
                            return refused(["requests", "tokens"][i], limit, d, headers);
                        }
                    }
                }
                let seen = RateHeaders {
                    requests: got[0].map(|r| r.2),
                    tokens: got[1].map(|r| r.2),
                };
                write.rpm_tat = got[0].and_then(|r| r.1);
                write.tpm_tat = got[1].and_then(|r| r.1);
                let (requests, tokens) = (got[0].map_or(0, |r| r.0), got[1].map_or(0, |r| r.0));
                let mut slots_mine = c.slots_mine.max(0) as u64;
                if let Some(max) = p.max_concurrency {
                    if needs.slots > 0 {
                        let free = (max as i64).saturating_sub(c.slots_others + c.slots_mine);
                        if free < needs.slots as i64 {
                            let r = Refusal::Concurrency {
                                key_name: name.clone(),
                                limit: max,
                            };
                            return (LimitWrite::default(), Refill::Refused(r));
                        }
                        slots_mine += needs.slots;
                    }
                    write.slots_mine = Some(slots_mine as i64);
                }
                let granted = Refill::Granted {
                    requests,
                    tokens,
                    slots_mine,
                    seen,
                };
                (write, granted)
            })
            .await
    }

    /// Ends a request: what it did not use goes back to the pool (a refused request gives
    /// its request unit back too) and tokens used beyond the reservation are owed to the
    /// shared cell. Its concurrency slot goes straight back to the database, off the
    /// request's path: a slot held idle here would refuse a request on another replica
    /// while the key has nothing in flight.
    pub fn settle(
        self: &Arc<Self>,
        t: PooledTicket,
        reserved: u64,
        actual: u64,
        refund_request: bool,
    ) {
        let spare_slot = {
            let mut st = t.pool.state.lock().unwrap_or_else(|e| e.into_inner());
            if t.slot {
                st.in_flight = st.in_flight.saturating_sub(1);
            }
            if refund_request && st.rpm.is_some() {
                st.requests += 1;
            }
            if st.tpm.is_some() {
                let diff = i128::from(reserved) - i128::from(actual);
                st.tokens =
                    (i128::from(st.tokens) + diff).clamp(i64::MIN.into(), i64::MAX.into()) as i64;
            }
            st.slots > st.in_flight
        };
        if spare_slot {
            let me = self.clone();
            tokio::spawn(async move {
                let _gate = t.pool.refill.lock().await;
                me.give_back(&t.pool, Hand::Slots, now_ms()).await;
            });
        }
    }

    /// Gives back what idle pools hold and renews slot rows; called every second. With
    /// `all`, gives back everything not in use (at shutdown).
    pub async fn keep(&self, all: bool) {
        let pools: Vec<Arc<Pool>> = {
            let map = self.pools.lock().unwrap_or_else(|e| e.into_inner());
            map.values().cloned().collect()
        };
        let now = now_ms();
        for pool in pools {
            // Never while an admission is refilling this pool.
            let Ok(_gate) = pool.refill.try_lock() else {
                continue;
            };
            let hand = if all { Hand::All } else { Hand::Idle };
            self.give_back(&pool, hand, now).await;
        }
        if all {
            if let Err(e) = self.store.release_slots(&self.holder).await {
                tracing::warn!(error = %e, "could not release concurrency slots; they expire within a minute");
            }
        }
    }

    /// Returns what `hand` says of `pool` to the database. The caller holds the pool's
    /// refill gate, so no admission changes what the database holds for it meanwhile.
    async fn give_back(&self, pool: &Pool, hand: Hand, now: i64) {
        let give = {
            let mut st = pool.state.lock().unwrap_or_else(|e| e.into_inner());
            let idle = now - st.last_used >= IDLE_RETURN_MS;
            let stale = now - st.taken_at >= MAX_HOLD_MS;
            let units = match hand {
                Hand::All => true,
                Hand::Idle => idle || stale,
                Hand::Slots => false,
            };
            let give = Give {
                requests: if units { st.requests } else { 0 },
                tokens: if units { st.tokens } else { 0 },
                slots: st.slots.saturating_sub(st.in_flight),
                renew: st.slots > 0 && now - st.slots_renewed >= SLOT_RENEW_MS,
                rpm: st.rpm,
                tpm: st.tpm,
            };
            if give.is_nothing() {
                return;
            }
            // Taken off here first: until the database agrees, this replica holds more
            // than it thinks, never less.
            st.requests -= give.requests;
            st.tokens -= give.tokens;
            st.slots -= give.slots;
            st.slots_renewed = now;
            give
        };
        let slots_left = pool.state.lock().unwrap_or_else(|e| e.into_inner()).slots;
        let r = self
            .store
            .update_limits(&pool.key_id, &self.holder, move |c| {
                let mut w = LimitWrite::default();
                if let (Some(limit), true) = (give.rpm, give.requests > 0) {
                    let mut tat = c.rpm_tat;
                    rate(limit).settle(&mut tat, c.now_us, give.requests, 0);
                    w.rpm_tat = Some(tat);
                }
                if let (Some(limit), true) = (give.tpm, give.tokens != 0) {
                    let mut tat = c.tpm_tat;
                    let (reserved, actual) = if give.tokens > 0 {
                        (give.tokens as u64, 0)
                    } else {
                        (0, give.tokens.unsigned_abs())
                    };
                    rate(limit).settle(&mut tat, c.now_us, reserved, actual);
                    w.tpm_tat = Some(tat);
                }
                if give.slots > 0 || give.renew {
                    w.slots_mine = Some(slots_left as i64);
                }
                (w, ())
            })
            .await;
        if let Err(e) = r {
            tracing::warn!(error = %e, "could not return rate-limit units (database)");
            // Units given back are lost (the cell counts them as used: safe); a debt and
            // slots are kept so they are settled next time.
            let mut st = pool.state.lock().unwrap_or_else(|e| e.into_inner());
            st.tokens += give.tokens.min(0);
            st.slots += give.slots;
        }
    }
}

/// What `give_back` returns.
#[derive(Debug, Clone, Copy)]
enum Hand {
    /// Slots not in use, and units when the pool idles or has held them too long.
    Idle,
    /// Slots not in use only (a request just ended).
    Slots,
    /// Everything not in use (shutdown).
    All,
}

#[derive(Debug, Clone, Copy)]
struct Give {
    requests: u64,
    tokens: i64,
    slots: u64,
    renew: bool,
    rpm: Option<u64>,
    tpm: Option<u64>,
}

impl Give {
    fn is_nothing(&self) -> bool {
        self.requests == 0 && self.tokens == 0 && self.slots == 0 && !self.renew
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_count_only_what_the_pool_lacks() {
        let mut st = PoolState {
            requests: 1,
            tokens: 50,
            slots: 2,
            in_flight: 1,
            ..PoolState::default()
        };
        assert_eq!(st.needs(Some(10), Some(100), Some(4), 40), Needs::default());
        assert_eq!(
            st.needs(Some(10), Some(100), Some(4), 80),
            Needs {
                tokens: 30,
                ..Needs::default()
            }
        );
        st.in_flight = 2;
        st.tokens = -20;
        st.requests = 0;
        assert_eq!(
            st.needs(Some(10), Some(100), Some(4), 10),
            Needs {
                requests: 1,
                tokens: 30,
                slots: 1
            }
        );
        // Limits the key does not have need nothing.
        assert_eq!(st.needs(None, None, None, 10), Needs::default());
    }
}
