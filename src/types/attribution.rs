//! Who a request is for, as the client says: the end user (`user`, or Anthropic's
//! `metadata.user_id`) and OpenRouter's `session_id` (body, else the `x-session-id` header).
//! Recorded with the request and shown by `/generation`; never used for access control.

use super::chat::InvalidRequest;
use super::json::RawObject;

/// OpenRouter's limit on a session id.
pub const MAX_SESSION_ID: usize = 256;
/// Longer user identifiers are cut to this many characters in the record.
pub const MAX_USER: usize = 256;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attribution {
    pub user: Option<String>,
    pub session_id: Option<String>,
}

/// Where a front door's request names its end user.
#[derive(Debug, Clone, Copy)]
pub enum UserField {
    /// OpenAI's top-level `user`.
    User,
    /// Anthropic's `metadata.user_id`.
    MetadataUserId,
}

/// Reads the attribution fields. `session_id` must be a string of at most 256 characters
/// (OpenRouter's rule); a `user` that is not a string is left to the upstream to judge.
pub fn attribution(body: &RawObject, user: UserField) -> Result<Attribution, InvalidRequest> {
    let user = match user {
        UserField::User => body.get_as::<String>("user").and_then(Result::ok),
        UserField::MetadataUserId => {
            #[derive(serde::Deserialize)]
            struct Metadata {
                user_id: Option<String>,
            }
            body.get_as::<Metadata>("metadata")
                .and_then(Result::ok)
                .and_then(|m| m.user_id)
        }
    };
    let session_id = match body.get_as::<Option<String>>("session_id") {
        None | Some(Ok(None)) => None,
        Some(Ok(Some(s))) => Some(session_id(s)?),
        Some(Err(_)) => {
            return Err(InvalidRequest::new(
                "`session_id` must be a string",
                Some("session_id"),
                "invalid_type",
            ))
        }
    };
    Ok(Attribution {
        user: user.map(|u| cut(u, MAX_USER)),
        session_id,
    })
}

/// A session id from the body or the `x-session-id` header.
pub fn session_id(s: String) -> Result<String, InvalidRequest> {
    if s.chars().count() > MAX_SESSION_ID {
        return Err(InvalidRequest::new(
            format!("`session_id` must be at most {MAX_SESSION_ID} characters"),
            Some("session_id"),
            "invalid_value",
        ));
    }
    Ok(s)
}

fn cut(mut s: String, max: usize) -> String {
    if let Some((i, _)) = s.char_indices().nth(max) {
        s.truncate(i);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str, f: UserField) -> Result<Attribution, InvalidRequest> {
        attribution(&RawObject::parse(s.as_bytes()).unwrap(), f)
    }

    #[test]
    fn reads_user_and_session() {
        let a = parse(r#"{"user":"u-1","session_id":"s-1"}"#, UserField::User).unwrap();
        assert_eq!(a.user.as_deref(), Some("u-1"));
        assert_eq!(a.session_id.as_deref(), Some("s-1"));
        let a = parse(
            r#"{"metadata":{"user_id":"cc-user"},"user":"x"}"#,
            UserField::MetadataUserId,
        )
        .unwrap();
        assert_eq!(a.user.as_deref(), Some("cc-user"));
        assert_eq!(
            parse("{}", UserField::User).unwrap(),
            Attribution::default()
        );
        assert_eq!(
            parse(r#"{"user":5,"session_id":null}"#, UserField::User).unwrap(),
            Attribution::default()
        );
    }

    #[test]
    fn session_ids_are_strings_of_bounded_length() {
        assert_eq!(
            parse(r#"{"session_id":5}"#, UserField::User)
                .unwrap_err()
                .param,
            Some("session_id")
        );
        let long = format!(r#"{{"session_id":"{}"}}"#, "é".repeat(257));
        assert!(parse(&long, UserField::User).is_err());
        let ok = format!(r#"{{"session_id":"{}"}}"#, "é".repeat(256));
        assert!(parse(&ok, UserField::User).is_ok());
    }

    #[test]
    fn long_users_are_cut_on_a_character_boundary() {
        let long = format!(r#"{{"user":"{}"}}"#, "é".repeat(300));
        assert_eq!(
            parse(&long, UserField::User)
                .unwrap()
                .user
                .unwrap()
                .chars()
                .count(),
            MAX_USER
        );
    }
}
