//! 基金核算与财务监管: the double-entry ledger every money movement posts to,
//! balances and statements, clearing with institutions and between regions,
//! and reconciliation with institutions.
//!
//! # What is posted, and when
//!
//! Other modules call [`crate::postings`] inside their own DB job, so a
//! business record and its journal entry commit together or not at all. The
//! chart of accounts and the posting rule of every event are in
//! [`yibao_domain::fund`]; this module turns events into entries, checks them
//! (debits = credits within every region and fund, no zero line, bounded
//! size) and writes them. An entry is never updated or deleted: a settlement
//! is corrected by a reversal entry that repeats the original's lines with
//! negated amounts (红字), found by the original's `setl_id`; a second
//! reversal of the same settlement is refused (and the `reverses` column is
//! unique as a backstop).
//!
//! Entries caused by another module's event are self-describing (kind,
//! business reference, memo) and that module audits the event itself; changes
//! the fund module makes on its own (clearing, payment, transfer, opening
//! balance, settings) write an audit record in the same transaction.
//!
//! # Regions
//!
//! A pooling region is the 6-digit code on the settlement. The fund that pays
//! is the insured region's (`insu_admdvs`). The payable to an institution is
//! held in the ledger of the settlement's treating region (`mdtrtarea_admvs`),
//! not of the institution's county code (the demo's hospitals are in
//! 3302xx counties, their settlements carry 330200): that is the region that
//! clears and pays the institution. When the two regions differ the treating
//! region advances the money (receivable from the insured region) and the
//! insured region books the expense and a payable to the treating region;
//! cross-region clearing later settles the net between the two.
//!
//! # Balances: append-only lines, monthly snapshots, no balance rows
//!
//! Balances, movements and statements are sums over `fund_line`, read through
//! the covering index `(region, account, sub, fund, entry_date, side,
//! amount_fen)`: an institution's payable or a fund's bank balance as of any
//! date is one index range scan, and "as of a past date" is the same query
//! with a different bound. There are no per-account balance rows, on purpose:
//! every settlement touches the same few accounts (the region's benefit
//! expense per fund and med_type, the institution's payable), so balance rows
//! would be hot rows updated thousands of times a second. On SQLite that is an
//! extra read-modify-write per account in the single writer; on PostgreSQL
//! several writers would queue on (and deadlock over) the same rows for the
//! whole of each group-commit batch. Appending lines keeps a settlement's
//! posting at two INSERT statements (the entry, and its lines in one
//! multi-row statement) and one primary-key read (the last closed month);
//! a reversal adds the lookup of its original by unique reference.
//!
//! So that reads do not grow with the ledger's age, months are closed (月结,
//! [`close_months`]): closing a month writes one snapshot row per account
//! with its debits and credits of the month (`fund_month_balance`), and every
//! read sums snapshot rows for whole closed months and lines for the rest.
//! No entry may be dated in a closed month: an event dated there is booked
//! on the first open day, its memo keeping the business date. Months close
//! in order, for every region at once, at the earliest one day after they
//! end; a posting dated in a month that is over takes the close guard row
//! first (`FOR UPDATE` on PostgreSQL; SQLite's single writer serializes
//! anyway), so an entry cannot slip into a month while it is being closed.
//! Current-month postings, the hot path, take no lock.
//!
//! Every report re-checks the accounting identities it relies on (each fund's
//! assets − liabilities = opening + income − expense; debits = credits over
//! the whole ledger) and refuses to answer rather than show numbers that do
//! not add up.

pub mod clearing;
pub mod export;
pub mod fixtures;
pub mod reconcile;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use yibao_domain::auth::Permission;
use yibao_domain::codes::MedType;
use yibao_domain::division::DivisionCode;
use yibao_domain::fund::{
    self as rules, Account, AccountClass, AccountKey, ContributionFacts, CreditSource, Entry, EntryKind, Fund,
    FundPays, Month, SettlementFacts, Side,
};
use yibao_domain::{Date, Money, Ratio};
use yibao_store::fund::{self as repo, AccountTotal, LineFilter};
use yibao_store::{Tx, ids};

use crate::audit::{self, Change};
use crate::ctx::Ctx;
use crate::error::{AppError, AppResult};
use crate::postings::{
    AccountCreditSource, AccountCredited, AccountWithdrawn, ContributionCollected, SettlementPosted,
};
use crate::{App, paging};

/// Default share of a clearing withheld as quality deposit (质量保证金).
pub const WITHHOLD_DEFAULT: Ratio = Ratio::percent(5);
/// The largest withholding share a region may configure.
pub const WITHHOLD_MAX: Ratio = Ratio::percent(30);
/// Default alert threshold of 可支付月数, in hundredths of a month.
pub const ALERT_MONTHS_CENTI_DEFAULT: i64 = 600;
/// The largest alert threshold a region may configure (hundredths of a month).
pub const ALERT_MONTHS_CENTI_MAX: i64 = 12_000;
/// The longest period a report may cover, in days.
pub const REPORT_DAYS_MAX: i32 = 3 * 366;
/// Memo length.
pub const MEMO_CHARS_MAX: usize = 200;

/// Who wrote an entry that another module's event caused.
const POSTED_BY_EVENT: &str = "postings";

// ---------------------------------------------------------------------------
// Writing entries

/// Checks and writes an entry; returns its id. The check is the ledger's
/// invariant: an entry that does not balance within every region and fund
/// is never written (and the store checks again).
pub fn post(tx: &mut dyn Tx, entry: &Entry, created_by: &str, now_ms: i64) -> AppResult<i64> {
    if let Err(e) = entry.check() {
        return Err(AppError::Internal(format!(
            "记账凭证 {} {} 不符合记账规则：{e}",
            entry.kind.name(),
            entry.reference
        )));
    }
    let id = ids::next_id();
    let date = open_date(tx, entry.entry_date)?;
    if date == entry.entry_date {
        repo::insert_entry(tx, id, entry, created_by, now_ms)?;
    } else {
        let mut late = entry.clone();
        late.memo = clip(&format!("{}（业务日期 {}，该月已结账）", entry.memo, entry.entry_date));
        late.entry_date = date;
        repo::insert_entry(tx, id, &late, created_by, now_ms)?;
    }
    Ok(id)
}

/// The accounting date of an entry dated `date`: the date itself, or the
/// first day after the last closed month when `date` falls in a closed month.
/// An entry dated in a month that is over (by the system clock, which is never
/// behind the business clock: `clock.rs`) takes the close guard first, so
/// that it cannot slip into a month being closed.
fn open_date(tx: &mut dyn Tx, date: Date) -> AppResult<Date> {
    let today = yibao_domain::DateTime::from_unix_ms(yibao_store::now_ms()).date();
    if Month::of(date) < Month::of(today) {
        repo::lock_close_guard(tx)?;
    }
    Ok(match repo::closed_through(tx)? {
        Some(closed) if date <= closed.last_day() => closed.next().first_day(),
        _ => date,
    })
}

// ---------------------------------------------------------------------------
// Month close (月结)

/// Days after a month's end before it may be closed: no transaction that
/// read the month as open can still be running by then.
pub const CLOSE_GRACE_DAYS: i32 = 1;
/// Months closed by one request at most.
pub const CLOSE_MONTHS_MAX: usize = 120;

#[derive(utoipa::ToSchema, Clone, Debug, Serialize, PartialEq, Eq)]
pub struct MonthClose {
    /// yyyy-MM
    pub month: String,
    pub lines: i64,
    pub debit_total: Money,
    pub credit_total: Money,
}

/// Closes one month in the caller's job: months close in order, for every
/// region (national scope only), once the month is over by
/// [`CLOSE_GRACE_DAYS`].
pub fn close_month_in(tx: &mut dyn Tx, ctx: &Ctx, month: Month) -> AppResult<MonthClose> {
    if !ctx.actor.scope.prefix().is_empty() {
        return Err(AppError::Forbidden("月结对所有统筹区生效，需要全国范围的账号".into()));
    }
    if ctx.today() <= month.last_day().add_days(CLOSE_GRACE_DAYS) {
        return Err(AppError::invalid("month", format!("{month} 结束后第{}天起才能结账", CLOSE_GRACE_DAYS + 1)));
    }
    repo::lock_close_guard(tx)?;
    match repo::closed_through(tx)? {
        Some(c) if month <= c => return Err(AppError::Conflict(format!("{month} 已结账"))),
        Some(c) if month != c.next() => {
            return Err(AppError::Conflict(format!("请按月份顺序结账：下一个应结账的月份是 {}", c.next())));
        }
        Some(_) => {}
        None => {
            if let Some(first) = repo::first_entry_date(tx)?
                && first < month.first_day()
            {
                return Err(AppError::Conflict(format!("最早的凭证日期为 {first}，请先结账 {}", Month::of(first))));
            }
        }
    }
    let (lines, debit_total, credit_total) = repo::close_month(tx, month, &ctx.actor.id, ctx.now_ms)?;
    let view = MonthClose { month: month.to_string(), lines, debit_total, credit_total };
    audit::record(
        tx,
        ctx,
        Change {
            action: "fund.month.close",
            target_kind: "fund_close",
            target_id: &view.month,
            region: "",
            before: None,
            after: audit::image(&view),
        },
    )?;
    Ok(view)
}

#[derive(utoipa::ToSchema, Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloseInput {
    /// Closes every open month up to and including this one (yyyy-MM).
    pub through: String,
}

/// Closes every open month up to `through`, each in its own transaction.
pub async fn close_months(app: &App, ctx: &Ctx, input: CloseInput) -> AppResult<Vec<MonthClose>> {
    ctx.require(Permission::WriteFund)?;
    let through = parse_month("through", &input.through)?;
    let (closed, first) = app
        .db
        .read(|tx: &mut dyn Tx| Ok::<_, AppError>((repo::closed_through(tx)?, repo::first_entry_date(tx)?)))
        .await?;
    let start = match (closed, first) {
        (Some(c), _) => c.next(),
        (None, Some(f)) => Month::of(f),
        (None, None) => through,
    };
    if start > through {
        return Err(AppError::Conflict(format!("{through} 已结账")));
    }
    let mut out = Vec::new();
    let mut month = start;
    while month <= through {
        if out.len() >= CLOSE_MONTHS_MAX {
            return Err(AppError::invalid("through", format!("一次最多结账{CLOSE_MONTHS_MAX}个月")));
        }
        let ctx2 = ctx.clone();
        out.push(app.db.write(move |tx: &mut dyn Tx| close_month_in(tx, &ctx2, month)).await?);
        month = month.next();
    }
    Ok(out)
}

fn reference(field: &str, value: &str) -> AppResult<String> {
    let t = value.trim();
    if t.is_empty() || t.chars().count() > rules::REFERENCE_CHARS_MAX {
        return Err(AppError::invalid(field, format!("应为1至{}个字符", rules::REFERENCE_CHARS_MAX)));
    }
    Ok(t.to_owned())
}

fn refuse_duplicate(tx: &mut dyn Tx, kind: EntryKind, reference: &str) -> AppResult<()> {
    if repo::entry_by_reference(tx, kind, reference)?.is_some() {
        return Err(AppError::Conflict(format!("{}“{reference}”已记账，不能重复记账", kind.name())));
    }
    Ok(())
}

/// [`crate::postings::contribution_collected`].
pub fn post_contribution(tx: &mut dyn Tx, e: &ContributionCollected) -> AppResult<()> {
    let bill = reference("bill_id", &e.bill_id)?;
    let facts = ContributionFacts {
        employer_share: e.employer_share,
        personal_share: e.personal_share,
        government_subsidy: e.government_subsidy,
        assistance_paid: e.assistance_paid,
        to_personal_accounts: e.to_personal_accounts,
    };
    let lines = rules::contribution_lines(e.insu_admdvs, e.insutype, &facts)?;
    refuse_duplicate(tx, EntryKind::Contribution, &bill)?;
    let payer = e.employer_id.as_deref().or(e.psn_no.as_deref()).unwrap_or("");
    let memo = clip(&format!("缴费到账 {} {} {} {} {}", e.insutype.name(), e.period, e.channel, e.payment_ref, payer));
    let entry =
        Entry { kind: EntryKind::Contribution, reference: bill, reverses: None, entry_date: e.paid_date, memo, lines };
    assert_eq!(entry.totals().0, e.total() + e.assistance_paid, "contribution entry covers the bill");
    post(tx, &entry, POSTED_BY_EVENT, yibao_store::now_ms())?;
    Ok(())
}

/// [`crate::postings::account_credited`].
pub fn post_account_credit(tx: &mut dyn Tx, e: &AccountCredited) -> AppResult<()> {
    let reference = reference("reference", &e.reference)?;
    let source = match e.source {
        AccountCreditSource::RetireeAllocation => CreditSource::RetireeAllocation,
        AccountCreditSource::TransferIn => CreditSource::TransferIn,
        AccountCreditSource::Interest => CreditSource::Interest,
    };
    let lines = rules::account_credit_lines(e.insu_admdvs, source, e.amount)?;
    refuse_duplicate(tx, EntryKind::AccountCredit, &reference)?;
    let memo = clip(&format!("个人账户划入 {:?} {}", e.source, e.psn_no));
    let entry = Entry { kind: EntryKind::AccountCredit, reference, reverses: None, entry_date: e.date, memo, lines };
    post(tx, &entry, POSTED_BY_EVENT, yibao_store::now_ms())?;
    Ok(())
}

/// [`crate::postings::account_withdrawn`].
pub fn post_account_withdrawal(tx: &mut dyn Tx, e: &AccountWithdrawn) -> AppResult<()> {
    let reference = reference("reference", &e.reference)?;
    let lines = rules::account_withdrawal_lines(e.insu_admdvs, &e.reason, e.amount)?;
    refuse_duplicate(tx, EntryKind::AccountWithdrawal, &reference)?;
    let memo = clip(&format!("个人账户支出 {} {}", e.reason, e.psn_no));
    let entry =
        Entry { kind: EntryKind::AccountWithdrawal, reference, reverses: None, entry_date: e.date, memo, lines };
    post(tx, &entry, POSTED_BY_EVENT, yibao_store::now_ms())?;
    Ok(())
}

fn pays_of(a: &yibao_store::settlement::Amounts) -> FundPays {
    FundPays {
        hifp_pay: a.hifp_pay,
        cvlserv_pay: a.cvlserv_pay,
        hifes_pay: a.hifes_pay,
        hifmi_pay: a.hifmi_pay,
        hifob_pay: a.hifob_pay,
        maf_pay: a.maf_pay,
        oth_pay: a.oth_pay,
        acct_pay: a.acct_pay,
    }
}

/// What each fund paid in an entry: the benefit expense (5001) per fund.
fn expense_by_fund(entry: &Entry) -> BTreeMap<Fund, Money> {
    let mut out = BTreeMap::new();
    for l in entry.lines.iter().filter(|l| l.key.account == Account::ExpenseBenefit) {
        *out.entry(l.key.fund).or_insert(Money::ZERO) += l.signed();
    }
    out
}

/// [`crate::postings::settlement_posted`]. A settlement posts the rule of
/// [`rules::settlement_lines`]; a reversal posts the exact reverse of the
/// original's entry, after checking that the reversal's amounts are the
/// original's negated and that the original was not reversed before.
pub fn post_settlement(tx: &mut dyn Tx, e: &SettlementPosted) -> AppResult<()> {
    let setl_id = reference("setl_id", &e.setl_id)?;
    if let Err(m) = e.amounts.check() {
        return Err(AppError::Internal(format!("结算 {setl_id} 的金额关系不成立：{m}")));
    }
    let pays = pays_of(&e.amounts);
    let now = yibao_store::now_ms();
    let Some(original) = &e.reversal_of else {
        let facts = SettlementFacts {
            insu_admdvs: e.insu_admdvs,
            mdtrtarea_admvs: e.mdtrtarea_admvs,
            fixmedins_code: e.fixmedins_code,
            insutype: e.insutype,
            med_type: e.med_type,
            pays,
        };
        let lines = rules::settlement_lines(&facts)?;
        if lines.is_empty() {
            // Paid entirely by the person in cash: no fund money moves.
            return Ok(());
        }
        let memo = clip(&format!(
            "结算 {} {} {} 参保地{} 就医地{}",
            e.fixmedins_code,
            e.med_type.name(),
            e.insutype.name(),
            e.insu_admdvs,
            e.mdtrtarea_admvs
        ));
        let entry = Entry {
            kind: EntryKind::Settlement,
            reference: setl_id,
            reverses: None,
            entry_date: e.setl_date,
            memo,
            lines,
        };
        assert_eq!(expense_by_fund(&entry).values().copied().sum::<Money>(), pays.total());
        post(tx, &entry, POSTED_BY_EVENT, now)?;
        return Ok(());
    };
    let expected: BTreeMap<Fund, Money> = FundPays {
        hifp_pay: -pays.hifp_pay,
        cvlserv_pay: -pays.cvlserv_pay,
        hifes_pay: -pays.hifes_pay,
        hifmi_pay: -pays.hifmi_pay,
        hifob_pay: -pays.hifob_pay,
        maf_pay: -pays.maf_pay,
        oth_pay: -pays.oth_pay,
        acct_pay: -pays.acct_pay,
    }
    .by_fund(e.insutype)
    .into_iter()
    .collect();
    let Some(stored) = repo::entry_by_reference(tx, EntryKind::Settlement, original)? else {
        if expected.is_empty() {
            // The original moved no fund money; neither does its reversal.
            return Ok(());
        }
        return Err(AppError::Conflict(format!("原结算 {original} 没有记账凭证，不能冲正")));
    };
    if let Some(by) = repo::reversed_by(tx, original)? {
        return Err(AppError::Conflict(format!("结算 {original} 已由 {by} 冲正，不能重复冲正")));
    }
    let booked = expense_by_fund(&stored.entry);
    if booked != expected {
        return Err(AppError::Conflict(format!(
            "冲正 {setl_id} 的基金金额与原结算 {original} 的记账金额不符（原 {booked:?}，冲正 {expected:?}）"
        )));
    }
    let memo = clip(&format!("冲正结算 {original}（{}）", e.fixmedins_code));
    let reversal = stored.entry.reversal(setl_id, e.setl_date, memo);
    post(tx, &reversal, POSTED_BY_EVENT, now)?;
    Ok(())
}

fn clip(text: &str) -> String {
    text.chars().take(MEMO_CHARS_MAX).collect()
}

// ---------------------------------------------------------------------------
// Scope and parameters

/// The region prefix a query may see: the narrower of the requested region
/// and the actor's scope; disjoint is forbidden.
pub(crate) fn scoped_prefix(ctx: &Ctx, requested: Option<&str>) -> AppResult<String> {
    let scope = ctx.actor.scope.prefix().to_owned();
    match requested.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(scope),
        Some(r) => {
            if r.len() > 6 || !r.bytes().all(|b| b.is_ascii_digit()) {
                return Err(AppError::invalid("region", "区划应为1至6位数字"));
            }
            if r.starts_with(&scope) {
                Ok(r.to_owned())
            } else if scope.starts_with(r) {
                Ok(scope)
            } else {
                Err(AppError::Forbidden(format!("区划 {r} 不在当前账号的管辖范围内")))
            }
        }
    }
}

fn parse_region(field: &str, text: &str) -> AppResult<DivisionCode> {
    DivisionCode::parse(text).map_err(|e| AppError::from(e.named(field)))
}

fn parse_date(field: &str, text: Option<&str>) -> AppResult<Option<Date>> {
    text.map(str::trim).filter(|t| !t.is_empty()).map(|t| Date::parse(t).map_err(|e| e.named(field).into())).transpose()
}

fn parse_month(field: &str, text: &str) -> AppResult<Month> {
    Month::parse(text).map_err(|e| AppError::from(e.named(field)))
}

// ---------------------------------------------------------------------------
// Settings

#[derive(utoipa::ToSchema, Clone, Debug, Serialize)]
pub struct FundSettings {
    pub region: String,
    /// Share withheld from each clearing as quality deposit (0.05 = 5%).
    pub withhold_share: Ratio,
    /// 可支付月数 below this raises an alert.
    pub alert_months: String,
    /// False when the region uses the defaults.
    pub configured: bool,
}

pub(crate) fn settings_in(tx: &mut dyn Tx, region: &str) -> AppResult<FundSettings> {
    Ok(match repo::setting(tx, region)? {
        Some((ppm, centi)) => FundSettings {
            region: region.into(),
            withhold_share: Ratio::from_ppm(ppm),
            alert_months: rules::centi_text(centi),
            configured: true,
        },
        None => FundSettings {
            region: region.into(),
            withhold_share: WITHHOLD_DEFAULT,
            alert_months: rules::centi_text(ALERT_MONTHS_CENTI_DEFAULT),
            configured: false,
        },
    })
}

fn alert_centi(settings: &FundSettings) -> i64 {
    Money::parse_yuan(&settings.alert_months).map(Money::fen).unwrap_or(ALERT_MONTHS_CENTI_DEFAULT)
}

pub async fn get_settings(app: &App, ctx: &Ctx, region: &str) -> AppResult<FundSettings> {
    ctx.require(Permission::ReadFund)?;
    let region = parse_region("region", region)?;
    ctx.require_region(region.as_str())?;
    app.db.read(move |tx: &mut dyn Tx| settings_in(tx, region.as_str())).await
}

#[derive(utoipa::ToSchema, Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsInput {
    /// 0 to 0.3 (质量保证金比例).
    pub withhold_share: Ratio,
    /// Months, up to two decimals, e.g. "6" or "4.5" (可支付月数预警线).
    pub alert_months: String,
}

pub async fn put_settings(app: &App, ctx: &Ctx, region: &str, input: SettingsInput) -> AppResult<FundSettings> {
    ctx.require(Permission::WriteFund)?;
    let region = parse_region("region", region)?;
    ctx.require_region(region.as_str())?;
    if input.withhold_share > WITHHOLD_MAX {
        return Err(AppError::invalid("withhold_share", "质量保证金比例不能超过30%"));
    }
    let centi = Money::parse_yuan(&input.alert_months).map_err(|e| e.named("alert_months"))?.fen();
    if !(0..=ALERT_MONTHS_CENTI_MAX).contains(&centi) {
        return Err(AppError::invalid("alert_months", "预警月数应在0到120之间"));
    }
    let ctx2 = ctx.clone();
    app.db
        .write(move |tx: &mut dyn Tx| {
            let before = settings_in(tx, region.as_str())?;
            repo::put_setting(tx, region.as_str(), input.withhold_share.ppm(), centi, &ctx2.actor.id, ctx2.now_ms)?;
            let after = settings_in(tx, region.as_str())?;
            audit::record(
                tx,
                &ctx2,
                Change {
                    action: "fund.settings.update",
                    target_kind: "fund_setting",
                    target_id: region.as_str(),
                    region: region.as_str(),
                    before: audit::image(&before),
                    after: audit::image(&after),
                },
            )?;
            Ok(after)
        })
        .await
}

// ---------------------------------------------------------------------------
// Balances

/// One account's totals and balance.
#[derive(utoipa::ToSchema, Clone, Debug, Serialize, PartialEq, Eq)]
pub struct AccountBalance {
    pub region: DivisionCode,
    pub fund: Fund,
    pub fund_name: &'static str,
    pub account: Account,
    pub account_name: &'static str,
    pub class: AccountClass,
    /// Institution, counterpart region, med_type or payout reason.
    pub sub: String,
    pub sub_name: String,
    pub debit: Money,
    pub credit: Money,
    /// On the account's normal side (借 for assets and expenses, 贷 otherwise);
    /// negative when the balance lies on the other side.
    pub balance: Money,
    pub side: Side,
}

fn sub_name(key: &AccountKey) -> String {
    match key.account.sub_kind() {
        rules::SubKind::MedType => MedType::from_code(&key.sub).map(|m| m.name().to_owned()).unwrap_or_default(),
        rules::SubKind::PayoutReason => match key.sub.as_str() {
            "death" => "死亡".into(),
            "emigration" => "出国定居".into(),
            _ => String::new(),
        },
        _ => String::new(),
    }
}

pub(crate) fn balance_of(t: &AccountTotal) -> AccountBalance {
    let class = t.key.account.class();
    let balance = match class.normal_side() {
        Side::Debit => t.debit - t.credit,
        Side::Credit => t.credit - t.debit,
    };
    AccountBalance {
        region: t.key.region,
        fund: t.key.fund,
        fund_name: t.key.fund.name(),
        account: t.key.account,
        account_name: t.key.account.name(),
        class,
        sub: t.key.sub.clone(),
        sub_name: sub_name(&t.key),
        debit: t.debit,
        credit: t.credit,
        balance,
        side: class.normal_side(),
    }
}

/// A fund's position in a region.
#[derive(utoipa::ToSchema, Clone, Debug, Serialize, PartialEq, Eq)]
pub struct FundPosition {
    pub region: DivisionCode,
    pub fund: Fund,
    pub fund_name: &'static str,
    pub assets: Money,
    pub liabilities: Money,
    /// 基金结余期初 (3001).
    pub opening: Money,
    pub income: Money,
    pub expense: Money,
    /// 基金结余 = opening + income − expense = assets − liabilities.
    pub balance: Money,
    /// Of the assets, the bank deposits (1001 + 1002 + 1003).
    pub bank: Money,
    /// Payables to institutions (2101) and withheld deposits (2102).
    pub payable_institutions: Money,
    pub deposits_withheld: Money,
}

/// Folds account balances into fund positions and checks the identity
/// assets − liabilities = opening + income − expense for each.
pub fn positions(accounts: &[AccountBalance]) -> AppResult<Vec<FundPosition>> {
    let mut out: BTreeMap<(DivisionCode, Fund), FundPosition> = BTreeMap::new();
    for a in accounts {
        let p = out.entry((a.region, a.fund)).or_insert_with(|| FundPosition {
            region: a.region,
            fund: a.fund,
            fund_name: a.fund.name(),
            assets: Money::ZERO,
            liabilities: Money::ZERO,
            opening: Money::ZERO,
            income: Money::ZERO,
            expense: Money::ZERO,
            balance: Money::ZERO,
            bank: Money::ZERO,
            payable_institutions: Money::ZERO,
            deposits_withheld: Money::ZERO,
        });
        match a.class {
            AccountClass::Asset => p.assets += a.balance,
            AccountClass::Liability => p.liabilities += a.balance,
            AccountClass::NetAssets => p.opening += a.balance,
            AccountClass::Income => p.income += a.balance,
            AccountClass::Expense => p.expense += a.balance,
        }
        if a.account.is_bank() {
            p.bank += a.balance;
        }
        match a.account {
            Account::PayableInstitution => p.payable_institutions += a.balance,
            Account::DepositWithheld => p.deposits_withheld += a.balance,
            _ => {}
        }
    }
    let mut list = Vec::with_capacity(out.len());
    for (_, mut p) in out {
        p.balance = p.opening + p.income - p.expense;
        if p.assets - p.liabilities != p.balance {
            return Err(AppError::Internal(format!(
                "{} {} 资产减负债 {} 不等于基金结余 {}：账簿不平",
                p.region,
                p.fund_name,
                p.assets - p.liabilities,
                p.balance
            )));
        }
        list.push(p);
    }
    Ok(list)
}

#[derive(utoipa::IntoParams, Clone, Debug, Default, Deserialize)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BalanceQuery {
    /// Region code or prefix (within the caller's scope); all in scope when absent.
    pub region: Option<String>,
    /// Balances at the end of this day; today's when absent.
    pub as_of: Option<String>,
    /// Fund code (e.g. 310100).
    pub fund: Option<String>,
    /// Account code (e.g. 2101).
    pub account: Option<String>,
    /// Account detail: institution code, region or med_type.
    pub sub: Option<String>,
}

#[derive(utoipa::ToSchema, Clone, Debug, Serialize)]
pub struct BalanceReport {
    pub region_prefix: String,
    /// None: every entry up to now.
    pub as_of: Option<Date>,
    pub funds: Vec<FundPosition>,
    pub accounts: Vec<AccountBalance>,
    pub debit_total: Money,
    pub credit_total: Money,
}

fn line_filter(q: &BalanceQuery, prefix: String) -> AppResult<LineFilter> {
    Ok(LineFilter {
        region_prefix: prefix,
        fund: q.fund.as_deref().filter(|s| !s.is_empty()).map(Fund::parse).transpose()?,
        account: q.account.as_deref().filter(|s| !s.is_empty()).map(Account::parse).transpose()?,
        sub: q.sub.clone().filter(|s| !s.is_empty()),
        from: None,
        to: None,
    })
}

/// Balances of every account matching the query as of a date, and the
/// positions of the funds (only meaningful when no account filter is given).
pub fn balances_in(tx: &mut dyn Tx, filter: &LineFilter) -> AppResult<(Vec<AccountBalance>, Money, Money)> {
    let totals = repo::account_totals(tx, filter)?;
    let debit = totals.iter().map(|t| t.debit).sum();
    let credit = totals.iter().map(|t| t.credit).sum();
    Ok((totals.iter().map(balance_of).collect(), debit, credit))
}

pub async fn balances(app: &App, ctx: &Ctx, q: BalanceQuery) -> AppResult<BalanceReport> {
    ctx.require(Permission::ReadFund)?;
    let prefix = scoped_prefix(ctx, q.region.as_deref())?;
    let as_of = parse_date("as_of", q.as_of.as_deref())?;
    let mut filter = line_filter(&q, prefix.clone())?;
    filter.to = as_of;
    let whole_funds = filter.account.is_none() && filter.sub.is_none();
    let (accounts, debit_total, credit_total) = app.db.read(move |tx: &mut dyn Tx| balances_in(tx, &filter)).await?;
    let funds = if whole_funds { positions(&accounts)? } else { Vec::new() };
    if whole_funds && debit_total != credit_total {
        return Err(AppError::Internal(format!("借方合计 {debit_total} 不等于贷方合计 {credit_total}：账簿不平")));
    }
    Ok(BalanceReport { region_prefix: prefix, as_of, funds, accounts, debit_total, credit_total })
}

/// 试算平衡: every account of the ledger (in scope) as of a date, with the
/// totals of debits and credits, which are equal in a sound ledger.
#[derive(utoipa::ToSchema, Clone, Debug, Serialize)]
pub struct TrialBalance {
    pub region_prefix: String,
    pub as_of: Option<Date>,
    pub debit_total: Money,
    pub credit_total: Money,
    /// Σ debit balances − Σ credit balances; zero in a sound ledger.
    pub difference: Money,
    pub balanced: bool,
    pub entries_unbalanced: i64,
    pub accounts: Vec<AccountBalance>,
    pub funds: Vec<FundPosition>,
}

pub fn trial_balance_in(tx: &mut dyn Tx, prefix: &str, as_of: Option<Date>) -> AppResult<TrialBalance> {
    let filter = LineFilter { region_prefix: prefix.to_owned(), to: as_of, ..LineFilter::default() };
    let (accounts, debit_total, credit_total) = balances_in(tx, &filter)?;
    let (_, _, entries_unbalanced) = repo::grand_totals(tx)?;
    let funds = positions(&accounts)?;
    let difference = debit_total - credit_total;
    Ok(TrialBalance {
        region_prefix: prefix.to_owned(),
        as_of,
        debit_total,
        credit_total,
        difference,
        balanced: difference.is_zero() && entries_unbalanced == 0,
        entries_unbalanced,
        accounts,
        funds,
    })
}

#[derive(utoipa::IntoParams, Clone, Debug, Default, Deserialize)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TrialQuery {
    pub region: Option<String>,
    pub as_of: Option<String>,
}

pub async fn trial_balance(app: &App, ctx: &Ctx, q: TrialQuery) -> AppResult<TrialBalance> {
    ctx.require(Permission::ReadFund)?;
    let prefix = scoped_prefix(ctx, q.region.as_deref())?;
    let as_of = parse_date("as_of", q.as_of.as_deref())?;
    app.db.read(move |tx: &mut dyn Tx| trial_balance_in(tx, &prefix, as_of)).await
}

// ---------------------------------------------------------------------------
// Movements over a period

#[derive(utoipa::IntoParams, Clone, Debug, Default, Deserialize)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MovementQuery {
    pub region: Option<String>,
    /// First day (inclusive).
    pub from: String,
    /// Last day (inclusive).
    pub to: String,
    pub fund: Option<String>,
    pub account: Option<String>,
    pub sub: Option<String>,
}

#[derive(utoipa::ToSchema, Clone, Debug, Serialize, PartialEq, Eq)]
pub struct AccountMovement {
    pub region: DivisionCode,
    pub fund: Fund,
    pub fund_name: &'static str,
    pub account: Account,
    pub account_name: &'static str,
    pub sub: String,
    pub sub_name: String,
    /// Balance at the end of the day before `from` (normal side).
    pub opening: Money,
    pub debit: Money,
    pub credit: Money,
    /// Balance at the end of `to` (normal side).
    pub closing: Money,
}

#[derive(utoipa::ToSchema, Clone, Debug, Serialize)]
pub struct MovementReport {
    pub region_prefix: String,
    pub from: Date,
    pub to: Date,
    pub accounts: Vec<AccountMovement>,
}

fn period(from: &str, to: &str) -> AppResult<(Date, Date)> {
    let from = Date::parse(from).map_err(|e| e.named("from"))?;
    let to = Date::parse(to).map_err(|e| e.named("to"))?;
    if to < from {
        return Err(AppError::invalid("to", "结束日期早于开始日期"));
    }
    if from.days_until(to) > REPORT_DAYS_MAX {
        return Err(AppError::invalid("to", format!("期间不能超过{REPORT_DAYS_MAX}天")));
    }
    Ok((from, to))
}

pub fn movements_in(tx: &mut dyn Tx, filter: &LineFilter, from: Date, to: Date) -> AppResult<Vec<AccountMovement>> {
    let before = repo::account_totals(tx, &LineFilter { from: None, to: Some(from.add_days(-1)), ..filter.clone() })?;
    let during = repo::account_totals(tx, &LineFilter { from: Some(from), to: Some(to), ..filter.clone() })?;
    let mut map: BTreeMap<AccountKey, (Option<AccountTotal>, Option<AccountTotal>)> = BTreeMap::new();
    for t in before {
        let key = t.key.clone();
        map.entry(key).or_default().0 = Some(t);
    }
    for t in during {
        let key = t.key.clone();
        map.entry(key).or_default().1 = Some(t);
    }
    let mut out = Vec::with_capacity(map.len());
    for (key, (b, d)) in map {
        let zero = AccountTotal { key: key.clone(), debit: Money::ZERO, credit: Money::ZERO };
        let b = b.unwrap_or_else(|| zero.clone());
        let d = d.unwrap_or(zero);
        let opening = balance_of(&b).balance;
        let moved = balance_of(&d).balance;
        let closing =
            balance_of(&AccountTotal { key: key.clone(), debit: b.debit + d.debit, credit: b.credit + d.credit })
                .balance;
        assert_eq!(opening + moved, closing, "opening + movement = closing");
        out.push(AccountMovement {
            region: key.region,
            fund: key.fund,
            fund_name: key.fund.name(),
            account: key.account,
            account_name: key.account.name(),
            sub_name: sub_name(&key),
            sub: key.sub,
            opening,
            debit: d.debit,
            credit: d.credit,
            closing,
        });
    }
    Ok(out)
}

pub async fn movements(app: &App, ctx: &Ctx, q: MovementQuery) -> AppResult<MovementReport> {
    ctx.require(Permission::ReadFund)?;
    let prefix = scoped_prefix(ctx, q.region.as_deref())?;
    let (from, to) = period(&q.from, &q.to)?;
    let bq = BalanceQuery {
        region: None,
        as_of: None,
        fund: q.fund.clone(),
        account: q.account.clone(),
        sub: q.sub.clone(),
    };
    let filter = line_filter(&bq, prefix.clone())?;
    let accounts = app.db.read(move |tx: &mut dyn Tx| movements_in(tx, &filter, from, to)).await?;
    Ok(MovementReport { region_prefix: prefix, from, to, accounts })
}

// ---------------------------------------------------------------------------
// Income and expense statements

#[derive(utoipa::IntoParams, Clone, Debug, Default, Deserialize)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StatementQuery {
    pub region: Option<String>,
    /// First month, yyyy-MM.
    pub from_month: String,
    /// Last month, yyyy-MM.
    pub to_month: String,
    pub fund: Option<String>,
}

/// One line of an income and expense statement (收支表).
#[derive(utoipa::ToSchema, Clone, Debug, Serialize, PartialEq, Eq)]
pub struct StatementLine {
    /// yyyy-MM
    pub month: String,
    pub region: DivisionCode,
    pub fund: Fund,
    pub fund_name: &'static str,
    pub class: AccountClass,
    pub account: Account,
    pub account_name: &'static str,
    /// med_type for benefit expense.
    pub sub: String,
    pub sub_name: String,
    /// Income or expense of the month (net of reversals).
    pub amount: Money,
}

/// A month's totals for one region and fund.
#[derive(utoipa::ToSchema, Clone, Debug, Serialize, PartialEq, Eq)]
pub struct StatementTotal {
    pub month: String,
    pub region: DivisionCode,
    pub fund: Fund,
    pub fund_name: &'static str,
    pub income: Money,
    pub expense: Money,
    /// income − expense (当期结余).
    pub surplus: Money,
}

#[derive(utoipa::ToSchema, Clone, Debug, Serialize)]
pub struct Statement {
    pub region_prefix: String,
    pub from_month: String,
    pub to_month: String,
    pub lines: Vec<StatementLine>,
    pub totals: Vec<StatementTotal>,
}

/// The longest statement, in months.
pub const STATEMENT_MONTHS_MAX: i32 = 36;

pub fn statement_in(tx: &mut dyn Tx, prefix: &str, from: Month, to: Month, fund: Option<Fund>) -> AppResult<Statement> {
    let filter = LineFilter {
        region_prefix: prefix.to_owned(),
        fund,
        from: Some(from.first_day()),
        to: Some(to.last_day()),
        ..LineFilter::default()
    };
    let rows = repo::monthly_totals(tx, &filter)?;
    let mut lines = Vec::new();
    let mut totals: BTreeMap<(String, DivisionCode, Fund), (Money, Money)> = BTreeMap::new();
    for (month, t) in rows {
        let class = t.key.account.class();
        if !matches!(class, AccountClass::Income | AccountClass::Expense) {
            continue;
        }
        let amount = balance_of(&t).balance;
        let total = totals.entry((month.clone(), t.key.region, t.key.fund)).or_default();
        if class == AccountClass::Income {
            total.0 += amount;
        } else {
            total.1 += amount;
        }
        lines.push(StatementLine {
            month,
            region: t.key.region,
            fund: t.key.fund,
            fund_name: t.key.fund.name(),
            class,
            account: t.key.account,
            account_name: t.key.account.name(),
            sub_name: sub_name(&t.key),
            sub: t.key.sub,
            amount,
        });
    }
    let totals = totals
        .into_iter()
        .map(|((month, region, fund), (income, expense))| StatementTotal {
            month,
            region,
            fund,
            fund_name: fund.name(),
            income,
            expense,
            surplus: income - expense,
        })
        .collect();
    Ok(Statement {
        region_prefix: prefix.to_owned(),
        from_month: from.to_string(),
        to_month: to.to_string(),
        lines,
        totals,
    })
}

pub(crate) fn statement_params(ctx: &Ctx, q: &StatementQuery) -> AppResult<(String, Month, Month, Option<Fund>)> {
    let prefix = scoped_prefix(ctx, q.region.as_deref())?;
    let from = parse_month("from_month", &q.from_month)?;
    let to = parse_month("to_month", &q.to_month)?;
    if to < from {
        return Err(AppError::invalid("to_month", "结束月份早于开始月份"));
    }
    if to > from.add_months(STATEMENT_MONTHS_MAX - 1) {
        return Err(AppError::invalid("to_month", format!("报表最多{STATEMENT_MONTHS_MAX}个月")));
    }
    let fund = q.fund.as_deref().filter(|s| !s.is_empty()).map(Fund::parse).transpose()?;
    Ok((prefix, from, to, fund))
}

pub async fn statement(app: &App, ctx: &Ctx, q: StatementQuery) -> AppResult<Statement> {
    ctx.require(Permission::ReadFund)?;
    let (prefix, from, to, fund) = statement_params(ctx, &q)?;
    app.db.read(move |tx: &mut dyn Tx| statement_in(tx, &prefix, from, to, fund)).await
}

// ---------------------------------------------------------------------------
// Sustainability (可支付月数)

#[derive(utoipa::IntoParams, Clone, Debug, Default, Deserialize)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SustainabilityQuery {
    pub region: Option<String>,
    /// Measure as of this day (today when absent); the 12 months are the 12
    /// complete months before its month.
    pub as_of: Option<String>,
}

#[derive(utoipa::ToSchema, Clone, Debug, Serialize, PartialEq, Eq)]
pub struct FundSustainability {
    pub region: DivisionCode,
    pub fund: Fund,
    pub fund_name: &'static str,
    /// 基金累计结余 as of the day.
    pub balance: Money,
    /// Expense of the 12 months.
    pub expense_12_months: Money,
    /// Average monthly expense (expense ÷ 12, rounded half-up to the fen).
    pub monthly_expense_average: Money,
    /// 可支付月数 = balance ÷ average monthly expense, two decimals; absent
    /// without expense.
    pub payable_months: Option<String>,
    pub alert_threshold_months: String,
    /// Below the threshold.
    pub alert: bool,
}

#[derive(utoipa::ToSchema, Clone, Debug, Serialize)]
pub struct SustainabilityReport {
    pub region_prefix: String,
    pub as_of: Date,
    pub from_month: String,
    pub to_month: String,
    pub funds: Vec<FundSustainability>,
}

pub fn sustainability_in(tx: &mut dyn Tx, prefix: &str, as_of: Date) -> AppResult<SustainabilityReport> {
    let last = Month::of(as_of).add_months(-1);
    let first = last.add_months(-11);
    let all = LineFilter { region_prefix: prefix.to_owned(), to: Some(as_of), ..LineFilter::default() };
    let (accounts, _, _) = balances_in(tx, &all)?;
    let positions = positions(&accounts)?;
    let year = LineFilter {
        region_prefix: prefix.to_owned(),
        from: Some(first.first_day()),
        to: Some(last.last_day()),
        ..LineFilter::default()
    };
    let mut expense: BTreeMap<(DivisionCode, Fund), Money> = BTreeMap::new();
    for t in repo::account_totals(tx, &year)? {
        if t.key.account.class() == AccountClass::Expense {
            *expense.entry((t.key.region, t.key.fund)).or_insert(Money::ZERO) += t.debit - t.credit;
        }
    }
    let mut settings: BTreeMap<DivisionCode, i64> = BTreeMap::new();
    let mut funds = Vec::new();
    for p in positions {
        let threshold = match settings.get(&p.region) {
            Some(c) => *c,
            None => {
                let c = alert_centi(&settings_in(tx, p.region.as_str())?);
                settings.insert(p.region, c);
                c
            }
        };
        let e = expense.get(&(p.region, p.fund)).copied().unwrap_or(Money::ZERO);
        let months = rules::payable_months_centi(p.balance, e);
        funds.push(FundSustainability {
            region: p.region,
            fund: p.fund,
            fund_name: p.fund_name,
            balance: p.balance,
            expense_12_months: e,
            monthly_expense_average: Money::from_fen(
                i64::try_from(yibao_domain::money::round_half_up(i128::from(e.fen()), 12)).expect("bounded"),
            ),
            payable_months: months.map(rules::centi_text),
            alert_threshold_months: rules::centi_text(threshold),
            alert: months.is_some_and(|m| m < threshold),
        });
    }
    Ok(SustainabilityReport {
        region_prefix: prefix.to_owned(),
        as_of,
        from_month: first.to_string(),
        to_month: last.to_string(),
        funds,
    })
}

pub async fn sustainability(app: &App, ctx: &Ctx, q: SustainabilityQuery) -> AppResult<SustainabilityReport> {
    ctx.require(Permission::ReadFund)?;
    let prefix = scoped_prefix(ctx, q.region.as_deref())?;
    let as_of = parse_date("as_of", q.as_of.as_deref())?.unwrap_or_else(|| ctx.today());
    app.db.read(move |tx: &mut dyn Tx| sustainability_in(tx, &prefix, as_of)).await
}

// ---------------------------------------------------------------------------
// Institution payables

#[derive(utoipa::ToSchema, Clone, Debug, Serialize, PartialEq, Eq)]
pub struct InstitutionPayable {
    pub fixmedins_code: String,
    pub as_of: Option<Date>,
    /// Per region and fund: payable (2101) and deposit withheld (2102).
    pub accounts: Vec<AccountBalance>,
    pub payable_total: Money,
    pub deposit_total: Money,
}

pub async fn institution_payable(
    app: &App,
    ctx: &Ctx,
    code: &str,
    as_of: Option<String>,
) -> AppResult<InstitutionPayable> {
    ctx.require(Permission::ReadFund)?;
    let code = yibao_domain::institution::InstitutionCode::parse(code).map_err(|e| e.named("code"))?;
    let as_of = parse_date("as_of", as_of.as_deref())?;
    let prefix = ctx.actor.scope.prefix().to_owned();
    let accounts = app
        .db
        .read(move |tx: &mut dyn Tx| {
            let mut out = Vec::new();
            for account in [Account::PayableInstitution, Account::DepositWithheld] {
                let f = LineFilter {
                    region_prefix: prefix.clone(),
                    account: Some(account),
                    sub: Some(code.as_str().to_owned()),
                    to: as_of,
                    ..LineFilter::default()
                };
                out.extend(repo::account_totals(tx, &f)?.iter().map(balance_of));
            }
            Ok::<_, AppError>(out)
        })
        .await?;
    let sum = |a: Account| accounts.iter().filter(|b| b.account == a).map(|b| b.balance).sum();
    Ok(InstitutionPayable {
        fixmedins_code: code.as_str().to_owned(),
        as_of,
        payable_total: sum(Account::PayableInstitution),
        deposit_total: sum(Account::DepositWithheld),
        accounts,
    })
}

// ---------------------------------------------------------------------------
// The journal

#[derive(utoipa::IntoParams, Clone, Debug, Default, Deserialize)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EntryQuery {
    pub region: Option<String>,
    /// opening, contribution, settlement, reversal, withholding, payment, …
    pub kind: Option<String>,
    /// Business reference (setl_id, bill id, clearing id).
    pub reference: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(utoipa::ToSchema, Clone, Debug, Serialize, PartialEq, Eq)]
pub struct EntryLineView {
    pub region: DivisionCode,
    pub fund: Fund,
    pub account: Account,
    pub account_name: &'static str,
    pub sub: String,
    pub side: Side,
    pub amount: Money,
}

#[derive(utoipa::ToSchema, Clone, Debug, Serialize, PartialEq, Eq)]
pub struct EntryView {
    pub id: i64,
    pub kind: EntryKind,
    pub kind_name: &'static str,
    pub reference: String,
    pub reverses: Option<String>,
    pub entry_date: Date,
    pub memo: String,
    pub debit_total: Money,
    pub credit_total: Money,
    pub created_by: String,
    pub created_at_ms: i64,
    pub lines: Vec<EntryLineView>,
}

pub(crate) fn entry_view(s: repo::StoredEntry) -> EntryView {
    let (debit_total, credit_total) = s.entry.totals();
    EntryView {
        id: s.id,
        kind: s.entry.kind,
        kind_name: s.entry.kind.name(),
        reference: s.entry.reference,
        reverses: s.entry.reverses,
        entry_date: s.entry.entry_date,
        memo: s.entry.memo,
        debit_total,
        credit_total,
        created_by: s.created_by,
        created_at_ms: s.created_at_ms,
        lines: s
            .entry
            .lines
            .into_iter()
            .map(|l| EntryLineView {
                region: l.key.region,
                fund: l.key.fund,
                account: l.key.account,
                account_name: l.key.account.name(),
                sub: l.key.sub,
                side: l.side,
                amount: l.amount,
            })
            .collect(),
    }
}

pub async fn entries(app: &App, ctx: &Ctx, q: EntryQuery) -> AppResult<Vec<EntryView>> {
    ctx.require(Permission::ReadFund)?;
    let prefix = scoped_prefix(ctx, q.region.as_deref())?;
    let (limit, offset) = paging(q.limit, q.offset)?;
    let filter = repo::EntryFilter {
        region_prefix: prefix,
        kind: q.kind.as_deref().filter(|s| !s.is_empty()).map(EntryKind::parse).transpose()?,
        reference: q.reference.unwrap_or_default().trim().to_owned(),
        from: parse_date("from", q.from.as_deref())?,
        to: parse_date("to", q.to.as_deref())?,
        limit,
        offset,
    };
    let rows = app.db.read(move |tx: &mut dyn Tx| Ok::<_, AppError>(repo::entries(tx, &filter)?)).await?;
    Ok(rows.into_iter().map(entry_view).collect())
}

// ---------------------------------------------------------------------------
// Transfers between bank accounts and opening balances (staff operations)

#[derive(utoipa::ToSchema, Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferInput {
    pub region: String,
    /// Fund code.
    pub fund: String,
    /// 1001 收入户, 1002 支出户 or 1003 财政专户.
    pub from_account: String,
    pub to_account: String,
    pub amount: Money,
    pub date: Date,
    /// The bank's reference (unique per transfer).
    pub reference: String,
    pub memo: Option<String>,
}

/// 划拨: moves money between two bank accounts of a fund.
pub async fn transfer(app: &App, ctx: &Ctx, input: TransferInput) -> AppResult<EntryView> {
    ctx.require(Permission::WriteFund)?;
    let region = parse_region("region", &input.region)?;
    ctx.require_region(region.as_str())?;
    let fund = Fund::parse(&input.fund)?;
    let from = Account::parse(&input.from_account).map_err(|e| e.named("from_account"))?;
    let to = Account::parse(&input.to_account).map_err(|e| e.named("to_account"))?;
    let lines = rules::transfer_lines(region, fund, from, to, input.amount)?;
    let reference = reference("reference", &input.reference)?;
    let memo =
        clip(&format!("划拨 {} → {} {}", from.name(), to.name(), input.memo.as_deref().map(str::trim).unwrap_or("")));
    let entry = Entry { kind: EntryKind::Transfer, reference, reverses: None, entry_date: input.date, memo, lines };
    write_entry(app, ctx, entry, "fund.transfer", region).await
}

#[derive(utoipa::ToSchema, Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpeningInput {
    pub region: String,
    pub fund: String,
    /// Opening fund balance, held in the fiscal account (财政专户).
    pub amount: Money,
    pub date: Date,
    pub reference: String,
}

/// 期初余额: a fund's balance brought into the ledger (Dr 1003 / Cr 3001).
pub async fn opening(app: &App, ctx: &Ctx, input: OpeningInput) -> AppResult<EntryView> {
    ctx.require(Permission::WriteFund)?;
    let region = parse_region("region", &input.region)?;
    ctx.require_region(region.as_str())?;
    let fund = Fund::parse(&input.fund)?;
    let lines = rules::opening_lines(region, fund, input.amount)?;
    let reference = reference("reference", &input.reference)?;
    let memo = format!("期初余额 {}", fund.name());
    let entry = Entry { kind: EntryKind::Opening, reference, reverses: None, entry_date: input.date, memo, lines };
    write_entry(app, ctx, entry, "fund.opening", region).await
}

async fn write_entry(
    app: &App,
    ctx: &Ctx,
    entry: Entry,
    action: &'static str,
    region: DivisionCode,
) -> AppResult<EntryView> {
    entry.check().map_err(|e| AppError::invalid("amount", e))?;
    let ctx2 = ctx.clone();
    app.db
        .write(move |tx: &mut dyn Tx| {
            refuse_duplicate(tx, entry.kind, &entry.reference)?;
            post(tx, &entry, &ctx2.actor.id, ctx2.now_ms)?;
            let stored = repo::entry_by_reference(tx, entry.kind, &entry.reference)?
                .ok_or_else(|| AppError::Internal("written entry not found".into()))?;
            let view = entry_view(stored);
            audit::record(
                tx,
                &ctx2,
                Change {
                    action,
                    target_kind: "fund_entry",
                    target_id: &view.reference,
                    region: region.as_str(),
                    before: None,
                    after: audit::image(&view),
                },
            )?;
            Ok(view)
        })
        .await
}
