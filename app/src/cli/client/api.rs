//! A small typed client of the store's HTTP API (reqwest with rustls), and the one error type of
//! the client commands with its exit code.

use std::fmt;
use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode, Url};
use serde_json::Value;

use crate::domain::Namespace;

/// How long a JSON request may take, end to end.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long establishing a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Pushing a revision makes the store inspect the artifact: allow for large ones.
const PUSH_TIMEOUT: Duration = Duration::from_secs(600);

/// What went wrong, which decides the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The store answered with an error (4xx other than 401/404, 5xx), or with nonsense. Exit 1.
    Store,
    /// Bad arguments, an unreadable file, a broken credentials file. Exit 2.
    Usage,
    /// Not logged in, or the store refused the credentials (401). Exit 3.
    Auth,
    /// The store does not know the package or object (404). Exit 4.
    NotFound,
    /// The store could not be reached (connection refused, DNS, TLS, timeout). Exit 5.
    Unreachable,
}

impl ErrorKind {
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Store => 1,
            ErrorKind::Usage => 2,
            ErrorKind::Auth => 3,
            ErrorKind::NotFound => 4,
            ErrorKind::Unreachable => 5,
        }
    }
}

/// An error of a client command: printed as `error: <message> (<code>)` and an optional
/// `hint: …` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientError {
    pub kind: ErrorKind,
    /// A stable code: the store's (`invalid-token`, `package-not-found`, …) or the client's own
    /// (`not-logged-in`, `store-unreachable`, `invalid-artifact`, …).
    pub code: String,
    pub message: String,
    pub hint: Option<String>,
}

impl ClientError {
    pub fn new(kind: ErrorKind, code: impl Into<String>, message: impl Into<String>) -> Self {
        ClientError {
            kind,
            code: code.into(),
            message: message.into(),
            hint: None,
        }
    }

    pub fn usage(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Usage, code, message)
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Adds a hint unless there is one already.
    pub fn or_hint(self, hint: impl Into<String>) -> Self {
        if self.hint.is_some() {
            self
        } else {
            self.with_hint(hint)
        }
    }

    pub fn exit_code(&self) -> u8 {
        self.kind.exit_code()
    }

    /// The lines printed on stderr: `error: …` and maybe `hint: …`, each one line.
    pub fn render(&self) -> String {
        let mut out = format!("error: {} ({})\n", one_line(&self.message), self.code);
        if let Some(hint) = &self.hint {
            out.push_str(&format!("hint: {}\n", one_line(hint)));
        }
        out
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", one_line(&self.message), self.code)
    }
}

/// Collapses whitespace runs (newlines included) into single spaces.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Parses a store URL: `http(s)://host[:port][/prefix]`, without query or fragment.
pub fn parse_store_url(raw: &str) -> Result<Url, ClientError> {
    let bad = |why: &str| {
        ClientError::usage(
            "invalid-store-url",
            format!("invalid store URL {raw:?}: {why}"),
        )
        .with_hint("give the store's base URL, e.g. https://store.example.com")
    };
    let url = Url::parse(raw.trim()).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("it has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("it must not have a query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("put credentials in the token, not the URL"));
    }
    Ok(url)
}

/// The store's URL as printed and saved: no trailing slash.
pub fn display_url(url: &Url) -> String {
    url.as_str().trim_end_matches('/').to_string()
}

pub struct Api {
    http: reqwest::Client,
    base: Url,
    token: Option<String>,
}

impl Api {
    pub fn new(base: Url, token: Option<String>) -> Result<Api, ClientError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("depot/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| {
                ClientError::new(
                    ErrorKind::Usage,
                    "client-error",
                    format!("cannot set up the HTTP client: {e}"),
                )
            })?;
        Ok(Api { http, base, token })
    }

    pub fn store(&self) -> String {
        display_url(&self.base)
    }

    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// The URL of `segments` under the store's base URL, each segment percent-encoded.
    pub fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            path.extend(segments);
        }
        url
    }

    /// A path the store returned (`/v1/…?…`), under the store's base URL.
    pub fn url_of_path(&self, path_and_query: &str) -> Result<Url, ClientError> {
        if path_and_query.starts_with("http://") || path_and_query.starts_with("https://") {
            return Url::parse(path_and_query).map_err(|e| bad_response(&e.to_string()));
        }
        let base = display_url(&self.base);
        let joined = format!("{base}/{}", path_and_query.trim_start_matches('/'));
        Url::parse(&joined).map_err(|e| bad_response(&e.to_string()))
    }

    fn request(&self, method: Method, url: Url, auth: Auth) -> Result<RequestBuilder, ClientError> {
        let request = self.http.request(method, url);
        match (&self.token, auth) {
            (Some(token), Auth::Required | Auth::IfAny) => {
                Ok(request.header("authorization", format!("Macaroon {token}")))
            }
            (None, Auth::Required) => Err(not_logged_in()),
            (_, _) => Ok(request),
        }
    }

    /// Sends `request` and returns the JSON body of a successful answer.
    pub async fn send(&self, request: RequestBuilder) -> Result<Value, ClientError> {
        let response = request
            .send()
            .await
            .map_err(|e| transport_error(&self.base, &e))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| transport_error(&self.base, &e))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| {
                bad_response(&format!("the store's answer is not JSON ({status}): {e}"))
            });
        }
        Err(store_error(status, &bytes, &self.base))
    }

    pub async fn get(&self, segments: &[&str], auth: Auth) -> Result<Value, ClientError> {
        let request = self
            .request(Method::GET, self.url(segments), auth)?
            .timeout(REQUEST_TIMEOUT);
        self.send(request).await
    }

    pub async fn get_url(&self, url: Url, auth: Auth) -> Result<Value, ClientError> {
        let request = self
            .request(Method::GET, url, auth)?
            .timeout(REQUEST_TIMEOUT);
        self.send(request).await
    }

    pub async fn post(&self, segments: &[&str], body: &Value) -> Result<Value, ClientError> {
        let request = self
            .request(Method::POST, self.url(segments), Auth::Required)?
            .timeout(REQUEST_TIMEOUT)
            .json(body);
        self.send(request).await
    }

    // ---- typed calls ------------------------------------------------------------------------

    pub async fn whoami(&self) -> Result<Value, ClientError> {
        self.get(&["v1", "tokens", "whoami"], Auth::Required).await
    }

    /// `GET /v1/{ns}/{name}`: the registered package, or 404.
    pub async fn package(&self, namespace: Namespace, name: &str) -> Result<Value, ClientError> {
        self.get(&["v1", namespace.as_str(), name], Auth::Required)
            .await
    }

    pub async fn register(
        &self,
        namespace: Namespace,
        name: &str,
        private: bool,
    ) -> Result<Value, ClientError> {
        let body =
            serde_json::json!({"name": name, "type": namespace.as_str(), "private": private});
        self.post(&["v1", namespace.as_str()], &body).await
    }

    pub async fn names(&self, namespace: Namespace) -> Result<Value, ClientError> {
        self.get(&["v1", namespace.as_str()], Auth::Required).await
    }

    /// `POST /unscanned-upload/` with a multipart form holding the `binary` field.
    pub async fn upload(&self, form: reqwest::multipart::Form) -> Result<String, ClientError> {
        // No overall timeout: a large artifact on a slow link takes as long as it takes.
        let request = self
            .request(
                Method::POST,
                self.url(&["unscanned-upload", ""]),
                Auth::IfAny,
            )?
            .multipart(form);
        let answer = self.send(request).await?;
        answer
            .get("upload_id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| bad_response("the upload answer has no upload_id"))
    }

    /// `POST /v1/{ns}/{name}/revisions`: turns an upload into a revision.
    pub async fn push_revision(
        &self,
        namespace: Namespace,
        name: &str,
        upload_id: &str,
    ) -> Result<Value, ClientError> {
        let request = self
            .request(
                Method::POST,
                self.url(&["v1", namespace.as_str(), name, "revisions"]),
                Auth::Required,
            )?
            .timeout(PUSH_TIMEOUT)
            .json(&serde_json::json!({"upload-id": upload_id}));
        self.send(request).await
    }

    pub async fn revisions(&self, namespace: Namespace, name: &str) -> Result<Value, ClientError> {
        self.get(
            &["v1", namespace.as_str(), name, "revisions"],
            Auth::Required,
        )
        .await
    }

    pub async fn releases(&self, namespace: Namespace, name: &str) -> Result<Value, ClientError> {
        self.get(
            &["v1", namespace.as_str(), name, "releases"],
            Auth::Required,
        )
        .await
    }

    /// `POST /v1/{ns}/{name}/releases`: `revision: None` closes the channel.
    pub async fn release(
        &self,
        namespace: Namespace,
        name: &str,
        channels: &[String],
        revision: Option<u32>,
    ) -> Result<Value, ClientError> {
        let body: Vec<Value> = channels
            .iter()
            .map(|c| serde_json::json!({"channel": c, "revision": revision}))
            .collect();
        self.post(
            &["v1", namespace.as_str(), name, "releases"],
            &Value::Array(body),
        )
        .await
    }

    /// `POST /v1/{ns}/{name}/tracks`: answers how many of `tracks` were new.
    pub async fn create_tracks(
        &self,
        namespace: Namespace,
        name: &str,
        tracks: &[String],
    ) -> Result<Value, ClientError> {
        let body: Vec<Value> = tracks
            .iter()
            .map(|t| serde_json::json!({"name": t}))
            .collect();
        self.post(
            &["v1", namespace.as_str(), name, "tracks"],
            &Value::Array(body),
        )
        .await
    }

    /// The public info of a package: `GET /v2/snaps/info/{name}` or `/v2/charms/info/{name}`.
    pub async fn info(&self, namespace: Namespace, name: &str) -> Result<Value, ClientError> {
        let url = self.url(&["v2", namespace.plural(), "info", name]);
        let request = self
            .request(Method::GET, url, Auth::IfAny)?
            .timeout(REQUEST_TIMEOUT);
        self.send(request).await
    }
}

/// Whether a request carries the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// The endpoint needs a token: fail with "not logged in" without one.
    Required,
    /// Send the token if there is one (private packages become visible).
    IfAny,
}

pub fn not_logged_in() -> ClientError {
    ClientError::new(ErrorKind::Auth, "not-logged-in", "not logged in to a store")
        .with_hint("run `depot login --store URL`, or set DEPOT_STORE and DEPOT_TOKEN")
}

pub(crate) fn bad_response(detail: &str) -> ClientError {
    ClientError::new(
        ErrorKind::Store,
        "invalid-response",
        format!("the store sent an answer depot does not understand: {detail}"),
    )
}

/// A request that got no HTTP answer.
fn transport_error(base: &Url, err: &reqwest::Error) -> ClientError {
    let store = display_url(base);
    let mut detail = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        detail = cause.to_string();
        source = cause.source();
    }
    let what = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    ClientError::new(
        ErrorKind::Unreachable,
        "store-unreachable",
        format!("cannot reach the store at {store}: {what}: {detail}"),
    )
    .with_hint("check the store URL (`depot login --store URL` or DEPOT_STORE) and that the store is running")
}

/// An HTTP error answer: the store's `error-list` envelope, or whatever a proxy sent.
pub fn store_error(status: StatusCode, body: &[u8], base: &Url) -> ClientError {
    let kind = match status {
        StatusCode::UNAUTHORIZED => ErrorKind::Auth,
        StatusCode::NOT_FOUND => ErrorKind::NotFound,
        _ => ErrorKind::Store,
    };
    let parsed: Option<(String, String)> = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("error-list").and_then(Value::as_array).cloned())
        .filter(|list| !list.is_empty())
        .map(|list| {
            let field = |item: &Value, key: &str| {
                item.get(key)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let codes: Vec<String> = list.iter().map(|i| field(i, "code")).collect();
            let messages: Vec<String> = list.iter().map(|i| field(i, "message")).collect();
            (codes.join(", "), messages.join("; "))
        });
    let (code, message) = match parsed {
        Some((code, message)) => (code, message),
        None => (
            format!("http-{}", status.as_u16()),
            format!(
                "the store at {} answered {status} without an error description",
                display_url(base)
            ),
        ),
    };
    // A 404 for the path itself (depot's `not-found`, or a page from something else) says
    // nothing about the package: the store URL is likely wrong.
    let (kind, hint) = if status == StatusCode::NOT_FOUND
        && (code == "not-found" || code == "http-404")
    {
        (
            ErrorKind::Store,
            Some(format!(
                "{} does not answer depot's API there; check the store URL (`depot login --store URL` or DEPOT_STORE): it is the address depot serves on, e.g. http://127.0.0.1:8080",
                display_url(base)
            )),
        )
    } else {
        (kind, hint_for(kind, &code))
    };
    let error = ClientError::new(kind, code, message);
    match hint {
        Some(hint) => error.with_hint(hint),
        None => error,
    }
}

fn hint_for(kind: ErrorKind, code: &str) -> Option<String> {
    let hint = match (kind, code) {
        (ErrorKind::Auth, _) => {
            "run `depot login --store URL` with a valid token (or set DEPOT_TOKEN); \
             an administrator creates tokens with `depot admin create-token`"
        }
        (_, "permission-denied") => {
            "ask the store's administrator for a token with the needed scope or package"
        }
        (_, "invalid-channel") => {
            "a channel is [track/]risk[/branch] with risk stable, candidate, beta or edge, \
             e.g. edge, latest/beta or 2.0/candidate/fix-1"
        }
        (_, "snap-not-found" | "charm-not-found") => "check the name; `depot names` lists yours",
        (_, "database-unavailable") => "retry later",
        (_, "rate-limited") => "the store limits requests per minute; wait a moment and retry",
        _ => return None,
    };
    Some(hint.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("http://store.example:8080/").unwrap()
    }

    #[test]
    fn envelope_becomes_one_line_error() {
        let body = br#"{"error-list":[{"code":"invalid-channel","message":"bad\nchannel"}]}"#;
        let err = store_error(StatusCode::BAD_REQUEST, body, &base());
        assert_eq!(err.exit_code(), 1);
        assert_eq!(err.code, "invalid-channel");
        let text = err.render();
        assert!(text.starts_with("error: bad channel (invalid-channel)\nhint: "));
        assert_eq!(text.lines().count(), 2);
    }

    #[test]
    fn status_decides_exit_code() {
        let body = br#"{"error-list":[{"code":"invalid-token","message":"no"}]}"#;
        assert_eq!(
            store_error(StatusCode::UNAUTHORIZED, body, &base()).exit_code(),
            3
        );
        let body = br#"{"error-list":[{"code":"package-not-found","message":"no"}]}"#;
        assert_eq!(
            store_error(StatusCode::NOT_FOUND, body, &base()).exit_code(),
            4
        );
        // A path the store does not have, or a 404 page from something else: not the
        // package's absence.
        for body in [
            &br#"{"error-list":[{"code":"not-found","message":"no such endpoint"}]}"#[..],
            b"<html>404</html>",
        ] {
            let err = store_error(StatusCode::NOT_FOUND, body, &base());
            assert_eq!(err.exit_code(), 1);
            assert!(
                err.render().contains("check the store URL"),
                "{}",
                err.render()
            );
        }
        let err = store_error(StatusCode::BAD_GATEWAY, b"<html>", &base());
        assert_eq!(err.exit_code(), 1);
        assert_eq!(err.code, "http-502");
    }

    #[test]
    fn store_urls() {
        assert!(parse_store_url("https://store.example").is_ok());
        assert!(parse_store_url("http://127.0.0.1:8080/prefix/").is_ok());
        assert!(parse_store_url("ftp://store.example").is_err());
        assert!(parse_store_url("store.example").is_err());
        assert!(parse_store_url("https://u:p@store.example").is_err());
        let api = Api::new(parse_store_url("http://h/prefix/").unwrap(), None).unwrap();
        assert_eq!(
            api.url(&["v1", "snap", "a b"]).as_str(),
            "http://h/prefix/v1/snap/a%20b"
        );
        assert_eq!(
            api.url(&["unscanned-upload", ""]).as_str(),
            "http://h/prefix/unscanned-upload/"
        );
        assert_eq!(
            api.url_of_path("/v1/snap/x/revisions/review?upload-id=1")
                .unwrap()
                .as_str(),
            "http://h/prefix/v1/snap/x/revisions/review?upload-id=1"
        );
    }
}
