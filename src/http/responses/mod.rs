//! `POST /v1/responses`: OpenAI's Responses API as a front door (stateless, as
//! OpenRouter's). `request` parses it and translates it to the canonical chat request;
//! `render` turns canonical completions, chunks and errors into Responses shapes.

pub mod render;
pub mod request;
