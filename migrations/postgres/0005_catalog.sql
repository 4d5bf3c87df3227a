-- What OpenRouter's catalog (/api/v1/models, .../endpoints) shows about a model and its
-- endpoints. Lists are JSON text, as elsewhere; empty means the kind's default.
ALTER TABLE models ADD COLUMN description TEXT;
ALTER TABLE models ADD COLUMN input_modalities TEXT NOT NULL DEFAULT '[]';
ALTER TABLE models ADD COLUMN output_modalities TEXT NOT NULL DEFAULT '[]';
ALTER TABLE models ADD COLUMN tokenizer TEXT;
ALTER TABLE models ADD COLUMN instruct_type TEXT;
ALTER TABLE models ADD COLUMN max_completion_tokens BIGINT;
ALTER TABLE models ADD COLUMN hugging_face_id TEXT;
ALTER TABLE endpoints ADD COLUMN quantization TEXT;
ALTER TABLE endpoints ADD COLUMN context_length BIGINT;
ALTER TABLE endpoints ADD COLUMN max_completion_tokens BIGINT;
