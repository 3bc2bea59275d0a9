//! 定点医药机构 registry: register, change, suspend, agreements.
//!
//! This is the first cut of the institution module: the settlement path
//! asks [`check_can_settle`]-style questions of it. The application, review
//! and evaluation loop grows on the same tables (agreements are rows of their
//! own, each with a period and a status).

use serde::{Deserialize, Serialize};
use yibao_domain::auth::Permission;
use yibao_domain::codes::HospLv;
use yibao_domain::institution::{Agreement, Institution, InstitutionCode, InstitutionKind, InstitutionStatus};
use yibao_domain::{Date, FieldError};
use yibao_store::{Tx, institution as repo};

use crate::audit::{self, Change};
use crate::ctx::Ctx;
use crate::error::{AppError, AppResult};
use crate::{App, Page, paging};

const NAME_CHARS_MAX: usize = 200;

/// How long an institution read for the national interface may be reused.
/// Changes made through this node drop the cache at once; the bound covers
/// changes made by another node sharing the database.
pub const INTERFACE_CACHE_TTL_MS: i64 = 30_000;

/// Institutions as the national interface sees them, cached: every message
/// names its institution.
#[derive(Clone)]
pub struct InstitutionCache {
    map: crate::ttl::TtlMap<Institution>,
}

impl Default for InstitutionCache {
    fn default() -> InstitutionCache {
        // The registry is finite; the bound stops a scan of random codes.
        InstitutionCache { map: crate::ttl::TtlMap::new(INTERFACE_CACHE_TTL_MS, 200_000) }
    }
}

impl InstitutionCache {
    pub fn invalidate(&self) {
        self.map.clear();
    }

    /// The institution behind a message, or an error naming `fixmedins_code`.
    pub async fn get(&self, app: &App, code: &str, now_ms: i64) -> AppResult<Institution> {
        let code = InstitutionCode::parse(code)?;
        if let Some(inst) = self.map.get(code.as_str(), now_ms) {
            return Ok(inst);
        }
        let inst = app
            .db
            .read(move |tx: &mut dyn Tx| Ok::<_, AppError>(repo::get(tx, code.as_str())?))
            .await?
            .ok_or_else(|| AppError::invalid("fixmedins_code", format!("定点医药机构编码“{code}”不存在")))?;
        self.map.insert(inst.code.as_str().to_owned(), inst.clone(), now_ms);
        Ok(inst)
    }
}
const ADDRESS_CHARS_MAX: usize = 300;

#[derive(utoipa::ToSchema, Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewInstitution {
    /// Assigned automatically (next sequence in the division) when absent.
    pub code: Option<String>,
    pub name: String,
    /// `hospital` or `pharmacy`.
    pub kind: String,
    /// Required for hospitals, absent for pharmacies.
    pub hosp_lv: Option<HospLv>,
    /// County-level division the institution is in.
    pub admdvs: String,
    pub address: Option<String>,
    pub agreement: Option<NewAgreement>,
}

#[derive(utoipa::ToSchema, Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAgreement {
    /// Generated when absent.
    pub agreement_no: Option<String>,
    pub begin_date: Date,
    pub end_date: Date,
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

fn parse_agreement(a: &NewAgreement, code: &InstitutionCode) -> Result<Agreement, FieldError> {
    if a.end_date < a.begin_date {
        return Err(FieldError::new("agreement.end_date", "协议结束日期早于开始日期"));
    }
    if a.begin_date.days_until(a.end_date) > 366 * 5 {
        return Err(FieldError::new("agreement.end_date", "协议期限不能超过5年"));
    }
    let no = match &a.agreement_no {
        Some(no) => text("agreement.agreement_no", no, 40, true)?,
        None => format!("XY{}{}", code.as_str(), a.begin_date.compact()),
    };
    Ok(Agreement {
        agreement_no: no,
        begin_date: a.begin_date,
        end_date: a.end_date,
        status: InstitutionStatus::Active,
    })
}

pub async fn create(app: &App, ctx: &Ctx, input: NewInstitution) -> AppResult<Institution> {
    ctx.require(Permission::WriteInstitution)?;
    let kind = InstitutionKind::parse(&input.kind)?;
    let admdvs = app.divisions().parse(&input.admdvs).map_err(|e| e.named("admdvs"))?.code();
    ctx.require_region(admdvs.as_str())?;
    let name = text("name", &input.name, NAME_CHARS_MAX, true)?;
    let address = text("address", input.address.as_deref().unwrap_or(""), ADDRESS_CHARS_MAX, false)?;
    match (kind, input.hosp_lv) {
        (InstitutionKind::Hospital, None) => return Err(AppError::invalid("hosp_lv", "医疗机构必须填写医院等级")),
        (InstitutionKind::Pharmacy, Some(_)) => return Err(AppError::invalid("hosp_lv", "零售药店没有医院等级")),
        _ => {}
    }
    let given = input
        .code
        .as_deref()
        .map(|c| {
            let code = InstitutionCode::parse(c)?;
            if code.kind() != kind {
                return Err(FieldError::new("code", "机构编码首字母与机构类型不符（医疗机构H，药店P）"));
            }
            if code.division() != admdvs {
                return Err(FieldError::new(
                    "code",
                    format!("机构编码中的区划 {} 与所在区划 {admdvs} 不符", code.division()),
                ));
            }
            Ok(code)
        })
        .transpose()?;
    let ctx2 = ctx.clone();
    let agreement = input.agreement.clone();
    app.db
        .write(move |tx: &mut dyn Tx| {
            let code = match given {
                Some(c) => c,
                None => {
                    let seq = repo::next_sequence(tx, kind, admdvs)?;
                    if seq > 99_999 {
                        return Err(AppError::Conflict(format!("区划 {admdvs} 的机构编码已用尽")));
                    }
                    InstitutionCode::compose(kind, admdvs, seq)
                }
            };
            if repo::get(tx, code.as_str())?.is_some() {
                return Err(AppError::Conflict(format!("机构编码 {code} 已存在")));
            }
            let agreements = agreement.as_ref().map(|a| parse_agreement(a, &code)).transpose()?.into_iter().collect();
            let inst = Institution {
                code,
                name: name.clone(),
                kind,
                hosp_lv: input.hosp_lv,
                admdvs,
                address: address.clone(),
                status: InstitutionStatus::Active,
                agreements,
            };
            repo::insert(tx, &inst, ctx2.now_ms)?;
            audit::record(
                tx,
                &ctx2,
                Change {
                    action: "institution.create",
                    target_kind: "institution",
                    target_id: inst.code.as_str(),
                    region: inst.admdvs.as_str(),
                    before: None,
                    after: audit::image(&inst),
                },
            )?;
            Ok(inst)
        })
        .await
}

pub async fn get(app: &App, ctx: &Ctx, code: &str) -> AppResult<Institution> {
    ctx.require(Permission::ReadBusiness)?;
    let code = InstitutionCode::parse(code).map_err(|e| e.named("code"))?;
    let inst = app
        .db
        .read(move |tx: &mut dyn Tx| {
            repo::get(tx, code.as_str())?.ok_or_else(|| AppError::not_found("定点医药机构", code.as_str()))
        })
        .await?;
    ctx.require_region(inst.admdvs.as_str())?;
    Ok(inst)
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[derive(utoipa::ToSchema, Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub admdvs: Option<String>,
    pub kind: Option<String>,
    pub status: Option<String>,
    pub name: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

pub async fn list(app: &App, ctx: &Ctx, q: ListQuery) -> AppResult<Page<Institution>> {
    ctx.require(Permission::ReadBusiness)?;
    let (limit, offset) = paging(q.limit, q.offset)?;
    let scope = ctx.actor.scope.prefix().to_owned();
    let region_prefix = match q.admdvs.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(r) => {
            if !r.bytes().all(|b| b.is_ascii_digit()) || r.len() > 6 {
                return Err(AppError::invalid("admdvs", "区划应为1至6位数字"));
            }
            // The narrower of the query and the scope; disjoint means nothing visible.
            if r.starts_with(&scope) {
                r.to_owned()
            } else if scope.starts_with(r) {
                scope
            } else {
                return Err(AppError::Forbidden(format!("区划 {r} 不在当前账号的管辖范围内")));
            }
        }
        None => scope,
    };
    let filter = repo::Filter {
        region_prefix,
        kind: q.kind.as_deref().filter(|k| !k.is_empty()).map(InstitutionKind::parse).transpose()?,
        status: q.status.as_deref().filter(|s| !s.is_empty()).map(InstitutionStatus::parse).transpose()?,
        name: q.name.unwrap_or_default().trim().to_owned(),
        limit,
        offset,
    };
    let (items, total) = app.db.read(move |tx: &mut dyn Tx| Ok::<_, AppError>(repo::list(tx, &filter)?)).await?;
    Ok(Page { total, limit, offset, items })
}

#[derive(utoipa::ToSchema, Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InstitutionPatch {
    pub name: Option<String>,
    pub hosp_lv: Option<HospLv>,
    pub address: Option<String>,
}

/// Applies `change` to the stored institution in one transaction with its audit record.
async fn modify(
    app: &App,
    ctx: &Ctx,
    code: &str,
    action: &'static str,
    change: impl Fn(&mut Institution) -> AppResult<()> + Send + 'static,
) -> AppResult<Institution> {
    ctx.require(Permission::WriteInstitution)?;
    let code = InstitutionCode::parse(code).map_err(|e| e.named("code"))?;
    let ctx2 = ctx.clone();
    app.db
        .write(move |tx: &mut dyn Tx| {
            let before =
                repo::get(tx, code.as_str())?.ok_or_else(|| AppError::not_found("定点医药机构", code.as_str()))?;
            ctx2.require_region(before.admdvs.as_str())?;
            let mut after = before.clone();
            change(&mut after)?;
            repo::update(tx, &after, ctx2.now_ms)?;
            for a in &after.agreements {
                match before.agreements.iter().find(|b| b.agreement_no == a.agreement_no) {
                    None => repo::insert_agreement(tx, &after.code, a, ctx2.now_ms)?,
                    Some(b) if b.status != a.status => {
                        repo::set_agreement_status(tx, &a.agreement_no, a.status)?;
                    }
                    Some(_) => {}
                }
            }
            audit::record(
                tx,
                &ctx2,
                Change {
                    action,
                    target_kind: "institution",
                    target_id: after.code.as_str(),
                    region: after.admdvs.as_str(),
                    before: audit::image(&before),
                    after: audit::image(&after),
                },
            )?;
            Ok(after)
        })
        .await
        .inspect(|_| app.institutions.invalidate())
}

pub async fn update(app: &App, ctx: &Ctx, code: &str, patch: InstitutionPatch) -> AppResult<Institution> {
    if patch.name.is_none() && patch.hosp_lv.is_none() && patch.address.is_none() {
        return Err(AppError::invalid("name", "没有要修改的内容"));
    }
    modify(app, ctx, code, "institution.update", move |inst| {
        if let Some(n) = &patch.name {
            inst.name = text("name", n, NAME_CHARS_MAX, true)?;
        }
        if let Some(a) = &patch.address {
            inst.address = text("address", a, ADDRESS_CHARS_MAX, false)?;
        }
        if let Some(lv) = patch.hosp_lv {
            if inst.kind == InstitutionKind::Pharmacy {
                return Err(AppError::invalid("hosp_lv", "零售药店没有医院等级"));
            }
            inst.hosp_lv = Some(lv);
        }
        Ok(())
    })
    .await
}

#[derive(utoipa::ToSchema, Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    /// `active`, `suspended` or `terminated`.
    pub status: String,
    pub reason: String,
}

pub async fn set_status(app: &App, ctx: &Ctx, code: &str, change: StatusChange) -> AppResult<Institution> {
    let status = InstitutionStatus::parse(&change.status)?;
    let reason = text("reason", &change.reason, 500, true)?;
    tracing::info!(institution = code, status = status.as_str(), reason, "institution status change");
    modify(app, ctx, code, "institution.status", move |inst| {
        if inst.status == InstitutionStatus::Terminated {
            return Err(AppError::Conflict("机构已终止，不能再变更状态".into()));
        }
        if inst.status == status {
            return Err(AppError::Conflict(format!("机构状态已是{}", status.name())));
        }
        inst.status = status;
        Ok(())
    })
    .await
}

pub async fn add_agreement(app: &App, ctx: &Ctx, code: &str, input: NewAgreement) -> AppResult<Institution> {
    modify(app, ctx, code, "institution.agreement.create", move |inst| {
        let a = parse_agreement(&input, &inst.code).map_err(|e| AppError::Invalid(vec![e]))?;
        if inst.agreements.iter().any(|b| b.agreement_no == a.agreement_no) {
            return Err(AppError::Conflict(format!("协议编号 {} 已存在", a.agreement_no)));
        }
        if let Some(b) = inst
            .agreements
            .iter()
            .find(|b| b.status == InstitutionStatus::Active && b.begin_date <= a.end_date && a.begin_date <= b.end_date)
        {
            return Err(AppError::Conflict(format!(
                "与有效协议 {}（{} 至 {}）期间重叠",
                b.agreement_no, b.begin_date, b.end_date
            )));
        }
        inst.agreements.push(a);
        Ok(())
    })
    .await
}

pub async fn set_agreement_status(
    app: &App,
    ctx: &Ctx,
    code: &str,
    agreement_no: &str,
    change: StatusChange,
) -> AppResult<Institution> {
    let status = InstitutionStatus::parse(&change.status)?;
    text("reason", &change.reason, 500, true)?;
    let no = agreement_no.to_owned();
    modify(app, ctx, code, "institution.agreement.status", move |inst| {
        let a = inst
            .agreements
            .iter_mut()
            .find(|a| a.agreement_no == no)
            .ok_or_else(|| AppError::not_found("协议", no.clone()))?;
        if a.status == InstitutionStatus::Terminated {
            return Err(AppError::Conflict("协议已终止，不能再变更状态".into()));
        }
        a.status = status;
        Ok(())
    })
    .await
}
