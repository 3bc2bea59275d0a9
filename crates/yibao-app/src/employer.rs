//! 参保单位: register, change, suspend; declared contribution bases.

use serde::{Deserialize, Serialize};
use yibao_domain::auth::Permission;
use yibao_domain::codes::Insutype;
use yibao_domain::employer::{CreditCode, Employer, EmployerStatus, compose_emp_no};
use yibao_domain::{FieldError, Money};
use yibao_store::{Tx, employer as repo, enrollment as persons};

use crate::audit::{self, Change};
use crate::ctx::Ctx;
use crate::enrollment::EnrollmentView;
use crate::error::{AppError, AppResult};
use crate::{App, Page, paging};

/// Most bases in one declaration.
pub const BASES_MAX: usize = 5000;

#[derive(utoipa::ToSchema, Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEmployer {
    /// 统一社会信用代码 (GB 32100, check character verified).
    pub uscc: String,
    pub emp_name: String,
    /// Pooling region the employer contributes in.
    pub insu_admdvs: String,
    /// Where the employer is (county).
    pub admdvs: String,
    pub address: Option<String>,
    pub contact: Option<String>,
    pub tel: Option<String>,
}

fn text(field: &str, value: &str, max: usize, required: bool) -> Result<String, FieldError> {
    let t = value.trim();
    if required && t.is_empty() {
        return Err(FieldError::new(field, "不能为空"));
    }
    if t.chars().count() > max {
        return Err(FieldError::new(field, format!("不能超过{max}个字符")));
    }
    Ok(t.to_owned())
}

/// Parses a new employer (no number yet).
pub fn parse_employer(app: &App, input: &NewEmployer) -> AppResult<Employer> {
    let uscc = CreditCode::parse(&input.uscc)?;
    let insu_admdvs = app.divisions().parse(&input.insu_admdvs).map_err(|e| e.named("insu_admdvs"))?.code();
    let admdvs = app.divisions().parse(&input.admdvs).map_err(|e| e.named("admdvs"))?.code();
    Ok(Employer {
        emp_no: String::new(),
        uscc,
        emp_name: text("emp_name", &input.emp_name, 200, true)?,
        insu_admdvs,
        admdvs,
        address: text("address", input.address.as_deref().unwrap_or(""), 200, false)?,
        contact: text("contact", input.contact.as_deref().unwrap_or(""), 50, false)?,
        tel: text("tel", input.tel.as_deref().unwrap_or(""), 20, false)?,
        status: EmployerStatus::Active,
    })
}

/// Inserts an employer with the next number of its region, inside a job.
pub(crate) fn insert_employer(tx: &mut dyn Tx, ctx: &Ctx, mut e: Employer) -> AppResult<Employer> {
    if let Some(existing) = repo::by_uscc(tx, e.uscc.as_str())? {
        return Err(AppError::Conflict(format!("统一社会信用代码 {} 已登记为单位 {}", e.uscc, existing.emp_no)));
    }
    let seq = repo::next_sequence(tx, e.insu_admdvs)?;
    if seq > 99_999_999 {
        return Err(AppError::Conflict("单位编号已用尽".into()));
    }
    e.emp_no = compose_emp_no(e.insu_admdvs, seq);
    repo::insert_many_employers(tx, std::slice::from_ref(&e), ctx.now_ms)?;
    audit::record(
        tx,
        ctx,
        Change {
            action: "employer.create",
            target_kind: "employer",
            target_id: &e.emp_no,
            region: e.insu_admdvs.as_str(),
            before: None,
            after: audit::image(&e),
        },
    )?;
    Ok(e)
}

/// Registers an employer (经办).
pub async fn create(app: &App, ctx: &Ctx, input: NewEmployer) -> AppResult<Employer> {
    ctx.require(Permission::WriteEnrollment)?;
    let e = parse_employer(app, &input)?;
    ctx.require_region(e.insu_admdvs.as_str())?;
    let ctx2 = ctx.clone();
    app.db.write(move |tx: &mut dyn Tx| insert_employer(tx, &ctx2, e.clone())).await
}

pub async fn get(app: &App, ctx: &Ctx, emp_no: &str) -> AppResult<Employer> {
    ctx.require(Permission::ReadBusiness)?;
    let no = emp_no.trim().to_owned();
    let e = app
        .db
        .read(move |tx: &mut dyn Tx| repo::get(tx, &no)?.ok_or_else(|| AppError::not_found("参保单位", no.clone())))
        .await?;
    ctx.require_region(e.insu_admdvs.as_str())?;
    Ok(e)
}

#[derive(utoipa::IntoParams, Clone, Debug, Default, Deserialize)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub name: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

pub async fn list(app: &App, ctx: &Ctx, q: ListQuery) -> AppResult<Page<Employer>> {
    ctx.require(Permission::ReadBusiness)?;
    let (limit, offset) = paging(q.limit, q.offset)?;
    let scope = ctx.actor.scope.prefix().to_owned();
    let name = q.name.unwrap_or_default().trim().chars().take(100).collect::<String>();
    let (items, total) =
        app.db.read(move |tx: &mut dyn Tx| Ok::<_, AppError>(repo::list(tx, &scope, &name, limit, offset)?)).await?;
    Ok(Page { total, limit, offset, items })
}

#[derive(utoipa::ToSchema, Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EmployerPatch {
    pub emp_name: Option<String>,
    pub admdvs: Option<String>,
    pub address: Option<String>,
    pub contact: Option<String>,
    pub tel: Option<String>,
    /// `active`, `suspended` (暂停缴费) or `cancelled` (注销).
    pub status: Option<String>,
}

/// Changes an employer's details or status (变更、暂停、注销).
pub async fn update(app: &App, ctx: &Ctx, emp_no: &str, patch: EmployerPatch) -> AppResult<Employer> {
    ctx.require(Permission::WriteEnrollment)?;
    let admdvs = patch
        .admdvs
        .as_deref()
        .map(|a| app.divisions().parse(a).map(|d| d.code()).map_err(|e| e.named("admdvs")))
        .transpose()?;
    let status = patch.status.as_deref().map(EmployerStatus::parse).transpose()?;
    let no = emp_no.trim().to_owned();
    let ctx2 = ctx.clone();
    app.db
        .write(move |tx: &mut dyn Tx| {
            let before = repo::get(tx, &no)?.ok_or_else(|| AppError::not_found("参保单位", no.clone()))?;
            ctx2.require_region(before.insu_admdvs.as_str())?;
            if before.status == EmployerStatus::Cancelled {
                return Err(AppError::Conflict("单位已注销，不能变更".into()));
            }
            let mut after = before.clone();
            if let Some(n) = &patch.emp_name {
                after.emp_name = text("emp_name", n, 200, true)?;
            }
            if let Some(a) = admdvs {
                after.admdvs = a;
            }
            if let Some(a) = &patch.address {
                after.address = text("address", a, 200, false)?;
            }
            if let Some(c) = &patch.contact {
                after.contact = text("contact", c, 50, false)?;
            }
            if let Some(t) = &patch.tel {
                after.tel = text("tel", t, 20, false)?;
            }
            if let Some(s) = status {
                after.status = s;
            }
            if after == before {
                return Err(AppError::invalid("emp_name", "没有要修改的内容"));
            }
            repo::update(tx, &after, ctx2.now_ms)?;
            audit::record(
                tx,
                &ctx2,
                Change {
                    action: "employer.update",
                    target_kind: "employer",
                    target_id: &after.emp_no,
                    region: after.insu_admdvs.as_str(),
                    before: audit::image(&before),
                    after: audit::image(&after),
                },
            )?;
            Ok(after)
        })
        .await
}

#[derive(utoipa::ToSchema, Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaseItem {
    pub psn_no: String,
    pub base: Money,
}

#[derive(utoipa::ToSchema, Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaseDeclaration {
    pub year: i32,
    pub items: Vec<BaseItem>,
}

#[derive(utoipa::ToSchema, Clone, Debug, Serialize)]
pub struct BaseDeclared {
    pub emp_no: String,
    pub year: i32,
    pub declared: usize,
    pub floor: Money,
    pub ceiling: Money,
}

/// 缴费基数申报: the employer declares its employees' bases for a year,
/// each within the region's floor and ceiling. All or nothing.
pub async fn declare_bases(app: &App, ctx: &Ctx, emp_no: &str, input: BaseDeclaration) -> AppResult<BaseDeclared> {
    ctx.require(Permission::WriteEnrollment)?;
    if input.items.is_empty() || input.items.len() > BASES_MAX {
        return Err(AppError::invalid("items", format!("申报人数应为1至{BASES_MAX}人")));
    }
    if !(2000..=2200).contains(&input.year) {
        return Err(AppError::invalid("year", "年度无效"));
    }
    let no = emp_no.trim().to_owned();
    let ctx2 = ctx.clone();
    app.db
        .write(move |tx: &mut dyn Tx| {
            let employer = repo::get(tx, &no)?.ok_or_else(|| AppError::not_found("参保单位", no.clone()))?;
            ctx2.require_region(employer.insu_admdvs.as_str())?;
            let first = yibao_domain::Date::from_ymd(input.year, 1, 1)?;
            let policy = crate::contribution::policy_in_force(
                tx,
                employer.insu_admdvs.as_str(),
                Insutype::EmployeeBasic,
                first,
            )?;
            let rules = policy.employee()?;
            let mut bases = Vec::new();
            let mut errors = Vec::new();
            for (i, item) in input.items.iter().enumerate() {
                let path = format!("items[{i}]");
                if let Err(e) = rules.check_base(item.base) {
                    errors.push(e.within(&path));
                    continue;
                }
                let employed = persons::enrollment_details_of(tx, item.psn_no.trim())?.into_iter().any(|d| {
                    d.emp_no.as_deref() == Some(no.as_str()) && d.enrollment.end_date.is_none_or(|e| e >= first)
                });
                if !employed {
                    errors
                        .push(FieldError::new(format!("{path}.psn_no"), format!("{} 不是本单位参保职工", item.psn_no)));
                    continue;
                }
                bases.push(repo::DeclaredBase {
                    psn_no: item.psn_no.trim().to_owned(),
                    year: input.year,
                    emp_no: no.clone(),
                    base: item.base,
                });
            }
            if !errors.is_empty() {
                return Err(AppError::Invalid(errors));
            }
            repo::upsert_bases(tx, &bases, &ctx2.actor.id, ctx2.now_ms)?;
            let bounds = rules.bounds();
            let report = BaseDeclared {
                emp_no: no.clone(),
                year: input.year,
                declared: bases.len(),
                floor: bounds.floor,
                ceiling: bounds.ceiling,
            };
            audit::record(
                tx,
                &ctx2,
                Change {
                    action: "employer.bases.declare",
                    target_kind: "employer",
                    target_id: &no,
                    region: employer.insu_admdvs.as_str(),
                    before: None,
                    after: audit::image(&serde_json::json!({"report": report, "bases": bases})),
                },
            )?;
            Ok(report)
        })
        .await
}

/// The employer's insured employees (open enrollments).
pub async fn employees(app: &App, ctx: &Ctx, emp_no: &str) -> AppResult<Vec<EnrollmentView>> {
    let employer = get(app, ctx, emp_no).await?;
    let today = ctx.today();
    app.db
        .read(move |tx: &mut dyn Tx| {
            Ok::<_, AppError>(
                persons::enrollments_in_period(
                    tx,
                    employer.insu_admdvs.as_str(),
                    Insutype::EmployeeBasic,
                    today,
                    today,
                    Some(&employer.emp_no),
                )?
                .into_iter()
                .take(5000)
                .map(EnrollmentView::from)
                .collect(),
            )
        })
        .await
}
