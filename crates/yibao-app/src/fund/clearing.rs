//! 清算: monthly clearing with each institution and between regions.
//!
//! **With an institution.** A clearing run for (treating region, institution,
//! month) claims every settlement row of the institution in that region dated
//! up to the month's end that no earlier run claimed (a row dated in an
//! earlier month but written late is cleared by the next run; rows older than
//! [`CLEARING_LOOKBACK_DAYS`] before the month are left to manual handling).
//! Each row is claimed once (`fund_clearing_item`), so every settlement and
//! every reversal is traceable to the run that cleared it. Per fund: settled
//! (original rows), reversed (reversal rows, negative), net, withheld =
//! net × the region's share (质量保证金, half-up, nothing from a negative
//! net), payable = net − withheld. Before posting, the run checks that the
//! ledger agrees with the settlement rows: the payable the claimed rows'
//! entries credited to the institution, per fund, must equal their net. The
//! run posts the withholding (Dr 2101 / Cr 2102) and produces a payment
//! instruction; the payment is posted (Dr 2101 / Cr 1002) when the bank
//! confirms it.
//!
//! **Between regions.** A region clearing run for a month claims every
//! cross-region settlement row (both regions within the actor's scope) not yet
//! cleared, sums per (pair of regions, fund) what each owes the other, checks
//! it against the ledger (2201 in the insured region), and posts one entry
//! per pair that clears both directions and moves only the net through the
//! two regions' banks.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use yibao_domain::auth::Permission;
use yibao_domain::division::DivisionCode;
use yibao_domain::fund::{self as rules, Account, Entry, EntryKind, Fund, Month};
use yibao_domain::institution::InstitutionCode;
use yibao_domain::{Date, Money, Ratio};
use yibao_store::fund::{self as repo, ClearingFund, ClearingRecord, RegionClearingRecord};
use yibao_store::{Tx, ids};

use super::{EntryView, post, scoped_prefix, settings_in};
use crate::audit::{self, Change};
use crate::ctx::Ctx;
use crate::error::{AppError, AppResult};
use crate::{App, paging};

/// How far before a clearing month a run still picks up uncleared rows.
pub const CLEARING_LOOKBACK_DAYS: i32 = 366;
/// Institutions cleared by one call without `--institution`.
pub const CLEARING_INSTITUTIONS_MAX: usize = 10_000;

#[derive(utoipa::ToSchema, Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ClearingFundView {
    pub fund: Fund,
    pub fund_name: &'static str,
    pub settled: Money,
    pub reversed: Money,
    pub net: Money,
    pub withheld: Money,
    pub payable: Money,
}

/// A clearing run with an institution.
#[derive(utoipa::ToSchema, Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ClearingView {
    pub id: i64,
    /// 清算编号 (the business reference of its entries).
    pub clearing_no: String,
    /// The region whose ledger holds the payable (the settlements' 就医地).
    pub region: String,
    pub fixmedins_code: String,
    pub fixmedins_name: String,
    pub period: String,
    pub withhold_share: Ratio,
    pub settled_count: i64,
    pub reversed_count: i64,
    /// 结算金额 (fund parts of the settlements).
    pub settled: Money,
    /// 冲正金额 (negative).
    pub reversed: Money,
    pub net: Money,
    /// 预留质量保证金.
    pub withheld: Money,
    /// 应拨付 (negative: the institution repays).
    pub payable: Money,
    /// cleared (待拨付) or paid (已拨付).
    pub status: String,
    pub payment_ref: Option<String>,
    pub paid_date: Option<Date>,
    pub created_by: String,
    pub funds: Vec<ClearingFundView>,
}

fn clearing_no(id: i64) -> String {
    format!("QS{id}")
}

fn view(c: ClearingRecord, name: String) -> ClearingView {
    ClearingView {
        clearing_no: clearing_no(c.id),
        id: c.id,
        region: c.region,
        fixmedins_code: c.fixmedins_code,
        fixmedins_name: name,
        period: c.period,
        withhold_share: Ratio::from_ppm(c.withhold_ppm),
        settled_count: c.settled_count,
        reversed_count: c.reversed_count,
        settled: c.settled,
        reversed: c.reversed,
        net: c.net,
        withheld: c.withheld,
        payable: c.payable,
        status: c.status,
        payment_ref: c.payment_ref,
        paid_date: c.paid_date,
        created_by: c.created_by,
        funds: c
            .funds
            .into_iter()
            .map(|f| ClearingFundView {
                fund: f.fund,
                fund_name: f.fund.name(),
                settled: f.settled,
                reversed: f.reversed,
                net: f.net,
                withheld: f.withheld,
                payable: f.payable,
            })
            .collect(),
    }
}

fn institution_name(tx: &mut dyn Tx, code: &str) -> AppResult<String> {
    Ok(yibao_store::institution::get(tx, code)?.map(|i| i.name).unwrap_or_default())
}

fn check_period_over(ctx: &Ctx, period: Month) -> AppResult<()> {
    if period.last_day() >= ctx.today() {
        return Err(AppError::invalid("period", format!("清算期间 {period} 尚未结束")));
    }
    Ok(())
}

/// Clears one institution in one region for a month, in the caller's job.
pub fn clear_institution_in(
    tx: &mut dyn Tx,
    ctx: &Ctx,
    code: &InstitutionCode,
    region: DivisionCode,
    period: Month,
) -> AppResult<ClearingView> {
    ctx.require_region(region.as_str())?;
    let period_text = period.to_string();
    if repo::clearing_exists(tx, region.as_str(), code.as_str(), &period_text)? {
        return Err(AppError::Conflict(format!("机构 {code} 在 {region} 的 {period} 清算已经完成，不能重复清算")));
    }
    let id = ids::next_id();
    let from = period.first_day().add_days(-CLEARING_LOOKBACK_DAYS);
    let claimed = repo::claim_for_clearing(
        tx,
        "institution",
        id,
        Some((code.as_str(), region.as_str())),
        "",
        from,
        period.last_day(),
    )?;
    if claimed == 0 {
        return Err(AppError::Conflict(format!("机构 {code} 在 {region} 的 {period} 没有待清算的结算记录")));
    }
    let share = settings_in(tx, region.as_str())?.withhold_share;
    let mut per_fund: BTreeMap<Fund, (Money, Money)> = BTreeMap::new();
    let (mut settled_count, mut reversed_count) = (0, 0);
    for s in repo::clearing_sums(tx, "institution", id)? {
        if s.reversal {
            reversed_count += s.count;
        } else {
            settled_count += s.count;
        }
        for (fund, amount) in s.pays.by_fund(s.insutype) {
            let e = per_fund.entry(fund).or_default();
            if s.reversal {
                e.1 += amount;
            } else {
                e.0 += amount;
            }
        }
    }
    // The ledger must agree with the settlement rows before anything is paid.
    let ledger: BTreeMap<Fund, Money> =
        repo::clearing_ledger_sums(tx, "institution", id, region.as_str(), Account::PayableInstitution, code.as_str())?
            .into_iter()
            .filter(|(_, m)| !m.is_zero())
            .collect();
    let expected: BTreeMap<Fund, Money> =
        per_fund.iter().map(|(f, (s, r))| (*f, *s + *r)).filter(|(_, m)| !m.is_zero()).collect();
    if ledger != expected {
        return Err(AppError::Internal(format!(
            "账实不符：机构 {code} {period} 的结算记录基金金额 {expected:?} 与账簿应付款 {ledger:?} 不一致，清算中止"
        )));
    }
    let mut funds = Vec::new();
    for (fund, (settled, reversed)) in per_fund {
        let net = settled + reversed;
        let (withheld, payable) = rules::withhold(net, share);
        funds.push(ClearingFund { fund, settled, reversed, net, withheld, payable });
    }
    let sum = |f: fn(&ClearingFund) -> Money| funds.iter().map(f).sum::<Money>();
    let record = ClearingRecord {
        id,
        region: region.as_str().to_owned(),
        fixmedins_code: code.as_str().to_owned(),
        period: period_text,
        withhold_ppm: share.ppm(),
        settled_count,
        reversed_count,
        settled: sum(|f| f.settled),
        reversed: sum(|f| f.reversed),
        net: sum(|f| f.net),
        withheld: sum(|f| f.withheld),
        payable: sum(|f| f.payable),
        status: "cleared".into(),
        payment_ref: None,
        paid_date: None,
        created_by: ctx.actor.id.clone(),
        created_at_ms: ctx.now_ms,
        paid_by: None,
        paid_at_ms: None,
        funds,
    };
    assert_eq!(record.withheld + record.payable, record.net);
    assert_eq!(record.settled + record.reversed, record.net);
    let withheld: Vec<(Fund, Money)> = record.funds.iter().map(|f| (f.fund, f.withheld)).collect();
    let lines = rules::withholding_lines(region, code, &withheld);
    if !lines.is_empty() {
        let entry = Entry {
            kind: EntryKind::Withholding,
            reference: clearing_no(id),
            reverses: None,
            entry_date: ctx.today(),
            memo: format!("{period} 清算预留质量保证金 {code}（比例 {}）", share.to_percent_string()),
            lines,
        };
        post(tx, &entry, &ctx.actor.id, ctx.now_ms)?;
    }
    repo::insert_clearing(tx, &record)?;
    let name = institution_name(tx, code.as_str())?;
    let v = view(record, name);
    audit::record(
        tx,
        ctx,
        Change {
            action: "fund.clearing.create",
            target_kind: "fund_clearing",
            target_id: &v.clearing_no,
            region: region.as_str(),
            before: None,
            after: audit::image(&v),
        },
    )?;
    Ok(v)
}

#[derive(utoipa::ToSchema, Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClearingInput {
    /// yyyy-MM
    pub period: String,
    /// One institution; every institution with uncleared settlements in
    /// scope when absent.
    pub fixmedins_code: Option<String>,
}

/// Clears a month for one institution (in every treating region in scope
/// where it has uncleared settlements) or for every institution. Each
/// (institution, region) is its own transaction.
pub async fn create(app: &App, ctx: &Ctx, input: ClearingInput) -> AppResult<Vec<ClearingView>> {
    ctx.require(Permission::WriteFund)?;
    let period = Month::parse(&input.period)?;
    check_period_over(ctx, period)?;
    let code = input
        .fixmedins_code
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(|c| InstitutionCode::parse(c).map_err(|e| e.named("fixmedins_code")))
        .transpose()?;
    let prefix = ctx.actor.scope.prefix().to_owned();
    let from = period.first_day().add_days(-CLEARING_LOOKBACK_DAYS);
    let to = period.last_day();
    let pairs = app
        .db
        .read(move |tx: &mut dyn Tx| Ok::<_, AppError>(repo::institutions_to_clear(tx, &prefix, from, to)?))
        .await?;
    let pairs: Vec<(String, String)> =
        pairs.into_iter().filter(|(c, _)| code.is_none_or(|want| want.as_str() == c)).collect();
    if pairs.is_empty() {
        return Err(AppError::Conflict(match code {
            Some(c) => format!("机构 {c} 在 {period} 没有待清算的结算记录"),
            None => format!("{period} 没有待清算的结算记录"),
        }));
    }
    if pairs.len() > CLEARING_INSTITUTIONS_MAX {
        return Err(AppError::invalid("fixmedins_code", "待清算机构过多，请逐个机构清算"));
    }
    let mut out = Vec::with_capacity(pairs.len());
    for (c, r) in pairs {
        let code = InstitutionCode::parse(&c).map_err(|e| AppError::Internal(e.to_string()))?;
        let region = DivisionCode::parse(&r).map_err(|e| AppError::Internal(e.to_string()))?;
        let ctx2 = ctx.clone();
        let v = app.db.write(move |tx: &mut dyn Tx| clear_institution_in(tx, &ctx2, &code, region, period)).await?;
        out.push(v);
    }
    Ok(out)
}

pub async fn get(app: &App, ctx: &Ctx, id: i64) -> AppResult<ClearingView> {
    ctx.require(Permission::ReadFund)?;
    let (c, name) = app
        .db
        .read(move |tx: &mut dyn Tx| {
            let c = repo::clearing(tx, id)?.ok_or_else(|| AppError::not_found("清算", clearing_no(id)))?;
            let name = institution_name(tx, &c.fixmedins_code)?;
            Ok::<_, AppError>((c, name))
        })
        .await?;
    ctx.require_region(&c.region)?;
    Ok(view(c, name))
}

#[derive(utoipa::IntoParams, Clone, Debug, Default, Deserialize)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ClearingQuery {
    pub region: Option<String>,
    pub period: Option<String>,
    pub fixmedins_code: Option<String>,
    /// cleared or paid
    pub status: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

pub async fn list(app: &App, ctx: &Ctx, q: ClearingQuery) -> AppResult<Vec<ClearingView>> {
    ctx.require(Permission::ReadFund)?;
    let prefix = scoped_prefix(ctx, q.region.as_deref())?;
    let (limit, offset) = paging(q.limit, q.offset)?;
    let period = q.period.as_deref().filter(|s| !s.is_empty()).map(Month::parse).transpose()?;
    let status = q.status.unwrap_or_default();
    if !["", "cleared", "paid"].contains(&status.as_str()) {
        return Err(AppError::invalid("status", "状态应为 cleared 或 paid"));
    }
    let filter = repo::ClearingFilter {
        region_prefix: prefix,
        period: period.map(|p| p.to_string()).unwrap_or_default(),
        fixmedins_code: q.fixmedins_code.unwrap_or_default().trim().to_owned(),
        status,
        limit,
        offset,
    };
    app.db
        .read(move |tx: &mut dyn Tx| {
            let mut out = Vec::new();
            for c in repo::clearings(tx, &filter)? {
                let name = institution_name(tx, &c.fixmedins_code)?;
                out.push(view(c, name));
            }
            Ok::<_, AppError>(out)
        })
        .await
}

#[derive(utoipa::ToSchema, Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentInput {
    /// The bank's reference of the transfer (流水号).
    pub payment_ref: String,
    pub paid_date: Date,
}

/// Posts the payment of a clearing once the bank confirms it.
pub async fn confirm_payment(app: &App, ctx: &Ctx, id: i64, input: PaymentInput) -> AppResult<ClearingView> {
    ctx.require(Permission::WriteFund)?;
    let payment_ref = input.payment_ref.trim().to_owned();
    if payment_ref.is_empty() || payment_ref.chars().count() > 64 {
        return Err(AppError::invalid("payment_ref", "银行流水号应为1至64个字符"));
    }
    let ctx2 = ctx.clone();
    app.db
        .write(move |tx: &mut dyn Tx| {
            let before = repo::clearing(tx, id)?.ok_or_else(|| AppError::not_found("清算", clearing_no(id)))?;
            ctx2.require_region(&before.region)?;
            if before.status != "cleared" {
                return Err(AppError::Conflict(format!("清算 {} 已拨付，不能重复拨付", clearing_no(id))));
            }
            if Month::parse(&before.period).map(|p| input.paid_date <= p.last_day()).unwrap_or(false) {
                return Err(AppError::invalid("paid_date", "拨付日期应在清算期间之后"));
            }
            let region = DivisionCode::parse(&before.region).map_err(|e| AppError::Internal(e.to_string()))?;
            let code = InstitutionCode::parse(&before.fixmedins_code).map_err(|e| AppError::Internal(e.to_string()))?;
            let payable: Vec<(Fund, Money)> = before.funds.iter().map(|f| (f.fund, f.payable)).collect();
            let lines = rules::payment_lines(region, &code, &payable);
            if !lines.is_empty() {
                let entry = Entry {
                    kind: EntryKind::Payment,
                    reference: clearing_no(id),
                    reverses: None,
                    entry_date: input.paid_date,
                    memo: format!("{} 清算拨付 {code} 银行流水 {payment_ref}", before.period),
                    lines,
                };
                post(tx, &entry, &ctx2.actor.id, ctx2.now_ms)?;
            }
            if !repo::mark_paid(tx, id, &payment_ref, input.paid_date, &ctx2.actor.id, ctx2.now_ms)? {
                return Err(AppError::Conflict(format!("清算 {} 状态已变化，请刷新", clearing_no(id))));
            }
            let after = repo::clearing(tx, id)?.ok_or_else(|| AppError::Internal("clearing vanished".into()))?;
            let name = institution_name(tx, &after.fixmedins_code)?;
            let (b, a) = (view(before, name.clone()), view(after, name));
            audit::record(
                tx,
                &ctx2,
                Change {
                    action: "fund.clearing.pay",
                    target_kind: "fund_clearing",
                    target_id: &a.clearing_no,
                    region: &a.region,
                    before: audit::image(&b),
                    after: audit::image(&a),
                },
            )?;
            Ok(a)
        })
        .await
}

/// The payment instruction file (拨付指令) of a clearing: CSV, one line per
/// fund with a positive amount to pay, UTF-8 with BOM (opens in Excel).
pub fn instruction_csv(c: &ClearingView) -> AppResult<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "清算编号",
        "清算期间",
        "统筹区",
        "机构编码",
        "机构名称",
        "基金编码",
        "基金名称",
        "付款账户",
        "拨付金额（元）",
        "备注",
    ])
    .map_err(|e| AppError::Internal(e.to_string()))?;
    for f in &c.funds {
        if f.payable.is_zero() {
            continue;
        }
        let note = if f.payable.is_negative() { "应收回（机构退回）" } else { "" };
        w.write_record([
            c.clearing_no.as_str(),
            c.period.as_str(),
            c.region.as_str(),
            c.fixmedins_code.as_str(),
            c.fixmedins_name.as_str(),
            f.fund.code(),
            f.fund_name,
            "支出户",
            &f.payable.to_string(),
            note,
        ])
        .map_err(|e| AppError::Internal(e.to_string()))?;
    }
    w.write_record(["合计", "", "", "", "", "", "", "", &c.payable.to_string(), ""])
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let mut out = b"\xEF\xBB\xBF".to_vec();
    out.extend(w.into_inner().map_err(|e| AppError::Internal(e.to_string()))?);
    Ok(out)
}

// ---------------------------------------------------------------------------
// Cross-region clearing

#[derive(utoipa::ToSchema, Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RegionClearingView {
    pub run_id: i64,
    pub period: String,
    pub region_a: String,
    pub region_b: String,
    pub fund: Fund,
    pub fund_name: &'static str,
    /// What A's insured persons' care in B cost A's fund.
    pub a_owes_b: Money,
    pub b_owes_a: Money,
    /// Positive: A pays B; negative: B pays A.
    pub net: Money,
}

fn region_view(r: RegionClearingRecord) -> RegionClearingView {
    RegionClearingView {
        run_id: r.run_id,
        period: r.period,
        region_a: r.region_a,
        region_b: r.region_b,
        fund: r.fund,
        fund_name: r.fund.name(),
        a_owes_b: r.a_owes_b,
        b_owes_a: r.b_owes_a,
        net: r.net,
    }
}

/// Runs the cross-region clearing of a month in the caller's job.
pub fn clear_regions_in(tx: &mut dyn Tx, ctx: &Ctx, period: Month) -> AppResult<Vec<RegionClearingView>> {
    let prefix = ctx.actor.scope.prefix().to_owned();
    let run_id = ids::next_id();
    let from = period.first_day().add_days(-CLEARING_LOOKBACK_DAYS);
    let claimed = repo::claim_for_clearing(tx, "region", run_id, None, &prefix, from, period.last_day())?;
    if claimed == 0 {
        return Err(AppError::Conflict(format!("{period} 没有待清算的异地就医结算")));
    }
    // (a, b) with a < b → fund → (a owes b, b owes a).
    let mut owed: BTreeMap<(DivisionCode, DivisionCode), BTreeMap<Fund, (Money, Money)>> = BTreeMap::new();
    for s in repo::clearing_sums(tx, "region", run_id)? {
        let (insured, treating) = (s.insu_admdvs, s.mdtrtarea_admvs);
        assert_ne!(insured, treating, "only cross-region rows are claimed");
        let (a, b) = if insured < treating { (insured, treating) } else { (treating, insured) };
        let funds = owed.entry((a, b)).or_default();
        for (fund, amount) in s.pays.by_fund(s.insutype) {
            let e = funds.entry(fund).or_default();
            if insured == a {
                e.0 += amount;
            } else {
                e.1 += amount;
            }
        }
    }
    // The ledger must agree: what each insured region booked as payable to
    // the other region for these rows.
    for ((a, b), funds) in &owed {
        for (debtor, creditor, pick) in [(a, b, 0), (b, a, 1)] {
            let ledger: BTreeMap<Fund, Money> = repo::clearing_ledger_sums(
                tx,
                "region",
                run_id,
                debtor.as_str(),
                Account::PayableRegion,
                creditor.as_str(),
            )?
            .into_iter()
            .filter(|(_, m)| !m.is_zero())
            .collect();
            let expected: BTreeMap<Fund, Money> = funds
                .iter()
                .map(|(f, (x, y))| (*f, if pick == 0 { *x } else { *y }))
                .filter(|(_, m)| !m.is_zero())
                .collect();
            if ledger != expected {
                return Err(AppError::Internal(format!(
                    "账实不符：{debtor} 应付 {creditor} 的异地就医款 {expected:?} 与账簿 {ledger:?} 不一致，清算中止"
                )));
            }
        }
    }
    let mut out = Vec::new();
    for ((a, b), funds) in owed {
        let mut lines = Vec::new();
        let mut records = Vec::new();
        for (fund, (x, y)) in funds {
            if x.is_zero() && y.is_zero() {
                continue;
            }
            lines.extend(rules::region_clearing_lines(a, b, fund, x, y)?);
            records.push(RegionClearingRecord {
                id: ids::next_id(),
                run_id,
                period: period.to_string(),
                region_a: a.as_str().to_owned(),
                region_b: b.as_str().to_owned(),
                fund,
                a_owes_b: x,
                b_owes_a: y,
                net: x - y,
                created_by: ctx.actor.id.clone(),
                created_at_ms: ctx.now_ms,
            });
        }
        if lines.is_empty() {
            continue;
        }
        let entry = Entry {
            kind: EntryKind::RegionClearing,
            reference: format!("YD{run_id}-{a}-{b}"),
            reverses: None,
            entry_date: ctx.today(),
            memo: format!("{period} 异地就医清算 {a} ↔ {b}"),
            lines,
        };
        post(tx, &entry, &ctx.actor.id, ctx.now_ms)?;
        for r in records {
            repo::insert_region_clearing(tx, &r)?;
            out.push(region_view(r));
        }
    }
    audit::record(
        tx,
        ctx,
        Change {
            action: "fund.region_clearing.create",
            target_kind: "fund_region_clearing",
            target_id: &format!("YD{run_id}"),
            region: &prefix,
            before: None,
            after: audit::image(&out),
        },
    )?;
    Ok(out)
}

#[derive(utoipa::ToSchema, Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionClearingInput {
    /// yyyy-MM
    pub period: String,
}

pub async fn clear_regions(app: &App, ctx: &Ctx, input: RegionClearingInput) -> AppResult<Vec<RegionClearingView>> {
    ctx.require(Permission::WriteFund)?;
    let period = Month::parse(&input.period)?;
    check_period_over(ctx, period)?;
    let ctx2 = ctx.clone();
    app.db.write(move |tx: &mut dyn Tx| clear_regions_in(tx, &ctx2, period)).await
}

#[derive(utoipa::IntoParams, Clone, Debug, Default, Deserialize)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RegionClearingQuery {
    pub region: Option<String>,
    pub period: Option<String>,
}

pub async fn region_clearings(app: &App, ctx: &Ctx, q: RegionClearingQuery) -> AppResult<Vec<RegionClearingView>> {
    ctx.require(Permission::ReadFund)?;
    let prefix = scoped_prefix(ctx, q.region.as_deref())?;
    let period = q.period.as_deref().filter(|s| !s.is_empty()).map(Month::parse).transpose()?;
    let period = period.map(|p| p.to_string()).unwrap_or_default();
    let rows =
        app.db.read(move |tx: &mut dyn Tx| Ok::<_, AppError>(repo::region_clearings(tx, &prefix, &period)?)).await?;
    Ok(rows.into_iter().map(region_view).collect())
}

/// The journal entries of a clearing (withholding and payment), for tracing.
pub async fn clearing_entries(app: &App, ctx: &Ctx, id: i64) -> AppResult<Vec<EntryView>> {
    let c = get(app, ctx, id).await?;
    let no = c.clearing_no.clone();
    let rows = app
        .db
        .read(move |tx: &mut dyn Tx| {
            let mut out = Vec::new();
            for kind in [EntryKind::Withholding, EntryKind::Payment] {
                out.extend(repo::entry_by_reference(tx, kind, &no)?);
            }
            Ok::<_, AppError>(out)
        })
        .await?;
    Ok(rows.into_iter().map(super::entry_view).collect())
}
