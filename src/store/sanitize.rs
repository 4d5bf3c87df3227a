//! Text made safe for both databases: PostgreSQL refuses NUL bytes in `TEXT`, and nothing a
//! client sends should make a row unboundedly large.

use std::borrow::Cow;

/// Replaces NUL bytes (refused by PostgreSQL) with U+FFFD.
pub fn text(s: &str) -> Cow<'_, str> {
    if s.contains('\0') {
        Cow::Owned(s.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// `text`, cut to at most `max` bytes on a character boundary (with a marker when cut).
pub fn bounded(s: &mut String, max: usize) {
    if s.contains('\0') {
        *s = s.replace('\0', "\u{FFFD}");
    }
    if s.len() > max {
        let mut end = max.saturating_sub(3);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_and_length() {
        assert_eq!(text("a\0b"), "a\u{FFFD}b");
        assert!(matches!(text("plain"), Cow::Borrowed(_)));
        let mut s = "é".repeat(100);
        bounded(&mut s, 11);
        assert!(s.len() <= 11 && s.ends_with('…'), "{s}");
        let mut s = "x\0".to_owned();
        bounded(&mut s, 100);
        assert_eq!(s, "x\u{FFFD}");
    }
}
