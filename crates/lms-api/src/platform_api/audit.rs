//! The platform's own audit trail: what platform admins did.

use chrono::{DateTime, Utc};
use lms_db::queries::platform_audit::{self, PlatformAuditFilter};
use poem::web::Data;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::{PlatformBearer, PlatformTags, authorize};
use crate::context::Ctx;
use crate::error::ApiResult;
use crate::paging;

/// What a platform admin did.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct PlatformAuditEntry {
    /// Id.
    pub id: Uuid,
    /// The admin (absent once they are removed).
    pub admin_id: Option<Uuid>,
    /// `<subject>.<verb>`, such as `organization.deleted`.
    pub action: String,
    /// The organization acted on (it may no longer exist).
    pub organization_id: Option<Uuid>,
    /// What else the entry records.
    pub details: serde_json::Value,
    /// The request that did it (`X-Request-Id`).
    pub request_id: Option<Uuid>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A page of the platform audit trail.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct PlatformAuditPage {
    /// Newest first.
    pub items: Vec<PlatformAuditEntry>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(ApiResponse)]
enum AuditListed {
    /// A page of entries.
    #[oai(status = 200)]
    Ok(Json<PlatformAuditPage>),
}

/// The platform audit trail.
pub struct PlatformAuditApi;

#[OpenApi(tag = "PlatformTags::Audit")]
impl PlatformAuditApi {
    /// What platform admins did, newest first: every change to
    /// organizations, their domains and the platform admins, kept after an
    /// organization is deleted.
    #[oai(
        path = "/audit-logs",
        method = "get",
        operation_id = "listPlatformAuditLogs"
    )]
    #[allow(clippy::too_many_arguments)] // one per query parameter
    async fn list(
        &self,
        ctx: Data<&Ctx>,
        auth: PlatformBearer,
        /// Only about this organization.
        organization_id: Query<Option<Uuid>>,
        /// Only by this admin.
        admin_id: Query<Option<Uuid>>,
        /// Only this action.
        #[oai(validator(max_length = 100))]
        action: Query<Option<String>>,
        /// At or after.
        since: Query<Option<DateTime<Utc>>>,
        /// Before.
        until: Query<Option<DateTime<Utc>>>,
        /// The `next_cursor` of the previous page.
        cursor: Query<Option<Uuid>>,
        /// Page size, 1–100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
    ) -> ApiResult<AuditListed> {
        let before = cursor.0;
        let limit = limit.0.unwrap_or(paging::DEFAULT_LIMIT);
        let filter = PlatformAuditFilter {
            organization: organization_id.0,
            admin: admin_id.0,
            action: action.0,
            since: since.0,
            until: until.0,
        };
        let mut tx = ctx.db.platform().await?;
        authorize(&mut tx, auth.0, "listPlatformAuditLogs").await?;
        let rows = platform_audit::list(&mut tx, &filter, before, limit + 1).await?;
        tx.commit().await?;
        let (rows, next_cursor) = paging::page(rows, limit, |r| r.id.to_string());
        Ok(AuditListed::Ok(Json(PlatformAuditPage {
            items: rows
                .into_iter()
                .map(|r| PlatformAuditEntry {
                    id: r.id,
                    admin_id: r.admin_id,
                    action: r.action,
                    organization_id: r.organization_id,
                    details: r.details,
                    request_id: r.request_id,
                    created_at: r.created_at,
                })
                .collect(),
            next_cursor,
        })))
    }
}
