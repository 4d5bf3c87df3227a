//! Canonical (OpenAI-shaped) completions, chunks and errors rendered as Anthropic messages.
