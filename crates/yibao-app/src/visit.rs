//! Visits (就诊) over the national interface: registration and admission,
//! visit information, fee lines and their classification, discharge, and
//! the cancellations. Settlement itself is in `settlement`.
//!
//! Every function here runs inside one message's DB job (see `fsi::execute`)
//! and checks the visit's state with `yibao_domain::visit::check`.

use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use yibao_domain::catalog::CatalogItem;
use yibao_domain::codes::{ChrgitmLv, Insutype, ListType, MdtrtCertType, MedChrgitmType, MedType};
use yibao_domain::settlement::{FeeLine, LineResult, classify_line};
use yibao_domain::visit::{self as rules, VisitAction, VisitFacts, VisitKind};
use yibao_domain::{DateTime, FieldError, Money, Quantity, Ratio, ResidentId, UnitPrice};
use yibao_store::Tx;
use yibao_store::enrollment::PersonForVisit;
use yibao_store::line_cache::VisitLines;
use yibao_store::visit::{self as repo, FeeLineRow, VisitRow};

use crate::catalog::CatalogView;
use crate::coverage::{self, Coverage};
use crate::error::{AppError, AppResult};
use crate::fsi::{Effect, FsiCtx, Outcome, parse_id};

/// Fee lines in one upload message at most.
pub const LINES_PER_MESSAGE_MAX: usize = 2000;
/// Active fee lines on one visit at most (a long stay has a few thousand).
pub const LINES_PER_VISIT_MAX: u32 = 10_000;
/// Diagnoses on one message at most.
pub const DIAGNOSES_MAX: usize = 50;
/// A fee line's amount may differ from price × quantity by rounding only.
pub const LINE_ROUNDING_FEN_MAX: i64 = 1;

/// Accepts a JSON object or an array of objects (`diseinfo` arrives both ways).
pub fn one_or_many<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany<T> {
        Many(Vec<T>),
        One(T),
    }
    Ok(match Option::<OneOrMany<T>>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::Many(v)) => v,
        Some(OneOrMany::One(t)) => vec![t],
    })
}

/// A diagnosis (diseinfo).
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Diagnosis {
    #[serde(default)]
    pub diag_type: Option<String>,
    #[serde(default)]
    pub maindiag_flag: Option<String>,
    #[serde(default)]
    pub diag_srt_no: Option<Value>,
    pub diag_code: String,
    #[serde(default)]
    pub diag_name: Option<String>,
    #[serde(default)]
    pub diag_dept: Option<String>,
    #[serde(default)]
    pub dise_dor_no: Option<String>,
    #[serde(default)]
    pub dise_dor_name: Option<String>,
    #[serde(default)]
    pub diag_time: Option<String>,
}

/// Checks diagnoses: bounded, and western diagnoses (diag_type 1) must be
/// ICD-10 医保版 codes (following the conversion map).
fn check_diagnoses(tx: &mut dyn Tx, node: &str, diagnoses: &[Diagnosis]) -> AppResult<()> {
    if diagnoses.len() > DIAGNOSES_MAX {
        return Err(AppError::invalid(node, format!("诊断不能超过{DIAGNOSES_MAX}条")));
    }
    for (i, d) in diagnoses.iter().enumerate() {
        let code = parse_id(&format!("{node}[{i}].diag_code"), &d.diag_code, 30)?;
        let western = d.diag_type.as_deref().is_none_or(|t| t.trim() == "1");
        if western && yibao_store::reference::resolve_diagnosis(tx, &code)?.is_none() {
            return Err(AppError::invalid(
                format!("{node}[{i}].diag_code"),
                format!("诊断代码“{code}”不在医保版疾病诊断目录中"),
            ));
        }
    }
    Ok(())
}

/// The person of a visit and the check of their credential.
pub fn verify_person(
    tx: &mut dyn Tx,
    keys: &crate::evoucher::Keys,
    now_ms: i64,
    psn_no: &str,
    cert_type: MdtrtCertType,
    cert_no: &str,
    field_prefix: &str,
) -> AppResult<PersonForVisit> {
    let found = yibao_store::enrollment::person_for_visit(tx, psn_no)?
        .ok_or_else(|| AppError::invalid(format!("{field_prefix}psn_no"), format!("人员编号“{psn_no}”不存在")))?;
    let person = &found.person;
    let cert_field = format!("{field_prefix}mdtrt_cert_no");
    match cert_type {
        MdtrtCertType::IdCard | MdtrtCertType::SocialSecurityCard => {
            // A social security card's number is the resident ID number (社会保障号码).
            let number = cert_no.split('|').next().unwrap_or("").trim();
            let id = ResidentId::parse(number).map_err(|e| e.named(&cert_field))?;
            if id.as_str() != person.certificate.certno {
                return Err(AppError::invalid(cert_field, "就诊凭证与人员编号不符"));
            }
        }
        MdtrtCertType::EVoucher => {
            let owner = crate::evoucher::verify_token(keys, cert_no, now_ms)
                .map_err(|reason| AppError::invalid(&cert_field, reason))?;
            if owner != psn_no {
                return Err(AppError::invalid(cert_field, "电子凭证与人员编号不符"));
            }
        }
    }
    Ok(found)
}

/// Whether two region codes are the same pooling region (one's scope
/// contains the other: 330200 contains 330203; 110000 contains 110105).
pub fn same_pooling_region(a: &str, b: &str) -> bool {
    let scope = |c: &str| yibao_domain::DivisionCode::parse(c).map(|d| d.scope_prefix().to_owned()).unwrap_or_default();
    let (sa, sb) = (scope(a), scope(b));
    !sa.is_empty() && !sb.is_empty() && (b.starts_with(&sa) || a.starts_with(&sb))
}

/// Checks the person is covered on the day, and the envelope's 参保地 agrees;
/// returns the coverage with what the visit keeps of it.
fn covered(
    tx: &mut dyn Tx,
    ctx: &FsiCtx,
    person: &PersonForVisit,
    insutype: Insutype,
    date: yibao_domain::Date,
) -> AppResult<(Coverage, Option<String>)> {
    let (c, kept) = coverage::for_new_visit(tx, person, insutype, date)?;
    if !c.covered {
        return Err(AppError::invalid("psn_no", format!("该人员在 {date} 不能享受医保待遇：{}", c.reason)));
    }
    if !ctx.insuplc_admdvs.is_empty() && !same_pooling_region(&ctx.insuplc_admdvs, c.insu_admdvs.as_str()) {
        return Err(AppError::invalid(
            "insuplc_admdvs",
            format!("参保地医保区划 {} 与人员参保地 {} 不符", ctx.insuplc_admdvs, c.insu_admdvs),
        ));
    }
    Ok((c, kept))
}

fn check_institution_region(ctx: &FsiCtx) -> AppResult<()> {
    if !same_pooling_region(&ctx.mdtrtarea_admvs, ctx.institution.admdvs.as_str()) {
        return Err(AppError::invalid(
            "mdtrtarea_admvs",
            format!("就医地医保区划 {} 与机构所在区划 {} 不符", ctx.mdtrtarea_admvs, ctx.institution.admdvs),
        ));
    }
    Ok(())
}

/// Loads a visit of this institution for a change, checking the person.
pub fn load_visit(tx: &mut dyn Tx, ctx: &FsiCtx, mdtrt_id: &str, psn_no: Option<&str>) -> AppResult<VisitRow> {
    visit_of(tx, ctx, mdtrt_id, psn_no, true)
}

/// The visit `mdtrt_id` of this institution (and person, when given), locked
/// for the rest of a write transaction when `lock`.
pub fn visit_of(
    tx: &mut dyn Tx,
    ctx: &FsiCtx,
    mdtrt_id: &str,
    psn_no: Option<&str>,
    lock: bool,
) -> AppResult<VisitRow> {
    let id = parse_id("mdtrt_id", mdtrt_id, 30)?;
    let visit =
        repo::get(tx, &id, lock)?.ok_or_else(|| AppError::invalid("mdtrt_id", format!("就诊ID“{id}”不存在")))?;
    if visit.fixmedins_code.as_str() != ctx.fixmedins_code() {
        return Err(AppError::invalid("mdtrt_id", format!("就诊ID“{id}”不属于本机构")));
    }
    if let Some(p) = psn_no
        && !p.trim().is_empty()
        && p.trim() != visit.psn_no
    {
        return Err(AppError::invalid("psn_no", "人员编号与就诊记录不符"));
    }
    Ok(visit)
}

// ----------------------------------------------------------------- 2201 / 2401

/// 2201 门诊挂号 `data`.
#[derive(Clone, Debug, Deserialize)]
pub struct Registration {
    pub psn_no: String,
    pub insutype: Insutype,
    pub begntime: DateTime,
    pub mdtrt_cert_type: MdtrtCertType,
    pub mdtrt_cert_no: String,
    pub ipt_otp_no: String,
    #[serde(default)]
    pub med_type: Option<MedType>,
}

/// 2401 入院办理 `mdtrtinfo`.
#[derive(Clone, Debug, Deserialize)]
pub struct Admission {
    pub psn_no: String,
    pub insutype: Insutype,
    pub begntime: DateTime,
    pub mdtrt_cert_type: MdtrtCertType,
    pub mdtrt_cert_no: String,
    pub med_type: MedType,
    pub ipt_no: String,
    #[serde(default)]
    pub dscg_maindiag_code: Option<String>,
    #[serde(default)]
    pub dscg_maindiag_name: Option<String>,
}

/// A visit id: 12-character institution code would make it long; the
/// platform's own 19-digit time-ordered number is unique and compact.
fn new_mdtrt_id() -> String {
    yibao_store::ids::next_id().to_string()
}

struct OpenVisit<'a> {
    kind: VisitKind,
    psn_no: &'a str,
    insutype: Insutype,
    med_type: MedType,
    begntime: DateTime,
    cert_type: MdtrtCertType,
    cert_no: &'a str,
    ipt_otp_no: &'a str,
    info: String,
    diagnoses: &'a [Diagnosis],
    field_prefix: &'a str,
}

fn open_visit(tx: &mut dyn Tx, ctx: &FsiCtx, v: OpenVisit<'_>) -> AppResult<VisitRow> {
    let psn_no = parse_id(&format!("{}psn_no", v.field_prefix), v.psn_no, 30)?;
    let ipt_otp_no = parse_id(&format!("{}ipt_otp_no", v.field_prefix), v.ipt_otp_no, 30)?;
    let expected = match v.kind {
        VisitKind::Outpatient => yibao_domain::codes::CareSetting::Outpatient,
        VisitKind::Inpatient => yibao_domain::codes::CareSetting::Inpatient,
        VisitKind::Pharmacy => yibao_domain::codes::CareSetting::Pharmacy,
    };
    let setting = v.med_type.setting();
    let fits = setting == expected
        || (v.kind == VisitKind::Outpatient && setting == yibao_domain::codes::CareSetting::ChronicOutpatient);
    if !fits {
        return Err(AppError::invalid(
            format!("{}med_type", v.field_prefix),
            format!("医疗类别 {}（{}）不能用于{}", v.med_type.code(), v.med_type.name(), v.kind.name()),
        ));
    }
    if v.begntime > ctx.now.add_seconds(600) {
        return Err(AppError::invalid(format!("{}begntime", v.field_prefix), "开始时间晚于当前时间"));
    }
    if v.begntime < ctx.now.add_seconds(-366 * 86_400) {
        return Err(AppError::invalid(format!("{}begntime", v.field_prefix), "开始时间早于一年以前"));
    }
    check_institution_region(ctx)?;
    // Only a designated institution with an agreement in force may open visits.
    ctx.institution.check_can_settle(v.begntime.date())?;
    let person = verify_person(tx, &ctx.evoucher, ctx.now_ms, &psn_no, v.cert_type, v.cert_no, v.field_prefix)?;
    let (cov, kept) = covered(tx, ctx, &person, v.insutype, v.begntime.date())?;
    check_diagnoses(tx, "diseinfo", v.diagnoses)?;
    if v.kind == VisitKind::Inpatient
        && !repo::open_visits(tx, ctx.fixmedins_code(), &psn_no, VisitKind::Inpatient)?.is_empty()
    {
        return Err(AppError::invalid("mdtrtinfo.psn_no", "该人员在本机构已有未结算的住院记录，不能重复入院"));
    }
    let visit = VisitRow {
        mdtrt_id: new_mdtrt_id(),
        kind: v.kind,
        fixmedins_code: ctx.institution.code,
        psn_no: psn_no.clone(),
        insutype: v.insutype,
        med_type: v.med_type,
        insu_admdvs: cov.insu_admdvs,
        mdtrtarea_admvs: yibao_domain::DivisionCode::parse(&ctx.mdtrtarea_admvs)
            .map_err(|e| e.named("mdtrtarea_admvs"))?,
        mdtrt_cert_type: v.cert_type,
        ipt_otp_no,
        begntime: v.begntime,
        endtime: None,
        facts: VisitFacts::default(),
        settled_setl_id: None,
        info: v.info,
        diagnoses: serde_json::to_string(v.diagnoses).expect("diagnoses serialize"),
        discharge_info: None,
        coverage: kept,
        lines_version: 0,
    };
    repo::insert(tx, &visit, ctx.now_ms)?;
    Ok(visit)
}

/// The reads [`register`] makes first, to prefetch: the person and what
/// their coverage is derived from (enrollments, paid periods, policies).
pub fn register_reads(r: &Registration) -> Vec<yibao_store::Read> {
    let mut reads = vec![yibao_store::enrollment::person_for_visit_read(&r.psn_no)];
    reads.extend(crate::enrollment::coverage_reads(&r.psn_no, r.begntime.date()));
    reads
}

/// 2201: opens an outpatient visit.
/// `info_json` is the `data` node as JSON text (keys sorted, as a parsed
/// `Value` writes it), kept as the visit's information document.
pub fn register(tx: &mut dyn Tx, ctx: &FsiCtx, r: &Registration, info_json: &str) -> AppResult<Outcome> {
    let visit = open_visit(
        tx,
        ctx,
        OpenVisit {
            kind: VisitKind::Outpatient,
            psn_no: &r.psn_no,
            insutype: r.insutype,
            med_type: r.med_type.unwrap_or(MedType::GeneralOutpatient),
            begntime: r.begntime,
            cert_type: r.mdtrt_cert_type,
            cert_no: &r.mdtrt_cert_no,
            ipt_otp_no: &r.ipt_otp_no,
            info: info_json.to_owned(),
            diagnoses: &[],
            field_prefix: "data.",
        },
    )?;
    Ok(Outcome {
        output: serde_json::json!({"data": {"mdtrt_id": visit.mdtrt_id, "psn_no": visit.psn_no,
                                            "ipt_otp_no": visit.ipt_otp_no, "exp_content": null}})
        .into(),
        effect: Effect::VisitOpened { mdtrt_id: visit.mdtrt_id, now_active: None },
    })
}

/// 2401: admits a patient.
/// `info_json`: the `mdtrtinfo` node as JSON text, as for [`register`].
pub fn admit(
    tx: &mut dyn Tx,
    ctx: &FsiCtx,
    a: &Admission,
    diagnoses: &[Diagnosis],
    info_json: &str,
) -> AppResult<Outcome> {
    if let Some(code) = a.dscg_maindiag_code.as_deref().filter(|c| !c.trim().is_empty())
        && yibao_store::reference::resolve_diagnosis(tx, code.trim())?.is_none()
    {
        return Err(AppError::invalid(
            "mdtrtinfo.dscg_maindiag_code",
            format!("诊断代码“{code}”不在医保版疾病诊断目录中"),
        ));
    }
    let visit = open_visit(
        tx,
        ctx,
        OpenVisit {
            kind: VisitKind::Inpatient,
            psn_no: &a.psn_no,
            insutype: a.insutype,
            med_type: a.med_type,
            begntime: a.begntime,
            cert_type: a.mdtrt_cert_type,
            cert_no: &a.mdtrt_cert_no,
            ipt_otp_no: &a.ipt_no,
            info: info_json.to_owned(),
            diagnoses,
            field_prefix: "mdtrtinfo.",
        },
    )?;
    Ok(Outcome {
        output: serde_json::json!({"result": {"mdtrt_id": visit.mdtrt_id}}).into(),
        effect: Effect::VisitOpened { mdtrt_id: visit.mdtrt_id, now_active: None },
    })
}

/// 2101 / 2102: opens the visit of a pharmacy purchase.
pub fn open_pharmacy_visit(
    tx: &mut dyn Tx,
    ctx: &FsiCtx,
    psn_no: &str,
    insutype: Insutype,
    cert_type: MdtrtCertType,
    cert_no: &str,
    begntime: DateTime,
) -> AppResult<VisitRow> {
    if ctx.institution.kind != yibao_domain::institution::InstitutionKind::Pharmacy {
        return Err(AppError::invalid("fixmedins_code", "药店购药交易只适用于定点零售药店"));
    }
    open_visit(
        tx,
        ctx,
        OpenVisit {
            kind: VisitKind::Pharmacy,
            psn_no,
            insutype,
            med_type: MedType::PharmacyPurchase,
            begntime,
            cert_type,
            cert_no,
            ipt_otp_no: &format!("YD{}", yibao_store::ids::next_id()),
            info: "{}".into(),
            diagnoses: &[],
            field_prefix: "data.",
        },
    )
}

// ------------------------------------------------------------ 2203 / 2403

/// 2203 `mdtrtinfo` (and 2403 `adminfo`): information about an open visit.
#[derive(Clone, Debug, Deserialize)]
pub struct VisitInfo {
    pub mdtrt_id: String,
    #[serde(default)]
    pub psn_no: Option<String>,
    #[serde(default)]
    pub med_type: Option<MedType>,
}

pub fn update_info(
    tx: &mut dyn Tx,
    ctx: &FsiCtx,
    info: &VisitInfo,
    diagnoses: &[Diagnosis],
    info_json: &str,
) -> AppResult<Outcome> {
    let mut visit = load_visit(tx, ctx, &info.mdtrt_id, info.psn_no.as_deref())?;
    rules::check(visit.kind, &visit.facts, VisitAction::UpdateInfo)?;
    check_diagnoses(tx, "diseinfo", diagnoses)?;
    if let Some(mt) = info.med_type {
        let ok = match visit.kind {
            VisitKind::Outpatient => matches!(
                mt.setting(),
                yibao_domain::codes::CareSetting::Outpatient | yibao_domain::codes::CareSetting::ChronicOutpatient
            ),
            VisitKind::Inpatient => mt.setting() == yibao_domain::codes::CareSetting::Inpatient,
            VisitKind::Pharmacy => mt.setting() == yibao_domain::codes::CareSetting::Pharmacy,
        };
        if !ok {
            return Err(AppError::invalid("med_type", format!("医疗类别 {} 不能用于{}", mt.code(), visit.kind.name())));
        }
        visit.med_type = mt;
    }
    // The information documents keep the latest version; the message log
    // keeps every message.
    visit.info = info_json.to_owned();
    if !diagnoses.is_empty() {
        visit.diagnoses = serde_json::to_string(diagnoses).expect("diagnoses serialize");
    }
    repo::update(tx, &visit, ctx.now_ms)?;
    Ok(Outcome { output: Value::Null.into(), effect: Effect::None })
}

// ------------------------------------------------------------ 2204 / 2301

/// One uploaded fee line (feedetail[]).
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct FeeLineInput {
    pub feedetl_sn: String,
    /// The visit; pharmacy purchases (2101/2102) leave it out.
    #[serde(default)]
    pub mdtrt_id: String,
    #[serde(default)]
    pub psn_no: Option<String>,
    /// Outpatient lines name their charge batch; inpatient lines may not.
    #[serde(default)]
    pub chrg_bchno: Option<String>,
    pub fee_ocur_time: DateTime,
    pub med_list_codg: String,
    #[serde(default)]
    pub medins_list_codg: Option<String>,
    pub det_item_fee_sumamt: Money,
    pub cnt: Quantity,
    pub pric: UnitPrice,
}

/// The platform's answer for one line (result[]).
#[derive(Clone, Debug, Serialize)]
pub struct LineAnswer {
    pub feedetl_sn: String,
    pub det_item_fee_sumamt: Money,
    pub cnt: Quantity,
    pub pric: UnitPrice,
    pub pric_uplmt_amt: Money,
    pub selfpay_prop: Ratio,
    pub fulamt_ownpay_amt: Money,
    pub overlmt_amt: Money,
    pub preselfpay_amt: Money,
    pub inscp_scp_amt: Money,
    pub chrgitm_lv: String,
    pub med_chrgitm_type: &'static str,
    pub bas_medn_flag: &'static str,
    pub hi_nego_drug_flag: &'static str,
    pub chld_medc_flag: &'static str,
    pub list_sp_item_flag: &'static str,
    pub lmt_used_flag: &'static str,
    pub drt_reim_flag: &'static str,
    pub memo: Option<String>,
    pub exp_content: Option<Value>,
}

/// No published price cap: the conventional "no limit" figure clients expect.
const NO_PRICE_CAP_YUAN: i64 = 999_999;

/// The fee category of an item (医疗收费项目类别) when the HIS does not say.
fn fee_category(item: &CatalogItem) -> MedChrgitmType {
    match item.list_type {
        ListType::WesternAndPatentDrug => {
            if item.code.starts_with('Z') || item.code.starts_with("YP2024-Z") || item.code.starts_with("YP2024-TZ") {
                MedChrgitmType::PatentDrug
            } else {
                MedChrgitmType::WesternDrug
            }
        }
        ListType::HerbalPieces => MedChrgitmType::HerbalPieces,
        ListType::HospitalPreparation | ListType::EthnicDrug => MedChrgitmType::WesternDrug,
        ListType::MedicalConsumable => MedChrgitmType::Materials,
        ListType::MedicalService => match item.category_code.as_deref().map(|c| &c[..c.len().min(4)]) {
            Some("1101") => MedChrgitmType::Registration,
            Some("1102") => MedChrgitmType::Consultation,
            Some(c) if c.starts_with("12") => MedChrgitmType::Examination,
            Some(c) if c.starts_with("25") => MedChrgitmType::LabTest,
            Some(c) if c.starts_with("33") => MedChrgitmType::Surgery,
            Some(c) if c.starts_with("31") => MedChrgitmType::Treatment,
            _ => MedChrgitmType::Other,
        },
    }
}

pub fn answer_of(line: &FeeLineRow, item: Option<&CatalogItem>, restriction: Option<&str>) -> LineAnswer {
    LineAnswer {
        feedetl_sn: line.feedetl_sn.clone(),
        det_item_fee_sumamt: line.amount,
        cnt: line.cnt,
        pric: line.pric,
        pric_uplmt_amt: line.price_cap.unwrap_or(Money::from_yuan(NO_PRICE_CAP_YUAN)),
        selfpay_prop: line.selfpay_prop,
        fulamt_ownpay_amt: line.fulamt_ownpay_amt,
        overlmt_amt: line.overlmt_amt,
        preselfpay_amt: line.preselfpay_amt,
        inscp_scp_amt: line.inscp_scp_amt,
        chrgitm_lv: line.chrgitm_lv.map_or("03", ChrgitmLv::code).to_owned(),
        med_chrgitm_type: item.map_or(MedChrgitmType::Other, fee_category).code(),
        bas_medn_flag: "0",
        hi_nego_drug_flag: if item.is_some_and(|i| i.negotiated) { "1" } else { "0" },
        chld_medc_flag: "0",
        list_sp_item_flag: "0",
        lmt_used_flag: if restriction.is_some() { "1" } else { "0" },
        drt_reim_flag: "0",
        memo: restriction.map(|r| format!("限定支付范围：{r}")),
        exp_content: None,
    }
}

/// Fields of a fee line the `fee_detail` columns already hold (parsed, exact).
const LINE_FIELDS_IN_COLUMNS: &[&str] = &[
    "mdtrt_id",
    "feedetl_sn",
    "chrg_bchno",
    "psn_no",
    "med_list_codg",
    "medins_list_codg",
    "fee_ocur_time",
    "cnt",
    "pric",
    "det_item_fee_sumamt",
];

/// The other fields of a line as sent (doctor, department, flags, …), as a
/// JSON object, for audit and risk rules. Leaving out what the columns hold
/// halves what each uploaded line writes. Written straight from the parsed
/// object, without copying it; a line that is not an object keeps `{}`.
pub fn extra_fields(line: &Value) -> String {
    struct Rest<'a>(&'a serde_json::Map<String, Value>);
    impl Serialize for Rest<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_map(self.0.iter().filter(|(k, _)| !LINE_FIELDS_IN_COLUMNS.contains(&k.as_str())))
        }
    }
    match line.as_object() {
        Some(fields) => serde_json::to_string(&Rest(fields)).expect("a JSON object serializes"),
        None => "{}".into(),
    }
}

/// Fee lines checked, classified and valued before the write job: all that
/// does not depend on the stored visit. 2204 is a third of the single
/// writer's jobs, so the catalogue lookups, the valuation and the answers'
/// text are done by the HTTP worker that parsed the message, and the writer
/// only checks the lines against the visit and stores them.
#[derive(Clone, Debug)]
pub struct PreparedLines {
    /// The visit every line names (empty for a pharmacy purchase, whose
    /// visit is opened in the same job).
    pub mdtrt_id: String,
    /// The person the first line names, if any.
    psn_no: Option<String>,
    lines: Vec<PreparedLine>,
    answers: Vec<LineAnswer>,
}

#[derive(Clone, Debug)]
struct PreparedLine {
    /// `mdtrt_id` and `psn_no` are the visit's, filled in by [`add_lines`].
    row: FeeLineRow,
    /// The person the line names, if any.
    psn_no: Option<String>,
    /// The charge batch was absent: allowed for inpatient lines only.
    batch_missing: bool,
}

impl PreparedLines {
    /// The answer to each line, in order.
    pub fn answers(&self) -> &[LineAnswer] {
        &self.answers
    }

    /// 2204 / 2301's output, `{"result": [...]}`, as JSON text.
    pub fn output_json(&self) -> String {
        #[derive(Serialize)]
        struct Lines<'a> {
            result: &'a [LineAnswer],
        }
        serde_json::to_string(&Lines { result: &self.answers }).expect("an answer serializes")
    }
}

/// Checks, classifies and values fee lines with the treating region's
/// catalogue as of each line's date (no database: see [`PreparedLines`]).
pub fn prepare_lines(
    ctx: &FsiCtx,
    catalog: &CatalogView,
    lines: &[FeeLineInput],
    extras: Vec<String>,
) -> AppResult<PreparedLines> {
    if lines.is_empty() {
        return Err(AppError::invalid("feedetail", "费用明细不能为空"));
    }
    if lines.len() > LINES_PER_MESSAGE_MAX {
        return Err(AppError::invalid("feedetail", format!("一次上传的费用明细不能超过{LINES_PER_MESSAGE_MAX}条")));
    }
    let mdtrt_id = lines[0].mdtrt_id.trim().to_owned();
    for (i, l) in lines.iter().enumerate() {
        if l.mdtrt_id.trim() != mdtrt_id {
            return Err(AppError::invalid(format!("feedetail[{i}].mdtrt_id"), "同一报文中的费用明细应属于同一就诊"));
        }
    }
    let region = ctx.institution.admdvs.as_str();
    let mut extras = extras.into_iter();
    let mut prepared = Vec::with_capacity(lines.len());
    let mut answers = Vec::with_capacity(lines.len());
    let mut seen = std::collections::HashSet::with_capacity(lines.len());
    for (i, l) in lines.iter().enumerate() {
        let at = |f: &str| format!("feedetail[{i}].{f}");
        let sn = parse_id(&at("feedetl_sn"), &l.feedetl_sn, 30)?;
        if !seen.insert(sn.clone()) {
            return Err(AppError::invalid(at("feedetl_sn"), format!("费用明细流水号“{sn}”在本次就诊中重复")));
        }
        let (batch, batch_missing) = match &l.chrg_bchno {
            Some(b) if !b.trim().is_empty() => (parse_id(&at("chrg_bchno"), b, 30)?, false),
            _ => ("0".to_owned(), true),
        };
        if l.cnt.is_negative() {
            return Err(AppError::invalid(at("cnt"), "数量不能为负数（退费请撤销明细）"));
        }
        if l.pric.is_negative() {
            return Err(AppError::invalid(at("pric"), "单价不能为负数"));
        }
        if l.det_item_fee_sumamt.is_negative() {
            return Err(AppError::invalid(at("det_item_fee_sumamt"), "明细金额不能为负数"));
        }
        let computed = Money::price_times_quantity(l.pric, l.cnt)
            .ok_or_else(|| AppError::invalid(at("det_item_fee_sumamt"), "金额超出允许范围"))?;
        if (l.det_item_fee_sumamt - computed).fen().abs() > LINE_ROUNDING_FEN_MAX {
            return Err(AppError::invalid(
                at("det_item_fee_sumamt"),
                format!("明细金额 {} 与单价×数量 {computed} 不符", l.det_item_fee_sumamt),
            ));
        }
        if l.fee_ocur_time > ctx.now.add_seconds(600) {
            return Err(AppError::invalid(at("fee_ocur_time"), "费用发生时间晚于当前时间"));
        }
        let code =
            yibao_domain::catalog::parse_catalog_code(&l.med_list_codg).map_err(|e| e.named(&at("med_list_codg")))?;
        let date = l.fee_ocur_time.date();
        let Some((item, resolved)) = catalog.resolve(&code, region, date) else {
            return Err(AppError::invalid(at("med_list_codg"), format!("医疗目录编码“{code}”不存在")));
        };
        if !item.in_force_on(date) {
            return Err(AppError::invalid(at("med_list_codg"), format!("医疗目录编码“{code}”在 {date} 不在有效期内")));
        }
        let fee_line =
            FeeLine { resolved: &resolved, quantity: l.cnt, unit_price: l.pric, amount: l.det_item_fee_sumamt };
        let LineResult { fulamt_ownpay_amt, overlmt_amt, preselfpay_amt, inscp_scp_amt, selfpay_prop, chrgitm_lv } =
            classify_line(i, &fee_line)?;
        let row = FeeLineRow {
            mdtrt_id: String::new(),
            feedetl_sn: sn,
            chrg_bchno: batch,
            psn_no: String::new(),
            med_list_codg: code,
            medins_list_codg: l.medins_list_codg.clone().unwrap_or_default().chars().take(150).collect(),
            list_type: item.list_type,
            item_name: item.name.clone(),
            fee_ocur_time: l.fee_ocur_time,
            cnt: l.cnt,
            pric: l.pric,
            amount: l.det_item_fee_sumamt,
            chrgitm_lv,
            selfpay_prop,
            price_cap: resolved.price_cap,
            fulamt_ownpay_amt,
            overlmt_amt,
            preselfpay_amt,
            inscp_scp_amt,
            active: true,
            extra: extras.next().unwrap_or_else(|| "{}".into()),
        };
        answers.push(answer_of(&row, Some(item), resolved.restriction.as_deref()));
        let psn_no = l.psn_no.as_deref().map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned);
        prepared.push(PreparedLine { row, psn_no, batch_missing });
    }
    Ok(PreparedLines { psn_no: lines[0].psn_no.clone(), mdtrt_id, lines: prepared, answers })
}

/// 2204 / 2301: stores fee lines prepared by [`prepare_lines`] on their
/// visit and answers each line's valuation.
/// The read [`upload_lines`] makes first, to prefetch: the visit, locked.
pub fn upload_reads(backend: yibao_store::Backend, lines: &PreparedLines) -> Vec<yibao_store::Read> {
    vec![repo::get_read(backend, &lines.mdtrt_id, true)]
}

pub fn upload_lines(tx: &mut dyn Tx, ctx: &FsiCtx, lines: &PreparedLines, output_json: &str) -> AppResult<Outcome> {
    let added = add_lines(tx, ctx, &lines.mdtrt_id, lines)?;
    Ok(Outcome { output: crate::fsi::Output::Json(output_json.to_owned()), effect: added.into() })
}

/// What [`add_lines`] stored.
pub struct LinesAdded {
    pub mdtrt_id: String,
    pub serials: Vec<String>,
    /// All of the visit's active lines after the upload, for the line cache
    /// once the job has committed; None when they were not known without a
    /// read (the cache did not hold the visit's earlier lines).
    pub now_active: Option<Arc<VisitLines>>,
}

impl From<LinesAdded> for Effect {
    fn from(added: LinesAdded) -> Effect {
        Effect::LinesUploaded { mdtrt_id: added.mdtrt_id, serials: added.serials, now_active: added.now_active }
    }
}

/// Stores prepared fee lines on visit `mdtrt_id` after checking them against
/// it (its state, its person, its start, serials already there).
pub fn add_lines(tx: &mut dyn Tx, ctx: &FsiCtx, mdtrt_id: &str, lines: &PreparedLines) -> AppResult<LinesAdded> {
    let mut visit = load_visit(tx, ctx, mdtrt_id, lines.psn_no.as_deref())?;
    rules::check(visit.kind, &visit.facts, VisitAction::UploadDetails)?;
    // The visit counts its active lines exactly (this function and
    // `cancel_lines` keep the count): with none, there is nothing to read.
    // Otherwise the line cache may hold them, at the visit's version.
    let before: Option<Arc<VisitLines>> = if visit.facts.active_lines == 0 {
        Some(Arc::new(VisitLines::from_keyed(&visit.mdtrt_id, visit.lines_version, Vec::new())))
    } else {
        ctx.lines.get(&visit.mdtrt_id, visit.lines_version)
    };
    let read_serials;
    let existing: Vec<&str> = match &before {
        Some(before) => before.lines().iter().map(|l| l.feedetl_sn.as_str()).collect(),
        None => {
            read_serials = repo::active_serials(tx, &visit.mdtrt_id)?;
            read_serials.iter().map(String::as_str).collect()
        }
    };
    if visit.facts.active_lines as usize + lines.lines.len() > LINES_PER_VISIT_MAX as usize {
        return Err(AppError::invalid("feedetail", format!("一次就诊的费用明细不能超过{LINES_PER_VISIT_MAX}条")));
    }
    for (i, l) in lines.lines.iter().enumerate() {
        let at = |f: &str| format!("feedetail[{i}].{f}");
        let sn = &l.row.feedetl_sn;
        if existing.contains(&sn.as_str()) {
            return Err(AppError::invalid(at("feedetl_sn"), format!("费用明细流水号“{sn}”在本次就诊中重复")));
        }
        if l.psn_no.as_deref().is_some_and(|p| p != visit.psn_no) {
            return Err(AppError::invalid(at("psn_no"), "人员编号与就诊记录不符"));
        }
        if l.batch_missing && visit.kind == VisitKind::Outpatient {
            return Err(AppError::invalid(at("chrg_bchno"), "门诊费用明细必须有收费批次号"));
        }
        if l.row.fee_ocur_time.date() < visit.begntime.date().add_days(-1) {
            return Err(AppError::invalid(at("fee_ocur_time"), "费用发生时间早于就诊开始时间"));
        }
    }
    // Stored under the visit's own identifiers, whatever the lines carried.
    repo::upsert_lines(tx, &mut visit, lines.lines.iter().map(|l| &l.row), ctx.now_ms)?;
    visit.facts.active_lines += lines.lines.len() as u32;
    repo::update(tx, &visit, ctx.now_ms)?;
    let serials = lines.lines.iter().map(|l| l.row.feedetl_sn.clone()).collect();
    // What the visit's lines are now, as the database would return them, for
    // the line cache once this commits.
    let now_active = before.map(|before| {
        let added = lines
            .lines
            .iter()
            .map(|l| FeeLineRow { mdtrt_id: visit.mdtrt_id.clone(), psn_no: visit.psn_no.clone(), ..l.row.clone() })
            .collect();
        Arc::new(before.with_added(visit.lines_version, ctx.now_ms, added))
    });
    Ok(LinesAdded { mdtrt_id: visit.mdtrt_id, serials, now_active })
}

// ------------------------------------------------------------ 2205 / 2302

/// Cancels fee lines: a charge batch (2205; `0000` = all), or serials (2302; `0000` = all).
pub fn cancel_lines(
    tx: &mut dyn Tx,
    ctx: &FsiCtx,
    mdtrt_id: &str,
    psn_no: Option<&str>,
    chrg_bchno: Option<&str>,
    serials: &[String],
) -> AppResult<Outcome> {
    let mut visit = load_visit(tx, ctx, mdtrt_id, psn_no)?;
    rules::check(visit.kind, &visit.facts, VisitAction::CancelDetails)?;
    let all = serials.iter().any(|s| s.trim() == "0000") || chrg_bchno.is_some_and(|b| b.trim() == "0000");
    let batch = if all { None } else { chrg_bchno.map(str::trim).filter(|b| !b.is_empty()) };
    let serials: Vec<String> = if all { Vec::new() } else { serials.iter().map(|s| s.trim().to_owned()).collect() };
    let before: std::collections::HashSet<String> = repo::active_serials(tx, &visit.mdtrt_id)?.into_iter().collect();
    for sn in &serials {
        if !before.contains(sn) {
            return Err(AppError::invalid("feedetl_sn", format!("费用明细流水号“{sn}”不存在或已撤销")));
        }
    }
    let n = repo::cancel_lines(tx, &mut visit, batch, &serials)?;
    if n == 0 {
        return Err(AppError::invalid(if batch.is_some() { "chrg_bchno" } else { "mdtrt_id" }, "没有可撤销的费用明细"));
    }
    let after: std::collections::HashSet<String> = repo::active_serials(tx, &visit.mdtrt_id)?.into_iter().collect();
    let cancelled: Vec<String> = before.difference(&after).cloned().collect();
    visit.facts.active_lines = after.len() as u32;
    repo::update(tx, &visit, ctx.now_ms)?;
    Ok(Outcome {
        output: Value::Null.into(),
        effect: Effect::LinesCancelled { mdtrt_id: visit.mdtrt_id, serials: cancelled },
    })
}

// ------------------------------------------------------ 2402 / 2405 / 2404 / 2202

/// 2402 `dscginfo`.
#[derive(Clone, Debug, Deserialize)]
pub struct Discharge {
    pub mdtrt_id: String,
    #[serde(default)]
    pub psn_no: Option<String>,
    pub endtime: DateTime,
    #[serde(default)]
    pub dscg_way: Option<String>,
    #[serde(default)]
    pub die_date: Option<String>,
}

pub fn discharge(
    tx: &mut dyn Tx,
    ctx: &FsiCtx,
    d: &Discharge,
    diagnoses: &[Diagnosis],
    info_json: &str,
) -> AppResult<Outcome> {
    let mut visit = load_visit(tx, ctx, &d.mdtrt_id, d.psn_no.as_deref())?;
    rules::check(visit.kind, &visit.facts, VisitAction::Discharge)?;
    if d.endtime < visit.begntime {
        return Err(AppError::invalid("dscginfo.endtime", "出院时间早于入院时间"));
    }
    if d.endtime > ctx.now.add_seconds(600) {
        return Err(AppError::invalid("dscginfo.endtime", "出院时间晚于当前时间"));
    }
    check_diagnoses(tx, "diseinfo", diagnoses)?;
    visit.endtime = Some(d.endtime);
    visit.facts.discharged = true;
    visit.discharge_info = Some(info_json.to_owned());
    if !diagnoses.is_empty() {
        visit.diagnoses = serde_json::to_string(diagnoses).expect("diagnoses serialize");
    }
    repo::update(tx, &visit, ctx.now_ms)?;
    Ok(Outcome { output: serde_json::json!({}).into(), effect: Effect::Discharged { mdtrt_id: visit.mdtrt_id } })
}

pub fn cancel_discharge(tx: &mut dyn Tx, ctx: &FsiCtx, mdtrt_id: &str, psn_no: Option<&str>) -> AppResult<Outcome> {
    let mut visit = load_visit(tx, ctx, mdtrt_id, psn_no)?;
    rules::check(visit.kind, &visit.facts, VisitAction::CancelDischarge)?;
    visit.endtime = None;
    visit.facts.discharged = false;
    repo::update(tx, &visit, ctx.now_ms)?;
    Ok(Outcome { output: Value::Null.into(), effect: Effect::None })
}

/// 2202 / 2404: cancels a registration or an admission with nothing on it.
pub fn cancel_visit(
    tx: &mut dyn Tx,
    ctx: &FsiCtx,
    mdtrt_id: &str,
    psn_no: Option<&str>,
    kind: VisitKind,
) -> AppResult<Outcome> {
    let mut visit = load_visit(tx, ctx, mdtrt_id, psn_no)?;
    if visit.kind != kind {
        return Err(AppError::invalid("mdtrt_id", format!("就诊ID对应的是{}，不是{}", visit.kind.name(), kind.name())));
    }
    rules::check(visit.kind, &visit.facts, VisitAction::CancelRegistration)?;
    visit.facts.cancelled = true;
    repo::update(tx, &visit, ctx.now_ms)?;
    Ok(Outcome { output: Value::Null.into(), effect: Effect::None })
}

/// Why a fee-line input failed, with its index (used when the HTTP layer
/// parses lines one by one).
pub fn line_error(index: usize, e: FieldError) -> AppError {
    AppError::Invalid(vec![e.within(&format!("feedetail[{index}]"))])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_fields_keep_only_what_the_columns_do_not_hold() {
        let raw = serde_json::json!({
            "feedetl_sn": "1", "mdtrt_id": "M1", "psn_no": "P1", "chrg_bchno": "B1", "fee_ocur_time": "2026-11-23 10:00:00",
            "med_list_codg": "X", "medins_list_codg": "HIS-X", "cnt": "2", "pric": "1.50", "det_item_fee_sumamt": "3.00",
            "bilg_dr_codg": "D01", "bilg_dr_name": "医生", "hosp_appr_flag": "0", "memo": null
        });
        let kept: Value = serde_json::from_str(&extra_fields(&raw)).unwrap();
        assert_eq!(
            kept,
            serde_json::json!({"bilg_dr_codg": "D01", "bilg_dr_name": "医生", "hosp_appr_flag": "0", "memo": null})
        );
        assert_eq!(extra_fields(&serde_json::json!("not an object")), "{}");
    }
}
