//! Canonical (OpenAI chat-shaped) completions and chunks rendered as Responses objects and events.
