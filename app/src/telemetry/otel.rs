//! The OpenTelemetry side of tracing: the tracer provider and the `tracing` bridge when the
//! standard `OTEL_*` environment variables ask for OTLP/HTTP export (and nothing otherwise),
//! and W3C Trace Context for incoming requests.

use std::sync::OnceLock;

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{SpanId, TraceContextExt, TraceId, TracerProvider as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::registry::{LookupSpan, SpanData};

/// The process's tracer provider, kept for [`shutdown`]. A static is never dropped, so the
/// exporter's blocking HTTP client is never dropped inside the async runtime.
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Whether spans go through the OpenTelemetry bridge (only when they are exported).
static BRIDGED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether request spans are OpenTelemetry spans, exported to a collector. When not, depot
/// mints trace ids itself ([`RequestTrace::new`]) and builds no OpenTelemetry span at all:
/// the bridge would cost a third of a simple request's time for spans nobody receives.
pub fn bridged() -> bool {
    BRIDGED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Whether log lines name their trace (the JSON format does).
static IDS_IN_LOGS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Makes [`RequestTrace::attach`] keep the ids with request spans, for log lines to name.
pub(super) fn keep_ids_for_logs() {
    IDS_IN_LOGS.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// What [`layer`] set up, logged once the subscriber is installed.
pub(super) enum Status {
    Disabled,
    Exporting {
        endpoint: String,
        protocol: &'static str,
    },
    Failed(String),
}

impl Status {
    pub(super) fn log(&self) {
        match self {
            Status::Disabled => tracing::debug!("OTLP trace export is off"),
            Status::Exporting { endpoint, protocol } => {
                tracing::info!(%endpoint, protocol, "exporting traces over OTLP")
            }
            Status::Failed(reason) => {
                tracing::warn!(%reason, "OTLP trace export is off")
            }
        }
    }
}

/// The `tracing` layer that turns spans into OpenTelemetry spans, and what it exports to.
///
/// Spans at INFO and above are bridged (store calls, blob operations, requests), whatever
/// `RUST_LOG` says about logs. The HTTP client libraries the exporter itself uses are left out
/// so that exporting never produces spans to export.
pub(super) fn layer<S>() -> (Option<Box<dyn Layer<S> + Send + Sync>>, Status)
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
{
    let (exporter, endpoint, protocol) = match exporter() {
        Ok(Some(exporting)) => exporting,
        Ok(None) => return (None, Status::Disabled),
        Err(reason) => return (None, Status::Failed(reason)),
    };
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource())
        .build();
    let tracer = provider.tracer("depot");
    opentelemetry::global::set_tracer_provider(provider.clone());
    let _ = PROVIDER.set(provider);
    let filter = Targets::new()
        .with_default(LevelFilter::INFO)
        .with_target("sqlx", LevelFilter::WARN)
        .with_target("hyper", LevelFilter::OFF)
        .with_target("hyper_util", LevelFilter::OFF)
        .with_target("h2", LevelFilter::OFF)
        .with_target("reqwest", LevelFilter::OFF)
        .with_target("opentelemetry", LevelFilter::OFF)
        .with_target("opentelemetry_sdk", LevelFilter::OFF)
        .with_target("opentelemetry_otlp", LevelFilter::OFF);
    let layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_threads(false)
        .with_tracked_inactivity(false)
        .with_filter(filter)
        .boxed();
    BRIDGED.store(true, std::sync::atomic::Ordering::Relaxed);
    (Some(layer), Status::Exporting { endpoint, protocol })
}

fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The OTLP exporter the environment asks for, if any: `None` when no endpoint is set,
/// `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`.
fn exporter() -> Result<Option<(opentelemetry_otlp::SpanExporter, String, &'static str)>, String> {
    use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};

    if env("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return Ok(None);
    }
    match env("OTEL_TRACES_EXPORTER").as_deref() {
        None | Some("otlp") => {}
        Some("none") => return Ok(None),
        Some(other) => {
            return Err(format!(
                "OTEL_TRACES_EXPORTER={other} is not supported; depot exports traces with `otlp`"
            ));
        }
    }
    let endpoint = match (
        env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
        env("OTEL_EXPORTER_OTLP_ENDPOINT"),
    ) {
        (Some(traces), _) => traces,
        (None, Some(base)) => format!("{}/v1/traces", base.trim_end_matches('/')),
        (None, None) => return Ok(None),
    };
    let requested = env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .or_else(|| env("OTEL_EXPORTER_OTLP_PROTOCOL"))
        .unwrap_or_else(|| "http/protobuf".to_string());
    let (protocol, name) = match requested.to_ascii_lowercase().as_str() {
        "http/protobuf" => (Protocol::HttpBinary, "http/protobuf"),
        "http/json" => (Protocol::HttpJson, "http/json"),
        other => {
            return Err(format!(
                "OTEL_EXPORTER_OTLP_PROTOCOL={other} is not supported; use http/protobuf \
                 (the default) or http/json with the collector's OTLP/HTTP port (4318)"
            ));
        }
    };
    // The exporter skips a compression it was not built with (zstd), or cannot parse, without
    // a word, and sends uncompressed: depot reads the setting and tells the exporter instead.
    let compression = [
        "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
        "OTEL_EXPORTER_OTLP_COMPRESSION",
    ]
    .into_iter()
    .find_map(|name| env(name).map(|value| (name, value)));
    let gzip = match &compression {
        None => false,
        Some((_, value)) if value.eq_ignore_ascii_case("none") => false,
        Some((_, value)) if value.eq_ignore_ascii_case("gzip") => true,
        Some((name, value)) => {
            return Err(format!(
                "{name}={value} is not supported; use gzip, or none"
            ));
        }
    };
    // The endpoint, timeout, headers and compression come from the OTEL_EXPORTER_OTLP_*
    // variables, read by the exporter itself; only the protocol is fixed here, because the
    // exporter's own default (with both HTTP encodings built in) is JSON, not the spec's
    // protobuf.
    let mut builder = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(protocol);
    if gzip {
        builder = builder.with_compression(opentelemetry_otlp::Compression::Gzip);
    }
    let exporter = builder
        .build()
        .map_err(|e| format!("cannot build the OTLP exporter for {endpoint}: {e}"))?;
    Ok(Some((exporter, endpoint, name)))
}

/// `service.name` is `OTEL_SERVICE_NAME` (or `service.name` in `OTEL_RESOURCE_ATTRIBUTES`),
/// else `depot`; `service.version` is depot's version.
fn resource() -> Resource {
    let mut builder = Resource::builder().with_attribute(opentelemetry::KeyValue::new(
        "service.version",
        env!("CARGO_PKG_VERSION"),
    ));
    let named = env("OTEL_SERVICE_NAME").is_some()
        || env("OTEL_RESOURCE_ATTRIBUTES").is_some_and(|attrs| {
            attrs
                .split(',')
                .any(|kv| kv.trim_start().starts_with("service.name="))
        });
    if !named {
        builder = builder.with_service_name("depot");
    }
    builder.build()
}

/// Flushes the spans not yet exported and stops the exporter. Blocks for up to a few seconds;
/// call it once, when the server has stopped.
pub fn shutdown() {
    if let Some(provider) = PROVIDER.get()
        && let Err(err) = provider.shutdown()
    {
        // The subscriber may already be gone with the runtime; say it plainly.
        eprintln!("warning: flushing traces failed: {err}");
    }
}

struct HeaderExtractor<'a>(&'a axum::http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// The caller's trace context from W3C `traceparent` / `tracestate` headers (an empty context
/// when absent or malformed).
pub fn parent_context(headers: &axum::http::HeaderMap) -> opentelemetry::Context {
    TraceContextPropagator::new().extract(&HeaderExtractor(headers))
}

/// The trace and span id of a live `tracing` span, if the OpenTelemetry bridge knows it.
pub(super) fn span_ids(
    id: &tracing::span::Id,
    dispatch: &tracing::Dispatch,
) -> Option<(TraceId, SpanId)> {
    let cx = tracing_opentelemetry::get_otel_context(id, dispatch)?;
    let span = cx.span();
    let context = span.span_context();
    context
        .is_valid()
        .then(|| (context.trace_id(), context.span_id()))
}

/// The trace of one request, as depot tells it in log lines (`trace_id`, `span_id`) and in the
/// W3C Trace Context Level 2 `traceresponse` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestTrace {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    /// Whether the request's span is recorded (exported).
    pub sampled: bool,
}

impl RequestTrace {
    /// depot's own ids for a request whose span is not exported: the caller's trace id when
    /// it sent a valid `traceparent`, else a new one, and a new span id.
    pub fn new(headers: &axum::http::HeaderMap) -> RequestTrace {
        let parent = headers
            .contains_key("traceparent")
            .then(|| parent_context(headers).span().span_context().trace_id())
            .filter(|id| *id != TraceId::INVALID);
        RequestTrace {
            trace_id: parent.unwrap_or_else(|| TraceId::from_bytes(random_id())),
            span_id: SpanId::from_bytes(random_id()),
            sampled: false,
        }
    }

    /// Makes `span` (the caller's trace continued) an OpenTelemetry span through the bridge,
    /// and reads back the ids the bridge gave it.
    pub fn bridged(span: &tracing::Span, headers: &axum::http::HeaderMap) -> Option<RequestTrace> {
        let _ = span.set_parent(parent_context(headers));
        let cx = span.context();
        let otel_span = cx.span();
        let context = otel_span.span_context();
        context.is_valid().then(|| RequestTrace {
            trace_id: context.trace_id(),
            span_id: context.span_id(),
            sampled: context.is_sampled(),
        })
    }

    /// Keeps the ids with `span`, where the JSON log format finds them for every line written
    /// inside it (when the logs are JSON).
    pub fn attach(self, span: &tracing::Span) {
        if !IDS_IN_LOGS.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        span.with_subscriber(|(id, dispatch)| {
            if let Some(registry) = dispatch.downcast_ref::<tracing_subscriber::Registry>()
                && let Some(data) = registry.span_data(id)
            {
                data.extensions_mut().insert(self);
            }
        });
    }

    /// `00-{trace-id}-{span-id}-{flags}`, telling the caller which trace its request is in.
    pub fn traceresponse(&self) -> Option<axum::http::HeaderValue> {
        let mut value = [0u8; 55];
        value[..3].copy_from_slice(b"00-");
        hex::encode_to_slice(self.trace_id.to_bytes(), &mut value[3..35]).ok()?;
        value[35] = b'-';
        hex::encode_to_slice(self.span_id.to_bytes(), &mut value[36..52]).ok()?;
        value[52..].copy_from_slice(if self.sampled { b"-01" } else { b"-00" });
        axum::http::HeaderValue::from_bytes(&value).ok()
    }
}

/// Random bytes for an id, never all zero (the invalid id).
fn random_id<const N: usize>() -> [u8; N] {
    loop {
        let bytes: [u8; N] = rand::random();
        if bytes.iter().any(|b| *b != 0) {
            return bytes;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_continues_the_callers_trace_or_starts_one() {
        let mut headers = axum::http::HeaderMap::new();
        let fresh = RequestTrace::new(&headers);
        assert_ne!(fresh.trace_id, TraceId::INVALID);
        assert_ne!(fresh.span_id, SpanId::INVALID);
        assert_ne!(RequestTrace::new(&headers).trace_id, fresh.trace_id);

        headers.insert(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
                .parse()
                .unwrap(),
        );
        let continued = RequestTrace::new(&headers);
        assert_eq!(
            continued.trace_id.to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_ne!(continued.span_id.to_string(), "00f067aa0ba902b7");
        let header = continued.traceresponse().unwrap();
        assert_eq!(
            header.to_str().unwrap(),
            format!(
                "00-4bf92f3577b34da6a3ce929d0e0e4736-{}-00",
                continued.span_id
            )
        );

        headers.insert("traceparent", "00-not-a-trace-01".parse().unwrap());
        assert_ne!(RequestTrace::new(&headers).trace_id, TraceId::INVALID);
    }
}
