//! The handlers, one file per resource, and the one extractor they share.

pub(crate) mod accounts;
pub(crate) mod blobs;
pub(crate) mod blocks;
pub(crate) mod challenges;
pub(crate) mod channels;
pub(crate) mod datasets;
pub(crate) mod deployments;
pub(crate) mod events;
pub(crate) mod jobs;
pub(crate) mod models;
pub(crate) mod status;
pub(crate) mod sync;
pub(crate) mod txs;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;

use crate::error::ApiError;
use crate::views::lifecycle::{LIST_LIMIT_MAX, PageRequest};

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

/// A route's two path parameters as text, refused like [`PathParam`]'s.
pub(crate) struct PathParams(pub(crate) String, pub(crate) String);

impl<S: Send + Sync> FromRequestParts<S> for PathParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map(|Path((first, second))| PathParams(first, second))
            .map_err(|rejection| ApiError::bad_request("malformed_path", rejection.body_text()))
    }
}

/// A list's page from its query string: `after` (default 0, at most `i64::MAX`, the largest
/// integer the OpenAPI document can promise) and `limit` (1 to [`LIST_LIMIT_MAX`], default
/// the most).
pub(crate) fn page_request(query: Option<&str>) -> Result<PageRequest, ApiError> {
    let mut request = PageRequest::default();
    if let Some(text) = query_value(query, "after") {
        request.after = parse_documented(text, "malformed_after", "`after`")?;
    }
    if let Some(text) = query_value(query, "limit") {
        let limit: usize = parse(text, "malformed_limit", "`limit`")?;
        if !(1..=LIST_LIMIT_MAX).contains(&limit) {
            return Err(ApiError::bad_request(
                "malformed_limit",
                format!("`limit` is {limit}; it must be 1 to {LIST_LIMIT_MAX}"),
            ));
        }
        request.limit = limit;
    }
    Ok(request)
}

/// The value of query parameter `name` in a raw query string, if present (the first one;
/// other parameters are ignored).
pub(crate) fn query_value<'q>(query: Option<&'q str>, name: &str) -> Option<&'q str> {
    query
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

/// Parses an id or height, refusing what is above `i64::MAX`: the largest integer the OpenAPI
/// document can promise, so the API accepts exactly what it documents.
pub(crate) fn parse_documented(text: &str, code: &str, what: &str) -> Result<u64, ApiError> {
    let value: u64 = parse(text, code, what)?;
    if value > i64::MAX as u64 {
        return Err(ApiError::bad_request(
            code,
            format!("{what} is {value}, beyond the largest {}", i64::MAX),
        ));
    }
    Ok(value)
}

/// Parses a path parameter, naming what it should have been on failure.
pub(crate) fn parse<T: std::str::FromStr>(text: &str, code: &str, what: &str) -> Result<T, ApiError>
where
    T::Err: std::fmt::Display,
{
    text.parse()
        .map_err(|error| ApiError::bad_request(code, format!("{what}: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_parse_within_bounds() {
        let page = |q| page_request(Some(q)).map(|r| (r.after, r.limit)).ok();
        assert_eq!(page_request(None).ok(), Some(PageRequest::default()));
        assert_eq!(page("after=7&limit=3"), Some((7, 3)));
        assert_eq!(page("limit=100"), Some((0, LIST_LIMIT_MAX)));
        assert_eq!(
            page("after=9223372036854775807"),
            Some((i64::MAX as u64, 100))
        );
        for bad in [
            "limit=0",
            "limit=101",
            "limit=-1",
            "limit=",
            "after=-1",
            "after=x",
            "after=9223372036854775808",
        ] {
            assert_eq!(page(bad), None, "{bad} was accepted");
        }
    }
}
