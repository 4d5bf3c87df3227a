//! Fetching images the client gave by http(s) URL. Gemini only takes images inline (or from
//! its own file store), so the gateway downloads them — with a time limit, a size limit and an
//! image content type — and inlines them as base64. Bedrock's Converse has the same limitation
//! and uses this module with its own `Limits`.
//!
//! A client-chosen URL must not turn the gateway into a proxy into its own network: unless the
//! provider allows it, every host (and every redirect hop) must resolve to public addresses
//! only, and the connection is pinned to the addresses that were checked.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use base64::Engine;
use futures::StreamExt;

pub(crate) use super::convert::{Fetched, Inline};
use crate::types::openai::{ChatParams, Content, ImageSource, Message, Part};
use crate::types::InvalidRequest;

const FETCH_TIMEOUT: Duration = Duration::from_secs(15);
const MAX_REDIRECTS: usize = 3;

/// Where image URLs may point.
#[derive(Debug, Clone, Copy, Default)]
pub struct FetchPolicy {
    /// Private, loopback and link-local addresses are allowed (trusted clients only).
    pub allow_private: bool,
}

/// Who the images are fetched for (named in errors) and how large one may be.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub provider: &'static str,
    pub max_bytes: usize,
}

/// Gemini caps a whole inline request at 20 MB.
const GEMINI: Limits = Limits {
    provider: "Gemini",
    max_bytes: 20 * 1024 * 1024,
};

/// The distinct http(s) image URLs of the user messages.
pub fn image_urls(p: &ChatParams) -> Result<Vec<&str>, InvalidRequest> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for m in &p.messages {
        let Message::User {
            content: Content::Parts(parts),
        } = m
        else {
            continue;
        };
        for part in parts {
            let Part::ImageUrl { image_url } = part else {
                continue;
            };
            if let ImageSource::Url(url) = image_url.source()? {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(InvalidRequest::new(
                        format!(
                            "image URL `{}` must be http(s) or a data: URL",
                            truncate(url)
                        ),
                        Some("messages"),
                        "unsupported_parameter",
                    ));
                }
                if seen.insert(url) {
                    out.push(url);
                }
            }
        }
    }
    Ok(out)
}

/// Downloads every image, concurrently. Any failure refuses the request: the model must not
/// answer about an image it never saw.
pub async fn fetch_all(urls: Vec<&str>, policy: FetchPolicy) -> Result<Fetched, InvalidRequest> {
    fetch_all_with(urls, policy, GEMINI).await
}

/// `fetch_all` for another provider's limits.
pub(crate) async fn fetch_all_with(
    urls: Vec<&str>,
    policy: FetchPolicy,
    limits: Limits,
) -> Result<Fetched, InvalidRequest> {
    let results = futures::future::join_all(
        urls.iter()
            .map(|url| fetch_one(url, policy, limits.max_bytes)),
    )
    .await;
    let mut out = Fetched::new();
    for (url, result) in urls.into_iter().zip(results) {
        match result {
            Ok(inline) => {
                out.insert(url.to_owned(), inline);
            }
            Err(why) => {
                return Err(InvalidRequest::new(
                    format!(
                        "The image at {} could not be fetched to inline it for {}: {why}",
                        truncate(url),
                        limits.provider
                    ),
                    Some("messages"),
                    "invalid_image_url",
                ))
            }
        }
    }
    Ok(out)
}

/// Resolves the URL's host and checks every address against the policy.
async fn checked_addrs(url: &reqwest::Url, policy: FetchPolicy) -> Result<Vec<SocketAddr>, String> {
    let host = url.host_str().ok_or("the URL has no host")?;
    let port = url.port_or_known_default().ok_or("the URL has no port")?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("{host} has no addresses"));
    }
    if !policy.allow_private {
        if let Some(bad) = addrs.iter().find(|a| !is_public(a.ip())) {
            return Err(format!(
                "{host} resolves to a non-public address ({}); the provider does not allow fetching from private networks",
                bad.ip()
            ));
        }
    }
    Ok(addrs)
}

/// Whether an address is on the public internet (not private, loopback, link-local, CGNAT,
/// documentation, multicast or unspecified).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1])))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

fn fetch_error(e: reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_owned()
    } else {
        e.to_string()
    }
}

async fn fetch_one(url: &str, policy: FetchPolicy, max_bytes: usize) -> Result<Inline, String> {
    let mut current = reqwest::Url::parse(url).map_err(|e| format!("invalid URL: {e}"))?;
    let mut hops = 0;
    let resp = loop {
        let addrs = checked_addrs(&current, policy).await?;
        let host = current.host_str().unwrap_or_default().to_owned();
        // A client per fetch, pinned to the checked addresses and following no redirect by
        // itself: a later DNS answer or a redirect cannot lead somewhere unchecked.
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .resolve_to_addrs(&host, &addrs)
            .timeout(FETCH_TIMEOUT)
            .build()
            .map_err(fetch_error)?;
        let resp = client
            .get(current.clone())
            .send()
            .await
            .map_err(fetch_error)?;
        if !resp.status().is_redirection() {
            break resp;
        }
        hops += 1;
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or("a redirect without a Location")?;
        if hops > MAX_REDIRECTS {
            return Err("too many redirects".into());
        }
        current = current
            .join(location)
            .map_err(|e| format!("bad redirect: {e}"))?;
        if !matches!(current.scheme(), "http" | "https") {
            return Err("redirected to a non-http(s) URL".into());
        }
    };
    if !resp.status().is_success() {
        return Err(format!("HTTP {}", resp.status().as_u16()));
    }
    if resp.content_length().is_some_and(|n| n > max_bytes as u64) {
        return Err(too_large(max_bytes));
    }
    let header_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or(v).trim().to_ascii_lowercase());
    let mime_type = match header_type {
        Some(t) if t.starts_with("image/") => t,
        // Servers often label images generically; trust the extension then.
        _ => mime_from_extension(url)
            .ok_or("the response is not an image (no image/* content type)")?
            .to_owned(),
    };
    let mut body = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(part) = stream.next().await {
        let part = part.map_err(|e| {
            if e.is_timeout() {
                "timed out".to_owned()
            } else {
                e.to_string()
            }
        })?;
        if body.len() + part.len() > max_bytes {
            return Err(too_large(max_bytes));
        }
        body.extend_from_slice(&part);
    }
    Ok(Inline {
        mime_type,
        data: base64::engine::general_purpose::STANDARD.encode(&body),
    })
}

fn too_large(max_bytes: usize) -> String {
    let mb = max_bytes as f64 / (1024.0 * 1024.0);
    if mb.fract() == 0.0 {
        format!("larger than {mb:.0} MB")
    } else {
        format!("larger than {mb:.2} MB")
    }
}

fn mime_from_extension(url: &str) -> Option<&'static str> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let ext = path.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "heic" => "image/heic",
        "heif" => "image/heif",
        _ => return None,
    })
}

fn truncate(url: &str) -> &str {
    crate::providers::http::truncate(url, 200)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_limits_read_naturally() {
        assert_eq!(too_large(GEMINI.max_bytes), "larger than 20 MB");
        assert_eq!(too_large(3_932_160), "larger than 3.75 MB");
    }

    #[test]
    fn only_public_addresses_pass() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[tokio::test]
    async fn private_hosts_are_refused_unless_allowed() {
        let url = reqwest::Url::parse("http://127.0.0.1:9/cat.png").unwrap();
        let err = checked_addrs(&url, FetchPolicy::default())
            .await
            .unwrap_err();
        assert!(err.contains("non-public"), "{err}");
        assert!(checked_addrs(
            &url,
            FetchPolicy {
                allow_private: true
            }
        )
        .await
        .is_ok());
    }

    #[test]
    fn extensions_name_image_types() {
        assert_eq!(
            mime_from_extension("https://x/a.PNG?size=2"),
            Some("image/png")
        );
        assert_eq!(
            mime_from_extension("https://x/a.jpeg#frag"),
            Some("image/jpeg")
        );
        assert_eq!(mime_from_extension("https://x/a.txt"), None);
        assert_eq!(mime_from_extension("https://x/noext"), None);
    }

    #[test]
    fn collects_distinct_http_urls_and_refuses_other_schemes() {
        let p: ChatParams = serde_json::from_value(serde_json::json!({"messages": [
            {"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "https://x/a.png"}},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                {"type": "image_url", "image_url": {"url": "https://x/a.png"}}]}]}))
        .unwrap();
        assert_eq!(image_urls(&p).unwrap(), vec!["https://x/a.png"]);
        let p: ChatParams = serde_json::from_value(serde_json::json!({"messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "gs://b/a.png"}}]}]}))
        .unwrap();
        assert_eq!(image_urls(&p).unwrap_err().param, Some("messages"));
    }
}
