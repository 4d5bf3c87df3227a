-- Retention and captured content. Attempts carry their request's created_at, so retention
-- deletes old rows of both tables by the same index, in small batches.
ALTER TABLE request_attempts ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
UPDATE request_attempts
    SET created_at = COALESCE((SELECT r.created_at FROM requests r WHERE r.id = request_attempts.request_id), 0);
CREATE INDEX request_attempts_created_at ON request_attempts (created_at);

-- Captured prompts and completions (off by default; see [accounting] capture_content),
-- kept for their own, shorter retention. Written with the record, in the same transaction.
CREATE TABLE request_content (
    request_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    request_body TEXT,
    request_truncated BOOLEAN NOT NULL,
    response_body TEXT,
    response_truncated BOOLEAN NOT NULL,
    PRIMARY KEY (request_id, created_at)
);
CREATE INDEX request_content_created_at ON request_content (created_at);

-- Dead letters share the request log's retention.
CREATE INDEX dead_letters_created_at ON dead_letters (created_at);

-- A key whose requests' content is captured when [accounting] capture_content = "per_key".
ALTER TABLE api_keys ADD COLUMN capture_content BOOLEAN NOT NULL DEFAULT FALSE;
