//! Dashboard sessions without a table: a session is a token `v1.<expiry>.<nonce>.<mac>`
//! signed with HMAC-SHA256 under a secret derived from the master key, so changing the master
//! key ends every session. Each session has a CSRF token, also derived (never stored), that
//! the page sends back in `x-csrf-token` on writes. Pure: no IO, no axum.

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// How long a session lasts after login.
pub const SESSION_TTL_SECS: i64 = 12 * 3600;

/// The signing secret of dashboard sessions, derived from the master key.
pub struct SessionKey([u8; 32]);

impl SessionKey {
    pub fn derive(master: &str) -> SessionKey {
        let mut mac = mac_with(master.as_bytes());
        mac.update(b"switchyard dashboard session v1\0");
        SessionKey(mac.finalize().into_bytes().into())
    }

    /// A new session token expiring `SESSION_TTL_SECS` after `now` (unix seconds).
    pub fn issue(&self, now: i64) -> String {
        let mut nonce = [0u8; 16];
        rand::rng().fill_bytes(&mut nonce);
        let body = format!("v1.{}.{}", now + SESSION_TTL_SECS, hex::encode(nonce));
        let sig = hex::encode(self.sign(b"session\0", body.as_bytes()));
        format!("{body}.{sig}")
    }

    /// Whether `token` is a session this key issued that has not expired at `now`. The
    /// signature is checked in constant time.
    pub fn verify(&self, token: &str, now: i64) -> bool {
        let Some((body, sig)) = token.rsplit_once('.') else {
            return false;
        };
        let Ok(sig) = hex::decode(sig) else {
            return false;
        };
        let mut mac = mac_with(&self.0);
        mac.update(b"session\0");
        mac.update(body.as_bytes());
        if mac.verify_slice(&sig).is_err() {
            return false;
        }
        let mut parts = body.split('.');
        match (parts.next(), parts.next().map(str::parse::<i64>)) {
            (Some("v1"), Some(Ok(expiry))) => expiry > now,
            _ => false,
        }
    }

    /// The CSRF token bound to a session token.
    pub fn csrf(&self, session: &str) -> String {
        hex::encode(self.sign(b"csrf\0", session.as_bytes()))
    }

    /// Whether `presented` is the CSRF token of `session`, compared in constant time.
    pub fn csrf_matches(&self, session: &str, presented: &str) -> bool {
        let Ok(presented) = hex::decode(presented) else {
            return false;
        };
        let mut mac = mac_with(&self.0);
        mac.update(b"csrf\0");
        mac.update(session.as_bytes());
        mac.verify_slice(&presented).is_ok()
    }

    fn sign(&self, domain: &[u8], data: &[u8]) -> [u8; 32] {
        let mut mac = mac_with(&self.0);
        mac.update(domain);
        mac.update(data);
        mac.finalize().into_bytes().into()
    }
}

fn mac_with(key: &[u8]) -> HmacSha256 {
    match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    }
}

/// Compares two byte strings in constant time (for their common length; a length
/// difference is not secret here).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_verify_until_expiry_and_only_under_their_key() {
        let k = SessionKey::derive("master");
        let t = k.issue(1000);
        assert!(k.verify(&t, 1000));
        assert!(k.verify(&t, 1000 + SESSION_TTL_SECS - 1));
        assert!(!k.verify(&t, 1000 + SESSION_TTL_SECS));
        assert!(!SessionKey::derive("other").verify(&t, 1000));
        assert_ne!(k.issue(1000), t, "each login is a new session");
    }

    #[test]
    fn tampered_tokens_are_refused() {
        let k = SessionKey::derive("master");
        let t = k.issue(1000);
        let (body, sig) = t.rsplit_once('.').unwrap();
        let later = body.replacen(&(1000 + SESSION_TTL_SECS).to_string(), "99999999999", 1);
        assert!(!k.verify(&format!("{later}.{sig}"), 1000));
        for bad in ["", "v1", "v1.1.2", "v1.x.y.zz", &t[..t.len() - 1]] {
            assert!(!k.verify(bad, 1000), "{bad:?}");
        }
    }

    #[test]
    fn csrf_tokens_are_bound_to_the_session() {
        let k = SessionKey::derive("master");
        let (a, b) = (k.issue(0), k.issue(0));
        assert!(k.csrf_matches(&a, &k.csrf(&a)));
        assert!(!k.csrf_matches(&a, &k.csrf(&b)));
        assert!(!k.csrf_matches(&a, ""));
        assert!(!k.csrf_matches(&a, "not hex"));
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
