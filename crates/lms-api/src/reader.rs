//! The read path: a caller authorized from the cache, and a tenant
//! transaction opened only when the answer is not cached.

use lms_db::TenantTx;
use lms_domain::{OrgId, UserId};

use crate::context::{Actor, ApiContext, TenantCaller, check_access};
use crate::error::ApiResult;
use crate::tenancy::Tenant;

/// One read of a tenant's data. A read answered from a cache never opens
/// its transaction: with the caller's authorization cached too, it makes no
/// database round trip at all.
pub struct Reader<'a> {
    ctx: &'a ApiContext,
    org: OrgId,
    user: UserId,
    tx: Option<TenantTx>,
    actor: Actor,
}

impl ApiContext {
    /// Authorizes `who` for the read `operation_id` (see
    /// [`ApiContext::cached_actor`]) and returns the read's handle.
    pub async fn reader(
        &self,
        tenant: &Tenant,
        who: TenantCaller,
        operation_id: &'static str,
    ) -> ApiResult<Reader<'_>> {
        let mut tx = None;
        let actor = self.cached_actor(tenant, who, &mut tx).await?;
        check_access(&actor, operation_id)?;
        Ok(Reader {
            ctx: self,
            org: tenant.id,
            user: who.user,
            tx,
            actor,
        })
    }
}

impl Reader<'_> {
    /// The authorized caller.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// The read's tenant transaction, opened on first use.
    pub async fn tx(&mut self) -> ApiResult<&mut TenantTx> {
        let tx = match self.tx.take() {
            Some(tx) => tx,
            None => self.ctx.db.tenant(self.org, Some(self.user)).await?,
        };
        Ok(self.tx.insert(tx))
    }

    /// Ends the read (commits the transaction, if one was opened).
    pub async fn finish(self) -> ApiResult<()> {
        if let Some(tx) = self.tx {
            tx.commit().await?;
        }
        Ok(())
    }
}
