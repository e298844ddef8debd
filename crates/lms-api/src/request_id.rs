//! The request id: made for every request, returned as `X-Request-Id`, put
//! in every error body and on the request's tracing span.

use std::future::Future;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// A new request id (a UUIDv7, so ids sort by time in logs).
pub fn generate() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Runs `fut` with `id` as the current request id.
pub async fn scope<F: Future>(id: String, fut: F) -> F::Output {
    REQUEST_ID.scope(id, fut).await
}

/// The current request id, or an empty string outside a request.
pub fn current() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}
