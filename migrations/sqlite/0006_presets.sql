-- Presets: named, versioned bundles of model, fallback models, provider preferences, a
-- system prompt and default parameters (OpenRouter's `@preset/NAME`). Every change adds a
-- version; `presets.version` names the one requests use. A version's `decl` is its JSON.

CREATE TABLE presets (
    name TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    origin TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE preset_versions (
    name TEXT NOT NULL REFERENCES presets (name) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    decl TEXT NOT NULL,
    origin TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (name, version)
);

-- The preset a request used, as `NAME@vN`.
ALTER TABLE requests ADD COLUMN preset TEXT;
