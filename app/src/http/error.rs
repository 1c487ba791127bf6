//! The one place errors become HTTP responses: `{"error-list": [{"code", "message"}]}` with a
//! stable code. A 500 never carries internal text; its cause is logged once.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::schema::{ErrorBody, ErrorItem};
use crate::blobs::BlobError;
use crate::inspect::InspectError;
use crate::store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Extra data for the error (e.g. `releases` for `revision-not-found`).
    pub extra: Option<serde_json::Value>,
    /// A 401's `WWW-Authenticate` (`Macaroon` when not set).
    pub challenge: Option<axum::http::HeaderValue>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            extra: None,
            challenge: None,
        }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal-error",
            "the store failed to process the request; the cause is in the server log",
        )
    }
    pub fn with_extra(mut self, extra: serde_json::Value) -> Self {
        self.extra = Some(extra);
        self
    }
    /// A 401 with this `WWW-Authenticate` challenge.
    pub fn with_challenge(mut self, challenge: axum::http::HeaderValue) -> Self {
        self.challenge = Some(challenge);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error_list: vec![ErrorItem {
                code: self.code,
                message: self.message,
                extra: self.extra,
            }],
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                "www-authenticate",
                self.challenge
                    .unwrap_or(axum::http::HeaderValue::from_static("Macaroon")),
            );
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound { code, message } => ApiError::not_found(code, message),
            StoreError::Conflict { code, message } => {
                ApiError::new(StatusCode::CONFLICT, code, message)
            }
            StoreError::Invalid { code, message } => ApiError::bad_request(code, message),
            StoreError::Unavailable(err) => {
                tracing::warn!(%err, "database unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database-unavailable",
                    "the store's database is unavailable; reads still work, retry writes later",
                )
            }
            other => ApiError::internal(other),
        }
    }
}

impl From<BlobError> for ApiError {
    fn from(err: BlobError) -> Self {
        match err {
            BlobError::TooLarge { .. } => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "artifact-too-large",
                err.to_string(),
            ),
            BlobError::NotFound(_) => {
                ApiError::not_found("blob-not-found", "the file is not in blob storage")
            }
            BlobError::InvalidName(_) => {
                ApiError::bad_request("invalid-blob-name", err.to_string())
            }
            BlobError::RangeNotSatisfiable { .. } => ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "range-not-satisfiable",
                err.to_string(),
            ),
            BlobError::Io(_) => ApiError::internal(err),
        }
    }
}

impl From<InspectError> for ApiError {
    fn from(err: InspectError) -> Self {
        ApiError::bad_request(err.code(), err.to_string())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::new(
                status,
                "body-too-large",
                format!(
                    "the JSON body is over the limit of {} bytes ({} KiB); split the request (fewer actions or items per request)",
                    super::JSON_BODY_LIMIT,
                    super::JSON_BODY_LIMIT / 1024
                ),
            );
        }
        ApiError::new(
            status,
            "invalid-json",
            without_type_names(&rejection.body_text()),
        )
    }
}

/// serde's messages name the Rust type a body was read into (`expected struct RegisterRequest
/// with 4 elements`): a client knows it as a JSON object.
fn without_type_names(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    // serde says `expected struct Name`; anything else is text the client sent.
    const TYPE: &str = "expected struct ";
    while let Some(at) = rest.find(TYPE) {
        out.push_str(&rest[..at + "expected ".len()]);
        let after = &rest[at + TYPE.len()..];
        let name_end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        if name_end == 0 || !after.starts_with(|c: char| c.is_ascii_uppercase()) {
            out.push_str("struct ");
            rest = after;
            continue;
        }
        out.push_str("a JSON object");
        rest = &after[name_end..];
        // ` with 4 elements` (serde's count of a struct's fields, read as a sequence)
        if let Some(tail) = rest.strip_prefix(" with ") {
            let digits = tail
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(tail.len());
            let tail2 = &tail[digits..];
            if digits > 0 {
                rest = tail2
                    .strip_prefix(" elements")
                    .or_else(|| tail2.strip_prefix(" element"))
                    .unwrap_or(tail2);
            }
        }
    }
    out.push_str(rest);
    out
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::bad_request("invalid-query", rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::bad_request("invalid-path", rejection.body_text())
    }
}

/// Answers a known route called with a method it does not have, in the store's envelope. The
/// router adds the `Allow` header.
pub async fn method_not_allowed_fallback(method: axum::http::Method) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        format!(
            "this endpoint does not answer {method}; the Allow header lists the methods it does"
        ),
    )
}

/// Answers unknown routes in the store's envelope.
pub async fn not_found_fallback() -> ApiError {
    ApiError::not_found(
        "not-found",
        "no such endpoint; the API is described in docs/reference/api.md",
    )
}

#[cfg(test)]
mod message_tests {
    use super::without_type_names;

    #[test]
    fn serde_messages_do_not_name_rust_types() {
        assert_eq!(
            without_type_names(
                "Failed to deserialize the JSON body into the target type: invalid type: sequence, expected struct RegisterRequest with 4 elements at line 1 column 1"
            ),
            "Failed to deserialize the JSON body into the target type: invalid type: sequence, expected a JSON object at line 1 column 1"
        );
        assert_eq!(
            without_type_names("expected struct Foo"),
            "expected a JSON object"
        );
        assert_eq!(
            without_type_names("unknown field `struct`, expected `name`"),
            "unknown field `struct`, expected `name`"
        );
        assert_eq!(
            without_type_names("invalid value: string \"struct Foo\", expected u32"),
            "invalid value: string \"struct Foo\", expected u32"
        );
    }
}
