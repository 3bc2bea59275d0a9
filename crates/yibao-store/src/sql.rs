//! The one interface repositories use to talk to either database.
//!
//! SQL is written once, in the common subset of SQLite and PostgreSQL, with
//! numbered placeholders `$1, $2, …` that appear in order of first use (SQLite
//! reads `$1` as a named parameter and numbers names by first appearance; a
//! debug assertion in the SQLite backend checks the order). Portable habits:
//! `CAST(SUM(x) AS BIGINT)` (PostgreSQL sums to NUMERIC), integers for money,
//! booleans as 0/1, dates as `yyyy-MM-dd` text, instants as Unix milliseconds.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use yibao_domain::{Date, DateTime, Money, Ratio};

/// Which database is behind a connection.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// `SELECT … FOR UPDATE` where the backend has row locks; empty on SQLite,
    /// whose single writer already serializes every write.
    pub fn for_update(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DbErrorKind {
    /// A unique or primary-key constraint was violated.
    Unique,
    /// A foreign-key or check constraint was violated.
    Constraint,
    /// Lock conflict, deadlock or serialization failure: retrying may succeed.
    Retryable,
    /// Connection lost or the database cannot be opened.
    Unavailable,
    /// A row had an unexpected shape (a bug, or a schema mismatch).
    Decode,
    Other,
}

#[derive(Clone, Debug)]
pub struct DbError {
    pub kind: DbErrorKind,
    pub message: String,
}

impl DbError {
    pub fn new(kind: DbErrorKind, message: impl Into<String>) -> DbError {
        DbError { kind, message: message.into() }
    }

    pub fn decode(message: impl Into<String>) -> DbError {
        DbError::new(DbErrorKind::Decode, message)
    }

    pub fn is_unique_violation(&self) -> bool {
        self.kind == DbErrorKind::Unique
    }

    pub fn is_retryable(&self) -> bool {
        self.kind == DbErrorKind::Retryable
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "database error ({:?}): {}", self.kind, self.message)
    }
}

impl std::error::Error for DbError {}

pub type DbResult<T> = Result<T, DbError>;

/// A parameter or column value.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Int(v)
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Value {
        Value::Int(i64::from(v))
    }
}

impl From<u32> for Value {
    fn from(v: u32) -> Value {
        Value::Int(i64::from(v))
    }
}

impl From<usize> for Value {
    fn from(v: usize) -> Value {
        Value::Int(i64::try_from(v).expect("usize fits i64"))
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Int(i64::from(v))
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Value {
        Value::Text(v.clone())
    }
}

impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Value {
        Value::Blob(v)
    }
}

impl From<Money> for Value {
    fn from(v: Money) -> Value {
        Value::Int(v.fen())
    }
}

impl From<Ratio> for Value {
    fn from(v: Ratio) -> Value {
        Value::Int(i64::from(v.ppm()))
    }
}

impl From<Date> for Value {
    fn from(v: Date) -> Value {
        Value::Text(v.to_string())
    }
}

impl From<DateTime> for Value {
    fn from(v: DateTime) -> Value {
        Value::Text(v.to_string())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

/// Builds a parameter slice: `params![a, b, c]`.
#[macro_export]
macro_rules! params {
    () => { &[] as &[$crate::Value] };
    ($($v:expr),+ $(,)?) => { &[$($crate::Value::from($v)),+] as &[$crate::Value] };
}

/// Conversion of a column value into a Rust type.
pub trait FromValue: Sized {
    fn from_value(v: &Value) -> DbResult<Self>;
}

impl FromValue for i64 {
    fn from_value(v: &Value) -> DbResult<i64> {
        match v {
            Value::Int(i) => Ok(*i),
            other => Err(DbError::decode(format!("expected integer, got {other:?}"))),
        }
    }
}

impl FromValue for i32 {
    fn from_value(v: &Value) -> DbResult<i32> {
        i32::try_from(i64::from_value(v)?).map_err(|_| DbError::decode("integer out of i32 range"))
    }
}

impl FromValue for u32 {
    fn from_value(v: &Value) -> DbResult<u32> {
        u32::try_from(i64::from_value(v)?).map_err(|_| DbError::decode("integer out of u32 range"))
    }
}

impl FromValue for bool {
    fn from_value(v: &Value) -> DbResult<bool> {
        Ok(i64::from_value(v)? != 0)
    }
}

impl FromValue for String {
    fn from_value(v: &Value) -> DbResult<String> {
        match v {
            Value::Text(s) => Ok(s.clone()),
            other => Err(DbError::decode(format!("expected text, got {other:?}"))),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(v: &Value) -> DbResult<Vec<u8>> {
        match v {
            Value::Blob(b) => Ok(b.clone()),
            other => Err(DbError::decode(format!("expected blob, got {other:?}"))),
        }
    }
}

impl FromValue for Money {
    fn from_value(v: &Value) -> DbResult<Money> {
        Ok(Money::from_fen(i64::from_value(v)?))
    }
}

impl FromValue for Ratio {
    fn from_value(v: &Value) -> DbResult<Ratio> {
        Ok(Ratio::from_ppm(u32::from_value(v)?))
    }
}

impl FromValue for Date {
    fn from_value(v: &Value) -> DbResult<Date> {
        let s = String::from_value(v)?;
        Date::parse(&s).map_err(|e| DbError::decode(format!("bad date {s:?}: {}", e.reason)))
    }
}

impl FromValue for DateTime {
    fn from_value(v: &Value) -> DbResult<DateTime> {
        let s = String::from_value(v)?;
        DateTime::parse(&s).map_err(|e| DbError::decode(format!("bad datetime {s:?}: {}", e.reason)))
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> DbResult<Option<T>> {
        match v {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

/// One result row; columns are read by position, in the order of the SELECT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    values: Vec<Value>,
}

impl Row {
    pub fn new(values: Vec<Value>) -> Row {
        Row { values }
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn value(&self, idx: usize) -> &Value {
        &self.values[idx]
    }

    /// Column `idx`, or an error naming it when the row has no such column.
    fn column(&self, idx: usize) -> DbResult<&Value> {
        self.values.get(idx).ok_or_else(|| self.out_of_range(idx))
    }

    fn out_of_range(&self, idx: usize) -> DbError {
        DbError::decode(format!("column {idx} out of range ({} columns)", self.values.len()))
    }

    pub fn get<T: FromValue>(&self, idx: usize) -> DbResult<T> {
        T::from_value(self.column(idx)?).map_err(|e| DbError::decode(format!("column {idx}: {}", e.message)))
    }

    pub fn i64(&self, idx: usize) -> DbResult<i64> {
        self.get(idx)
    }

    pub fn text(&self, idx: usize) -> DbResult<String> {
        self.get(idx)
    }

    pub fn opt_text(&self, idx: usize) -> DbResult<Option<String>> {
        self.get(idx)
    }

    /// Column `idx` as text, moved out of the row, which keeps `Null` in its
    /// place (so a second take fails rather than reading ""). Rows are read
    /// once: their strings need not be copied.
    pub fn take_text(&mut self, idx: usize) -> DbResult<String> {
        if idx >= self.values.len() {
            return Err(self.out_of_range(idx));
        }
        let slot = &mut self.values[idx];
        match std::mem::replace(slot, Value::Null) {
            Value::Text(s) => Ok(s),
            other => {
                let e = DbError::decode(format!("column {idx}: expected text, got {other:?}"));
                *slot = other;
                Err(e)
            }
        }
    }

    /// Column `idx` as text, borrowed from the row (`None` for `NULL`).
    pub fn opt_str(&self, idx: usize) -> DbResult<Option<&str>> {
        match self.column(idx)? {
            Value::Text(s) => Ok(Some(s)),
            Value::Null => Ok(None),
            other => Err(DbError::decode(format!("column {idx}: expected text, got {other:?}"))),
        }
    }

    /// Column `idx` as text, borrowed from the row.
    pub fn str(&self, idx: usize) -> DbResult<&str> {
        self.opt_str(idx)?.ok_or_else(|| DbError::decode(format!("column {idx}: expected text, got NULL")))
    }

    pub fn money(&self, idx: usize) -> DbResult<Money> {
        self.get(idx)
    }

    pub fn date(&self, idx: usize) -> DbResult<Date> {
        self.get(idx)
    }

    pub fn bool(&self, idx: usize) -> DbResult<bool> {
        self.get(idx)
    }
}

/// A query a job is about to make, named ahead of time so that the backend
/// can send several in one round trip ([`Tx::prefetch`]). A repository
/// function that offers one builds its own query from it, so the two never
/// differ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Read {
    pub sql: String,
    pub params: Vec<Value>,
}

impl Read {
    pub fn new(sql: impl Into<String>, params: &[Value]) -> Read {
        Read { sql: sql.into(), params: params.to_vec() }
    }

    /// Runs it now.
    pub fn query(&self, tx: &mut dyn Tx) -> DbResult<Vec<Row>> {
        tx.query(&self.sql, &self.params)
    }

    pub fn query_opt(&self, tx: &mut dyn Tx) -> DbResult<Option<Row>> {
        tx.query_opt(&self.sql, &self.params)
    }

    pub fn query_one(&self, tx: &mut dyn Tx) -> DbResult<Row> {
        tx.query_one(&self.sql, &self.params)
    }
}

/// See [`Tx::take_prefetch_counts`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PrefetchCounts {
    pub sent: u64,
    pub used: u64,
}

/// A database transaction. Repositories take `&mut dyn Tx` and never see
/// which backend they run on, except through [`Tx::backend`] for the rare
/// statement that cannot be written portably.
pub trait Tx {
    fn backend(&self) -> Backend;

    /// Runs a statement; returns the number of rows changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> DbResult<u64>;

    /// Runs a query and returns every row.
    fn query(&mut self, sql: &str, params: &[Value]) -> DbResult<Vec<Row>>;

    /// Runs several statements without parameters (schema changes).
    fn execute_batch(&mut self, sql: &str) -> DbResult<()>;

    /// Runs a write whose only result the job needs is that it succeeded
    /// (and, with `expected`, changed that many rows). SQLite runs it at
    /// once. PostgreSQL keeps it and sends it in one network write with the
    /// job's next statement, or when the job ends ([`Tx::flush`]): a
    /// settlement's eight writes cost one round trip instead of eight.
    ///
    /// So its error may be reported by a later call of the same job, and a
    /// job must not act on a write's success before a later statement (or
    /// the job's end) has confirmed it. Use it for writes that are the
    /// job's last word on a row: inserts, and updates of rows the job has
    /// already read and locked.
    fn execute_deferred(&mut self, sql: &str, params: &[Value], expected: Option<RowsExpected>) -> DbResult<()> {
        let changed = self.execute(sql, params)?;
        expected.map_or(Ok(()), |e| e.check(changed))
    }

    /// Ends a read-only transaction. PostgreSQL keeps the `ROLLBACK` and
    /// sends it with the connection's next statement; the reader sends it at
    /// once ([`Tx::flush`]) when no job is waiting, so that no snapshot is
    /// held while the connection is idle.
    fn end_read_transaction(&mut self) -> DbResult<()> {
        self.execute_batch("ROLLBACK")
    }

    /// While `on`, a statement that would change the database fails and
    /// changes nothing. The engine turns it on around a short read run on
    /// the SQLite writer's connection (`Db::read_short`), so that a read
    /// job cannot write wherever it runs. Reader connections refuse writes
    /// from their opening (SQLite `query_only`, PostgreSQL `READ ONLY`
    /// transactions) and PostgreSQL's writers run no reads: for them this
    /// does nothing.
    fn set_query_only(&mut self, on: bool) {
        let _ = on;
    }

    /// Sends what [`Tx::execute_deferred`] kept and returns the first error.
    /// The engine calls it when a job returns; a job need not.
    fn flush(&mut self) -> DbResult<()> {
        Ok(())
    }

    /// Runs `reads` now, in order, and keeps their rows for the job's own
    /// [`Tx::query`] calls with the same text and parameters, which then
    /// cost nothing. PostgreSQL sends them in one round trip; SQLite, whose
    /// reads cost no round trip, ignores the call.
    ///
    /// A kept result is what the query would have returned at this point of
    /// the job, so it is used only while that is still what it would return
    /// now: a write by the job to a table the read names drops the read, and
    /// a lock the job takes by a query not kept drops every read (the lock
    /// may guard rows a kept read saw before it was taken). A job prefetches
    /// the reads it makes before it writes, in the order it makes them; a
    /// read it then does not make (a guess that missed) costs nothing but
    /// its share of the round trip. What is kept is dropped when the job
    /// ends.
    fn prefetch(&mut self, reads: &[Read]) -> DbResult<()> {
        let _ = reads;
        Ok(())
    }

    /// Reads sent ahead by [`Tx::prefetch`] and reads answered from them,
    /// since the last call (for the engine's counters).
    fn take_prefetch_counts(&mut self) -> PrefetchCounts {
        PrefetchCounts::default()
    }

    fn query_opt(&mut self, sql: &str, params: &[Value]) -> DbResult<Option<Row>> {
        let mut rows = self.query(sql, params)?;
        if rows.len() > 1 {
            return Err(DbError::decode(format!("expected at most one row, got {}", rows.len())));
        }
        Ok(rows.pop())
    }

    fn query_one(&mut self, sql: &str, params: &[Value]) -> DbResult<Row> {
        self.query_opt(sql, params)?.ok_or_else(|| DbError::decode("expected one row, got none"))
    }

    /// `SELECT … FOR UPDATE` where the backend has row locks; empty on SQLite,
    /// whose single writer already serializes every write.
    fn for_update(&self) -> &'static str {
        self.backend().for_update()
    }
}

/// What a deferred write must change: exactly `rows` rows, or the job fails
/// with an error of `kind` (`Retryable` when another writer got there first
/// and a rerun of the job will see why).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowsExpected {
    pub rows: u64,
    pub kind: DbErrorKind,
    /// Says what went wrong, for the error.
    pub what: &'static str,
}

impl RowsExpected {
    pub fn check(&self, changed: u64) -> DbResult<()> {
        if changed == self.rows {
            return Ok(());
        }
        Err(DbError::new(self.kind, format!("{}: {changed} rows changed, expected {}", self.what, self.rows)))
    }
}

/// `$first, $first+1, …` (`count` of them), for an `IN (…)` list or a row
/// of values.
pub fn placeholders(first: usize, count: usize) -> String {
    let mut out = String::with_capacity(count * 8);
    for i in first..first + count {
        if i > first {
            out.push_str(", ");
        }
        push_placeholder(&mut out, i);
    }
    out
}

/// Rows per multi-row INSERT: large enough to amortize a round trip, small
/// enough to stay far below both backends' parameter limits (SQLite 32766,
/// PostgreSQL 65535) for tables of up to 100 columns.
const BULK_ROWS_PER_STATEMENT: usize = 200;

/// Inserts many rows with multi-row `VALUES` statements:
/// `insert_many(tx, "INSERT INTO t (a, b)", 2, rows, "ON CONFLICT (a) DO NOTHING")`.
/// Returns the number of rows changed. The rows are taken: their values
/// become the statements' parameters without being copied.
pub fn insert_many(tx: &mut dyn Tx, head: &str, columns: usize, rows: Vec<Vec<Value>>, tail: &str) -> DbResult<u64> {
    let mut changed = 0;
    for chunk in Chunks::new(rows) {
        let (sql, params) = multi_row_insert(head, columns, chunk, tail);
        changed += tx.execute(&sql, &params)?;
    }
    Ok(changed)
}

/// [`insert_many`] with [`Tx::execute_deferred`]; with `all_rows`, every row
/// must be written, or the job fails with an error of that kind.
pub fn insert_many_deferred(
    tx: &mut dyn Tx,
    head: &str,
    columns: usize,
    rows: Vec<Vec<Value>>,
    tail: &str,
    all_rows: Option<(DbErrorKind, &'static str)>,
) -> DbResult<()> {
    for chunk in Chunks::new(rows) {
        let expected = all_rows.map(|(kind, what)| RowsExpected { rows: chunk.len() as u64, kind, what });
        let (sql, params) = multi_row_insert(head, columns, chunk, tail);
        tx.execute_deferred(&sql, &params, expected)?;
    }
    Ok(())
}

/// Owned rows in chunks of [`BULK_ROWS_PER_STATEMENT`]; none for no rows.
struct Chunks(std::iter::Peekable<std::vec::IntoIter<Vec<Value>>>);

impl Chunks {
    fn new(rows: Vec<Vec<Value>>) -> Chunks {
        Chunks(rows.into_iter().peekable())
    }
}

impl Iterator for Chunks {
    type Item = Vec<Vec<Value>>;
    fn next(&mut self) -> Option<Vec<Vec<Value>>> {
        self.0.peek()?;
        Some(self.0.by_ref().take(BULK_ROWS_PER_STATEMENT).collect())
    }
}

/// One multi-row INSERT: its text, with placeholders `$1 … $n` row by row,
/// and its parameters, moved out of `chunk`.
fn multi_row_insert(head: &str, columns: usize, chunk: Vec<Vec<Value>>, tail: &str) -> (Rc<str>, Vec<Value>) {
    assert!(columns > 0 && columns <= 100, "columns out of range");
    assert!(chunk.len() <= BULK_ROWS_PER_STATEMENT, "rows per statement");
    let sql = multi_row_text(head, columns, chunk.len(), tail);
    let mut params = Vec::with_capacity(chunk.len() * columns);
    for row in chunk {
        assert_eq!(row.len(), columns, "row width");
        params.extend(row);
    }
    (sql, params)
}

/// Multi-row INSERT texts this thread has built. A write path builds the
/// same few again and again (a 10-line upload: 220 placeholders, some
/// 2.5 kB, about 21 k instructions each time; docs/performance.md,
/// seventeenth round), so they are kept, up to a bound; comparing a kept
/// text's head and tail costs a memcmp.
struct InsertText {
    head: Box<str>,
    columns: usize,
    rows: usize,
    tail: Box<str>,
    sql: Rc<str>,
}

/// Texts kept per thread at most: the write paths have a handful of
/// multi-row statements, each with a few row counts (bulk loads use many,
/// and start the list again when it is full).
const INSERT_TEXTS_MAX: usize = 64;

thread_local! {
    static INSERT_TEXTS: RefCell<Vec<InsertText>> = const { RefCell::new(Vec::new()) };
}

/// The text of a multi-row INSERT of `rows` rows: `head VALUES ($1,…),(…) tail`.
fn multi_row_text(head: &str, columns: usize, rows: usize, tail: &str) -> Rc<str> {
    INSERT_TEXTS.with_borrow_mut(|texts| {
        if let Some(kept) =
            texts.iter().find(|t| t.columns == columns && t.rows == rows && *t.head == *head && *t.tail == *tail)
        {
            return kept.sql.clone();
        }
        let sql: Rc<str> = build_multi_row_text(head, columns, rows, tail).into();
        if texts.len() == INSERT_TEXTS_MAX {
            texts.clear();
        }
        texts.push(InsertText { head: head.into(), columns, rows, tail: tail.into(), sql: sql.clone() });
        sql
    })
}

fn build_multi_row_text(head: &str, columns: usize, rows: usize, tail: &str) -> String {
    // "$NNNNN," is at most 7 bytes: at most 20,000 parameters, 5 digits.
    let mut sql = String::with_capacity(head.len() + tail.len() + 10 + rows * (columns * 7 + 3));
    sql.push_str(head);
    sql.push_str(" VALUES ");
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..columns {
            if c > 0 {
                sql.push(',');
            }
            push_placeholder(&mut sql, r * columns + c + 1);
        }
        sql.push(')');
    }
    sql.push(' ');
    sql.push_str(tail);
    sql
}

/// Appends `$n` without formatting machinery or an allocation: a 10-line
/// upload's statement has 220 of them (docs/performance.md, fourteenth round).
fn push_placeholder(sql: &mut String, n: usize) {
    let mut digits = [0u8; 20];
    let start = yibao_domain::money::digits_before(n as u64, &mut digits, 20);
    sql.push('$');
    sql.push_str(std::str::from_utf8(&digits[start..]).expect("ASCII digits"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_taken_once_and_borrowed_as_often_as_asked() {
        let mut row = Row::new(vec![Value::Text("甲".into()), Value::Null, Value::Int(7)]);
        assert_eq!(row.str(0).unwrap(), "甲");
        assert_eq!(row.opt_str(1).unwrap(), None);
        assert!(row.str(1).is_err(), "NULL is not text");
        assert!(row.str(2).is_err() && row.take_text(2).is_err(), "an integer is not text");
        assert_eq!(row.i64(2).unwrap(), 7, "a failed take leaves the value in place");
        assert_eq!(row.take_text(0).unwrap(), "甲");
        assert!(row.take_text(0).is_err(), "taken: a second take does not read \"\"");
        assert!(row.take_text(3).is_err() && row.str(3).is_err(), "out of range");
    }

    #[test]
    fn placeholder_lists_are_comma_separated_from_their_first_number() {
        assert_eq!(placeholders(1, 0), "");
        assert_eq!(placeholders(1, 1), "$1");
        assert_eq!(placeholders(3, 3), "$3, $4, $5");
        assert_eq!(placeholders(9, 2), "$9, $10");
    }

    #[test]
    fn placeholders_are_written_as_decimal() {
        for n in [0usize, 1, 9, 10, 99, 100, 219, 220, 12_345, 40_000, usize::MAX] {
            let mut sql = String::from("x");
            push_placeholder(&mut sql, n);
            assert_eq!(sql, format!("x${n}"));
        }
    }

    #[test]
    fn a_multi_row_insert_numbers_its_rows_and_moves_their_values() {
        let rows = vec![vec![Value::Text("a".into()), Value::Int(1)], vec![Value::Null, Value::Text("乙".into())]];
        let (sql, params) = multi_row_insert("INSERT INTO t (x, y)", 2, rows, "ON CONFLICT DO NOTHING");
        assert_eq!(&*sql, "INSERT INTO t (x, y) VALUES ($1,$2),($3,$4) ON CONFLICT DO NOTHING");
        assert_eq!(params, vec![Value::Text("a".into()), Value::Int(1), Value::Null, Value::Text("乙".into())]);
    }

    /// A kept text is the one that would be built, for its own head, width,
    /// row count and tail only; past the bound the list starts again.
    #[test]
    fn multi_row_texts_are_kept_per_statement_shape() {
        let built = |head: &str, columns: usize, rows: usize, tail: &str| {
            let sql = multi_row_text(head, columns, rows, tail);
            assert_eq!(&*sql, build_multi_row_text(head, columns, rows, tail), "{head} {columns} {rows} {tail}");
            sql
        };
        let first = built("INSERT INTO t (x, y)", 2, 3, "");
        assert!(Rc::ptr_eq(&first, &built("INSERT INTO t (x, y)", 2, 3, "")), "kept");
        for (head, columns, rows, tail) in [
            ("INSERT INTO t (x, y)", 2, 2, ""),
            ("INSERT INTO u (x, y)", 2, 3, ""),
            ("INSERT INTO t (x, y)", 2, 3, "ON CONFLICT DO NOTHING"),
            ("INSERT INTO t (x, y, z)", 3, 2, ""),
        ] {
            assert!(!Rc::ptr_eq(&first, &built(head, columns, rows, tail)), "{head} {columns} {rows} {tail}");
        }
        for rows in 1..=(2 * INSERT_TEXTS_MAX) {
            built("INSERT INTO v (x)", 1, rows, "");
            INSERT_TEXTS.with_borrow(|texts| assert!(texts.len() <= INSERT_TEXTS_MAX));
        }
    }

    #[test]
    fn rows_are_chunked_by_the_statement_limit() {
        let rows = |n: usize| (0..n).map(|i| vec![Value::Int(i as i64)]).collect::<Vec<_>>();
        let sizes = |n: usize| Chunks::new(rows(n)).map(|c| c.len()).collect::<Vec<_>>();
        assert_eq!(sizes(0), Vec::<usize>::new());
        assert_eq!(sizes(1), vec![1]);
        assert_eq!(sizes(BULK_ROWS_PER_STATEMENT), vec![BULK_ROWS_PER_STATEMENT]);
        assert_eq!(sizes(2 * BULK_ROWS_PER_STATEMENT + 3), vec![BULK_ROWS_PER_STATEMENT, BULK_ROWS_PER_STATEMENT, 3]);
        let flat: Vec<Value> = Chunks::new(rows(450)).flatten().flatten().collect();
        assert_eq!(flat, (0..450).map(Value::Int).collect::<Vec<_>>(), "every row once, in order");
    }
}
