//! The HTTP API of Tenantry LMS.

pub mod access;
pub mod app;
pub mod auth;
pub mod catalog_cache;
pub mod client;
pub mod coherence;
pub mod concurrency;
pub mod context;
pub mod contract;
pub mod cors;
pub mod domains;
pub mod error;
pub mod export;
pub mod limiter;
pub mod maintenance;
pub mod paging;
pub mod payload;
pub mod platform_api;
pub mod portable;
pub mod provision;
pub mod reader;
pub mod request_id;
pub mod routes;
pub mod session_tokens;
pub mod settings;
pub mod spec;
pub mod tenancy;
pub mod tenant_api;
pub mod unit;

pub use app::build;
pub use context::{ApiConfig, ApiContext, Ctx};

/// The OpenAPI document of the tenant API, as served and as checked in.
pub fn tenant_spec() -> String {
    spec::polish(&tenant_api::service().spec(), spec::Api::Tenant)
}

/// The OpenAPI document of the platform API, as served and as checked in.
pub fn platform_spec() -> String {
    spec::polish(&platform_api::service().spec(), spec::Api::Platform)
}
