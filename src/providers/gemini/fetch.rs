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
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;

use base64::Engine;
use futures::StreamExt;

pub(crate) use super::convert::{Fetched, Inline};
use crate::providers::http::UpstreamLimits;
use crate::types::chat::ImageCache;
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

/// Downloads every image (a few at a time, within the request's count and byte caps) or
/// takes it from the request's cache when an earlier attempt fetched it. Any failure refuses
/// the request: the model must not answer about an image it never saw.
pub async fn fetch_all(
    urls: Vec<&str>,
    policy: FetchPolicy,
    cache: &ImageCache,
    caps: UpstreamLimits,
) -> Result<Fetched, InvalidRequest> {
    fetch_all_with(urls, policy, GEMINI, cache, caps).await
}

/// An image's URL and its media type and bytes, or why it could not be had.
type Downloaded = (String, Result<(String, Bytes), String>);

/// One image: from the request's cache, else downloaded.
async fn download(
    url: String,
    cache: ImageCache,
    policy: FetchPolicy,
    max_bytes: usize,
) -> Downloaded {
    let got = match cache.get(&url) {
        Some((mime, data)) if data.len() <= max_bytes => Ok((mime, data)),
        Some(_) => Err(too_large(max_bytes)),
        None => fetch_one(&url, policy, max_bytes).await,
    };
    (url, got)
}

fn refuse(message: String) -> InvalidRequest {
    InvalidRequest::new(message, Some("messages"), "invalid_image_url")
}

/// `fetch_all` for another provider's limits.
pub(crate) async fn fetch_all_with(
    urls: Vec<&str>,
    policy: FetchPolicy,
    limits: Limits,
    cache: &ImageCache,
    caps: UpstreamLimits,
) -> Result<Fetched, InvalidRequest> {
    if urls.len() > caps.max_images {
        return Err(refuse(format!(
            "The request has {} images by URL; the gateway fetches at most {} per request",
            urls.len(),
            caps.max_images
        )));
    }
    let per_image = limits.max_bytes.min(caps.max_image_bytes);
    // Owned futures: borrowing closures here trip the compiler's Send inference inside the
    // providers' boxed futures.
    let mut downloads = Vec::with_capacity(urls.len());
    for url in urls {
        downloads.push(download(url.to_owned(), cache.clone(), policy, per_image));
    }
    let results: Vec<Downloaded> = futures::stream::iter(downloads)
        .buffer_unordered(caps.image_concurrency.max(1))
        .collect()
        .await;
    let mut out = Fetched::new();
    let mut total = 0usize;
    for (url, result) in results {
        match result {
            Ok((mime_type, data)) => {
                total += data.len();
                if total > caps.max_image_bytes {
                    return Err(refuse(format!(
                        "The request's images together are {}; the gateway fetches at most that per request",
                        too_large(caps.max_image_bytes)
                    )));
                }
                cache.put(&url, mime_type.clone(), data.clone());
                out.insert(
                    url.clone(),
                    Inline {
                        mime_type,
                        data: base64::engine::general_purpose::STANDARD.encode(&data),
                    },
                );
            }
            Err(why) => {
                return Err(refuse(format!(
                    "The image at {} could not be fetched to inline it for {}: {why}",
                    truncate(&url),
                    limits.provider
                )))
            }
        }
    }
    Ok(out)
}

/// The shared clients for image downloads: one per policy, each resolving names only to
/// addresses the policy allows (checked when a connection is made, so a later DNS answer
/// cannot lead anywhere unchecked), following no redirect by itself.
fn client(policy: FetchPolicy) -> Result<&'static reqwest::Client, String> {
    static PUBLIC: OnceLock<reqwest::Client> = OnceLock::new();
    static ANY: OnceLock<reqwest::Client> = OnceLock::new();
    let cell = if policy.allow_private { &ANY } else { &PUBLIC };
    if let Some(c) = cell.get() {
        return Ok(c);
    }
    let built = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(CheckedResolver { policy }))
        .timeout(FETCH_TIMEOUT)
        .pool_max_idle_per_host(4)
        .build()
        .map_err(fetch_error)?;
    Ok(cell.get_or_init(|| built))
}

struct CheckedResolver {
    policy: FetchPolicy,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs = checked_host(&host, 0, policy)
                .await
                .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { e.into() })?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Resolves `host` and checks every address against the policy.
async fn checked_host(
    host: &str,
    port: u16,
    policy: FetchPolicy,
) -> Result<Vec<SocketAddr>, String> {
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

/// An address written in the URL itself is never looked up, so it is checked here.
fn check_literal(url: &reqwest::Url, policy: FetchPolicy) -> Result<(), String> {
    let host = url.host_str().ok_or("the URL has no host")?;
    let Ok(ip) = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    else {
        return Ok(());
    };
    if !policy.allow_private && !is_public(ip) {
        return Err(format!(
            "{ip} is a non-public address; the provider does not allow fetching from private networks"
        ));
    }
    Ok(())
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
        // The chain says why (the resolver's refusal of a private address, say).
        crate::providers::http::source_chain(&e)
    }
}

async fn fetch_one(
    url: &str,
    policy: FetchPolicy,
    max_bytes: usize,
) -> Result<(String, Bytes), String> {
    let mut current = reqwest::Url::parse(url).map_err(|e| format!("invalid URL: {e}"))?;
    let mut hops = 0;
    let client = client(policy)?;
    let resp = loop {
        // Every hop: its literal address here, its name by the client's resolver.
        check_literal(&current, policy)?;
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
    Ok((mime_type, Bytes::from(body)))
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
        let allow = FetchPolicy {
            allow_private: true,
        };
        // A name, checked by the clients' resolver.
        let err = checked_host("localhost", 9, FetchPolicy::default())
            .await
            .unwrap_err();
        assert!(err.contains("non-public"), "{err}");
        assert!(checked_host("localhost", 9, allow).await.is_ok());
        // A literal address, checked before the request.
        for literal in ["http://127.0.0.1:9/cat.png", "http://[::1]:9/cat.png"] {
            let url = reqwest::Url::parse(literal).unwrap();
            let err = check_literal(&url, FetchPolicy::default()).unwrap_err();
            assert!(err.contains("non-public address"), "{err}");
            assert!(check_literal(&url, allow).is_ok());
        }
        // And a download from a private name fails through the shared client.
        let err = fetch_one("http://localhost:9/cat.png", FetchPolicy::default(), 1024)
            .await
            .unwrap_err();
        assert!(err.contains("non-public"), "{err}");
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
