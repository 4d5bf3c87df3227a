//! AWS's binary event-stream framing (`application/vnd.amazon.eventstream`), which carries
//! ConverseStream's events: an incremental `Decoder` that reassembles messages split across
//! network reads and checks both CRCs, and `encode` for tests and fakes.
//!
//! One message, big-endian:
//!
//! ```text
//! [4] total length (the whole message, these 4 bytes and the trailing CRC included)
//! [4] headers length
//! [4] prelude CRC32 (of the 8 bytes above)
//! [headers length] headers: [1] name length, name, [1] value type, value
//! [total - headers - 16] payload
//! [4] message CRC32 (of everything before it)
//! ```
//!
//! CRC32 is the IEEE/zlib one. Header value types: 0/1 true/false (no bytes), 2 byte,
//! 3 short, 4 int, 5 long, 6 byte array and 7 string (both with a 2-byte length), 8 timestamp
//! (8 bytes), 9 UUID (16 bytes). Bedrock only sends strings; the rest are read and skipped.

use bytes::{Buf, BytesMut};

use crate::providers::ProviderError;

const PRELUDE: usize = 12;
/// Prelude plus the trailing CRC.
const OVERHEAD: usize = 16;
/// AWS's limits: a message is at most 16 MiB, its headers at most 128 KiB. Anything larger is a
/// broken stream, not something to buffer.
const MAX_MESSAGE: usize = 16 * 1024 * 1024;
const MAX_HEADERS: usize = 128 * 1024;

const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

static CRC_TABLE: [u32; 256] = crc_table();

/// CRC-32 (IEEE 802.3 / zlib), table-driven: a few lines instead of a dependency.
pub fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c = CRC_TABLE[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
    }
    !c
}

/// A header value. Only strings matter to Bedrock; the other types are kept so a message
/// with them still parses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderValue {
    Bool(bool),
    Byte(i8),
    Short(i16),
    Int(i32),
    Long(i64),
    Bytes(Vec<u8>),
    String(String),
    Timestamp(i64),
    Uuid([u8; 16]),
}

/// One decoded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub headers: Vec<(String, HeaderValue)>,
    pub payload: Vec<u8>,
}

impl Message {
    /// A string header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find_map(|(n, v)| match v {
            HeaderValue::String(s) if n == name => Some(s.as_str()),
            _ => None,
        })
    }
}

fn malformed(what: impl std::fmt::Display) -> ProviderError {
    ProviderError::Malformed(format!("event stream: {what}"))
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Buffers bytes as they arrive and yields whole messages.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: BytesMut,
}

impl Decoder {
    pub fn new() -> Self {
        Decoder::default()
    }

    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes of an unfinished message are still buffered.
    pub fn has_partial(&self) -> bool {
        !self.buf.is_empty()
    }

    /// The next whole message, `None` until enough bytes arrived. A bad length or CRC is
    /// `Malformed`: after it the stream cannot be trusted, so callers stop reading.
    pub fn next_message(&mut self) -> Result<Option<Message>, ProviderError> {
        if self.buf.len() < PRELUDE {
            return Ok(None);
        }
        let total = be_u32(&self.buf[0..4]) as usize;
        let headers_len = be_u32(&self.buf[4..8]) as usize;
        let prelude_crc = be_u32(&self.buf[8..12]);
        if crc32(&self.buf[0..8]) != prelude_crc {
            return Err(malformed("prelude CRC mismatch"));
        }
        if !(OVERHEAD..=MAX_MESSAGE).contains(&total) {
            return Err(malformed(format!("message length {total} out of range")));
        }
        if headers_len > MAX_HEADERS || headers_len > total - OVERHEAD {
            return Err(malformed(format!(
                "headers length {headers_len} does not fit a {total}-byte message"
            )));
        }
        if self.buf.len() < total {
            return Ok(None);
        }
        let frame = self.buf.split_to(total);
        let message_crc = be_u32(&frame[total - 4..]);
        if crc32(&frame[..total - 4]) != message_crc {
            return Err(malformed("message CRC mismatch"));
        }
        let headers = parse_headers(&frame[PRELUDE..PRELUDE + headers_len])?;
        let payload = frame[PRELUDE + headers_len..total - 4].to_vec();
        Ok(Some(Message { headers, payload }))
    }
}

fn parse_headers(mut b: &[u8]) -> Result<Vec<(String, HeaderValue)>, ProviderError> {
    let short = || malformed("truncated header");
    let mut out = Vec::new();
    while b.has_remaining() {
        let name_len = usize::from(b.get_u8());
        if b.remaining() < name_len + 1 {
            return Err(short());
        }
        let name = String::from_utf8(b[..name_len].to_vec())
            .map_err(|_| malformed("header name is not UTF-8"))?;
        b.advance(name_len);
        let kind = b.get_u8();
        let fixed = |n: usize, b: &[u8]| {
            if b.remaining() < n {
                Err(short())
            } else {
                Ok(())
            }
        };
        let value = match kind {
            0 => HeaderValue::Bool(true),
            1 => HeaderValue::Bool(false),
            2 => {
                fixed(1, b)?;
                HeaderValue::Byte(b.get_i8())
            }
            3 => {
                fixed(2, b)?;
                HeaderValue::Short(b.get_i16())
            }
            4 => {
                fixed(4, b)?;
                HeaderValue::Int(b.get_i32())
            }
            5 => {
                fixed(8, b)?;
                HeaderValue::Long(b.get_i64())
            }
            6 | 7 => {
                fixed(2, b)?;
                let len = usize::from(b.get_u16());
                fixed(len, b)?;
                let bytes = b[..len].to_vec();
                b.advance(len);
                if kind == 6 {
                    HeaderValue::Bytes(bytes)
                } else {
                    HeaderValue::String(
                        String::from_utf8(bytes)
                            .map_err(|_| malformed(format!("header {name} is not UTF-8")))?,
                    )
                }
            }
            8 => {
                fixed(8, b)?;
                HeaderValue::Timestamp(b.get_i64())
            }
            9 => {
                fixed(16, b)?;
                let mut id = [0u8; 16];
                b.copy_to_slice(&mut id);
                HeaderValue::Uuid(id)
            }
            other => return Err(malformed(format!("unknown header value type {other}"))),
        };
        out.push((name, value));
    }
    Ok(out)
}

/// Encodes one message with string headers (what Bedrock sends). Names longer than 255 bytes
/// and values longer than 65535 bytes are cut: they are test data, never upstream input.
pub fn encode(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    for (name, value) in headers {
        let name = &name.as_bytes()[..name.len().min(255)];
        let value = &value.as_bytes()[..value.len().min(65535)];
        h.push(name.len() as u8);
        h.extend_from_slice(name);
        h.push(7);
        h.extend_from_slice(&(value.len() as u16).to_be_bytes());
        h.extend_from_slice(value);
    }
    let total = OVERHEAD + h.len() + payload.len();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(h.len() as u32).to_be_bytes());
    let prelude_crc = crc32(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(payload);
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn capture(name: &str) -> Vec<u8> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/bedrock")
            .join(name);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    fn decode_all(bytes: &[u8], read: usize) -> Vec<Message> {
        let mut d = Decoder::new();
        let mut out = Vec::new();
        for piece in bytes.chunks(read) {
            d.push(piece);
            while let Some(m) = d.next_message().unwrap() {
                out.push(m);
            }
        }
        assert!(!d.has_partial());
        out
    }

    #[test]
    fn crc32_is_the_zlib_one() {
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn decodes_the_recorded_stream_whatever_the_read_size() {
        let bytes = capture("invoke_tool_call_streaming.bin");
        let whole = decode_all(&bytes, bytes.len());
        assert_eq!(whole.len(), 11);
        for read in [1, 7, 12, 13, 100, 4096] {
            assert_eq!(decode_all(&bytes, read), whole, "reads of {read} bytes");
        }
        let first = &whole[0];
        assert_eq!(first.header(":event-type"), Some("chunk"));
        assert_eq!(first.header(":message-type"), Some("event"));
        assert_eq!(first.header(":content-type"), Some("application/json"));
        // invoke-with-response-stream wraps the model's own event in base64 with padding.
        let payload: serde_json::Value = serde_json::from_slice(&first.payload).unwrap();
        assert!(payload["p"].is_string());
        let inner = base64::engine::general_purpose::STANDARD
            .decode(payload["bytes"].as_str().unwrap())
            .unwrap();
        let event: serde_json::Value = serde_json::from_slice(&inner).unwrap();
        assert_eq!(event["type"], "message_start");
        assert_eq!(
            decode_all(&capture("invoke_tool_result_streaming.bin"), 64).len(),
            23
        );
    }

    #[test]
    fn encoding_round_trips_and_matches_the_recording() {
        let bytes = capture("invoke_tool_call_streaming.bin");
        let m = &decode_all(&bytes, bytes.len())[0];
        let headers: Vec<(&str, &str)> = m
            .headers
            .iter()
            .map(|(n, v)| match v {
                HeaderValue::String(s) => (n.as_str(), s.as_str()),
                other => panic!("{other:?}"),
            })
            .collect();
        let again = encode(&headers, &m.payload);
        assert_eq!(&again[..], &bytes[..again.len()]);
    }

    #[test]
    fn bad_crcs_are_malformed() {
        let good = encode(
            &[(":event-type", "messageStart")],
            br#"{"role":"assistant"}"#,
        );
        for (at, what) in [(9, "prelude"), (20, "message"), (good.len() - 1, "message")] {
            let mut bad = good.clone();
            bad[at] ^= 0x01;
            let mut d = Decoder::new();
            d.push(&bad);
            match d.next_message() {
                Err(ProviderError::Malformed(m)) => assert!(m.contains(what), "{m}"),
                other => panic!("byte {at}: {other:?}"),
            }
        }
    }

    #[test]
    fn impossible_lengths_are_malformed_not_buffered() {
        let mut prelude = Vec::new();
        prelude.extend_from_slice(&(u32::MAX).to_be_bytes());
        prelude.extend_from_slice(&0u32.to_be_bytes());
        let crc = crc32(&prelude);
        prelude.extend_from_slice(&crc.to_be_bytes());
        let mut d = Decoder::new();
        d.push(&prelude);
        assert!(matches!(d.next_message(), Err(ProviderError::Malformed(_))));
    }

    #[test]
    fn other_header_types_are_read_and_skipped() {
        // Headers: a true flag, an int, a byte array, a timestamp, a UUID and a string.
        let mut h = Vec::new();
        let mut put = |name: &str, kind: u8, value: &[u8]| {
            h.push(name.len() as u8);
            h.extend_from_slice(name.as_bytes());
            h.push(kind);
            h.extend_from_slice(value);
        };
        put("flag", 0, &[]);
        put("n", 4, &42i32.to_be_bytes());
        put("raw", 6, &[0, 2, 0xAB, 0xCD]);
        put("at", 8, &7i64.to_be_bytes());
        put("id", 9, &[1; 16]);
        put(":event-type", 7, &[0, 4, b'p', b'i', b'n', b'g']);
        let total = OVERHEAD + h.len();
        let mut msg = Vec::new();
        msg.extend_from_slice(&(total as u32).to_be_bytes());
        msg.extend_from_slice(&(h.len() as u32).to_be_bytes());
        let crc = crc32(&msg);
        msg.extend_from_slice(&crc.to_be_bytes());
        msg.extend_from_slice(&h);
        let crc = crc32(&msg);
        msg.extend_from_slice(&crc.to_be_bytes());
        let mut d = Decoder::new();
        d.push(&msg);
        let m = d.next_message().unwrap().unwrap();
        assert_eq!(m.header(":event-type"), Some("ping"));
        assert_eq!(m.headers[0].1, HeaderValue::Bool(true));
        assert_eq!(m.headers[1].1, HeaderValue::Int(42));
        assert_eq!(m.headers[2].1, HeaderValue::Bytes(vec![0xAB, 0xCD]));
        assert_eq!(m.header("n"), None, "not a string header");
        assert!(m.payload.is_empty());
    }
}
