-- Registry, keys and the request log. Integers are unix milliseconds or token counts;
-- list-valued columns hold JSON text so both backends share one row shape.

CREATE TABLE registry_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO registry_version (id, version) VALUES (1, 1);

CREATE TABLE providers (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    decl TEXT NOT NULL,
    origin TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE models (
    slug TEXT PRIMARY KEY,
    name TEXT,
    aliases TEXT NOT NULL,
    context_length INTEGER,
    supported_parameters TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    origin TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE endpoints (
    model_slug TEXT NOT NULL REFERENCES models (slug) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    provider_id TEXT NOT NULL,
    upstream_model TEXT NOT NULL,
    input_price REAL NOT NULL,
    output_price REAL NOT NULL,
    supported_parameters TEXT,
    enabled BOOLEAN NOT NULL,
    PRIMARY KEY (model_slug, position)
);

CREATE TABLE model_fallbacks (
    model_slug TEXT NOT NULL REFERENCES models (slug) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    fallback_slug TEXT NOT NULL,
    PRIMARY KEY (model_slug, position)
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    key_prefix TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

CREATE TABLE requests (
    id TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    key_id TEXT,
    requested_model TEXT,
    served_model TEXT,
    provider TEXT,
    upstream_id TEXT,
    outcome TEXT NOT NULL,
    status INTEGER NOT NULL,
    streamed BOOLEAN NOT NULL,
    cancelled BOOLEAN NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cached_tokens INTEGER NOT NULL,
    reasoning_tokens INTEGER NOT NULL,
    usage_estimated BOOLEAN NOT NULL,
    cost_nanos INTEGER NOT NULL,
    latency_ms INTEGER NOT NULL,
    ttft_ms INTEGER,
    app_referer TEXT,
    app_title TEXT,
    error TEXT
);
CREATE INDEX requests_created_at ON requests (created_at);
CREATE INDEX requests_key_id ON requests (key_id, created_at);

CREATE TABLE request_attempts (
    request_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    upstream_model TEXT NOT NULL,
    outcome TEXT NOT NULL,
    status INTEGER,
    error TEXT,
    latency_ms INTEGER NOT NULL,
    PRIMARY KEY (request_id, position)
);
