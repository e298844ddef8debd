//! PostgreSQL access for Tenantry LMS.
//!
//! Tenant work has exactly one door: [`Database::tenant`] opens a transaction
//! whose first round trip sets the transaction-local tenant context, and every
//! tenant query takes the resulting [`TenantTx`]. Code that forgets the tenant
//! does not compile. Platform work goes through [`Database::platform`], on a
//! separate role whose extra rights are only what the platform API needs.

pub mod cluster;
pub mod error;
pub mod generate;
pub mod migrate;
pub mod queries;
pub mod request;
mod tx;

pub use error::{DbError, Violation};
pub use tx::{Database, PlatformTx, PoolSettings, TenantTx};
