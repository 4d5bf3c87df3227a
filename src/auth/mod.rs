//! Who is calling: gateway keys (`Authorization: Bearer sy-...`) checked against the registry
//! snapshot's key table (hashes only, no database round trip), and the master key that guards
//! the admin API.

use axum::http::HeaderMap;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::registry::Snapshot;

/// The caller of a gateway endpoint.
#[derive(Debug, Clone, Default)]
pub struct Principal {
    /// `None` when keys are not required and none was sent.
    pub key_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("Missing API key: send `Authorization: Bearer <key>` (create one with `switchyard keys create`)")]
    Missing,
    #[error("Invalid API key: it is unknown or has been revoked")]
    Invalid,
    #[error("The admin API is disabled: set SWITCHYARD_MASTER_KEY to enable it")]
    AdminDisabled,
    #[error("Invalid master key")]
    InvalidMaster,
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

pub fn authenticate(
    headers: &HeaderMap,
    snap: &Snapshot,
    require_keys: bool,
) -> Result<Principal, AuthError> {
    match bearer(headers) {
        Some(token) => match snap.keys.get(&hash_key(token)) {
            Some(k) => Ok(Principal {
                key_id: Some(k.id.clone()),
            }),
            // With keys off, clients that always send some key (SDKs do) still get through.
            None if !require_keys => Ok(Principal::default()),
            None => Err(AuthError::Invalid),
        },
        None if require_keys => Err(AuthError::Missing),
        None => Ok(Principal::default()),
    }
}

/// Checks the admin bearer against the master key in constant time.
pub fn authenticate_admin(headers: &HeaderMap, master: Option<&str>) -> Result<(), AuthError> {
    let master = master.ok_or(AuthError::AdminDisabled)?;
    let token = bearer(headers).ok_or(AuthError::Missing)?;
    let a = Sha256::digest(token.as_bytes());
    let b = Sha256::digest(master.as_bytes());
    // Comparing fixed-length digests byte by byte without early exit.
    let diff = a
        .iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y));
    if diff == 0 {
        Ok(())
    } else {
        Err(AuthError::InvalidMaster)
    }
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
