//! Who is asking, and for which host: the one place that decides how far
//! the forwarding headers of a proxy are believed.
//!
//! A peer listed in `--trusted-proxies` is a proxy of ours: its
//! `X-Forwarded-Host` names the host the client asked for, and the hops it
//! appended to `X-Forwarded-For` are believed. Anyone else's forwarding
//! headers are ignored; otherwise a client could pick a tenant, or rotate
//! its address past the login limits.

use lms_domain::{HostError, normalize_host};
use poem::Request;

use crate::context::ApiConfig;
use crate::error::ApiError;
use crate::error::ErrorCode;

/// Whether the request came straight from one of our proxies.
fn from_trusted_proxy(req: &Request, config: &ApiConfig) -> bool {
    req.remote_addr()
        .as_socket_addr()
        .is_some_and(|peer| config.trusted_proxies.contains(&peer.ip()))
}

/// The client's address. Behind trusted proxies, `X-Forwarded-For` is read
/// from the right: each proxy appends the address it saw, so the right-most
/// address that is not one of our proxies is the client; anything to its
/// left was written by the client and proves nothing.
pub fn client_ip(req: &Request, config: &ApiConfig) -> String {
    let trusted = |ip: &std::net::IpAddr| config.trusted_proxies.contains(ip);
    let Some(peer) = req.remote_addr().as_socket_addr().map(|a| a.ip()) else {
        return "unknown".into();
    };
    if !trusted(&peer) {
        return peer.to_string();
    }
    let hops: Vec<std::net::IpAddr> = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|h| h.trim().parse().ok())
        .collect();
    hops.iter()
        .rev()
        .find(|ip| !trusted(ip))
        .copied()
        .unwrap_or(peer)
        .to_string()
}

/// The host the client asked for, normalised. `X-Forwarded-Host` counts
/// only when the peer is a trusted proxy, and then its last value.
pub fn requested_host(req: &Request, config: &ApiConfig) -> Result<String, ApiError> {
    // Two Host headers leave the target ambiguous (RFC 9112 §3.2 asks for a
    // 400): a proxy and this service could each take a different one.
    if req.headers().get_all("host").iter().count() > 1 {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidHost,
            "the request has more than one Host header",
        ));
    }
    // The value the trusted proxy wrote is the last one: anything before it
    // came from the client (a proxy that appends keeps what it was sent).
    let forwarded = from_trusted_proxy(req, config)
        .then(|| {
            req.headers()
                .get_all("x-forwarded-host")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .rfind(|h| !h.is_empty())
        })
        .flatten();
    let raw = forwarded
        .or_else(|| req.header("host"))
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
        .unwrap_or("");
    normalize_host(raw).map_err(|e| match e {
        HostError::Missing => {
            ApiError::bad_request(ErrorCode::MissingHost, "the request has no Host header")
        }
        HostError::Invalid => ApiError::bad_request(
            ErrorCode::InvalidHost,
            "the Host header is not a valid host name",
        ),
    })
}
