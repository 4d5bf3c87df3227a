-- Who a request was for, as the client said: the end user (`user`, Anthropic's
-- `metadata.user_id`) and OpenRouter's `session_id`; shown by /generation.
ALTER TABLE requests ADD COLUMN external_user TEXT;
ALTER TABLE requests ADD COLUMN session_id TEXT;
