//! Schema migrations, applied in order on start, each in its own transaction.
//!
//! Migration files are written in the common subset of SQLite and
//! PostgreSQL; the only translation is `BLOB` → `BYTEA`. A migration, once
//! released, is never edited: a change is a new file.

use crate::sql::{Backend, DbResult, Tx};
use crate::{now_ms, params};

/// (version, name, SQL). Versions are increasing (dense once every branch is
/// merged: 3, enrollment, is added on its own branch).
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "base", include_str!("../migrations/0001_base.sql")),
    (2, "policy_settlement", include_str!("../migrations/0002_policy_settlement.sql")),
    (3, "enrollment", include_str!("../migrations/0003_enrollment.sql")),
    (4, "fund", include_str!("../migrations/0004_fund.sql")),
    (5, "interface", include_str!("../migrations/0005_interface.sql")),
    (6, "gateway", include_str!("../migrations/0006_gateway.sql")),
    (7, "write_path", include_str!("../migrations/0007_write_path.sql")),
    (8, "coverage_snapshot", include_str!("../migrations/0008_coverage_snapshot.sql")),
    (9, "visit_lines_version", include_str!("../migrations/0009_visit_lines_version.sql")),
];

fn translate(sql: &str, backend: Backend) -> String {
    match backend {
        Backend::Sqlite => sql.to_owned(),
        Backend::Postgres => sql.replace(" BLOB", " BYTEA"),
    }
}

/// Applies pending migrations; returns the versions applied.
pub fn run(tx: &mut dyn Tx) -> DbResult<Vec<i64>> {
    let backend = tx.backend();
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migration (
            version BIGINT PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at_ms BIGINT NOT NULL
        )",
    )?;
    let mut applied = Vec::new();
    for &(version, name, sql) in MIGRATIONS {
        let begin = match backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        };
        tx.execute_batch(begin)?;
        let result = (|| -> DbResult<bool> {
            if backend == Backend::Postgres {
                // Two servers starting at once must not both migrate.
                tx.execute("SELECT pg_advisory_xact_lock(7100042)", params![])?;
            }
            let done = tx.query_opt("SELECT version FROM schema_migration WHERE version = $1", params![version])?;
            if done.is_some() {
                return Ok(false);
            }
            tx.execute_batch(&translate(sql, backend))?;
            tx.execute(
                "INSERT INTO schema_migration (version, name, applied_at_ms) VALUES ($1, $2, $3)",
                params![version, name, now_ms()],
            )?;
            Ok(true)
        })();
        match result {
            Ok(did) => {
                tx.execute_batch("COMMIT")?;
                if did {
                    tracing::info!(version, name, "applied migration");
                    applied.push(version);
                }
            }
            Err(e) => {
                let _ = tx.execute_batch("ROLLBACK");
                return Err(e);
            }
        }
    }
    Ok(applied)
}
