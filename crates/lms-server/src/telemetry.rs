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

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

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
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
    guard
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
