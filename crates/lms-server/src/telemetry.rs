//! Tracing, set up once per process.
//!
//! Log lines never cost a request a system call: a line is appended to a
//! shared buffer in memory (a short lock, no wake-up of anyone), and one
//! thread writes the buffer to stdout every few milliseconds, many lines in
//! one write. Under a burst the buffer can hold, nothing is lost; beyond it,
//! lines are dropped (and their number logged) rather than making requests
//! wait for the terminal or the log collector.

use std::io::{IsTerminal as _, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use std::fmt::Write as _;

use tracing::field::{Field, Visit};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

use crate::config::LogFormat;

/// How often the writer thread writes what has gathered.
const FLUSH_EVERY: Duration = Duration::from_millis(20);
/// Bytes of lines held in memory before lines are dropped.
const MAX_BUFFERED: usize = 16 << 20;

/// Installs the global subscriber. `RUST_LOG` overrides the default filter.
/// Keep the guard until the process ends: dropping it writes what is left.
pub fn init(format: LogFormat) -> LogGuard {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,poem=warn"));
    let (writer, guard) = Batched::start(std::io::stdout(), FLUSH_EVERY, MAX_BUFFERED);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal())
        .with_writer(writer);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .fmt_fields(JsonFields)
            .event_format(JsonLine)
            .try_init(),
    };
    guard
}

/// One JSON object per line: `timestamp`, `level`, `target`, the event's
/// fields (`message` among them) and the current span's as `span`. Written
/// straight into the line, with no intermediate map (the formatter of the
/// access line, the most frequent one, is on every request's path).
struct JsonLine;

impl<S, N> FormatEvent<S, N> for JsonLine
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let meta = event.metadata();
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        write!(
            w,
            "{{\"timestamp\":\"{now}\",\"level\":\"{}\",\"target\":",
            meta.level()
        )?;
        json_string(&mut w, meta.target())?;
        let mut fields = FieldWriter {
            w: &mut w,
            result: Ok(()),
            first: false,
        };
        event.record(&mut fields);
        fields.result?;
        if let Some(span) = ctx.lookup_current() {
            write!(w, ",\"span\":{{\"name\":")?;
            json_string(&mut w, span.name())?;
            if let Some(f) = span.extensions().get::<FormattedFields<N>>()
                && !f.fields.is_empty()
            {
                write!(w, ",{}", f.fields)?;
            }
            w.write_char('}')?;
        }
        writeln!(w, "}}")
    }
}

/// Formats a span's fields once, when it is made, as the members of a JSON
/// object (`"a":1,"b":"x"`), which [`JsonLine`] puts in every line of it.
struct JsonFields;

impl<'w> FormatFields<'w> for JsonFields {
    fn format_fields<R: RecordFields>(&self, mut w: Writer<'w>, fields: R) -> std::fmt::Result {
        let mut v = FieldWriter {
            w: &mut w,
            result: Ok(()),
            first: true,
        };
        fields.record(&mut v);
        v.result
    }

    fn add_fields(
        &self,
        current: &'w mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> std::fmt::Result {
        let first = current.fields.is_empty();
        let mut w = current.as_writer();
        let mut v = FieldWriter {
            w: &mut w,
            result: Ok(()),
            first,
        };
        fields.record(&mut v);
        v.result
    }
}

/// Writes each field as `"name":value`, after a comma unless it is the
/// `first` member of its object.
struct FieldWriter<'a, 'w> {
    w: &'a mut Writer<'w>,
    result: std::fmt::Result,
    first: bool,
}

impl FieldWriter<'_, '_> {
    fn member(&mut self, name: &str, value: impl FnOnce(&mut Writer<'_>) -> std::fmt::Result) {
        if self.result.is_err() {
            return;
        }
        self.result = (|| {
            if !std::mem::take(&mut self.first) {
                self.w.write_char(',')?;
            }
            json_string(self.w, name)?;
            self.w.write_char(':')?;
            value(self.w)
        })();
    }
}

impl Visit for FieldWriter<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.member(field.name(), |w| json_string(w, value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.member(field.name(), |w| write!(w, "{value}"));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.member(field.name(), |w| write!(w, "{value}"));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.member(field.name(), |w| write!(w, "{value}"));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        if value.is_finite() {
            self.member(field.name(), |w| write!(w, "{value}"));
        } else {
            self.member(field.name(), |w| json_string(w, &value.to_string()));
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.member(field.name(), |w| {
            w.write_char('"')?;
            write!(Escaped(w), "{value:?}")?;
            w.write_char('"')
        });
    }
}

/// `s` as a JSON string.
fn json_string(w: &mut Writer<'_>, s: &str) -> std::fmt::Result {
    w.write_char('"')?;
    Escaped(w).write_str(s)?;
    w.write_char('"')
}

/// Escapes what is written through it for the inside of a JSON string.
struct Escaped<'a, 'w>(&'a mut Writer<'w>);

impl std::fmt::Write for Escaped<'_, '_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let mut rest = s;
        while let Some(i) = rest.find(|c: char| c == '"' || c == '\\' || c < ' ') {
            self.0.write_str(&rest[..i])?;
            let c = rest[i..].chars().next().unwrap_or(' ');
            match c {
                '"' => self.0.write_str("\\\"")?,
                '\\' => self.0.write_str("\\\\")?,
                '\n' => self.0.write_str("\\n")?,
                '\r' => self.0.write_str("\\r")?,
                '\t' => self.0.write_str("\\t")?,
                c => write!(self.0, "\\u{:04x}", c as u32)?,
            }
            rest = &rest[i + c.len_utf8()..];
        }
        self.0.write_str(rest)
    }
}

/// What the request threads and the writer thread share.
#[derive(Default)]
struct Shared {
    lines: Mutex<Vec<u8>>,
    /// Wakes the writer early: at shutdown, or when the buffer is half full.
    wake: Condvar,
    stopping: AtomicBool,
    dropped: AtomicU64,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.lines.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The subscriber's writer: appends each formatted line to the buffer.
#[derive(Clone)]
pub struct Batched {
    shared: Arc<Shared>,
    max: usize,
}

/// Stops the writer thread (after it wrote everything) when dropped.
pub struct LogGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Batched {
    /// A writer to `out`, written every `every`, holding at most `max`
    /// bytes.
    fn start<W: Write + Send + 'static>(out: W, every: Duration, max: usize) -> (Self, LogGuard) {
        let shared = Arc::new(Shared::default());
        let thread = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("log-writer".into())
                .spawn(move || write_loop(&shared, out, every))
                .ok()
        };
        (
            Self {
                shared: shared.clone(),
                max,
            },
            LogGuard { shared, thread },
        )
    }
}

/// Writes the gathered lines every `every` until stopped, then once more.
fn write_loop<W: Write>(shared: &Shared, mut out: W, every: Duration) {
    let mut spare = Vec::new();
    loop {
        let stopping = {
            let mut lines = shared.lock();
            // (`stopping` is set under the lock: a stop is never missed.)
            if !shared.stopping.load(Ordering::Acquire) {
                lines = shared
                    .wake
                    .wait_timeout(lines, every)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            std::mem::swap(&mut *lines, &mut spare);
            shared.stopping.load(Ordering::Acquire)
        };
        let dropped = shared.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            spare.extend_from_slice(
                format!("{dropped} log lines dropped: the log output did not keep up\n").as_bytes(),
            );
        }
        if !spare.is_empty() {
            // Nowhere to report a failure to write the log itself.
            let _ = out.write_all(&spare).and_then(|()| out.flush());
            spare.clear();
            // Keep a buffer of a usual size, not the largest burst's.
            spare.shrink_to(1 << 20);
        }
        if stopping {
            return;
        }
    }
}

impl Write for Batched {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut lines = self.shared.lock();
        if lines.len() + buf.len() > self.max {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            let before = lines.len();
            lines.extend_from_slice(buf);
            // Crossing half the limit: the writer goes now, not at its tick.
            if before < self.max / 2 && lines.len() >= self.max / 2 {
                self.shared.wake.notify_one();
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Batched {
    type Writer = Batched;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        {
            let _lines = self.shared.lock();
            self.shared.stopping.store(true, Ordering::Release);
            self.shared.wake.notify_one();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink the test reads back.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn json_lines_are_json_whatever_the_fields_hold() {
        let sink = Sink::default();
        let (writer, guard) = Batched::start(sink.clone(), Duration::from_secs(3600), 1 << 20);
        let subscriber = tracing_subscriber::fmt()
            .with_writer(writer)
            .fmt_fields(JsonFields)
            .event_format(JsonLine)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(
                "request",
                request_id = "r-1",
                org_id = tracing::field::Empty
            );
            span.record("org_id", "o\"1");
            span.in_scope(|| {
                tracing::warn!(status = 503u64, ratio = 0.5, ok = false, who = %"a\\b", "said \"hi\"\n\u{1}");
            });
            tracing::info!(n = -3i64, "outside");
        });
        drop(guard);
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        let a = &lines[0];
        assert_eq!(a["level"], "WARN");
        assert_eq!(a["message"], "said \"hi\"\n\u{1}");
        assert_eq!(a["status"], 503);
        assert_eq!(a["ratio"], 0.5);
        assert_eq!(a["ok"], false);
        assert_eq!(a["who"], "a\\b");
        assert_eq!(
            a["span"],
            serde_json::json!({ "name": "request", "request_id": "r-1", "org_id": "o\"1" })
        );
        assert!(a["timestamp"].as_str().unwrap().ends_with('Z'));
        assert_eq!(lines[1]["n"], -3);
        assert!(lines[1].get("span").is_none());
    }

    #[test]
    fn every_line_is_written_in_order_and_nothing_is_left_at_shutdown() {
        let sink = Sink::default();
        // A tick longer than the test: only the shutdown writes.
        let (writer, guard) = Batched::start(sink.clone(), Duration::from_secs(3600), 1 << 20);
        for i in 0..1000 {
            writer
                .make_writer()
                .write_all(format!("line {i}\n").as_bytes())
                .unwrap();
        }
        drop(guard);
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let want: String = (0..1000).map(|i| format!("line {i}\n")).collect();
        assert_eq!(text, want);
    }

    #[test]
    fn lines_beyond_the_limit_are_dropped_and_counted() {
        let sink = Sink::default();
        let (writer, guard) = Batched::start(sink.clone(), Duration::from_secs(3600), 100);
        // The writer thread may take the first half early; either way no
        // more than the limit is ever held, and the rest is counted.
        for _ in 0..50 {
            writer.make_writer().write_all(b"0123456789\n").unwrap();
        }
        drop(guard);
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let kept = text.lines().filter(|l| *l == "0123456789").count();
        let dropped: usize = text
            .lines()
            .filter_map(|l| l.strip_suffix(" log lines dropped: the log output did not keep up"))
            .map(|n| n.parse::<usize>().unwrap())
            .sum();
        assert!(kept >= 9 && dropped > 0, "{text}");
        assert_eq!(kept + dropped, 50, "{text}");
    }
}
