//! yibao's storage layer.
//!
//! - [`engine`]: the DB threads, group commit and the `Db` handle;
//! - [`sql`]: the `Tx` trait and values every repository is written against;
//! - [`sqlite`], [`pg`]: the two backends;
//! - [`migrate`]: the schema, versioned;
//! - one module per business module with its SQL (`catalog`, `institution`,
//!   `enrollment`, `auth`, `audit`, `reference`);
//! - [`testing`]: fresh databases for tests, on both backends.
//!
//! Repositories are synchronous functions over `&mut dyn Tx`; the application
//! layer composes them into one job per business transaction.

pub mod account;
pub mod audit;
pub mod auth;
pub mod catalog;
pub mod contribution;
pub mod employer;
pub mod engine;
pub mod enrollment;
pub mod fsi;
pub mod fund;
pub mod gateway;
pub mod ids;
pub mod institution;
pub mod line_cache;
pub mod migrate;
pub mod pg;
pub mod policy;
pub mod reference;
pub mod settlement;
pub mod sim;
pub mod sql;
pub mod sqlite;
pub mod testing;
pub mod visit;

pub use engine::{Db, DbConfig, JobError, Location, SQLITE_MMAP_BYTES_DEFAULT};
pub use sql::{
    Backend, DbError, DbErrorKind, DbResult, FromValue, PrefetchCounts, Read, Row, RowsExpected, Tx, Value,
    insert_many, insert_many_deferred,
};
pub use sqlite::{MMAP_BYTES_MAX as SQLITE_MMAP_BYTES_MAX, Synchronous};

/// Milliseconds since the Unix epoch, from the system clock.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
