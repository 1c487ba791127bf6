//! Artifact downloads: `GET /api/v1/{snaps|charms}/download/{package-id}_{revision}.{ext}`,
//! with `Content-Length`, single-range `Range` requests and `HEAD`.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Path, Query};
use super::schema::{Binary, ErrorBody, NamespacePlural};
use super::snaps::{can_see, is_publisher};
use super::{ApiError, ApiResult, AppState, MaybeAuth};
use crate::domain::Namespace;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(download))
}

/// A parsed `Range` header: `bytes=a-b`, `bytes=a-` or `bytes=-n`.
#[derive(Debug, PartialEq, Eq)]
enum ByteRange {
    From(u64, Option<u64>),
    Suffix(u64),
}

fn parse_range(value: &str) -> Option<ByteRange> {
    let spec = value.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None; // several ranges: answer with the whole body
    }
    let (start, end) = spec.split_once('-')?;
    let (start, end) = (start.trim(), end.trim());
    if start.is_empty() {
        return end.parse().ok().map(ByteRange::Suffix);
    }
    let start = start.parse().ok()?;
    if end.is_empty() {
        return Some(ByteRange::From(start, None));
    }
    let end: u64 = end.parse().ok()?;
    (end >= start).then_some(ByteRange::From(start, Some(end)))
}

fn parse_file(file: &str, namespace: Namespace) -> Option<(&str, u32)> {
    let stem = file.strip_suffix(&format!(".{}", namespace.file_extension()))?;
    let (id, revision) = stem.rsplit_once('_')?;
    Some((id, revision.parse().ok()?))
}

/// Download query parameters.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DownloadParams {
    /// The channel the URL was handed out for (refresh results add it), counted with the
    /// download; anything that is not a channel counts as none.
    #[param(nullable = false, example = "latest/stable")]
    pub channel: Option<String>,
}

/// The artifact of one revision.
///
/// These are the URLs the info APIs hand out. A revision that is released (on a channel, or as
/// the revision a progressive release replaced), or older than the newest released one, can be
/// fetched by anyone who may see the package; a newer one (pushed, not released yet) only by
/// its publisher (or an admin), with a token. One `Range` of the forms `bytes=START-END`, `bytes=START-` and
/// `bytes=-SUFFIX` answers `206`; several ranges, or one that does not parse, are ignored, and
/// so is the range when `If-Range` names another validator than the file's ETag.
/// `If-None-Match` naming the ETag answers `304`. `HEAD` answers the headers only. A download
/// that starts at byte 0 is counted (see `GET /v1/{namespace}/{name}/downloads`).
#[utoipa::path(
    get,
    path = "/api/v1/{plural}/download/{file}",
    tag = "downloads",
    operation_id = "download",
    params(
        ("plural" = NamespacePlural, Path, description = "`snaps` or `charms`."),
        ("file" = String, Path, description = "`{package-id}_{revision}.snap` under `snaps`, `{package-id}_{revision}.charm` under `charms`.", example = "fJ74qYVg99lOk27Q3QDnd84WiY4hPAC4_1.snap"),
        ("range" = Option<String>, Header, nullable = false, description = "One byte range, e.g. `bytes=100-`.", example = "bytes=0-99"),
        ("if-range" = Option<String>, Header, nullable = false, description = "The file's ETag: the range is served only if it still names this file; anything else gets the whole file."),
        ("if-none-match" = Option<String>, Header, nullable = false, description = "ETags (or `*`): `304` when one is the file's."),
        DownloadParams,
    ),
    security((), ("macaroon" = [])),
    responses(
        (status = 200, description = "The whole file.", content_type = "application/octet-stream", body = Binary, headers(
            ("content-length" = u64, description = "Bytes in this response."),
            ("accept-ranges" = String, description = "`bytes`."),
            ("etag" = String, description = "The SHA3-384 of the whole file, quoted."),
            ("content-disposition" = String, description = "`attachment; filename=\"{name}_{revision}.{ext}\"`."),
        )),
        (status = 206, description = "The requested range.", content_type = "application/octet-stream", body = Binary, headers(
            ("content-length" = u64, description = "Bytes in this response."),
            ("content-range" = String, description = "`bytes START-END/SIZE`."),
            ("accept-ranges" = String, description = "`bytes`."),
            ("etag" = String, description = "The SHA3-384 of the whole file, quoted."),
            ("content-disposition" = String, description = "`attachment; filename=\"{name}_{revision}.{ext}\"`."),
        )),
        (status = 304, description = "`If-None-Match` names the file's ETag.", headers(
            ("etag" = String, description = "The SHA3-384 of the whole file, quoted."),
        )),
        (status = 400, description = "`invalid-path`.", body = ErrorBody),
        (status = 401, description = "`invalid-token`, `token-expired`: a token was sent and is not valid.", body = ErrorBody, headers(("www-authenticate" = String, description = "`Macaroon`"))),
        (status = 404, description = "`download-not-found`: a malformed file name, an unknown package or revision, the wrong namespace, a private package the caller may not see, or a revision newer than the package's newest release and the caller is not its publisher; `blob-not-found`: the file is missing from blob storage; `not-found`: not under `snaps` or `charms`.", body = ErrorBody),
        (status = 416, description = "`range-not-satisfiable`: the range starts at or beyond the end of the file.", body = ErrorBody, headers(
            ("content-range" = String, description = "`bytes */SIZE`."),
        )),
    ),
)]
async fn download(
    State(app): State<AppState>,
    Path((plural, file)): Path<(String, String)>,
    Query(params): Query<DownloadParams>,
    MaybeAuth(principal): MaybeAuth,
    method: axum::http::Method,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let namespace = match plural.as_str() {
        "snaps" => Namespace::Snap,
        "charms" => Namespace::Charm,
        _ => {
            return Err(ApiError::not_found(
                "not-found",
                "downloads live under /api/v1/snaps/ and /api/v1/charms/",
            ));
        }
    };
    let not_found = || {
        ApiError::not_found(
            "download-not-found",
            format!(
                "no {namespace} file {file:?} in this store (a revision newer than the \
                 package's newest release is only for its publisher, with a token)"
            ),
        )
    };
    let (id, number) = parse_file(&file, namespace).ok_or_else(not_found)?;
    let catalog = app.catalog.snapshot();
    let state = catalog
        .get_by_id(id)
        .filter(|s| s.package.namespace == namespace && can_see(s, principal.as_ref()))
        .ok_or_else(not_found)?;
    let revision = state
        .revisions
        .iter()
        .find(|r| r.revision == number)
        .filter(|_| {
            is_publisher(state, principal.as_ref())
                || state.is_public_revision(number, chrono::Utc::now().timestamp())
        })
        .ok_or_else(not_found)?;
    let filename = format!(
        "{}_{}.{}",
        state.package.name,
        number,
        namespace.file_extension()
    );
    let stored = StoredFile {
        sha3_384: &revision.sha3_384,
        size: revision.size,
        filename: &filename,
        package: &state.package.name,
    };
    serve_file(&app, &method, &headers, stored, || {
        app.metrics
            .downloads
            .with_label_values(&[namespace.as_str()])
            .inc();
        let channel = params
            .channel
            .as_deref()
            .and_then(|c| crate::domain::Channel::parse(c).ok())
            .map(|c| c.full())
            .unwrap_or_default();
        app.downloads.record(&state.package.id, &channel);
    })
    .await
}

/// A file in blob storage, as a download serves it.
pub(crate) struct StoredFile<'a> {
    pub sha3_384: &'a str,
    pub size: u64,
    /// The name `Content-Disposition` gives it.
    pub filename: &'a str,
    /// The package it belongs to, for the log should the file be missing.
    pub package: &'a str,
}

/// Answers a GET or HEAD of `file`: the whole file, or one `Range` of it (`206`, `416`),
/// `If-Range` and `If-None-Match` (`304`) against its ETag (its SHA3-384, quoted), with
/// `Content-Length`, `Accept-Ranges`, `ETag` and `Content-Disposition`. `started` runs once
/// for a download that starts at byte 0 (not for `HEAD`, not for a resumed one): where a
/// download is counted.
pub(crate) async fn serve_file(
    app: &AppState,
    method: &axum::http::Method,
    headers: &HeaderMap,
    file: StoredFile<'_>,
    started: impl FnOnce(),
) -> ApiResult<Response> {
    let size = file.size;
    let etag = format!("\"{}\"", file.sha3_384);
    // A file never changes under its name, but a client may still ask as if it could.
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| matches_etag(tags, &etag))
    {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        response
            .headers_mut()
            .insert(header::ETAG, HeaderValue::from_str(&etag).expect("hex"));
        return Ok(response);
    }
    // `If-Range` with another validator (an older ETag, or a date: depot sends no
    // Last-Modified) asks for the whole file instead of the range.
    let if_range_holds = headers
        .get(header::IF_RANGE)
        .is_none_or(|v| v.as_bytes() == etag.as_bytes());
    let range = headers
        .get(header::RANGE)
        .filter(|_| if_range_holds)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_range);
    let (status, start, len) = match range {
        None => (StatusCode::OK, 0, size),
        Some(range) => {
            let (start, end) = match range {
                ByteRange::From(start, end) => {
                    (start, end.unwrap_or(u64::MAX).min(size.saturating_sub(1)))
                }
                ByteRange::Suffix(n) => (size.saturating_sub(n), size.saturating_sub(1)),
            };
            if start >= size || size == 0 {
                let mut response = ApiError::new(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "range-not-satisfiable",
                    format!("the file has {size} bytes"),
                )
                .into_response();
                response.headers_mut().insert(
                    header::CONTENT_RANGE,
                    HeaderValue::from_str(&format!("bytes */{size}")).expect("ascii"),
                );
                return Ok(response);
            }
            (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
        }
    };
    if start == 0 && method != axum::http::Method::HEAD {
        started();
    }
    let blob = app
        .blobs
        .get(file.sha3_384, start, Some(len))
        .await
        .map_err(|e| lost_blob(e, file.package, file.sha3_384))?;
    let body = Body::from_stream(tokio_util::io::ReaderStream::with_capacity(
        blob.reader,
        256 * 1024,
    ));
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::ETAG, HeaderValue::from_str(&etag).expect("hex"));
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}\"",
        safe_filename(file.filename)
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if status == StatusCode::PARTIAL_CONTENT {
        let range = format!("bytes {}-{}/{}", start, start + len - 1, size);
        h.insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&range).expect("ascii"),
        );
    }
    Ok(response)
}

/// A file name fit for a quoted `Content-Disposition` value: its last path component, with
/// quotes, backslashes and anything but printable ASCII as `_` (a resource's file name comes
/// from the charm's metadata).
fn safe_filename(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let safe: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    match safe.trim_matches('.') {
        "" => "download".to_string(),
        _ => safe,
    }
}

/// Whether an `If-None-Match` list (`"a", W/"b"` or `*`) names `etag` (weakly compared, as
/// RFC 9110 says for this header).
fn matches_etag(tags: &str, etag: &str) -> bool {
    tags.split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// A released file missing from blob storage is data the operator has lost, not a client's
/// mistake: said as an error in the log (the client gets `404 blob-not-found`).
pub(crate) fn lost_blob(err: crate::blobs::BlobError, package: &str, sha3_384: &str) -> ApiError {
    if let crate::blobs::BlobError::NotFound(_) = &err {
        tracing::error!(
            package,
            sha3_384,
            "a released file is missing from blob storage; restore it from a backup (see docs/how-to/back-up-and-restore.md)"
        );
    }
    err.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_stay_in_their_quotes() {
        assert_eq!(safe_filename("hello_1.snap"), "hello_1.snap");
        assert_eq!(safe_filename("../../etc/passwd"), "passwd");
        assert_eq!(safe_filename("a\\b.bin"), "b.bin");
        assert_eq!(safe_filename("x\"; y=\"z.bin"), "x_; y=_z.bin");
        assert_eq!(safe_filename("données\r\n.bin"), "donn_es__.bin");
        assert_eq!(safe_filename(".."), "download");
        assert_eq!(safe_filename("dir/"), "download");
    }

    #[test]
    fn etag_lists() {
        let etag = "\"abc\"";
        assert!(matches_etag("\"abc\"", etag));
        assert!(matches_etag("\"x\", W/\"abc\"", etag));
        assert!(matches_etag("*", etag));
        assert!(!matches_etag("\"abcd\"", etag));
        assert!(!matches_etag("abc", etag));
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-"), Some(ByteRange::From(0, None)));
        assert_eq!(
            parse_range("bytes=10-19"),
            Some(ByteRange::From(10, Some(19)))
        );
        assert_eq!(parse_range("bytes=-5"), Some(ByteRange::Suffix(5)));
        assert_eq!(parse_range("bytes=5-1"), None);
        assert_eq!(parse_range("bytes=0-1,5-6"), None);
        assert_eq!(parse_range("items=0-1"), None);
    }

    #[test]
    fn file_names() {
        assert_eq!(
            parse_file("abc_12.snap", Namespace::Snap),
            Some(("abc", 12))
        );
        assert_eq!(parse_file("abc_12.charm", Namespace::Snap), None);
        assert_eq!(parse_file("abc.snap", Namespace::Snap), None);
    }
}

#[cfg(test)]
mod log_tests {
    use super::*;
    use crate::blobs::BlobError;
    use crate::telemetry::test_lines::Lines;

    fn logged(err: BlobError) -> (String, String) {
        let lines = Lines::default();
        let code = tracing::subscriber::with_default(lines.subscriber(), || {
            lost_blob(err, "hello", "abc").code.to_string()
        });
        (code, lines.text())
    }

    #[test]
    fn a_missing_released_file_is_an_error_in_the_log() {
        let (code, log) = logged(BlobError::NotFound("abc".into()));
        assert_eq!(code, "blob-not-found");
        assert!(
            log.contains("ERROR") && log.contains("restore it from a backup"),
            "{log}"
        );
        assert!(
            log.contains("package=\"hello\"") || log.contains("package=hello"),
            "{log}"
        );
        // Other failures are reported where they are answered (a 500 logs its cause).
        let (_, log) = logged(BlobError::InvalidName("x".into()));
        assert!(log.is_empty(), "{log}");
    }
}
