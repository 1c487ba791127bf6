//! The JSON log line (`log_format = "json"`, the charm's default, for Loki): one object per
//! event, written straight into the line.
//!
//! It is the object tracing-subscriber's own JSON format writes with `flatten_event(true)` and
//! `with_current_span(true)`, field for field and in the same order, with the request's
//! `trace_id` and `span_id` first: `timestamp`, `level`, the event's fields, `target`, `span`
//! (the event's span, its fields and `name`) and `spans` (the entered spans, root first).
//! tracing-subscriber's format goes through serde for every value and parses each span's
//! stored fields back from JSON for every line; this one copies them, since they are kept as
//! compact JSON with sorted, unique keys (tracing-subscriber's `JsonFields` keeps them in a
//! sorted map), which parsing and writing again would reproduce byte for byte.

use std::fmt::{self, Write as _};
use std::time::SystemTime;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use super::text::write_timestamp;

/// One event as a JSON object on a line; see the module documentation.
pub(super) struct JsonLine;

impl<S, N> FormatEvent<S, N> for JsonLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        // A `log` record's own target and level, not the bridge's.
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        writer.write_char('{')?;
        if let Some((trace_id, span_id)) = super::trace_ids(ctx) {
            write!(
                writer,
                "\"trace_id\":\"{trace_id}\",\"span_id\":\"{span_id}\","
            )?;
        }
        writer.write_str("\"timestamp\":\"")?;
        write_timestamp(&mut writer, SystemTime::now())?;
        writer.write_str(match *meta.level() {
            Level::TRACE => "\",\"level\":\"TRACE\"",
            Level::DEBUG => "\",\"level\":\"DEBUG\"",
            Level::INFO => "\",\"level\":\"INFO\"",
            Level::WARN => "\",\"level\":\"WARN\"",
            Level::ERROR => "\",\"level\":\"ERROR\"",
        })?;
        let mut fields = JsonVisitor {
            writer: &mut writer,
            result: Ok(()),
        };
        event.record(&mut fields);
        fields.result?;
        writer.write_str(",\"target\":")?;
        write_string(&mut writer, meta.target())?;
        let current = event
            .parent()
            .and_then(|id| ctx.span(id))
            .or_else(|| ctx.lookup_current());
        if let Some(span) = current {
            writer.write_str(",\"span\":")?;
            write_span::<_, N>(&mut writer, &span)?;
            // The spans entered on this thread, which need not hold the event's own span.
            writer.write_str(",\"spans\":[")?;
            if let Some(leaf) = ctx.lookup_current() {
                for (i, span) in leaf.scope().from_root().enumerate() {
                    if i > 0 {
                        writer.write_char(',')?;
                    }
                    write_span::<_, N>(&mut writer, &span)?;
                }
            }
            writer.write_char(']')?;
        }
        writer.write_str("}\n")
    }
}

/// A span as an object: its fields, then `"name"`.
fn write_span<S, N>(writer: &mut impl fmt::Write, span: &SpanRef<'_, S>) -> fmt::Result
where
    S: for<'a> LookupSpan<'a>,
    N: 'static,
{
    let extensions = span.extensions();
    let fields = extensions
        .get::<FormattedFields<N>>()
        .and_then(|f| f.fields.strip_prefix('{')?.strip_suffix('}'));
    writer.write_char('{')?;
    if let Some(fields) = fields
        && !fields.is_empty()
    {
        writer.write_str(fields)?;
        writer.write_char(',')?;
    }
    writer.write_str("\"name\":")?;
    write_string(writer, span.metadata().name())?;
    writer.write_char('}')
}

/// Writes each field as `,"name":value`, as tracing-serde's map visitor does: numbers and
/// booleans as such (a float that is not finite as `null`), text as a string, anything else
/// as a string of its `Debug` form.
struct JsonVisitor<'a, W> {
    writer: &'a mut W,
    result: fmt::Result,
}

impl<W: fmt::Write> JsonVisitor<'_, W> {
    fn key(&mut self, field: &Field) -> bool {
        if self.result.is_ok() {
            self.result = self
                .writer
                .write_char(',')
                .and_then(|()| write_string(self.writer, field.name()))
                .and_then(|()| self.writer.write_char(':'));
        }
        self.result.is_ok()
    }
}

impl<W: fmt::Write> Visit for JsonVisitor<'_, W> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.key(field) {
            self.result = write_string(self.writer, value);
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if self.key(field) {
            self.result = self.writer.write_str(itoa::Buffer::new().format(value));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if self.key(field) {
            self.result = self.writer.write_str(itoa::Buffer::new().format(value));
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if self.key(field) {
            self.result = write_f64(self.writer, value);
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if self.key(field) {
            self.result = self.writer.write_str(if value { "true" } else { "false" });
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.key(field) {
            self.result = self
                .writer
                .write_char('"')
                .and_then(|()| write!(Escaped(self.writer), "{value:?}"))
                .and_then(|()| self.writer.write_char('"'));
        }
    }
}

/// A float as serde_json writes it: the shortest text that reads back as the same number, and
/// `null` for one that is not finite.
fn write_f64(writer: &mut impl fmt::Write, value: f64) -> fmt::Result {
    if value.is_finite() {
        writer.write_str(zmij::Buffer::new().format_finite(value))
    } else {
        writer.write_str("null")
    }
}

/// `value` as a JSON string, escaped as serde_json escapes it: `"` and `\`, the control
/// characters (`\b`, `\f`, `\n`, `\r`, `\t`, the others as `\u00xx`); everything else as is.
fn write_string(writer: &mut impl fmt::Write, value: &str) -> fmt::Result {
    writer.write_char('"')?;
    Escaped(writer).write_str(value)?;
    writer.write_char('"')
}

/// Writes what it is given JSON-escaped (the inside of a string).
struct Escaped<'a, W>(&'a mut W);

impl<W: fmt::Write> fmt::Write for Escaped<'_, W> {
    fn write_str(&mut self, value: &str) -> fmt::Result {
        let bytes = value.as_bytes();
        let mut start = 0;
        for (i, &byte) in bytes.iter().enumerate() {
            let escape = match byte {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0x08 => "\\b",
                0x0c => "\\f",
                0x00..=0x1f => "",
                _ => continue,
            };
            // Every byte escaped is ASCII, so these are character boundaries.
            self.0.write_str(&value[start..i])?;
            if escape.is_empty() {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let code = [
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(byte >> 4)],
                    HEX[usize::from(byte & 0xf)],
                ];
                self.0
                    .write_str(std::str::from_utf8(&code).expect("ASCII"))?;
            } else {
                self.0.write_str(escape)?;
            }
            start = i + 1;
        }
        self.0.write_str(&value[start..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::test_lines::Lines;
    use std::io;
    use tracing_subscriber::fmt::format::JsonFields;
    use tracing_subscriber::layer::SubscriberExt;

    /// The lines, each with its timestamp replaced by `T` (checked on their own in the text
    /// format's tests) and, with `ids`, without the `trace_id` and `span_id` depot puts first.
    fn untimed(lines: &Lines, ids: bool) -> Vec<String> {
        lines
            .text()
            .lines()
            .map(|line| {
                let line = if ids && line.starts_with("{\"trace_id\":") {
                    let at = line.find("\"timestamp\"").unwrap();
                    format!("{{{}", &line[at..])
                } else {
                    line.to_string()
                };
                let at = line.find("\"timestamp\":\"").unwrap() + 13;
                let time = &line[at..at + 27];
                assert!(time.ends_with('Z'), "{line}");
                format!("{}T{}", &line[..at], &line[at + 27..])
            })
            .collect()
    }

    #[test]
    fn lines_are_tracing_subscribers_own_json_with_the_trace_ids_first() {
        let ours = Lines::default();
        let stock = Lines::default();
        let subscriber = tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .fmt_fields(JsonFields::new())
                    .event_format(JsonLine)
                    .with_writer({
                        let ours = ours.clone();
                        move || ours.clone()
                    }),
            )
            .with(
                tracing_subscriber::fmt::layer()
                    .fmt_fields(JsonFields::new())
                    .event_format(
                        tracing_subscriber::fmt::format()
                            .json()
                            .flatten_event(true)
                            .with_current_span(true),
                    )
                    .with_writer({
                        let stock = stock.clone();
                        move || stock.clone()
                    }),
            );
        // As `init` does for the JSON format (and a test is a process of its own).
        crate::telemetry::otel::keep_ids_for_logs();
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!("outside any span");
            let request = tracing::info_span!(
                "request",
                request_id = "f99d0629-7943",
                trace_id = %"4bf92f35",
                otel.kind = "server",
                status = tracing::field::Empty,
            );
            let trace = crate::telemetry::RequestTrace::new(&axum::http::HeaderMap::new());
            trace.attach(&request);
            // Written after the request, with the request span as its parent but not entered:
            // `spans` is empty then, as in the access log line.
            request.record("status", 200u16);
            tracing::event!(
                target: "depot::access",
                parent: &request,
                Level::INFO,
                http.request.method = "GET",
                http.route = Some("/v2/snaps/info/{name}"),
                url.query = None::<&str>,
                status = 200u16,
                latency_ms = 0.103,
                whole = 1.0,
                huge = 1e300,
                tiny = -2.5e-8,
                not_a_number = f64::NAN,
                "finished processing request"
            );
            let _request = request.enter();
            let store = tracing::debug_span!("store", op = "release", attempt = 2i64);
            let _store = store.enter();
            tracing::error!(
                quoted = "a \"quoted\" word\\",
                unicode = "caf\u{e9} \u{1f600}",
                controls = "tab\there\nnewline\u{7f}\u{1}\u{8}\u{c}\r\u{1f}",
                debugged = ?("a \"tuple\"", '\n'),
                empty = "",
                negative = -42i64,
                big = u64::MAX,
                yes = true,
                no = false,
                error = &io::Error::other("disk \"full\"") as &dyn std::error::Error,
                "it broke: {}",
                "badly"
            );
            let _empty = tracing::trace_span!("empty").entered();
            tracing::trace!(answer = 42u128, bytes = tracing::field::display("\u{0}"));
            tracing_log::format_trace(
                &log::Record::builder()
                    .args(format_args!("from the log crate"))
                    .level(log::Level::Warn)
                    .target("sqlx::query")
                    .build(),
            )
            .unwrap();
        });
        let lines = untimed(&ours, false);
        let (ours, stock) = (untimed(&ours, true), untimed(&stock, false));
        assert_eq!(ours.len(), 5);
        for (ours, stock) in ours.iter().zip(&stock) {
            assert_eq!(ours, stock);
            serde_json::from_str::<serde_json::Value>(ours).unwrap();
        }
        // Outside a request, no ids; inside one, its ids first.
        assert!(lines[0].starts_with("{\"timestamp\":\"T\",\"level\":\"WARN\","));
        for line in &lines[1..] {
            let line: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(line["trace_id"].as_str().map(str::len), Some(32), "{line}");
            assert_eq!(line["span_id"].as_str().map(str::len), Some(16), "{line}");
        }
        assert!(lines[1].starts_with("{\"trace_id\":"), "{}", lines[1]);
        assert!(lines[1].contains(
            ",\"span\":{\"otel.kind\":\"server\",\"request_id\":\"f99d0629-7943\",\"status\":200,\"trace_id\":\"4bf92f35\",\"name\":\"request\"},\"spans\":[]}"
        ), "{}", lines[1]);
    }

    proptest::proptest! {
        #[test]
        fn strings_are_escaped_as_serde_json_escapes_them(value in "\\PC*|[ -~]*|[\\x00-\\x7f]*") {
            let mut text = String::new();
            write_string(&mut text, &value).unwrap();
            proptest::prop_assert_eq!(text, serde_json::to_string(&value).unwrap());
        }

        #[test]
        fn floats_are_written_as_serde_json_writes_them(value in proptest::num::f64::ANY) {
            let mut text = String::new();
            write_f64(&mut text, value).unwrap();
            proptest::prop_assert_eq!(text, serde_json::to_string(&value).unwrap());
        }
    }
}
