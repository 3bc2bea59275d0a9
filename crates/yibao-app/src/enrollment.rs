//! 参保登记: persons, enrollment in 职工 (through an employer or as a
//! flexible worker) or 居民 (by household), stop, resume, renewal, transfers
//! between regions, and the coverage question the settlement engine asks.
//!
//! # Contract for the settlement path
//!
//! [`coverage`]`(tx: &mut dyn Tx, psn_no: &str, date: Date) -> AppResult<Coverage>`
//! runs inside the caller's job (synchronous) and answers whether the person
//! is covered on `date`, why (a Chinese reason), the enrollment's insutype,
//! psn_type, insu_admdvs, cvlserv_flag and assistance category, whether the
//! person has a personal account, `psn_insu_stas` (1 正常 / 2 暂停 / 4 终止)
//! and the first day of benefit. The rule is the pure
//! [`yibao_domain::enrollment::coverage`] over the enrollment, the paid
//! periods and the region's contribution policy (waiting period, grace,
//! arrears limit). `NotFound` when the person does not exist.

use serde::{Deserialize, Serialize};
use yibao_domain::auth::Permission;
use yibao_domain::codes::{AssistanceCategory, Gend, Insutype, PersonCategory, PsnCertType, PsnType};
use yibao_domain::contribution::Period;
use yibao_domain::division::DivisionCode;
use yibao_domain::enrollment::{
    self as rules, Certificate, Coverage, CoverageInput, Enrollment, EnrollmentStatus, PaidPeriod, Person, Relation,
    StopReason,
};
use yibao_domain::{Date, Money, ResidentId};
use yibao_store::enrollment::{self as repo, EnrollmentDetail, Household, HouseholdMember, Transfer};
use yibao_store::{Tx, contribution as contributions, employer as employers};

use crate::account::{Post, post};
use crate::audit::{self, Change};
use crate::ctx::Ctx;
use crate::error::{AppError, AppResult};
use crate::{App, postings};

/// Most members of one household registration.
pub const HOUSEHOLD_MEMBERS_MAX: usize = 20;

// ---------------------------------------------------------------- coverage

/// Is person `psn_no` covered on `date`? See the module documentation.
pub fn coverage(tx: &mut dyn Tx, psn_no: &str, date: Date) -> AppResult<Coverage> {
    let person = repo::person(tx, psn_no)?.ok_or_else(|| AppError::not_found("参保人员", psn_no))?;
    Ok(coverage_of(tx, &person, date)?.0)
}

/// [`coverage`] of a person the caller has already read, with the personal
/// account's balance (None: no account) read in the same transaction: the
/// settlement path needs both and reads each row once.
pub fn coverage_of(tx: &mut dyn Tx, person: &Person, date: Date) -> AppResult<(Coverage, Option<Money>)> {
    let account_balance = yibao_store::account::get(tx, &person.psn_no, false)?.map(|a| a.balance);
    let (coverage, _) = coverage_with_account(tx, person, account_balance.is_some(), date)?;
    Ok((coverage, account_balance))
}

/// [`coverage`] of a person whose account the caller has already read
/// (`has_account`), with the id of the contribution policy whose benefit
/// rules decided it (None when the region keeps none).
pub fn coverage_with_account(
    tx: &mut dyn Tx,
    person: &Person,
    has_account: bool,
    date: Date,
) -> AppResult<(Coverage, Option<i64>)> {
    let psn_no = person.psn_no.as_str();
    let details = repo::enrollment_details_of(tx, psn_no)?;
    let enrollments: Vec<Enrollment> = details.iter().map(|d| d.enrollment.clone()).collect();
    let on = rules::enrollment_on(&enrollments, date).cloned();
    let (paid, exempt, policy) = match &on {
        Some(e) => {
            let detail = details.iter().find(|d| d.enrollment.id == e.id).expect("listed");
            // Both read by the person, not by the enrollment just read, so
            // that a job can name them ahead with the enrollments
            // (`coverage_reads`): on PostgreSQL one round trip for all.
            let paid = contributions::paid_of_enrollment(tx, psn_no, e.id)?;
            let policy = contributions::policy_of_enrollment(tx, psn_no, e.id, date)?;
            (paid, detail.waiting_exempt, policy)
        }
        None => (Vec::new(), false, None),
    };
    let coverage = rules::coverage(&CoverageInput {
        psn_no,
        death_date: person.death_date,
        enrollments: &enrollments,
        paid: &paid,
        waiting_exempt: exempt,
        rules: policy.as_ref().map(|p| &p.policy.benefit),
        has_account,
        date,
    });
    Ok((coverage, policy.map(|p| p.id)))
}

/// The reads [`coverage_with_account`] makes for a person on `date`, in its
/// order, to prefetch with the person.
pub fn coverage_reads(psn_no: &str, date: Date) -> [yibao_store::Read; 3] {
    [
        repo::enrollment_details_read(psn_no),
        contributions::paid_of_enrollments_read(psn_no),
        contributions::policies_of_enrollments_read(psn_no, date),
    ]
}

/// Coverage over the API (经办, 审核: "can this person settle on that day?").
pub async fn coverage_on(app: &App, ctx: &Ctx, key: &str, date: Option<Date>) -> AppResult<Coverage> {
    let view = get_person(app, ctx, key).await?;
    let date = date.unwrap_or_else(|| ctx.today());
    let psn_no = view.person.psn_no.clone();
    app.db.read(move |tx: &mut dyn Tx| coverage(tx, &psn_no, date)).await
}

// ---------------------------------------------------------------- persons

#[derive(utoipa::ToSchema, Clone, Debug, Serialize)]
pub struct ContributionSummary {
    /// Months of 职工医保 contributions paid, in every region (缴费月数).
    pub employee_months: i64,
    /// Years of 居民医保 paid.
    pub resident_years: i64,
}

#[derive(utoipa::ToSchema, Clone, Debug, Serialize)]
pub struct PersonView {
    #[serde(flatten)]
    pub person: Person,
    pub enrollments: Vec<EnrollmentView>,
    pub household: Option<String>,
    pub contributions: ContributionSummary,
}

#[derive(utoipa::ToSchema, Clone, Debug, Serialize)]
pub struct EnrollmentView {
    #[serde(flatten)]
    pub enrollment: Enrollment,
    pub emp_no: Option<String>,
    pub stop_reason: Option<StopReason>,
    pub waiting_exempt: bool,
}

impl From<EnrollmentDetail> for EnrollmentView {
    fn from(d: EnrollmentDetail) -> EnrollmentView {
        EnrollmentView {
            enrollment: d.enrollment,
            emp_no: d.emp_no,
            stop_reason: d.stop_reason,
            waiting_exempt: d.waiting_exempt,
        }
    }
}

/// Distinct months covered by paid periods (overlaps counted once).
pub fn paid_months(paid: &[PaidPeriod]) -> i64 {
    let mut months = std::collections::BTreeSet::new();
    for p in paid {
        let mut m = p.start.first_of_month();
        let mut guard = 0;
        while m <= p.end && guard < 1200 {
            months.insert((m.year(), m.month()));
            m = m.add_months(1);
            guard += 1;
        }
    }
    months.len() as i64
}

fn load_person_view(tx: &mut dyn Tx, person: Person) -> AppResult<PersonView> {
    let enrollments = repo::enrollment_details_of(tx, &person.psn_no)?.into_iter().map(EnrollmentView::from).collect();
    let household = repo::household_of(tx, &person.psn_no)?;
    let employee_months = paid_months(&contributions::paid_of_person(tx, &person.psn_no, Insutype::EmployeeBasic)?);
    let resident_years =
        (paid_months(&contributions::paid_of_person(tx, &person.psn_no, Insutype::ResidentBasic)?) + 11) / 12;
    Ok(PersonView {
        person,
        enrollments,
        household,
        contributions: ContributionSummary { employee_months, resident_years },
    })
}

/// Finds a person by person number or by ID number.
pub async fn get_person(app: &App, ctx: &Ctx, key: &str) -> AppResult<PersonView> {
    ctx.require(Permission::ReadBusiness)?;
    let key = key.trim().to_owned();
    if key.is_empty() || key.len() > 40 {
        return Err(AppError::invalid("psn_no", "人员编号或身份证号不能为空且不超过40个字符"));
    }
    // An 18-character key must be a valid ID number; a typo is reported as such.
    let by_id = if key.len() == 18 { Some(ResidentId::parse(&key)?) } else { None };
    let view = app
        .db
        .read(move |tx: &mut dyn Tx| {
            let person = match &by_id {
                Some(id) => repo::person_by_certno(tx, id.as_str())?,
                None => repo::person(tx, &key)?,
            };
            let Some(person) = person else {
                return Err(AppError::not_found("参保人员", yibao_domain::resident_id::mask_if_id(&key)));
            };
            load_person_view(tx, person)
        })
        .await?;
    // Visible if the person lives or is insured in the actor's scope.
    let visible = ctx.actor.scope.covers(view.person.admdvs.as_str())
        || view.enrollments.iter().any(|e| ctx.actor.scope.covers(e.enrollment.insu_admdvs.as_str()));
    if !visible {
        return Err(AppError::Forbidden("该人员不在当前账号的管辖范围内".into()));
    }
    Ok(view)
}

/// A person to register (when not registered yet).
#[derive(utoipa::ToSchema, Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPerson {
    /// Default `01` 居民身份证.
    pub psn_cert_type: Option<PsnCertType>,
    pub certno: String,
    pub psn_name: String,
    /// Derived from the ID number when absent.
    pub gend: Option<Gend>,
    /// Derived from the ID number when absent.
    pub brdy: Option<Date>,
    /// 民族 (GB 3304), default `01`.
    pub naty: Option<String>,
    /// Division of residence.
    pub admdvs: String,
    pub tel: Option<String>,
    pub address: Option<String>,
}

fn text(field: &str, value: &str, max: usize, required: bool) -> Result<String, yibao_domain::FieldError> {
    let t = value.trim();
    if required && t.is_empty() {
        return Err(yibao_domain::FieldError::new(field, "不能为空"));
    }
    if t.chars().count() > max {
        return Err(yibao_domain::FieldError::new(field, format!("不能超过{max}个字符")));
    }
    Ok(t.to_owned())
}

/// Parses a new person (without a person number yet).
pub fn parse_person(app: &App, p: &NewPerson) -> AppResult<Person> {
    let cert_type = p.psn_cert_type.unwrap_or(PsnCertType::ResidentIdCard);
    let certificate = Certificate::parse(cert_type, &p.certno)?;
    let name = rules::parse_name(&p.psn_name)?;
    let admdvs = app.divisions().parse(&p.admdvs).map_err(|e| e.named("admdvs"))?.code();
    let id = certificate.resident_id();
    let brdy = match (p.brdy, &id) {
        (Some(b), Some(id)) if b != id.birth_date() => {
            return Err(AppError::invalid("brdy", "出生日期与身份证号码不符"));
        }
        (Some(b), _) => b,
        (None, Some(id)) => id.birth_date(),
        (None, None) => return Err(AppError::invalid("brdy", "非身份证件须填写出生日期")),
    };
    let gend = match (p.gend, &id) {
        (Some(g), _) => g,
        (None, Some(id)) => Gend::parse(id.sex().gend_code())?,
        (None, None) => Gend::Unspecified,
    };
    let naty = text("naty", p.naty.as_deref().unwrap_or("01"), 2, true)?;
    if naty.len() != 2 || !naty.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AppError::invalid("naty", "民族代码应为2位数字"));
    }
    let tel = text("tel", p.tel.as_deref().unwrap_or(""), 20, false)?;
    if !tel.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        return Err(AppError::invalid("tel", "电话只能包含数字和-"));
    }
    Ok(Person {
        psn_no: String::new(),
        certificate,
        name,
        gend,
        brdy,
        naty,
        admdvs,
        tel,
        address: text("address", p.address.as_deref().unwrap_or(""), 200, false)?,
        death_date: None,
    })
}

/// Assigns the next person number of a region and inserts the person.
pub(crate) fn insert_person(tx: &mut dyn Tx, ctx: &Ctx, mut person: Person, region: DivisionCode) -> AppResult<Person> {
    if let Some(existing) = repo::person_by_certno(tx, &person.certificate.certno)? {
        return Err(AppError::Conflict(format!("证件号码已登记，人员编号 {}", existing.psn_no)));
    }
    let next = match repo::max_psn_no(tx, region.as_str())? {
        Some(no) => no[6..].parse::<u64>().map_err(|_| AppError::Internal("bad psn_no".into()))? + 1,
        None => 1,
    };
    person.psn_no = format!("{}{next:014}", region.as_str());
    repo::insert_persons(tx, std::slice::from_ref(&person), ctx.now_ms)?;
    audit::record(
        tx,
        ctx,
        Change {
            action: "person.create",
            target_kind: "person",
            target_id: &person.psn_no,
            region: person.admdvs.as_str(),
            before: None,
            after: audit::image(&person),
        },
    )?;
    Ok(person)
}

// ---------------------------------------------------------------- enrollment

#[derive(utoipa::ToSchema, Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEnrollment {
    /// An already registered person…
    pub psn_no: Option<String>,
    /// …or a person to register.
    pub person: Option<NewPerson>,
    /// `310` 职工 or `390` 居民.
    pub insutype: Insutype,
    pub psn_type: PsnType,
    /// Pooling region.
    pub insu_admdvs: String,
    pub begin_date: Date,
    /// The employer (职工 in service other than flexible workers).
    pub emp_no: Option<String>,
    /// The year's contribution base (employees, flexible workers).
    pub base: Option<Money>,
    pub cvlserv_flag: Option<bool>,
    pub assistance_category: Option<AssistanceCategory>,
    /// Waive the new-enrollee waiting period (newborns, 政策规定的特殊群体).
    pub waiting_exempt: Option<bool>,
}

#[derive(utoipa::ToSchema, Clone, Debug, Serialize)]
pub struct EnrollmentResult {
    pub psn_no: String,
    pub enrollment: EnrollmentView,
}

/// Validated enrollment terms.
#[derive(Clone, Debug)]
pub(crate) struct Terms {
    pub insutype: Insutype,
    pub psn_type: PsnType,
    pub region: DivisionCode,
    pub begin: Date,
    pub emp_no: Option<String>,
    pub base: Option<Money>,
    pub cvlserv: bool,
    pub assistance: Option<AssistanceCategory>,
    pub exempt: bool,
}

/// The checks of an enrollment's terms that need no database (imports).
pub(crate) fn check_import_terms(app: &App, ctx: &Ctx, input: &NewEnrollment) -> AppResult<Terms> {
    check_terms(app, ctx, input)
}

/// The checks of an enrollment's terms against stored data, before anything
/// is written (employer, base bounds).
pub(crate) fn precheck_terms(tx: &mut dyn Tx, t: &Terms) -> AppResult<()> {
    if let Some(emp) = &t.emp_no {
        let employer =
            employers::get(tx, emp)?.ok_or_else(|| AppError::invalid("emp_no", format!("参保单位 {emp} 不存在")))?;
        if employer.insu_admdvs != t.region {
            return Err(AppError::invalid(
                "emp_no",
                format!("参保单位属于统筹区 {}，与参保地不符", employer.insu_admdvs),
            ));
        }
        if employer.status != yibao_domain::employer::EmployerStatus::Active {
            return Err(AppError::Conflict(format!("参保单位状态为{}，不能增员", employer.status.name())));
        }
    }
    if let Some(base) = t.base {
        let policy = crate::contribution::policy_in_force(tx, t.region.as_str(), Insutype::EmployeeBasic, t.begin)?;
        policy.employee()?.check_base(base)?;
    }
    Ok(())
}

pub(crate) fn enroll_terms_in_job(tx: &mut dyn Tx, ctx: &Ctx, psn_no: &str, t: &Terms) -> AppResult<EnrollmentDetail> {
    enroll_in_job(tx, ctx, psn_no, t)
}

fn check_terms(app: &App, ctx: &Ctx, input: &NewEnrollment) -> AppResult<Terms> {
    if !matches!(input.insutype, Insutype::EmployeeBasic | Insutype::ResidentBasic) {
        return Err(AppError::invalid("insutype", "参保险种应为310（职工）或390（居民）"));
    }
    let region = app.divisions().parse(&input.insu_admdvs).map_err(|e| e.named("insu_admdvs"))?.code();
    ctx.require_region(region.as_str())?;
    let category = input.psn_type.category();
    let employee_type =
        matches!(category, PersonCategory::Active | PersonCategory::Retired | PersonCategory::RetiredCadre);
    match input.insutype {
        Insutype::EmployeeBasic if !employee_type => {
            return Err(AppError::invalid("psn_type", "职工医保的人员类别应为在职、退休或离休"));
        }
        Insutype::ResidentBasic if employee_type => {
            return Err(AppError::invalid("psn_type", "居民医保的人员类别应为居民"));
        }
        _ => {}
    }
    let flexible = matches!(input.psn_type, PsnType::FlexibleActive | PsnType::FlexibleRetired);
    let emp_no = input.emp_no.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    if input.insutype == Insutype::EmployeeBasic && category == PersonCategory::Active && !flexible && emp_no.is_none()
    {
        return Err(AppError::invalid("emp_no", "在职职工须通过参保单位参保（灵活就业人员请选择人员类别1103）"));
    }
    if (flexible || input.insutype == Insutype::ResidentBasic) && emp_no.is_some() {
        return Err(AppError::invalid("emp_no", "灵活就业人员和居民不通过单位参保"));
    }
    if input.base.is_some() && !(input.insutype == Insutype::EmployeeBasic && category == PersonCategory::Active) {
        return Err(AppError::invalid("base", "只有在职职工和灵活就业人员申报缴费基数"));
    }
    Ok(Terms {
        insutype: input.insutype,
        psn_type: input.psn_type,
        region,
        begin: input.begin_date,
        emp_no,
        base: input.base,
        cvlserv: input.cvlserv_flag.unwrap_or(input.psn_type.is_civil_servant()),
        assistance: input.assistance_category,
        exempt: input.waiting_exempt.unwrap_or(input.psn_type == PsnType::Newborn),
    })
}

/// Refuses a second basic enrollment, naming the existing one (重复参保).
fn refuse_duplicate(tx: &mut dyn Tx, psn_no: &str) -> AppResult<()> {
    if let Some(d) = repo::open_basic_enrollment(tx, psn_no)? {
        let e = &d.enrollment;
        return Err(AppError::Conflict(format!(
            "重复参保：该人员已在统筹区 {} 参加{}（参保记录 {}，{} 起，{}）",
            e.insu_admdvs,
            e.insutype.name(),
            e.id,
            e.begin_date,
            e.psn_type.name()
        )));
    }
    Ok(())
}

/// Enrolls a person inside a job; returns the enrollment.
fn enroll_in_job(tx: &mut dyn Tx, ctx: &Ctx, psn_no: &str, t: &Terms) -> AppResult<EnrollmentDetail> {
    let person = repo::person(tx, psn_no)?.ok_or_else(|| AppError::not_found("参保人员", psn_no))?;
    if let Some(d) = person.death_date {
        return Err(AppError::Conflict(format!("该人员已于 {d} 死亡，不能参保")));
    }
    refuse_duplicate(tx, psn_no)?;
    precheck_terms(tx, t)?;
    if let Some(base) = t.base {
        employers::upsert_bases(
            tx,
            &[employers::DeclaredBase {
                psn_no: psn_no.to_owned(),
                year: t.begin.year(),
                emp_no: t.emp_no.clone().unwrap_or_default(),
                base,
            }],
            &ctx.actor.id,
            ctx.now_ms,
        )?;
    }
    let detail = EnrollmentDetail {
        enrollment: Enrollment {
            id: yibao_store::ids::next_id(),
            psn_no: psn_no.to_owned(),
            insutype: t.insutype,
            psn_type: t.psn_type,
            insu_admdvs: t.region,
            begin_date: t.begin,
            end_date: None,
            status: EnrollmentStatus::Active,
            cvlserv_flag: t.cvlserv,
            assistance_category: t.assistance,
        },
        emp_no: t.emp_no.clone(),
        stop_reason: None,
        waiting_exempt: t.exempt,
    };
    repo::insert_enrollment_detail(tx, &detail, ctx.now_ms)?;
    if t.insutype == Insutype::EmployeeBasic {
        yibao_store::account::open(tx, psn_no, t.region, ctx.now_ms)?;
    }
    audit::record(
        tx,
        ctx,
        Change {
            action: "enrollment.create",
            target_kind: "person",
            target_id: psn_no,
            region: t.region.as_str(),
            before: None,
            after: audit::image(&detail),
        },
    )?;
    Ok(detail)
}

/// Enrolls a person (registering them first when `person` is given).
pub async fn enroll(app: &App, ctx: &Ctx, input: NewEnrollment) -> AppResult<EnrollmentResult> {
    ctx.require(Permission::WriteEnrollment)?;
    let terms = check_terms(app, ctx, &input)?;
    let new_person = match (&input.psn_no, &input.person) {
        (Some(_), Some(_)) => return Err(AppError::invalid("person", "psn_no 与 person 只能填一个")),
        (None, None) => return Err(AppError::invalid("psn_no", "请填写已登记人员的 psn_no，或在 person 中登记新人员")),
        (None, Some(p)) => Some(parse_person(app, p).map_err(|e| within(e, "person"))?),
        (Some(_), None) => None,
    };
    let psn_no = input.psn_no.clone().map(|s| s.trim().to_owned());
    let ctx2 = ctx.clone();
    app.db
        .write(move |tx: &mut dyn Tx| {
            let psn_no = match (&psn_no, &new_person) {
                (Some(no), _) => no.clone(),
                (None, Some(p)) => {
                    if let Some(existing) = repo::person_by_certno(tx, &p.certificate.certno)? {
                        existing.psn_no
                    } else {
                        insert_person(tx, &ctx2, p.clone(), terms.region)?.psn_no
                    }
                }
                (None, None) => unreachable!("checked"),
            };
            let detail = enroll_in_job(tx, &ctx2, &psn_no, &terms)?;
            Ok(EnrollmentResult { psn_no, enrollment: detail.into() })
        })
        .await
}

fn within(e: AppError, parent: &str) -> AppError {
    match e {
        AppError::Invalid(f) => AppError::Invalid(f.into_iter().map(|f| f.within(parent)).collect()),
        other => other,
    }
}

#[derive(utoipa::ToSchema, Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    pub psn_no: Option<String>,
    pub person: Option<NewPerson>,
    /// `head` (exactly one), `spouse`, `child`, `parent` or `other`.
    pub relation: String,
    /// 居民人员类别, e.g. `1501` 成年居民; default by age.
    pub psn_type: Option<PsnType>,
    pub assistance_category: Option<AssistanceCategory>,
}

#[derive(utoipa::ToSchema, Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewHousehold {
    pub insu_admdvs: String,
    pub address: String,
    pub begin_date: Date,
    pub members: Vec<NewMember>,
}

#[derive(utoipa::ToSchema, Clone, Debug, Serialize)]
pub struct HouseholdView {
    pub hh_no: String,
    pub head_psn_no: String,
    pub admdvs: String,
    pub address: String,
    pub members: Vec<MemberView>,
}

#[derive(utoipa::ToSchema, Clone, Debug, Serialize)]
pub struct MemberView {
    pub psn_no: String,
    pub name: String,
    pub relation: Relation,
    pub enrollment: Option<EnrollmentView>,
}

fn default_resident_type(age: i32) -> PsnType {
    match age {
        a if a < 1 => PsnType::Newborn,
        a if a < 6 => PsnType::Preschool,
        a if a < 18 => PsnType::PupilStudent,
        _ => PsnType::ResidentAdult,
    }
}

/// Registers a resident household and enrolls every member in 居民医保.
pub async fn enroll_household(app: &App, ctx: &Ctx, input: NewHousehold) -> AppResult<HouseholdView> {
    ctx.require(Permission::WriteEnrollment)?;
    let region = app.divisions().parse(&input.insu_admdvs).map_err(|e| e.named("insu_admdvs"))?.code();
    ctx.require_region(region.as_str())?;
    if input.members.is_empty() || input.members.len() > HOUSEHOLD_MEMBERS_MAX {
        return Err(AppError::invalid("members", format!("家庭成员应为1至{HOUSEHOLD_MEMBERS_MAX}人")));
    }
    let address = text("address", &input.address, 200, true)?;
    let mut members = Vec::new();
    let mut keys = Vec::new();
    for (i, m) in input.members.iter().enumerate() {
        let path = format!("members[{i}]");
        let relation = Relation::parse(&m.relation).map_err(|e| e.within(&path))?;
        let person = match (&m.psn_no, &m.person) {
            (None, Some(p)) => Some(parse_person(app, p).map_err(|e| within(e, &format!("{path}.person")))?),
            (Some(_), None) => None,
            _ => return Err(AppError::invalid(path, "每名成员须填写 psn_no 或 person 之一")),
        };
        let key = m
            .psn_no
            .clone()
            .unwrap_or_else(|| person.as_ref().map(|p| p.certificate.certno.clone()).unwrap_or_default());
        keys.push((key, relation));
        members.push((m.clone(), relation, person));
    }
    rules::check_household(&keys)?;
    let ctx2 = ctx.clone();
    let begin = input.begin_date;
    app.db
        .write(move |tx: &mut dyn Tx| {
            let hh_no = format!("H{}", yibao_store::ids::next_id());
            let mut stored = Vec::new();
            let mut views = Vec::new();
            for (i, (m, relation, person)) in members.iter().enumerate() {
                let path = format!("members[{i}]");
                let person = match (person, &m.psn_no) {
                    (Some(p), _) => match repo::person_by_certno(tx, &p.certificate.certno)? {
                        Some(existing) => existing,
                        None => insert_person(tx, &ctx2, p.clone(), region)?,
                    },
                    (None, Some(no)) => {
                        repo::person(tx, no.trim())?.ok_or_else(|| AppError::not_found("参保人员", no.clone()))?
                    }
                    (None, None) => unreachable!("checked"),
                };
                if let Some(hh) = repo::household_of(tx, &person.psn_no)? {
                    return Err(AppError::Conflict(format!("{path}：该人员已属于家庭 {hh}")));
                }
                let psn_type = m.psn_type.unwrap_or_else(|| default_resident_type(person.age_on(begin)));
                if psn_type.category() != PersonCategory::ResidentAdult
                    && psn_type.category() != PersonCategory::ResidentMinor
                {
                    return Err(AppError::invalid(format!("{path}.psn_type"), "居民医保的人员类别应为居民"));
                }
                let terms = Terms {
                    insutype: Insutype::ResidentBasic,
                    psn_type,
                    region,
                    begin,
                    emp_no: None,
                    base: None,
                    cvlserv: false,
                    assistance: m.assistance_category,
                    exempt: psn_type == PsnType::Newborn,
                };
                let detail = enroll_in_job(tx, &ctx2, &person.psn_no, &terms).map_err(|e| match e {
                    AppError::Conflict(r) => AppError::Conflict(format!("{path}（{}）：{r}", person.name)),
                    other => other,
                })?;
                stored.push(HouseholdMember { psn_no: person.psn_no.clone(), relation: *relation });
                views.push(MemberView {
                    psn_no: person.psn_no.clone(),
                    name: person.name.clone(),
                    relation: *relation,
                    enrollment: Some(detail.into()),
                });
            }
            let head = stored.iter().find(|m| m.relation == Relation::Head).expect("checked").psn_no.clone();
            let h = Household {
                hh_no: hh_no.clone(),
                head_psn_no: head.clone(),
                admdvs: region,
                address: address.clone(),
                members: stored,
            };
            repo::insert_household(tx, &h, ctx2.now_ms)?;
            audit::record(
                tx,
                &ctx2,
                Change {
                    action: "household.create",
                    target_kind: "household",
                    target_id: &hh_no,
                    region: region.as_str(),
                    before: None,
                    after: audit::image(&h),
                },
            )?;
            Ok(HouseholdView {
                hh_no,
                head_psn_no: head,
                admdvs: region.as_str().into(),
                address: address.clone(),
                members: views,
            })
        })
        .await
}

/// A household with its members and their enrollments.
pub async fn get_household(app: &App, ctx: &Ctx, hh_no: &str) -> AppResult<HouseholdView> {
    ctx.require(Permission::ReadBusiness)?;
    let hh_no = hh_no.trim().to_owned();
    let view = app
        .db
        .read(move |tx: &mut dyn Tx| {
            let h = repo::household(tx, &hh_no)?.ok_or_else(|| AppError::not_found("参保家庭", hh_no.clone()))?;
            let mut members = Vec::new();
            for m in &h.members {
                let name = repo::person(tx, &m.psn_no)?.map(|p| p.name).unwrap_or_default();
                let enrollment = repo::enrollment_details_of(tx, &m.psn_no)?
                    .into_iter()
                    .rfind(|d| d.enrollment.insutype == Insutype::ResidentBasic)
                    .map(EnrollmentView::from);
                members.push(MemberView { psn_no: m.psn_no.clone(), name, relation: m.relation, enrollment });
            }
            Ok::<_, AppError>(HouseholdView {
                hh_no: h.hh_no,
                head_psn_no: h.head_psn_no,
                admdvs: h.admdvs.as_str().into(),
                address: h.address,
                members,
            })
        })
        .await?;
    ctx.require_region(&view.admdvs)?;
    Ok(view)
}

#[derive(utoipa::ToSchema, Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Renewal {
    /// The scheme year to renew for (续保), e.g. 2027.
    pub year: i32,
}

/// 续保: assesses a resident household's (or person's) bill for the next
/// scheme year, ready to be paid through any channel.
pub async fn renew(
    app: &App,
    ctx: &Ctx,
    key: &str,
    input: Renewal,
) -> AppResult<crate::contribution::AssessmentReport> {
    ctx.require(Permission::WriteEnrollment)?;
    if !(2000..=2200).contains(&input.year) {
        return Err(AppError::invalid("year", "年度无效"));
    }
    let key = key.trim().to_owned();
    let ctx2 = ctx.clone();
    app.db
        .write(move |tx: &mut dyn Tx| {
            let (region, members) = match repo::household(tx, &key)? {
                Some(h) => (h.admdvs, h.members.into_iter().map(|m| m.psn_no).collect::<Vec<_>>()),
                None => {
                    let d = repo::open_basic_enrollment(tx, &key)?
                        .filter(|d| d.enrollment.insutype == Insutype::ResidentBasic)
                        .ok_or_else(|| AppError::not_found("居民参保家庭或人员", key.clone()))?;
                    (d.enrollment.insu_admdvs, vec![key.clone()])
                }
            };
            let region = match repo::open_basic_enrollment(tx, &members[0])? {
                Some(d) => d.enrollment.insu_admdvs,
                None => region,
            };
            ctx2.require_region(region.as_str())?;
            crate::contribution::assess_in_job_for(tx, &ctx2, region, Period::Year(input.year), Some(&members))
                .map(|(r, _)| r)
        })
        .await
}

#[derive(utoipa::ToSchema, Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopInput {
    /// `left_employer`, `death`, `scheme_change` or `other` (transfers use the transfer API).
    pub reason: String,
    /// Last day insured (inclusive).
    pub end_date: Date,
}

/// 停保: ends an enrollment.
pub async fn stop(app: &App, ctx: &Ctx, enrollment_id: i64, input: StopInput) -> AppResult<EnrollmentView> {
    ctx.require(Permission::WriteEnrollment)?;
    let reason = StopReason::parse(&input.reason)?;
    if reason == StopReason::TransferredOut {
        return Err(AppError::invalid("reason", "转出请使用关系转移接口"));
    }
    let ctx2 = ctx.clone();
    app.db
        .write(move |tx: &mut dyn Tx| {
            let before = repo::enrollment_detail(tx, enrollment_id)?
                .ok_or_else(|| AppError::not_found("参保记录", enrollment_id.to_string()))?;
            ctx2.require_region(before.enrollment.insu_admdvs.as_str())?;
            stop_in_job(tx, &ctx2, before, input.end_date, reason).map(EnrollmentView::from)
        })
        .await
}

pub(crate) fn stop_in_job(
    tx: &mut dyn Tx,
    ctx: &Ctx,
    before: EnrollmentDetail,
    end: Date,
    reason: StopReason,
) -> AppResult<EnrollmentDetail> {
    if let Some(end) = before.enrollment.end_date {
        return Err(AppError::Conflict(format!("参保记录 {} 已于 {end} 终止", before.enrollment.id)));
    }
    if end < before.enrollment.begin_date.add_days(-1) {
        return Err(AppError::invalid("end_date", "停保日期早于参保开始日期"));
    }
    repo::stop_enrollment(tx, before.enrollment.id, end, reason, ctx.now_ms)?;
    let mut after = before.clone();
    after.enrollment.end_date = Some(end);
    after.enrollment.status = EnrollmentStatus::Stopped;
    after.stop_reason = Some(reason);
    audit::record(
        tx,
        ctx,
        Change {
            action: "enrollment.stop",
            target_kind: "person",
            target_id: &after.enrollment.psn_no,
            region: after.enrollment.insu_admdvs.as_str(),
            before: audit::image(&before),
            after: audit::image(&after),
        },
    )?;
    Ok(after)
}

#[derive(utoipa::ToSchema, Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResumeInput {
    pub begin_date: Date,
    /// A new employer (职工); default: the previous one.
    pub emp_no: Option<String>,
}

/// 恢复参保: a new enrollment period on the terms of the person's last
/// stopped one (waiting periods follow from the payments).
pub async fn resume(app: &App, ctx: &Ctx, psn_no: &str, input: ResumeInput) -> AppResult<EnrollmentView> {
    ctx.require(Permission::WriteEnrollment)?;
    let psn_no = psn_no.trim().to_owned();
    let ctx2 = ctx.clone();
    app.db
        .write(move |tx: &mut dyn Tx| {
            let last = repo::enrollment_details_of(tx, &psn_no)?
                .into_iter()
                .rfind(|d| d.enrollment.insutype.is_basic() && d.enrollment.end_date.is_some())
                .ok_or_else(|| AppError::not_found("已停保的参保记录", psn_no.clone()))?;
            ctx2.require_region(last.enrollment.insu_admdvs.as_str())?;
            if last.stop_reason == Some(StopReason::Death) {
                return Err(AppError::Conflict("因死亡停保的人员不能恢复参保".into()));
            }
            if last.enrollment.end_date.is_some_and(|e| input.begin_date <= e) {
                return Err(AppError::invalid("begin_date", "恢复日期应晚于停保日期"));
            }
            let terms = Terms {
                insutype: last.enrollment.insutype,
                psn_type: last.enrollment.psn_type,
                region: last.enrollment.insu_admdvs,
                begin: input.begin_date,
                emp_no: input.emp_no.clone().or(last.emp_no.clone()),
                base: None,
                cvlserv: last.enrollment.cvlserv_flag,
                assistance: last.enrollment.assistance_category,
                exempt: false,
            };
            enroll_in_job(tx, &ctx2, &psn_no, &terms).map(EnrollmentView::from)
        })
        .await
}

// ---------------------------------------------------------------- transfers

#[derive(utoipa::ToSchema, Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferOut {
    /// The receiving pooling region.
    pub to_admdvs: String,
    /// Last day insured here.
    pub out_date: Date,
}

#[derive(utoipa::ToSchema, Clone, Debug, Serialize)]
pub struct TransferView {
    pub transfer_id: String,
    pub psn_no: String,
    pub insutype: Insutype,
    pub from_admdvs: String,
    pub to_admdvs: String,
    pub out_date: Date,
    /// 缴费月数 carried over.
    pub contribution_months: i64,
    pub account_balance: Money,
    pub status: String,
    pub to_enrollment_id: Option<i64>,
    pub in_date: Option<Date>,
}

impl From<Transfer> for TransferView {
    fn from(t: Transfer) -> TransferView {
        TransferView {
            transfer_id: t.transfer_id,
            psn_no: t.psn_no,
            insutype: t.insutype,
            from_admdvs: t.from_admdvs.as_str().into(),
            to_admdvs: t.to_admdvs.as_str().into(),
            out_date: t.out_date,
            contribution_months: t.contribution_months,
            account_balance: t.account_balance,
            status: t.status,
            to_enrollment_id: t.to_enrollment_id,
            in_date: t.in_date,
        }
    }
}

/// 关系转移 (out): ends the enrollment here, records the months paid and
/// takes the account balance out of this region's account fund.
pub async fn transfer_out(app: &App, ctx: &Ctx, psn_no: &str, input: TransferOut) -> AppResult<TransferView> {
    ctx.require(Permission::WriteEnrollment)?;
    let to = app.divisions().parse(&input.to_admdvs).map_err(|e| e.named("to_admdvs"))?.code();
    let psn_no = psn_no.trim().to_owned();
    let ctx2 = ctx.clone();
    app.db
        .write(move |tx: &mut dyn Tx| {
            let d = repo::open_basic_enrollment(tx, &psn_no)?
                .ok_or_else(|| AppError::Conflict(format!("人员 {psn_no} 没有有效的基本医保参保记录")))?;
            let e = d.enrollment.clone();
            ctx2.require_region(e.insu_admdvs.as_str())?;
            if e.insu_admdvs == to {
                return Err(AppError::invalid("to_admdvs", "转入地与转出地相同"));
            }
            stop_in_job(tx, &ctx2, d, input.out_date, StopReason::TransferredOut)?;
            let months = paid_months(&contributions::paid_of_person(tx, &psn_no, e.insutype)?);
            let transfer_id = format!("T{}", yibao_store::ids::next_id());
            let mut balance = Money::ZERO;
            if let Some(account) = yibao_store::account::get(tx, &psn_no, true)?
                && account.balance.is_positive()
            {
                balance = account.balance;
                post(
                    tx,
                    Post {
                        psn_no: &psn_no,
                        kind: yibao_domain::account::MovementKind::TransferOut,
                        amount: balance,
                        reference: &transfer_id,
                        related_ref: Some(to.as_str()),
                        user_psn_no: None,
                        authorization_id: None,
                        date: input.out_date,
                    },
                    ctx2.now_ms,
                )?;
                postings::account_withdrawn(
                    tx,
                    &postings::AccountWithdrawn {
                        reference: transfer_id.clone(),
                        psn_no: psn_no.clone(),
                        insu_admdvs: e.insu_admdvs,
                        reason: "transfer_out".into(),
                        amount: balance,
                        date: input.out_date,
                    },
                )?;
            }
            let t = Transfer {
                transfer_id: transfer_id.clone(),
                psn_no: psn_no.clone(),
                insutype: e.insutype,
                from_admdvs: e.insu_admdvs,
                to_admdvs: to,
                from_enrollment_id: e.id,
                out_date: input.out_date,
                contribution_months: months,
                account_balance: balance,
                status: "pending".into(),
                to_enrollment_id: None,
                in_date: None,
            };
            repo::insert_transfer(tx, &t, ctx2.now_ms)?;
            audit::record(
                tx,
                &ctx2,
                Change {
                    action: "transfer.out",
                    target_kind: "person",
                    target_id: &psn_no,
                    region: e.insu_admdvs.as_str(),
                    before: None,
                    after: audit::image(&t),
                },
            )?;
            Ok(TransferView::from(t))
        })
        .await
}

#[derive(utoipa::ToSchema, Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferIn {
    pub begin_date: Date,
    /// Person type in the new region; default: as before.
    pub psn_type: Option<PsnType>,
    /// The new employer (职工 in service).
    pub emp_no: Option<String>,
    pub base: Option<Money>,
}

/// 关系接续 (in): the receiving region enrolls the person, keeps the months
/// paid (paid periods stay on the person), credits the carried account
/// balance, and waives the new-enrollee waiting period when the person joins
/// within the arrears limit of leaving (连续参保).
pub async fn transfer_in(app: &App, ctx: &Ctx, transfer_id: &str, input: TransferIn) -> AppResult<TransferView> {
    ctx.require(Permission::WriteEnrollment)?;
    let id = transfer_id.trim().to_owned();
    let ctx2 = ctx.clone();
    app.db
        .write(move |tx: &mut dyn Tx| {
            let t = repo::transfer(tx, &id)?.ok_or_else(|| AppError::not_found("转移记录", id.clone()))?;
            ctx2.require_region(t.to_admdvs.as_str())?;
            if t.status != "pending" {
                return Err(AppError::Conflict(format!("转移 {id} 已接续")));
            }
            if input.begin_date <= t.out_date {
                return Err(AppError::invalid("begin_date", "转入日期应晚于转出日期"));
            }
            let from = repo::enrollment_detail(tx, t.from_enrollment_id)?
                .ok_or_else(|| AppError::Internal("转出参保记录不存在".into()))?;
            let policy = crate::contribution::policy_in_force(tx, t.to_admdvs.as_str(), t.insutype, input.begin_date)?;
            let continuous =
                input.begin_date <= rules::months_after(t.out_date, policy.benefit.arrears_limit_months.max(3));
            let terms = Terms {
                insutype: t.insutype,
                psn_type: input.psn_type.unwrap_or(from.enrollment.psn_type),
                region: t.to_admdvs,
                begin: input.begin_date,
                emp_no: input.emp_no.clone(),
                base: input.base,
                cvlserv: from.enrollment.cvlserv_flag,
                assistance: from.enrollment.assistance_category,
                exempt: continuous,
            };
            let detail = enroll_in_job(tx, &ctx2, &t.psn_no, &terms)?;
            if t.account_balance.is_positive() {
                yibao_store::account::open(tx, &t.psn_no, t.to_admdvs, ctx2.now_ms)?;
                yibao_store::account::set_region(tx, &t.psn_no, t.to_admdvs, ctx2.now_ms)?;
                post(
                    tx,
                    Post {
                        psn_no: &t.psn_no,
                        kind: yibao_domain::account::MovementKind::TransferIn,
                        amount: t.account_balance,
                        reference: &t.transfer_id,
                        related_ref: Some(t.from_admdvs.as_str()),
                        user_psn_no: None,
                        authorization_id: None,
                        date: input.begin_date,
                    },
                    ctx2.now_ms,
                )?;
                postings::account_credited(
                    tx,
                    &postings::AccountCredited {
                        reference: t.transfer_id.clone(),
                        psn_no: t.psn_no.clone(),
                        insu_admdvs: t.to_admdvs,
                        source: postings::AccountCreditSource::TransferIn,
                        amount: t.account_balance,
                        date: input.begin_date,
                    },
                )?;
            } else if t.insutype == Insutype::EmployeeBasic {
                yibao_store::account::set_region(tx, &t.psn_no, t.to_admdvs, ctx2.now_ms)?;
            }
            repo::complete_transfer(tx, &id, detail.enrollment.id, input.begin_date, ctx2.now_ms)?;
            let after = Transfer {
                status: "completed".into(),
                to_enrollment_id: Some(detail.enrollment.id),
                in_date: Some(input.begin_date),
                ..t.clone()
            };
            audit::record(
                tx,
                &ctx2,
                Change {
                    action: "transfer.in",
                    target_kind: "person",
                    target_id: &t.psn_no,
                    region: t.to_admdvs.as_str(),
                    before: audit::image(&t),
                    after: audit::image(&after),
                },
            )?;
            Ok(TransferView::from(after))
        })
        .await
}
