//! 对账: an institution's records against the platform's settlement table.
//!
//! The contract for national transactions 3201 (对总账) and 3202 (对明细账):
//! [`reconcile_totals`] and [`reconcile_details`] are synchronous and run in
//! the caller's (read) job; they check the submitted input (bounded sizes,
//! a bounded period) and compare it with the `settlement` rows of the
//! institution dated `begin_date..=end_date`.
//!
//! Conventions: every settlement row counts, a reversal as a row of its own
//! with negative amounts; totals are per (insutype, clr_type) and a group
//! present on one side only is compared with zeros; details are matched by
//! `setl_id`, and a reversal is flagged with `reversal = true`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use yibao_domain::auth::Permission;
use yibao_domain::codes::{ClrType, Insutype};
use yibao_domain::fund::{self as rules, DetailRecord, Difference, Totals};
use yibao_domain::institution::InstitutionCode;
use yibao_domain::{Date, FieldError, Money};
use yibao_store::Tx;
use yibao_store::fund as repo;

use crate::App;
use crate::ctx::Ctx;
use crate::error::{AppError, AppResult};

/// The longest reconciliation period, in days.
pub const RECONCILE_DAYS_MAX: i32 = 366;
/// Detail rows per reconciliation, on either side.
pub const RECONCILE_DETAILS_MAX: usize = 100_000;
/// Totals groups per reconciliation (every insutype × clr_type fits).
pub const RECONCILE_TOTALS_MAX: usize = 128;
/// Differences listed in a result (all are counted).
pub const DIFFERENCES_LISTED_MAX: usize = 1_000;

/// What is reconciled: one institution's settlements dated
/// `begin_date..=end_date`, optionally of one insutype and/or clr_type.
#[derive(utoipa::ToSchema, Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct ReconcileScope {
    pub fixmedins_code: InstitutionCode,
    pub begin_date: Date,
    pub end_date: Date,
    pub insutype: Option<Insutype>,
    pub clr_type: Option<ClrType>,
}

/// The institution's totals of one (insutype, clr_type) group (3201).
#[derive(utoipa::ToSchema, Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SubmittedTotals {
    pub insutype: Insutype,
    pub clr_type: ClrType,
    /// 结算笔数 (reversals count as rows of their own).
    pub count: i64,
    pub medfee_sumamt: Money,
    pub fund_pay_sumamt: Money,
    pub acct_pay: Money,
}

/// One settlement as the institution recorded it (3202).
#[derive(utoipa::ToSchema, Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SubmittedDetail {
    pub setl_id: String,
    pub medfee_sumamt: Money,
    pub fund_pay_sumamt: Money,
    pub acct_pay: Money,
    /// True for a reversal (退费/冲正 row).
    pub reversal: bool,
}

/// A group's totals on both sides (3201).
#[derive(utoipa::ToSchema, Clone, Debug, Serialize, PartialEq, Eq)]
pub struct TotalsGroup {
    pub insutype: Insutype,
    pub clr_type: ClrType,
    pub platform: Totals,
    pub institution: Totals,
    pub matched: bool,
}

/// The answer: match or mismatch, and the differences.
#[derive(utoipa::ToSchema, Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Reconciliation {
    pub scope: ReconcileScope,
    /// True when there is no difference (对账相符).
    pub matched: bool,
    /// 对账结果说明.
    pub summary: String,
    pub platform_count: i64,
    pub institution_count: i64,
    /// Per group, for totals reconciliation; empty for details.
    pub groups: Vec<TotalsGroup>,
    /// All differences found (the list may be shorter).
    pub differences_total: usize,
    /// At most [`DIFFERENCES_LISTED_MAX`], in key order.
    pub differences: Vec<Difference>,
}

fn check_scope(scope: &ReconcileScope) -> AppResult<()> {
    if scope.end_date < scope.begin_date {
        return Err(AppError::invalid("end_date", "对账结束日期早于开始日期"));
    }
    if scope.begin_date.days_until(scope.end_date) >= RECONCILE_DAYS_MAX {
        return Err(AppError::invalid("end_date", format!("对账期间不能超过{RECONCILE_DAYS_MAX}天")));
    }
    Ok(())
}

fn in_filter(scope: &ReconcileScope, insutype: Insutype, clr_type: ClrType) -> bool {
    scope.insutype.is_none_or(|i| i == insutype) && scope.clr_type.is_none_or(|c| c == clr_type)
}

fn finish(
    scope: &ReconcileScope,
    mut differences: Vec<Difference>,
    p: i64,
    i: i64,
    groups: Vec<TotalsGroup>,
) -> Reconciliation {
    let total = differences.len();
    differences.truncate(DIFFERENCES_LISTED_MAX);
    let summary = if total == 0 {
        format!("对账相符：{p} 笔结算记录一致")
    } else {
        format!("对账不符：平台 {p} 笔、机构 {i} 笔，共 {total} 处差异")
    };
    Reconciliation {
        scope: scope.clone(),
        matched: total == 0,
        summary,
        platform_count: p,
        institution_count: i,
        groups,
        differences_total: total,
        differences,
    }
}

/// 3201 对总账: compares the institution's totals per (insutype, clr_type)
/// with the platform's. A group submitted twice, or outside the scope's
/// insutype/clr_type, is refused as bad input.
pub fn reconcile_totals(
    tx: &mut dyn Tx,
    scope: &ReconcileScope,
    submitted: &[SubmittedTotals],
) -> AppResult<Reconciliation> {
    check_scope(scope)?;
    if submitted.len() > RECONCILE_TOTALS_MAX {
        return Err(AppError::invalid("totals", format!("最多{RECONCILE_TOTALS_MAX}组")));
    }
    let mut theirs: BTreeMap<(Insutype, ClrType), Totals> = BTreeMap::new();
    for (i, s) in submitted.iter().enumerate() {
        let field = |f: &str| format!("totals[{i}].{f}");
        if s.count < 0 || s.count > 100_000_000 {
            return Err(AppError::invalid(field("count"), "结算笔数应在0到100000000之间"));
        }
        if !in_filter(scope, s.insutype, s.clr_type) {
            return Err(AppError::invalid(field("insutype"), "险种或清算类别不在本次对账范围内"));
        }
        let t = Totals {
            count: s.count,
            medfee_sumamt: s.medfee_sumamt,
            fund_pay_sumamt: s.fund_pay_sumamt,
            acct_pay: s.acct_pay,
        };
        if theirs.insert((s.insutype, s.clr_type), t).is_some() {
            return Err(AppError::invalid(field("insutype"), "同一险种和清算类别重复提交"));
        }
    }
    let ours: BTreeMap<(Insutype, ClrType), Totals> = repo::settlement_totals(
        tx,
        scope.fixmedins_code.as_str(),
        scope.begin_date,
        scope.end_date,
        scope.insutype,
        scope.clr_type,
    )?
    .into_iter()
    .collect();
    let differences = rules::compare_totals(&ours, &theirs);
    let mut keys: Vec<(Insutype, ClrType)> = ours.keys().chain(theirs.keys()).copied().collect();
    keys.sort();
    keys.dedup();
    let groups = keys
        .into_iter()
        .map(|k| {
            let platform = ours.get(&k).copied().unwrap_or_default();
            let institution = theirs.get(&k).copied().unwrap_or_default();
            TotalsGroup { insutype: k.0, clr_type: k.1, platform, institution, matched: platform == institution }
        })
        .collect();
    let p = ours.values().map(|t| t.count).sum();
    let i = theirs.values().map(|t| t.count).sum();
    Ok(finish(scope, differences, p, i, groups))
}

/// 3202 对明细账: compares the institution's detail list with the
/// platform's rows, by `setl_id`: missing on either side, amounts or the
/// reversal flag differing, and a setl_id listed twice.
pub fn reconcile_details(
    tx: &mut dyn Tx,
    scope: &ReconcileScope,
    submitted: &[SubmittedDetail],
) -> AppResult<Reconciliation> {
    check_scope(scope)?;
    if submitted.len() > RECONCILE_DETAILS_MAX {
        return Err(AppError::invalid("details", format!("明细最多{RECONCILE_DETAILS_MAX}条，请缩短对账期间")));
    }
    let mut errors = Vec::new();
    for (i, d) in submitted.iter().enumerate() {
        let n = d.setl_id.trim().chars().count();
        if n == 0 || n > 64 {
            errors.push(FieldError::new(format!("details[{i}].setl_id"), "结算编号应为1至64个字符"));
        }
        if errors.len() >= 20 {
            break;
        }
    }
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    let ours = repo::settlement_details(
        tx,
        scope.fixmedins_code.as_str(),
        scope.begin_date,
        scope.end_date,
        scope.insutype,
        scope.clr_type,
        RECONCILE_DETAILS_MAX as i64 + 1,
    )?;
    if ours.len() > RECONCILE_DETAILS_MAX {
        return Err(AppError::invalid(
            "end_date",
            format!("对账期间内平台结算超过{RECONCILE_DETAILS_MAX}笔，请缩短对账期间"),
        ));
    }
    let theirs: Vec<DetailRecord> = submitted
        .iter()
        .map(|d| DetailRecord {
            setl_id: d.setl_id.trim().to_owned(),
            medfee_sumamt: d.medfee_sumamt,
            fund_pay_sumamt: d.fund_pay_sumamt,
            acct_pay: d.acct_pay,
            reversal: d.reversal,
        })
        .collect();
    let differences = rules::compare_details(&ours, &theirs);
    Ok(finish(scope, differences, ours.len() as i64, theirs.len() as i64, Vec::new()))
}

// ---------------------------------------------------------------------------
// The same for staff (财务) over REST

#[derive(utoipa::ToSchema, Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TotalsInput {
    pub fixmedins_code: InstitutionCode,
    pub begin_date: Date,
    pub end_date: Date,
    pub insutype: Option<Insutype>,
    pub clr_type: Option<ClrType>,
    pub totals: Vec<SubmittedTotals>,
}

#[derive(utoipa::ToSchema, Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetailsInput {
    pub fixmedins_code: InstitutionCode,
    pub begin_date: Date,
    pub end_date: Date,
    pub insutype: Option<Insutype>,
    pub clr_type: Option<ClrType>,
    pub details: Vec<SubmittedDetail>,
}

fn staff_scope(
    ctx: &Ctx,
    code: InstitutionCode,
    begin: Date,
    end: Date,
    i: Option<Insutype>,
    c: Option<ClrType>,
) -> AppResult<ReconcileScope> {
    ctx.require(Permission::ReadFund)?;
    ctx.require_region(code.division().as_str())?;
    Ok(ReconcileScope { fixmedins_code: code, begin_date: begin, end_date: end, insutype: i, clr_type: c })
}

pub async fn totals(app: &App, ctx: &Ctx, input: TotalsInput) -> AppResult<Reconciliation> {
    let scope =
        staff_scope(ctx, input.fixmedins_code, input.begin_date, input.end_date, input.insutype, input.clr_type)?;
    app.db.read(move |tx: &mut dyn Tx| reconcile_totals(tx, &scope, &input.totals)).await
}

pub async fn details(app: &App, ctx: &Ctx, input: DetailsInput) -> AppResult<Reconciliation> {
    let scope =
        staff_scope(ctx, input.fixmedins_code, input.begin_date, input.end_date, input.insutype, input.clr_type)?;
    app.db.read(move |tx: &mut dyn Tx| reconcile_details(tx, &scope, &input.details)).await
}

// ---------------------------------------------------------------------------
// The detail file of 3202 (uploaded with 9101) and its result file

/// Bytes of one detail file (9101 upload): 8 MiB holds the row limit at
/// about 80 bytes a row.
pub const DETAIL_FILE_BYTES_MAX: usize = 8 * 1024 * 1024;
/// Errors reported for one file before giving up.
const FILE_ERRORS_MAX: usize = 20;

/// Parses the detail file an institution uploads for 3202 (对明细账).
///
/// Format (national convention): UTF-8 text (a BOM is skipped), one
/// settlement per line, fields separated by tabs (commas are accepted too):
/// `setl_id, mdtrt_id, psn_no, medfee_sumamt, fund_pay_sumamt, acct_pay,
/// refd_setl_flag`. Amounts in yuan with at most 2 decimals, the flag `0`
/// (settlement) or `1` (退费/冲正). A first line naming the columns is
/// skipped; blank lines are skipped. Each error names the line and the field.
pub fn parse_detail_file(bytes: &[u8]) -> AppResult<Vec<SubmittedDetail>> {
    if bytes.len() > DETAIL_FILE_BYTES_MAX {
        return Err(AppError::invalid("file", format!("明细文件超过{}MB", DETAIL_FILE_BYTES_MAX / 1024 / 1024)));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| AppError::invalid("file", "明细文件应为UTF-8编码的文本"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    const COLUMNS: [&str; 7] =
        ["setl_id", "mdtrt_id", "psn_no", "medfee_sumamt", "fund_pay_sumamt", "acct_pay", "refd_setl_flag"];
    let mut rows = Vec::new();
    let mut errors: Vec<FieldError> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> =
            if line.contains('\t') { line.split('\t') } else { line.split(',') }.map(str::trim).collect();
        if rows.is_empty() && errors.is_empty() && fields.first() == Some(&"setl_id") {
            continue; // the header line
        }
        let field = |name: &str| format!("file:第{line_no}行.{name}");
        if fields.len() != COLUMNS.len() {
            errors.push(FieldError::new(
                format!("file:第{line_no}行"),
                format!("应有{}列（{}），实有{}列", COLUMNS.len(), COLUMNS.join("、"), fields.len()),
            ));
        } else {
            let setl_id = fields[0];
            let n = setl_id.chars().count();
            if n == 0 || n > 64 {
                errors.push(FieldError::new(field("setl_id"), "结算编号应为1至64个字符"));
            }
            let mut amount = |i: usize| match Money::parse_yuan(fields[i]) {
                Ok(m) => Some(m),
                Err(e) => {
                    errors.push(FieldError::new(field(COLUMNS[i]), e.reason));
                    None
                }
            };
            let (medfee, fund, acct) = (amount(3), amount(4), amount(5));
            let reversal = match fields[6] {
                "0" => Some(false),
                "1" => Some(true),
                other => {
                    errors.push(FieldError::new(field("refd_setl_flag"), format!("应为0或1，收到“{other}”")));
                    None
                }
            };
            if let (Some(medfee_sumamt), Some(fund_pay_sumamt), Some(acct_pay), Some(reversal)) =
                (medfee, fund, acct, reversal)
            {
                rows.push(SubmittedDetail {
                    setl_id: setl_id.to_owned(),
                    medfee_sumamt,
                    fund_pay_sumamt,
                    acct_pay,
                    reversal,
                });
            }
        }
        if errors.len() >= FILE_ERRORS_MAX {
            break;
        }
        if rows.len() > RECONCILE_DETAILS_MAX {
            return Err(AppError::invalid("file", format!("明细最多{RECONCILE_DETAILS_MAX}条，请缩短对账期间")));
        }
    }
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    Ok(rows)
}

/// The sums of a detail list: (count, medfee_sumamt, fund_pay_sumamt, acct_pay).
pub fn detail_sums(rows: &[SubmittedDetail]) -> AppResult<Totals> {
    let mut t = Totals::default();
    for r in rows {
        t.count += 1;
        t.medfee_sumamt = t.medfee_sumamt.checked_add(r.medfee_sumamt).ok_or_else(overflow)?;
        t.fund_pay_sumamt = t.fund_pay_sumamt.checked_add(r.fund_pay_sumamt).ok_or_else(overflow)?;
        t.acct_pay = t.acct_pay.checked_add(r.acct_pay).ok_or_else(overflow)?;
    }
    Ok(t)
}

fn overflow() -> AppError {
    AppError::invalid("file", "金额合计超出范围")
}

/// The result file of 3202: a header line, then one line per difference
/// (tab-separated: setl_id, kind, field, platform, institution, 说明).
/// A matched reconciliation gives the header and a closing summary line.
pub fn result_file(r: &Reconciliation) -> Vec<u8> {
    let mut out = String::from("setl_id\tdiff_type\tfield\tplatform\tinstitution\tdscr\n");
    for d in &r.differences {
        let kind = match d.kind {
            rules::DifferenceKind::MissingAtInstitution => "1",
            rules::DifferenceKind::MissingOnPlatform => "2",
            rules::DifferenceKind::AmountDiffers => "3",
            rules::DifferenceKind::ReversalFlagDiffers => "4",
        };
        let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
        out.push_str(&format!(
            "{}\t{kind}\t{}\t{}\t{}\t{}\n",
            clean(&d.key),
            clean(&d.field),
            clean(&d.platform),
            clean(&d.institution),
            clean(&d.description)
        ));
    }
    out.push_str(&format!("#\t{}\n", r.summary));
    out.into_bytes()
}
