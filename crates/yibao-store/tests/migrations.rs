//! Migrations over existing rows: a database at the version before a
//! migration is given rows, the migration runs, and the rows, constraints
//! and indexes are checked after it. Both databases.

use yibao_store::migrate;
use yibao_store::pg::PgConn;
use yibao_store::sql::{Backend, Tx};
use yibao_store::sqlite::{SqliteConn, Synchronous};
use yibao_store::{params, testing};

/// Rows in every table migration 10 rebuilds or re-indexes, including the
/// NULLs its partial indexes leave out.
const ROWS_BEFORE_10: &str = "
INSERT INTO fund_entry (id, kind, reference, reverses, entry_date, memo, debit_fen, credit_fen, created_by,
                        created_at_ms)
VALUES (7340000000001, 'settlement', 'S1', NULL, '2026-11-23', '结算 S1', 12345, 12345, 'fsi', 1),
       (7340000000002, 'settlement_reversal', 'R1', 'S1', '2026-11-24', '冲正 S1', -12345, -12345, 'fsi', 2);
INSERT INTO fund_line (entry_id, line_no, region, fund, account, sub, side, amount_fen, entry_date)
VALUES (7340000000001, 1, '330200', '310100', 'expense', '', 'D', 12345, '2026-11-23'),
       (7340000000001, 2, '330200', '310100', 'payable_institution', 'H33020300001', 'C', 12345, '2026-11-23'),
       (7340000000002, 1, '330200', '310100', 'expense', '', 'D', -12345, '2026-11-24'),
       (7340000000002, 2, '330200', '310100', 'payable_institution', 'H33020300001', 'C', -12345, '2026-11-24');
INSERT INTO account_movement (id, psn_no, seq, kind, amount_fen, balance_after_fen, reference, related_ref,
                              user_psn_no, authorization_id, move_date, created_at_ms)
VALUES (7340000000011, '33020000000000000001', 1, 'settlement', -300, 700, 'S1', NULL, NULL, NULL, '2026-11-23', 3),
       (7340000000012, '33020000000000000001', 2, 'family', -200, 500, 'S2', 'S2', '33020000000000000002', 42,
        '2026-11-24', 4);
";

/// Every row of the four tables as text, in key order: equal before and
/// after means the rebuild copied every column of every row.
fn dump(tx: &mut dyn Tx) -> Vec<String> {
    let queries = [
        "SELECT CAST(id AS TEXT) || '|' || kind || '|' || reference || '|' || COALESCE(reverses, '∅') || '|' || \
         entry_date || '|' || memo || '|' || CAST(debit_fen AS TEXT) || '|' || CAST(credit_fen AS TEXT) || '|' || \
         created_by || '|' || CAST(created_at_ms AS TEXT) FROM fund_entry ORDER BY id",
        "SELECT CAST(entry_id AS TEXT) || '|' || CAST(line_no AS TEXT) || '|' || region || '|' || fund || '|' || \
         account || '|' || sub || '|' || side || '|' || CAST(amount_fen AS TEXT) || '|' || entry_date \
         FROM fund_line ORDER BY entry_id, line_no",
        "SELECT CAST(id AS TEXT) || '|' || psn_no || '|' || CAST(seq AS TEXT) || '|' || kind || '|' || \
         CAST(amount_fen AS TEXT) || '|' || CAST(balance_after_fen AS TEXT) || '|' || reference || '|' || \
         COALESCE(related_ref, '∅') || '|' || COALESCE(user_psn_no, '∅') || '|' || \
         COALESCE(CAST(authorization_id AS TEXT), '∅') || '|' || move_date || '|' || CAST(created_at_ms AS TEXT) \
         FROM account_movement ORDER BY id",
    ];
    let mut out = Vec::new();
    for sql in queries {
        for row in tx.query(sql, params![]).unwrap() {
            out.push(row.text(0).unwrap());
        }
    }
    out
}

fn plan(tx: &mut dyn Tx, sql: &str) -> String {
    let explain = match tx.backend() {
        Backend::Sqlite => format!("EXPLAIN QUERY PLAN {sql}"),
        Backend::Postgres => format!("EXPLAIN {sql}"),
    };
    let column = match tx.backend() {
        Backend::Sqlite => 3,
        Backend::Postgres => 0,
    };
    tx.query(&explain, params![]).unwrap().iter().map(|r| r.text(column).unwrap()).collect::<Vec<_>>().join("\n")
}

fn check_migration_10(tx: &mut dyn Tx) {
    let backend = tx.backend();
    assert_eq!(migrate::run_through(tx, 9).unwrap(), (1..=9).collect::<Vec<i64>>());
    tx.execute_batch(ROWS_BEFORE_10).unwrap();
    let before = dump(tx);
    assert_eq!(before.len(), 2 + 4 + 2);

    let applied = migrate::run(tx).unwrap();
    assert_eq!(applied.first(), Some(&10), "{backend:?}");
    assert_eq!(dump(tx), before, "{backend:?}: rows changed by migration 10");

    // Constraints hold as before.
    let entry = |id: i64, reference: &str, reverses: Option<&str>| {
        format!(
            "INSERT INTO fund_entry (id, kind, reference, reverses, entry_date, memo, debit_fen, credit_fen, \
             created_by, created_at_ms) VALUES ({id}, 'settlement_reversal', '{reference}', {}, '2026-11-24', '', \
             1, 1, 'fsi', 7)",
            reverses.map(|r| format!("'{r}'")).unwrap_or_else(|| "NULL".into())
        )
    };
    assert!(tx.execute(&entry(7340000000003, "R2", Some("S1")), params![]).is_err(), "{backend:?}: S1 reversed twice");
    tx.execute(&entry(7340000000004, "X1", None), params![]).unwrap();
    tx.execute(&entry(7340000000005, "X2", None), params![]).unwrap();
    assert!(tx.execute(&entry(7340000000006, "X2", None), params![]).is_err(), "{backend:?}: (kind, reference)");
    let orphan = "INSERT INTO fund_line (entry_id, line_no, region, fund, account, sub, side, amount_fen, entry_date) \
                  VALUES (9, 1, '330200', '310100', 'expense', '', 'D', 1, '2026-11-24')";
    assert!(tx.execute(orphan, params![]).is_err(), "{backend:?}: a line without its entry");
    let line_again = "INSERT INTO fund_line (entry_id, line_no, region, fund, account, sub, side, amount_fen, \
                      entry_date) VALUES (7340000000001, 1, '330200', '310100', 'expense', '', 'D', 1, '2026-11-24')";
    assert!(tx.execute(line_again, params![]).is_err(), "{backend:?}: (entry_id, line_no)");
    let movement_again = "INSERT INTO account_movement (id, psn_no, seq, kind, amount_fen, balance_after_fen, \
                          reference, move_date, created_at_ms) VALUES (7340000000013, '33020000000000000001', 3, \
                          'settlement', -300, 200, 'S1', '2026-11-24', 8)";
    assert!(tx.execute(movement_again, params![]).is_err(), "{backend:?}: a settlement debited twice");
    assert!(
        tx.execute("UPDATE account_movement SET balance_after_fen = -1 WHERE id = 7340000000011", params![]).is_err()
    );

    // The lookups by the now partial columns still use their indexes.
    if backend == Backend::Postgres {
        tx.execute_batch("SET enable_seqscan = off").unwrap();
    }
    let by_reverses = plan(tx, "SELECT reference FROM fund_entry WHERE reverses = 'S1'");
    assert!(by_reverses.contains("fund_entry_reverses"), "{backend:?}: {by_reverses}");
    let by_authorization = plan(
        tx,
        "SELECT SUM(amount_fen) FROM account_movement WHERE authorization_id = 42 AND move_date >= '2026-01-01'",
    );
    assert!(by_authorization.contains("account_movement_auth"), "{backend:?}: {by_authorization}");
    let found = tx.query_opt("SELECT reference FROM fund_entry WHERE reverses = $1", params!["S1"]).unwrap();
    assert_eq!(found.unwrap().text(0).unwrap(), "R1");

    if backend == Backend::Sqlite {
        // Fewer B-trees: the ids are the rowids (no index on id), and the
        // NULLs are out of the partial indexes.
        let indexes = |tx: &mut dyn Tx, table: &str| {
            tx.query(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = $1 ORDER BY name",
                params![table],
            )
            .unwrap()
            .iter()
            .map(|r| r.text(0).unwrap())
            .collect::<Vec<_>>()
        };
        assert_eq!(
            indexes(tx, "fund_entry"),
            ["fund_entry_date", "fund_entry_reverses", "sqlite_autoindex_fund_entry_1"]
        );
        assert_eq!(indexes(tx, "fund_line"), ["fund_line_account", "sqlite_autoindex_fund_line_1"]);
        assert_eq!(
            indexes(tx, "account_movement"),
            ["account_movement_auth", "sqlite_autoindex_account_movement_1", "sqlite_autoindex_account_movement_2"]
        );
        for table in ["fund_entry", "account_movement"] {
            let sql = format!("SELECT COUNT(*) FROM {table} WHERE rowid <> id");
            assert_eq!(tx.query_one(&sql, params![]).unwrap().i64(0).unwrap(), 0, "{table}: id is the rowid");
        }
        let partial = "SELECT COUNT(*) FROM sqlite_master WHERE name IN ('fund_entry_reverses', 'account_movement_auth') \
                       AND sql LIKE '%WHERE%IS NOT NULL'";
        assert_eq!(tx.query_one(partial, params![]).unwrap().i64(0).unwrap(), 2);
        assert!(tx.query("SELECT * FROM sqlite_master WHERE name GLOB '*_old'", params![]).unwrap().is_empty());
        assert!(tx.query("PRAGMA foreign_key_check", params![]).unwrap().is_empty());
        assert_eq!(tx.query_one("PRAGMA integrity_check", params![]).unwrap().text(0).unwrap(), "ok");
    }
}

#[test]
fn migration_10_keeps_rows_constraints_and_lookups() {
    let path = std::env::temp_dir().join(format!("yibao-migration-10-{}.db", std::process::id()));
    testing::remove_sqlite_files(&path);
    {
        let mut conn = SqliteConn::open(&path, Synchronous::Off, 0, false).unwrap();
        check_migration_10(&mut conn);
    }
    testing::remove_sqlite_files(&path);

    if let Some(schema) = testing::postgres_schema() {
        let mut conn = PgConn::connect(&schema.url).unwrap();
        check_migration_10(&mut conn);
    }
}

/// The schema as both databases can describe it: every table's columns, and
/// every index created by name (constraint-backed indexes are named by each
/// database in its own way, and their constraints are tested where used).
fn schema(tx: &mut dyn Tx) -> Vec<String> {
    let (columns, indexes) = match tx.backend() {
        Backend::Sqlite => (
            "SELECT m.name || '.' || c.name FROM sqlite_master m, pragma_table_info(m.name) c \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
            "SELECT tbl_name || ' index ' || name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL",
        ),
        Backend::Postgres => (
            "SELECT table_name || '.' || column_name FROM information_schema.columns \
             WHERE table_schema = current_schema()",
            "SELECT tablename || ' index ' || indexname FROM pg_indexes i WHERE schemaname = current_schema() \
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
        ),
    };
    let mut out: Vec<String> = [columns, indexes]
        .iter()
        .flat_map(|sql| tx.query(sql, params![]).unwrap())
        .map(|r| r.text(0).unwrap())
        .collect();
    out.sort();
    out
}

/// Two databases, one code path: whatever each backend's migrations did,
/// both end with the same tables, columns and named indexes.
#[test]
fn both_databases_end_with_the_same_schema() {
    let Some(pg) = testing::open(Backend::Postgres) else { return };
    let sqlite = testing::sqlite();
    let on_sqlite = sqlite.read_blocking(|tx: &mut dyn Tx| Ok::<_, yibao_store::sql::DbError>(schema(tx))).unwrap();
    let on_postgres = pg.read_blocking(|tx: &mut dyn Tx| Ok::<_, yibao_store::sql::DbError>(schema(tx))).unwrap();
    assert!(on_sqlite.len() > 300, "{} columns and indexes", on_sqlite.len());
    let only_sqlite: Vec<_> = on_sqlite.iter().filter(|x| !on_postgres.contains(x)).collect();
    let only_postgres: Vec<_> = on_postgres.iter().filter(|x| !on_sqlite.contains(x)).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "SQLite only: {only_sqlite:?}\nPostgreSQL only: {only_postgres:?}"
    );
}
