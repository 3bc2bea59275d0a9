//! Designated institutions and their agreements.

use yibao_domain::codes::HospLv;
use yibao_domain::division::DivisionCode;
use yibao_domain::institution::{Agreement, Institution, InstitutionCode, InstitutionKind, InstitutionStatus};
use yibao_domain::{Date, Parsed};

use crate::catalog::escape_like;
use crate::params;
use crate::sql::{DbError, DbResult, Row, Tx};

fn decode<T>(r: Parsed<T>) -> DbResult<T> {
    r.map_err(|e| DbError::decode(format!("{}: {}", e.field, e.reason)))
}

const COLUMNS: &str = "code, name, kind, hosp_lv, admdvs, address, status";

fn from_row(r: &Row) -> DbResult<Institution> {
    Ok(Institution {
        code: decode(InstitutionCode::parse(&r.text(0)?))?,
        name: r.text(1)?,
        kind: decode(InstitutionKind::parse(&r.text(2)?))?,
        hosp_lv: r.opt_text(3)?.map(|c| decode(HospLv::parse(&c))).transpose()?,
        admdvs: decode(DivisionCode::parse(&r.text(4)?))?,
        address: r.text(5)?,
        status: decode(InstitutionStatus::parse(&r.text(6)?))?,
        agreements: Vec::new(),
    })
}

fn kind_str(kind: InstitutionKind) -> &'static str {
    match kind {
        InstitutionKind::Hospital => "hospital",
        InstitutionKind::Pharmacy => "pharmacy",
    }
}

pub fn insert(tx: &mut dyn Tx, i: &Institution, now_ms: i64) -> DbResult<()> {
    tx.execute(
        &format!("INSERT INTO institution ({COLUMNS}, created_at_ms, updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)"),
        params![
            i.code.as_str(),
            i.name.as_str(),
            kind_str(i.kind),
            i.hosp_lv.map(|l| l.code()),
            i.admdvs.as_str(),
            i.address.as_str(),
            i.status.as_str(),
            now_ms
        ],
    )?;
    for a in &i.agreements {
        insert_agreement(tx, &i.code, a, now_ms)?;
    }
    Ok(())
}

pub fn update(tx: &mut dyn Tx, i: &Institution, now_ms: i64) -> DbResult<u64> {
    tx.execute(
        "UPDATE institution SET name = $1, hosp_lv = $2, address = $3, status = $4, updated_at_ms = $5 WHERE code = $6",
        params![
            i.name.as_str(),
            i.hosp_lv.map(|l| l.code()),
            i.address.as_str(),
            i.status.as_str(),
            now_ms,
            i.code.as_str()
        ],
    )
}

pub fn insert_agreement(tx: &mut dyn Tx, code: &InstitutionCode, a: &Agreement, now_ms: i64) -> DbResult<()> {
    tx.execute(
        "INSERT INTO institution_agreement (agreement_no, institution_code, begin_date, end_date, status, created_at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        params![a.agreement_no.as_str(), code.as_str(), a.begin_date, a.end_date, a.status.as_str(), now_ms],
    )?;
    Ok(())
}

pub fn set_agreement_status(tx: &mut dyn Tx, agreement_no: &str, status: InstitutionStatus) -> DbResult<u64> {
    tx.execute(
        "UPDATE institution_agreement SET status = $1 WHERE agreement_no = $2",
        params![status.as_str(), agreement_no],
    )
}

fn agreements_of(tx: &mut dyn Tx, code: &str) -> DbResult<Vec<Agreement>> {
    tx.query(
        "SELECT agreement_no, begin_date, end_date, status FROM institution_agreement WHERE institution_code = $1 \
         ORDER BY begin_date, agreement_no",
        params![code],
    )?
    .iter()
    .map(|r| {
        Ok(Agreement {
            agreement_no: r.text(0)?,
            begin_date: r.date(1)?,
            end_date: r.date(2)?,
            status: decode(InstitutionStatus::parse(&r.text(3)?))?,
        })
    })
    .collect()
}

pub fn get(tx: &mut dyn Tx, code: &str) -> DbResult<Option<Institution>> {
    let Some(row) = tx.query_opt(&format!("SELECT {COLUMNS} FROM institution WHERE code = $1"), params![code])? else {
        return Ok(None);
    };
    let mut inst = from_row(&row)?;
    inst.agreements = agreements_of(tx, code)?;
    Ok(Some(inst))
}

#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Division-code prefix (scope and/or query).
    pub region_prefix: String,
    pub kind: Option<InstitutionKind>,
    pub status: Option<InstitutionStatus>,
    pub name: String,
    pub limit: i64,
    pub offset: i64,
}

pub fn list(tx: &mut dyn Tx, f: &Filter) -> DbResult<(Vec<Institution>, i64)> {
    let where_ = "FROM institution WHERE admdvs LIKE $1 ESCAPE '\\' AND ($2 = '' OR kind = $2) \
                  AND ($3 = '' OR status = $3) AND name LIKE $4 ESCAPE '\\'";
    let kind = f.kind.map(kind_str).unwrap_or("");
    let status = f.status.map(|s| s.as_str()).unwrap_or("");
    let region = format!("{}%", escape_like(&f.region_prefix));
    let name = format!("%{}%", escape_like(&f.name));
    let total = tx
        .query_one(&format!("SELECT COUNT(*) {where_}"), params![region.clone(), kind, status, name.clone()])?
        .i64(0)?;
    let rows = tx.query(
        &format!("SELECT {COLUMNS} {where_} ORDER BY code LIMIT $5 OFFSET $6"),
        params![region, kind, status, name, f.limit, f.offset],
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let mut inst = from_row(r)?;
        inst.agreements = agreements_of(tx, inst.code.as_str())?;
        out.push(inst);
    }
    Ok((out, total))
}

/// The next free 5-digit sequence for institutions of `kind` in `division`.
pub fn next_sequence(tx: &mut dyn Tx, kind: InstitutionKind, division: DivisionCode) -> DbResult<u32> {
    let prefix = format!("{}{}", if kind == InstitutionKind::Hospital { 'H' } else { 'P' }, division.as_str());
    let max = tx
        .query_one("SELECT MAX(code) FROM institution WHERE code LIKE $1", params![format!("{prefix}%")])?
        .opt_text(0)?;
    Ok(match max {
        Some(code) => code[7..].parse::<u32>().map_err(|_| DbError::decode("bad institution code"))? + 1,
        None => 1,
    })
}

pub fn agreement_exists(tx: &mut dyn Tx, agreement_no: &str) -> DbResult<bool> {
    Ok(tx.query_opt("SELECT 1 FROM institution_agreement WHERE agreement_no = $1", params![agreement_no])?.is_some())
}

/// Last day an agreement covers, for listing.
pub fn agreement_institution(tx: &mut dyn Tx, agreement_no: &str) -> DbResult<Option<(String, Date)>> {
    tx.query_opt(
        "SELECT institution_code, end_date FROM institution_agreement WHERE agreement_no = $1",
        params![agreement_no],
    )?
    .map(|r| Ok((r.text(0)?, r.date(1)?)))
    .transpose()
}
