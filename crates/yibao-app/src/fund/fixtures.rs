//! Test fixtures: settlements, reversals and contributions written the way
//! the settlement and enrollment modules write them (the business record and
//! its posting in one job), with amounts that keep every identity of
//! [`Amounts::check`].

use yibao_domain::codes::{ClrWay, Insutype, MedType, PsnType};
use yibao_domain::division::DivisionCode;
use yibao_domain::fund::FundPays;
use yibao_domain::institution::InstitutionCode;
use yibao_domain::{Date, DateTime, Money, Ratio};
use yibao_store::Tx;
use yibao_store::settlement::{self, Amounts, SettlementRecord};

use crate::error::{AppError, AppResult};
use crate::postings::{self, ContributionCollected, SettlementPosted};

/// A settlement to write: who, where, and what each fund pays.
#[derive(Clone, Debug)]
pub struct Visit {
    pub setl_id: String,
    pub setl_date: Date,
    pub insu_admdvs: DivisionCode,
    pub mdtrtarea_admvs: DivisionCode,
    pub fixmedins_code: InstitutionCode,
    pub insutype: Insutype,
    pub med_type: MedType,
    pub medfee_sumamt: Money,
    pub pays: FundPays,
}

impl Visit {
    /// A local settlement in 宁波 (330200) at `inst`, paid by the pool.
    pub fn local(setl_id: &str, date: &str, inst: &str, medfee_yuan: i64, pool_yuan: i64) -> Visit {
        Visit {
            setl_id: setl_id.into(),
            setl_date: Date::parse(date).expect("date"),
            insu_admdvs: DivisionCode::parse("330200").unwrap(),
            mdtrtarea_admvs: DivisionCode::parse("330200").unwrap(),
            fixmedins_code: InstitutionCode::parse(inst).expect("institution code"),
            insutype: Insutype::EmployeeBasic,
            med_type: MedType::GeneralOutpatient,
            medfee_sumamt: Money::from_yuan(medfee_yuan),
            pays: FundPays { hifp_pay: Money::from_yuan(pool_yuan), ..FundPays::default() },
        }
    }
}

/// Amounts consistent with the fund parts: everything in scope (乙类 etc.
/// classification all in `inscp_scp_amt`), the person pays the rest, the
/// account first.
pub fn amounts(medfee: Money, pays: &FundPays) -> Amounts {
    let fund = pays.total() - pays.acct_pay;
    let psn_part = medfee - fund;
    assert!(!psn_part.is_negative() && psn_part >= pays.acct_pay, "fund parts exceed the bill");
    let a = Amounts {
        medfee_sumamt: medfee,
        inscp_scp_amt: medfee,
        hifp_pay: pays.hifp_pay,
        cvlserv_pay: pays.cvlserv_pay,
        hifes_pay: pays.hifes_pay,
        hifmi_pay: pays.hifmi_pay,
        hifob_pay: pays.hifob_pay,
        maf_pay: pays.maf_pay,
        oth_pay: pays.oth_pay,
        fund_pay_sumamt: fund,
        psn_part_amt: psn_part,
        acct_pay: pays.acct_pay,
        psn_cash_pay: psn_part - pays.acct_pay,
        ..Amounts::default()
    };
    a.check().expect("consistent amounts");
    a
}

fn record(v: &Visit, amounts: Amounts, reversal_of: Option<String>) -> SettlementRecord {
    SettlementRecord {
        setl_id: v.setl_id.clone(),
        mdtrt_id: format!("MD{}", v.setl_id),
        psn_no: format!("{}00000000000001", v.insu_admdvs),
        insutype: v.insutype,
        psn_type: PsnType::EmployeeActive,
        med_type: v.med_type,
        clr_type: v.med_type.clr_type(),
        clr_way: ClrWay::FeeForService,
        insu_admdvs: v.insu_admdvs,
        mdtrtarea_admvs: v.mdtrtarea_admvs,
        fixmedins_code: v.fixmedins_code,
        medins_setl_id: format!("HIS{}", v.setl_id),
        setl_time: DateTime::from_date(v.setl_date).add_seconds(9 * 3600),
        setl_date: v.setl_date,
        scheme_year: v.setl_date.year(),
        amounts,
        pool_prop_selfpay: Ratio::ZERO,
        policy_id: 1,
        setldetail: "[]".into(),
        accumulator_delta: "{}".into(),
        reversal_of,
        reversed_by: None,
        msgid: format!("MSG{}", v.setl_id),
    }
}

fn event(r: &SettlementRecord) -> SettlementPosted {
    SettlementPosted {
        setl_id: r.setl_id.clone(),
        reversal_of: r.reversal_of.clone(),
        setl_date: r.setl_date,
        insu_admdvs: r.insu_admdvs,
        mdtrtarea_admvs: r.mdtrtarea_admvs,
        fixmedins_code: r.fixmedins_code,
        insutype: r.insutype,
        med_type: r.med_type,
        clr_type: r.clr_type,
        amounts: r.amounts,
    }
}

/// Writes a settlement and posts it, in the caller's job.
pub fn settle_in(tx: &mut dyn Tx, v: &Visit) -> AppResult<SettlementRecord> {
    let r = record(v, amounts(v.medfee_sumamt, &v.pays), None);
    settlement::insert(tx, &r, yibao_store::now_ms())?;
    postings::settlement_posted(tx, &event(&r))?;
    Ok(r)
}

/// Writes the reversal of a settlement (negated amounts, `reversal_of`) dated
/// `date`, links the original and posts the reversal, in the caller's job.
pub fn reverse_in(tx: &mut dyn Tx, original: &str, reversal_id: &str, date: Date) -> AppResult<SettlementRecord> {
    let o = settlement::get(tx, original)?.ok_or_else(|| AppError::not_found("结算", original))?;
    let mut r = o.clone();
    r.setl_id = reversal_id.to_owned();
    r.medins_setl_id = format!("HIS{reversal_id}");
    r.msgid = format!("MSG{reversal_id}");
    r.setl_date = date;
    r.setl_time = DateTime::from_date(date).add_seconds(10 * 3600);
    r.amounts = o.amounts.negated(o.amounts.balc);
    r.reversal_of = Some(original.to_owned());
    r.reversed_by = None;
    settlement::insert(tx, &r, yibao_store::now_ms())?;
    if !settlement::mark_reversed(tx, original, reversal_id)? {
        return Err(AppError::Conflict(format!("结算 {original} 已冲正")));
    }
    postings::settlement_posted(tx, &event(&r))?;
    Ok(r)
}

/// A paid contribution bill, posted in the caller's job.
pub struct Bill {
    pub bill_id: String,
    pub region: DivisionCode,
    pub insutype: Insutype,
    pub paid_date: Date,
    pub employer_share: Money,
    pub personal_share: Money,
    pub government_subsidy: Money,
    pub assistance_paid: Money,
    pub to_personal_accounts: Money,
}

pub fn contribute_in(tx: &mut dyn Tx, b: &Bill) -> AppResult<()> {
    postings::contribution_collected(
        tx,
        &ContributionCollected {
            bill_id: b.bill_id.clone(),
            payment_ref: format!("PAY{}", b.bill_id),
            channel: "bank_debit".into(),
            insu_admdvs: b.region,
            insutype: b.insutype,
            psn_no: None,
            employer_id: Some("EMP001".into()),
            period: b.paid_date.to_string()[..7].to_owned(),
            paid_date: b.paid_date,
            employer_share: b.employer_share,
            personal_share: b.personal_share,
            government_subsidy: b.government_subsidy,
            assistance_paid: b.assistance_paid,
            to_personal_accounts: b.to_personal_accounts,
        },
    )
}
