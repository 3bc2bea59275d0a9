//! The PostgreSQL backend: a `tokio_postgres` client per DB thread, driven
//! by that thread's own single-threaded runtime (each call blocks the DB
//! thread, as the engine expects, and nothing else runs on it).
//!
//! Statements are prepared once per connection and cached by their text.
//! Integers bind to whatever integer type the column has; yibao's schema uses
//! BIGINT for every integer so no value is ever narrowed.
//!
//! **Plans live at most `PLAN_LIFETIME`.** PostgreSQL plans a prepared
//! statement again only when the statistics of its tables change, and so
//! the checks of foreign keys, which it prepares itself. A plan made while a
//! table was nearly empty (a seq scan of a few rows) would otherwise serve it
//! at any size whenever statistics lag (autovacuum off, or behind). So every
//! `PLAN_LIFETIME` a `DISCARD PLANS` goes with the next statement: the next
//! use of each statement plans it again with the tables as they are then. It
//! costs no round trip. Measured (docs/performance.md, eleventh round): runs
//! started on tables analyzed while empty settled 191–229 visits/s with seq
//! scans of the message log, the visits and, in the foreign-key checks of
//! the ledger lines, the ledger entries; against 441–508/s unanalyzed.
//!
//! **Pipelining.** Every statement is a network round trip, and a round trip
//! costs both processes far more CPU than a small statement's work (the
//! seventh and eighth rounds in docs/performance.md). So what needs no
//! answer before the next statement is kept and sent in one write with it:
//! `BEGIN` and `SAVEPOINT` go with the first statement after them,
//! [`Tx::execute_deferred`] writes with the next statement or the job's
//! [`Tx::flush`], and a read-only transaction's `ROLLBACK` with the reader's
//! next job (or at once if none is waiting). The server runs them in order; the first error is
//! returned, and the statements after it fail too (the transaction is
//! aborted), so nothing after a failed write takes effect.
//!
//! **Prefetching.** A job that knows the reads it will make names them in
//! [`Tx::prefetch`]; they go in one round trip and their rows are kept for
//! the job's own queries, under the rules written there (a write to a table
//! a kept read names drops it; a lock taken by a query not kept drops all).

use std::collections::HashMap;
use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, NoTls, Statement};

use crate::sql::{Backend, DbError, DbErrorKind, DbResult, PrefetchCounts, Read, Row, RowsExpected, Tx, Value};

pub struct PgConn {
    /// Single-threaded: it runs the connection task only while this thread
    /// waits for an answer.
    runtime: tokio::runtime::Runtime,
    client: Client,
    statements: HashMap<String, Statement>,
    /// When the session's plans were last discarded; see `PLAN_LIFETIME`.
    plans_since: Instant,
    plan_lifetime: Duration,
    /// Sent with the next statement; never more than `PENDING_MAX`.
    pending: Vec<Pending>,
    /// The rows of the job's prefetched reads not yet used; never more than
    /// `PREFETCH_MAX`.
    kept: Vec<Kept>,
    /// Since the last `take_prefetch_counts`.
    prefetch_counts: PrefetchCounts,
}

/// Reads one [`Tx::prefetch`] call sends at most.
pub const PREFETCH_MAX: usize = 16;

/// A prefetched read and its rows.
struct Kept {
    read: Read,
    /// The tables it reads (lower case), or `None` when its text could not
    /// be read: then any write drops it.
    tables: Option<Vec<String>>,
    rows: Vec<Row>,
}

/// Statements cached per connection before the cache is cleared (a bound on
/// memory for ad-hoc queries built with varying text).
const STATEMENT_CACHE_MAX: usize = 2048;

/// How long the session's query plans are used before they are discarded
/// and made again (see the module's doc). Planning a statement again costs
/// tens of microseconds once per lifetime; this bounds how long a plan made
/// for an empty table can outlive it.
pub const PLAN_LIFETIME: Duration = Duration::from_secs(10);

/// Deferred statements kept before they are sent anyway: a bound on memory
/// for a job that writes many rows one by one.
const PENDING_MAX: usize = 64;

enum Pending {
    /// `BEGIN …` or `SAVEPOINT …`, or a read-only transaction's `ROLLBACK`.
    Control(String),
    Write {
        statement: Statement,
        params: Vec<Value>,
        expected: Option<RowsExpected>,
    },
}

/// The statement a call sends after the pending ones.
enum Request<'a> {
    None,
    Control(&'a str),
    Execute(Statement, &'a [Value]),
    Query(Statement, &'a [Value]),
}

enum Reply {
    Done,
    Changed(u64),
    Rows(Vec<tokio_postgres::Row>),
}

type Call<'a> = Pin<Box<dyn Future<Output = Result<Reply, tokio_postgres::Error>> + 'a>>;

pub(crate) fn map_err(e: tokio_postgres::Error) -> DbError {
    let kind = match e.code() {
        Some(c) if *c == SqlState::UNIQUE_VIOLATION => DbErrorKind::Unique,
        Some(c) if *c == SqlState::FOREIGN_KEY_VIOLATION || *c == SqlState::CHECK_VIOLATION => DbErrorKind::Constraint,
        Some(c) if *c == SqlState::NOT_NULL_VIOLATION => DbErrorKind::Constraint,
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED => {
            DbErrorKind::Retryable
        }
        Some(c) if *c == SqlState::LOCK_NOT_AVAILABLE => DbErrorKind::Retryable,
        None if e.is_closed() => DbErrorKind::Unavailable,
        _ => DbErrorKind::Other,
    };
    // Display of a db error is terse; include detail where PostgreSQL gives one.
    let message = match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{}: {detail}", db.message()),
            None => db.message().to_owned(),
        },
        None => e.to_string(),
    };
    DbError::new(kind, message)
}

fn params_of(params: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

/// Polls `calls` in order until all are done. The first poll of each sends
/// its request to the connection task, so they leave in this order, in one
/// write, and the server answers them in this order.
async fn all_in_order(mut calls: Vec<Call<'_>>) -> Vec<Result<Reply, tokio_postgres::Error>> {
    let mut done: Vec<Option<Result<Reply, tokio_postgres::Error>>> = calls.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all = true;
        for (call, slot) in calls.iter_mut().zip(done.iter_mut()) {
            if slot.is_none() {
                match call.as_mut().poll(cx) {
                    Poll::Ready(r) => *slot = Some(r),
                    Poll::Pending => all = false,
                }
            }
        }
        if all { Poll::Ready(()) } else { Poll::Pending }
    })
    .await;
    done.into_iter().map(|r| r.expect("every call done")).collect()
}

impl PgConn {
    pub fn connect(url: &str) -> DbResult<PgConn> {
        let unavailable = |e: &dyn std::fmt::Display| {
            DbError::new(DbErrorKind::Unavailable, format!("cannot connect to PostgreSQL: {e}"))
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| unavailable(&e))?;
        let (client, connection) =
            runtime.block_on(tokio_postgres::connect(url, NoTls)).map_err(|e| unavailable(&e))?;
        // Runs whenever this thread waits in `block_on`; ends when the
        // client is dropped or the server goes away (calls then fail).
        runtime.spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "PostgreSQL connection ended");
            }
        });
        Ok(PgConn {
            runtime,
            client,
            statements: HashMap::new(),
            plans_since: Instant::now(),
            plan_lifetime: PLAN_LIFETIME,
            pending: Vec::new(),
            kept: Vec::new(),
            prefetch_counts: PrefetchCounts::default(),
        })
    }

    fn statement(&mut self, sql: &str) -> DbResult<Statement> {
        if self.plans_since.elapsed() >= self.plan_lifetime && self.pending.len() < PENDING_MAX {
            // Allowed in a transaction, and changes nothing but plans: it
            // goes with the next statement like a BEGIN.
            self.pending.push(Pending::Control("DISCARD PLANS".to_owned()));
            self.plans_since = Instant::now();
        }
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        if self.statements.len() >= STATEMENT_CACHE_MAX {
            self.statements.clear();
        }
        // The pending statements go first: a Parse sent before a pending
        // ROLLBACK would meet the aborted transaction that ROLLBACK ends.
        // A round trip, but only when a statement is new to the connection.
        self.send_pending()?;
        trace_round_trip("prepare", sql, 0);
        let s = self.runtime.block_on(self.client.prepare(sql)).map_err(map_err)?;
        self.statements.insert(sql.to_owned(), s.clone());
        Ok(s)
    }

    /// Sends the pending statements and `last` in one write and waits for
    /// every answer. Returns `last`'s reply, or the first error (of a
    /// statement, or a deferred write that changed an unexpected number of
    /// rows).
    fn send(&mut self, last: Request<'_>) -> DbResult<Reply> {
        let mut replies = self.send_all(vec![last])?;
        Ok(replies.pop().unwrap_or(Reply::Done))
    }

    fn send_pending(&mut self) -> DbResult<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.send(Request::None).map(|_| ())
    }

    /// [`PgConn::send`] for several requests: their replies in order, or
    /// the first error.
    fn send_all(&mut self, lasts: Vec<Request<'_>>) -> DbResult<Vec<Reply>> {
        let pending = std::mem::take(&mut self.pending);
        let client = &self.client;
        let mut calls: Vec<Call<'_>> = Vec::with_capacity(pending.len() + 1);
        for p in &pending {
            calls.push(match p {
                Pending::Control(sql) => Box::pin(async move { client.batch_execute(sql).await.map(|()| Reply::Done) }),
                Pending::Write { statement, params, .. } => {
                    Box::pin(async move { client.execute(statement, &params_of(params)).await.map(Reply::Changed) })
                }
            });
        }
        let mut asked = 0;
        for last in lasts {
            match last {
                Request::None => continue,
                Request::Control(sql) => {
                    calls.push(Box::pin(async move { client.batch_execute(sql).await.map(|()| Reply::Done) }))
                }
                Request::Execute(statement, params) => calls.push(Box::pin(async move {
                    client.execute(&statement, &params_of(params)).await.map(Reply::Changed)
                })),
                Request::Query(statement, params) => calls
                    .push(Box::pin(async move { client.query(&statement, &params_of(params)).await.map(Reply::Rows) })),
            }
            asked += 1;
        }
        let mut replies = self.runtime.block_on(all_in_order(calls)).into_iter();
        let mut first_error: Option<DbError> = None;
        for p in &pending {
            let reply = replies.next().expect("a reply per pending statement");
            if first_error.is_some() {
                continue;
            }
            match (reply, p) {
                (Err(e), _) => first_error = Some(map_err(e)),
                (Ok(Reply::Changed(n)), Pending::Write { expected: Some(e), .. }) => first_error = e.check(n).err(),
                (Ok(_), _) => {}
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        let answers: Vec<Reply> = replies.map(|r| r.map_err(map_err)).collect::<DbResult<_>>()?;
        assert_eq!(answers.len(), asked, "a reply per request");
        Ok(answers)
    }

    /// Drops the kept reads a write to `sql`'s table could change.
    fn forget_reads_changed_by(&mut self, sql: &str) {
        if self.kept.is_empty() {
            return;
        }
        match table_written(sql) {
            Some(table) => self.kept.retain(|k| k.tables.as_ref().is_some_and(|t| !t.contains(&table))),
            None => self.kept.clear(),
        }
    }
}

impl ToSql for Value {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(v) => match *ty {
                Type::INT8 => v.to_sql(ty, out),
                Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
                Type::BOOL => (*v != 0).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => v.to_string().to_sql(ty, out),
                _ => Err(format!("cannot bind an integer to a {ty} parameter").into()),
            },
            Value::Text(v) => v.as_str().to_sql(ty, out),
            Value::Blob(v) => v.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn convert(row: &tokio_postgres::Row, idx: usize) -> DbResult<Value> {
    let ty = row.columns()[idx].type_();
    let err = |e: tokio_postgres::Error| DbError::decode(format!("column {idx}: {e}"));
    Ok(match *ty {
        Type::INT8 => row.try_get::<_, Option<i64>>(idx).map_err(err)?.map_or(Value::Null, Value::Int),
        Type::INT4 => row.try_get::<_, Option<i32>>(idx).map_err(err)?.map_or(Value::Null, |v| Value::Int(v.into())),
        Type::INT2 => row.try_get::<_, Option<i16>>(idx).map_err(err)?.map_or(Value::Null, |v| Value::Int(v.into())),
        Type::BOOL => row.try_get::<_, Option<bool>>(idx).map_err(err)?.map_or(Value::Null, |v| Value::Int(v.into())),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
            row.try_get::<_, Option<String>>(idx).map_err(err)?.map_or(Value::Null, Value::Text)
        }
        Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(idx).map_err(err)?.map_or(Value::Null, Value::Blob),
        _ => {
            return Err(DbError::decode(format!("column {idx} has type {ty}; cast it to BIGINT or TEXT in the query")));
        }
    })
}

/// BEGIN, COMMIT, ROLLBACK, SAVEPOINT and RELEASE (possibly several in one string).
fn is_transaction_control(sql: &str) -> bool {
    sql.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .all(|s| matches!(first_word(s).as_str(), "BEGIN" | "COMMIT" | "ROLLBACK" | "SAVEPOINT" | "RELEASE"))
}

/// A statement's first word, in capitals.
fn first_word(statement: &str) -> String {
    statement.split_whitespace().next().unwrap_or("").to_ascii_uppercase()
}

impl Tx for PgConn {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> DbResult<u64> {
        self.forget_reads_changed_by(sql);
        let statement = self.statement(sql)?;
        trace_round_trip("execute", sql, self.pending.len());
        match self.send(Request::Execute(statement, params))? {
            Reply::Changed(n) => Ok(n),
            _ => unreachable!("an execute answers with a count"),
        }
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> DbResult<Vec<Row>> {
        if !self.kept.is_empty() {
            if let Some(i) = self.kept.iter().position(|k| k.read.sql == sql && k.read.params == params) {
                self.prefetch_counts.used += 1;
                return Ok(self.kept.remove(i).rows);
            }
            if takes_a_lock(sql) {
                self.kept.clear();
            }
        }
        let statement = self.statement(sql)?;
        trace_round_trip("query", sql, self.pending.len());
        let Reply::Rows(rows) = self.send(Request::Query(statement, params))? else {
            unreachable!("a query answers with rows")
        };
        rows.iter().map(convert_row).collect()
    }

    fn execute_batch(&mut self, sql: &str) -> DbResult<()> {
        self.kept.clear();
        if opens_a_transaction_or_savepoint(sql) && self.pending.len() < PENDING_MAX {
            self.pending.push(Pending::Control(sql.to_owned()));
            return Ok(());
        }
        // Schema changes may invalidate cached statements; transaction
        // control (several per write batch) does not, and clearing on it
        // made every statement of every job a fresh prepare round trip.
        if !is_transaction_control(sql) {
            self.statements.clear();
        }
        trace_round_trip("control", sql, self.pending.len());
        self.send(Request::Control(sql)).map(|_| ())
    }

    fn execute_deferred(&mut self, sql: &str, params: &[Value], expected: Option<RowsExpected>) -> DbResult<()> {
        self.forget_reads_changed_by(sql);
        let statement = self.statement(sql)?;
        self.pending.push(Pending::Write { statement, params: params.to_vec(), expected });
        if self.pending.len() >= PENDING_MAX {
            return self.flush();
        }
        Ok(())
    }

    fn end_read_transaction(&mut self) -> DbResult<()> {
        self.kept.clear();
        if self.pending.len() >= PENDING_MAX {
            return self.execute_batch("ROLLBACK");
        }
        self.pending.push(Pending::Control("ROLLBACK".to_owned()));
        Ok(())
    }

    fn flush(&mut self) -> DbResult<()> {
        self.kept.clear();
        if !self.pending.is_empty() {
            trace_round_trip("flush", "", self.pending.len());
        }
        self.send_pending()
    }

    fn take_prefetch_counts(&mut self) -> PrefetchCounts {
        std::mem::take(&mut self.prefetch_counts)
    }

    fn prefetch(&mut self, reads: &[Read]) -> DbResult<()> {
        assert!(reads.len() <= PREFETCH_MAX, "{} reads prefetched at once (at most {PREFETCH_MAX})", reads.len());
        self.kept.clear();
        if reads.is_empty() {
            return Ok(());
        }
        let statements: Vec<Statement> = reads.iter().map(|r| self.statement(&r.sql)).collect::<DbResult<_>>()?;
        let requests: Vec<Request<'_>> =
            statements.into_iter().zip(reads).map(|(s, r)| Request::Query(s, &r.params)).collect();
        trace_round_trip("prefetch", &reads[0].sql, self.pending.len());
        let replies = self.send_all(requests)?;
        self.prefetch_counts.sent += reads.len() as u64;
        for (read, reply) in reads.iter().zip(replies) {
            let Reply::Rows(rows) = reply else { unreachable!("a query answers with rows") };
            let rows = rows.iter().map(convert_row).collect::<DbResult<Vec<Row>>>()?;
            self.kept.push(Kept { read: read.clone(), tables: tables_read(&read.sql), rows });
        }
        Ok(())
    }
}

/// One line per round trip at trace level (`YIBAO_LOG=yibao_store::pg=trace`):
/// what a visit's messages cost in round trips, and which statements make
/// them (docs/performance.md, the census).
fn trace_round_trip(kind: &'static str, sql: &str, pending: usize) {
    tracing::trace!(kind, pending, sql = sql.get(..sql.len().min(90)).unwrap_or(sql), "round trip");
}

fn convert_row(r: &tokio_postgres::Row) -> DbResult<Row> {
    (0..r.len()).map(|i| convert(r, i)).collect::<DbResult<Vec<_>>>().map(Row::new)
}

/// The words of a statement, split at white space, commas and parentheses.
fn words(sql: &str) -> impl Iterator<Item = &str> {
    sql.split(|c: char| c.is_whitespace() || matches!(c, ',' | '(' | ')' | ';')).filter(|w| !w.is_empty())
}

/// The tables a query reads: every name after FROM or JOIN, in lower case.
/// `None` if a FROM or JOIN is not followed by a plain name.
fn tables_read(sql: &str) -> Option<Vec<String>> {
    let mut tables = Vec::new();
    let mut w = words(sql);
    while let Some(word) = w.next() {
        if word.eq_ignore_ascii_case("FROM") || word.eq_ignore_ascii_case("JOIN") {
            let name = w.next()?;
            if name.eq_ignore_ascii_case("SELECT") || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return None;
            }
            tables.push(name.to_ascii_lowercase());
        }
    }
    Some(tables)
}

/// The table an INSERT, UPDATE or DELETE writes, in lower case.
fn table_written(sql: &str) -> Option<String> {
    let mut w = words(sql);
    let first = w.next()?.to_ascii_uppercase();
    let name = match first.as_str() {
        "INSERT" => w.next().filter(|x| x.eq_ignore_ascii_case("INTO")).and_then(|_| w.next())?,
        "UPDATE" => w.next()?,
        "DELETE" => w.next().filter(|x| x.eq_ignore_ascii_case("FROM")).and_then(|_| w.next())?,
        _ => return None,
    };
    name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_').then(|| name.to_ascii_lowercase())
}

/// Whether a query locks rows (`FOR UPDATE`, `FOR SHARE`, …).
fn takes_a_lock(sql: &str) -> bool {
    let mut w = words(sql).peekable();
    while let Some(word) = w.next() {
        if word.eq_ignore_ascii_case("FOR")
            && w.peek().is_some_and(|n| ["UPDATE", "SHARE", "NO", "KEY"].iter().any(|k| n.eq_ignore_ascii_case(k)))
        {
            return true;
        }
    }
    false
}

/// `BEGIN …` or `SAVEPOINT …` alone: nothing to answer but an error the
/// next statement would meet anyway.
fn opens_a_transaction_or_savepoint(sql: &str) -> bool {
    !sql.contains(';') && matches!(first_word(sql).as_str(), "BEGIN" | "SAVEPOINT")
}

#[cfg(test)]
mod tests {
    use super::{
        PgConn, is_transaction_control, opens_a_transaction_or_savepoint, table_written, tables_read, takes_a_lock,
    };
    use crate::sql::{DbErrorKind, Read, Tx, Value};

    #[test]
    fn the_tables_a_statement_reads_writes_or_locks() {
        let read = "SELECT p.psn_no, (SELECT balance_fen FROM account WHERE account.psn_no = p.psn_no) \
                    FROM person p JOIN enrollment e ON e.psn_no = p.psn_no WHERE p.psn_no = $1";
        assert_eq!(tables_read(read), Some(vec!["account".into(), "person".into(), "enrollment".into()]));
        assert_eq!(tables_read("SELECT MAX(month) FROM fund_close"), Some(vec!["fund_close".into()]));
        assert_eq!(tables_read("SELECT 1"), Some(vec![]));
        assert_eq!(tables_read("SELECT x FROM (SELECT 1 AS x) s"), None, "a derived table is not a plain name");
        assert_eq!(table_written("INSERT INTO fee_detail (a, b) VALUES ($1, $2)").as_deref(), Some("fee_detail"));
        assert_eq!(table_written("insert into visit(a) values ($1)").as_deref(), Some("visit"));
        assert_eq!(table_written("UPDATE account SET seq = $1 WHERE psn_no = $2").as_deref(), Some("account"));
        assert_eq!(table_written("DELETE FROM fsi_signin WHERE sign_no = $1").as_deref(), Some("fsi_signin"));
        assert_eq!(table_written("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x"), None);
        assert!(takes_a_lock("SELECT state FROM accumulator WHERE psn_no = $1 FOR UPDATE"));
        assert!(takes_a_lock("SELECT id FROM visit WHERE mdtrt_id = $1 for no key update"));
        assert!(!takes_a_lock("SELECT id FROM visit WHERE info LIKE 'FOR'"));
    }

    /// A kept read answers the job's same query once, with the rows of the
    /// moment it was sent; a write to its table, a lock taken by a query
    /// not kept, or the job's end drops it. Another connection's commits in
    /// between show which answers came from the kept rows (READ COMMITTED
    /// would see them on a fresh read).
    #[test]
    fn prefetched_reads_are_used_until_a_write_or_a_lock_could_change_them() {
        let Some(url) = crate::testing::postgres_url() else { return };
        let mut c = PgConn::connect(&url).unwrap();
        let mut other = PgConn::connect(&url).unwrap();
        let (a, b) = {
            let n = crate::ids::next_id();
            (format!("prefetch_a_{n}"), format!("prefetch_b_{n}"))
        };
        c.execute_batch(&format!("CREATE TABLE {a} (id BIGINT); CREATE TABLE {b} (id BIGINT)")).unwrap();
        c.execute_batch(&format!("INSERT INTO {a} VALUES (1); INSERT INTO {b} VALUES (1)")).unwrap();
        let count_a = Read::new(format!("SELECT COUNT(*) FROM {a}"), &[]);
        let count_a_above = Read::new(format!("SELECT COUNT(*) FROM {a} WHERE id > $1"), &[Value::Int(0)]);
        let count_b = Read::new(format!("SELECT COUNT(*) FROM {b}"), &[]);
        let count = |c: &mut PgConn, r: &Read| r.query(c).unwrap()[0].i64(0).unwrap();
        let add = |other: &mut PgConn, t: &str| other.execute(&format!("INSERT INTO {t} VALUES (2)"), &[]).unwrap();

        c.execute_batch("BEGIN").unwrap();
        c.prefetch(&[count_a.clone(), count_b.clone(), count_a_above.clone()]).unwrap();
        add(&mut other, &a);
        add(&mut other, &b);
        assert_eq!(count(&mut c, &count_a), 1, "kept: the rows of the moment it was sent");
        assert_eq!(count(&mut c, &count_a), 2, "used once: the same query again is read afresh");
        c.execute(&format!("INSERT INTO {a} VALUES (3)"), &[]).unwrap();
        assert_eq!(count(&mut c, &count_a_above), 3, "a write to its table dropped it");
        assert_eq!(count(&mut c, &count_b), 1, "a write to another table did not");

        c.prefetch(std::slice::from_ref(&count_b)).unwrap();
        add(&mut other, &b);
        c.query(&format!("SELECT id FROM {a} WHERE id = 3 FOR UPDATE"), &[]).unwrap();
        assert_eq!(count(&mut c, &count_b), 3, "a lock taken by a query not kept dropped it");

        c.prefetch(std::slice::from_ref(&count_b)).unwrap();
        c.flush().unwrap();
        add(&mut other, &b);
        assert_eq!(count(&mut c, &count_b), 4, "the job's end dropped it");

        c.execute_deferred(&format!("INSERT INTO {b} VALUES (5)"), &[], None).unwrap();
        c.prefetch(std::slice::from_ref(&count_b)).unwrap();
        assert_eq!(count(&mut c, &count_b), 5, "a pending write goes before the reads");
        c.execute_batch("ROLLBACK").unwrap();
        c.execute_batch(&format!("DROP TABLE {a}; DROP TABLE {b}")).unwrap();
    }

    /// A connection whose plans outlive the test, until `end_plan_lifetime`.
    fn connect_with_lasting_plans(url: &str) -> PgConn {
        let mut c = PgConn::connect(url).unwrap();
        c.plan_lifetime = std::time::Duration::from_secs(3600);
        c
    }

    /// Ends the connection's plan lifetime once: its next statement takes a
    /// `DISCARD PLANS` with it.
    fn end_plan_lifetime(c: &mut PgConn) {
        let lifetime = std::mem::replace(&mut c.plan_lifetime, std::time::Duration::ZERO);
        c.query("SELECT 1", &[]).unwrap();
        c.plan_lifetime = lifetime;
    }

    /// A statement's plan lives no longer than `plan_lifetime`. Its table
    /// analyzed while empty, a key lookup gets a generic plan that scans the
    /// table; after the table grows (no new statistics) that plan still
    /// serves it, until the lifetime ends and the statement is planned
    /// again, this time with an index scan.
    #[test]
    fn a_statements_plan_is_made_again_when_its_lifetime_ends() {
        let Some(url) = crate::testing::postgres_url() else { return };
        let mut c = connect_with_lasting_plans(&url);
        let t = format!("replan_{}", crate::ids::next_id());
        c.execute_batch(&format!("CREATE TABLE {t} (k TEXT PRIMARY KEY, v TEXT NOT NULL); ANALYZE {t}")).unwrap();
        let lookup = format!("SELECT v FROM {t} WHERE k = $1");
        // PostgreSQL tries 5 custom plans before it settles on a generic one.
        let run = |c: &mut PgConn| {
            for _ in 0..8 {
                c.query(&lookup, &[Value::Text("k1".into())]).unwrap();
            }
        };
        let plan = |c: &mut PgConn| {
            let names =
                c.query("SELECT name FROM pg_prepared_statements WHERE statement = $1", &[Value::Text(lookup.clone())]);
            let names = names.unwrap();
            assert_eq!(names.len(), 1, "one statement prepared for the lookup");
            let name = names[0].text(0).unwrap();
            let rows = c.query(&format!("EXPLAIN EXECUTE {name}('k1')"), &[]).unwrap();
            rows.iter().map(|r| r.text(0).unwrap()).collect::<Vec<_>>().join("\n")
        };
        run(&mut c);
        assert!(plan(&mut c).contains("Seq Scan"), "an empty table is scanned: {}", plan(&mut c));
        // Not `execute_batch`: that empties the statement cache (DDL may change
        // what the statements mean).
        c.execute(
            &format!("INSERT INTO {t} SELECT 'k' || i, repeat('v', 100) FROM generate_series(1, 20000) AS i"),
            &[],
        )
        .unwrap();
        run(&mut c);
        assert!(plan(&mut c).contains("Seq Scan"), "the old plan outlives the growth: {}", plan(&mut c));

        end_plan_lifetime(&mut c);
        run(&mut c);
        let after = plan(&mut c);
        assert!(!after.contains("Seq Scan") && after.contains(&format!("{t}_pkey")), "{after}");
        c.execute_batch(&format!("DROP TABLE {t}")).unwrap();
    }

    /// The plans PostgreSQL makes for itself, as a foreign key's check, are
    /// discarded with the lifetime too. The referenced table analyzed while
    /// empty, the check scans it; after it grows, the check's plan still
    /// scans it, until the lifetime ends. Counted by the scans of the
    /// referenced table within one transaction.
    #[test]
    fn a_foreign_key_checks_plan_is_made_again_when_its_lifetime_ends() {
        let Some(url) = crate::testing::postgres_url() else { return };
        let mut c = connect_with_lasting_plans(&url);
        let n = crate::ids::next_id();
        let (parent, child) = (format!("fk_parent_{n}"), format!("fk_child_{n}"));
        c.execute_batch(&format!(
            "CREATE TABLE {parent} (id BIGINT PRIMARY KEY); \
             CREATE TABLE {child} (id BIGINT PRIMARY KEY, parent_id BIGINT NOT NULL REFERENCES {parent} (id)); \
             ANALYZE {parent}; ANALYZE {child}"
        ))
        .unwrap();
        let add_parent = format!("INSERT INTO {parent} (id) VALUES ($1)");
        let add_child = format!("INSERT INTO {child} (id, parent_id) VALUES ($1, $2)");
        let mut next = 0i64;
        let mut add = |c: &mut PgConn| {
            next += 1;
            c.execute(&add_parent, &[Value::Int(next)]).unwrap();
            c.execute(&add_child, &[Value::Int(next), Value::Int(next)]).unwrap();
        };
        // The parent's (seq scans, index scans) by one child insert. The
        // view counts what this backend has not yet reported: a difference.
        let scans_by_one_insert = |c: &mut PgConn, add: &mut dyn FnMut(&mut PgConn)| {
            let scans = |c: &mut PgConn| {
                let row = c
                    .query(
                        "SELECT seq_scan, idx_scan FROM pg_stat_xact_user_tables \
                         WHERE relname = $1 AND schemaname = current_schema()",
                        &[Value::Text(parent.clone())],
                    )
                    .unwrap();
                (row[0].i64(0).unwrap(), row[0].i64(1).unwrap())
            };
            c.execute_batch("BEGIN").unwrap();
            let before = scans(c);
            add(c);
            let after = scans(c);
            c.execute_batch("ROLLBACK").unwrap();
            (after.0 - before.0, after.1 - before.1)
        };
        for _ in 0..8 {
            add(&mut c);
        }
        assert_eq!(scans_by_one_insert(&mut c, &mut add).0, 1, "the check scans the empty-analyzed parent");
        c.execute(&format!("INSERT INTO {parent} SELECT i FROM generate_series(1000, 30000) AS i"), &[]).unwrap();
        assert_eq!(scans_by_one_insert(&mut c, &mut add).0, 1, "its plan outlives the growth");

        end_plan_lifetime(&mut c);
        for _ in 0..8 {
            add(&mut c);
        }
        let (seq, idx) = scans_by_one_insert(&mut c, &mut add);
        assert_eq!((seq, idx), (0, 1), "planned again: the check uses the parent's key");
        c.execute_batch(&format!("DROP TABLE {child}; DROP TABLE {parent}")).unwrap();
    }

    #[test]
    fn transaction_control_keeps_the_statement_cache() {
        assert!(is_transaction_control("BEGIN"));
        assert!(is_transaction_control("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
        assert!(is_transaction_control("ROLLBACK TO SAVEPOINT job; RELEASE SAVEPOINT job"));
        assert!(is_transaction_control("commit"));
        assert!(!is_transaction_control("CREATE TABLE t (id BIGINT)"));
        assert!(!is_transaction_control("BEGIN; ALTER TABLE t ADD COLUMN x TEXT; COMMIT"));
    }

    /// What the pipeline keeps is sent in order before anything else,
    /// including the Parse of a statement new to the connection: a failed
    /// read job's ROLLBACK, still pending, must reach the server before the
    /// next job prepares its first statement (found by `readers_cannot_write`,
    /// one run in six).
    #[test]
    fn a_pending_rollback_goes_before_the_next_jobs_first_prepare() {
        let Some(url) = crate::testing::postgres_url() else { return };
        let mut c = PgConn::connect(&url).unwrap();
        c.execute_batch("CREATE TEMP TABLE pipelined (id BIGINT PRIMARY KEY)").unwrap();
        c.execute_batch("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").unwrap();
        let refused = c.query("SELECT 1 / $1", &[Value::Int(0)]).unwrap_err();
        assert!(refused.message.contains("division by zero"), "{refused}");
        c.end_read_transaction().unwrap();
        assert_eq!(c.pending.len(), 1, "the ROLLBACK waits for the next statement");
        c.execute_batch("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").unwrap();
        let rows = c.query("SELECT COUNT(*) FROM pipelined WHERE id > $1", &[Value::Int(0)]).unwrap();
        assert_eq!(rows[0].i64(0).unwrap(), 0);
        c.end_read_transaction().unwrap();
        c.flush().unwrap();
        assert!(c.pending.is_empty());

        // A deferred write's error is returned by the statement it went with.
        c.execute_batch("BEGIN").unwrap();
        c.execute_deferred("INSERT INTO pipelined (id) VALUES (7)", &[], None).unwrap();
        c.execute_deferred("INSERT INTO pipelined (id) VALUES (7)", &[], None).unwrap();
        let e = c.query("SELECT id FROM pipelined", &[]).unwrap_err();
        assert_eq!(e.kind, DbErrorKind::Unique, "{e}");
        c.execute_batch("ROLLBACK").unwrap();
        let rows = c.query("SELECT COUNT(*) FROM pipelined", &[]).unwrap();
        assert_eq!(rows[0].i64(0).unwrap(), 0, "nothing of the failed transaction stayed");
    }

    #[test]
    fn only_a_lone_begin_or_savepoint_waits_for_the_next_statement() {
        assert!(opens_a_transaction_or_savepoint("BEGIN"));
        assert!(opens_a_transaction_or_savepoint("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
        assert!(opens_a_transaction_or_savepoint(" savepoint job "));
        assert!(!opens_a_transaction_or_savepoint("COMMIT"));
        assert!(!opens_a_transaction_or_savepoint("ROLLBACK TO SAVEPOINT job; RELEASE SAVEPOINT job"));
        assert!(!opens_a_transaction_or_savepoint("BEGIN; ALTER TABLE t ADD COLUMN x TEXT; COMMIT"));
    }
}
