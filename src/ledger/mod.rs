//! The ledger: the one place money and limits move. At admission a request reserves an
//! upper estimate of its cost against its key's budget and takes its place in the key's
//! rate limits and concurrency; when it ends (however it ends) its `Admission` settles
//! exactly once to the actual cost and tokens.
//!
//! Budgets are exact across replicas without a database round trip per request: each
//! replica admits against a lease (a share of the key's remaining budget, see
//! `store::ledger`) held in memory, and asks the database for more only when the lease runs
//! short. Rate limits and concurrency are shared through Redis (`redis.rs`) when
//! `[limits] redis_url` is set, else through the database on PostgreSQL (`pooled.rs`, the
//! same lease shape as budgets), else (SQLite) kept in this process.
//!
//! May depend on: store, types, config.

pub mod account;
pub mod gcra;
pub mod pooled;
pub mod redis;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use account::{AccountState, BudgetCheck, LimitSettlement};
use gcra::Decision;

use crate::store::LeaseAsk;
use crate::store::Store;
use crate::types::keys::{BudgetReset, KeyPolicy};
use crate::types::now_ms;

/// How long a budget lease lives in the database without renewal.
const LEASE_TTL_MS: i64 = 60_000;
/// A lease is used locally for at most this long after it was granted or renewed.
const LEASE_LOCAL_MS: i64 = 40_000;
/// A lease nobody used for this long gives its unspent part back.
const IDLE_RETURN_MS: i64 = 2_000;

/// Who is asking, with what it is allowed.
#[derive(Debug, Clone)]
pub struct KeyRef {
    pub id: String,
    pub name: String,
    pub policy: Arc<KeyPolicy>,
}

/// What a request may cost at most, and how many tokens it may use at most.
#[derive(Debug, Clone, Copy, Default)]
pub struct Estimate {
    pub cost_nanos: i64,
    pub tokens: u64,
}

/// Why a request is refused admission.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Refusal {
    #[error("{}", budget_message(.key_name, *.spent_nanos, *.budget_nanos, *.reset, *.resets_at))]
    Budget {
        key_name: String,
        spent_nanos: i64,
        budget_nanos: i64,
        reset: BudgetReset,
        resets_at: Option<i64>,
    },
    #[error("Rate limit reached for key `{key_name}`: {limit} {unit} per minute. Try again in {}s.", retry_secs(*.retry_after))]
    RateLimited {
        key_name: String,
        unit: &'static str,
        limit: u64,
        retry_after: Duration,
        headers: Box<RateHeaders>,
    },
    #[error("Request too large for key `{key_name}`: it may use up to {tokens} tokens, more than its limit of {limit} tokens per minute. Lower max_tokens or shorten the prompt.")]
    TooLarge {
        key_name: String,
        tokens: u64,
        limit: u64,
        headers: Box<RateHeaders>,
    },
    #[error("Key `{key_name}` may not use model `{model}`")]
    ModelNotAllowed { key_name: String, model: String },
    #[error("Too many concurrent requests for key `{key_name}`: its limit is {limit} at a time")]
    Concurrency { key_name: String, limit: u64 },
    #[error("The key's budget cannot be checked right now (the database is unreachable); try again shortly")]
    Unavailable,
    #[error("The key's rate limits cannot be checked right now (the store they are shared through is unreachable); try again shortly")]
    LimitsUnavailable,
}

fn retry_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

fn usd(nanos: i64) -> String {
    format!("${:.6}", nanos as f64 / 1e9)
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_owned()
}

fn budget_message(
    key: &str,
    spent: i64,
    budget: i64,
    reset: BudgetReset,
    resets_at: Option<i64>,
) -> String {
    let when = match resets_at {
        Some(t) => format!(
            "it resets {} ({})",
            crate::types::time::format_rfc3339(t),
            reset.as_str()
        ),
        None => "it never resets".into(),
    };
    format!(
        "Key `{key}` has reached its budget: spent {} of {} ({when})",
        usd(spent.max(0)),
        usd(budget)
    )
}

impl Refusal {
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Refusal::RateLimited { retry_after, .. } => Some(*retry_after),
            Refusal::Concurrency { .. } => Some(Duration::from_secs(1)),
            _ => None,
        }
    }

    pub fn headers(&self) -> Option<&RateHeaders> {
        match self {
            Refusal::RateLimited { headers, .. } | Refusal::TooLarge { headers, .. } => {
                Some(headers)
            }
            _ => None,
        }
    }
}

/// OpenAI's `x-ratelimit-*` figures for a key with limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateHeaders {
    pub requests: Option<Decision>,
    pub tokens: Option<Decision>,
}

impl RateHeaders {
    /// `(name, value)` pairs, ready for a response.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(d) = self.requests {
            out.push(("x-ratelimit-limit-requests", d.limit.to_string()));
            out.push(("x-ratelimit-remaining-requests", d.remaining.to_string()));
            out.push(("x-ratelimit-reset-requests", go_duration(d.reset_ns)));
        }
        if let Some(d) = self.tokens {
            out.push(("x-ratelimit-limit-tokens", d.limit.to_string()));
            out.push(("x-ratelimit-remaining-tokens", d.remaining.to_string()));
            out.push(("x-ratelimit-reset-tokens", go_duration(d.reset_ns)));
        }
        out
    }
}

/// A duration the way OpenAI writes reset times (Go's format): `20ms`, `1s`, `6m0s`.
pub fn go_duration(ns: i64) -> String {
    let ms = (ns.max(0) + 999_999) / 1_000_000;
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (h, m, s) = (ms / 3_600_000, ms / 60_000 % 60, ms % 60_000);
    let secs = if s % 1000 == 0 {
        format!("{}s", s / 1000)
    } else {
        format!("{}s", (s as f64 / 1000.0 * 1000.0).round() / 1000.0)
    };
    match (h, m) {
        (0, 0) => secs,
        (0, m) => format!("{m}m{secs}"),
        (h, m) => format!("{h}h{m}m{secs}"),
    }
}

/// One key's live state. It outlives policy changes (a request admitted under the old
/// limits settles against the same counters); the policy travels with each admission.
struct Account {
    id: String,
    state: Mutex<AccountState>,
    /// One lease request at a time per key (the cold path; never held on the hot path).
    refill: tokio::sync::Mutex<()>,
}

/// The live ledger of this replica.
pub struct Ledger {
    holder: String,
    store: Store,
    accounts: Mutex<HashMap<String, Arc<Account>>>,
    shared: Option<redis::SharedLimits>,
    pooled: Option<Arc<pooled::PooledLimits>>,
}

/// Where rate limits and concurrency are shared between replicas.
pub enum Sharing {
    /// In this process only (SQLite, or a single replica).
    Local,
    /// Through Redis, one script per decision.
    Redis(redis::SharedLimits),
    /// Through the database in leases (PostgreSQL without Redis).
    Database(redis::OnRedisFailure),
}

/// A request's place in the ledger, settled exactly once (by `settle`, or on drop as a
/// request that cost nothing more than it reserved).
pub struct Admission {
    inner: Option<Held>,
    headers: RateHeaders,
}

struct Held {
    ledger: Arc<Ledger>,
    account: Arc<Account>,
    /// The key as it was at admission.
    key: KeyRef,
    period_start: i64,
    estimate: Estimate,
    concurrency: bool,
    shared: Option<redis::SharedTicket>,
    pooled: Option<pooled::PooledTicket>,
}

impl Admission {
    /// An admission for a request without a key (keys off): nothing to settle.
    pub fn open() -> Admission {
        Admission {
            inner: None,
            headers: RateHeaders::default(),
        }
    }

    pub fn headers(&self) -> &RateHeaders {
        &self.headers
    }

    pub fn reserved(&self) -> Estimate {
        self.inner.as_ref().map(|h| h.estimate).unwrap_or_default()
    }

    /// Gives everything back: the request was admitted but never ran.
    pub fn refund(mut self) {
        if let Some(h) = self.inner.take() {
            let ledger = h.ledger.clone();
            ledger.settle_refused(h);
        }
    }

    /// Ends the request: releases the reservation and counts the actual cost and tokens.
    pub fn settle(mut self, cost_nanos: i64, tokens: u64) {
        if let Some(h) = self.inner.take() {
            let ledger = h.ledger.clone();
            ledger.settle(h, cost_nanos, tokens);
        }
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        if let Some(h) = self.inner.take() {
            // Every path settles explicitly; this only guards against a leak of the
            // reservation and the concurrency slot.
            tracing::error!(key = %h.account.id, "admission dropped without settlement");
            let reserved = h.estimate;
            let ledger = h.ledger.clone();
            ledger.settle(h, reserved.cost_nanos, reserved.tokens);
        }
    }
}

impl Ledger {
    pub fn new(store: Store, sharing: Sharing) -> Arc<Ledger> {
        let holder = format!(
            "{}-{}-{:08x}",
            hostname(),
            std::process::id(),
            rand::random::<u32>()
        );
        let (shared, pooled) = match sharing {
            Sharing::Local => (None, None),
            Sharing::Redis(r) => (Some(r), None),
            Sharing::Database(on_failure) => (
                None,
                Some(Arc::new(pooled::PooledLimits::new(
                    store.clone(),
                    holder.clone(),
                    on_failure,
                ))),
            ),
        };
        Arc::new(Ledger {
            holder,
            store,
            accounts: Mutex::new(HashMap::new()),
            shared,
            pooled,
        })
    }

    /// This replica's name in budget leases.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    fn account(&self, key: &KeyRef) -> Arc<Account> {
        let mut map = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(key.id.clone())
            .or_insert_with(|| {
                Arc::new(Account {
                    id: key.id.clone(),
                    state: Mutex::new(AccountState::default()),
                    refill: tokio::sync::Mutex::new(()),
                })
            })
            .clone()
    }

    /// Admits a request of `key` costing at most `estimate`, or says why not.
    pub async fn admit(
        self: &Arc<Self>,
        key: &KeyRef,
        estimate: Estimate,
    ) -> Result<Admission, Refusal> {
        let policy = key.policy.clone();
        let limited = policy.rpm.is_some() || policy.tpm.is_some();
        if policy.budget_nanos.is_none() && !limited && policy.max_concurrency.is_none() {
            return Ok(Admission::open());
        }
        let account = self.account(key);
        let now = now_ms();
        let period_start = policy.budget_reset.period_start(now);
        if let Some(limit) = policy.tpm {
            if estimate.tokens > limit {
                let headers = self.peek_headers(&account, &policy);
                return Err(Refusal::TooLarge {
                    key_name: key.name.clone(),
                    tokens: estimate.tokens,
                    limit,
                    headers: Box::new(headers),
                });
            }
        }

        // Concurrency and rate limits: shared through Redis, or in this process.
        let mut held = Held {
            ledger: self.clone(),
            account: account.clone(),
            key: key.clone(),
            period_start,
            estimate: Estimate::default(),
            concurrency: false,
            shared: None,
            pooled: None,
        };
        let mut headers = RateHeaders::default();
        let sharable = limited || policy.max_concurrency.is_some();
        match (&self.shared, &self.pooled) {
            (_, Some(pooled)) if sharable => match pooled.admit(key, estimate.tokens).await {
                pooled::PooledOutcome::Admitted(ticket, h) => {
                    headers = h;
                    held.pooled = Some(ticket);
                }
                pooled::PooledOutcome::Refused(r) => return Err(r),
                pooled::PooledOutcome::Local => {
                    self.take_local(&account, key, estimate, &mut held, &mut headers)?
                }
            },
            (Some(shared), _) if sharable => {
                match shared.admit(key, estimate.tokens).await {
                    Ok(redis::SharedOutcome::Admitted(ticket, h)) => {
                        headers = h;
                        held.shared = Some(ticket);
                    }
                    Ok(redis::SharedOutcome::Refused(r)) => return Err(r),
                    // Redis is unreachable and the policy is to use local limits.
                    Err(redis::Fallback::Local) => {
                        self.take_local(&account, key, estimate, &mut held, &mut headers)?
                    }
                }
            }
            _ => self.take_local(&account, key, estimate, &mut held, &mut headers)?,
        }
        held.estimate.tokens = estimate.tokens;

        // The budget, against this replica's lease.
        if let Some(budget) = policy.budget_nanos {
            if let Err(r) = self
                .reserve_budget(&account, key, budget, period_start, estimate)
                .await
            {
                // Give back what the limits took.
                self.settle_refused(held);
                return Err(r);
            }
            held.estimate.cost_nanos = estimate.cost_nanos;
        }
        Ok(Admission {
            inner: Some(held),
            headers,
        })
    }

    fn take_local(
        &self,
        account: &Account,
        key: &KeyRef,
        estimate: Estimate,
        held: &mut Held,
        headers: &mut RateHeaders,
    ) -> Result<(), Refusal> {
        let policy = &*key.policy;
        let mut st = account.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(limit) = policy.max_concurrency {
            if st.in_flight >= limit {
                return Err(Refusal::Concurrency {
                    key_name: key.name.clone(),
                    limit,
                });
            }
        }
        let limits = st.take_limits(policy, mono_ns(), estimate.tokens);
        *headers = RateHeaders {
            requests: limits.requests,
            tokens: limits.tokens,
        };
        if !limits.allowed() {
            let (unit, d) = match (limits.requests, limits.tokens) {
                (Some(d), _) if !d.allowed => ("requests", d),
                (_, Some(d)) => ("tokens", d),
                (Some(d), None) => ("requests", d),
                (None, None) => unreachable_decision(),
            };
            return Err(Refusal::RateLimited {
                key_name: key.name.clone(),
                unit,
                limit: d.limit,
                retry_after: Duration::from_nanos(d.retry_after_ns.max(0) as u64),
                headers: Box::new(*headers),
            });
        }
        if policy.max_concurrency.is_some() {
            st.in_flight += 1;
            held.concurrency = true;
        }
        Ok(())
    }

    fn peek_headers(&self, account: &Account, policy: &KeyPolicy) -> RateHeaders {
        let st = account.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = mono_ns();
        RateHeaders {
            requests: policy
                .rpm
                .map(|l| gcra::Rate::per_minute(l).peek(st.rpm_tat, now)),
            tokens: policy
                .tpm
                .map(|l| gcra::Rate::per_minute(l).peek(st.tpm_tat, now)),
        }
    }

    async fn reserve_budget(
        &self,
        account: &Account,
        key: &KeyRef,
        budget: i64,
        period_start: i64,
        estimate: Estimate,
    ) -> Result<(), Refusal> {
        let cost = estimate.cost_nanos.max(0);
        let mut asked = false;
        loop {
            let need = {
                let mut st = account.state.lock().unwrap_or_else(|e| e.into_inner());
                st.roll_period(period_start);
                match st.try_reserve(cost, now_ms()) {
                    BudgetCheck::Reserved => return Ok(()),
                    BudgetCheck::NeedLease { need } => need,
                }
            };
            if asked {
                return Err(budget_refusal(account, key, budget));
            }
            // Cold path: one lease request per key at a time; whoever waited re-checks first.
            let _gate = account.refill.lock().await;
            {
                let mut st = account.state.lock().unwrap_or_else(|e| e.into_inner());
                if st.try_reserve(cost, now_ms()) == BudgetCheck::Reserved {
                    return Ok(());
                }
            }
            asked = true;
            let now = now_ms();
            let grant = tokio::time::timeout(
                Duration::from_secs(5),
                self.store.acquire_lease(LeaseAsk {
                    key_id: &account.id,
                    holder: &self.holder,
                    period_start,
                    budget,
                    need,
                    now,
                    ttl_ms: LEASE_TTL_MS,
                }),
            )
            .await;
            match grant {
                Ok(Ok(g)) => {
                    let mut st = account.state.lock().unwrap_or_else(|e| e.into_inner());
                    if st.period_start == period_start {
                        st.apply_grant(g.added, g.fresh, now, now + LEASE_LOCAL_MS, g.spent);
                    }
                }
                Ok(Err(e)) => {
                    tracing::warn!(key = %account.id, error = %e, "cannot lease budget");
                    return Err(Refusal::Unavailable);
                }
                Err(_) => {
                    tracing::warn!(key = %account.id, "leasing budget timed out");
                    return Err(Refusal::Unavailable);
                }
            }
        }
    }

    fn settle_refused(&self, held: Held) {
        let mut held = held;
        let shared = held.shared.take();
        let pooled = held.pooled.take();
        {
            let policy = held.key.policy.clone();
            let mut st = held.account.state.lock().unwrap_or_else(|e| e.into_inner());
            if held.concurrency {
                st.in_flight = st.in_flight.saturating_sub(1);
            }
            if held.estimate.cost_nanos > 0 {
                st.settle_budget(held.period_start, held.estimate.cost_nanos, 0);
            }
            if shared.is_none() && pooled.is_none() {
                st.settle_limits(
                    &policy,
                    mono_ns(),
                    LimitSettlement {
                        refund_request: true,
                        reserved_tokens: held.estimate.tokens,
                        actual_tokens: 0,
                    },
                );
            }
        }
        if let (Some(s), Some(t)) = (&self.shared, shared) {
            s.settle(t, &held.key, held.estimate.tokens, 0, true);
        }
        if let (Some(p), Some(t)) = (&self.pooled, pooled) {
            p.settle(t, held.estimate.tokens, 0, true);
        }
    }

    fn settle(&self, mut held: Held, cost_nanos: i64, tokens: u64) {
        let shared = held.shared.take();
        let pooled = held.pooled.take();
        {
            let policy = held.key.policy.clone();
            let mut st = held.account.state.lock().unwrap_or_else(|e| e.into_inner());
            if held.concurrency {
                st.in_flight = st.in_flight.saturating_sub(1);
            }
            if policy.budget_nanos.is_some() {
                st.settle_budget(held.period_start, held.estimate.cost_nanos, cost_nanos);
            }
            if shared.is_none() && pooled.is_none() {
                st.settle_limits(
                    &policy,
                    mono_ns(),
                    LimitSettlement {
                        refund_request: false,
                        reserved_tokens: held.estimate.tokens,
                        actual_tokens: tokens,
                    },
                );
            }
        }
        if let (Some(s), Some(t)) = (&self.shared, shared) {
            s.settle(t, &held.key, held.estimate.tokens, tokens, false);
        }
        if let (Some(p), Some(t)) = (&self.pooled, pooled) {
            p.settle(t, held.estimate.tokens, tokens, false);
        }
    }

    /// This replica's unwritten view for `/key`: (reserved in flight) for a key.
    pub fn reserved_nanos(&self, key_id: &str) -> i64 {
        let map = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        map.get(key_id)
            .map(|a| a.state.lock().unwrap_or_else(|e| e.into_inner()).reserved)
            .unwrap_or(0)
    }

    /// Keeps leases alive and gives idle ones back, every second until `stop`; then returns
    /// every lease (call after the request log is flushed).
    pub fn spawn_keeper(self: &Arc<Self>, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tick.tick() => {
                        me.keep_leases().await;
                        if let Some(p) = &me.pooled {
                            p.keep(false).await;
                        }
                    }
                }
            }
        })
    }

    async fn keep_leases(&self) {
        let accounts: Vec<Arc<Account>> = {
            let map = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
            map.values().cloned().collect()
        };
        let now = now_ms();
        for a in accounts {
            // What to give back (idle: everything not spent), and whether to renew at all.
            let returned = {
                let mut st = a.state.lock().unwrap_or_else(|e| e.into_inner());
                if st.granted == 0 || st.lease_valid_until == 0 {
                    continue;
                }
                let idle = st.reserved == 0 && now - st.last_used > IDLE_RETURN_MS;
                if idle && st.granted > st.spent {
                    let r = st.granted - st.spent;
                    // Taken off here first: until the database agrees, this replica holds
                    // more than it thinks, never less.
                    st.granted -= r;
                    r
                } else if st.lease_valid_until - now < LEASE_LOCAL_MS / 2 {
                    0
                } else {
                    continue;
                }
            };
            let renewed = tokio::time::timeout(
                Duration::from_secs(5),
                self.store
                    .shrink_lease(&a.id, &self.holder, returned, now + LEASE_TTL_MS),
            )
            .await;
            let mut st = a.state.lock().unwrap_or_else(|e| e.into_inner());
            match renewed {
                Ok(Ok(true)) => st.lease_valid_until = now + LEASE_LOCAL_MS,
                Ok(Ok(false)) => {
                    // The lease is gone: start a fresh one at the next admission.
                    st.granted = 0;
                    st.spent = 0;
                    st.lease_valid_until = 0;
                }
                // The database is unreachable: the lease stays usable until its local
                // validity runs out, then budgeted keys wait for the database.
                _ => {}
            }
        }
    }

    /// Returns every lease this replica holds (at shutdown, after the log is flushed).
    pub async fn release(&self) {
        if let Some(p) = &self.pooled {
            let _ = tokio::time::timeout(Duration::from_secs(5), p.keep(true)).await;
        }
        match tokio::time::timeout(
            Duration::from_secs(5),
            self.store.release_leases(&self.holder),
        )
        .await
        {
            Ok(Ok(())) => {}
            _ => tracing::warn!("could not return budget leases; they expire within a minute"),
        }
    }
}

fn budget_refusal(account: &Account, key: &KeyRef, budget: i64) -> Refusal {
    let st = account.state.lock().unwrap_or_else(|e| e.into_inner());
    let reset = key.policy.budget_reset;
    Refusal::Budget {
        key_name: key.name.clone(),
        // What the database had written, or this replica's settled spend if more (an
        // approximation for the message; the lease arithmetic itself is exact).
        spent_nanos: st.spent_seen.max(st.spent),
        budget_nanos: budget,
        reset,
        resets_at: reset.next_reset(now_ms()),
    }
}

#[cold]
fn unreachable_decision() -> (&'static str, Decision) {
    (
        "requests",
        Decision {
            allowed: false,
            limit: 0,
            remaining: 0,
            reset_ns: 0,
            retry_after_ns: 1_000_000_000,
        },
    )
}

/// Nanoseconds on a monotonic clock, for the rate-limit cells.
fn mono_ns() -> i64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let start = START.get_or_init(std::time::Instant::now);
    // Offset so a fresh cell (tat = 0) is always in the past.
    i64::try_from(start.elapsed().as_nanos()).unwrap_or(i64::MAX) + 3_600_000_000_000
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().chars().take(32).collect())
        .filter(|h: &String| !h.is_empty())
        .unwrap_or_else(|| "host".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(go_duration(0), "0ms");
        assert_eq!(go_duration(20_000_000), "20ms");
        assert_eq!(go_duration(1_000_000_000), "1s");
        assert_eq!(go_duration(1_500_000_000), "1.5s");
        assert_eq!(go_duration(360_000_000_000), "6m0s");
        assert_eq!(go_duration(3_723_000_000_000), "1h2m3s");
    }

    #[test]
    fn budget_messages_say_spend_limit_and_reset() {
        let m = budget_message(
            "ci",
            1_234_000_000,
            5_000_000_000,
            BudgetReset::Monthly,
            Some(crate::types::time::parse_rfc3339("2027-01-01T00:00:00Z").unwrap()),
        );
        assert_eq!(
            m,
            "Key `ci` has reached its budget: spent $1.234 of $5 (it resets 2027-01-01T00:00:00Z (monthly))"
        );
    }
}
