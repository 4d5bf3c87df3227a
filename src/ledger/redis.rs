//! Rate limits and concurrency shared by every replica through Redis: one atomic Lua script
//! per decision (GCRA cells with the same arithmetic as `gcra.rs`, in microseconds of
//! Redis's own clock, and a sorted set of expiring concurrency tickets), over one
//! multiplexed, reconnecting connection.
//!
//! When Redis cannot be reached the configured policy applies: fall back to this replica's
//! own limits, or refuse with a 503. Never an error page.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;

use super::gcra::Decision;
use super::{KeyRef, RateHeaders, Refusal};

/// What to do while Redis is unreachable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OnRedisFailure {
    /// Enforce limits per replica until Redis is back.
    #[default]
    Local,
    /// Refuse limited keys' requests with a 503.
    Refuse,
}

pub struct SharedLimits {
    conn: ConnectionManager,
    on_failure: OnRedisFailure,
    admit: Script,
    settle: Script,
}

/// A request's hold on the shared limits, returned at settlement.
#[derive(Debug)]
pub struct SharedTicket {
    key_id: String,
    ticket: String,
}

pub enum SharedOutcome {
    Admitted(SharedTicket, RateHeaders),
    Refused(Refusal),
}

/// Redis could not decide; the caller applies the local limits.
pub enum Fallback {
    Local,
}

/// A concurrency ticket outlives a crashed replica by at most this long.
const TICKET_TTL_US: i64 = 15 * 60 * 1_000_000;

const ADMIT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local period = 60000000
local rpm, tpm, tokens, maxc = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if maxc > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
  if redis.call('ZCARD', KEYS[3]) >= maxc then
    return {0, 3, 0, 0, 0, 0, 0, 0, 1000000}
  end
end
local function cell(key, limit, units)
  local tat = tonumber(redis.call('GET', key) or '0')
  local new = math.max(tat, now) + math.ceil(units * period / limit)
  return tat, new
end
local function seen(tat, limit)
  local held = math.max(tat, now) - now
  return limit, math.floor(math.max(period - held, 0) * limit / period), held
end
local rl, rr, rs, tl, tr, ts = 0, 0, 0, 0, 0, 0
local rnew, tnew
if rpm > 0 then
  local tat
  tat, rnew = cell(KEYS[1], rpm, 1)
  if rnew - now > period then
    rl, rr, rs = seen(tat, rpm)
    return {0, 1, rl, rr, rs, 0, 0, 0, rnew - period - now}
  end
  rl, rr, rs = seen(rnew, rpm)
end
if tpm > 0 then
  local tat
  tat, tnew = cell(KEYS[2], tpm, tokens)
  if tnew - now > period then
    tl, tr, ts = seen(tat, tpm)
    local rl0, rr0, rs0 = 0, 0, 0
    if rpm > 0 then rl0, rr0, rs0 = seen(tonumber(redis.call('GET', KEYS[1]) or '0'), rpm) end
    return {0, 2, rl0, rr0, rs0, tl, tr, ts, tnew - period - now}
  end
  tl, tr, ts = seen(tnew, tpm)
end
if rpm > 0 then redis.call('SET', KEYS[1], rnew, 'PX', 120000) end
if tpm > 0 then redis.call('SET', KEYS[2], tnew, 'PX', 120000) end
if maxc > 0 then
  redis.call('ZADD', KEYS[3], now + tonumber(ARGV[6]), ARGV[5])
  redis.call('PEXPIRE', KEYS[3], math.floor(tonumber(ARGV[6]) / 1000))
end
return {1, 0, rl, rr, rs, tl, tr, ts, 0}
"#;

const SETTLE: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local period = 60000000
local rpm, tpm, reserved, actual, refund = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local function adjust(key, limit, delta)
  local tat = tonumber(redis.call('GET', key) or '0')
  local new
  if delta >= 0 then
    new = math.max(tat, now) + math.ceil(delta * period / limit)
  else
    new = math.max(tat - math.ceil(-delta * period / limit), now)
  end
  redis.call('SET', key, new, 'PX', 120000)
end
if rpm > 0 and refund == 1 then adjust(KEYS[1], rpm, -1) end
if tpm > 0 and actual ~= reserved then adjust(KEYS[2], tpm, actual - reserved) end
redis.call('ZREM', KEYS[3], ARGV[6])
return 1
"#;

fn keys(key_id: &str) -> [String; 3] {
    // One hash tag per key keeps the three keys in one slot on a Redis Cluster.
    [
        format!("switchyard:{{{key_id}}}:rpm"),
        format!("switchyard:{{{key_id}}}:tpm"),
        format!("switchyard:{{{key_id}}}:inflight"),
    ]
}

fn decision(limit: i64, remaining: i64, reset_us: i64, allowed: bool) -> Option<Decision> {
    (limit > 0).then(|| Decision {
        allowed,
        limit: limit as u64,
        remaining: remaining.max(0) as u64,
        reset_ns: reset_us.saturating_mul(1000),
        retry_after_ns: 0,
    })
}

impl SharedLimits {
    /// Connects lazily: an unreachable Redis at start is handled like one lost later.
    pub fn connect(url: &str, on_failure: OnRedisFailure) -> Result<SharedLimits, String> {
        let client = redis::Client::open(url).map_err(|e| format!("invalid Redis URL: {e}"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_millis(500)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| format!("cannot set up the Redis connection: {e}"))?;
        Ok(SharedLimits {
            conn,
            on_failure,
            admit: Script::new(ADMIT),
            settle: Script::new(SETTLE),
        })
    }

    /// A round trip, for health checks.
    pub async fn ping(&self) -> bool {
        let mut c = self.conn.clone();
        let r: Result<String, _> = redis::cmd("PING").query_async(&mut c).await;
        r.is_ok()
    }

    pub async fn admit(&self, key: &KeyRef, tokens: u64) -> Result<SharedOutcome, Fallback> {
        let p = &key.policy;
        let ticket = format!("{:016x}", rand::random::<u64>());
        let [rk, tk, ck] = keys(&key.id);
        let mut c = self.conn.clone();
        let r: Result<Vec<i64>, _> = self
            .admit
            .key(&rk)
            .key(&tk)
            .key(&ck)
            .arg(p.rpm.unwrap_or(0))
            .arg(p.tpm.unwrap_or(0))
            .arg(tokens)
            .arg(p.max_concurrency.unwrap_or(0))
            .arg(&ticket)
            .arg(TICKET_TTL_US)
            .invoke_async(&mut c)
            .await;
        let v = match r {
            Ok(v) if v.len() == 9 => v,
            Ok(_) | Err(_) => {
                if let Err(e) = &r {
                    tracing::warn!(error = %e, "shared rate limits unavailable (Redis)");
                }
                return match self.on_failure {
                    OnRedisFailure::Local => Err(Fallback::Local),
                    OnRedisFailure::Refuse => {
                        Ok(SharedOutcome::Refused(Refusal::LimitsUnavailable))
                    }
                };
            }
        };
        let allowed = v[0] == 1;
        let headers = RateHeaders {
            requests: decision(v[2], v[3], v[4], v[1] != 1),
            tokens: decision(v[5], v[6], v[7], v[1] != 2),
        };
        if allowed {
            return Ok(SharedOutcome::Admitted(
                SharedTicket {
                    key_id: key.id.clone(),
                    ticket,
                },
                headers,
            ));
        }
        let retry_after = Duration::from_micros(v[8].max(0) as u64);
        let refusal = match v[1] {
            3 => Refusal::Concurrency {
                key_name: key.name.clone(),
                limit: p.max_concurrency.unwrap_or(0),
            },
            2 => Refusal::RateLimited {
                key_name: key.name.clone(),
                unit: "tokens",
                limit: p.tpm.unwrap_or(0),
                retry_after,
                headers: Box::new(headers),
            },
            _ => Refusal::RateLimited {
                key_name: key.name.clone(),
                unit: "requests",
                limit: p.rpm.unwrap_or(0),
                retry_after,
                headers: Box::new(headers),
            },
        };
        Ok(SharedOutcome::Refused(refusal))
    }

    /// Returns a ticket and settles the token reservation, off the request's path.
    pub fn settle(&self, t: SharedTicket, key: &KeyRef, reserved: u64, actual: u64, refund: bool) {
        let [rk, tk, ck] = keys(&t.key_id);
        let (rpm, tpm) = (key.policy.rpm.unwrap_or(0), key.policy.tpm.unwrap_or(0));
        let script = self.settle.clone();
        let mut c = self.conn.clone();
        tokio::spawn(async move {
            let r: Result<i64, _> = script
                .key(rk)
                .key(tk)
                .key(ck)
                .arg(rpm)
                .arg(tpm)
                .arg(reserved)
                .arg(actual)
                .arg(u8::from(refund))
                .arg(&t.ticket)
                .invoke_async(&mut c)
                .await;
            if let Err(e) = r {
                // The ticket expires on its own; token counts catch up within a minute.
                tracing::warn!(error = %e, "could not settle shared rate limits (Redis)");
            }
        });
    }
}
