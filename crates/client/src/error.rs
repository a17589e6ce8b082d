//! What can go wrong calling the API.

use aifactory_api::views::ErrorDetail;

/// A failed call.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error body.
    #[error("the node answered {status} {code}: {message}")]
    Api {
        /// The HTTP status.
        status: u16,
        /// The server's stable error code (`nonce_replayed`, `tx_not_found`, ...).
        code: String,
        /// The server's message.
        message: String,
        /// Structured details (a ledger refusal's `TxError` as JSON), if any.
        details: Option<serde_json::Value>,
        /// Seconds the server asked us to wait (`Retry-After`), if it did.
        retry_after_s: Option<u64>,
    },
    /// The server answered with an error status but not the API's error body (a proxy, say).
    #[error("the node answered {status} without an API error body: {body}")]
    UnexpectedError {
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// A success body that is not what the route promises.
    #[error("the node's answer could not be read: {0}")]
    Decode(String),
    /// The node's answer came with a proof that does not hold, or proves something else than
    /// what was asked: nothing in it can be trusted.
    #[error("the node's answer cannot be trusted: {0}")]
    Unproven(#[from] aifactory_api::views::lifecycle::ProofError),
    /// The node served a blob whose content does not hash to the hash asked for.
    #[error("the node served other content for blob {hash}")]
    WrongBlob {
        /// The hash asked for.
        hash: aifactory_types::Hash,
    },
    /// The base URL is not a usable http(s) URL.
    #[error("invalid node URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// Why it is unusable.
        reason: String,
    },
    /// The request never got an answer (connection refused, timeout, TLS).
    #[error("could not reach the node: {0}")]
    Transport(#[from] reqwest::Error),
}

impl ClientError {
    /// The HTTP status, if the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } | ClientError::UnexpectedError { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }

    /// The server's error code, if it sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether the server said the thing asked for does not exist.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    pub(crate) fn from_body(status: u16, retry_after_s: Option<u64>, body: &[u8]) -> Self {
        match serde_json::from_slice::<aifactory_api::views::ErrorBody>(body) {
            Ok(parsed) => {
                let ErrorDetail {
                    code,
                    message,
                    details,
                } = parsed.error;
                ClientError::Api {
                    status,
                    code,
                    message,
                    details,
                    retry_after_s,
                }
            }
            Err(_) => ClientError::UnexpectedError {
                status,
                body: String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned(),
            },
        }
    }
}
