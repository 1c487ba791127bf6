//! Device sessions (snapd's `store/auth.go`): `POST /api/v1/snaps/auth/nonces` and
//! `POST /api/v1/snaps/auth/sessions`. A snapd whose device has a serial assertion asks for
//! a session before any other store request, and sends none until it has one; what depot
//! checks is in [`crate::assertions::device`].

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::Json;
use super::schema::ErrorBody;
use super::{ApiError, ApiResult, AppState};
use crate::assertions::device::{Device, SessionError};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(nonce))
        .routes(routes!(session))
}

#[derive(Serialize, ToSchema)]
pub struct NonceResponse {
    /// Goes into the `nonce` header of the device-session-request; good for ten minutes.
    #[schema(example = "1796048400.p1E2uWnZ0DF5n-cd.ov5L8C7vQ3Y1xGmPZc9s1g")]
    pub nonce: String,
}

/// snapd's session request: three encoded assertions.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
#[schema(rename_all = "kebab-case")]
pub struct SessionRequest {
    /// A `device-session-request` (brand-id, model, serial, nonce, timestamp), signed with the
    /// device key.
    pub device_session_request: String,
    /// The device's `serial` assertion: its `device-key` checks the request's signature.
    pub serial_assertion: String,
    /// The device's `model` assertion: the serial's brand and model.
    pub model_assertion: String,
}

#[derive(Serialize, ToSchema)]
pub struct SessionResponse {
    /// The device session: snapd sends it as `Snap-Device-Authorization: Macaroon
    /// root="…"` (and `X-Device-Authorization` on downloads). The same device always gets
    /// the same session.
    #[schema(example = "depot-device.Y2Fub25pY2FsAHBjAGFiYzEyMw.Jv1fJ3m2W8q0yQyZ1Jc2Zg")]
    pub macaroon: String,
}

/// Issues a nonce for a device-session-request.
#[utoipa::path(
    post,
    path = "/api/v1/snaps/auth/nonces",
    tag = "snap-store",
    operation_id = "device-nonce",
    responses(
        (status = 200, description = "A nonce, good for ten minutes on any depot process that serves with the same store key.", body = NonceResponse),
    ),
)]
async fn nonce(State(app): State<AppState>) -> axum::Json<NonceResponse> {
    let now = chrono::Utc::now().timestamp();
    axum::Json(NonceResponse {
        nonce: app.assertions.device_sessions().nonce(now),
    })
}

/// Trades a signed device-session-request, with the device's serial and model assertions,
/// for a device session.
#[utoipa::path(
    post,
    path = "/api/v1/snaps/auth/sessions",
    tag = "snap-store",
    operation_id = "device-session",
    request_body(content = SessionRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The device session.", body = SessionResponse),
        (status = 400, description = "`invalid-assertion`: a field is not one well-formed assertion of its type; `invalid-device-session-request`: the assertions do not belong together (brand, model, serial) or the request is not signed by the serial's device key; `invalid-nonce`: a nonce depot did not issue, or older than ten minutes; `invalid-json`.", body = ErrorBody),
        (status = 413, description = "`body-too-large`.", body = ErrorBody),
        (status = 415, description = "`invalid-json`: not `Content-Type: application/json`.", body = ErrorBody),
        (status = 422, description = "`invalid-json`: a field missing or not a string.", body = ErrorBody),
    ),
)]
async fn session(
    State(app): State<AppState>,
    Json(request): Json<SessionRequest>,
) -> ApiResult<axum::Json<SessionResponse>> {
    let sessions = app.assertions.device_sessions();
    let device = sessions
        .check_request(
            &request.device_session_request,
            &request.serial_assertion,
            &request.model_assertion,
            chrono::Utc::now().timestamp(),
        )
        .map_err(|e| {
            let code = match e {
                SessionError::Malformed(_) => "invalid-assertion",
                SessionError::Invalid(_) => "invalid-device-session-request",
                SessionError::Nonce(_) => "invalid-nonce",
            };
            app.metrics.device_sessions.with_label_values(&[code]).inc();
            // snapd sends no store request until it has a session: a device refused here is
            // a device the store does not serve at all.
            tracing::info!(code, reason = %e, "device session refused");
            ApiError::bad_request(code, e.to_string())
        })?;
    app.metrics
        .device_sessions
        .with_label_values(&["issued"])
        .inc();
    tracing::debug!(
        brand = %device.brand_id,
        model = %device.model,
        serial = %device.serial,
        "device session issued"
    );
    Ok(axum::Json(SessionResponse {
        macaroon: sessions.session(&device),
    }))
}

/// The device a request comes from, by its device session: `Ok(None)` without one (a device
/// that has not registered: it is told apart by its address); a `401` asking snapd for a new
/// session (`WWW-Authenticate: Macaroon refresh_device_session=1`) for a session depot did not
/// issue, such as one from another store a device was moved from, or one made with a store key
/// depot no longer has.
pub fn device_of(app: &AppState, headers: &HeaderMap) -> ApiResult<Option<Device>> {
    let Some(value) = headers.get("snap-device-authorization") else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(session_root)
        .and_then(|root| app.assertions.device_sessions().device(root))
        .map(Some)
        .ok_or_else(|| {
            app.metrics
                .device_sessions
                .with_label_values(&["invalid-device-session"])
                .inc();
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid-device-session",
                "the device session was not issued by this store; ask for a new one \
                 (POST /api/v1/snaps/auth/nonces, then /api/v1/snaps/auth/sessions)",
            )
            .with_challenge(HeaderValue::from_static(
                "Macaroon refresh_device_session=1",
            ))
        })
}

/// The session in `Macaroon root="…"`.
fn session_root(value: &str) -> Option<&str> {
    let params = value.trim().strip_prefix("Macaroon")?.trim_start();
    params.split(',').find_map(|param| {
        let (name, quoted) = param.trim().split_once('=')?;
        (name.trim() == "root")
            .then(|| quoted.trim().strip_prefix('"')?.strip_suffix('"'))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::session_root;

    #[test]
    fn the_session_is_the_root_parameter() {
        assert_eq!(session_root(r#"Macaroon root="abc""#), Some("abc"));
        assert_eq!(
            session_root(r#"Macaroon root="abc", discharge="d""#),
            Some("abc")
        );
        assert_eq!(
            session_root(r#"Macaroon discharge="d",root="x""#),
            Some("x")
        );
        assert_eq!(session_root(r#"Bearer abc"#), None);
        assert_eq!(session_root(r#"Macaroon root=abc"#), None);
        assert_eq!(session_root(r#"Macaroon"#), None);
    }
}
