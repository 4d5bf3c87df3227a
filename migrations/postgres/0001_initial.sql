-- Registry, keys and the request log. Integers are unix milliseconds or token counts;
-- list-valued columns hold JSON text so both backends share one row shape.

CREATE TABLE registry_version (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO registry_version (id, version) VALUES (1, 1);

CREATE TABLE providers (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    decl TEXT NOT NULL,
    origin TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE models (
    slug TEXT PRIMARY KEY,
    name TEXT,
    aliases TEXT NOT NULL,
    context_length BIGINT,
    supported_parameters TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    origin TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE endpoints (
    model_slug TEXT NOT NULL REFERENCES models (slug) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    provider_id TEXT NOT NULL,
    upstream_model TEXT NOT NULL,
    input_price DOUBLE PRECISION NOT NULL,
    output_price DOUBLE PRECISION NOT NULL,
    supported_parameters TEXT,
    enabled BOOLEAN NOT NULL,
    PRIMARY KEY (model_slug, position)
);

CREATE TABLE model_fallbacks (
    model_slug TEXT NOT NULL REFERENCES models (slug) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    fallback_slug TEXT NOT NULL,
    PRIMARY KEY (model_slug, position)
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    key_prefix TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE requests (
    id TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    key_id TEXT,
    requested_model TEXT,
    served_model TEXT,
    provider TEXT,
    upstream_id TEXT,
    outcome TEXT NOT NULL,
    status BIGINT NOT NULL,
    streamed BOOLEAN NOT NULL,
    cancelled BOOLEAN NOT NULL,
    prompt_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    cached_tokens BIGINT NOT NULL,
    reasoning_tokens BIGINT NOT NULL,
    usage_estimated BOOLEAN NOT NULL,
    cost_nanos BIGINT NOT NULL,
    latency_ms BIGINT NOT NULL,
    ttft_ms BIGINT,
    app_referer TEXT,
    app_title TEXT,
    error TEXT
);
CREATE INDEX requests_created_at ON requests (created_at);
CREATE INDEX requests_key_id ON requests (key_id, created_at);

CREATE TABLE request_attempts (
    request_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    upstream_model TEXT NOT NULL,
    outcome TEXT NOT NULL,
    status BIGINT,
    error TEXT,
    latency_ms BIGINT NOT NULL,
    PRIMARY KEY (request_id, position)
);
