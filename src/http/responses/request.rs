//! Responses API requests: parsing, and translation to the canonical chat request.
