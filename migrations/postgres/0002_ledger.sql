-- The ledger: key policies (budgets, limits, allowed models, expiry), cache and request
-- prices, spend per key and UTC day, budget leases held by replicas, and the dead-letter
-- table for records the database refused. Money is integer nano-dollars (1e-9 USD).

ALTER TABLE api_keys ADD COLUMN budget_nanos BIGINT;
ALTER TABLE api_keys ADD COLUMN budget_reset TEXT NOT NULL DEFAULT 'never';
ALTER TABLE api_keys ADD COLUMN rpm BIGINT;
ALTER TABLE api_keys ADD COLUMN tpm BIGINT;
ALTER TABLE api_keys ADD COLUMN max_concurrency BIGINT;
ALTER TABLE api_keys ADD COLUMN allowed_models TEXT;
ALTER TABLE api_keys ADD COLUMN expires_at BIGINT;
ALTER TABLE api_keys ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE api_keys ADD COLUMN metadata TEXT;
ALTER TABLE api_keys ADD COLUMN idempotency_key TEXT;
ALTER TABLE api_keys ADD COLUMN updated_at BIGINT;
CREATE UNIQUE INDEX api_keys_idempotency ON api_keys (idempotency_key);

ALTER TABLE endpoints ADD COLUMN cache_read_price DOUBLE PRECISION;
ALTER TABLE endpoints ADD COLUMN cache_write_price DOUBLE PRECISION;
ALTER TABLE endpoints ADD COLUMN request_price DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE models ADD COLUMN default_output_tokens BIGINT;

ALTER TABLE requests ADD COLUMN cache_write_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN finish_reason TEXT;

-- Spend per key and UTC day (days since 1970-01-01), maintained by the request-log writer
-- in the same transaction as the records it inserts.
CREATE TABLE key_spend (
    key_id TEXT NOT NULL,
    day BIGINT NOT NULL,
    cost_nanos BIGINT NOT NULL,
    requests BIGINT NOT NULL,
    PRIMARY KEY (key_id, day)
);

-- A replica's share of a key's budget for one period: it admits requests locally while
-- their reservations fit in what it was granted. `spent_nanos` is the spend the replica has
-- written since the lease began (the writer adds it in the same transaction as the
-- records), so grants never exceed budget - spent - the unspent grants of live leases.
CREATE TABLE budget_leases (
    key_id TEXT NOT NULL,
    holder TEXT NOT NULL,
    period_start BIGINT NOT NULL,
    granted_nanos BIGINT NOT NULL,
    spent_nanos BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (key_id, holder)
);

-- Records the database refused (kept in reduced form, their cost still counted).
CREATE TABLE dead_letters (
    id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    key_id TEXT,
    cost_nanos BIGINT NOT NULL,
    error TEXT NOT NULL,
    record TEXT NOT NULL
);
