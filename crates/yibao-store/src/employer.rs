//! Employers (参保单位) and declared contribution bases.

use yibao_domain::division::DivisionCode;
use yibao_domain::employer::{CreditCode, Employer, EmployerStatus};
use yibao_domain::{Money, Parsed};

use crate::catalog::escape_like;
use crate::params;
use crate::sql::{DbError, DbResult, Row, Tx, Value, insert_many};

fn decode<T>(r: Parsed<T>) -> DbResult<T> {
    r.map_err(|e| DbError::decode(format!("{}: {}", e.field, e.reason)))
}

const COLUMNS: &str = "emp_no, uscc, emp_name, insu_admdvs, admdvs, address, contact, tel, status";

fn from_row(r: &Row) -> DbResult<Employer> {
    Ok(Employer {
        emp_no: r.text(0)?,
        uscc: decode(CreditCode::parse(&r.text(1)?))?,
        emp_name: r.text(2)?,
        insu_admdvs: decode(DivisionCode::parse(&r.text(3)?))?,
        admdvs: decode(DivisionCode::parse(&r.text(4)?))?,
        address: r.text(5)?,
        contact: r.text(6)?,
        tel: r.text(7)?,
        status: decode(EmployerStatus::parse(&r.text(8)?))?,
    })
}

fn values(e: &Employer, now_ms: i64) -> Vec<Value> {
    vec![
        e.emp_no.as_str().into(),
        e.uscc.as_str().into(),
        e.emp_name.as_str().into(),
        e.insu_admdvs.as_str().into(),
        e.admdvs.as_str().into(),
        e.address.as_str().into(),
        e.contact.as_str().into(),
        e.tel.as_str().into(),
        e.status.as_str().into(),
        now_ms.into(),
        now_ms.into(),
    ]
}

pub fn insert_many_employers(tx: &mut dyn Tx, employers: &[Employer], now_ms: i64) -> DbResult<u64> {
    let rows: Vec<Vec<Value>> = employers.iter().map(|e| values(e, now_ms)).collect();
    insert_many(tx, &format!("INSERT INTO employer ({COLUMNS}, created_at_ms, updated_at_ms)"), 11, rows, "")
}

pub fn update(tx: &mut dyn Tx, e: &Employer, now_ms: i64) -> DbResult<u64> {
    tx.execute(
        "UPDATE employer SET emp_name = $1, admdvs = $2, address = $3, contact = $4, tel = $5, status = $6, \
         updated_at_ms = $7 WHERE emp_no = $8",
        params![
            e.emp_name.as_str(),
            e.admdvs.as_str(),
            e.address.as_str(),
            e.contact.as_str(),
            e.tel.as_str(),
            e.status.as_str(),
            now_ms,
            e.emp_no.as_str()
        ],
    )
}

pub fn get(tx: &mut dyn Tx, emp_no: &str) -> DbResult<Option<Employer>> {
    tx.query_opt(&format!("SELECT {COLUMNS} FROM employer WHERE emp_no = $1"), params![emp_no])?
        .map(|r| from_row(&r))
        .transpose()
}

pub fn by_uscc(tx: &mut dyn Tx, uscc: &str) -> DbResult<Option<Employer>> {
    tx.query_opt(&format!("SELECT {COLUMNS} FROM employer WHERE uscc = $1"), params![uscc])?
        .map(|r| from_row(&r))
        .transpose()
}

/// Active employers of a region, in number order.
pub fn active_in_region(tx: &mut dyn Tx, region: &str) -> DbResult<Vec<Employer>> {
    tx.query(
        &format!("SELECT {COLUMNS} FROM employer WHERE insu_admdvs = $1 AND status = 'active' ORDER BY emp_no"),
        params![region],
    )?
    .iter()
    .map(from_row)
    .collect()
}

pub fn list(
    tx: &mut dyn Tx,
    region_prefix: &str,
    name: &str,
    limit: i64,
    offset: i64,
) -> DbResult<(Vec<Employer>, i64)> {
    let region = format!("{}%", escape_like(region_prefix));
    let name = format!("%{}%", escape_like(name));
    let where_ = "FROM employer WHERE insu_admdvs LIKE $1 ESCAPE '\\' AND emp_name LIKE $2 ESCAPE '\\'";
    let total = tx.query_one(&format!("SELECT COUNT(*) {where_}"), params![region.clone(), name.clone()])?.i64(0)?;
    let rows = tx.query(
        &format!("SELECT {COLUMNS} {where_} ORDER BY emp_no LIMIT $3 OFFSET $4"),
        params![region, name, limit, offset],
    )?;
    Ok((rows.iter().map(from_row).collect::<DbResult<_>>()?, total))
}

/// The next free 8-digit sequence of employer numbers in a region.
pub fn next_sequence(tx: &mut dyn Tx, region: DivisionCode) -> DbResult<u32> {
    let max = tx
        .query_one("SELECT MAX(emp_no) FROM employer WHERE emp_no LIKE $1", params![format!("{}%", region.as_str())])?
        .opt_text(0)?;
    Ok(match max {
        Some(no) => no[6..].parse::<u32>().map_err(|_| DbError::decode("bad employer number"))? + 1,
        None => 1,
    })
}

/// A declared base.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DeclaredBase {
    pub psn_no: String,
    pub year: i32,
    /// Empty for a flexible worker's own declaration.
    pub emp_no: String,
    pub base: Money,
}

pub fn upsert_bases(tx: &mut dyn Tx, bases: &[DeclaredBase], declared_by: &str, now_ms: i64) -> DbResult<u64> {
    let rows: Vec<Vec<Value>> = bases
        .iter()
        .map(|b| {
            vec![
                b.psn_no.as_str().into(),
                b.year.into(),
                b.emp_no.as_str().into(),
                b.base.into(),
                declared_by.into(),
                now_ms.into(),
            ]
        })
        .collect();
    insert_many(
        tx,
        "INSERT INTO contribution_base (psn_no, year, emp_no, base_fen, declared_by, declared_at_ms)",
        6,
        rows,
        "ON CONFLICT (psn_no, year) DO UPDATE SET emp_no = excluded.emp_no, base_fen = excluded.base_fen, \
         declared_by = excluded.declared_by, declared_at_ms = excluded.declared_at_ms",
    )
}

pub fn base_of(tx: &mut dyn Tx, psn_no: &str, year: i32) -> DbResult<Option<DeclaredBase>> {
    tx.query_opt(
        "SELECT psn_no, year, emp_no, base_fen FROM contribution_base WHERE psn_no = $1 AND year = $2",
        params![psn_no, year],
    )?
    .map(|r| Ok(DeclaredBase { psn_no: r.text(0)?, year: r.get(1)?, emp_no: r.text(2)?, base: r.money(3)? }))
    .transpose()
}
