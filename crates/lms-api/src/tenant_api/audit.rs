//! The audit trail: every change of the audited tables, written by the
//! database in the changing transaction, read here.

use chrono::{DateTime, Utc};
use lms_db::queries::audit::{self, AuditFilter, AuditRow};
use poem::web::Data;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use serde_json::Value;
use uuid::Uuid;

use super::{TenantBearer, TenantTags};
use crate::context::Ctx;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::paging;
use crate::tenancy::Tenant;

/// The audited tables.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum AuditTable {
    /// Courses.
    Courses,
    /// Lessons.
    Lessons,
    /// Sections.
    Sections,
    /// Categories.
    Categories,
    /// Tags.
    Tags,
    /// Users (never their password hash).
    Users,
    /// Roles.
    Roles,
    /// Role assignments, recorded under the user.
    UserRoles,
    /// Enrollments.
    Enrollments,
    /// The organization and its settings.
    Organizations,
}

impl AuditTable {
    fn name(self) -> &'static str {
        match self {
            Self::Courses => "courses",
            Self::Lessons => "lessons",
            Self::Sections => "sections",
            Self::Categories => "categories",
            Self::Tags => "tags",
            Self::Users => "users",
            Self::Roles => "roles",
            Self::UserRoles => "user_roles",
            Self::Enrollments => "enrollments",
            Self::Organizations => "organizations",
        }
    }
}

/// What an entry records.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuditAction {
    /// A row was created.
    Create,
    /// A row was changed.
    Update,
    /// A row was deleted (or soft-deleted).
    Delete,
    /// A soft-deleted row came back.
    Restore,
}

impl AuditAction {
    fn label(self) -> &'static str {
        match self {
            Self::Create => "CREATE",
            Self::Update => "UPDATE",
            Self::Delete => "DELETE",
            Self::Restore => "RESTORE",
        }
    }

    fn of(label: &str) -> Self {
        match label {
            "CREATE" => Self::Create,
            "DELETE" => Self::Delete,
            "RESTORE" => Self::Restore,
            _ => Self::Update,
        }
    }
}

/// One change.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct AuditEntry {
    /// Id (UUIDv7): entries ascend by id in the order they were written.
    pub id: Uuid,
    /// The table changed, e.g. `courses`.
    pub table: String,
    /// The row changed (for `user_roles`, the user).
    pub record_id: Uuid,
    /// What happened.
    pub action: AuditAction,
    /// The row before (absent for a creation). Never holds password hashes.
    pub old_values: Option<Value>,
    /// The row after (absent for a deletion).
    pub new_values: Option<Value>,
    /// Who made the change; absent for a sign-up or a platform operator.
    pub actor_id: Option<Uuid>,
    /// The `x-request-id` of the request that made it.
    pub request_id: Option<Uuid>,
    /// When (the time its transaction started).
    pub occurred_at: DateTime<Utc>,
}

impl From<AuditRow> for AuditEntry {
    fn from(r: AuditRow) -> Self {
        Self {
            id: r.id,
            action: AuditAction::of(&r.action),
            table: r.table_name,
            record_id: r.record_id,
            old_values: r.old_values,
            new_values: r.new_values,
            actor_id: r.actor_id,
            request_id: r.request_id,
            occurred_at: r.occurred_at,
        }
    }
}

/// A page of the trail.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct AuditPage {
    /// Newest first.
    pub items: Vec<AuditEntry>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(ApiResponse)]
enum AuditListed {
    /// The entries.
    #[oai(status = 200)]
    Ok(Json<AuditPage>),
}

#[derive(ApiResponse)]
enum AuditExported {
    /// Every matching entry, newest first: `id, occurred_at, table,
    /// record_id, action, actor_id, request_id, old_values, new_values`
    /// (the values as JSON text).
    #[oai(status = 200, content_type = "text/csv; charset=utf-8")]
    Csv(poem_openapi::payload::Binary<poem::Body>),
}

/// Rows of the export per database page.
const EXPORT_PAGE: i64 = 500;

#[allow(clippy::too_many_arguments)] // one per query parameter
fn filter(
    table: Option<AuditTable>,
    record_id: Option<Uuid>,
    actor_id: Option<Uuid>,
    action: Option<AuditAction>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> ApiResult<AuditFilter> {
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(ApiError::unprocessable(
            ErrorCode::InvalidTimeRange,
            "`from` must not be after `to`",
        ));
    }
    Ok(AuditFilter {
        table: table.map(|t| t.name().to_owned()),
        record: record_id,
        actor: actor_id,
        action: action.map(AuditAction::label),
        from,
        to,
    })
}

/// The audit trail.
pub struct AuditApi;

#[OpenApi(tag = "TenantTags::Events")]
impl AuditApi {
    /// Every change of courses, lessons, sections, categories, tags, users,
    /// roles, role assignments, enrollments and the organization, newest
    /// first (`audit:read`). The database writes the entries itself, in the
    /// changing transaction; no client can add, change or remove one.
    #[allow(clippy::too_many_arguments)] // one per query parameter
    #[oai(path = "/audit-logs", method = "get", operation_id = "listAuditLogs")]
    async fn list(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        /// Only this table.
        table: Query<Option<AuditTable>>,
        /// Only this row.
        record_id: Query<Option<Uuid>>,
        /// Only changes by this user.
        actor_id: Query<Option<Uuid>>,
        /// Only this action.
        action: Query<Option<AuditAction>>,
        /// At or after this time.
        from: Query<Option<DateTime<Utc>>>,
        /// Before this time.
        to: Query<Option<DateTime<Utc>>>,
        /// The `next_cursor` of the previous page.
        cursor: Query<Option<Uuid>>,
        /// Page size, 1–100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
    ) -> ApiResult<AuditListed> {
        let f = filter(table.0, record_id.0, actor_id.0, action.0, from.0, to.0)?;
        let before = cursor.0;
        let limit = limit.0.unwrap_or(paging::DEFAULT_LIMIT);
        let mut read = ctx.reader(&tenant, auth.0, "listAuditLogs").await?;
        let rows = audit::list(read.tx().await?, &f, before, limit + 1).await?;
        read.finish().await?;
        let (rows, next_cursor) = paging::page(rows, limit, |r| r.id.to_string());
        Ok(AuditListed::Ok(Json(AuditPage {
            items: rows.into_iter().map(Into::into).collect(),
            next_cursor,
        })))
    }

    /// The same entries as a streamed CSV file (`audit:read`).
    #[allow(clippy::too_many_arguments)] // one per query parameter
    #[oai(
        path = "/audit-logs.csv",
        method = "get",
        operation_id = "exportAuditLogs"
    )]
    async fn export(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        /// Only this table.
        table: Query<Option<AuditTable>>,
        /// Only this row.
        record_id: Query<Option<Uuid>>,
        /// Only changes by this user.
        actor_id: Query<Option<Uuid>>,
        /// Only this action.
        action: Query<Option<AuditAction>>,
        /// At or after this time.
        from: Query<Option<DateTime<Utc>>>,
        /// Before this time.
        to: Query<Option<DateTime<Utc>>>,
    ) -> ApiResult<AuditExported> {
        let f = filter(table.0, record_id.0, actor_id.0, action.0, from.0, to.0)?;
        let read = ctx.reader(&tenant, auth.0, "exportAuditLogs").await?;
        let user = read.actor().user;
        read.finish().await?;
        let (ctx, org) = (ctx.0.clone(), tenant.id);
        let header = [
            "id",
            "occurred_at",
            "table",
            "record_id",
            "action",
            "actor_id",
            "request_id",
            "old_values",
            "new_values",
        ];
        let body = crate::export::csv_stream(&header, move |before: Option<Uuid>| {
            let (ctx, f) = (ctx.clone(), f.clone());
            async move {
                let mut tx = ctx.db.tenant(org, Some(user)).await?;
                let rows = audit::list(&mut tx, &f, before, EXPORT_PAGE).await?;
                tx.commit().await?;
                let next = (rows.len() as i64 == EXPORT_PAGE)
                    .then(|| rows.last().map(|r| r.id))
                    .flatten();
                let text = |v: &Option<Value>| v.as_ref().map(Value::to_string).unwrap_or_default();
                let opt = |u: Option<Uuid>| u.map(|u| u.to_string()).unwrap_or_default();
                let lines = rows
                    .iter()
                    .map(|r| {
                        vec![
                            r.id.to_string(),
                            r.occurred_at.to_rfc3339(),
                            r.table_name.clone(),
                            r.record_id.to_string(),
                            r.action.clone(),
                            opt(r.actor_id),
                            opt(r.request_id),
                            text(&r.old_values),
                            text(&r.new_values),
                        ]
                    })
                    .collect();
                Ok((lines, next))
            }
        });
        Ok(AuditExported::Csv(poem_openapi::payload::Binary(body)))
    }
}
