//! Periodic housekeeping: learning sessions left open end at their last
//! heartbeat, enrollments past their access end become EXPIRED, deleted
//! courses past the organization's retention period are purged, and the
//! usage counters' deltas are folded into one row per tenant and table. Every
//! replica runs it; the updates are idempotent, so replicas racing each
//! other change nothing twice.

use std::time::Duration;

use chrono::Utc;
use lms_db::queries::learning;
use tokio::task::JoinHandle;

use crate::context::Ctx;
use crate::error::ApiResult;
use crate::tenant_api::SESSION_IDLE;

/// How often the sweep runs.
const EVERY: Duration = Duration::from_secs(60);

/// Runs [`sweep`] every minute until the task is aborted.
pub fn spawn_sweeper(ctx: Ctx) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = sweep(&ctx).await {
                tracing::warn!(code = e.code(), "housekeeping sweep failed");
            }
        }
    })
}

/// One sweep over every tenant, each in its own short transaction.
pub async fn sweep(ctx: &Ctx) -> ApiResult<learning::Swept> {
    let mut tx = ctx.db.platform().await?;
    let folded = lms_db::queries::orgs::compact_usage(&mut tx).await?;
    let orgs = learning::organization_ids(&mut tx).await?;
    tx.commit().await?;
    tracing::debug!(folded, "usage counters folded");
    let mut total = learning::Swept::default();
    for org in orgs {
        // One tenant's trouble does not stop the others' housekeeping.
        let one = async {
            let mut tx = ctx.db.platform().await?;
            let s = learning::sweep_tenant(&mut tx, org, Utc::now() - SESSION_IDLE).await?;
            tx.commit().await?;
            Ok::<_, crate::error::ApiError>(s)
        };
        match one.await {
            Ok(s) => {
                total.sessions_closed += s.sessions_closed;
                total.enrollments_expired += s.enrollments_expired;
                total.trash_purged += s.trash_purged;
            }
            Err(e) => {
                tracing::warn!(org_id = %org, code = e.code(), "housekeeping of a tenant failed")
            }
        }
    }
    if total != learning::Swept::default() {
        tracing::info!(
            sessions_closed = total.sessions_closed,
            enrollments_expired = total.enrollments_expired,
            trash_purged = total.trash_purged,
            "housekeeping sweep"
        );
    }
    Ok(total)
}
