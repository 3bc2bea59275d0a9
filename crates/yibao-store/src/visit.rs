//! Visits and their fee lines.

use std::sync::Arc;

use yibao_domain::codes::{ChrgitmLv, Insutype, ListType, MdtrtCertType, MedType};
use yibao_domain::division::DivisionCode;
use yibao_domain::institution::InstitutionCode;
use yibao_domain::visit::{VisitFacts, VisitKind};
use yibao_domain::{DateTime, Money, Parsed, Quantity, Ratio, UnitPrice};

use crate::line_cache::{LineCache, VisitLines, next_lines_version};
use crate::params;
use crate::sql::{Backend, DbError, DbErrorKind, DbResult, Read, Row, RowsExpected, Tx, Value, insert_many_deferred};

fn decode<T>(r: Parsed<T>) -> DbResult<T> {
    r.map_err(|e| DbError::decode(format!("{}: {}", e.field, e.reason)))
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VisitRow {
    pub mdtrt_id: String,
    pub kind: VisitKind,
    pub fixmedins_code: InstitutionCode,
    pub psn_no: String,
    pub insutype: Insutype,
    pub med_type: MedType,
    pub insu_admdvs: DivisionCode,
    pub mdtrtarea_admvs: DivisionCode,
    pub mdtrt_cert_type: MdtrtCertType,
    pub ipt_otp_no: String,
    pub begntime: DateTime,
    pub endtime: Option<DateTime>,
    pub facts: VisitFacts,
    pub settled_setl_id: Option<String>,
    /// Registration / admission data as sent (JSON), for the record.
    pub info: String,
    /// Diagnoses (JSON array).
    pub diagnoses: String,
    pub discharge_info: Option<String>,
    /// The coverage the visit was opened with, as the application wrote it
    /// (JSON; see migration 0008). Written once, by `insert`.
    pub coverage: Option<String>,
    /// The version of the visit's fee lines: every write of them sets a new
    /// one ([`crate::line_cache::next_lines_version`]; migration 0009). 0: no
    /// lines written since versions exist.
    pub lines_version: i64,
}

const COLUMNS: &str = "mdtrt_id, kind, fixmedins_code, psn_no, insutype, med_type, insu_admdvs, mdtrtarea_admvs, \
    mdtrt_cert_type, ipt_otp_no, begntime, endtime, cancelled, discharged, active_lines, settled_setl_id, info, \
    diagnoses, discharge_info, coverage, lines_version";

fn from_row(r: &Row) -> DbResult<VisitRow> {
    Ok(VisitRow {
        mdtrt_id: r.text(0)?,
        kind: decode(VisitKind::parse(&r.text(1)?))?,
        fixmedins_code: decode(InstitutionCode::parse(&r.text(2)?))?,
        psn_no: r.text(3)?,
        insutype: decode(Insutype::parse(&r.text(4)?))?,
        med_type: decode(MedType::parse(&r.text(5)?))?,
        insu_admdvs: decode(DivisionCode::parse(&r.text(6)?))?,
        mdtrtarea_admvs: decode(DivisionCode::parse(&r.text(7)?))?,
        mdtrt_cert_type: decode(MdtrtCertType::parse(&r.text(8)?))?,
        ipt_otp_no: r.text(9)?,
        begntime: r.get(10)?,
        endtime: r.get(11)?,
        facts: VisitFacts {
            cancelled: r.bool(12)?,
            discharged: r.bool(13)?,
            active_lines: r.get(14)?,
            settled: r.opt_text(15)?.is_some(),
        },
        settled_setl_id: r.opt_text(15)?,
        info: r.text(16)?,
        diagnoses: r.text(17)?,
        discharge_info: r.get(18)?,
        coverage: r.get(19)?,
        lines_version: r.i64(20)?,
    })
}

/// Deferred ([`Tx::execute_deferred`]).
pub fn insert(tx: &mut dyn Tx, v: &VisitRow, now_ms: i64) -> DbResult<()> {
    tx.execute_deferred(
        &format!(
            "INSERT INTO visit ({COLUMNS}, created_at_ms, updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
             $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $22)"
        ),
        &[
            v.mdtrt_id.as_str().into(),
            v.kind.as_str().into(),
            v.fixmedins_code.as_str().into(),
            v.psn_no.as_str().into(),
            v.insutype.code().into(),
            v.med_type.code().into(),
            v.insu_admdvs.as_str().into(),
            v.mdtrtarea_admvs.as_str().into(),
            v.mdtrt_cert_type.code().into(),
            v.ipt_otp_no.as_str().into(),
            v.begntime.into(),
            v.endtime.into(),
            v.facts.cancelled.into(),
            v.facts.discharged.into(),
            i64::from(v.facts.active_lines).into(),
            v.settled_setl_id.clone().into(),
            v.info.as_str().into(),
            v.diagnoses.as_str().into(),
            v.discharge_info.clone().into(),
            v.coverage.clone().into(),
            v.lines_version.into(),
            now_ms.into(),
        ],
        None,
    )
}

/// A visit, locked for the rest of the write transaction when `lock`.
pub fn get(tx: &mut dyn Tx, mdtrt_id: &str, lock: bool) -> DbResult<Option<VisitRow>> {
    get_read(tx.backend(), mdtrt_id, lock).query_opt(tx)?.map(|r| from_row(&r)).transpose()
}

/// The read of [`get`], to prefetch ([`Tx::prefetch`]).
pub fn get_read(backend: Backend, mdtrt_id: &str, lock: bool) -> Read {
    let suffix = if lock { backend.for_update() } else { "" };
    Read::new(format!("SELECT {COLUMNS} FROM visit WHERE mdtrt_id = $1{suffix}"), params![mdtrt_id])
}

/// Writes back what a message changed: the facts, the end time, the
/// information documents. Deferred ([`Tx::execute_deferred`]): the job has
/// read the visit (locked on PostgreSQL) before.
pub fn update(tx: &mut dyn Tx, v: &VisitRow, now_ms: i64) -> DbResult<()> {
    let expected = RowsExpected { rows: 1, kind: DbErrorKind::Decode, what: "a visit vanished" };
    tx.execute_deferred(
        "UPDATE visit SET med_type = $1, endtime = $2, cancelled = $3, discharged = $4, active_lines = $5, \
         settled_setl_id = $6, info = $7, diagnoses = $8, discharge_info = $9, lines_version = $10, \
         updated_at_ms = $11 WHERE mdtrt_id = $12",
        &[
            v.med_type.code().into(),
            v.endtime.into(),
            v.facts.cancelled.into(),
            v.facts.discharged.into(),
            i64::from(v.facts.active_lines).into(),
            v.settled_setl_id.clone().into(),
            v.info.as_str().into(),
            v.diagnoses.as_str().into(),
            v.discharge_info.clone().into(),
            v.lines_version.into(),
            now_ms.into(),
            v.mdtrt_id.as_str().into(),
        ],
        Some(expected),
    )
}

/// Visits of a person at an institution that are still open (for duplicate checks).
pub fn open_visits(tx: &mut dyn Tx, fixmedins_code: &str, psn_no: &str, kind: VisitKind) -> DbResult<Vec<VisitRow>> {
    tx.query(
        &format!(
            "SELECT {COLUMNS} FROM visit WHERE fixmedins_code = $1 AND psn_no = $2 AND kind = $3 AND cancelled = 0 \
             AND settled_setl_id IS NULL ORDER BY begntime"
        ),
        params![fixmedins_code, psn_no, kind.as_str()],
    )?
    .iter()
    .map(from_row)
    .collect()
}

/// One uploaded fee line with its classification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeeLineRow {
    pub mdtrt_id: String,
    pub feedetl_sn: String,
    pub chrg_bchno: String,
    pub psn_no: String,
    pub med_list_codg: String,
    pub medins_list_codg: String,
    pub list_type: ListType,
    pub item_name: String,
    pub fee_ocur_time: DateTime,
    pub cnt: Quantity,
    pub pric: UnitPrice,
    pub amount: Money,
    pub chrgitm_lv: Option<ChrgitmLv>,
    pub selfpay_prop: Ratio,
    pub price_cap: Option<Money>,
    pub fulamt_ownpay_amt: Money,
    pub overlmt_amt: Money,
    pub preselfpay_amt: Money,
    pub inscp_scp_amt: Money,
    pub active: bool,
    /// The other fields of the line as sent (JSON), for audit and risk rules.
    pub extra: String,
}

const LINE_COLUMNS: &str = "mdtrt_id, feedetl_sn, chrg_bchno, psn_no, med_list_codg, medins_list_codg, list_type, \
    item_name, fee_ocur_time, cnt_e4, pric_e6, amount_fen, chrgitm_lv, selfpay_prop_ppm, price_cap_fen, \
    fulamt_ownpay_amt_fen, overlmt_amt_fen, preselfpay_amt_fen, inscp_scp_amt_fen, status, extra";
/// How many columns [`LINE_COLUMNS`] names: a read may add its own after them.
const LINE_COLUMN_COUNT: usize = 21;
const _: () = assert!(column_count(LINE_COLUMNS) == LINE_COLUMN_COUNT);

/// The columns a plain column list names (one more than its commas).
const fn column_count(columns: &str) -> usize {
    let bytes = columns.as_bytes();
    let (mut i, mut count) = (0, 1);
    while i < bytes.len() {
        if bytes[i] == b',' {
            count += 1;
        }
        i += 1;
    }
    count
}

/// The head of the lines' multi-row insert, written once.
static LINE_INSERT_HEAD: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("INSERT INTO fee_detail ({LINE_COLUMNS}, created_at_ms)"));

/// A fee line from its row, which it takes: its strings are moved, not copied.
fn line_from_row(mut r: Row) -> DbResult<FeeLineRow> {
    Ok(FeeLineRow {
        list_type: decode(ListType::parse(r.str(6)?))?,
        fee_ocur_time: r.get(8)?,
        cnt: Quantity::from_ten_thousandths(r.i64(9)?),
        pric: UnitPrice::from_micro_yuan(r.i64(10)?),
        amount: r.money(11)?,
        chrgitm_lv: r.opt_str(12)?.map(|c| decode(ChrgitmLv::parse(c))).transpose()?,
        selfpay_prop: r.get(13)?,
        price_cap: r.get(14)?,
        fulamt_ownpay_amt: r.money(15)?,
        overlmt_amt: r.money(16)?,
        preselfpay_amt: r.money(17)?,
        inscp_scp_amt: r.money(18)?,
        active: r.str(19)? == "active",
        mdtrt_id: r.take_text(0)?,
        feedetl_sn: r.take_text(1)?,
        chrg_bchno: r.take_text(2)?,
        psn_no: r.take_text(3)?,
        med_list_codg: r.take_text(4)?,
        medins_list_codg: r.take_text(5)?,
        item_name: r.take_text(7)?,
        extra: r.take_text(20)?,
    })
}

/// A line's column values, stored on visit `mdtrt_id` of person `psn_no`.
/// The values are the one copy of the line's strings made for the write.
fn line_values(l: &FeeLineRow, mdtrt_id: &str, psn_no: &str, now_ms: i64) -> Vec<Value> {
    vec![
        mdtrt_id.into(),
        l.feedetl_sn.as_str().into(),
        l.chrg_bchno.as_str().into(),
        psn_no.into(),
        l.med_list_codg.as_str().into(),
        l.medins_list_codg.as_str().into(),
        l.list_type.code().into(),
        l.item_name.as_str().into(),
        l.fee_ocur_time.into(),
        l.cnt.ten_thousandths().into(),
        l.pric.micro_yuan().into(),
        l.amount.into(),
        l.chrgitm_lv.map(|c| c.code()).into(),
        l.selfpay_prop.into(),
        l.price_cap.into(),
        l.fulamt_ownpay_amt.into(),
        l.overlmt_amt.into(),
        l.preselfpay_amt.into(),
        l.inscp_scp_amt.into(),
        (if l.active { "active" } else { "cancelled" }).into(),
        l.extra.as_str().into(),
        now_ms.into(),
    ]
}

/// Inserts new lines on `visit`: they are stored under the visit's
/// identifiers whatever their rows hold (a prepared line carries what the
/// client sent), so the caller need not copy each row to change two fields.
/// A line whose serial exists only as a cancelled line replaces it. Gives the
/// visit a new `lines_version`, which the caller writes with
/// [`update`]. Deferred ([`Tx::execute_deferred`]). A serial already active
/// fails the job as retryable: the caller checks first and refuses, so only
/// a concurrent upload of the same serial gets here, and the rerun refuses.
pub fn upsert_lines<'a>(
    tx: &mut dyn Tx,
    visit: &mut VisitRow,
    lines: impl IntoIterator<Item = &'a FeeLineRow>,
    now_ms: i64,
) -> DbResult<()> {
    visit.lines_version = next_lines_version(visit);
    let (mdtrt_id, psn_no) = (visit.mdtrt_id.as_str(), visit.psn_no.as_str());
    let rows: Vec<Vec<Value>> = lines.into_iter().map(|l| line_values(l, mdtrt_id, psn_no, now_ms)).collect();
    insert_many_deferred(
        tx,
        &LINE_INSERT_HEAD,
        LINE_COLUMN_COUNT + 1,
        rows,
        "ON CONFLICT (mdtrt_id, feedetl_sn) DO UPDATE SET chrg_bchno = excluded.chrg_bchno, \
         med_list_codg = excluded.med_list_codg, medins_list_codg = excluded.medins_list_codg, \
         list_type = excluded.list_type, item_name = excluded.item_name, fee_ocur_time = excluded.fee_ocur_time, \
         cnt_e4 = excluded.cnt_e4, pric_e6 = excluded.pric_e6, amount_fen = excluded.amount_fen, \
         chrgitm_lv = excluded.chrgitm_lv, selfpay_prop_ppm = excluded.selfpay_prop_ppm, \
         price_cap_fen = excluded.price_cap_fen, fulamt_ownpay_amt_fen = excluded.fulamt_ownpay_amt_fen, \
         overlmt_amt_fen = excluded.overlmt_amt_fen, preselfpay_amt_fen = excluded.preselfpay_amt_fen, \
         inscp_scp_amt_fen = excluded.inscp_scp_amt_fen, status = excluded.status, extra = excluded.extra, \
         created_at_ms = excluded.created_at_ms WHERE fee_detail.status = 'cancelled'",
        Some((DbErrorKind::Retryable, "a fee line's serial was uploaded concurrently")),
    )
}

/// Serials of this visit among `serials` that are active now.
pub fn active_serials(tx: &mut dyn Tx, mdtrt_id: &str) -> DbResult<Vec<String>> {
    tx.query("SELECT feedetl_sn FROM fee_detail WHERE mdtrt_id = $1 AND status = 'active'", params![mdtrt_id])?
        .iter()
        .map(|r| r.text(0))
        .collect()
}

/// Active lines of a visit, optionally of one charge batch, in upload order:
/// by upload time, then by serial compared byte by byte (the same order on
/// both databases, whatever their collation).
///
/// Sorted here rather than by `ORDER BY`: a visit's lines are few
/// (`LINES_PER_VISIT_MAX`), and SQLite sorted them through a temporary
/// B-tree that cost as much as reading them (docs/performance.md,
/// thirteenth round). The key is unique: the serial is unique in a visit.
pub fn active_lines(tx: &mut dyn Tx, mdtrt_id: &str, chrg_bchno: Option<&str>) -> DbResult<Vec<FeeLineRow>> {
    Ok(read_active_lines(tx, mdtrt_id, chrg_bchno, 0)?.into_lines())
}

fn read_active_lines(tx: &mut dyn Tx, mdtrt_id: &str, chrg_bchno: Option<&str>, version: i64) -> DbResult<VisitLines> {
    let rows = active_lines_read(mdtrt_id, chrg_bchno).query(tx)?;
    let mut keyed = Vec::with_capacity(rows.len());
    for r in rows {
        keyed.push((r.i64(LINE_COLUMN_COUNT)?, line_from_row(r)?));
    }
    Ok(VisitLines::from_keyed(mdtrt_id, version, keyed))
}

/// All active lines of `visit` as the transaction sees it, from `cache` when
/// it holds them at the visit's `lines_version`, else from the database
/// ([`active_lines`]). In debug builds a hit is checked against the
/// database: every test that settles checks the cache.
pub fn active_lines_of(tx: &mut dyn Tx, cache: &LineCache, visit: &VisitRow) -> DbResult<Arc<VisitLines>> {
    match cache.get(&visit.mdtrt_id, visit.lines_version) {
        Some(kept) if !cfg!(debug_assertions) => Ok(kept),
        kept => {
            let read = read_active_lines(tx, &visit.mdtrt_id, None, visit.lines_version)?;
            let Some(kept) = kept else { return Ok(Arc::new(read)) };
            assert_eq!(*kept, read, "the line cache disagrees with the database");
            Ok(kept)
        }
    }
}

/// The read of [`active_lines`], to prefetch ([`Tx::prefetch`]). Unordered:
/// [`active_lines`] sorts.
pub fn active_lines_read(mdtrt_id: &str, chrg_bchno: Option<&str>) -> Read {
    Read::new(
        format!(
            "SELECT {LINE_COLUMNS}, created_at_ms FROM fee_detail WHERE mdtrt_id = $1 AND status = 'active' \
             AND ($2 = '' OR chrg_bchno = $2)"
        ),
        params![mdtrt_id, chrg_bchno.unwrap_or("")],
    )
}

/// Lines of a visit by serial (any status).
pub fn lines_by_serial(tx: &mut dyn Tx, mdtrt_id: &str, serials: &[String]) -> DbResult<Vec<FeeLineRow>> {
    let mut out = Vec::with_capacity(serials.len());
    for sn in serials {
        if let Some(r) = tx.query_opt(
            &format!("SELECT {LINE_COLUMNS} FROM fee_detail WHERE mdtrt_id = $1 AND feedetl_sn = $2"),
            params![mdtrt_id, sn.as_str()],
        )? {
            out.push(line_from_row(r)?);
        }
    }
    Ok(out)
}

/// Cancels active lines: all of a visit (`serials` empty and no batch), of a
/// charge batch, or by serial. Returns how many were cancelled. Gives the
/// visit a new `lines_version`, which the caller writes with [`update`].
pub fn cancel_lines(
    tx: &mut dyn Tx,
    visit: &mut VisitRow,
    chrg_bchno: Option<&str>,
    serials: &[String],
) -> DbResult<u64> {
    visit.lines_version = next_lines_version(visit);
    let mdtrt_id = visit.mdtrt_id.as_str();
    if serials.is_empty() {
        return tx.execute(
            "UPDATE fee_detail SET status = 'cancelled' WHERE mdtrt_id = $1 AND status = 'active' \
             AND ($2 = '' OR chrg_bchno = $2)",
            params![mdtrt_id, chrg_bchno.unwrap_or("")],
        );
    }
    let mut n = 0;
    for sn in serials {
        n += tx.execute(
            "UPDATE fee_detail SET status = 'cancelled' WHERE mdtrt_id = $1 AND feedetl_sn = $2 AND status = 'active'",
            params![mdtrt_id, sn.as_str()],
        )?;
    }
    Ok(n)
}

/// Puts back lines cancelled by a message that is itself being reversed
/// (2601 of a 2205/2302). Gives the visit a new `lines_version`, which the
/// caller writes with [`update`].
pub fn reactivate_lines(tx: &mut dyn Tx, visit: &mut VisitRow, serials: &[String]) -> DbResult<u64> {
    visit.lines_version = next_lines_version(visit);
    let mdtrt_id = visit.mdtrt_id.as_str();
    let mut n = 0;
    for sn in serials {
        n += tx.execute(
            "UPDATE fee_detail SET status = 'active' WHERE mdtrt_id = $1 AND feedetl_sn = $2 AND status = 'cancelled'",
            params![mdtrt_id, sn.as_str()],
        )?;
    }
    Ok(n)
}

pub fn count_active(tx: &mut dyn Tx, mdtrt_id: &str) -> DbResult<u32> {
    tx.query_one("SELECT COUNT(*) FROM fee_detail WHERE mdtrt_id = $1 AND status = 'active'", params![mdtrt_id])?
        .get::<u32>(0)
}
