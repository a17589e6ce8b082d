//! Every failure the API reports, as a status code and a JSON body
//! `{"error": {"code", "message", "details"?}}`, and how each outside error maps to one.
//!
//! Status codes: 400 malformed input (bad hex, bytes that do not decode, bad path
//! parameters), 404 unknown things and routes, 405 wrong method, 409 a transaction that
//! conflicts with what is already known (replayed nonce, duplicate), 413 bodies over the
//! limit, 415 a content type we do not read, 422 well-formed input the chain refuses (bad
//! signature, wrong chain, low fee, blob hash mismatch), 429 rate limited, 500 a bug,
//! 503 the node cannot take it now (mempool full, store full, syncing).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use aifactory_types::{DecodeError, SignatureError, TxError};

use crate::service::{BlobBodyError, BlobError, SubmitError};
use crate::views::{ErrorBody, ErrorDetail};

/// An error response: status, stable code, message, optional details.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The stable snake_case code clients match on.
    pub code: String,
    /// What happened, for a person.
    pub message: String,
    /// Structured details, if any.
    pub details: Option<serde_json::Value>,
    /// Seconds to wait before retrying (sent as `Retry-After`).
    pub retry_after_s: Option<u64>,
}

impl ApiError {
    /// An error with no details.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.to_owned(),
            message: message.into(),
            details: None,
            retry_after_s: None,
        }
    }

    /// 400 with `code`.
    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 404 with `code`.
    pub fn not_found(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 413 for a body over `max` bytes.
    pub fn too_large(max: u64) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the request body is larger than this route's limit of {max} bytes"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                details: self.details,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after_s {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<DecodeError> for ApiError {
    fn from(error: DecodeError) -> Self {
        let code = match error {
            DecodeError::Oversized { .. } => "transaction_too_large",
            DecodeError::Malformed { .. } => "malformed_transaction",
        };
        ApiError::bad_request(code, error.to_string())
    }
}

impl From<SignatureError> for ApiError {
    fn from(error: SignatureError) -> Self {
        let code = match error {
            SignatureError::InvalidKey => "invalid_sender_key",
            SignatureError::SmallOrderKey => "small_order_sender_key",
            SignatureError::Mismatch => "bad_signature",
        };
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, error.to_string())
    }
}

impl From<TxError> for ApiError {
    fn from(error: TxError) -> Self {
        // A replayed nonce conflicts with what the chain already did; everything else is a
        // transaction the chain will not take as it stands.
        let status = match error {
            TxError::NonceReplayed { .. } => StatusCode::CONFLICT,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        let details = serde_json::to_value(&error).expect("TxError serialises");
        let code = details["code"]
            .as_str()
            .expect("TxError is tagged by `code`")
            .to_owned();
        ApiError {
            status,
            code,
            message: error.to_string(),
            details: Some(details),
            retry_after_s: None,
        }
    }
}

impl From<SubmitError> for ApiError {
    fn from(error: SubmitError) -> Self {
        let message = error.to_string();
        match error {
            SubmitError::Rejected(tx_error) => tx_error.into(),
            SubmitError::AlreadyKnown(_) => {
                ApiError::new(StatusCode::CONFLICT, "already_known", message)
            }
            SubmitError::NoncePending { .. } => {
                ApiError::new(StatusCode::CONFLICT, "nonce_pending", message)
            }
            SubmitError::MempoolFull { .. } => {
                let mut error =
                    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "mempool_full", message);
                error.retry_after_s = Some(1);
                error
            }
            SubmitError::Unavailable(_) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
            }
        }
    }
}

impl From<BlobError> for ApiError {
    fn from(error: BlobError) -> Self {
        let message = error.to_string();
        match error {
            BlobError::Body(BlobBodyError::TooLarge { max }) => ApiError::too_large(max),
            BlobError::Body(BlobBodyError::HashMismatch { .. }) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "blob_hash_mismatch",
                message,
            ),
            BlobError::Body(BlobBodyError::Interrupted(_)) => {
                ApiError::bad_request("upload_interrupted", message)
            }
            BlobError::StoreFull(_) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "store_full", message)
            }
            BlobError::Store(_) => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "store_failed", message)
            }
            BlobError::PeersBusy => {
                let mut error =
                    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "blob_fetch_busy", message);
                error.retry_after_s = Some(1);
                error
            }
        }
    }
}
