//! Extractors: who is calling, and JSON bodies that fail in the store's envelope.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::{ApiError, AppState};
use crate::auth::{Principal, hash_secret, secret_from_header};

/// An authenticated caller; rejects the request with 401 otherwise.
pub struct Auth(pub Principal);

/// An optional caller: anonymous requests pass, bad tokens are still refused.
pub struct MaybeAuth(pub Option<Principal>);

/// The client's address: the connection's peer, or with `trust_forwarded_for` the last
/// `X-Forwarded-For` entry (the one the proxy in front of depot added). `None` when neither is
/// known (a request that did not come over a socket).
pub struct ClientAddr(pub Option<std::net::IpAddr>);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(super::layers::client_address(
            &parts.headers,
            &parts.extensions,
            state.config.trust_forwarded_for,
        )))
    }
}

async fn principal(parts: &Parts, state: &AppState) -> Result<Option<Principal>, ApiError> {
    let Some(value) = parts.headers.get(axum::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| {
        ApiError::unauthorized(
            "invalid-token",
            "the Authorization header is not valid text",
        )
    })?;
    let secret = secret_from_header(value).ok_or_else(|| {
        ApiError::unauthorized(
            "invalid-token",
            "send the token as `Authorization: Macaroon <token>` or `Authorization: Bearer <token>`",
        )
    })?;
    let Some((token, account)) = state.store.token_by_hash(&hash_secret(secret)).await? else {
        return Err(ApiError::unauthorized(
            "invalid-token",
            "the token is not valid; run `depot login` or ask an administrator for a new token",
        ));
    };
    // Every log line of the request says who made it (see `layers::request_span`).
    let span = tracing::Span::current();
    span.record("account", account.username.as_str());
    span.record("token", token.id.as_str());
    let principal = Principal { account, token };
    if principal.is_expired(chrono::Utc::now()) {
        return Err(ApiError::unauthorized(
            "token-expired",
            "the token has expired; ask an administrator for a new one",
        ));
    }
    Ok(Some(principal))
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match principal(parts, state).await? {
            Some(p) => Ok(Auth(p)),
            None => Err(ApiError::unauthorized(
                "unauthorized",
                "this endpoint needs a token (Authorization: Macaroon <token>); run `depot login` first",
            )),
        }
    }
}

impl FromRequestParts<AppState> for MaybeAuth {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match principal(parts, state).await {
            Ok(p) => Ok(MaybeAuth(p)),
            // Reads keep working while the database is away: answer as for an anonymous caller.
            Err(e) if e.status == axum::http::StatusCode::SERVICE_UNAVAILABLE => {
                Ok(MaybeAuth(None))
            }
            Err(e) => Err(e),
        }
    }
}

/// `axum::Json` whose rejections use the store's error envelope.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        // axum's extractor tracks the path to every value it reads (for the error message),
        // a third of a 40-snap refresh. A body in the content type clients send is read
        // straight; only a body that fails is read again by axum, for its message.
        let plain_json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"application/json"));
        if !plain_json {
            let axum::Json(value) = axum::Json::<T>::from_request(req, state).await?;
            return Ok(Json(value));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(axum::extract::rejection::JsonRejection::from)?;
        match serde_json::from_slice(&bytes) {
            Ok(value) => Ok(Json(value)),
            Err(_) => {
                let axum::Json(value) = axum::Json::<T>::from_bytes(&bytes)?;
                Ok(Json(value))
            }
        }
    }
}

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Query` with the store's envelope on rejection.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Query(value) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(Query(value))
    }
}

/// `axum::extract::Path` with the store's envelope on rejection.
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(value) =
            axum::extract::Path::<T>::from_request_parts(parts, state).await?;
        Ok(Path(value))
    }
}

/// `axum::extract::Multipart` with the store's envelope on rejection: `415 invalid-multipart`
/// when the request is not `multipart/form-data`, `400 invalid-multipart` when its boundary is
/// missing or malformed.
pub struct Multipart(pub axum::extract::Multipart);

impl<S: Send + Sync> FromRequest<S> for Multipart {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_multipart = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<mime::Mime>().ok())
            .is_some_and(|m| m.type_() == mime::MULTIPART && m.subtype() == mime::FORM_DATA);
        if !is_multipart {
            return Err(ApiError::new(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "invalid-multipart",
                "send the artifact as multipart/form-data with the file in the field `binary`",
            ));
        }
        axum::extract::Multipart::from_request(req, state)
            .await
            .map(Multipart)
            .map_err(|e| ApiError::bad_request("invalid-multipart", e.body_text()))
    }
}

/// The device's architecture: the `architecture` query parameter (`query`), else the
/// `Snap-Device-Architecture` header; `None` when neither is sent. A value that cannot be a
/// Debian architecture name (lower-case letters, digits and `-`, at most 32) is
/// `400 invalid-architecture`: it would otherwise be echoed back as if a platform had it.
pub(crate) fn device_architecture<'a>(
    query: Option<&'a str>,
    headers: &'a axum::http::HeaderMap,
) -> Result<Option<&'a str>, ApiError> {
    match (query, headers.get("snap-device-architecture")) {
        (Some(q), _) => architecture_name(q.as_bytes(), "the `architecture` parameter").map(Some),
        (None, Some(h)) => architecture_name(h.as_bytes(), "Snap-Device-Architecture").map(Some),
        (None, None) => Ok(None),
    }
}

/// An `architecture` query parameter alone (endpoints that do not read the header), checked
/// as [`device_architecture`] checks it.
pub(crate) fn architecture_param(query: Option<&str>) -> Result<Option<&str>, ApiError> {
    query
        .map(|q| architecture_name(q.as_bytes(), "the `architecture` parameter"))
        .transpose()
}

/// `value` as an architecture name, or `400 invalid-architecture` naming `from`.
fn architecture_name<'a>(value: &'a [u8], from: &str) -> Result<&'a str, ApiError> {
    let valid = (1..=32).contains(&value.len())
        && value[0].is_ascii_alphanumeric()
        && value
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-');
    if !valid {
        return Err(ApiError::bad_request(
            "invalid-architecture",
            format!(
                "{from} is not an architecture name: send the device's Debian architecture, e.g. amd64 or arm64"
            ),
        ));
    }
    Ok(std::str::from_utf8(value).expect("ASCII"))
}

#[cfg(test)]
mod architecture_tests {
    use super::device_architecture;
    use axum::http::{HeaderMap, HeaderValue};

    #[test]
    fn architectures_are_names() {
        let mut headers = HeaderMap::new();
        assert_eq!(device_architecture(None, &headers).unwrap(), None);
        for good in [
            "amd64",
            "arm64",
            "armhf",
            "ppc64el",
            "s390x",
            "riscv64",
            "hurd-i386",
        ] {
            assert_eq!(
                device_architecture(Some(good), &headers).unwrap(),
                Some(good)
            );
        }
        for bad in [
            "",
            "AMD64",
            "<script>",
            "amd64 ",
            "-x",
            "a/b",
            &"a".repeat(33),
        ] {
            let err = device_architecture(Some(bad), &headers).unwrap_err();
            assert_eq!(err.code, "invalid-architecture", "{bad:?}");
        }
        headers.insert(
            "snap-device-architecture",
            HeaderValue::from_static("arm64"),
        );
        assert_eq!(device_architecture(None, &headers).unwrap(), Some("arm64"));
        // The parameter wins over the header.
        assert_eq!(
            device_architecture(Some("amd64"), &headers).unwrap(),
            Some("amd64")
        );
        headers.insert(
            "snap-device-architecture",
            HeaderValue::from_bytes(b"\xffx").unwrap(),
        );
        assert!(device_architecture(None, &headers).is_err());
    }
}
