//! Queries, one module per aggregate. Tenant queries take a [`TenantTx`]
//! (crate::TenantTx), platform queries a [`PlatformTx`](crate::PlatformTx).
//!
//! Every tenant query also filters on `organization_id` although row-level
//! security already does: that is what lets the planner use the
//! tenant-leading indexes, and a second guard costs nothing.

pub mod courses;
pub mod lessons;
pub mod orgs;
pub mod platform_admins;
pub mod roles;
pub mod sessions;
pub mod users;
