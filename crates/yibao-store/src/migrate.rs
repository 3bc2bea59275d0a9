//! Schema migrations, applied in order on start, each in its own transaction.
//!
//! Migration files are written in the common subset of SQLite and
//! PostgreSQL; the only translation is `BLOB` → `BYTEA`. Where the two need
//! different statements for the same change (SQLite rebuilds a table to
//! change a key PostgreSQL alters in place), a migration has one file per
//! backend, `NNNN_name.sqlite.sql` and `NNNN_name.postgres.sql`, which must
//! leave the same columns, constraints and queryable indexes. A migration,
//! once released, is never edited: a change is a new file.

use crate::sql::{Backend, DbResult, Tx};
use crate::{now_ms, params};

/// One schema change: its version, its name, and its SQL for each backend.
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

impl Migration {
    /// A migration in the common subset: the same file on both backends.
    const fn common(version: i64, name: &'static str, sql: &'static str) -> Migration {
        Migration { version, name, sqlite: sql, postgres: sql }
    }

    fn sql(&self, backend: Backend) -> String {
        match backend {
            Backend::Sqlite => self.sqlite.to_owned(),
            Backend::Postgres => self.postgres.replace(" BLOB", " BYTEA"),
        }
    }
}

/// Versions are increasing (dense once every branch is merged: 3,
/// enrollment, is added on its own branch).
pub const MIGRATIONS: &[Migration] = &[
    Migration::common(1, "base", include_str!("../migrations/0001_base.sql")),
    Migration::common(2, "policy_settlement", include_str!("../migrations/0002_policy_settlement.sql")),
    Migration::common(3, "enrollment", include_str!("../migrations/0003_enrollment.sql")),
    Migration::common(4, "fund", include_str!("../migrations/0004_fund.sql")),
    Migration::common(5, "interface", include_str!("../migrations/0005_interface.sql")),
    Migration::common(6, "gateway", include_str!("../migrations/0006_gateway.sql")),
    Migration::common(7, "write_path", include_str!("../migrations/0007_write_path.sql")),
    Migration::common(8, "coverage_snapshot", include_str!("../migrations/0008_coverage_snapshot.sql")),
    Migration::common(9, "visit_lines_version", include_str!("../migrations/0009_visit_lines_version.sql")),
    Migration {
        version: 10,
        name: "fewer_btrees",
        sqlite: include_str!("../migrations/0010_fewer_btrees.sqlite.sql"),
        postgres: include_str!("../migrations/0010_fewer_btrees.postgres.sql"),
    },
];

/// Applies pending migrations; returns the versions applied.
pub fn run(tx: &mut dyn Tx) -> DbResult<Vec<i64>> {
    run_through(tx, i64::MAX)
}

/// Applies pending migrations up to and including `version_max`: a test of
/// a migration over existing rows stops before it, writes the rows, and
/// then runs the rest.
pub fn run_through(tx: &mut dyn Tx, version_max: i64) -> DbResult<Vec<i64>> {
    let backend = tx.backend();
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migration (
            version BIGINT PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at_ms BIGINT NOT NULL
        )",
    )?;
    let mut applied = Vec::new();
    for migration in MIGRATIONS.iter().filter(|m| m.version <= version_max) {
        let (version, name) = (migration.version, migration.name);
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
            tx.execute_batch(&migration.sql(backend))?;
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
