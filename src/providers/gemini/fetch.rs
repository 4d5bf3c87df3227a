//! Fetching images the client gave by http(s) URL. Gemini only takes images inline (or from
//! its own file store), so the gateway downloads them — with the shared client, a time limit,
//! a size limit and an image content type — and inlines them as base64. Bedrock's Converse
//! has the same limitation and uses this module with its own `Limits`.

use std::collections::HashSet;
use std::time::Duration;

use base64::Engine;
use futures::StreamExt;

pub(crate) use super::convert::{Fetched, Inline};
use crate::types::openai::{ChatParams, Content, ImageSource, Message, Part};
use crate::types::InvalidRequest;

const FETCH_TIMEOUT: Duration = Duration::from_secs(15);

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
pub async fn fetch_all(
    client: &reqwest::Client,
    urls: Vec<&str>,
) -> Result<Fetched, InvalidRequest> {
    fetch_all_with(client, urls, GEMINI).await
}

/// `fetch_all` for another provider's limits.
pub(crate) async fn fetch_all_with(
    client: &reqwest::Client,
    urls: Vec<&str>,
    limits: Limits,
) -> Result<Fetched, InvalidRequest> {
    let results = futures::future::join_all(
        urls.iter()
            .map(|url| fetch_one(client, url, limits.max_bytes)),
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

async fn fetch_one(
    client: &reqwest::Client,
    url: &str,
    max_bytes: usize,
) -> Result<Inline, String> {
    let resp = client
        .get(url)
        .timeout(FETCH_TIMEOUT)
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                "timed out".to_owned()
            } else {
                e.to_string()
            }
        })?;
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
