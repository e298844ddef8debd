//! End-to-end tests: the real server, real PostgreSQL, the real roles.

mod auth;
mod courses;
mod hosts;
mod input;
mod isolation;
mod openapi;
mod schema;
