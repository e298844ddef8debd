//! The id of the request a transaction serves, kept for the whole request
//! and written by the database into every audit entry (as the
//! transaction-local setting `app.request_id`).

use std::future::Future;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// Runs `fut` with `id` as the current request id.
pub async fn scope<F: Future>(id: String, fut: F) -> F::Output {
    REQUEST_ID.scope(id, fut).await
}

/// The current request id, or an empty string outside a request.
pub fn current() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

/// The current request id if it is a UUID (the only form formatted into
/// SQL text).
pub(crate) fn current_uuid() -> Option<uuid::Uuid> {
    REQUEST_ID.try_with(|id| id.parse().ok()).ok().flatten()
}
