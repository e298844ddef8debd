//! Tracing, set up once per process.
//!
//! Log lines go through a non-blocking writer: a request hands its line to
//! a channel and goes on, and one thread writes to stdout, the lines waiting
//! in the channel together (one write for many, flushed whenever the
//! channel is empty). Under a burst larger than the channel, lines are
//! dropped rather than making requests wait for the terminal or the log
//! collector.

use std::io::IsTerminal as _;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Lines held for the writer thread before any is dropped.
const BUFFERED_LINES: usize = 64 * 1024;
/// Bytes of lines the writer thread gathers into one write.
const WRITE_BYTES: usize = 64 * 1024;

/// Installs the global subscriber. `RUST_LOG` overrides the default filter.
/// Keep the guard until the process ends: dropping it flushes what is left.
pub fn init(format: LogFormat) -> WorkerGuard {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,poem=warn"));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(BUFFERED_LINES)
        .finish(std::io::BufWriter::with_capacity(
            WRITE_BYTES,
            std::io::stdout(),
        ));
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
            .try_init(),
    };
    guard
}
