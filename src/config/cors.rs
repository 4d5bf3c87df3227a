//! Which browser origins may call the public API (`[server] cors_origins`,
//! `SWITCHYARD_CORS_ORIGINS`). None by default: without it no CORS header is ever sent.

/// The origins allowed to read the public API's responses from a browser.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CorsOrigins {
    /// No CORS at all (the default).
    #[default]
    None,
    /// Any origin (`"*"`).
    Any,
    /// Exactly these origins, lowercased (`https://app.example.com`).
    List(Vec<String>),
}

impl CorsOrigins {
    /// Reads a list of origins; `*` anywhere in it allows every origin. An origin is
    /// `scheme://host[:port]`, as browsers send it: a path or a trailing slash would never
    /// match, so it is refused rather than silently ignored.
    pub fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<CorsOrigins, String> {
        let mut list = Vec::new();
        for raw in entries {
            let o = raw.trim();
            if o.is_empty() {
                continue;
            }
            if o == "*" {
                return Ok(CorsOrigins::Any);
            }
            let Some((scheme, host)) = o.split_once("://") else {
                return Err(format!(
                    "`{o}` is not an origin like https://app.example.com (or \"*\")"
                ));
            };
            let scheme_ok = !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
            let host_ok = !host.is_empty()
                && host.chars().all(|c| c.is_ascii_graphic())
                && !host.contains(['/', '?', '#', '*', ',']);
            if !scheme_ok || !host_ok {
                return Err(format!(
                    "`{o}` is not an origin like https://app.example.com (scheme and host, no path or trailing slash)"
                ));
            }
            let o = o.to_ascii_lowercase();
            if !list.contains(&o) {
                list.push(o);
            }
        }
        Ok(if list.is_empty() {
            CorsOrigins::None
        } else {
            CorsOrigins::List(list)
        })
    }

    pub fn is_none(&self) -> bool {
        matches!(self, CorsOrigins::None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_read_as_browsers_send_them() {
        assert_eq!(CorsOrigins::parse([]), Ok(CorsOrigins::None));
        assert_eq!(CorsOrigins::parse(["", " "]), Ok(CorsOrigins::None));
        assert_eq!(CorsOrigins::parse(["*"]), Ok(CorsOrigins::Any));
        assert_eq!(
            CorsOrigins::parse(["https://a.example", "*"]),
            Ok(CorsOrigins::Any)
        );
        assert_eq!(
            CorsOrigins::parse([
                "https://App.Example.com",
                " http://localhost:5173 ",
                "https://app.example.com"
            ]),
            Ok(CorsOrigins::List(vec![
                "https://app.example.com".into(),
                "http://localhost:5173".into()
            ]))
        );
        assert_eq!(
            CorsOrigins::parse(["chrome-extension://abcdef"]),
            Ok(CorsOrigins::List(vec!["chrome-extension://abcdef".into()]))
        );
    }

    #[test]
    fn what_would_never_match_is_refused() {
        for bad in [
            "app.example.com",
            "https://app.example.com/",
            "https://app.example.com/path",
            "https://",
            "https://*.example.com",
            "https://a b",
        ] {
            assert!(CorsOrigins::parse([bad]).is_err(), "{bad}");
        }
    }
}
