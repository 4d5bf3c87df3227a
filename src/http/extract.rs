//! `Query` and `Path` whose rejections are errors in the API's shape (axum's own answer in
//! plain text, which no SDK can parse).

use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::types::InvalidRequest;

fn rejected(text: String) -> ApiError {
    // axum's texts say what is wrong without echoing much of the input; bound them anyway.
    let text: String = text.chars().take(300).collect();
    ApiError::Invalid(InvalidRequest::new(text, None, "invalid_value"))
}

/// A query string parsed into `T`.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| ApiQuery(v))
            .map_err(|e| rejected(e.body_text()))
    }
}

/// Path parameters parsed into `T`.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| ApiPath(v))
            .map_err(|e| rejected(e.body_text()))
    }
}
