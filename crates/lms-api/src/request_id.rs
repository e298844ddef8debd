//! The request id: made for every request, returned as `X-Request-Id`, put
//! in every error body and on the request's tracing span.

pub use lms_db::request::{current, scope};

/// A new request id (a UUIDv7, so ids sort by time in logs).
pub fn generate() -> String {
    uuid::Uuid::now_v7().to_string()
}
