//! The organization's event feed: what happened, newest first.

use chrono::{DateTime, Utc};
use lms_db::queries::outbox::{self, EventFilter, EventRow};
use poem::web::Data;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde_json::Value;
use uuid::Uuid;

use super::{TenantBearer, TenantTags};
use crate::context::Ctx;
use crate::error::ApiResult;
use crate::paging;
use crate::tenancy::Tenant;

/// Something that happened in the organization, written in the same
/// transaction as the change itself: an event exists exactly when its change
/// committed.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct Event {
    /// Id (UUIDv7): events ascend by id in the order they happened.
    pub id: Uuid,
    /// `<subject kind>.<what happened>`, e.g. `course.published`,
    /// `user.deactivated`, `category.deleted`.
    #[oai(rename = "type")]
    pub event_type: String,
    /// The row the event is about (a course, a user, a role, ...).
    pub subject_id: Uuid,
    /// The user who made the change; absent for a sign-up, a login, or a
    /// platform operator.
    pub actor_id: Option<Uuid>,
    /// The `x-request-id` of the request that made the change.
    pub request_id: Option<String>,
    /// Ids and the few fields a consumer needs (an object).
    pub payload: Value,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
}

impl From<EventRow> for Event {
    fn from(r: EventRow) -> Self {
        Self {
            id: r.id,
            event_type: r.event_type,
            subject_id: r.subject_id,
            actor_id: r.actor_id,
            request_id: r.request_id,
            payload: r.payload,
            occurred_at: r.occurred_at,
        }
    }
}

/// A page of events.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct EventPage {
    /// Newest first.
    pub items: Vec<Event>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(ApiResponse)]
enum EventsListed {
    /// The events.
    #[oai(status = 200)]
    Ok(Json<EventPage>),
}

/// The event feed.
pub struct EventsApi;

#[OpenApi(tag = "TenantTags::Events")]
impl EventsApi {
    /// The organization's events, newest first. Needs `audit:read`.
    #[allow(clippy::too_many_arguments)] // one per query parameter
    #[oai(path = "/events", method = "get", operation_id = "listEvents")]
    async fn list(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        /// Only events of this type, e.g. `course.published`.
        #[oai(
            name = "type",
            validator(max_length = 64, pattern = r"^[a-z][a-z_]*(\.[a-z][a-z_]*)+$")
        )]
        event_type: Query<Option<String>>,
        /// Only events about this row.
        subject_id: Query<Option<Uuid>>,
        /// The `next_cursor` of the previous page.
        cursor: Query<Option<Uuid>>,
        /// Page size, 1–100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
    ) -> ApiResult<EventsListed> {
        let before = cursor.0;
        let limit = limit.0.unwrap_or(paging::DEFAULT_LIMIT);
        let mut read = ctx.reader(&tenant, auth.0, "listEvents").await?;
        let rows = outbox::list(
            read.tx().await?,
            &EventFilter {
                event_type: event_type.0.as_deref(),
                subject_id: subject_id.0,
                before,
                limit: limit + 1,
            },
        )
        .await?;
        read.finish().await?;
        let (rows, next_cursor) = paging::page(rows, limit, |r| r.id.to_string());
        Ok(EventsListed::Ok(Json(EventPage {
            items: rows.into_iter().map(Into::into).collect(),
            next_cursor,
        })))
    }
}
