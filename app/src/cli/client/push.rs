//! `depot push`: detect and inspect the artifact locally, stream it to the store without ever
//! holding it in memory, turn the upload into a revision, wait for the review, release.

use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use tokio_util::io::ReaderStream;

use super::api::{Api, Auth, ClientError, ErrorKind};
use super::{Format, emit, emit_json, release_lines};
use crate::domain::{Channel, Namespace};
use crate::inspect::{self, Kind, Limits};

/// Size of the chunks read from disk and sent: memory use stays flat whatever the file size.
const CHUNK: usize = 64 * 1024;
/// How long to wait for the store's review of a revision.
const REVIEW_TIMEOUT: Duration = Duration::from_secs(600);

/// The type and name an artifact declares.
fn identify(path: &Path) -> Result<(Namespace, String), ClientError> {
    let invalid = |e: inspect::InspectError| {
        ClientError::usage(e.code(), format!("{}: {}", path.display(), e))
    };
    let kind = inspect::detect(path).map_err(invalid)?;
    let limits = Limits::default();
    let (namespace, name) = match kind {
        Kind::Snap => (
            Namespace::Snap,
            inspect::inspect_snap(path, &limits).map_err(invalid)?.name,
        ),
        Kind::Charm => (
            Namespace::Charm,
            inspect::inspect_charm(path, &limits).map_err(invalid)?.name,
        ),
    };
    Ok((namespace, name))
}

fn progress_bar(length: u64) -> ProgressBar {
    if !std::io::stdout().is_terminal() || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{msg} [{wide_bar}] {bytes}/{total_bytes} {bytes_per_sec}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

pub async fn push(
    api: Api,
    file: &Path,
    release: &[String],
    format: Format,
) -> Result<(), ClientError> {
    let release: Vec<String> = release
        .iter()
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect();
    // Bad channels are caught before a byte is uploaded.
    for channel in &release {
        Channel::parse(channel).map_err(|e| invalid_channel(e.to_string()))?;
    }
    let metadata = std::fs::metadata(file).map_err(|e| {
        ClientError::usage(
            "file-unreadable",
            format!("cannot read {}: {e}", file.display()),
        )
    })?;
    if !metadata.is_file() {
        return Err(ClientError::usage(
            "file-unreadable",
            format!("{} is not a file", file.display()),
        ));
    }
    let length = metadata.len();
    let path = file.to_path_buf();
    let (namespace, name) = tokio::task::spawn_blocking(move || identify(&path))
        .await
        .map_err(|e| ClientError::usage("invalid-artifact", e.to_string()))??;

    // The name must be registered and the channels' tracks exist: checked before the
    // upload, which may be large.
    let package = api.package(namespace, &name).await.map_err(|e| {
        if e.kind == ErrorKind::NotFound {
            let flag = if namespace == Namespace::Charm {
                " --type charm"
            } else {
                ""
            };
            e.with_hint(format!(
                "register it first with `depot register {name}{flag}`"
            ))
        } else {
            e
        }
    })?;
    check_tracks(&package, &release)?;

    let opened = tokio::fs::File::open(file).await.map_err(|e| {
        ClientError::usage(
            "file-unreadable",
            format!("cannot read {}: {e}", file.display()),
        )
    })?;
    let bar = progress_bar(length);
    bar.set_message(format!("Uploading {name}"));
    let counter = bar.clone();
    let stream = ReaderStream::with_capacity(opened, CHUNK).inspect_ok(move |chunk| {
        counter.inc(chunk.len() as u64);
    });
    let file_name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| format!("{name}.{namespace}"));
    let part = Part::stream_with_length(reqwest::Body::wrap_stream(stream), length)
        .file_name(file_name)
        .mime_str("application/octet-stream")
        .map_err(|e| ClientError::usage("client-error", e.to_string()))?;
    let uploaded = api.upload(Form::new().part("binary", part)).await;
    bar.finish_and_clear();
    let upload_id = uploaded?;

    let pushed = api.push_revision(namespace, &name, &upload_id).await?;
    let mut revision = pushed.get("revision").and_then(Value::as_u64);
    if let Some(status_url) = pushed.get("status-url").and_then(Value::as_str) {
        revision = wait_for_review(&api, status_url).await?.or(revision);
    }
    let revision = revision.ok_or_else(|| {
        ClientError::new(
            ErrorKind::Store,
            "invalid-response",
            "the store did not say which revision it created",
        )
    })?;
    let revision = u32::try_from(revision).map_err(|_| {
        ClientError::new(
            ErrorKind::Store,
            "invalid-response",
            "revision number out of range",
        )
    })?;

    let released = if release.is_empty() {
        Value::Array(Vec::new())
    } else {
        let answer = api
            .release(namespace, &name, &release, Some(revision))
            .await
            .map_err(|e| {
                let hint = format!(
                    "revision {revision} was pushed; release it with `depot release {name} {revision} CHANNEL`"
                );
                e.or_hint(hint)
            })?;
        answer.get("released").cloned().unwrap_or(Value::Null)
    };

    if format == Format::Json {
        emit_json(&json!({
            "name": name,
            "type": namespace.as_str(),
            "revision": revision,
            "upload-id": upload_id,
            "released": released,
        }));
    } else {
        let mut out = format!("Revision {revision} of {namespace} {name} created.\n");
        out.push_str(&release_lines(&name, &json!({"released": released})));
        emit(&out);
    }
    Ok(())
}

fn invalid_channel(message: String) -> ClientError {
    ClientError::usage("invalid-channel", message)
        .with_hint("a channel is [track/]risk[/branch] with risk stable, candidate, beta or edge")
}

/// Checks `channels` against the package's tracks (`GET /v1/{ns}/{name}` answer), reading a
/// channel without a track as the package's default track.
fn check_tracks(package: &Value, channels: &[String]) -> Result<(), ClientError> {
    let metadata = package.get("metadata").unwrap_or(&Value::Null);
    let default_track = metadata
        .get("default-track")
        .and_then(Value::as_str)
        .unwrap_or(crate::domain::DEFAULT_TRACK);
    let tracks: Vec<&str> = metadata
        .get("tracks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.get("name").and_then(Value::as_str))
        .collect();
    for raw in channels {
        let channel = Channel::parse_with_default_track(raw, default_track)
            .map_err(|e| invalid_channel(e.to_string()))?;
        if !tracks.is_empty() && !tracks.contains(&channel.track.as_str()) {
            return Err(ClientError::usage(
                "track-not-found",
                format!(
                    "cannot release to {raw}: the track {:?} does not exist (existing: {})",
                    channel.track,
                    tracks.join(", ")
                ),
            )
            .with_hint(format!(
                "nothing was uploaded; create the track with `depot create-track {} {}{}` (a token with package-manage), then push again",
                metadata.get("name").and_then(Value::as_str).unwrap_or("NAME"),
                channel.track,
                if metadata.get("type").and_then(Value::as_str) == Some("charm") {
                    " --type charm"
                } else {
                    ""
                }
            )));
        }
    }
    Ok(())
}

/// Polls the review status until the store approves or rejects the revision; returns the
/// revision number it reports.
async fn wait_for_review(api: &Api, status_url: &str) -> Result<Option<u64>, ClientError> {
    let url = api.url_of_path(status_url)?;
    let started = Instant::now();
    let mut delay = Duration::from_millis(200);
    loop {
        let answer = api.get_url(url.clone(), Auth::Required).await?;
        let review = answer
            .get("revisions")
            .and_then(Value::as_array)
            .and_then(|list| list.first())
            .cloned()
            .unwrap_or(Value::Null);
        let revision = review.get("revision").and_then(Value::as_u64);
        match review.get("status").and_then(Value::as_str) {
            Some("approved") => return Ok(revision),
            Some("rejected") => {
                let errors: Vec<String> = review
                    .get("errors")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|e| {
                        e.get("message")
                            .and_then(Value::as_str)
                            .map(str::to_string)
                            .unwrap_or_else(|| e.to_string())
                    })
                    .collect();
                return Err(ClientError::new(
                    ErrorKind::Store,
                    "review-rejected",
                    format!("the store rejected the revision: {}", errors.join("; ")),
                ));
            }
            _ if started.elapsed() > REVIEW_TIMEOUT => {
                return Err(ClientError::new(
                    ErrorKind::Store,
                    "review-timeout",
                    format!(
                        "the store did not finish reviewing the upload within {} s",
                        REVIEW_TIMEOUT.as_secs()
                    ),
                ));
            }
            _ => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}
