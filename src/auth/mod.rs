//! Who is calling: gateway keys (`Authorization: Bearer sy-...`, or Anthropic-style
//! `x-api-key`) checked against the registry snapshot's key table (hashes only, no database
//! round trip; a key the snapshot does not know yet is looked up once), their state (disabled,
//! expired), and the master key that guards the admin API.

use axum::http::HeaderMap;
use rand::RngCore;
use sha2::{Digest, Sha256};

pub mod session;
pub mod throttle;

use crate::registry::{KeyInfo, Registry};
use crate::types::now_ms;

/// The caller of a gateway endpoint.
#[derive(Debug, Clone, Default)]
pub struct Principal {
    /// `None` when keys are not required and none was sent.
    pub key: Option<KeyInfo>,
}

impl Principal {
    pub fn key_id(&self) -> Option<String> {
        self.key.as_ref().map(|k| k.id.clone())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("Missing API key: send `Authorization: Bearer <key>` (create one with `switchyard keys create`)")]
    Missing,
    #[error("Invalid API key: it is unknown or has been revoked")]
    Invalid,
    #[error("API key `{0}` expired at {1}")]
    Expired(String, String),
    #[error("API key `{0}` is disabled")]
    Disabled(String),
    #[error("The admin API is disabled: set SWITCHYARD_MASTER_KEY to enable it")]
    AdminDisabled,
    #[error("Metrics need SWITCHYARD_METRICS_TOKEN or SWITCHYARD_MASTER_KEY (sent as a bearer token), or SWITCHYARD_METRICS_LISTEN to serve them on a separate address")]
    MetricsDisabled,
    #[error("Invalid master key")]
    InvalidMaster,
    /// A dashboard session's write without its CSRF token, or from another origin.
    #[error("Refused: {0}")]
    CrossSite(&'static str),
    /// Too many wrong master keys from this address (see `throttle`); seconds to wait.
    #[error("Too many wrong master keys from this address: try again in {0} s")]
    Throttled(u64),
}

/// The bearer token, if any (also accepts OpenAI-style `api-key`-less clients sending
/// `Authorization: Bearer`).
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty()).then_some(token)
}

/// The gateway key a request carries: `Authorization: Bearer`, else `x-api-key`.
pub fn presented_key(headers: &HeaderMap) -> Option<&str> {
    bearer(headers).or_else(|| {
        headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|k| !k.is_empty())
    })
}

pub async fn authenticate(
    headers: &HeaderMap,
    registry: &Registry,
    require_keys: bool,
) -> Result<Principal, AuthError> {
    let Some(token) = presented_key(headers) else {
        return if require_keys {
            Err(AuthError::Missing)
        } else {
            Ok(Principal::default())
        };
    };
    let hash = hash_key(token);
    let known = registry.snapshot().keys.get(&hash).cloned();
    let key = match known {
        Some(k) => Some(k),
        None if require_keys => registry.lookup_key(&hash).await,
        // With keys off, clients that always send some key (SDKs do) still get through.
        None => None,
    };
    match key {
        Some(k) => {
            check(&k)?;
            Ok(Principal { key: Some(k) })
        }
        None if require_keys => Err(AuthError::Invalid),
        None => Ok(Principal::default()),
    }
}

/// A known key may still be refused: disabled, or past its expiry.
fn check(k: &KeyInfo) -> Result<(), AuthError> {
    if k.policy.disabled {
        return Err(AuthError::Disabled(k.name.clone()));
    }
    if k.policy.expired(now_ms()) {
        let at = k.policy.expires_at.unwrap_or_default();
        return Err(AuthError::Expired(
            k.name.clone(),
            crate::types::time::format_rfc3339(at),
        ));
    }
    Ok(())
}

/// Checks the admin bearer against the master key in constant time.
pub fn authenticate_admin(headers: &HeaderMap, master: Option<&str>) -> Result<(), AuthError> {
    let master = master.ok_or(AuthError::AdminDisabled)?;
    let token = bearer(headers).ok_or(AuthError::Missing)?;
    if is_master(token, master) {
        Ok(())
    } else {
        Err(AuthError::InvalidMaster)
    }
}

/// Whether `presented` is the master key, in constant time (fixed-length digests compared
/// without early exit, so neither content nor length leaks).
pub fn is_master(presented: &str, master: &str) -> bool {
    let a = Sha256::digest(presented.as_bytes());
    let b = Sha256::digest(master.as_bytes());
    session::constant_time_eq(&a, &b)
}

/// Hex SHA-256 of a key. Keys carry 160 random bits, so a fast hash is enough at rest.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A new key: (the key, shown once; its id; its hash; its display prefix).
pub struct NewKey {
    pub key: String,
    pub id: String,
    pub hash: String,
    pub prefix: String,
}

pub fn generate_key() -> NewKey {
    let mut secret = [0u8; 20];
    rand::rng().fill_bytes(&mut secret);
    let mut id = [0u8; 8];
    rand::rng().fill_bytes(&mut id);
    key_from(&secret, &id)
}

/// The key an idempotent creation makes: derived from the master key and the client's
/// `Idempotency-Key`, so a retried request returns the same key (and never a second one).
pub fn derive_key(master: &str, idempotency_key: &str) -> NewKey {
    use hmac::{Hmac, Mac};
    let mut mac = match Hmac::<Sha256>::new_from_slice(master.as_bytes()) {
        Ok(m) => m,
        // HMAC takes keys of any length; this arm cannot be reached.
        Err(_) => return generate_key(),
    };
    mac.update(b"switchyard idempotent key v1\0");
    mac.update(idempotency_key.as_bytes());
    let out = mac.finalize().into_bytes();
    key_from(&out[..20], &out[20..28])
}

fn key_from(secret: &[u8], id: &[u8]) -> NewKey {
    let key = format!("sy-{}", hex::encode(secret));
    NewKey {
        hash: hash_key(&key),
        prefix: key[..10].to_owned(),
        id: format!("key_{}", hex::encode(id)),
        key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_long_and_hashed() {
        let k = generate_key();
        assert_eq!(k.key.len(), 3 + 40);
        assert_eq!(k.hash, hash_key(&k.key));
        assert_ne!(generate_key().key, k.key);
    }

    #[test]
    fn derived_keys_are_stable_and_secret_dependent() {
        let a = derive_key("master", "req-1");
        assert_eq!(a.key, derive_key("master", "req-1").key);
        assert_ne!(a.key, derive_key("master", "req-2").key);
        assert_ne!(a.key, derive_key("other", "req-1").key);
        assert_eq!(a.key.len(), 43);
        assert!(a.id.starts_with("key_"));
    }

    #[test]
    fn admin_check() {
        let mut h = HeaderMap::new();
        assert_eq!(authenticate_admin(&h, None), Err(AuthError::AdminDisabled));
        assert_eq!(authenticate_admin(&h, Some("m")), Err(AuthError::Missing));
        h.insert("authorization", "Bearer nope".parse().unwrap());
        assert_eq!(
            authenticate_admin(&h, Some("m")),
            Err(AuthError::InvalidMaster)
        );
        h.insert("authorization", "bearer m".parse().unwrap());
        assert_eq!(authenticate_admin(&h, Some("m")), Ok(()));
    }
}
