//! Captured prompts and completions (`request_content`): off unless `[accounting]
//! capture_content` turns it on. A row is written by `insert_records` in the same
//! transaction as its record and read only by `GET /admin/requests/{id}`; it never goes to a
//! log line (`RequestRecord` skips it when serialised).

use serde::Serialize;

use super::{on_pool, Store, StoreError};

/// What was captured of one request, each side cut to the configured size.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq, sqlx::FromRow)]
pub struct CapturedContent {
    /// The request body as received (not valid JSON when truncated).
    pub request_body: Option<String>,
    pub request_truncated: bool,
    /// The answer: the upstream's JSON body, or for a stream the assembled output as JSON
    /// (`content`, `reasoning`, `tool_calls`, `finish_reason`).
    pub response_body: Option<String>,
    pub response_truncated: bool,
}

impl Store {
    /// The captured content of a request, if any was captured (and not yet purged).
    pub async fn get_content(&self, id: &str) -> Result<Option<CapturedContent>, StoreError> {
        let row: Option<CapturedContent> = on_pool!(self, p => sqlx::query_as(
            "SELECT request_body, request_truncated, response_body, response_truncated \
             FROM request_content WHERE request_id = $1 ORDER BY created_at LIMIT 1")
            .bind(id).fetch_optional(p).await)?;
        Ok(row)
    }
}

#[cfg(test)]
mod tests {
    /// Records are logged as JSON when they cannot be written: their content never is.
    #[test]
    fn a_serialised_record_carries_no_content() {
        let r = super::super::RequestRecord {
            id: "r".into(),
            content: Some(Box::new(super::CapturedContent {
                request_body: Some("a private prompt".into()),
                ..Default::default()
            })),
            ..Default::default()
        };
        let json = serde_json::to_string(&r).unwrap_or_default();
        assert!(
            json.contains("\"id\":\"r\"") && !json.contains("private"),
            "{json}"
        );
    }
}
