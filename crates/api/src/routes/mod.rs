//! The handlers, one file per resource, and the one extractor they share.

pub(crate) mod accounts;
pub(crate) mod blobs;
pub(crate) mod blocks;
pub(crate) mod events;
pub(crate) mod status;
pub(crate) mod sync;
pub(crate) mod txs;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;

use crate::error::ApiError;

/// The route's single path parameter as text; a parameter that is not valid percent-encoded
/// UTF-8 is a 400 with a JSON body, like every other error.
pub(crate) struct PathParam(pub(crate) String);

impl<S: Send + Sync> FromRequestParts<S> for PathParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(text)| PathParam(text))
            .map_err(|rejection| ApiError::bad_request("malformed_path", rejection.body_text()))
    }
}

/// The value of query parameter `name` in a raw query string, if present (the first one;
/// other parameters are ignored).
pub(crate) fn query_value<'q>(query: Option<&'q str>, name: &str) -> Option<&'q str> {
    query
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

/// Parses a path parameter, naming what it should have been on failure.
pub(crate) fn parse<T: std::str::FromStr>(text: &str, code: &str, what: &str) -> Result<T, ApiError>
where
    T::Err: std::fmt::Display,
{
    text.parse()
        .map_err(|error| ApiError::bad_request(code, format!("{what}: {error}")))
}
