//! The OpenTelemetry side of tracing: the tracer provider (OTLP/HTTP export when configured by
//! the standard `OTEL_*` environment variables, otherwise a provider that samples nothing), the
//! `tracing` bridge, and W3C Trace Context for incoming requests.

use std::sync::OnceLock;

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{SpanId, TraceContextExt, TraceId, TracerProvider as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::registry::LookupSpan;

/// The process's tracer provider, kept for [`shutdown`]. A static is never dropped, so the
/// exporter's blocking HTTP client is never dropped inside the async runtime.
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

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
pub(super) fn layer<S>() -> (Box<dyn Layer<S> + Send + Sync>, Status)
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
{
    let (provider, status) = match exporter() {
        Ok(Some((exporter, endpoint, protocol))) => (
            SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_resource(resource())
                .build(),
            Status::Exporting { endpoint, protocol },
        ),
        Ok(None) => (disabled_provider(), Status::Disabled),
        Err(reason) => (disabled_provider(), Status::Failed(reason)),
    };
    let tracer = provider.tracer("depot");
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
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
    (layer, status)
}

/// Spans get trace and span ids (for the logs and `traceresponse`) but are neither recorded nor
/// sent anywhere.
fn disabled_provider() -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_sampler(Sampler::AlwaysOff)
        .build()
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
    use opentelemetry_otlp::{Protocol, WithExportConfig};

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
    // The endpoint, timeout, headers and compression come from the OTEL_EXPORTER_OTLP_*
    // variables, read by the exporter itself; only the protocol is fixed here, because the
    // exporter's own default (with both HTTP encodings built in) is JSON, not the spec's
    // protobuf.
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(protocol)
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

/// A W3C Trace Context Level 2 `traceresponse` value for `span`
/// (`00-{trace-id}-{span-id}-{flags}`), telling the caller which trace its request is in.
pub fn trace_response_header(span: &tracing::Span) -> Option<axum::http::HeaderValue> {
    let cx = span.context();
    let otel_span = cx.span();
    let context = otel_span.span_context();
    if !context.is_valid() {
        return None;
    }
    axum::http::HeaderValue::from_str(&format!(
        "00-{}-{}-{:02x}",
        context.trace_id(),
        context.span_id(),
        context.trace_flags().to_u8()
    ))
    .ok()
}
