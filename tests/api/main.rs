//! End-to-end tests: the real server, real PostgreSQL, the real roles.

mod audit;
mod auth;
mod catalog;
mod coherence;
mod cohorts;
mod concurrency;
mod courses;
mod embedded;
mod events;
mod generated;
mod hosts;
mod http;
mod identity;
mod input;
mod isolation;
mod learning;
mod matrix;
mod openapi;
mod plans;
mod platform;
mod schema;
mod settings;
mod staff;
mod trash;
mod versions;
mod write_path;
