//! Fresh databases for tests: a temporary SQLite file always, and a private
//! PostgreSQL schema when `YIBAO_TEST_DATABASE_URL` is set (CI sets it to
//! `postgres://postgres@127.0.0.1:5432/test`). Each database is removed when
//! the last handle to it is dropped.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::engine::{Db, DbConfig};
use crate::sql::{Backend, DbError, DbErrorKind};
use crate::sqlite::Synchronous;

pub const TEST_DATABASE_URL_ENV: &str = "YIBAO_TEST_DATABASE_URL";

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique_name() -> String {
    format!("{}_{}_{}", std::process::id(), crate::now_ms(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A database in a temporary SQLite file (synchronous=OFF: tests need not
/// survive power loss).
pub fn sqlite() -> Db {
    sqlite_at(std::env::temp_dir().join(format!("yibao-test-{}.db", unique_name())))
}

/// Opens the SQLite file at `path` (created if missing) and removes it when
/// the last handle is dropped.
pub fn sqlite_at(path: std::path::PathBuf) -> Db {
    let cleanup_path = path.clone();
    let cleanup: Box<dyn FnOnce() + Send> = Box::new(move || remove_sqlite_files(&cleanup_path));
    let mut config = DbConfig::sqlite(&path, Synchronous::Off);
    config.readers = 2;
    Db::open_with_cleanup(&config, Some(cleanup)).expect("open test SQLite database")
}

/// Removes a SQLite database file with its WAL and shared-memory files.
pub fn remove_sqlite_files(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.to_path_buf().into_os_string();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
}

/// The PostgreSQL test URL, if tests should run on PostgreSQL.
pub fn postgres_url() -> Option<String> {
    std::env::var(TEST_DATABASE_URL_ENV).ok().filter(|u| !u.trim().is_empty())
}

fn with_search_path(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-csearch_path%3D{schema}")
}

fn admin_exec(url: &str, sql: &str) -> Result<(), DbError> {
    // The postgres client starts its own runtime: keep it off async threads.
    let url = url.to_owned();
    let sql = sql.to_owned();
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls)
            .map_err(|e| DbError::new(DbErrorKind::Unavailable, e.to_string()))?;
        client.batch_execute(&sql).map_err(crate::pg::map_err)
    })
    .join()
    .expect("admin thread")
}

/// A fresh, empty PostgreSQL schema (nothing migrated), dropped with this
/// value; `url` connects with it as the search path.
pub struct PostgresSchema {
    pub url: String,
    admin_url: String,
    name: String,
}

impl Drop for PostgresSchema {
    fn drop(&mut self) {
        if let Err(e) = admin_exec(&self.admin_url, &format!("DROP SCHEMA {} CASCADE", self.name)) {
            eprintln!("could not drop test schema {}: {e}", self.name);
        }
    }
}

/// A fresh PostgreSQL schema for a test that connects on its own, or `None`
/// when no test URL is set.
pub fn postgres_schema() -> Option<PostgresSchema> {
    let admin_url = postgres_url()?;
    let name = format!("yibao_test_{}", unique_name());
    admin_exec(&admin_url, &format!("CREATE SCHEMA {name}")).expect("create test schema");
    Some(PostgresSchema { url: with_search_path(&admin_url, &name), admin_url, name })
}

/// A database in a fresh PostgreSQL schema, or `None` when no test URL is set.
pub fn postgres() -> Option<Db> {
    let schema = postgres_schema()?;
    let mut config = DbConfig::postgres(schema.url.clone());
    config.writers = 2;
    config.readers = 2;
    let cleanup: Box<dyn FnOnce() + Send> = Box::new(move || drop(schema));
    Some(Db::open_with_cleanup(&config, Some(cleanup)).expect("open test PostgreSQL schema"))
}

/// Every backend available to tests: SQLite, and PostgreSQL when configured.
pub fn backends() -> Vec<Db> {
    let mut dbs = vec![sqlite()];
    dbs.extend(postgres());
    dbs
}

/// Opens a database of the given backend for a test, or `None` for
/// PostgreSQL when it is not configured (the test then passes vacuously and
/// says so on stderr).
pub fn open(backend: Backend) -> Option<Db> {
    match backend {
        Backend::Sqlite => Some(sqlite()),
        Backend::Postgres => {
            let db = postgres();
            if db.is_none() {
                eprintln!("{TEST_DATABASE_URL_ENV} not set: PostgreSQL test skipped");
            }
            db
        }
    }
}

/// An active fee line of visit `mdtrt_id` (person P1): one unit of a 甲类
/// drug at 1.00, serial `feedetl_sn`, charge batch `chrg_bchno`.
pub fn fee_line(mdtrt_id: &str, feedetl_sn: &str, chrg_bchno: &str) -> crate::visit::FeeLineRow {
    use yibao_domain::{DateTime, Money, Quantity, Ratio, UnitPrice};
    crate::visit::FeeLineRow {
        mdtrt_id: mdtrt_id.to_owned(),
        feedetl_sn: feedetl_sn.to_owned(),
        chrg_bchno: chrg_bchno.to_owned(),
        psn_no: "P1".to_owned(),
        med_list_codg: "XA01AAA000A001010100001".to_owned(),
        medins_list_codg: "H1".to_owned(),
        list_type: yibao_domain::codes::ListType::WesternAndPatentDrug,
        item_name: "药".to_owned(),
        fee_ocur_time: DateTime::parse("2026-11-24 09:00:00").expect("a fixed date"),
        cnt: Quantity::units(1),
        pric: UnitPrice::from_money(Money::from_fen(100)),
        amount: Money::from_fen(100),
        chrgitm_lv: None,
        selfpay_prop: Ratio::ZERO,
        price_cap: None,
        fulamt_ownpay_amt: Money::ZERO,
        overlmt_amt: Money::ZERO,
        preselfpay_amt: Money::ZERO,
        inscp_scp_amt: Money::from_fen(100),
        active: true,
        extra: "{}".to_owned(),
    }
}
