//! The settlement path's view of a person's insurance: the enrollment
//! module's benefit status (waiting periods, grace, arrears, death) and the
//! personal account, in the shape settlement needs.

use serde::{Deserialize, Serialize};
use yibao_domain::codes::{AssistanceCategory, Insutype, PsnInsuStas, PsnType};
use yibao_domain::division::DivisionCode;
use yibao_domain::enrollment::Person;
use yibao_domain::{Date, Money};
use yibao_store::Tx;
use yibao_store::enrollment::PersonForVisit;

use crate::error::{AppError, AppResult};

/// What the settlement path needs to know about a person's insurance on a day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    pub covered: bool,
    /// Why not covered (Chinese), empty when covered.
    pub reason: String,
    pub insutype: Insutype,
    pub psn_type: PsnType,
    pub insu_admdvs: DivisionCode,
    pub cvlserv_flag: bool,
    pub assistance_category: Option<AssistanceCategory>,
    pub has_account: bool,
    /// The personal account's balance when the coverage was read (zero
    /// without an account). Not kept by a visit: it is read with the person
    /// at every message.
    #[serde(skip)]
    pub account_balance: Money,
    pub psn_insu_stas: PsnInsuStas,
    pub insured_since: Date,
}

fn view(c: yibao_domain::enrollment::Coverage, account_balance: Option<Money>, psn_no: &str) -> AppResult<Coverage> {
    let (Some(insutype), Some(psn_type), Some(insu_admdvs)) = (c.insutype, c.psn_type, c.insu_admdvs) else {
        return Err(AppError::invalid("psn_no", format!("人员编号“{psn_no}”没有基本医疗保险参保记录：{}", c.reason)));
    };
    Ok(Coverage {
        covered: c.covered,
        reason: if c.covered { String::new() } else { c.reason },
        insutype,
        psn_type,
        insu_admdvs,
        cvlserv_flag: c.cvlserv_flag,
        assistance_category: c.assistance_category,
        has_account: c.has_account,
        account_balance: account_balance.unwrap_or(Money::ZERO),
        psn_insu_stas: c.psn_insu_stas,
        insured_since: c.benefit_start.unwrap_or(c.date),
    })
}

/// What a visit keeps of the coverage it was opened with (`visit.coverage`),
/// and the two stamps that tell whether it still holds: the person's
/// `coverage_seq` (every write to an enrollment, paid period, account
/// opening or death date adds 1; `yibao_store::enrollment::bump_coverage_seq`)
/// and the contribution policy in force (policies are immutable, so the id
/// names the benefit rules). Only a covered coverage is kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Snapshot {
    seq: i64,
    policy: Option<i64>,
    date: Date,
    coverage: Coverage,
}

/// The coverage of a person opening a visit on `date` under `insutype`,
/// with what the visit keeps of it (`None` when not covered: such a visit
/// is refused).
pub fn for_new_visit(
    tx: &mut dyn Tx,
    p: &PersonForVisit,
    insutype: Insutype,
    date: Date,
) -> AppResult<(Coverage, Option<String>)> {
    let (c, policy) = read(tx, p, insutype, date)?;
    let kept = c.covered.then(|| {
        let snapshot = Snapshot { seq: p.coverage_seq, policy, date, coverage: c.clone() };
        serde_json::to_string(&snapshot).expect("a snapshot serializes")
    });
    Ok((c, kept))
}

/// The coverage of a visit's person for a later message of the visit
/// (pre-settlement, settlement, cancellation) on the visit's day under its
/// insurance: what the visit kept when nothing it was derived from has
/// changed since (one statement: the policy's id, keyed by the visit so that
/// it can be prefetched with it), else read again (four).
pub fn for_visit(tx: &mut dyn Tx, p: &PersonForVisit, visit: &yibao_store::visit::VisitRow) -> AppResult<Coverage> {
    let (insutype, date) = (visit.insutype, visit.begntime.date());
    // A snapshot that does not parse (written by another version) is read again, not an error.
    if let Some(s) = visit.coverage.as_deref().and_then(|k| serde_json::from_str::<Snapshot>(k).ok())
        && s.seq == p.coverage_seq
        && s.date == date
        && s.coverage.insutype == insutype
        && s.coverage.insu_admdvs == visit.insu_admdvs
        && s.coverage.has_account == p.account_balance.is_some()
        && yibao_store::contribution::policy_id_of_visit(tx, &visit.mdtrt_id)? == s.policy
    {
        return Ok(Coverage { account_balance: p.account_balance.unwrap_or(Money::ZERO), ..s.coverage });
    }
    Ok(read(tx, p, insutype, date)?.0)
}

/// Reads and derives the coverage (enrollments, paid periods, contribution
/// policy); returns it with the policy's id.
fn read(tx: &mut dyn Tx, p: &PersonForVisit, insutype: Insutype, date: Date) -> AppResult<(Coverage, Option<i64>)> {
    let (c, policy) = crate::enrollment::coverage_with_account(tx, &p.person, p.account_balance.is_some(), date)?;
    let c = view(c, p.account_balance, &p.person.psn_no)?;
    check_insutype(&c, insutype, date)?;
    Ok((c, policy))
}

fn check_insutype(c: &Coverage, insutype: Insutype, date: Date) -> AppResult<()> {
    if c.insutype != insutype {
        return Err(AppError::invalid(
            "insutype",
            format!("该人员在 {date} 参加的是{}（{}），不是{}", c.insutype.name(), c.insutype.code(), insutype.code()),
        ));
    }
    Ok(())
}

/// The person's coverage on `date`, which must be under `insutype` (the
/// insurance the HIS names), for a person the caller has already read.
pub fn coverage_of(tx: &mut dyn Tx, person: &Person, insutype: Insutype, date: Date) -> AppResult<Coverage> {
    let (c, balance) = crate::enrollment::coverage_of(tx, person, date)?;
    let c = view(c, balance, &person.psn_no)?;
    check_insutype(&c, insutype, date)?;
    Ok(c)
}

/// The person's insurance on `date` for 1101's `insuinfo[]` and 5206 (none
/// when never enrolled).
pub fn coverages_of(tx: &mut dyn Tx, p: &PersonForVisit, date: Date) -> AppResult<Vec<Coverage>> {
    // The three reads depend only on the person: on PostgreSQL one round
    // trip for all (SQLite's reads cost none, and it ignores prefetching).
    if tx.backend() == yibao_store::Backend::Postgres {
        tx.prefetch(&crate::enrollment::coverage_reads(&p.person.psn_no, date))?;
    }
    let (c, _) = crate::enrollment::coverage_with_account(tx, &p.person, p.account_balance.is_some(), date)?;
    if c.insutype.is_none() {
        return Ok(Vec::new());
    }
    Ok(vec![view(c, p.account_balance, &p.person.psn_no)?])
}

/// Debits the person's account for a settlement; returns the balance after.
pub fn debit_for_settlement(
    tx: &mut dyn Tx,
    owner_psn_no: &str,
    user_psn_no: &str,
    amount: Money,
    setl_id: &str,
    date: Date,
    now_ms: i64,
) -> AppResult<Money> {
    crate::account::debit_for_settlement(tx, owner_psn_no, user_psn_no, amount, setl_id, date, now_ms)
}

/// Restores a settlement's account debit; returns the balance after.
pub fn reverse_settlement_debit(
    tx: &mut dyn Tx,
    setl_id: &str,
    reversal_setl_id: &str,
    now_ms: i64,
) -> AppResult<Money> {
    crate::account::reverse_settlement_debit(tx, setl_id, reversal_setl_id, now_ms)
}
