//! Settlement records: one row per settlement and one per reversal.
//!
//! A reversal is a row of its own with every amount negated and
//! `reversal_of` naming the settlement it reverses; the original only gains
//! the `reversed_by` link. Summing rows over any period therefore gives the
//! net effect, and nothing is ever deleted.

use yibao_domain::codes::{ClrType, ClrWay, Insutype, MedType, PsnType};
use yibao_domain::division::DivisionCode;
use yibao_domain::institution::InstitutionCode;
use yibao_domain::{Date, DateTime, Money, Parsed, Ratio};

use crate::params;
use crate::sql::{DbError, DbResult, Row, Tx, Value};

fn decode<T>(r: Parsed<T>) -> DbResult<T> {
    r.map_err(|e| DbError::decode(format!("{}: {}", e.field, e.reason)))
}

/// The money of a settlement, with the national field names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Amounts {
    pub medfee_sumamt: Money,
    pub fulamt_ownpay_amt: Money,
    pub overlmt_selfpay: Money,
    pub preselfpay_amt: Money,
    pub inscp_scp_amt: Money,
    pub act_pay_dedc: Money,
    pub hifp_pay: Money,
    pub cvlserv_pay: Money,
    pub hifes_pay: Money,
    pub hifmi_pay: Money,
    pub hifob_pay: Money,
    pub maf_pay: Money,
    pub oth_pay: Money,
    pub fund_pay_sumamt: Money,
    pub psn_part_amt: Money,
    pub acct_pay: Money,
    /// The part of `acct_pay` paid from a family member's account (家庭共济).
    pub acct_mulaid_pay: Money,
    pub psn_cash_pay: Money,
    pub hosp_part_amt: Money,
    /// The paying account's balance after this settlement.
    pub balc: Money,
}

impl Amounts {
    /// Every amount negated (a reversal), except the balance, which is the
    /// account's balance after the reversal and is set by the caller.
    pub fn negated(&self, balc_after: Money) -> Amounts {
        Amounts {
            medfee_sumamt: -self.medfee_sumamt,
            fulamt_ownpay_amt: -self.fulamt_ownpay_amt,
            overlmt_selfpay: -self.overlmt_selfpay,
            preselfpay_amt: -self.preselfpay_amt,
            inscp_scp_amt: -self.inscp_scp_amt,
            act_pay_dedc: -self.act_pay_dedc,
            hifp_pay: -self.hifp_pay,
            cvlserv_pay: -self.cvlserv_pay,
            hifes_pay: -self.hifes_pay,
            hifmi_pay: -self.hifmi_pay,
            hifob_pay: -self.hifob_pay,
            maf_pay: -self.maf_pay,
            oth_pay: -self.oth_pay,
            fund_pay_sumamt: -self.fund_pay_sumamt,
            psn_part_amt: -self.psn_part_amt,
            acct_pay: -self.acct_pay,
            acct_mulaid_pay: -self.acct_mulaid_pay,
            psn_cash_pay: -self.psn_cash_pay,
            hosp_part_amt: -self.hosp_part_amt,
            balc: balc_after,
        }
    }

    /// The identities every settlement keeps (asserted before storing).
    pub fn check(&self) -> Result<(), String> {
        let parts = self.fulamt_ownpay_amt + self.overlmt_selfpay + self.preselfpay_amt + self.inscp_scp_amt;
        if parts != self.medfee_sumamt {
            return Err(format!("classification {parts:?} ≠ total {:?}", self.medfee_sumamt));
        }
        let funds = self.hifp_pay
            + self.cvlserv_pay
            + self.hifes_pay
            + self.hifmi_pay
            + self.hifob_pay
            + self.maf_pay
            + self.oth_pay;
        if funds != self.fund_pay_sumamt {
            return Err(format!("funds {funds:?} ≠ fund_pay_sumamt {:?}", self.fund_pay_sumamt));
        }
        if self.fund_pay_sumamt + self.psn_part_amt + self.hosp_part_amt != self.medfee_sumamt {
            return Err("fund + person + hospital ≠ total".into());
        }
        if self.acct_pay + self.psn_cash_pay != self.psn_part_amt {
            return Err("account + cash ≠ person".into());
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettlementRecord {
    pub setl_id: String,
    pub mdtrt_id: String,
    pub psn_no: String,
    pub insutype: Insutype,
    pub psn_type: PsnType,
    pub med_type: MedType,
    pub clr_type: ClrType,
    pub clr_way: ClrWay,
    /// Where the person is insured (参保地).
    pub insu_admdvs: DivisionCode,
    /// Where the care happened (就医地).
    pub mdtrtarea_admvs: DivisionCode,
    pub fixmedins_code: InstitutionCode,
    pub medins_setl_id: String,
    pub setl_time: DateTime,
    pub setl_date: Date,
    pub scheme_year: i32,
    pub amounts: Amounts,
    pub pool_prop_selfpay: Ratio,
    pub policy_id: i64,
    /// setldetail[] as JSON.
    pub setldetail: String,
    /// The accumulator delta as JSON (negated for a reversal).
    pub accumulator_delta: String,
    pub reversal_of: Option<String>,
    pub reversed_by: Option<String>,
    pub msgid: String,
}

const COLUMNS: &str = "setl_id, mdtrt_id, psn_no, insutype, psn_type, med_type, clr_type, clr_way, insu_admdvs, \
    mdtrtarea_admvs, fixmedins_code, medins_setl_id, setl_time, setl_date, scheme_year, medfee_sumamt_fen, \
    fulamt_ownpay_amt_fen, overlmt_selfpay_fen, preselfpay_amt_fen, inscp_scp_amt_fen, act_pay_dedc_fen, hifp_pay_fen, \
    pool_prop_selfpay_ppm, cvlserv_pay_fen, hifes_pay_fen, hifmi_pay_fen, hifob_pay_fen, maf_pay_fen, oth_pay_fen, \
    fund_pay_sumamt_fen, psn_part_amt_fen, acct_pay_fen, acct_mulaid_pay_fen, psn_cash_pay_fen, hosp_part_amt_fen, \
    balc_fen, policy_id, setldetail, accumulator_delta, reversal_of, reversed_by, msgid";

fn from_row(r: &Row) -> DbResult<SettlementRecord> {
    let m = |i: usize| r.money(i);
    Ok(SettlementRecord {
        setl_id: r.text(0)?,
        mdtrt_id: r.text(1)?,
        psn_no: r.text(2)?,
        insutype: decode(Insutype::parse(&r.text(3)?))?,
        psn_type: decode(PsnType::parse(&r.text(4)?))?,
        med_type: decode(MedType::parse(&r.text(5)?))?,
        clr_type: decode(ClrType::parse(&r.text(6)?))?,
        clr_way: decode(ClrWay::parse(&r.text(7)?))?,
        insu_admdvs: decode(DivisionCode::parse(&r.text(8)?))?,
        mdtrtarea_admvs: decode(DivisionCode::parse(&r.text(9)?))?,
        fixmedins_code: decode(InstitutionCode::parse(&r.text(10)?))?,
        medins_setl_id: r.text(11)?,
        setl_time: r.get(12)?,
        setl_date: r.date(13)?,
        scheme_year: r.get(14)?,
        amounts: Amounts {
            medfee_sumamt: m(15)?,
            fulamt_ownpay_amt: m(16)?,
            overlmt_selfpay: m(17)?,
            preselfpay_amt: m(18)?,
            inscp_scp_amt: m(19)?,
            act_pay_dedc: m(20)?,
            hifp_pay: m(21)?,
            cvlserv_pay: m(23)?,
            hifes_pay: m(24)?,
            hifmi_pay: m(25)?,
            hifob_pay: m(26)?,
            maf_pay: m(27)?,
            oth_pay: m(28)?,
            fund_pay_sumamt: m(29)?,
            psn_part_amt: m(30)?,
            acct_pay: m(31)?,
            acct_mulaid_pay: m(32)?,
            psn_cash_pay: m(33)?,
            hosp_part_amt: m(34)?,
            balc: m(35)?,
        },
        pool_prop_selfpay: r.get(22)?,
        policy_id: r.i64(36)?,
        setldetail: r.text(37)?,
        accumulator_delta: r.text(38)?,
        reversal_of: r.get(39)?,
        reversed_by: r.get(40)?,
        msgid: r.text(41)?,
    })
}

fn values_of(s: &SettlementRecord, now_ms: i64) -> Vec<Value> {
    let a = &s.amounts;
    vec![
        s.setl_id.as_str().into(),
        s.mdtrt_id.as_str().into(),
        s.psn_no.as_str().into(),
        s.insutype.code().into(),
        s.psn_type.code().into(),
        s.med_type.code().into(),
        s.clr_type.code().into(),
        s.clr_way.code().into(),
        s.insu_admdvs.as_str().into(),
        s.mdtrtarea_admvs.as_str().into(),
        s.fixmedins_code.as_str().into(),
        s.medins_setl_id.as_str().into(),
        s.setl_time.into(),
        s.setl_date.into(),
        s.scheme_year.into(),
        a.medfee_sumamt.into(),
        a.fulamt_ownpay_amt.into(),
        a.overlmt_selfpay.into(),
        a.preselfpay_amt.into(),
        a.inscp_scp_amt.into(),
        a.act_pay_dedc.into(),
        a.hifp_pay.into(),
        s.pool_prop_selfpay.into(),
        a.cvlserv_pay.into(),
        a.hifes_pay.into(),
        a.hifmi_pay.into(),
        a.hifob_pay.into(),
        a.maf_pay.into(),
        a.oth_pay.into(),
        a.fund_pay_sumamt.into(),
        a.psn_part_amt.into(),
        a.acct_pay.into(),
        a.acct_mulaid_pay.into(),
        a.psn_cash_pay.into(),
        a.hosp_part_amt.into(),
        a.balc.into(),
        s.policy_id.into(),
        s.setldetail.as_str().into(),
        s.accumulator_delta.as_str().into(),
        s.reversal_of.clone().into(),
        s.reversed_by.clone().into(),
        s.msgid.as_str().into(),
        now_ms.into(),
    ]
}

/// Columns of a settlement row, with `created_at_ms`.
const VALUES_PER_ROW: usize = 43;

/// The text of [`insert`], written once: its 43 placeholders cost more to
/// format than the rest of the insert outside SQLite (docs/performance.md,
/// fifteenth round).
static INSERT_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "INSERT INTO settlement ({COLUMNS}, created_at_ms) VALUES ({})",
        crate::sql::placeholders(1, VALUES_PER_ROW)
    )
});

/// Deferred ([`Tx::execute_deferred`]).
pub fn insert(tx: &mut dyn Tx, s: &SettlementRecord, now_ms: i64) -> DbResult<()> {
    let values = values_of(s, now_ms);
    assert_eq!(values.len(), VALUES_PER_ROW, "a settlement row's values");
    tx.execute_deferred(&INSERT_SQL, &values, None)
}

/// Inserts many settlement records in multi-row statements (bulk loads of
/// history by `yibao sim history`; live settlement uses [`insert`]).
pub fn insert_many(tx: &mut dyn Tx, records: &[SettlementRecord], now_ms: i64) -> DbResult<u64> {
    let rows: Vec<Vec<Value>> = records.iter().map(|s| values_of(s, now_ms)).collect();
    crate::sql::insert_many(tx, &format!("INSERT INTO settlement ({COLUMNS}, created_at_ms)"), VALUES_PER_ROW, rows, "")
}

pub fn get(tx: &mut dyn Tx, setl_id: &str) -> DbResult<Option<SettlementRecord>> {
    tx.query_opt(&format!("SELECT {COLUMNS} FROM settlement WHERE setl_id = $1"), params![setl_id])?
        .map(|r| from_row(&r))
        .transpose()
}

/// Links a settlement to its reversal; `false` if it was already reversed.
pub fn mark_reversed(tx: &mut dyn Tx, setl_id: &str, reversal_setl_id: &str) -> DbResult<bool> {
    let n = tx.execute(
        "UPDATE settlement SET reversed_by = $1 WHERE setl_id = $2 AND reversed_by IS NULL AND reversal_of IS NULL",
        params![reversal_setl_id, setl_id],
    )?;
    Ok(n == 1)
}

/// Settlements and reversals of a visit, oldest first.
pub fn of_visit(tx: &mut dyn Tx, mdtrt_id: &str) -> DbResult<Vec<SettlementRecord>> {
    tx.query(
        &format!("SELECT {COLUMNS} FROM settlement WHERE mdtrt_id = $1 ORDER BY created_at_ms, setl_id"),
        params![mdtrt_id],
    )?
    .iter()
    .map(from_row)
    .collect()
}

/// Settlements and reversals of an institution between two dates (inclusive),
/// for clearing and reconciliation.
pub fn of_institution(tx: &mut dyn Tx, code: &str, from: Date, to: Date) -> DbResult<Vec<SettlementRecord>> {
    tx.query(
        &format!(
            "SELECT {COLUMNS} FROM settlement WHERE fixmedins_code = $1 AND setl_date >= $2 AND setl_date <= $3 \
             ORDER BY setl_date, setl_id"
        ),
        params![code, from, to],
    )?
    .iter()
    .map(from_row)
    .collect()
}

/// A person's settlements and reversals in a period, newest first.
pub fn of_person(tx: &mut dyn Tx, psn_no: &str, from: Date, to: Date, limit: i64) -> DbResult<Vec<SettlementRecord>> {
    tx.query(
        &format!(
            "SELECT {COLUMNS} FROM settlement WHERE psn_no = $1 AND setl_date >= $2 AND setl_date <= $3 \
             ORDER BY setl_time DESC, setl_id DESC LIMIT $4"
        ),
        params![psn_no, from, to, limit],
    )?
    .iter()
    .map(from_row)
    .collect()
}
