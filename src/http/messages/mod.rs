//! `POST /v1/messages` and `/v1/messages/count_tokens`: Anthropic's Messages API as a front
//! door. `request` parses it and translates it to the canonical chat request; `render` turns
//! canonical completions, chunks and errors into Anthropic's shapes.

pub mod render;
pub mod request;
