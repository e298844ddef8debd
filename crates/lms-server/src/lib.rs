//! The `lms` binary's library: configuration, telemetry, startup.

pub mod ceiling;
pub mod config;
pub mod embedded;
pub mod slow_clients;
pub mod startup;
pub mod telemetry;
