//! Logs, traces and metrics.
//!
//! - Logs go to standard error through `tracing`: text for people, or one JSON object per line
//!   (with the `trace_id` and `span_id` of the request it belongs to) for log collectors.
//!   `RUST_LOG` sets the filter.
//! - Traces: every request, store call and blob operation is a `tracing` span, bridged to
//!   OpenTelemetry. A W3C `traceparent` on a request makes its span a child of the caller's.
//!   When `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, spans
//!   are exported over OTLP/HTTP; otherwise there is no OpenTelemetry span at all, but requests
//!   still get a trace id (the caller's, or a new one) for the logs and `traceresponse`.
//! - Metrics: [`metrics`], Prometheus at `/metrics`.

mod json;
pub mod metrics;
mod otel;
#[cfg(test)]
pub(crate) mod test_lines;
mod text;

pub use otel::{RequestTrace, bridged, shutdown};

use tracing::Subscriber;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::{FmtContext, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::config::LogFormat;
use json::JsonLine;
use text::{HumanFields, TextLine};

/// The log filter when `RUST_LOG` is not set.
pub const DEFAULT_LOG_FILTER: &str = "info,sqlx=warn";

/// Installs the global subscriber: logs in `format`, and the OpenTelemetry bridge (see
/// [`otel`]). `RUST_LOG` overrides the default log filter. Reads the `OTEL_*` environment.
/// A second call (tests) leaves the first subscriber in place.
///
/// Log lines are formatted where they happen and written to stderr by a thread of their own,
/// in batches: a request never waits for a write to stderr (a pipe or a file), and a busy
/// server makes one write per batch instead of one per line. Nothing is dropped: when that
/// thread falls behind, loggers wait. Keep the returned guard until the process ends: dropping
/// it writes what is left.
#[must_use = "dropping the guard stops the log writer"]
pub fn init(format: LogFormat) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let (stderr, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("depot-logs")
        .finish(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::stderr(),
        ));
    if format == LogFormat::Json {
        otel::keep_ids_for_logs();
    }
    let directives = std::env::var("RUST_LOG").unwrap_or_default();
    let directives = match directives.trim() {
        "" => DEFAULT_LOG_FILTER,
        set => set,
    };
    let logs = match directives.parse::<Targets>() {
        Ok(targets) => log_layer(format, stderr, targets),
        Err(_) => log_layer(
            format,
            stderr,
            EnvFilter::try_new(directives).unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER)),
        ),
    };
    let (traces, status) = otel::layer();
    let subscriber = tracing_subscriber::registry().with(logs).with(traces);
    let dispatch = tracing::Dispatch::new(subscriber);
    // Also routes `log` records of dependencies into the subscriber.
    if dispatch.clone().try_init().is_err() {
        return None;
    }
    let _ = DISPATCH.set(dispatch.downgrade());
    status.log();
    Some(guard)
}

/// The log layer in `format`, writing to `stderr`, behind `filter`.
fn log_layer<F>(
    format: LogFormat,
    stderr: tracing_appender::non_blocking::NonBlocking,
    filter: F,
) -> Box<dyn Layer<Registry> + Send + Sync>
where
    F: tracing_subscriber::layer::Filter<Registry> + Send + Sync + 'static,
{
    match format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .with_writer(stderr)
            .event_format(JsonLine)
            .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
            .with_filter(filter)
            .boxed(),
        // Colours for a terminal, in tracing-subscriber's own format.
        LogFormat::Text if std::io::IsTerminal::is_terminal(&std::io::stderr()) => {
            tracing_subscriber::fmt::layer()
                .with_writer(stderr)
                .fmt_fields(HumanFields)
                .with_filter(filter)
                .boxed()
        }
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(stderr)
            .with_ansi(false)
            .event_format(TextLine)
            .fmt_fields(HumanFields)
            .with_filter(filter)
            .boxed(),
    }
}

/// The installed subscriber, for looking up a span's OpenTelemetry context while formatting a
/// log line (the dispatcher is not reachable through `get_default` from inside an event).
static DISPATCH: std::sync::OnceLock<tracing::dispatcher::WeakDispatch> =
    std::sync::OnceLock::new();

/// The trace and span ids a log line written in an event's span carries: the innermost span's
/// own (a store call's, inside its request's) when traces are exported, else the request's.
fn trace_ids<S, N>(
    ctx: &FmtContext<'_, S, N>,
) -> Option<(opentelemetry::trace::TraceId, opentelemetry::trace::SpanId)>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    if otel::bridged() {
        let dispatch = DISPATCH
            .get()
            .and_then(tracing::dispatcher::WeakDispatch::upgrade)?;
        ctx.event_scope()?
            .find_map(|span| otel::span_ids(&span.id(), &dispatch))
    } else {
        ctx.event_scope()?.find_map(|span| {
            let trace = *span.extensions().get::<RequestTrace>()?;
            Some((trace.trace_id, trace.span_id))
        })
    }
}
