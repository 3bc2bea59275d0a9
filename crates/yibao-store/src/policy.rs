//! Policy versions and year-to-date accumulators.

use yibao_domain::codes::Insutype;
use yibao_domain::settlement::Accumulators;
use yibao_domain::{Date, Parsed};

use crate::params;
use crate::sql::{Backend, DbError, DbErrorKind, DbResult, Read, Row, RowsExpected, Tx};

fn decode<T>(r: Parsed<T>) -> DbResult<T> {
    r.map_err(|e| DbError::decode(format!("{}: {}", e.field, e.reason)))
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyRow {
    pub id: i64,
    pub region: String,
    pub insutype: Insutype,
    pub name: String,
    pub begin_date: Date,
    pub end_date: Option<Date>,
    /// `active` or `retired` (withdrawn, never to be used again).
    pub status: String,
    /// The policy document as JSON.
    pub document: String,
    pub sha256: String,
    pub created_by: String,
    pub created_at_ms: i64,
}

const COLUMNS: &str =
    "id, region, insutype, name, begin_date, end_date, status, document, sha256, created_by, created_at_ms";

fn from_row(r: &Row) -> DbResult<PolicyRow> {
    Ok(PolicyRow {
        id: r.i64(0)?,
        region: r.text(1)?,
        insutype: decode(Insutype::parse(&r.text(2)?))?,
        name: r.text(3)?,
        begin_date: r.date(4)?,
        end_date: r.get(5)?,
        status: r.text(6)?,
        document: r.text(7)?,
        sha256: r.text(8)?,
        created_by: r.text(9)?,
        created_at_ms: r.i64(10)?,
    })
}

pub fn insert(tx: &mut dyn Tx, p: &PolicyRow) -> DbResult<()> {
    tx.execute(
        &format!("INSERT INTO policy ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"),
        params![
            p.id,
            p.region.as_str(),
            p.insutype.code(),
            p.name.as_str(),
            p.begin_date,
            p.end_date,
            p.status.as_str(),
            p.document.as_str(),
            p.sha256.as_str(),
            p.created_by.as_str(),
            p.created_at_ms
        ],
    )?;
    Ok(())
}

pub fn get(tx: &mut dyn Tx, id: i64) -> DbResult<Option<PolicyRow>> {
    tx.query_opt(&format!("SELECT {COLUMNS} FROM policy WHERE id = $1"), params![id])?.map(|r| from_row(&r)).transpose()
}

/// Active versions of one region and insurance type, oldest first.
pub fn versions(tx: &mut dyn Tx, region: &str, insutype: Insutype) -> DbResult<Vec<PolicyRow>> {
    tx.query(
        &format!(
            "SELECT {COLUMNS} FROM policy WHERE region = $1 AND insutype = $2 AND status = 'active' ORDER BY begin_date, id"
        ),
        params![region, insutype.code()],
    )?
    .iter()
    .map(from_row)
    .collect()
}

/// Every active version (for the in-memory policy cache).
pub fn all_active(tx: &mut dyn Tx) -> DbResult<Vec<PolicyRow>> {
    tx.query(
        &format!("SELECT {COLUMNS} FROM policy WHERE status = 'active' ORDER BY region, insutype, begin_date"),
        params![],
    )?
    .iter()
    .map(from_row)
    .collect()
}

/// Versions whose region lies under `prefix` (all when empty), newest first.
pub fn list(tx: &mut dyn Tx, prefix: &str, limit: i64, offset: i64) -> DbResult<Vec<PolicyRow>> {
    tx.query(
        &format!("SELECT {COLUMNS} FROM policy WHERE region LIKE $1 ORDER BY region, insutype, begin_date DESC LIMIT $2 OFFSET $3"),
        params![format!("{}%", crate::catalog::escape_like(prefix)), limit, offset],
    )?
    .iter()
    .map(from_row)
    .collect()
}

/// Sets the last day a version is in force; the document keeps its own copy
/// of the end date too, so it is rewritten.
pub fn end(tx: &mut dyn Tx, id: i64, end_date: Date, document: &str, sha256: &str) -> DbResult<u64> {
    tx.execute(
        "UPDATE policy SET end_date = $1, document = $2, sha256 = $3 WHERE id = $4",
        params![end_date, document, sha256, id],
    )
}

pub fn retire(tx: &mut dyn Tx, id: i64) -> DbResult<u64> {
    tx.execute("UPDATE policy SET status = 'retired' WHERE id = $1 AND status = 'active'", params![id])
}

/// Whether any settlement was computed under this version (such a version may
/// be ended but never retired or changed retroactively).
pub fn used_since(tx: &mut dyn Tx, id: i64, from: Date) -> DbResult<bool> {
    Ok(tx
        .query_opt("SELECT 1 FROM settlement WHERE policy_id = $1 AND setl_date >= $2 LIMIT 1", params![id, from])?
        .is_some())
}

/// Whose accumulators: a person, an insurance type, a scheme year.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AccumulatorKey {
    pub psn_no: String,
    pub insutype: Insutype,
    pub year: i32,
}

/// The year-to-date accumulators of a person and their version (0 when none yet).
pub fn accumulators(tx: &mut dyn Tx, key: &AccumulatorKey) -> DbResult<(Accumulators, i64)> {
    read_accumulators(tx, key, false)
}

/// The same, locking the row until the end of the write transaction.
pub fn accumulators_for_update(tx: &mut dyn Tx, key: &AccumulatorKey) -> DbResult<(Accumulators, i64)> {
    read_accumulators(tx, key, true)
}

/// The read of [`accumulators_for_update`] (`lock`) or [`accumulators`],
/// to prefetch ([`Tx::prefetch`]).
pub fn accumulators_read(backend: Backend, key: &AccumulatorKey, lock: bool) -> Read {
    let AccumulatorKey { psn_no, insutype, year } = key;
    let lock = if lock { backend.for_update() } else { "" };
    Read::new(
        format!("SELECT state, version FROM accumulator WHERE psn_no = $1 AND insutype = $2 AND year = $3{lock}"),
        params![psn_no.as_str(), insutype.code(), *year],
    )
}

fn read_accumulators(tx: &mut dyn Tx, key: &AccumulatorKey, lock: bool) -> DbResult<(Accumulators, i64)> {
    let row = accumulators_read(tx.backend(), key, lock).query_opt(tx)?;
    match row {
        None => Ok((Accumulators::default(), 0)),
        Some(r) => {
            let state: Accumulators =
                serde_json::from_str(&r.text(0)?).map_err(|e| DbError::decode(format!("accumulator state: {e}")))?;
            Ok((state, r.i64(1)?))
        }
    }
}

/// Stores new accumulators if the stored version is still `expected_version`
/// (optimistic concurrency). Deferred ([`Tx::execute_deferred`]): when
/// someone else changed them first, the job fails as retryable, and its rerun
/// reads them again.
pub fn store_accumulators(
    tx: &mut dyn Tx,
    key: &AccumulatorKey,
    insu_admdvs: &str,
    state: &Accumulators,
    expected_version: i64,
    now_ms: i64,
) -> DbResult<()> {
    let AccumulatorKey { psn_no, insutype, year } = key;
    let (psn_no, year) = (psn_no.as_str(), *year);
    let json = serde_json::to_string(state).map_err(|e| DbError::decode(e.to_string()))?;
    let expected =
        RowsExpected { rows: 1, kind: DbErrorKind::Retryable, what: "accumulators changed by a concurrent settlement" };
    if expected_version == 0 {
        tx.execute_deferred(
            "INSERT INTO accumulator (psn_no, insutype, year, insu_admdvs, state, version, updated_at_ms) \
             VALUES ($1, $2, $3, $4, $5, 1, $6) ON CONFLICT (psn_no, insutype, year) DO NOTHING",
            params![psn_no, insutype.code(), year, insu_admdvs, json, now_ms],
            Some(expected),
        )
    } else {
        tx.execute_deferred(
            "UPDATE accumulator SET state = $1, version = version + 1, insu_admdvs = $2, updated_at_ms = $3 \
             WHERE psn_no = $4 AND insutype = $5 AND year = $6 AND version = $7",
            params![json, insu_admdvs, now_ms, psn_no, insutype.code(), year, expected_version],
            Some(expected),
        )
    }
}
