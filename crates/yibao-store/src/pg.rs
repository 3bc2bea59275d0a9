//! The PostgreSQL backend (the synchronous `postgres` client, one per DB thread).
//!
//! Statements are prepared once per connection and cached by their text.
//! Integers bind to whatever integer type the column has; yibao's schema uses
//! BIGINT for every integer so no value is ever narrowed.

use std::collections::HashMap;
use std::error::Error as StdError;

use bytes::BytesMut;
use postgres::error::SqlState;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, NoTls, Statement};

use crate::sql::{Backend, DbError, DbErrorKind, DbResult, Row, Tx, Value};

pub struct PgConn {
    client: Client,
    statements: HashMap<String, Statement>,
}

/// Statements cached per connection before the cache is cleared (a bound on
/// memory for ad-hoc queries built with varying text).
const STATEMENT_CACHE_MAX: usize = 2048;

pub(crate) fn map_err(e: postgres::Error) -> DbError {
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

impl PgConn {
    pub fn connect(url: &str) -> DbResult<PgConn> {
        let client = Client::connect(url, NoTls)
            .map_err(|e| DbError::new(DbErrorKind::Unavailable, format!("cannot connect to PostgreSQL: {e}")))?;
        Ok(PgConn { client, statements: HashMap::new() })
    }

    fn statement(&mut self, sql: &str) -> DbResult<Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        if self.statements.len() >= STATEMENT_CACHE_MAX {
            self.statements.clear();
        }
        let s = self.client.prepare(sql).map_err(map_err)?;
        self.statements.insert(sql.to_owned(), s.clone());
        Ok(s)
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

fn convert(row: &postgres::Row, idx: usize) -> DbResult<Value> {
    let ty = row.columns()[idx].type_();
    let err = |e: postgres::Error| DbError::decode(format!("column {idx}: {e}"));
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
    sql.split(';').map(str::trim).filter(|s| !s.is_empty()).all(|s| {
        let word = s.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
        matches!(word.as_str(), "BEGIN" | "COMMIT" | "ROLLBACK" | "SAVEPOINT" | "RELEASE")
    })
}

impl Tx for PgConn {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> DbResult<u64> {
        let stmt = self.statement(sql)?;
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        self.client.execute(&stmt, &refs).map_err(map_err)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> DbResult<Vec<Row>> {
        let stmt = self.statement(sql)?;
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let rows = self.client.query(&stmt, &refs).map_err(map_err)?;
        rows.iter().map(|r| (0..r.len()).map(|i| convert(r, i)).collect::<DbResult<Vec<_>>>().map(Row::new)).collect()
    }

    fn execute_batch(&mut self, sql: &str) -> DbResult<()> {
        // Schema changes may invalidate cached statements; transaction
        // control (several per write batch) does not, and clearing on it
        // made every statement of every job a fresh prepare round trip.
        if !is_transaction_control(sql) {
            self.statements.clear();
        }
        self.client.batch_execute(sql).map_err(map_err)
    }
}

#[cfg(test)]
mod tests {
    use super::is_transaction_control;

    #[test]
    fn transaction_control_keeps_the_statement_cache() {
        assert!(is_transaction_control("BEGIN"));
        assert!(is_transaction_control("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
        assert!(is_transaction_control("ROLLBACK TO SAVEPOINT job; RELEASE SAVEPOINT job"));
        assert!(is_transaction_control("commit"));
        assert!(!is_transaction_control("CREATE TABLE t (id BIGINT)"));
        assert!(!is_transaction_control("BEGIN; ALTER TABLE t ADD COLUMN x TEXT; COMMIT"));
    }
}
