//! The SQLite backend (rusqlite, bundled SQLite).
//!
//! Settings, all deliberate:
//! - `journal_mode=WAL`: readers never block the writer;
//! - `synchronous` configurable: `FULL` (default) survives power loss, `NORMAL`
//!   survives a killed process but may lose the last commits on power loss,
//!   `OFF` is for tests only;
//! - `foreign_keys=ON`, `busy_timeout=5000`;
//! - reader connections are `query_only`, and the writer's checks each
//!   statement of a short read it runs (`Tx::set_query_only`), so a read
//!   job can never write;
//! - `mmap_size` (`sqlite_mmap_mib`, off by default): pages are read
//!   through a memory map instead of a `pread` and a copy into SQLite's page
//!   cache. Measured at 1M persons (docs/performance.md, fourth round): about
//!   4 % more settlements/s on the mean of alternating runs, within the
//!   run-to-run spread, so it stays off. Mapped pages are the kernel's page cache: they
//!   count in the server's RSS as file pages (`RssFile`), not as memory it
//!   allocated. An I/O error on a mapped page stops the process (SIGBUS)
//!   instead of failing a statement;
//!   the WAL is always read with `pread`;
//! - checkpoints run on a thread of their own (PASSIVE, every 100 ms) and the
//!   writer restarts a long WAL between batches (`engine.rs`), so no commit
//!   waits for a checkpoint and the WAL stays bounded;
//! - SQLite's memory statistics are off ([`configure_process`]).

use std::path::Path;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, ErrorCode, OpenFlags};

use crate::sql::{Backend, DbError, DbErrorKind, DbResult, Row, Tx, Value};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Synchronous {
    Full,
    Normal,
    Off,
}

impl Synchronous {
    pub fn parse(text: &str) -> Option<Synchronous> {
        match text.to_ascii_lowercase().as_str() {
            "full" => Some(Synchronous::Full),
            "normal" => Some(Synchronous::Normal),
            "off" => Some(Synchronous::Off),
            _ => None,
        }
    }

    fn pragma(self) -> &'static str {
        match self {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
            Synchronous::Off => "OFF",
        }
    }
}

/// Largest memory map SQLite accepts (its compile-time `SQLITE_MAX_MMAP_SIZE`).
pub const MMAP_BYTES_MAX: u64 = 0x7fff_0000;

pub struct SqliteConn {
    conn: Connection,
    /// See [`Tx::set_query_only`]: checked per statement before it runs.
    query_only: bool,
}

pub(crate) fn map_err(e: rusqlite::Error) -> DbError {
    let kind = match &e {
        rusqlite::Error::SqliteFailure(err, _) => match err.code {
            ErrorCode::ConstraintViolation => match err.extended_code {
                rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                    DbErrorKind::Unique
                }
                _ => DbErrorKind::Constraint,
            },
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => DbErrorKind::Retryable,
            ErrorCode::CannotOpen | ErrorCode::NotADatabase | ErrorCode::DiskFull | ErrorCode::SystemIoFailure => {
                DbErrorKind::Unavailable
            }
            _ => DbErrorKind::Other,
        },
        _ => DbErrorKind::Other,
    };
    DbError::new(kind, e.to_string())
}

/// Process-wide SQLite settings, made once, before the first connection:
/// `sqlite3_config` is refused once SQLite has initialized, which opening a
/// connection does.
///
/// Memory statistics off (`SQLITE_CONFIG_MEMSTATUS`, which SQLite's own
/// list of recommended options also turns off): with them on, every
/// `sqlite3_malloc` and `sqlite3_free` takes one global mutex, shared by the
/// writer and every reader. yibao reads none of the statistics (and sets no
/// heap limit, which needs them). The census counted about 16 k
/// instructions per visit less (docs/performance.md, fifteenth round); the
/// page cache's own statistics still take a mutex per page allocated, which
/// only a compile-time option turns off. Returns whether the setting took:
/// false only when something else in the process used SQLite first, which
/// costs speed, not correctness.
pub fn configure_process() -> bool {
    static CONFIGURED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *CONFIGURED.get_or_init(|| {
        // SAFETY: sqlite3_config must not run while another thread uses
        // SQLite. Every connection of the process is opened by
        // `SqliteConn::open`, which calls this first, and `OnceLock` makes
        // every other caller wait until it has returned. Before SQLite is
        // initialized the call only records the setting; after, it is
        // refused with SQLITE_MISUSE and changes nothing.
        let rc = unsafe {
            rusqlite::ffi::sqlite3_config(rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS, std::ffi::c_int::from(0u8))
        };
        rc == rusqlite::ffi::SQLITE_OK
    })
}

impl SqliteConn {
    /// `mmap_bytes` 0 reads every page with `pread`.
    pub fn open(path: &Path, synchronous: Synchronous, mmap_bytes: u64, read_only: bool) -> DbResult<SqliteConn> {
        assert!(mmap_bytes <= MMAP_BYTES_MAX, "mmap_bytes above SQLite's maximum");
        configure_process();
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(path, flags)
            .map_err(|e| DbError::new(DbErrorKind::Unavailable, format!("cannot open {}: {e}", path.display())))?;
        conn.set_prepared_statement_cache_capacity(512);
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(map_err)?;
        // journal_mode returns a row; query it rather than execute.
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)).map_err(map_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(DbError::new(DbErrorKind::Unavailable, format!("WAL mode refused (got {mode})")));
        }
        conn.execute_batch(&format!(
            "PRAGMA synchronous={}; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-32768;",
            synchronous.pragma()
        ))
        .map_err(map_err)?;
        if read_only {
            conn.execute_batch("PRAGMA query_only=ON;").map_err(map_err)?;
        }
        // mmap_size answers with the size it set (a row).
        let mapped: i64 =
            conn.query_row(&format!("PRAGMA mmap_size={mmap_bytes}"), [], |r| r.get(0)).map_err(map_err)?;
        debug_assert_eq!(mapped as u64, mmap_bytes, "SQLite clamped mmap_size");
        Ok(SqliteConn { conn, query_only: false })
    }

    /// Makes this connection record, after each commit, how many frames the
    /// WAL holds (read with [`wal_frames_committed`] on the same thread).
    /// Replaces SQLite's automatic checkpoint on this connection: the engine
    /// checkpoints on a thread of its own and restarts the WAL itself.
    pub fn track_wal_frames(&self) {
        fn hook(_wal: &rusqlite::hooks::Wal, frames: std::ffi::c_int) -> rusqlite::Result<()> {
            WAL_FRAMES.with(|f| f.set(i64::from(frames)));
            Ok(())
        }
        self.conn.wal_hook(Some(hook));
    }

    /// Runs a PASSIVE checkpoint: copies what it can of the WAL back into
    /// the database without waiting for any lock (pages a reader still
    /// needs are left for the next call).
    pub fn wal_checkpoint_passive(&mut self) -> DbResult<()> {
        self.conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())).map_err(map_err)
    }

    fn bind_and<T>(
        &mut self,
        sql: &str,
        params: &[Value],
        run: impl FnOnce(&mut rusqlite::CachedStatement<'_>) -> rusqlite::Result<T>,
    ) -> DbResult<T> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(map_err)?;
        // sqlite3_stmt_readonly: true for queries and transaction control.
        if self.query_only && !stmt.readonly() {
            return Err(DbError::new(DbErrorKind::Other, format!("a read job may not write: {sql}")));
        }
        let expected = stmt.parameter_count();
        if expected != params.len() {
            return Err(DbError::new(
                DbErrorKind::Other,
                format!("statement expects {expected} parameters, got {}: {sql}", params.len()),
            ));
        }
        for (i, p) in params.iter().enumerate() {
            let idx = i + 1;
            // Placeholders must be $1..$n in order of first appearance, so
            // that SQLite's numbering of named parameters matches ours.
            debug_assert_eq!(
                stmt.parameter_name(idx),
                Some(format!("${idx}").as_str()),
                "placeholders out of order in: {sql}"
            );
            let r = match p {
                Value::Null => stmt.raw_bind_parameter(idx, rusqlite::types::Null),
                Value::Int(v) => stmt.raw_bind_parameter(idx, v),
                Value::Text(v) => stmt.raw_bind_parameter(idx, v.as_str()),
                Value::Blob(v) => stmt.raw_bind_parameter(idx, v.as_slice()),
            };
            r.map_err(map_err)?;
        }
        run(&mut stmt).map_err(map_err)
    }
}

thread_local! {
    /// Frames in the WAL after the last commit on this thread by a
    /// connection that [tracks them](SqliteConn::track_wal_frames). SQLite
    /// calls the WAL hook on the committing thread, and each writer thread
    /// owns its connection, so a thread-local is exact.
    static WAL_FRAMES: std::cell::Cell<i64> = const { std::cell::Cell::new(0) };
}

/// See [`SqliteConn::track_wal_frames`]; 0 after [`reset_wal_frames`].
pub fn wal_frames_committed() -> i64 {
    WAL_FRAMES.with(std::cell::Cell::get)
}

pub fn reset_wal_frames() {
    WAL_FRAMES.with(|f| f.set(0));
}

fn convert(v: ValueRef<'_>) -> DbResult<Value> {
    Ok(match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Text(t) => {
            Value::Text(String::from_utf8(t.to_vec()).map_err(|_| DbError::decode("column text is not UTF-8"))?)
        }
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        ValueRef::Real(_) => {
            return Err(DbError::decode("floating-point column: yibao stores no floats"));
        }
    })
}

impl Tx for SqliteConn {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> DbResult<u64> {
        self.bind_and(sql, params, |stmt| stmt.raw_execute()).map(|n| n as u64)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> DbResult<Vec<Row>> {
        let mut decode_error = None;
        let rows = self.bind_and(sql, params, |stmt| {
            let columns = stmt.column_count();
            let mut out = Vec::new();
            let mut rows = stmt.raw_query();
            while let Some(row) = rows.next()? {
                let mut values = Vec::with_capacity(columns);
                for i in 0..columns {
                    match convert(row.get_ref(i)?) {
                        Ok(v) => values.push(v),
                        Err(e) => {
                            decode_error = Some(e);
                            return Ok(out);
                        }
                    }
                }
                out.push(Row::new(values));
            }
            Ok(out)
        })?;
        match decode_error {
            Some(e) => Err(e),
            None => Ok(rows),
        }
    }

    fn execute_batch(&mut self, sql: &str) -> DbResult<()> {
        if self.query_only {
            // One statement at a time, so that each is checked (rusqlite
            // refuses a text with more than one).
            return self.bind_and(sql, &[], |stmt| stmt.raw_execute()).map(drop);
        }
        self.conn.execute_batch(sql).map_err(map_err)
    }

    fn set_query_only(&mut self, on: bool) {
        self.query_only = on;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mmap_size(conn: &mut SqliteConn) -> i64 {
        conn.query_one("PRAGMA mmap_size", &[]).and_then(|r| r.i64(0)).expect("mmap_size")
    }

    #[test]
    fn the_memory_map_is_what_was_asked_and_mapped_readers_see_commits() {
        let path = std::env::temp_dir().join(format!("yibao-mmap-{}-{}.db", std::process::id(), crate::now_ms()));
        let mut writer = SqliteConn::open(&path, Synchronous::Off, 64 << 20, false).unwrap();
        let mut mapped = SqliteConn::open(&path, Synchronous::Off, 64 << 20, true).unwrap();
        let mut unmapped = SqliteConn::open(&path, Synchronous::Off, 0, true).unwrap();
        assert_eq!(mmap_size(&mut writer), 64 << 20);
        assert_eq!(mmap_size(&mut unmapped), 0);
        writer.execute_batch("CREATE TABLE t (x BIGINT); INSERT INTO t VALUES (7);").unwrap();
        // A checkpoint moves the page into the database file, where the
        // mapped reader reads it through the map.
        writer.wal_checkpoint_passive().unwrap();
        for reader in [&mut mapped, &mut unmapped] {
            assert_eq!(reader.query_one("SELECT x FROM t", &[]).unwrap().i64(0).unwrap(), 7);
        }
        drop((writer, mapped, unmapped));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }

    #[test]
    fn sqlite_keeps_no_memory_statistics() {
        let path = std::env::temp_dir().join(format!("yibao-memstatus-{}-{}.db", std::process::id(), crate::now_ms()));
        let mut conn = SqliteConn::open(&path, Synchronous::Off, 0, false).unwrap();
        conn.execute_batch("CREATE TABLE t (x TEXT); INSERT INTO t VALUES (printf('%.*c', 100000, 'x'));").unwrap();
        assert_eq!(conn.query_one("SELECT length(x) FROM t", &[]).unwrap().i64(0).unwrap(), 100_000);
        assert!(configure_process(), "the first connection of the process came after the setting");
        // With statistics on, SQLite counts every byte it allocates: the
        // page cache and the 100 kB row above would show here.
        // SAFETY: a read of a counter, no pointers.
        let used = unsafe { rusqlite::ffi::sqlite3_memory_used() };
        assert_eq!(used, 0, "SQLite counted its memory: the mutex on every allocation is back");
        drop(conn);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }

    /// `.cargo/config.toml` builds SQLite without the global page-cache
    /// mutexes (docs/performance.md, fifteenth round). Fails when the
    /// bundled SQLite is built with libsqlite3-sys's defaults.
    #[test]
    fn sqlite_is_built_without_a_shared_page_cache_or_its_statistics() {
        let used = |option: &std::ffi::CStr| {
            // SAFETY: a NUL-terminated string SQLite only reads.
            unsafe { rusqlite::ffi::sqlite3_compileoption_used(option.as_ptr()) }
        };
        assert_eq!(used(c"ENABLE_MEMORY_MANAGEMENT"), 0, "one page cache LRU behind one mutex for every connection");
        assert_eq!(used(c"DISABLE_PAGECACHE_OVERFLOW_STATS"), 1, "a mutex on every page allocated");
        assert_eq!(used(c"THREADSAFE=1"), 1, "the defaults otherwise stand");
        // Without memory management, SQLite has no pages to give back.
        let path = std::env::temp_dir().join(format!("yibao-pcache-{}-{}.db", std::process::id(), crate::now_ms()));
        let mut conn = SqliteConn::open(&path, Synchronous::Off, 0, false).unwrap();
        conn.execute_batch(
            "CREATE TABLE t (x TEXT); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) \
             INSERT INTO t SELECT printf('%.*c', 500, 'x') FROM n;",
        )
        .unwrap();
        assert_eq!(conn.query_one("SELECT COUNT(*) FROM t", &[]).unwrap().i64(0).unwrap(), 2000);
        // SAFETY: takes and returns plain integers.
        assert_eq!(unsafe { rusqlite::ffi::sqlite3_release_memory(1 << 30) }, 0);
        drop(conn);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
