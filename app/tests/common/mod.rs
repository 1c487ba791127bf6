//! Helpers shared by the integration tests. Each test binary includes this with `mod common;`
//! and uses the modules it needs.

pub mod app;
pub mod fixtures;
pub mod s3;
