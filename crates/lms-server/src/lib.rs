//! The `lms` binary's library: configuration, telemetry, startup.

pub mod config;
pub mod embedded;
pub mod startup;
pub mod telemetry;
