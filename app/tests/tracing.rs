//! Traces and JSON logs of the real `depot serve`: a small OTLP/HTTP receiver in the test gets
//! depot's spans; a request's span continues the caller's W3C `traceparent`, store calls are
//! its children, the resource carries `OTEL_SERVICE_NAME`, spans still buffered are flushed
//! on shutdown, and every JSON log line of the request carries its trace id. Without export,
//! requests still get trace ids, in `traceresponse` and in the logs.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{Span, span::SpanKind};
use prost::Message;
use serde_json::Value;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";

fn depot(dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_depot"));
    command.current_dir(dir);
    for (key, _) in std::env::vars() {
        if key.starts_with("DEPOT_")
            || key.starts_with("OTEL_")
            || key == "DATABASE_URL"
            || key == "RUST_LOG"
        {
            command.env_remove(key);
        }
    }
    command
}

fn run(command: &mut Command) -> String {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// One exported span with what the assertions need from its envelope.
#[derive(Clone, Debug)]
struct Received {
    service_name: Option<String>,
    span: Span,
    /// The request's `Content-Encoding`, if any.
    encoding: Option<String>,
}

/// An OTLP/HTTP (protobuf) trace receiver on a free port.
async fn receiver() -> (SocketAddr, Arc<Mutex<Vec<Received>>>) {
    let received = Arc::new(Mutex::new(Vec::<Received>::new()));
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let sink = sink.clone();
            async move {
                // OTLP/HTTP with protobuf unless OTEL_EXPORTER_OTLP_PROTOCOL says otherwise.
                if headers
                    .get("content-type")
                    .is_none_or(|v| v != "application/x-protobuf")
                {
                    return (
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        [("content-type", "text/plain")],
                        Vec::new(),
                    );
                }
                let encoding = headers
                    .get("content-encoding")
                    .map(|v| v.to_str().unwrap().to_string());
                let body = match encoding.as_deref() {
                    None => body.to_vec(),
                    Some("gzip") => {
                        let mut plain = Vec::new();
                        std::io::Read::read_to_end(
                            &mut flate2::read::GzDecoder::new(&body[..]),
                            &mut plain,
                        )
                        .unwrap();
                        plain
                    }
                    Some(_) => {
                        return (
                            StatusCode::UNSUPPORTED_MEDIA_TYPE,
                            [("content-type", "text/plain")],
                            Vec::new(),
                        );
                    }
                };
                let Ok(request) = ExportTraceServiceRequest::decode(&body[..]) else {
                    return (
                        StatusCode::BAD_REQUEST,
                        [("content-type", "text/plain")],
                        Vec::new(),
                    );
                };
                let mut sink = sink.lock().unwrap();
                for resource_spans in request.resource_spans {
                    let service_name = resource_spans
                        .resource
                        .as_ref()
                        .and_then(|r| string_attribute(&r.attributes, "service.name"));
                    for scope_spans in resource_spans.scope_spans {
                        for span in scope_spans.spans {
                            sink.push(Received {
                                service_name: service_name.clone(),
                                span,
                                encoding: encoding.clone(),
                            });
                        }
                    }
                }
                (
                    StatusCode::OK,
                    [("content-type", "application/x-protobuf")],
                    ExportTraceServiceResponse::default().encode_to_vec(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, received)
}

fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v: &AnyValue| v.value.as_ref())
}

fn string_attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    match attribute(attributes, key)? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        _ => None,
    }
}

fn int_attribute(attributes: &[KeyValue], key: &str) -> Option<i64> {
    match attribute(attributes, key)? {
        any_value::Value::IntValue(i) => Some(*i),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_spans_continue_the_callers_trace_and_reach_the_collector() {
    let (collector, received) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    run(depot(dir.path()).args(["admin", "create-account", "--username", "alice"]));
    let token = run(depot(dir.path()).args(["admin", "create-token", "--username", "alice"]))
        .trim()
        .to_string();

    let mut serve = depot(dir.path());
    serve
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{collector}"))
        .env("OTEL_SERVICE_NAME", "depot-test")
        // Nothing is exported before shutdown: the spans arriving prove the final flush.
        .env("OTEL_BSP_SCHEDULE_DELAY", "600000");
    let server = Serving::start(serve);

    let client = reqwest::Client::new();
    let base = server.base.clone();
    let response = client
        .get(format!("{base}/v1/tokens/whoami"))
        .header("authorization", format!("Macaroon {token}"))
        .header("traceparent", format!("00-{TRACE_ID}-{PARENT_ID}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let trace_response = response.headers()["traceresponse"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        trace_response.starts_with(&format!("00-{TRACE_ID}-"))
            && !trace_response.contains(PARENT_ID),
        "the answer names the caller's trace and depot's own span: {trace_response}"
    );
    // Without a traceparent a request starts a trace of its own.
    let response = client
        .get(format!("{base}/v2/snaps/info/nothing-here"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let (json, lines) = server.stop().await;

    let spans = received.lock().unwrap().clone();
    let names: Vec<&str> = spans.iter().map(|r| r.span.name.as_str()).collect();
    let request = spans
        .iter()
        .find(|r| r.span.name == "GET /v1/tokens/whoami")
        .unwrap_or_else(|| panic!("no whoami request span among {names:?}"));
    assert_eq!(request.service_name.as_deref(), Some("depot-test"));
    assert_eq!(hex(&request.span.trace_id), TRACE_ID, "continues the trace");
    assert_eq!(
        hex(&request.span.parent_span_id),
        PARENT_ID,
        "is a child of the caller's span"
    );
    assert_eq!(request.span.kind, SpanKind::Server as i32);
    assert!(trace_response.contains(&hex(&request.span.span_id)));
    let attrs = &request.span.attributes;
    assert_eq!(
        string_attribute(attrs, "http.route").as_deref(),
        Some("/v1/tokens/whoami")
    );
    assert_eq!(
        string_attribute(attrs, "http.request.method").as_deref(),
        Some("GET")
    );
    assert_eq!(
        int_attribute(attrs, "http.response.status_code"),
        Some(200),
        "{attrs:?}"
    );
    assert_eq!(
        string_attribute(attrs, "trace_id").as_deref(),
        Some(TRACE_ID)
    );

    // The token lookup is a child of the request span.
    let lookup = spans
        .iter()
        .find(|r| r.span.name == "token_by_hash" && r.span.trace_id == request.span.trace_id)
        .unwrap_or_else(|| panic!("no token_by_hash span in the trace among {names:?}"));
    assert_eq!(lookup.span.parent_span_id, request.span.span_id);
    assert!(lookup.span.start_time_unix_nano >= request.span.start_time_unix_nano);
    // It began during the request. (Its end is recorded when the last handle to it drops,
    // which may be a pool task on another thread just after the request span closed: under
    // load the two ends race, so they are not compared.)
    assert!(lookup.span.start_time_unix_nano <= request.span.end_time_unix_nano);

    // The request without traceparent is the root of another trace.
    let info = spans
        .iter()
        .find(|r| r.span.name == "GET /v2/snaps/info/{name}")
        .unwrap_or_else(|| panic!("no info request span among {names:?}"));
    assert!(info.span.parent_span_id.is_empty());
    assert_ne!(info.span.trace_id, request.span.trace_id);
    assert_eq!(
        int_attribute(&info.span.attributes, "http.response.status_code"),
        Some(404)
    );

    // JSON logs: one object per line; every line written inside a span carries the trace id.
    let finished = finished(&json);
    assert_eq!(finished.len(), 2, "{lines:#?}");
    assert_eq!(finished[0]["trace_id"], TRACE_ID, "{}", finished[0]);
    assert_eq!(finished[0]["span"]["http.route"], "/v1/tokens/whoami");
    assert_eq!(finished[0]["status"], 200);
    assert_eq!(
        finished[1]["trace_id"].as_str(),
        Some(hex(&info.span.trace_id).as_str()),
        "{}",
        finished[1]
    );
    for line in &json {
        if line.get("span").is_some() {
            assert!(line["trace_id"].is_string(), "{line}");
        }
    }
    assert!(
        json.iter()
            .any(|v| v["message"] == "exporting traces over OTLP"),
        "{lines:#?}"
    );
}

/// A `depot serve` with JSON logs on a free port, started and serving.
struct Serving {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    /// What it has written to stderr so far.
    seen: Vec<String>,
    base: String,
}

impl Serving {
    /// Starts `command` (from [`depot`], with any environment set) as `depot serve`.
    fn start(mut command: Command) -> Serving {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = command
            .arg("serve")
            .env("DEPOT_LISTEN", format!("127.0.0.1:{port}"))
            .env("DEPOT_LOG_FORMAT", "json")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut seen = Vec::new();
        let started = Instant::now();
        while !seen.iter().any(|l: &String| l.contains("depot is serving")) {
            assert!(started.elapsed() < Duration::from_secs(30), "{seen:#?}");
            if let Ok(line) = lines.recv_timeout(Duration::from_secs(30)) {
                seen.push(line);
            }
        }
        Serving {
            child,
            lines,
            seen,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Stops it with SIGTERM (it must exit cleanly); every line it wrote, parsed, and as text.
    async fn stop(mut self) -> (Vec<Value>, Vec<String>) {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        let mut child = self.child;
        let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
            .await
            .unwrap();
        assert!(status.success(), "{status}");
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
        let json = self
            .seen
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        (json, self.seen)
    }
}

/// The access log lines.
fn finished(json: &[Value]) -> Vec<&Value> {
    json.iter()
        .filter(|v| v["message"] == "finished processing request")
        .collect()
}

/// `OTEL_EXPORTER_OTLP_COMPRESSION=gzip`: the spans reach the collector compressed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_can_be_sent_compressed() {
    let (collector, received) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let mut serve = depot(dir.path());
    serve
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{collector}"))
        // As an operator may write it: the exporter alone would not parse this and would
        // send uncompressed.
        .env("OTEL_EXPORTER_OTLP_COMPRESSION", " GZIP ")
        .env("OTEL_BSP_SCHEDULE_DELAY", "600000");
    let server = Serving::start(serve);
    let response = reqwest::get(format!("{}/v2/snaps/info/nothing-here", server.base))
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    server.stop().await;
    let spans = received.lock().unwrap().clone();
    let span = spans
        .iter()
        .find(|r| r.span.name == "GET /v2/snaps/info/{name}")
        .unwrap_or_else(|| panic!("no info request span among {spans:?}"));
    assert_eq!(span.encoding.as_deref(), Some("gzip"));

    // A compression depot is not built with is said, not skipped in silence. (Stopped as soon
    // as it says it serves: a SIGTERM then must stop it cleanly too.)
    let mut serve = depot(dir.path());
    serve
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{collector}"))
        .env("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd");
    let (_, lines) = Serving::start(serve).stop().await;
    assert!(
        lines
            .iter()
            .any(|l| l.contains("OTEL_EXPORTER_OTLP_COMPRESSION=zstd is not supported")),
        "{lines:?}"
    );
}

/// Without an OTLP endpoint nothing is exported and no OpenTelemetry span is built, yet every
/// request still has a trace: the caller's continued, or a new one; `traceresponse` names it
/// (flags `00`: not recorded), and the JSON log lines of the request carry the same ids.
#[tokio::test]
async fn without_export_requests_still_have_trace_ids_in_headers_and_logs() {
    let dir = tempfile::tempdir().unwrap();
    run(depot(dir.path()).args(["admin", "create-account", "--username", "alice"]));
    let token = run(depot(dir.path()).args([
        "admin",
        "create-token",
        "--username",
        "alice",
        "--description",
        "laptop",
    ]))
    .trim()
    .to_string();
    let server = Serving::start(depot(dir.path()));
    let client = reqwest::Client::new();
    let base = server.base.clone();
    let continued = client
        .get(format!("{base}/v2/snaps/info/nothing-here"))
        .header("traceparent", format!("00-{TRACE_ID}-{PARENT_ID}-01"))
        .header("x-request-id", "report-1234")
        .send()
        .await
        .unwrap();
    assert_eq!(continued.status(), 404);
    assert_eq!(continued.headers()["x-request-id"], "report-1234");
    let continued = continued.headers()["traceresponse"]
        .to_str()
        .unwrap()
        .to_string();
    let parts: Vec<&str> = continued.split('-').collect();
    assert_eq!(parts.len(), 4, "{continued}");
    assert_eq!(
        (parts[0], parts[1], parts[3]),
        ("00", TRACE_ID, "00"),
        "{continued}"
    );
    assert_eq!(parts[2].len(), 16);
    assert_ne!(parts[2], PARENT_ID, "depot's span, not the caller's");

    let fresh = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(fresh.status(), 200);
    let request_id = fresh.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(request_id.len(), 36, "a UUID: {request_id}");
    let fresh = fresh.headers()["traceresponse"]
        .to_str()
        .unwrap()
        .to_string();
    let fresh_trace = fresh.split('-').nth(1).unwrap().to_string();
    assert_ne!(fresh_trace, TRACE_ID);
    assert_ne!(fresh_trace, "0".repeat(32));

    // A request with a token: its log lines say whose.
    let whoami = client
        .get(format!("{base}/v1/tokens/whoami"))
        .header("authorization", format!("Macaroon {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(whoami.status(), 200);

    let (json, lines) = server.stop().await;
    let finished = finished(&json);
    assert_eq!(finished.len(), 3, "{lines:#?}");
    let (info, health, mine) = (finished[0], finished[1], finished[2]);
    assert_eq!(mine["span"]["account"], "alice", "{mine}");
    assert!(
        mine["span"]["token"]
            .as_str()
            .is_some_and(|t| !t.is_empty()),
        "{mine}"
    );
    assert!(info["span"].get("account").is_none(), "{info}");
    assert_eq!(info["trace_id"], TRACE_ID, "{info}");
    assert_eq!(info["span_id"], parts[2], "{info}");
    assert_eq!(info["span"]["request_id"], "report-1234", "{info}");
    assert_eq!(info["http.route"], "/v2/snaps/info/{name}", "{info}");
    assert_eq!(info["url.path"], "/v2/snaps/info/nothing-here", "{info}");
    assert_eq!(info["status"], 404, "{info}");
    assert_eq!(info["target"], "depot::access", "{info}");
    assert_eq!(
        health["trace_id"].as_str(),
        Some(fresh_trace.as_str()),
        "{health}"
    );
    assert_eq!(
        health["span"]["request_id"].as_str(),
        Some(request_id.as_str())
    );
    assert!(
        !json
            .iter()
            .any(|v| v["message"] == "exporting traces over OTLP"),
        "{lines:#?}"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
