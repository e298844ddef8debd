//! Queries, one module per aggregate. Tenant queries take a [`TenantTx`]
//! (crate::TenantTx), platform queries a [`PlatformTx`](crate::PlatformTx).
//!
//! Every tenant query also filters on `organization_id` although row-level
//! security already does: that is what lets the planner use the
//! tenant-leading indexes, and a second guard costs nothing.

pub mod audit;
pub mod categories;
pub mod cohorts;
pub mod courses;
pub mod learning;
pub mod lessons;
pub mod monitoring;
pub mod ordering;
pub mod orgs;
pub mod outbox;
pub mod platform_admins;
pub mod platform_audit;
pub mod portable;
pub mod reviews;
pub mod roles;
pub mod sections;
pub mod sessions;
pub mod staff;
pub mod users;
