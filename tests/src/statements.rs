//! Counts the database round trips of each request.
//!
//! sqlx reports each statement it runs as a tracing event of target
//! `sqlx::query`, except the `BEGIN` of a transaction, which it sends
//! unlogged; so a `COMMIT` or `ROLLBACK` counts for two round trips (itself
//! and its `BEGIN`). The server runs each request in a span named `request`
//! carrying its `request_id`, which it also returns as `X-Request-Id`. This
//! layer files each round trip under the request whose span it ran in: a
//! test reads the count of one request by its id.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

static COUNTS: OnceLock<Mutex<HashMap<String, u32>>> = OnceLock::new();
static TEXTS: OnceLock<Mutex<HashMap<String, Vec<String>>>> = OnceLock::new();

fn counts() -> &'static Mutex<HashMap<String, u32>> {
    COUNTS.get_or_init(Default::default)
}

fn texts() -> &'static Mutex<HashMap<String, Vec<String>>> {
    TEXTS.get_or_init(Default::default)
}

/// The statements the request with this `X-Request-Id` ran, in order, as
/// sent (the `BEGIN` of a transaction is not among them).
pub fn statements_of(request_id: &str) -> Vec<String> {
    texts()
        .lock()
        .unwrap()
        .get(request_id)
        .cloned()
        .unwrap_or_default()
}

/// Installs the counter as this process's subscriber (once).
pub(crate) fn install() {
    let filter = Targets::new()
        .with_target("sqlx::query", Level::TRACE)
        .with_target("lms_api", Level::INFO);
    let subscriber = tracing_subscriber::registry().with(Counter.with_filter(filter));
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// Database round trips of the request with this `X-Request-Id`.
pub fn round_trips_of(request_id: &str) -> u32 {
    counts()
        .lock()
        .unwrap()
        .get(request_id)
        .copied()
        .unwrap_or(0)
}

struct RequestId(String);

struct Counter;

impl<S> Layer<S> for Counter
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().name() != "request" {
            return;
        }
        let mut found = FindRequestId(None);
        attrs.record(&mut found);
        if let (Some(rid), Some(span)) = (found.0, ctx.span(id)) {
            span.extensions_mut().insert(RequestId(rid));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if !event.metadata().target().starts_with("sqlx::query") {
            return;
        }
        let Some(scope) = ctx.event_scope(event) else {
            return;
        };
        let mut statement = FindStatement::default();
        event.record(&mut statement);
        let text = if statement.full.trim().is_empty() {
            statement.summary
        } else {
            statement.full.trim().to_owned()
        };
        let sql = text.trim_start().to_ascii_uppercase();
        let trips = if sql.starts_with("COMMIT") || sql.starts_with("ROLLBACK") {
            2
        } else {
            1
        };
        for span in scope {
            if let Some(rid) = span.extensions().get::<RequestId>() {
                *counts().lock().unwrap().entry(rid.0.clone()).or_default() += trips;
                texts()
                    .lock()
                    .unwrap()
                    .entry(rid.0.clone())
                    .or_default()
                    .push(text);
                return;
            }
        }
    }
}

struct FindRequestId(Option<String>);

impl Visit for FindRequestId {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        if field.name() == "request_id" {
            self.0 = Some(format!("{value:?}"));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "request_id" {
            self.0 = Some(value.to_owned());
        }
    }
}

/// The statement of a sqlx event: its `summary` (the first words) and,
/// when that is not all of it, the whole text.
#[derive(Default)]
struct FindStatement {
    summary: String,
    full: String,
}

impl Visit for FindStatement {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.record_str(field, format!("{value:?}").trim_matches('"'));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "summary" => self.summary = value.to_owned(),
            "db.statement" => self.full = value.to_owned(),
            _ => {}
        }
    }
}
