-- The config file's declaration last applied to each row (a SHA-256 of its JSON), so a start
-- can tell "the file changed" from "the admin API changed the row since": the file is applied
-- only when it changed, and edits made through the admin API survive restarts otherwise.
ALTER TABLE providers ADD COLUMN config_hash TEXT;
ALTER TABLE models ADD COLUMN config_hash TEXT;
