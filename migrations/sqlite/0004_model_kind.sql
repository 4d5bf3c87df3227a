-- Models are chat models unless declared otherwise (embedding models serve /v1/embeddings).
ALTER TABLE models ADD COLUMN kind TEXT NOT NULL DEFAULT 'chat';
