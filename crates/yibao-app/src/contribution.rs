//! 缴费: contribution policies, assessment (核定) into bills, and what
//! happens when a bill is paid (paid periods, account credits, the ledger
//! posting).

use serde::{Deserialize, Serialize};
use sha2::Digest;
use yibao_domain::account::MovementKind;
use yibao_domain::auth::Permission;
use yibao_domain::codes::{Insutype, PersonCategory, PsnType};
use yibao_domain::contribution::{Bill, BillKind, BillLine, BillStatus, ContributionPolicy, Period};
use yibao_domain::division::DivisionCode;
use yibao_domain::enrollment::PaidPeriod;
use yibao_domain::payment::Channel;
use yibao_domain::{Date, Money};
use yibao_store::contribution::{self as repo, PaidRow};
use yibao_store::{Tx, employer as employers, enrollment as persons};

use crate::account::{Post, post};
use crate::audit::{self, Change};
use crate::ctx::Ctx;
use crate::error::{AppError, AppResult};
use crate::{App, Page, paging, postings};

/// Largest policy document accepted.
pub const POLICY_BYTES_MAX: usize = 64 * 1024;

/// The contribution policy in force for a region, insurance type and date.
pub fn policy_in_force(tx: &mut dyn Tx, region: &str, insutype: Insutype, date: Date) -> AppResult<ContributionPolicy> {
    repo::policy_on(tx, region, insutype, date)?.map(|p| p.policy).ok_or_else(|| {
        AppError::Conflict(format!("统筹区 {region} 在 {date} 没有{}缴费政策，请先录入", insutype.name()))
    })
}

/// Stores a validated policy version inside a job (demo, API).
pub fn store_policy(tx: &mut dyn Tx, ctx: &Ctx, policy: &ContributionPolicy) -> AppResult<i64> {
    policy.validate()?;
    if repo::policy_exists(tx, &policy.region, policy.insutype, policy.begin_date)? {
        return Err(AppError::Conflict(format!(
            "统筹区 {} 的{}缴费政策在 {} 已有版本",
            policy.region,
            policy.insutype.name(),
            policy.begin_date
        )));
    }
    let json = serde_json::to_string(policy).map_err(|e| AppError::Internal(e.to_string()))?;
    let sha = hex::encode(sha2::Sha256::digest(json.as_bytes()));
    let id = yibao_store::ids::next_id();
    repo::insert_policy(tx, id, policy, &sha, &ctx.actor.id, ctx.now_ms)?;
    audit::record(
        tx,
        ctx,
        Change {
            action: "contribution.policy.create",
            target_kind: "contribution_policy",
            target_id: &id.to_string(),
            region: &policy.region,
            before: None,
            after: audit::image(policy),
        },
    )?;
    Ok(id)
}

#[derive(utoipa::ToSchema, Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyUpload {
    /// The policy as TOML text (the format of `policies/ningbo-contribution-310.toml`).
    pub toml: String,
}

#[derive(utoipa::ToSchema, Clone, Debug, Serialize)]
pub struct PolicyView {
    pub id: i64,
    pub sha256: String,
    #[schema(value_type = Object)]
    pub policy: serde_json::Value,
}

/// Adds a policy version (管理员).
pub async fn create_policy(app: &App, ctx: &Ctx, upload: PolicyUpload) -> AppResult<PolicyView> {
    ctx.require(Permission::WritePolicy)?;
    if upload.toml.len() > POLICY_BYTES_MAX {
        return Err(AppError::invalid("toml", format!("政策文件不能超过{}KB", POLICY_BYTES_MAX / 1024)));
    }
    let policy = ContributionPolicy::from_toml_str(&upload.toml)?;
    policy.validate()?;
    app.divisions().parse(&policy.region).map_err(|e| e.named("region"))?;
    ctx.require_region(&policy.region)?;
    let ctx2 = ctx.clone();
    let p = policy.clone();
    let id = app.db.write(move |tx: &mut dyn Tx| store_policy(tx, &ctx2, &p)).await?;
    let json = serde_json::to_string(&policy).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(PolicyView {
        id,
        sha256: hex::encode(sha2::Sha256::digest(json.as_bytes())),
        policy: serde_json::to_value(&policy).map_err(|e| AppError::Internal(e.to_string()))?,
    })
}

/// Policy versions in the caller's scope.
pub async fn list_policies(app: &App, ctx: &Ctx) -> AppResult<Vec<PolicyView>> {
    ctx.require(Permission::ReadBusiness)?;
    let scope = ctx.actor.scope.prefix().to_owned();
    let rows = app.db.read(move |tx: &mut dyn Tx| Ok::<_, AppError>(repo::policies_of(tx, &scope)?)).await?;
    rows.into_iter()
        .map(|p| {
            Ok(PolicyView {
                id: p.id,
                sha256: p.sha256,
                policy: serde_json::to_value(&p.policy).map_err(|e| AppError::Internal(e.to_string()))?,
            })
        })
        .collect()
}

// ---------------------------------------------------------------- assessment

#[derive(utoipa::ToSchema, Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssessmentRun {
    /// Pooling region (6 digits).
    pub region: String,
    /// `yyyy-MM`: employees and flexible workers (职工, monthly);
    /// `yyyy`: residents (居民, yearly).
    pub period: String,
}

#[derive(utoipa::ToSchema, Clone, Debug, Serialize, Default)]
pub struct AssessmentReport {
    pub region: String,
    pub period: String,
    pub bills: usize,
    pub persons: usize,
    /// Persons already assessed for the period (the run is repeatable).
    pub already_assessed: usize,
    /// Employees without a declared base for the year: not assessed.
    pub missing_base: Vec<String>,
    pub amount_due: Money,
    pub government_subsidy: Money,
    pub assistance_paid: Money,
    /// Bills paid in full by 医疗救助 at assessment.
    pub paid_by_assistance: usize,
}

fn new_bill(kind: BillKind, region: DivisionCode, insutype: Insutype, period: Period) -> Bill {
    Bill {
        bill_id: format!("B{}", yibao_store::ids::next_id()),
        kind,
        insu_admdvs: region,
        insutype,
        period: period.to_string(),
        emp_no: None,
        psn_no: None,
        hh_no: None,
        employer_share: Money::ZERO,
        personal_share: Money::ZERO,
        government_subsidy: Money::ZERO,
        assistance_paid: Money::ZERO,
        to_accounts: Money::ZERO,
        amount_due: Money::ZERO,
        status: BillStatus::Unpaid,
        paid_date: None,
        paid_order_no: None,
        lines: Vec::new(),
    }
}

fn is_flexible(t: PsnType) -> bool {
    matches!(t, PsnType::FlexibleActive)
}

/// Assesses one period of a region inside a job. Employees: one bill per
/// active employer with a line per employee (base declared for the year);
/// flexible workers: one bill each; retirees pay nothing. Residents: one
/// bill per household (or per person without one), with the subsidy and the
/// 医疗救助 share recorded; a bill fully paid by 医疗救助 is settled at once.
pub fn assess_in_job(
    tx: &mut dyn Tx,
    ctx: &Ctx,
    region: DivisionCode,
    period: Period,
) -> AppResult<(AssessmentReport, Vec<Bill>)> {
    assess_in_job_for(tx, ctx, region, period, None)
}

/// [`assess_in_job`] restricted to some persons (renewal of one household).
pub fn assess_in_job_for(
    tx: &mut dyn Tx,
    ctx: &Ctx,
    region: DivisionCode,
    period: Period,
    only: Option<&[String]>,
) -> AppResult<(AssessmentReport, Vec<Bill>)> {
    let wanted = |psn_no: &str| only.is_none_or(|o| o.iter().any(|p| p == psn_no));
    let first = period.first_day();
    let last = period.last_day();
    let already = repo::assessed_persons(tx, &period.to_string(), region.as_str())?;
    let mut report =
        AssessmentReport { region: region.as_str().into(), period: period.to_string(), ..Default::default() };
    let mut bills: Vec<Bill> = Vec::new();
    match period {
        Period::Month { year, .. } => {
            let policy = policy_in_force(tx, region.as_str(), Insutype::EmployeeBasic, first)?;
            let rules = *policy.employee()?;
            let enrolled =
                persons::enrollments_in_period(tx, region.as_str(), Insutype::EmployeeBasic, first, last, None)?;
            let mut by_employer: std::collections::BTreeMap<String, Bill> = Default::default();
            for d in enrolled {
                let e = &d.enrollment;
                if e.psn_type.category() != PersonCategory::Active || !wanted(&e.psn_no) {
                    continue;
                }
                if already.contains(&e.psn_no) {
                    report.already_assessed += 1;
                    continue;
                }
                let Some(base) = employers::base_of(tx, &e.psn_no, year)? else {
                    report.missing_base.push(e.psn_no.clone());
                    continue;
                };
                let (m, category) = if is_flexible(e.psn_type) || d.emp_no.is_none() {
                    (rules.flexible_month(base.base), "flexible")
                } else {
                    (rules.employee_month(base.base), "employee")
                };
                let line = BillLine {
                    psn_no: e.psn_no.clone(),
                    enrollment_id: e.id,
                    category: category.into(),
                    base: m.base,
                    employer_share: m.employer_share,
                    personal_share: m.personal_share,
                    government_subsidy: Money::ZERO,
                    assistance_paid: Money::ZERO,
                    to_account: m.to_account,
                };
                match &d.emp_no {
                    Some(emp) if category == "employee" => {
                        let employer = employers::get(tx, emp)?;
                        if employer.is_none_or(|x| x.status != yibao_domain::employer::EmployerStatus::Active) {
                            continue;
                        }
                        by_employer
                            .entry(emp.clone())
                            .or_insert_with(|| {
                                let mut b = new_bill(BillKind::EmployerMonth, region, Insutype::EmployeeBasic, period);
                                b.emp_no = Some(emp.clone());
                                b
                            })
                            .lines
                            .push(line);
                    }
                    _ => {
                        let mut b = new_bill(BillKind::FlexibleMonth, region, Insutype::EmployeeBasic, period);
                        b.psn_no = Some(e.psn_no.clone());
                        b.lines.push(line);
                        bills.push(b);
                    }
                }
            }
            bills.extend(by_employer.into_values());
        }
        Period::Year(_) => {
            let policy = policy_in_force(tx, region.as_str(), Insutype::ResidentBasic, first)?;
            let rules = policy.resident()?.clone();
            let enrolled =
                persons::enrollments_in_period(tx, region.as_str(), Insutype::ResidentBasic, first, last, None)?;
            let mut by_household: std::collections::BTreeMap<String, Bill> = Default::default();
            for d in enrolled {
                let e = &d.enrollment;
                if !wanted(&e.psn_no) {
                    continue;
                }
                if already.contains(&e.psn_no) {
                    report.already_assessed += 1;
                    continue;
                }
                let Some(person) = persons::person(tx, &e.psn_no)? else { continue };
                if person.death_date.is_some_and(|dd| dd < first) {
                    continue;
                }
                let category = rules.category(e.psn_type, person.age_on(first));
                let y = rules.resident_year(category, e.assistance_category);
                let line = BillLine {
                    psn_no: e.psn_no.clone(),
                    enrollment_id: e.id,
                    category: serde_json::to_value(category)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    base: Money::ZERO,
                    employer_share: Money::ZERO,
                    personal_share: y.personal_share,
                    government_subsidy: y.government_subsidy,
                    assistance_paid: y.assistance_paid,
                    to_account: Money::ZERO,
                };
                match persons::household_of(tx, &e.psn_no)? {
                    Some(hh) => by_household
                        .entry(hh.clone())
                        .or_insert_with(|| {
                            let mut b = new_bill(BillKind::ResidentYear, region, Insutype::ResidentBasic, period);
                            b.hh_no = Some(hh.clone());
                            b
                        })
                        .lines
                        .push(line),
                    None => {
                        let mut b = new_bill(BillKind::ResidentYear, region, Insutype::ResidentBasic, period);
                        b.psn_no = Some(e.psn_no.clone());
                        b.lines.push(line);
                        bills.push(b);
                    }
                }
            }
            bills.extend(by_household.into_values());
        }
    }
    for b in bills.iter_mut() {
        b.total_lines();
        report.persons += b.lines.len();
        report.amount_due += b.amount_due;
        report.government_subsidy += b.government_subsidy;
        report.assistance_paid += b.assistance_paid;
    }
    report.bills = bills.len();
    repo::insert_bills(tx, &bills, ctx.now_ms)?;
    let today = ctx.today();
    for b in bills.iter_mut() {
        if b.amount_due.is_zero() && b.assistance_paid.is_positive() {
            let order_no = format!("A{}", yibao_store::ids::next_id());
            let order = repo::Order {
                order_no: order_no.clone(),
                bill_id: b.bill_id.clone(),
                channel: Channel::Assistance,
                amount: Money::ZERO,
                status: yibao_domain::payment::OrderStatus::Paid,
                channel_ref: String::new(),
                channel_txn_id: Some(order_no.clone()),
                late: false,
                paid_date: Some(today),
                created_at_ms: ctx.now_ms,
                expires_at_ms: ctx.now_ms,
            };
            repo::insert_order(tx, &order, &ctx.actor.id, ctx.now_ms)?;
            settle_bill(tx, ctx, b, &order_no, Channel::Assistance, today)?;
            report.paid_by_assistance += 1;
        }
    }
    audit::record(
        tx,
        ctx,
        Change {
            action: "contribution.assess",
            target_kind: "region",
            target_id: region.as_str(),
            region: region.as_str(),
            before: None,
            after: audit::image(&report),
        },
    )?;
    Ok((report, bills))
}

/// Assesses a period for a region (经办).
pub async fn assess(app: &App, ctx: &Ctx, run: AssessmentRun) -> AppResult<AssessmentReport> {
    ctx.require(Permission::WriteEnrollment)?;
    let region = app.divisions().parse(&run.region).map_err(|e| e.named("region"))?.code();
    ctx.require_region(region.as_str())?;
    let period = Period::parse(&run.period)?;
    let ctx2 = ctx.clone();
    app.db.write(move |tx: &mut dyn Tx| assess_in_job(tx, &ctx2, region, period).map(|(r, _)| r)).await
}

/// Marks a bill paid inside the payment's job: paid periods for every line,
/// the personal-account part credited, the ledger posting, the audit record.
/// The caller has recorded the order; `bill` is the locked, unpaid bill.
pub fn settle_bill(
    tx: &mut dyn Tx,
    ctx: &Ctx,
    bill: &mut Bill,
    order_no: &str,
    channel: Channel,
    paid_date: Date,
) -> AppResult<()> {
    if repo::mark_bill_paid(tx, &bill.bill_id, paid_date, order_no, ctx.now_ms)? != 1 {
        return Err(AppError::Conflict(format!("账单 {} 已缴费或已作废", bill.bill_id)));
    }
    let period = Period::parse(&bill.period)?;
    let rows: Vec<PaidRow> = bill
        .lines
        .iter()
        .map(|l| PaidRow {
            psn_no: l.psn_no.clone(),
            enrollment_id: l.enrollment_id,
            insutype: bill.insutype,
            period: PaidPeriod { start: period.first_day(), end: period.last_day(), paid_on: paid_date },
            source: "bill",
            source_ref: bill.bill_id.clone(),
        })
        .collect();
    repo::insert_paid(tx, &rows, ctx.now_ms)?;
    for l in bill.lines.iter().filter(|l| l.to_account.is_positive()) {
        yibao_store::account::open(tx, &l.psn_no, bill.insu_admdvs, ctx.now_ms)?;
        post(
            tx,
            Post {
                psn_no: &l.psn_no,
                kind: MovementKind::ContributionCredit,
                amount: l.to_account,
                reference: &bill.bill_id,
                related_ref: Some(&bill.period),
                user_psn_no: None,
                authorization_id: None,
                date: paid_date,
            },
            ctx.now_ms,
        )?;
    }
    // The person pays the personal share less what 医疗救助 paid for them.
    postings::contribution_collected(
        tx,
        &postings::ContributionCollected {
            bill_id: bill.bill_id.clone(),
            payment_ref: order_no.to_owned(),
            channel: channel.as_str().to_owned(),
            insu_admdvs: bill.insu_admdvs,
            insutype: bill.insutype,
            psn_no: bill.psn_no.clone(),
            employer_id: bill.emp_no.clone(),
            period: bill.period.clone(),
            paid_date,
            employer_share: bill.employer_share,
            personal_share: bill.personal_share - bill.assistance_paid,
            government_subsidy: bill.government_subsidy,
            assistance_paid: bill.assistance_paid,
            to_personal_accounts: bill.to_accounts,
        },
    )?;
    let before = audit::image(&serde_json::json!({"bill_id": bill.bill_id, "status": "unpaid"}));
    bill.status = BillStatus::Paid;
    bill.paid_date = Some(paid_date);
    bill.paid_order_no = Some(order_no.to_owned());
    audit::record(
        tx,
        ctx,
        Change {
            action: "contribution.bill.paid",
            target_kind: "bill",
            target_id: &bill.bill_id,
            region: bill.insu_admdvs.as_str(),
            before,
            after: audit::image(&serde_json::json!({
                "bill_id": bill.bill_id, "status": "paid", "order_no": order_no, "channel": channel.as_str(),
                "amount_due": bill.amount_due, "paid_date": paid_date, "late_or_not": "see order"
            })),
        },
    )?;
    Ok(())
}

/// Credits retirees of a region their monthly amount inside a job; returns
/// (credited, already credited, amount each).
pub fn allocate_retirees_in_job(
    tx: &mut dyn Tx,
    ctx: &Ctx,
    region: DivisionCode,
    period: Period,
) -> AppResult<(usize, usize, Money)> {
    let first = period.first_day();
    let policy = policy_in_force(tx, region.as_str(), Insutype::EmployeeBasic, first)?;
    let each = policy.employee()?.retiree_monthly_credit;
    let reference = format!("retiree:{period}");
    let mut credited = 0;
    let mut already = 0;
    if each.is_zero() {
        return Ok((0, 0, each));
    }
    for d in
        persons::enrollments_in_period(tx, region.as_str(), Insutype::EmployeeBasic, first, period.last_day(), None)?
    {
        let e = &d.enrollment;
        if e.psn_type.category() != PersonCategory::Retired {
            continue;
        }
        yibao_store::account::open(tx, &e.psn_no, region, ctx.now_ms)?;
        if yibao_store::account::movement_by_ref_of(tx, &e.psn_no, MovementKind::RetireeAllocation, &reference)?
            .is_some()
        {
            already += 1;
            continue;
        }
        post(
            tx,
            Post {
                psn_no: &e.psn_no,
                kind: MovementKind::RetireeAllocation,
                amount: each,
                reference: &reference,
                related_ref: None,
                user_psn_no: None,
                authorization_id: None,
                date: first,
            },
            ctx.now_ms,
        )?;
        postings::account_credited(
            tx,
            &postings::AccountCredited {
                reference: format!("{reference}:{}", e.psn_no),
                psn_no: e.psn_no.clone(),
                insu_admdvs: region,
                source: postings::AccountCreditSource::RetireeAllocation,
                amount: each,
                date: first,
            },
        )?;
        credited += 1;
    }
    Ok((credited, already, each))
}

// ---------------------------------------------------------------- queries

#[derive(utoipa::IntoParams, Clone, Debug, Default, Deserialize)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BillQuery {
    pub emp_no: Option<String>,
    pub psn_no: Option<String>,
    pub hh_no: Option<String>,
    pub period: Option<String>,
    /// `unpaid`, `paid` or `cancelled`.
    pub status: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// Bills in the caller's scope (lines omitted), by employer, person, household, period, status.
pub async fn list_bills(app: &App, ctx: &Ctx, q: BillQuery) -> AppResult<Page<Bill>> {
    ctx.require(Permission::ReadBusiness)?;
    let (limit, offset) = paging(q.limit, q.offset)?;
    let clean = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty() && s.len() <= 40);
    let filter = repo::BillFilter {
        region_prefix: ctx.actor.scope.prefix().to_owned(),
        emp_no: clean(q.emp_no),
        psn_no: clean(q.psn_no),
        hh_no: clean(q.hh_no),
        period: clean(q.period).map(|p| Period::parse(&p).map(|p| p.to_string())).transpose()?,
        status: clean(q.status).map(|s| BillStatus::parse(&s)).transpose()?,
        limit,
        offset,
    };
    let (items, total) = app.db.read(move |tx: &mut dyn Tx| Ok::<_, AppError>(repo::list_bills(tx, &filter)?)).await?;
    Ok(Page { total, limit, offset, items })
}

#[derive(utoipa::ToSchema, Clone, Debug, Serialize)]
pub struct BillView {
    #[serde(flatten)]
    pub bill: Bill,
    pub orders: Vec<OrderView>,
}

#[derive(utoipa::ToSchema, Clone, Debug, Serialize)]
pub struct OrderView {
    pub order_no: String,
    pub bill_id: String,
    pub channel: Channel,
    pub amount: Money,
    pub status: yibao_domain::payment::OrderStatus,
    /// What the channel returned on creation (prepay id and code URL, trade number, batch number).
    pub channel_ref: String,
    pub channel_txn_id: Option<String>,
    pub late: bool,
    pub paid_date: Option<Date>,
    pub expires_at: yibao_domain::DateTime,
}

impl From<repo::Order> for OrderView {
    fn from(o: repo::Order) -> OrderView {
        OrderView {
            order_no: o.order_no,
            bill_id: o.bill_id,
            channel: o.channel,
            amount: o.amount,
            status: o.status,
            channel_ref: o.channel_ref,
            channel_txn_id: o.channel_txn_id,
            late: o.late,
            paid_date: o.paid_date,
            expires_at: yibao_domain::DateTime::from_unix_ms(o.expires_at_ms.min(4_102_444_800_000)),
        }
    }
}

/// One bill with its lines and orders.
pub async fn get_bill(app: &App, ctx: &Ctx, bill_id: &str) -> AppResult<BillView> {
    ctx.require(Permission::ReadBusiness)?;
    let id = bill_id.trim().to_owned();
    if id.is_empty() || id.len() > 40 {
        return Err(AppError::invalid("bill_id", "账单编号无效"));
    }
    let view = app
        .db
        .read(move |tx: &mut dyn Tx| {
            let bill = repo::bill(tx, &id, false)?.ok_or_else(|| AppError::not_found("缴费账单", id.clone()))?;
            let orders = repo::orders_of_bill(tx, &id)?.into_iter().map(OrderView::from).collect();
            Ok::<_, AppError>(BillView { bill, orders })
        })
        .await?;
    ctx.require_region(view.bill.insu_admdvs.as_str())?;
    Ok(view)
}
