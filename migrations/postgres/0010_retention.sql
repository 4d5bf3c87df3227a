-- Retention and captured content.
--
-- `requests` and `request_attempts` become tables partitioned by day (RANGE on created_at,
-- unix ms, one partition per UTC day named TABLE_pYYYYMMDD, plus TABLE_default for rows no
-- day partition holds), so retention drops a whole day at once instead of deleting rows.
-- The gateway creates the coming days' partitions at start and hourly. A partitioned
-- table's unique keys must include the partition key: `requests` is unique on
-- (id, created_at) — a record's created_at is fixed when it is made, so a retried insert
-- hits the same row — and lookups by id use that key's index in each partition.
-- `request_attempts` gets its request's created_at to be partitioned alike; it never had a
-- foreign key to `requests` (and a foreign key between partitioned tables would have to
-- name created_at too and stop retention from dropping a day of one table alone).

ALTER TABLE requests RENAME TO requests_old;
ALTER TABLE request_attempts RENAME TO request_attempts_old;
ALTER INDEX requests_created_at RENAME TO requests_old_created_at;
ALTER INDEX requests_key_id RENAME TO requests_old_key_id;
ALTER TABLE requests_old RENAME CONSTRAINT requests_pkey TO requests_old_pkey;
ALTER TABLE request_attempts_old RENAME CONSTRAINT request_attempts_pkey TO request_attempts_old_pkey;

CREATE TABLE requests (LIKE requests_old INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
    PARTITION BY RANGE (created_at);
ALTER TABLE requests ADD PRIMARY KEY (id, created_at);
CREATE INDEX requests_created_at ON requests (created_at);
CREATE INDEX requests_key_id ON requests (key_id, created_at);

CREATE TABLE request_attempts (
    LIKE request_attempts_old INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
    created_at BIGINT NOT NULL
) PARTITION BY RANGE (created_at);
ALTER TABLE request_attempts ADD PRIMARY KEY (request_id, position, created_at);

CREATE TABLE requests_default PARTITION OF requests DEFAULT;
CREATE TABLE request_attempts_default PARTITION OF request_attempts DEFAULT;

-- A partition for every day that has rows (years 2000 to 2999; anything else lands in
-- the DEFAULT partitions), and for today and the next three days (the gateway keeps
-- creating the coming days' partitions from then on).
DO $$
DECLARE
    d BIGINT;
    t TEXT;
BEGIN
    FOR d IN
        SELECT floor(created_at / 86400000.0)::BIGINT FROM requests_old
        WHERE created_at >= 946684800000 AND created_at < 32503680000000
        UNION
        SELECT floor(extract(epoch FROM now()) / 86400)::BIGINT + g FROM generate_series(0, 3) g
    LOOP
        FOREACH t IN ARRAY ARRAY['requests', 'request_attempts'] LOOP
            EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%s) TO (%s)',
                t || '_p' || to_char(DATE '1970-01-01' + d::INT, 'YYYYMMDD'), t,
                d * 86400000, (d + 1) * 86400000);
        END LOOP;
    END LOOP;
END $$;

INSERT INTO requests SELECT * FROM requests_old;
INSERT INTO request_attempts
    SELECT a.*, COALESCE(r.created_at, 0)
    FROM request_attempts_old a LEFT JOIN requests_old r ON r.id = a.request_id;
DROP TABLE request_attempts_old;
DROP TABLE requests_old;

-- The request log's filter indexes (0009), on the partitioned table now (their names were
-- the old table's until it was dropped).
CREATE INDEX requests_created_id ON requests (created_at, id);
CREATE INDEX requests_key_created_id ON requests (key_id, created_at, id);
CREATE INDEX requests_model_created_id ON requests ((COALESCE(served_model, requested_model)), created_at, id);
CREATE INDEX requests_provider_created_id ON requests (provider, created_at, id);
CREATE INDEX requests_outcome_created_id ON requests (outcome, created_at, id);

-- Captured prompts and completions (off by default; see [accounting] capture_content),
-- kept for their own, shorter retention. Written with the record, in the same transaction.
CREATE TABLE request_content (
    request_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
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
