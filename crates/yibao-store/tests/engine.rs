//! The engine's guarantees, on every backend: group commit keeps failed jobs
//! out, results arrive only after commit, values round-trip exactly.

use std::sync::Arc;

use yibao_domain::{Date, Money};
use yibao_store::testing;
use yibao_store::{Db, DbError, DbErrorKind, RowsExpected, Tx, params};

fn make_table(db: &Db) {
    db.write_blocking(|tx: &mut dyn Tx| {
        let blob = if tx.backend() == yibao_store::Backend::Postgres { "BYTEA" } else { "BLOB" };
        tx.execute_batch(&format!(
            "CREATE TABLE t (id BIGINT PRIMARY KEY, note TEXT NOT NULL, amount_fen BIGINT, d TEXT, b {blob})"
        ))
    })
    .unwrap();
}

fn count(db: &Db) -> i64 {
    db.read_blocking(|tx: &mut dyn Tx| tx.query_one("SELECT COUNT(*) FROM t", params![])?.i64(0)).unwrap()
}

#[test]
fn failed_jobs_in_a_batch_write_nothing_and_others_commit() {
    for db in testing::backends() {
        make_table(&db);
        let db = Arc::new(db);
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let db = db.clone();
                std::thread::spawn(move || {
                    let mut outcomes = Vec::new();
                    for i in 0..50_i64 {
                        let id = t * 1000 + i;
                        let r = db.write_blocking(move |tx: &mut dyn Tx| {
                            tx.execute("INSERT INTO t (id, note) VALUES ($1, $2)", params![id, "x"])?;
                            if id % 7 == 0 {
                                return Err(DbError::new(DbErrorKind::Other, "refused by the job"));
                            }
                            Ok(id)
                        });
                        outcomes.push((id, r.is_ok()));
                    }
                    outcomes
                })
            })
            .collect();
        let mut expected_ok = 0;
        for h in threads {
            for (id, ok) in h.join().unwrap() {
                assert_eq!(ok, id % 7 != 0, "job {id}");
                expected_ok += i64::from(ok);
            }
        }
        assert_eq!(count(&db), expected_ok, "{:?}", db.backend());
        let refused = db
            .read_blocking(|tx: &mut dyn Tx| tx.query_one("SELECT COUNT(*) FROM t WHERE id % 7 = 0", params![])?.i64(0))
            .unwrap();
        assert_eq!(refused, 0);
        assert!(db.stats().write_batches.load(std::sync::atomic::Ordering::Relaxed) > 0);
    }
}

/// Batches run first without a savepoint per job; a failed job rolls the
/// batch back and it runs again with savepoints. Forced here: a slow job
/// holds the writer while ten jobs queue up behind it and become one batch.
#[test]
fn a_failure_in_an_optimistic_batch_reruns_it_with_savepoints() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    for db in testing::backends() {
        make_table(&db);
        let db = Arc::new(db);
        let runs = Arc::new(AtomicUsize::new(0));
        let slow = {
            let db = db.clone();
            // One key for every job: PostgreSQL has several writers, and the
            // queued jobs must wait behind this one to form one batch (with
            // round-robin routing the failing job sometimes ran alone on the
            // other writer, and nothing was rerun).
            std::thread::spawn(move || {
                db.write_keyed_blocking(0, |tx: &mut dyn Tx| {
                    std::thread::sleep(std::time::Duration::from_millis(300));
                    tx.execute("INSERT INTO t (id, note) VALUES (0, 'slow')", params![])
                })
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(100));
        let queued: Vec<_> = (1..=10_i64)
            .map(|id| {
                let (db, runs) = (db.clone(), runs.clone());
                std::thread::spawn(move || {
                    db.write_keyed_blocking(0, move |tx: &mut dyn Tx| {
                        runs.fetch_add(1, Ordering::SeqCst);
                        tx.execute("INSERT INTO t (id, note) VALUES ($1, 'q')", params![id])?;
                        if id == 5 {
                            return Err(DbError::new(DbErrorKind::Other, "refused after writing"));
                        }
                        Ok(id)
                    })
                })
            })
            .collect();
        slow.join().unwrap().unwrap();
        let results: Vec<_> = queued.into_iter().map(|h| h.join().unwrap()).collect();
        for (i, r) in results.iter().enumerate() {
            assert_eq!(r.is_ok(), i + 1 != 5, "job {} on {:?}", i + 1, db.backend());
        }
        assert_eq!(count(&db), 10, "the slow job and nine queued ones, not the failed one's partial write");
        let stats = db.stats();
        assert!(stats.write_isolations.load(Ordering::Relaxed) >= 1, "{:?}: the batch was rerun", db.backend());
        assert!(runs.load(Ordering::SeqCst) > 10, "jobs before the failure ran again");
    }
}

#[test]
fn a_swallowed_statement_error_fails_the_job_on_both_backends() {
    for db in testing::backends() {
        make_table(&db);
        db.write_blocking(|tx: &mut dyn Tx| tx.execute("INSERT INTO t (id, note) VALUES (1, 'a')", params![])).unwrap();
        let r = db.write_blocking(|tx: &mut dyn Tx| {
            tx.execute("INSERT INTO t (id, note) VALUES (2, 'b')", params![])?;
            // A job that ignores a failed statement must not commit anything.
            let dup = tx.execute("INSERT INTO t (id, note) VALUES (1, 'dup')", params![]);
            assert!(dup.unwrap_err().is_unique_violation());
            Ok::<_, DbError>(())
        });
        assert!(r.is_err(), "{:?}", db.backend());
        assert_eq!(count(&db), 1);
    }
}

/// Deferred writes (sent with the job's next statement on PostgreSQL, at
/// once on SQLite) are seen by the job's later statements and commit with it.
#[test]
fn deferred_writes_are_seen_by_the_job_and_commit_with_it() {
    for db in testing::backends() {
        make_table(&db);
        let seen = db
            .write_blocking(|tx: &mut dyn Tx| {
                tx.execute_deferred("INSERT INTO t (id, note) VALUES (1, 'a')", params![], None)?;
                tx.execute_deferred("INSERT INTO t (id, note) VALUES (2, 'b')", params![], None)?;
                let seen = tx.query_one("SELECT COUNT(*) FROM t", params![])?.i64(0)?;
                let one = RowsExpected { rows: 1, kind: DbErrorKind::Decode, what: "row 2" };
                tx.execute_deferred("UPDATE t SET note = 'c' WHERE id = 2", params![], Some(one))?;
                Ok::<_, DbError>(seen)
            })
            .unwrap();
        assert_eq!(seen, 2, "{:?}: the query came after both inserts", db.backend());
        let note = db
            .read_blocking(|tx: &mut dyn Tx| tx.query_one("SELECT note FROM t WHERE id = 2", params![])?.text(0))
            .unwrap();
        assert_eq!(note, "c", "{:?}: the job's last deferred write was sent when it returned", db.backend());
    }
}

/// A job's prefetched reads reach PostgreSQL through the engine's
/// transaction (which wraps the connection) before the job's own queries:
/// the sequence's `currval` is defined before the job asks for `nextval`,
/// which is then answered from the kept row. (SQLite keeps nothing: its
/// reads cost no round trip.)
#[test]
fn prefetched_reads_run_ahead_of_the_jobs_queries() {
    for db in testing::backends().into_iter().filter(|db| db.backend() == yibao_store::Backend::Postgres) {
        db.write_blocking(|tx: &mut dyn Tx| tx.execute_batch("CREATE SEQUENCE ahead")).unwrap();
        let (current, next, after) = db
            .write_blocking(|tx: &mut dyn Tx| {
                tx.prefetch(&[yibao_store::Read::new("SELECT nextval('ahead')", params![])])?;
                let current = tx.query_one("SELECT currval('ahead')", params![])?.i64(0)?;
                let next = tx.query_one("SELECT nextval('ahead')", params![])?.i64(0)?;
                let after = tx.query_one("SELECT nextval('ahead')", params![])?.i64(0)?;
                Ok::<_, DbError>((current, next, after))
            })
            .unwrap();
        assert_eq!((current, next, after), (1, 1, 2), "kept once, then read afresh");
    }
}

/// A deferred write's failure is its own job's, even when it is only found
/// when the job returns and the next job of the batch is waiting: that one
/// commits, and the failed one writes nothing.
#[test]
fn a_failed_deferred_write_fails_its_own_job_and_writes_nothing() {
    for db in testing::backends() {
        make_table(&db);
        db.write_blocking(|tx: &mut dyn Tx| tx.execute("INSERT INTO t (id, note) VALUES (-1, 'taken')", params![]))
            .unwrap();
        let db = Arc::new(db);
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let db = db.clone();
                std::thread::spawn(move || {
                    (0..40_i64)
                        .map(|i| {
                            let id = t * 1000 + i;
                            let r = db.write_blocking(move |tx: &mut dyn Tx| {
                                tx.execute_deferred("INSERT INTO t (id, note) VALUES ($1, 'x')", params![id], None)?;
                                if id % 5 == 0 {
                                    tx.execute_deferred(
                                        "INSERT INTO t (id, note) VALUES (-1, 'dup')",
                                        params![],
                                        None,
                                    )?;
                                }
                                Ok::<_, DbError>(id)
                            });
                            (id, r)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut committed = 1;
        for h in threads {
            for (id, r) in h.join().unwrap() {
                match r {
                    Ok(v) => {
                        assert_ne!(id % 5, 0, "{:?}: job {id} wrote a duplicate and succeeded", db.backend());
                        assert_eq!(v, id);
                        committed += 1;
                    }
                    Err(e) => {
                        assert_eq!(id % 5, 0, "{:?}: job {id} failed for another's write: {e}", db.backend());
                        assert!(e.is_unique_violation(), "{:?}: {e}", db.backend());
                    }
                }
            }
        }
        assert_eq!(count(&db), committed, "{:?}", db.backend());
        let partial = db
            .read_blocking(|tx: &mut dyn Tx| {
                tx.query_one("SELECT COUNT(*) FROM t WHERE id >= 0 AND id % 5 = 0", params![])?.i64(0)
            })
            .unwrap();
        assert_eq!(partial, 0, "{:?}: a failed job's other writes were rolled back", db.backend());
    }
}

/// A deferred write that changes another number of rows than expected fails
/// the job with the expected kind; `Retryable` runs it again.
#[test]
fn a_deferred_write_that_changes_unexpected_rows_fails_or_reruns_its_job() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    for db in testing::backends() {
        make_table(&db);
        let refused = db.write_blocking(|tx: &mut dyn Tx| {
            tx.execute_deferred("INSERT INTO t (id, note) VALUES (1, 'a')", params![], None)?;
            let one = RowsExpected { rows: 1, kind: DbErrorKind::Decode, what: "row 99 vanished" };
            tx.execute_deferred("UPDATE t SET note = 'b' WHERE id = 99", params![], Some(one))?;
            Ok::<_, DbError>(())
        });
        let e = refused.unwrap_err();
        assert_eq!(e.kind, DbErrorKind::Decode, "{:?}: {e}", db.backend());
        assert!(e.message.contains("row 99 vanished"), "{e}");
        assert_eq!(count(&db), 0, "{:?}: the job's insert was rolled back", db.backend());

        let runs = Arc::new(AtomicUsize::new(0));
        let r = {
            let runs = runs.clone();
            db.write_blocking(move |tx: &mut dyn Tx| {
                // The first run finds the row missing, as if another writer
                // had not yet written it; the rerun finds it.
                if runs.fetch_add(1, Ordering::SeqCst) > 0 {
                    tx.execute("INSERT INTO t (id, note) VALUES (99, 'a')", params![])?;
                }
                let one = RowsExpected { rows: 1, kind: DbErrorKind::Retryable, what: "row 99 not there yet" };
                tx.execute_deferred("UPDATE t SET note = 'b' WHERE id = 99", params![], Some(one))?;
                Ok::<_, DbError>(())
            })
        };
        r.unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 2, "{:?}: rerun once", db.backend());
        assert_eq!(count(&db), 1);
    }
}

#[test]
fn values_round_trip_exactly() {
    for db in testing::backends() {
        make_table(&db);
        let amount = Money::from_fen(-123_456_789_012);
        let day = Date::parse("2026-02-28").unwrap();
        db.write_blocking(move |tx: &mut dyn Tx| {
            tx.execute(
                "INSERT INTO t (id, note, amount_fen, d, b) VALUES ($1, $2, $3, $4, $5)",
                params![i64::MAX, "医保 ✓ '引号'", amount, day, vec![0u8, 255, 1]],
            )?;
            tx.execute(
                "INSERT INTO t (id, note, amount_fen, d, b) VALUES ($1, $2, $3, $4, $5)",
                params![2_i64, "", None::<Money>, None::<Date>, None::<Vec<u8>>],
            )
        })
        .unwrap();
        let rows = db
            .read_blocking(|tx: &mut dyn Tx| {
                tx.query("SELECT id, note, amount_fen, d, b FROM t ORDER BY id", params![])
            })
            .unwrap();
        assert_eq!(rows[0].i64(0).unwrap(), 2);
        assert_eq!(rows[0].get::<Option<Money>>(2).unwrap(), None);
        assert_eq!(rows[1].i64(0).unwrap(), i64::MAX);
        assert_eq!(rows[1].text(1).unwrap(), "医保 ✓ '引号'");
        assert_eq!(rows[1].money(2).unwrap(), amount);
        assert_eq!(rows[1].date(3).unwrap(), day);
        assert_eq!(rows[1].get::<Vec<u8>>(4).unwrap(), vec![0, 255, 1]);
        let sum = db
            .read_blocking(|tx: &mut dyn Tx| {
                tx.query_one("SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) FROM t", params![])?.money(0)
            })
            .unwrap();
        assert_eq!(sum, amount);
    }
}

#[test]
fn readers_cannot_write() {
    for db in testing::backends() {
        make_table(&db);
        let r = db.read_blocking(|tx: &mut dyn Tx| tx.execute("INSERT INTO t (id, note) VALUES (9, 'x')", params![]));
        assert!(r.is_err(), "{:?}", db.backend());
        assert_eq!(count(&db), 0);
    }
}

/// A short read (`Db::read_short`) sees every commit answered before it,
/// cannot write, and runs where its backend keeps a warm cache: on SQLite
/// the writer thread, whose connection refuses writes only while the read
/// runs; on PostgreSQL a reader.
#[test]
fn short_reads_see_commits_refuse_writes_and_run_on_the_sqlite_writer() {
    for db in testing::backends() {
        make_table(&db);
        let backend = db.backend();
        db.write_blocking(|tx: &mut dyn Tx| tx.execute("INSERT INTO t (id, note) VALUES (1, 'a')", params![])).unwrap();
        let (rows, thread) = db
            .read_short_blocking(|tx: &mut dyn Tx| {
                let rows = tx.query_one("SELECT COUNT(*) FROM t", params![])?.i64(0)?;
                Ok::<_, DbError>((rows, std::thread::current().name().unwrap_or_default().to_owned()))
            })
            .unwrap();
        assert_eq!(rows, 1, "{backend:?}: the read saw the commit answered before it");
        let expected_thread = match backend {
            yibao_store::Backend::Sqlite => "db-writer-0",
            yibao_store::Backend::Postgres => "db-reader-",
        };
        assert!(thread.starts_with(expected_thread), "{backend:?}: ran on {thread}");
        for write in ["INSERT INTO t (id, note) VALUES (2, 'b')", "UPDATE t SET note = 'z'", "DELETE FROM t"] {
            let r = db.read_short_blocking(move |tx: &mut dyn Tx| tx.execute(write, params![]));
            assert!(r.is_err(), "{backend:?}: a short read wrote with {write}");
            let r = db.read_short_blocking(move |tx: &mut dyn Tx| tx.execute_batch(write));
            assert!(r.is_err(), "{backend:?}: a short read wrote with {write} as a batch");
        }
        assert_eq!(count(&db), 1, "{backend:?}");
        let note = db
            .read_blocking(|tx: &mut dyn Tx| tx.query_one("SELECT note FROM t WHERE id = 1", params![])?.text(0))
            .unwrap();
        assert_eq!(note, "a", "{backend:?}");
        // The writer's connection writes again once the read is over.
        db.write_blocking(|tx: &mut dyn Tx| tx.execute("INSERT INTO t (id, note) VALUES (3, 'c')", params![])).unwrap();
        assert_eq!(count(&db), 2, "{backend:?}");
        let on_writer = db.stats().writer_reads.load(std::sync::atomic::Ordering::Relaxed);
        match backend {
            yibao_store::Backend::Sqlite => assert_eq!(on_writer, 7, "one read and six refused writes"),
            yibao_store::Backend::Postgres => assert_eq!(on_writer, 0),
        }
    }
}

#[test]
fn migrations_apply_once() {
    let path = std::env::temp_dir().join(format!("yibao-migrate-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let config = yibao_store::DbConfig::sqlite(&path, yibao_store::Synchronous::Off);
    for _ in 0..2 {
        let db = Db::open(&config).unwrap();
        let n = db
            .read_blocking(|tx: &mut dyn Tx| tx.query_one("SELECT COUNT(*) FROM schema_migration", params![])?.i64(0))
            .unwrap();
        assert_eq!(n, yibao_store::migrate::MIGRATIONS.len() as i64);
    }
    testing::remove_sqlite_files(&path);
    if let Some(schema) = testing::postgres_schema() {
        let config = yibao_store::DbConfig::postgres(schema.url.clone());
        for _ in 0..2 {
            let db = Db::open(&config).unwrap();
            let n = db
                .read_blocking(|tx: &mut dyn Tx| {
                    tx.query_one("SELECT COUNT(*) FROM schema_migration", params![])?.i64(0)
                })
                .unwrap();
            assert_eq!(n, yibao_store::migrate::MIGRATIONS.len() as i64);
        }
    }
}

#[test]
fn settlement_records_round_trip_and_reverse_once() {
    use yibao_domain::codes::{ClrType, ClrWay, Insutype, MedType, PsnType};
    use yibao_store::settlement::{self, Amounts, SettlementRecord};
    for db in testing::backends() {
        let amounts = Amounts {
            medfee_sumamt: Money::from_fen(10_000),
            inscp_scp_amt: Money::from_fen(10_000),
            hifp_pay: Money::from_fen(7_000),
            fund_pay_sumamt: Money::from_fen(7_000),
            psn_part_amt: Money::from_fen(3_000),
            acct_pay: Money::from_fen(1_000),
            psn_cash_pay: Money::from_fen(2_000),
            balc: Money::from_fen(500),
            ..Amounts::default()
        };
        amounts.check().unwrap();
        let record = SettlementRecord {
            setl_id: "S1".into(),
            mdtrt_id: "M1".into(),
            psn_no: "P1".into(),
            insutype: Insutype::EmployeeBasic,
            psn_type: PsnType::EmployeeActive,
            med_type: MedType::GeneralOutpatient,
            clr_type: ClrType::Outpatient,
            clr_way: ClrWay::FeeForService,
            insu_admdvs: yibao_domain::DivisionCode::parse("330200").unwrap(),
            mdtrtarea_admvs: yibao_domain::DivisionCode::parse("330200").unwrap(),
            fixmedins_code: yibao_domain::institution::InstitutionCode::parse("H33020300001").unwrap(),
            medins_setl_id: "H33020300001202611220001".into(),
            setl_time: yibao_domain::DateTime::parse("2026-11-22 10:00:00").unwrap(),
            setl_date: Date::parse("2026-11-22").unwrap(),
            scheme_year: 2026,
            amounts,
            pool_prop_selfpay: yibao_domain::Ratio::percent(70),
            policy_id: 1,
            setldetail: "[]".into(),
            accumulator_delta: "{}".into(),
            reversal_of: None,
            reversed_by: None,
            msgid: "msg".into(),
        };
        let reversal = SettlementRecord {
            setl_id: "S2".into(),
            amounts: amounts.negated(Money::from_fen(1_500)),
            reversal_of: Some("S1".into()),
            ..record.clone()
        };
        reversal.amounts.check().unwrap();
        let (r1, r2) = (record.clone(), reversal.clone());
        let first = db
            .write_blocking(move |tx: &mut dyn Tx| {
                settlement::insert(tx, &r1, 1)?;
                settlement::insert(tx, &r2, 2)?;
                let a = settlement::mark_reversed(tx, "S1", "S2")?;
                let b = settlement::mark_reversed(tx, "S1", "S2")?;
                Ok::<_, DbError>((a, b))
            })
            .unwrap();
        assert_eq!(first, (true, false), "a settlement is reversed once");
        let back = db.read_blocking(|tx: &mut dyn Tx| settlement::of_visit(tx, "M1")).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[0], SettlementRecord { reversed_by: Some("S2".into()), ..record });
        assert_eq!(back[1], reversal);
        let net: i64 = back.iter().map(|s| s.amounts.hifp_pay.fen()).sum();
        assert_eq!(net, 0);
    }
}

/// SQLite's WAL stays bounded under a steady stream of commits with readers
/// active: the checkpointer copies it back and the writer restarts it once
/// it passes `wal_frames_restart` frames. (Without the restart this test's
/// WAL grows to about 70 MB: SQLite reuses the WAL from its start only when
/// it has been copied back entirely at the moment a transaction begins,
/// which a steady stream of commits never allows.)
#[test]
fn sqlite_wal_stays_bounded_under_steady_writes() {
    let path = std::env::temp_dir().join(format!("yibao-wal-{}-{}.db", std::process::id(), yibao_store::now_ms()));
    let mut config = yibao_store::DbConfig::sqlite(&path, yibao_store::sqlite::Synchronous::Off);
    config.wal_frames_restart = 256;
    let db = Arc::new(yibao_store::Db::open(&config).unwrap());
    make_table(&db);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (db, stop) = (db.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = count(&db);
            }
        })
    };
    let payload = vec![7u8; 4096]; // a page per row: about 24 MiB in all
    let writers: Vec<_> = (0..4_i64)
        .map(|t| {
            let (db, payload) = (db.clone(), payload.clone());
            std::thread::spawn(move || {
                for i in 0..1_500_i64 {
                    let (id, b) = (t * 100_000 + i, payload.clone());
                    db.write_blocking(move |tx: &mut dyn Tx| {
                        tx.execute("INSERT INTO t (id, note, b) VALUES ($1, 'w', $2)", params![id, b.clone()])
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    reader.join().unwrap();
    assert_eq!(count(&db), 6_000);
    let restarts = db.stats().wal_restarts.load(std::sync::atomic::Ordering::Relaxed);
    let mut wal = path.clone().into_os_string();
    wal.push("-wal");
    let wal_bytes = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert!(restarts > 0, "the writer never restarted the WAL");
    assert!(wal_bytes < 12 * 1024 * 1024, "WAL grew to {wal_bytes} bytes with {restarts} restarts");
    drop(db);
    testing::remove_sqlite_files(&path);
}

fn sqlite_full(name: &str) -> (Arc<Db>, std::path::PathBuf) {
    let path = std::env::temp_dir().join(format!("yibao-{name}-{}-{}.db", std::process::id(), yibao_store::now_ms()));
    let config = yibao_store::DbConfig::sqlite(&path, yibao_store::sqlite::Synchronous::Full);
    let db = Arc::new(yibao_store::Db::open(&config).unwrap());
    make_table(&db);
    (db, path)
}

/// SQLite FULL pipelines the fsync: the writer commits without it and a sync
/// thread fdatasyncs the WAL. A write's result must still come only after
/// the sync that covers its commit: a job sees the COMMITs begun before its
/// batch, so when its result arrives at least one more must be on disk.
#[test]
fn sqlite_full_releases_a_write_only_after_the_wal_sync_that_covers_it() {
    let (db, path) = sqlite_full("pipelined-writes");
    assert!(db.commit_sequence().is_some(), "FULL pipelines its commits");
    let writers: Vec<_> = (0..8_i64)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                for i in 0..50_i64 {
                    let id = t * 1_000 + i;
                    let inside = db.clone();
                    let begun_before = db
                        .write_blocking(move |tx: &mut dyn Tx| {
                            tx.execute("INSERT INTO t (id, note) VALUES ($1, 'w')", params![id])?;
                            Ok::<_, DbError>(inside.commit_sequence().unwrap().0)
                        })
                        .unwrap();
                    let (_, synced) = db.commit_sequence().unwrap();
                    assert!(
                        synced > begun_before,
                        "write released before its sync: synced {synced}, begun {begun_before}"
                    );
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    assert_eq!(count(&db), 400);
    let syncs = db.stats().wal_syncs.load(std::sync::atomic::Ordering::Relaxed);
    assert!(syncs > 0 && syncs <= 400, "one sync per group of batches: {syncs}");
    drop(db);
    testing::remove_sqlite_files(&path);
}

/// A read that may have seen a commit not yet on disk is answered only after
/// that commit's sync: otherwise a HIS could be told of a settlement that a
/// power loss then undoes.
#[test]
fn sqlite_full_holds_a_read_until_the_commits_it_may_have_seen_are_synced() {
    let (db, path) = sqlite_full("pipelined-reads");
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..4_i64)
        .map(|t| {
            let (db, stop) = (db.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut i = 0_i64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let id = t * 1_000_000 + i;
                    db.write_blocking(move |tx: &mut dyn Tx| {
                        tx.execute("INSERT INTO t (id, note) VALUES ($1, 'w')", params![id])
                    })
                    .unwrap();
                    i += 1;
                }
            })
        })
        .collect();
    let mut seen_rows = 0;
    for i in 0..600 {
        let inside = db.clone();
        let job = move |tx: &mut dyn Tx| {
            let rows = tx.query_one("SELECT COUNT(*) FROM t", params![])?.i64(0)?;
            Ok::<_, DbError>((rows, inside.commit_sequence().unwrap().0))
        };
        // Readers and, for short reads, the writer between its batches.
        let (rows, begun_at_end) =
            if i % 2 == 0 { db.read_blocking(job) } else { db.read_short_blocking(job) }.unwrap();
        let (_, synced) = db.commit_sequence().unwrap();
        assert!(synced >= begun_at_end, "read released before the commits it may hold were synced");
        seen_rows = seen_rows.max(rows);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    assert!(seen_rows > 0, "the reads ran while rows were being written");
    assert!(db.stats().reads_held.load(std::sync::atomic::Ordering::Relaxed) > 0, "some reads had to wait");
    drop(db);
    testing::remove_sqlite_files(&path);
}
