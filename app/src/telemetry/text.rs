//! The text log format, for people.
//!
//! A line reads as tracing-subscriber's default (`Full`) format writes it without colours:
//!
//! ```text
//! 2026-11-24T08:01:21.797493Z  INFO request{request_id="bb0a…" trace_id=aeab…}: depot::access: finished processing request http.route="/v2/snaps/info/{name}" status=200 latency_ms=0.103
//! ```
//!
//! A busy server writes one such line per request (the access log), so [`TextLine`] makes it
//! with plain string writes: the date and time of day are formatted once a second per thread,
//! integers without `fmt`, and plain strings are quoted without escaping them character by
//! character. On a terminal (colours), tracing-subscriber's own format is used instead.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// Span and event fields for people: `key=value` separated by spaces, strings quoted, the
/// message bare, and the `otel.*` fields (span name and kind for the exporter) and `log.*`
/// fields (a `log` record's origin) left out.
pub(super) struct HumanFields;

impl<'w> FormatFields<'w> for HumanFields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut visitor = HumanVisitor {
            writer: &mut writer,
            separate: false,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct HumanVisitor<'a, 'w> {
    writer: &'a mut Writer<'w>,
    separate: bool,
    result: fmt::Result,
}

impl HumanVisitor<'_, '_> {
    /// Writes the separator and `name=` (nothing for the message), or returns false when the
    /// field is left out or writing already failed.
    fn start(&mut self, field: &Field) -> bool {
        let name = field.name();
        if self.result.is_err() || name.starts_with("otel.") || name.starts_with("log.") {
            return false;
        }
        if std::mem::replace(&mut self.separate, true) {
            self.result = self.writer.write_char(' ');
        }
        if name != "message" && self.result.is_ok() {
            self.result = self
                .writer
                .write_str(name)
                .and_then(|()| self.writer.write_char('='));
        }
        self.result.is_ok()
    }
}

impl Visit for HumanVisitor<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.start(field) {
            self.result = if field.name() == "message" {
                self.writer.write_str(value)
            } else {
                write_quoted(self.writer, value)
            };
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if self.start(field) {
            self.result = self.writer.write_str(itoa::Buffer::new().format(value));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if self.start(field) {
            self.result = self.writer.write_str(itoa::Buffer::new().format(value));
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if self.start(field) {
            self.result = self.writer.write_str(if value { "true" } else { "false" });
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.start(field) {
            self.result = write!(self.writer, "{value:?}");
        }
    }
}

/// `value` as `{value:?}` writes it: quoted, with quotes, backslashes and anything not
/// printable ASCII escaped. Most values (paths, routes, ids) need no escape and are copied.
fn write_quoted(writer: &mut impl fmt::Write, value: &str) -> fmt::Result {
    let plain = value
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
    if plain {
        writer.write_char('"')?;
        writer.write_str(value)?;
        writer.write_char('"')
    } else {
        write!(writer, "{value:?}")
    }
}

/// One event as a text line; see the module documentation.
pub(super) struct TextLine;

impl<S, N> FormatEvent<S, N> for TextLine
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
        write_timestamp(&mut writer, SystemTime::now())?;
        writer.write_str(match *meta.level() {
            Level::TRACE => " TRACE ",
            Level::DEBUG => " DEBUG ",
            Level::INFO => "  INFO ",
            Level::WARN => "  WARN ",
            Level::ERROR => " ERROR ",
        })?;
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                writer.write_str(span.metadata().name())?;
                if let Some(fields) = span.extensions().get::<FormattedFields<N>>()
                    && !fields.is_empty()
                {
                    writer.write_char('{')?;
                    writer.write_str(fields)?;
                    writer.write_char('}')?;
                }
                writer.write_char(':')?;
            }
            writer.write_char(' ')?;
        }
        writer.write_str(meta.target())?;
        writer.write_str(": ")?;
        ctx.format_fields(writer.by_ref(), event)?;
        writer.write_char('\n')
    }
}

/// `now` as RFC 3339 in UTC to the microsecond (`2026-11-24T08:01:21.797493Z`). The part up
/// to the second is formatted once a second per thread.
pub(super) fn write_timestamp(writer: &mut impl fmt::Write, now: SystemTime) -> fmt::Result {
    thread_local! {
        static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since.as_secs();
    SECOND.with_borrow_mut(|(at, text)| {
        if *at != seconds {
            text.clear();
            match i64::try_from(seconds)
                .ok()
                .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
            {
                Some(time) => write!(text, "{}", time.format("%Y-%m-%dT%H:%M:%S."))?,
                None => text.push_str("<unknown time>."),
            }
            *at = seconds;
        }
        writer.write_str(text)
    })?;
    let micros = since.subsec_micros();
    let mut digits = *b"000000Z";
    let mut rest = micros;
    for digit in digits[..6].iter_mut().rev() {
        *digit = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    writer.write_str(std::str::from_utf8(&digits).expect("ASCII digits"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::test_lines::Lines;
    use std::io;
    use std::time::Duration;
    use tracing_subscriber::layer::SubscriberExt;

    /// The lines without their timestamps (checked on their own below).
    fn untimed(lines: &Lines) -> Vec<String> {
        lines
            .text()
            .lines()
            .map(|line| {
                let (time, rest) = line.split_at(27);
                assert!(time.ends_with('Z'), "{line}");
                rest.to_string()
            })
            .collect()
    }

    #[test]
    fn lines_read_as_tracing_subscribers_own_format_writes_them() {
        let ours = Lines::default();
        let stock = Lines::default();
        let subscriber = tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .fmt_fields(HumanFields)
                    .event_format(TextLine)
                    .with_writer({
                        let ours = ours.clone();
                        move || ours.clone()
                    }),
            )
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .fmt_fields(HumanFields)
                    .with_writer({
                        let stock = stock.clone();
                        move || stock.clone()
                    }),
            );
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!("outside any span");
            let request = tracing::info_span!(
                "request",
                request_id = "f99d0629-7943",
                trace_id = %"4bf92f35",
                otel.kind = "server"
            );
            let _request = request.enter();
            tracing::event!(
                target: "depot::access",
                Level::INFO,
                http.request.method = "GET",
                http.route = Some("/v2/snaps/info/{name}"),
                url.query = None::<&str>,
                status = 200u16,
                latency_ms = 0.103,
                "finished processing request"
            );
            let store = tracing::debug_span!("store", op = "release", attempt = 2i64);
            let _store = store.enter();
            tracing::error!(
                quoted = "a \"quoted\" word\\",
                unicode = "caf\u{e9} \u{1f600}",
                controls = "tab\there\nnewline\u{7f}",
                empty = "",
                negative = -42i64,
                big = u64::MAX,
                yes = true,
                error = &io::Error::other("disk full") as &dyn std::error::Error,
                "it broke: {}",
                "badly"
            );
            let _empty = tracing::trace_span!("empty").entered();
            tracing::trace!(answer = 42u128);
            tracing_log::format_trace(
                &log::Record::builder()
                    .args(format_args!("from the log crate"))
                    .level(log::Level::Warn)
                    .target("sqlx::query")
                    .build(),
            )
            .unwrap();
        });
        let (ours, stock) = (untimed(&ours), untimed(&stock));
        assert_eq!(ours.len(), 5);
        assert_eq!(ours, stock);
        assert!(ours[1].starts_with(
            "  INFO request{request_id=\"f99d0629-7943\" trace_id=4bf92f35}: depot::access: \
             finished processing request http.request.method=\"GET\""
        ));
        assert!(ours[4].contains("WARN") && ours[4].contains("sqlx::query: from the log crate"));
    }

    #[test]
    fn timestamps_are_rfc3339_in_utc_to_the_microsecond() {
        let mut last = String::new();
        for seconds in [
            0,
            951_782_400,
            1_764_030_210,
            4_102_444_799,
            253_402_300_799,
        ] {
            for micros in [0, 7, 999_999] {
                let at = UNIX_EPOCH + Duration::new(seconds, micros * 1000 + 999);
                let mut text = String::new();
                write_timestamp(&mut text, at).unwrap();
                let expected = chrono::DateTime::<chrono::Utc>::from(at)
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
                assert_eq!(text, expected);
                last = text;
            }
        }
        assert_eq!(last, "9999-12-31T23:59:59.999999Z");
    }

    proptest::proptest! {
        #[test]
        fn strings_are_quoted_as_debug_quotes_them(value in "\\PC*|[ -~]*|[\\x00-\\x7f]*") {
            let mut text = String::new();
            write_quoted(&mut text, &value).unwrap();
            proptest::prop_assert_eq!(text, format!("{value:?}"));
        }
    }
}
