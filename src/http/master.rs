//! Every place a master key is presented (admin API bearer, dashboard login, `/metrics`
//! token) goes through `guarded`, so wrong guesses from one address are throttled alike
//! (see `auth::throttle`).

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use axum::extract::ConnectInfo;
use axum::http::Extensions;

use super::AppState;
use crate::auth::AuthError;

/// The TCP peer's address, which `server::serve` puts on every request.
pub fn peer(extensions: &Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Runs `check` unless `peer` must wait; a wrong master key (`InvalidMaster`) counts
/// against `peer`.
pub fn guarded(
    state: &AppState,
    peer: Option<IpAddr>,
    check: impl FnOnce() -> Result<(), AuthError>,
) -> Result<(), AuthError> {
    let now = Instant::now();
    if let Err(wait) = state.master_throttle.check(peer, now) {
        return Err(AuthError::Throttled(wait.as_secs().max(1)));
    }
    let result = check();
    if result == Err(AuthError::InvalidMaster) {
        state.master_throttle.failed(peer, now);
        tracing::warn!(peer = ?peer, "a wrong master key was presented");
    }
    result
}
