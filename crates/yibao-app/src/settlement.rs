//! Settlement use cases: cost simulation (费用试算) and the year-to-date
//! accumulators that every settlement changes and every reversal restores.
//!
//! Simulation computes exactly what a real settlement would, with the same
//! engine, and writes nothing: a member of the public may use it.

use serde::{Deserialize, Serialize};
use yibao_domain::catalog::{self, CatalogItem, ResolvedItem};
use yibao_domain::codes::{
    AssistanceCategory, CareSetting, ChrgitmLv, HospLv, HospitalTier, Insutype, MedType, PsnType,
};
use yibao_domain::policy::ValidPolicy;
use yibao_domain::settlement::{
    AccumulatorDelta, Accumulators, CrossRegion, FeeLine, FundDetail, LineResult, PersonStatus, SettlementInput,
    SettlementResult, Visit, settle,
};
use yibao_domain::{Date, FieldError, Money, Quantity, Ratio, UnitPrice};
use yibao_store::Tx;
use yibao_store::policy::{self as repo, AccumulatorKey};

use crate::App;
use crate::error::{AppError, AppResult};

/// Fee lines one simulation accepts (a public endpoint: kept well below the
/// engine's own bound).
pub const SIMULATE_LINES_MAX: usize = 1000;

/// One fee line of a simulation, named as in the national interface.
#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimLine {
    /// National catalog code (医保目录编码). Optional only in offline case
    /// files that give the classification inline.
    pub med_list_codg: Option<String>,
    /// A label for offline case files.
    pub name: Option<String>,
    /// 数量.
    pub cnt: Quantity,
    /// 单价 (yuan).
    pub pric: UnitPrice,
    /// 明细项目费用总额; `pric × cnt` rounded half-up when absent.
    pub det_item_fee_sumamt: Option<Money>,
    /// Offline case files only: the class, 先行自付比例 and price cap, instead
    /// of a catalog lookup.
    pub chrgitm_lv: Option<ChrgitmLv>,
    pub selfpay_prop: Option<Ratio>,
    pub price_cap: Option<Money>,
}

/// A simulation request: the person, the visit and the fee lines.
#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulateRequest {
    /// 参保地: the pooling region whose policy applies.
    pub insuplc_admdvs: String,
    pub insutype: Insutype,
    pub psn_type: PsnType,
    /// Age in years on the visit date (or give `brdy`).
    pub age: Option<u32>,
    /// Birth date (alternative to `age`).
    pub brdy: Option<Date>,
    pub assistance_category: Option<AssistanceCategory>,
    #[serde(default)]
    pub cvlserv_flag: bool,
    /// Personal-account balance (employees); 0 when absent.
    pub account_balance: Option<Money>,
    /// Year-to-date accumulators before this visit; zero when absent.
    #[schema(value_type = Option<Object>)]
    pub ytd: Option<Accumulators>,
    pub med_type: MedType,
    /// Hospital level (absent for pharmacies: treated as 一级).
    pub hosp_lv: Option<HospLv>,
    /// Which admission of the scheme year (inpatient); `ytd.admissions + 1` when absent.
    pub admission_no: Option<u32>,
    /// Visit date; today when absent.
    pub date: Option<Date>,
    /// 就医地: where the care happens; the insured region when absent.
    pub mdtrtarea_admvs: Option<String>,
    /// For care outside the insured region: whether the person filed (备案).
    #[serde(default)]
    pub cross_region_filed: bool,
    /// 个人账户使用标志.
    #[serde(default)]
    pub acct_used_flag: bool,
    pub fee_lines: Vec<SimLine>,
}

/// A classified line in the answer.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SimLineResult {
    pub med_list_codg: Option<String>,
    pub name: Option<String>,
    pub det_item_fee_sumamt: Money,
    pub chrgitm_lv: Option<ChrgitmLv>,
    pub selfpay_prop: Ratio,
    pub price_cap: Option<Money>,
    pub fulamt_ownpay_amt: Money,
    pub overlmt_amt: Money,
    pub preselfpay_amt: Money,
    pub inscp_scp_amt: Money,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PolicyRef {
    pub id: i64,
    pub name: String,
    pub region: String,
    pub begin_date: Date,
}

/// The national settlement fields (setlinfo) of a computed settlement.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SetlInfo {
    pub medfee_sumamt: Money,
    pub fulamt_ownpay_amt: Money,
    pub overlmt_selfpay: Money,
    pub preselfpay_amt: Money,
    pub inscp_scp_amt: Money,
    pub act_pay_dedc: Money,
    pub hifp_pay: Money,
    pub pool_prop_selfpay: Ratio,
    pub cvlserv_pay: Money,
    pub hifes_pay: Money,
    pub hifmi_pay: Money,
    pub hifob_pay: Money,
    pub maf_pay: Money,
    pub oth_pay: Money,
    pub fund_pay_sumamt: Money,
    pub psn_part_amt: Money,
    pub acct_pay: Money,
    pub psn_cash_pay: Money,
    pub balc: Money,
}

impl SetlInfo {
    pub fn of(r: &SettlementResult) -> SetlInfo {
        SetlInfo {
            medfee_sumamt: r.medfee_sumamt,
            fulamt_ownpay_amt: r.fulamt_ownpay_amt,
            overlmt_selfpay: r.overlmt_selfpay,
            preselfpay_amt: r.preselfpay_amt,
            inscp_scp_amt: r.inscp_scp_amt,
            act_pay_dedc: r.act_pay_dedc,
            hifp_pay: r.hifp_pay,
            pool_prop_selfpay: r.pool_prop_selfpay,
            cvlserv_pay: r.cvlserv_pay,
            hifes_pay: r.hifes_pay,
            hifmi_pay: r.hifmi_pay,
            hifob_pay: r.hifob_pay,
            maf_pay: r.maf_pay,
            oth_pay: r.oth_pay,
            fund_pay_sumamt: r.fund_pay_sumamt,
            psn_part_amt: r.psn_part_amt,
            acct_pay: r.acct_pay,
            psn_cash_pay: r.psn_cash_pay,
            balc: r.balc,
        }
    }
}

/// One setldetail row as the API shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SetlDetail {
    pub fund_pay_type: yibao_domain::codes::FundPayType,
    pub fund_pay_type_name: &'static str,
    pub inscp_scp_amt: Money,
    pub crt_payb_lmt_amt: Option<Money>,
    pub fund_payamt: Money,
    pub setl_proc_info: String,
}

impl SetlDetail {
    pub fn of(d: &FundDetail) -> SetlDetail {
        SetlDetail {
            fund_pay_type: d.fund_pay_type,
            fund_pay_type_name: d.fund_pay_type.name(),
            inscp_scp_amt: d.inscp_scp_amt,
            crt_payb_lmt_amt: d.crt_payb_lmt_amt,
            fund_payamt: d.fund_payamt,
            setl_proc_info: d.setl_proc_info.clone(),
        }
    }
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SimulateResult {
    pub policy: PolicyRef,
    pub scheme_year: i32,
    pub setlinfo: SetlInfo,
    pub setldetail: Vec<SetlDetail>,
    pub lines: Vec<SimLineResult>,
    #[schema(value_type = Object)]
    pub accumulator_delta: AccumulatorDelta,
    /// The accumulators after this visit, had it been settled.
    #[schema(value_type = Object)]
    pub ytd_after: Accumulators,
}

/// The hospital tier of a visit (pharmacies and unrated clinics count as 一级).
pub fn tier_of(hosp_lv: Option<HospLv>) -> HospitalTier {
    hosp_lv.map_or(HospitalTier::One, HospLv::tier)
}

/// Resolves each line: a catalog item (looked up by the caller) or an inline
/// classification. Returns the resolved items and the amounts.
fn resolve_lines(
    lines: &[SimLine],
    items: &[Option<CatalogItem>],
    overrides: &dyn Fn(&str) -> Vec<yibao_domain::catalog::CatalogOverride>,
    region: &str,
    date: Date,
) -> AppResult<(Vec<ResolvedItem>, Vec<Money>)> {
    let mut resolved = Vec::with_capacity(lines.len());
    let mut amounts = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        let at = |f: &str| format!("fee_lines[{i}].{f}");
        if line.cnt.is_negative() {
            return Err(AppError::invalid(at("cnt"), "数量不能为负数"));
        }
        if line.pric.is_negative() {
            return Err(AppError::invalid(at("pric"), "单价不能为负数"));
        }
        let computed = Money::price_times_quantity(line.pric, line.cnt)
            .ok_or_else(|| AppError::invalid(at("det_item_fee_sumamt"), "金额超出允许范围"))?;
        let amount = line.det_item_fee_sumamt.unwrap_or(computed);
        if amount.is_negative() {
            return Err(AppError::invalid(at("det_item_fee_sumamt"), "金额不能为负数"));
        }
        // A line total may differ from price × quantity by rounding only.
        if (amount - computed).fen().abs() > 1 {
            return Err(AppError::invalid(
                at("det_item_fee_sumamt"),
                format!("明细金额 {amount} 与单价×数量 {computed} 不符"),
            ));
        }
        amounts.push(amount);
        match (&items[i], line.chrgitm_lv) {
            (Some(item), _) => {
                let candidates = overrides(&item.code);
                let refs: Vec<&_> = candidates.iter().collect();
                if !item.in_force_on(date) {
                    return Err(AppError::invalid(
                        at("med_list_codg"),
                        format!("目录项目 {} 在 {date} 不在有效期内", item.code),
                    ));
                }
                resolved.push(catalog::resolve(item, &refs, region, date));
            }
            (None, Some(class)) => {
                let selfpay = match class {
                    ChrgitmLv::ClassA => Ratio::ZERO,
                    ChrgitmLv::ClassB | ChrgitmLv::ClassCReimbursable => line.selfpay_prop.unwrap_or(Ratio::ZERO),
                    ChrgitmLv::ClassC => Ratio::ONE,
                };
                if !selfpay.is_at_most_one() {
                    return Err(AppError::invalid(at("selfpay_prop"), "先行自付比例应在0到100%之间"));
                }
                resolved.push(ResolvedItem {
                    code: line.med_list_codg.clone().unwrap_or_else(|| format!("LINE{i}")),
                    name: line.name.clone().unwrap_or_default(),
                    list_type: yibao_domain::codes::ListType::WesternAndPatentDrug,
                    class: Some(class),
                    selfpay_prop: selfpay,
                    price_cap: line.price_cap,
                    restriction: None,
                    applied_overrides: vec![],
                });
            }
            (None, None) => {
                return Err(AppError::invalid(
                    at("med_list_codg"),
                    match &line.med_list_codg {
                        Some(code) => format!("目录编码“{code}”不存在"),
                        None => "缺少目录编码".to_owned(),
                    },
                ));
            }
        }
    }
    Ok((resolved, amounts))
}

/// Computes a simulation from a policy and already looked-up catalog items.
/// Pure: the API and the `yibao simulate` command share it.
pub fn compute(
    policy: &ValidPolicy,
    policy_id: i64,
    req: &SimulateRequest,
    items: &[Option<CatalogItem>],
    overrides: &dyn Fn(&str) -> Vec<yibao_domain::catalog::CatalogOverride>,
    today: Date,
) -> AppResult<SimulateResult> {
    if req.fee_lines.is_empty() {
        return Err(AppError::invalid("fee_lines", "至少需要一条费用明细"));
    }
    if req.fee_lines.len() > SIMULATE_LINES_MAX {
        return Err(AppError::invalid("fee_lines", format!("费用明细不能超过{SIMULATE_LINES_MAX}条")));
    }
    if req.insutype != policy.insutype {
        return Err(AppError::invalid("insutype", "险种与政策不符"));
    }
    let date = req.date.unwrap_or(today);
    let age = match (req.age, req.brdy) {
        (Some(a), _) => a,
        (None, Some(b)) => {
            let years = b.years_until(date);
            if years < 0 {
                return Err(AppError::invalid("brdy", "出生日期晚于就诊日期"));
            }
            years as u32
        }
        (None, None) => return Err(AppError::invalid("age", "请提供年龄或出生日期")),
    };
    if age > 150 {
        return Err(AppError::invalid("age", "年龄应在0到150之间"));
    }
    let treating = req.mdtrtarea_admvs.clone().unwrap_or_else(|| req.insuplc_admdvs.clone());
    let cross_region = (treating != req.insuplc_admdvs).then_some(CrossRegion { filed: req.cross_region_filed });
    let ytd = req.ytd.unwrap_or_default();
    let setting = req.med_type.setting();
    let admission_no = match req.admission_no {
        Some(0) => return Err(AppError::invalid("admission_no", "住院次数从1开始")),
        Some(n) => n,
        None if setting == CareSetting::Inpatient => ytd.admissions + 1,
        None => 1,
    };
    // Classification follows the treating region's catalog (就医地目录).
    let (resolved, amounts) = resolve_lines(&req.fee_lines, items, overrides, &treating, date)?;
    let lines: Vec<FeeLine<'_>> = resolved
        .iter()
        .zip(&req.fee_lines)
        .zip(&amounts)
        .map(|((r, l), a)| FeeLine { resolved: r, quantity: l.cnt, unit_price: l.pric, amount: *a })
        .collect();
    let person = PersonStatus {
        insutype: req.insutype,
        psn_type: req.psn_type,
        age_years: age,
        assistance: req.assistance_category,
        civil_servant: req.cvlserv_flag,
        has_account: req.insutype == Insutype::EmployeeBasic || req.account_balance.is_some_and(Money::is_positive),
    };
    let visit = Visit {
        med_type: req.med_type,
        hospital_tier: tier_of(req.hosp_lv),
        admission_no,
        date,
        cross_region,
        use_account: req.acct_used_flag,
    };
    let balance = req.account_balance.unwrap_or(Money::ZERO);
    if balance.is_negative() {
        return Err(AppError::invalid("account_balance", "账户余额不能为负数"));
    }
    let input =
        SettlementInput { policy, person: &person, ytd: &ytd, visit: &visit, account_balance: balance, lines: &lines };
    let result = settle(&input).map_err(|e| {
        // The engine names lines as feedetail[i]; the simulation calls them fee_lines[i].
        AppError::Invalid(vec![FieldError::new(e.field.replacen("feedetail", "fee_lines", 1), e.reason)])
    })?;
    let mut ytd_after = ytd;
    ytd_after.apply(&result.delta);
    let line_results = result
        .lines
        .iter()
        .zip(&req.fee_lines)
        .zip(&resolved)
        .zip(&amounts)
        .map(|(((l, req_line), r), amount): (((&LineResult, &SimLine), &ResolvedItem), &Money)| SimLineResult {
            med_list_codg: req_line.med_list_codg.clone(),
            name: req_line.name.clone().or_else(|| (!r.name.is_empty()).then(|| r.name.clone())),
            det_item_fee_sumamt: *amount,
            chrgitm_lv: l.chrgitm_lv,
            selfpay_prop: l.selfpay_prop,
            price_cap: r.price_cap,
            fulamt_ownpay_amt: l.fulamt_ownpay_amt,
            overlmt_amt: l.overlmt_amt,
            preselfpay_amt: l.preselfpay_amt,
            inscp_scp_amt: l.inscp_scp_amt,
        })
        .collect();
    Ok(SimulateResult {
        policy: PolicyRef {
            id: policy_id,
            name: policy.name.clone(),
            region: policy.region.clone(),
            begin_date: policy.begin_date,
        },
        scheme_year: policy.scheme_year(date),
        setlinfo: SetlInfo::of(&result),
        setldetail: result.setldetail.iter().map(SetlDetail::of).collect(),
        lines: line_results,
        accumulator_delta: result.delta,
        ytd_after,
    })
}

/// 费用试算: computes a settlement for a described visit; writes nothing.
pub async fn simulate(app: &App, req: SimulateRequest, today: Date) -> AppResult<SimulateResult> {
    let divisions = app.divisions();
    let insured = divisions.parse(&req.insuplc_admdvs).map_err(|e| e.named("insuplc_admdvs"))?;
    if let Some(t) = &req.mdtrtarea_admvs {
        divisions.parse(t).map_err(|e| e.named("mdtrtarea_admvs"))?;
    }
    if req.fee_lines.len() > SIMULATE_LINES_MAX {
        return Err(AppError::invalid("fee_lines", format!("费用明细不能超过{SIMULATE_LINES_MAX}条")));
    }
    let date = req.date.unwrap_or(today);
    let (policy_id, policy) = app.policies.in_force(app, insured.as_str(), req.insutype, date).await?;
    let mut codes = Vec::with_capacity(req.fee_lines.len());
    for (i, line) in req.fee_lines.iter().enumerate() {
        if line.chrgitm_lv.is_some() || line.selfpay_prop.is_some() || line.price_cap.is_some() {
            return Err(AppError::invalid(
                format!("fee_lines[{i}].chrgitm_lv"),
                "在线试算按目录编码确定甲乙丙分类，不接受自行指定的分类",
            ));
        }
        let code = line
            .med_list_codg
            .as_deref()
            .ok_or_else(|| AppError::invalid(format!("fee_lines[{i}].med_list_codg"), "缺少目录编码"))?;
        codes.push(catalog::parse_catalog_code(code).map_err(|e| e.named(&format!("fee_lines[{i}].med_list_codg")))?);
    }
    let items = app
        .db
        .read(move |tx: &mut dyn Tx| {
            codes
                .iter()
                .map(|c| yibao_store::catalog::get(tx, c))
                .collect::<Result<Vec<_>, _>>()
                .map_err(AppError::from)
        })
        .await?;
    let index = app.catalog.overrides(app).await?;
    let overrides = |code: &str| index.candidates(code).into_iter().cloned().collect::<Vec<_>>();
    compute(&policy, policy_id, &req, &items, &overrides, today)
}

/// Adds a settlement's delta to a person's accumulators, inside the
/// settlement's job; returns the new state.
pub fn apply_accumulators(
    tx: &mut dyn Tx,
    key: &AccumulatorKey,
    insu_admdvs: &str,
    delta: &AccumulatorDelta,
    now_ms: i64,
) -> AppResult<Accumulators> {
    let (state, version) = repo::accumulators_for_update(tx, key)?;
    add_to_accumulators(tx, key, insu_admdvs, state, version, delta, now_ms)
}

/// Adds `delta` to accumulators read (locked) at `version` and stores them.
fn add_to_accumulators(
    tx: &mut dyn Tx,
    key: &AccumulatorKey,
    insu_admdvs: &str,
    mut state: Accumulators,
    version: i64,
    delta: &AccumulatorDelta,
    now_ms: i64,
) -> AppResult<Accumulators> {
    state.apply(delta);
    repo::store_accumulators(tx, key, insu_admdvs, &state, version, now_ms)?;
    Ok(state)
}

/// Takes a settlement's delta back out (cancellation, 冲正); refuses, writing
/// nothing, if that would make a figure negative.
pub fn revert_accumulators(
    tx: &mut dyn Tx,
    key: &AccumulatorKey,
    insu_admdvs: &str,
    delta: &AccumulatorDelta,
    now_ms: i64,
) -> AppResult<Accumulators> {
    let (mut state, version) = repo::accumulators_for_update(tx, key)?;
    state.revert(delta).map_err(|e| AppError::Conflict(format!("年度累计无法冲销：{}（{}）", e.reason, e.field)))?;
    repo::store_accumulators(tx, key, insu_admdvs, &state, version, now_ms)?;
    Ok(state)
}

// ---------------------------------------------------------------------------
// Settlement over the national interface: 2206/2207/2208 (outpatient),
// 2303/2304/2305 (inpatient), 2101/2102/2103 (pharmacy).

use serde_json::{Value, json};
use yibao_domain::catalog::ResolvedItem as Resolved;
use yibao_domain::codes::{ClrWay, MdtrtCertType, PsnSetlway};
use yibao_domain::visit::{self as visit_rules, VisitAction, VisitKind};
use yibao_store::settlement::{Amounts, SettlementRecord};
use yibao_store::visit::FeeLineRow;

use crate::fsi::{Effect, FsiCtx, Outcome};
use crate::policy::PolicySnapshot;
use crate::postings::{self, SettlementPosted};
use crate::visit::{load_visit, same_pooling_region, verify_person};

/// 2206/2207 and 2303/2304 `data`.
#[derive(Clone, Debug, Deserialize)]
pub struct SettleInput {
    pub psn_no: String,
    pub mdtrt_cert_type: MdtrtCertType,
    pub mdtrt_cert_no: String,
    #[serde(default)]
    pub med_type: Option<MedType>,
    pub medfee_sumamt: Money,
    #[serde(default)]
    pub psn_setlway: Option<PsnSetlway>,
    pub mdtrt_id: String,
    #[serde(default)]
    pub chrg_bchno: Option<String>,
    pub insutype: Insutype,
    /// 个人账户使用标志: "1" to pay the personal part from the account.
    #[serde(default, deserialize_with = "flag")]
    pub acct_used_flag: bool,
    /// 中途结算标志 (inpatient).
    #[serde(default, deserialize_with = "flag")]
    pub mid_setl_flag: bool,
}

/// A 0/1 flag sent as a string or a number.
fn flag<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let text = yibao_domain::codes::deserialize_code_text(d)?;
    match text.trim() {
        "1" => Ok(true),
        "0" | "" => Ok(false),
        other => Err(serde::de::Error::custom(format!("标志应为0或1，收到“{other}”"))),
    }
}

/// A fee line as stored, turned back into the engine's classified item.
fn resolved_of(line: &FeeLineRow) -> Resolved {
    Resolved {
        code: line.med_list_codg.clone(),
        name: line.item_name.clone(),
        list_type: line.list_type,
        class: line.chrgitm_lv,
        selfpay_prop: line.selfpay_prop,
        price_cap: line.price_cap,
        restriction: None,
        applied_overrides: Vec::new(),
    }
}

fn medins_setl_id(ctx: &FsiCtx) -> String {
    format!("{}{}{:04}", ctx.fixmedins_code(), ctx.now.compact(), (yibao_store::ids::next_id() as u64) % 10_000)
}

fn age_on(brdy: Date, on: Date) -> Value {
    // Age in years with one decimal, as the interface writes it (4,1).
    let days = brdy.days_until(on).max(0) as i64;
    let tenths = days * 10 / 365;
    serde_json::Number::from_str(&format!("{}.{}", tenths / 10, tenths % 10)).map(Value::Number).unwrap_or(Value::Null)
}

use std::str::FromStr as _;

/// How one settlement document is stamped: its ids, time and clearing type.
struct SetlStamp<'a> {
    pool_prop: Ratio,
    /// None for a pre-settlement (2206), which settles nothing.
    setl_id: Option<&'a str>,
    medins_setl_id: &'a str,
    setl_time: yibao_domain::DateTime,
    clr_type: yibao_domain::codes::ClrType,
    /// The insured's person type: the coverage's, or for a reversal the
    /// settlement's own.
    psn_type: yibao_domain::codes::PsnType,
}

/// `setlinfo` of a 2206 / 2207 / 2208 answer, written straight from typed
/// values (building it as a `Value` map of 57 keys and writing that cost a
/// tenth of a settlement's instructions; docs/performance.md, thirteenth
/// round).
///
/// The fields are declared in the byte order of their names, so the text
/// is the one a sorted `Value` map writes: the answers, and the answers the
/// message log keeps for a resent message, read as they always have.
/// [`settle_answer`] asserts this in debug builds.
#[derive(Serialize)]
struct SetlInfoAnswer<'a> {
    acct_mulaid_pay: Money,
    acct_pay: Money,
    act_pay_dedc: Money,
    age: Value,
    balc: Money,
    begndate: Date,
    brdy: Date,
    /// Fields some clients read under other names, or that provinces add,
    /// are sent so that every known client finds what it looks for:
    /// `cashPayamt`, `psn_pay`, `inscp_amt`, `crt_dedc`, `dedc_std`,
    /// `hifdm_pay`, `othfund_pay`, `ownpay_hosp_part`, `insu_admdvs`,
    /// `mdtrt_cert_no`, `psn_insu_rlts_id`, `begndate`, `enddate`,
    /// `exp_content`, `invono`, `setl_type`.
    #[serde(rename = "cashPayamt")]
    cash_payamt: Money,
    certno: &'a str,
    clr_optins: &'a str,
    clr_type: &'static str,
    clr_way: &'static str,
    crt_dedc: Money,
    cvlserv_flag: &'static str,
    cvlserv_pay: Money,
    dedc_std: Money,
    enddate: Option<Date>,
    exp_content: Option<()>,
    fulamt_ownpay_amt: Money,
    fund_pay_sumamt: Money,
    gend: &'static str,
    hifdm_pay: Money,
    hifes_pay: Money,
    hifmi_pay: Money,
    hifob_pay: Money,
    hifp_pay: Money,
    hosp_part_amt: Money,
    inscp_amt: Money,
    inscp_scp_amt: Money,
    insu_admdvs: &'a str,
    insutype: &'static str,
    invono: Option<()>,
    maf_pay: Money,
    mdtrt_cert_no: &'a str,
    mdtrt_cert_type: &'static str,
    mdtrt_id: &'a str,
    med_type: &'static str,
    medfee_sumamt: Money,
    medins_setl_id: &'a str,
    naty: &'a str,
    oth_pay: Money,
    othfund_pay: Money,
    overlmt_selfpay: Money,
    ownpay_hosp_part: Money,
    pool_prop_selfpay: Ratio,
    preselfpay_amt: Money,
    psn_cash_pay: Money,
    psn_cert_type: &'static str,
    psn_insu_rlts_id: &'static str,
    psn_name: &'a str,
    psn_no: &'a str,
    psn_part_amt: Money,
    psn_pay: Money,
    psn_type: &'static str,
    /// A pre-settlement (2206) settles nothing: its setl_id is null, as in
    /// the real 2206 answers we compare against (never a made-up id).
    setl_id: Option<&'a str>,
    setl_time: yibao_domain::DateTime,
    setl_type: &'static str,
}

/// The setlinfo document of a settlement (2206/2207 and the 2303/2304 family).
fn setlinfo<'a>(
    person: &'a yibao_domain::enrollment::Person,
    cov: &'a crate::coverage::Coverage,
    visit: &'a yibao_store::visit::VisitRow,
    amounts: &Amounts,
    stamp: SetlStamp<'a>,
) -> SetlInfoAnswer<'a> {
    let SetlStamp { pool_prop, setl_id, medins_setl_id, setl_time, clr_type, psn_type } = stamp;
    SetlInfoAnswer {
        acct_mulaid_pay: amounts.acct_mulaid_pay,
        acct_pay: amounts.acct_pay,
        act_pay_dedc: amounts.act_pay_dedc,
        age: age_on(person.brdy, setl_time.date()),
        balc: amounts.balc,
        begndate: visit.begntime.date(),
        brdy: person.brdy,
        cash_payamt: amounts.psn_cash_pay,
        certno: &person.certificate.certno,
        clr_optins: visit.mdtrtarea_admvs.as_str(),
        clr_type: clr_type.code(),
        clr_way: ClrWay::FeeForService.code(),
        crt_dedc: amounts.act_pay_dedc,
        cvlserv_flag: if cov.cvlserv_flag { "1" } else { "0" },
        cvlserv_pay: amounts.cvlserv_pay,
        dedc_std: amounts.act_pay_dedc,
        enddate: visit.endtime.map(|t| t.date()),
        exp_content: None,
        fulamt_ownpay_amt: amounts.fulamt_ownpay_amt,
        fund_pay_sumamt: amounts.fund_pay_sumamt,
        gend: person.gend.code(),
        hifdm_pay: Money::ZERO,
        hifes_pay: amounts.hifes_pay,
        hifmi_pay: amounts.hifmi_pay,
        hifob_pay: amounts.hifob_pay,
        hifp_pay: amounts.hifp_pay,
        hosp_part_amt: amounts.hosp_part_amt,
        inscp_amt: amounts.inscp_scp_amt,
        inscp_scp_amt: amounts.inscp_scp_amt,
        insu_admdvs: cov.insu_admdvs.as_str(),
        insutype: cov.insutype.code(),
        invono: None,
        maf_pay: amounts.maf_pay,
        mdtrt_cert_no: match visit.mdtrt_cert_type {
            MdtrtCertType::EVoucher => "",
            _ => &person.certificate.certno,
        },
        mdtrt_cert_type: visit.mdtrt_cert_type.code(),
        mdtrt_id: &visit.mdtrt_id,
        med_type: visit.med_type.code(),
        medfee_sumamt: amounts.medfee_sumamt,
        medins_setl_id,
        naty: &person.naty,
        oth_pay: amounts.oth_pay,
        othfund_pay: amounts.oth_pay,
        overlmt_selfpay: amounts.overlmt_selfpay,
        ownpay_hosp_part: Money::ZERO,
        pool_prop_selfpay: pool_prop,
        preselfpay_amt: amounts.preselfpay_amt,
        psn_cash_pay: amounts.psn_cash_pay,
        psn_cert_type: person.certificate.psn_cert_type.code(),
        psn_insu_rlts_id: "",
        psn_name: &person.name,
        psn_no: &person.psn_no,
        psn_part_amt: amounts.psn_part_amt,
        psn_pay: amounts.psn_part_amt,
        psn_type: psn_type.code(),
        setl_id,
        setl_time,
        setl_type: if amounts.medfee_sumamt.is_negative() { "2" } else { "1" },
    }
}

/// A settlement answer (`setlinfo`, `setldetail`, `expContent`) as JSON text.
fn settle_answer(info: &SetlInfoAnswer<'_>, setldetail: &impl Serialize) -> crate::fsi::Output {
    // Keys in byte order, as in `SetlInfoAnswer`.
    #[derive(Serialize)]
    struct Answer<'b, 'a, D> {
        #[serde(rename = "expContent")]
        exp_content: Option<()>,
        setldetail: &'b D,
        setlinfo: &'b SetlInfoAnswer<'a>,
    }
    let text = serde_json::to_string(&Answer { exp_content: None, setldetail, setlinfo: info })
        .expect("a settlement answer serializes");
    debug_assert_eq!(
        serde_json::from_str::<Value>(&text).expect("valid JSON").to_string(),
        text,
        "a settlement answer's keys are written in byte order"
    );
    crate::fsi::Output::Json(text)
}

/// One `setldetail` object as the interface writes it. The fields are in
/// the byte order of their keys, the order in which the `serde_json::Value`
/// this replaced wrote them, so answers and stored records keep their bytes
/// (`settle_answer` checks the order in debug builds); written straight
/// from the values, without building maps.
#[derive(Serialize)]
struct SetlDetailJson<'a> {
    crt_payb_lmt_amt: Option<Money>,
    fund_pay_type: &'static str,
    fund_pay_type_name: &'static str,
    fund_payamt: Money,
    inscp_scp_amt: Money,
    setl_proc_info: &'a str,
}

fn setldetail_json(details: &[SetlDetail], negate: bool) -> Vec<SetlDetailJson<'_>> {
    let n = |m: Money| if negate { -m } else { m };
    details
        .iter()
        .map(|d| SetlDetailJson {
            crt_payb_lmt_amt: d.crt_payb_lmt_amt,
            fund_pay_type: d.fund_pay_type.code(),
            fund_pay_type_name: d.fund_pay_type_name,
            fund_payamt: n(d.fund_payamt),
            inscp_scp_amt: n(d.inscp_scp_amt),
            setl_proc_info: &d.setl_proc_info,
        })
        .collect()
}

fn amounts_of(r: &SettlementResult, balc: Money) -> Amounts {
    Amounts {
        medfee_sumamt: r.medfee_sumamt,
        fulamt_ownpay_amt: r.fulamt_ownpay_amt,
        overlmt_selfpay: r.overlmt_selfpay,
        preselfpay_amt: r.preselfpay_amt,
        inscp_scp_amt: r.inscp_scp_amt,
        act_pay_dedc: r.act_pay_dedc,
        hifp_pay: r.hifp_pay,
        cvlserv_pay: r.cvlserv_pay,
        hifes_pay: r.hifes_pay,
        hifmi_pay: r.hifmi_pay,
        hifob_pay: r.hifob_pay,
        maf_pay: r.maf_pay,
        oth_pay: r.oth_pay,
        fund_pay_sumamt: r.fund_pay_sumamt,
        psn_part_amt: r.psn_part_amt,
        acct_pay: r.acct_pay,
        acct_mulaid_pay: Money::ZERO,
        psn_cash_pay: r.psn_cash_pay,
        hosp_part_amt: Money::ZERO,
        balc,
    }
}

/// What a settlement needs, loaded and checked.
struct Prepared {
    visit: yibao_store::visit::VisitRow,
    person: yibao_domain::enrollment::Person,
    cov: crate::coverage::Coverage,
    policy_id: i64,
    key: AccumulatorKey,
    /// The accumulators the result was computed on, and their version
    /// (locked for update when settling).
    ytd: Accumulators,
    ytd_version: i64,
    balance: Money,
    result: SettlementResult,
}

fn prepare(
    tx: &mut dyn Tx,
    ctx: &FsiCtx,
    policies: &PolicySnapshot,
    input: &SettleInput,
    kind: VisitKind,
    action: VisitAction,
    lock: bool,
) -> AppResult<Prepared> {
    let mut visit = crate::visit::visit_of(tx, ctx, &input.mdtrt_id, Some(&input.psn_no), lock)?;
    if visit.kind != kind {
        return Err(AppError::invalid(
            "mdtrt_id",
            format!("就诊ID对应的是{}，不能按{}结算", visit.kind.name(), kind.name()),
        ));
    }
    visit_rules::check(visit.kind, &visit.facts, action)?;
    if input.insutype != visit.insutype {
        return Err(AppError::invalid(
            "insutype",
            format!("险种 {} 与就诊登记的险种 {} 不符", input.insutype, visit.insutype),
        ));
    }
    if let Some(mt) = input.med_type {
        let fits = match kind {
            VisitKind::Outpatient => matches!(mt.setting(), CareSetting::Outpatient | CareSetting::ChronicOutpatient),
            VisitKind::Inpatient => mt.setting() == CareSetting::Inpatient,
            VisitKind::Pharmacy => mt.setting() == CareSetting::Pharmacy,
        };
        if !fits {
            return Err(AppError::invalid("med_type", format!("医疗类别 {} 不能用于{}结算", mt.code(), kind.name())));
        }
        visit.med_type = mt;
    }
    if input.psn_setlway == Some(PsnSetlway::FixedQuota) {
        return Err(AppError::invalid("psn_setlway", "本统筹区未开展按定额结算，请使用按项目结算（01）"));
    }
    let found =
        verify_person(tx, &ctx.evoucher, ctx.now_ms, &visit.psn_no, input.mdtrt_cert_type, &input.mdtrt_cert_no, "")?;
    let visit_date = visit.begntime.date();
    let cov = crate::coverage::for_visit(tx, &found, &visit)?;
    let person = found.person;
    if !cov.covered {
        return Err(AppError::invalid("psn_no", format!("该人员在 {visit_date} 不能享受医保待遇：{}", cov.reason)));
    }
    ctx.institution.check_can_settle(ctx.now.date())?;
    let lines = yibao_store::visit::active_lines_of(tx, &ctx.lines, &visit)?;
    let lines = lines.lines();
    if kind == VisitKind::Outpatient
        && let Some(b) = input.chrg_bchno.as_deref().map(str::trim).filter(|b| !b.is_empty() && *b != "0000")
        && !lines.iter().any(|l| l.chrg_bchno == b)
    {
        return Err(AppError::invalid("chrg_bchno", format!("收费批次号“{b}”没有费用明细")));
    }
    let total: Money = lines.iter().map(|l| l.amount).sum();
    if total != input.medfee_sumamt {
        return Err(AppError::invalid(
            "medfee_sumamt",
            format!("医疗费总额 {} 与已上传费用明细合计 {total} 不符", input.medfee_sumamt),
        ));
    }
    let (policy_id, policy) = policies.in_force(cov.insu_admdvs.as_str(), visit.insutype, visit_date)?;
    let key =
        AccumulatorKey { psn_no: visit.psn_no.clone(), insutype: visit.insutype, year: policy.scheme_year(visit_date) };
    let (ytd, ytd_version) = if lock {
        yibao_store::policy::accumulators_for_update(tx, &key)?
    } else {
        yibao_store::policy::accumulators(tx, &key)?
    };
    // Read with the coverage, in this transaction; the debit re-reads it
    // locked (`debit_for_settlement`).
    let balance = cov.account_balance;
    let resolved: Vec<Resolved> = lines.iter().map(resolved_of).collect();
    let fee_lines: Vec<FeeLine<'_>> = lines
        .iter()
        .zip(&resolved)
        .map(|(l, r)| FeeLine { resolved: r, quantity: l.cnt, unit_price: l.pric, amount: l.amount })
        .collect();
    let cross_region = (!same_pooling_region(cov.insu_admdvs.as_str(), visit.mdtrtarea_admvs.as_str())).then_some(
        // Emergencies count as filed (急诊视同备案); other unfiled care pays
        // the insured region's unfiled 先行自付.
        CrossRegion { filed: matches!(visit.med_type, MedType::Emergency | MedType::EmergencyToInpatient) },
    );
    let age = person.brdy.years_until(visit_date).max(0) as u32;
    let status = PersonStatus {
        insutype: visit.insutype,
        psn_type: cov.psn_type,
        age_years: age,
        assistance: cov.assistance_category,
        civil_servant: cov.cvlserv_flag,
        has_account: cov.has_account,
    };
    let engine_visit = Visit {
        med_type: visit.med_type,
        hospital_tier: tier_of(ctx.institution.hosp_lv),
        admission_no: if kind == VisitKind::Inpatient { ytd.admissions + 1 } else { 1 },
        date: visit_date,
        cross_region,
        use_account: input.acct_used_flag && cov.has_account,
    };
    let result = settle(&SettlementInput {
        policy: &policy,
        person: &status,
        ytd: &ytd,
        visit: &engine_visit,
        account_balance: balance,
        lines: &fee_lines,
    })?;
    Ok(Prepared { visit, person, cov, policy_id, key, ytd, ytd_version, balance, result })
}

/// 2206 / 2303 / 2101: what the settlement would be. Writes nothing (it runs
/// on a reader for 2206 / 2303): settlement does not require it, and a repeat
/// answers from the visit as it then stands.
pub fn pre_settle(
    tx: &mut dyn Tx,
    ctx: &FsiCtx,
    policies: &PolicySnapshot,
    input: &SettleInput,
    kind: VisitKind,
) -> AppResult<Outcome> {
    let p = prepare(tx, ctx, policies, input, kind, VisitAction::PreSettle, false)?;
    let visit = &p.visit;
    let amounts = amounts_of(&p.result, p.result.balc);
    let details: Vec<SetlDetail> = p.result.setldetail.iter().map(SetlDetail::of).collect();
    let medins_id = medins_setl_id(ctx);
    let info = setlinfo(
        &p.person,
        &p.cov,
        visit,
        &amounts,
        SetlStamp {
            pool_prop: p.result.pool_prop_selfpay,
            setl_id: None,
            medins_setl_id: &medins_id,
            setl_time: ctx.now,
            clr_type: visit.med_type.clr_type(),
            psn_type: p.cov.psn_type,
        },
    );
    Ok(Outcome { output: settle_answer(&info, &setldetail_json(&details, false)), effect: Effect::None })
}

/// The reads [`settle_visit`] (`commit`) or [`pre_settle`] makes before
/// it writes, in its order, to prefetch: the visit (locked to settle), the
/// person, the id of the contribution policy its coverage snapshot was
/// taken under, the fee lines (unless the line cache holds some version of
/// them), the accumulators (locked to settle; the year
/// guessed as the scheme year of today, which a visit begun in an earlier
/// scheme year misses at no cost but the guess) and, to settle, the
/// ledger's closed month.
pub fn settle_reads(
    backend: yibao_store::Backend,
    ctx: &FsiCtx,
    input: &SettleInput,
    commit: bool,
) -> Vec<yibao_store::Read> {
    let key = AccumulatorKey { psn_no: input.psn_no.clone(), insutype: input.insutype, year: ctx.now.date().year() };
    let mut reads = vec![
        yibao_store::visit::get_read(backend, &input.mdtrt_id, commit),
        yibao_store::enrollment::person_for_visit_read(&input.psn_no),
        yibao_store::contribution::policy_id_of_visit_read(&input.mdtrt_id),
    ];
    // The line cache is likely to answer (it holds the visit's lines at
    // some version; which one is known once the visit is read).
    if !ctx.lines.holds(&input.mdtrt_id) {
        reads.push(yibao_store::visit::active_lines_read(&input.mdtrt_id, None));
    }
    reads.push(yibao_store::policy::accumulators_read(backend, &key, commit));
    if commit {
        reads.push(yibao_store::fund::closed_through_read());
    }
    reads
}

/// 2207 / 2304 / 2102: settles the visit in one transaction: the settlement
/// record, the accumulators, the personal account, the ledger.
pub fn settle_visit(
    tx: &mut dyn Tx,
    ctx: &FsiCtx,
    policies: &PolicySnapshot,
    input: &SettleInput,
    kind: VisitKind,
) -> AppResult<Outcome> {
    let action = VisitAction::Settle { mid_settlement: input.mid_setl_flag };
    let p = prepare(tx, ctx, policies, input, kind, action, true)?;
    let setl_id = yibao_store::ids::next_id().to_string();
    let r = &p.result;
    let balc = if r.acct_pay.is_positive() {
        crate::coverage::debit_for_settlement(
            tx,
            &p.visit.psn_no,
            &p.visit.psn_no,
            r.acct_pay,
            &setl_id,
            ctx.now.date(),
            ctx.now_ms,
        )?
    } else {
        p.balance
    };
    let amounts = amounts_of(r, balc);
    amounts.check().map_err(|e| AppError::Internal(format!("settlement identities: {e}")))?;
    // The row was read locked in `prepare`: add the delta to what the
    // result was computed on instead of reading it again.
    add_to_accumulators(tx, &p.key, p.cov.insu_admdvs.as_str(), p.ytd, p.ytd_version, &r.delta, ctx.now_ms)?;
    let details: Vec<SetlDetail> = r.setldetail.iter().map(SetlDetail::of).collect();
    let setldetail = setldetail_json(&details, false);
    let clr_type = p.visit.med_type.clr_type();
    let medins_id = medins_setl_id(ctx);
    let record = SettlementRecord {
        setl_id: setl_id.clone(),
        mdtrt_id: p.visit.mdtrt_id.clone(),
        psn_no: p.visit.psn_no.clone(),
        insutype: p.visit.insutype,
        psn_type: p.cov.psn_type,
        med_type: p.visit.med_type,
        clr_type,
        clr_way: ClrWay::FeeForService,
        insu_admdvs: p.cov.insu_admdvs,
        mdtrtarea_admvs: p.visit.mdtrtarea_admvs,
        fixmedins_code: ctx.institution.code,
        medins_setl_id: medins_id.clone(),
        setl_time: ctx.now,
        setl_date: ctx.now.date(),
        scheme_year: p.key.year,
        amounts,
        pool_prop_selfpay: r.pool_prop_selfpay,
        policy_id: p.policy_id,
        setldetail: serde_json::to_string(&setldetail).expect("setldetail serializes"),
        accumulator_delta: serde_json::to_string(&r.delta).expect("delta serializes"),
        reversal_of: None,
        reversed_by: None,
        msgid: ctx.msgid.clone(),
    };
    yibao_store::settlement::insert(tx, &record, ctx.now_ms)?;
    postings::settlement_posted(
        tx,
        &SettlementPosted {
            setl_id: setl_id.clone(),
            reversal_of: None,
            setl_date: record.setl_date,
            insu_admdvs: record.insu_admdvs,
            mdtrtarea_admvs: record.mdtrtarea_admvs,
            fixmedins_code: record.fixmedins_code,
            insutype: record.insutype,
            med_type: record.med_type,
            clr_type,
            amounts,
        },
    )?;
    let mut visit = p.visit.clone();
    visit.settled_setl_id = Some(setl_id.clone());
    visit.facts.settled = true;
    if kind != VisitKind::Inpatient {
        visit.endtime = Some(ctx.now);
    }
    yibao_store::visit::update(tx, &visit, ctx.now_ms)?;
    let info = setlinfo(
        &p.person,
        &p.cov,
        &visit,
        &amounts,
        SetlStamp {
            pool_prop: r.pool_prop_selfpay,
            setl_id: Some(&setl_id),
            medins_setl_id: &medins_id,
            setl_time: ctx.now,
            clr_type,
            psn_type: p.cov.psn_type,
        },
    );
    let output = settle_answer(&info, &setldetail);
    Ok(Outcome { output, effect: Effect::Settled { mdtrt_id: visit.mdtrt_id, setl_id } })
}

/// 2208 / 2305 / 2103 (and 2601 of a settlement): reverses a settlement with
/// a record of its own, restoring accumulators and the account exactly.
pub fn cancel_settlement(
    tx: &mut dyn Tx,
    ctx: &FsiCtx,
    mdtrt_id: &str,
    setl_id: &str,
    psn_no: Option<&str>,
) -> AppResult<Outcome> {
    let mut visit = load_visit(tx, ctx, mdtrt_id, psn_no)?;
    visit_rules::check(visit.kind, &visit.facts, VisitAction::CancelSettlement)?;
    let setl_id = crate::fsi::parse_id("setl_id", setl_id, 30)?;
    if visit.settled_setl_id.as_deref() != Some(setl_id.as_str()) {
        return Err(AppError::invalid("setl_id", format!("结算ID“{setl_id}”不是该就诊的有效结算")));
    }
    let original = yibao_store::settlement::get(tx, &setl_id)?
        .ok_or_else(|| AppError::invalid("setl_id", format!("结算ID“{setl_id}”不存在")))?;
    let reversal_id = yibao_store::ids::next_id().to_string();
    if !yibao_store::settlement::mark_reversed(tx, &setl_id, &reversal_id)? {
        return Err(AppError::invalid("setl_id", "该结算已撤销"));
    }
    let delta: AccumulatorDelta = serde_json::from_str(&original.accumulator_delta)
        .map_err(|e| AppError::Internal(format!("stored delta: {e}")))?;
    let key =
        AccumulatorKey { psn_no: original.psn_no.clone(), insutype: original.insutype, year: original.scheme_year };
    revert_accumulators(tx, &key, original.insu_admdvs.as_str(), &delta, ctx.now_ms)?;
    let balc = if original.amounts.acct_pay.is_positive() {
        crate::coverage::reverse_settlement_debit(tx, &setl_id, &reversal_id, ctx.now_ms)?
    } else {
        original.amounts.balc
    };
    let amounts = original.amounts.negated(balc);
    amounts.check().map_err(|e| AppError::Internal(format!("reversal identities: {e}")))?;
    let medins_id = medins_setl_id(ctx);
    let details: Vec<Value> = serde_json::from_str::<Vec<Value>>(&original.setldetail)
        .unwrap_or_default()
        .into_iter()
        .map(|mut d| {
            for k in ["inscp_scp_amt", "fund_payamt"] {
                if let Some(m) =
                    d.get(k).and_then(|v| serde_json::from_value::<Money>(Value::String(v.to_string())).ok())
                {
                    d[k] = json!(-m);
                }
            }
            d
        })
        .collect();
    let record = SettlementRecord {
        setl_id: reversal_id.clone(),
        medins_setl_id: medins_id.clone(),
        setl_time: ctx.now,
        setl_date: ctx.now.date(),
        amounts,
        setldetail: Value::Array(details.clone()).to_string(),
        reversal_of: Some(setl_id.clone()),
        reversed_by: None,
        msgid: ctx.msgid.clone(),
        ..original.clone()
    };
    yibao_store::settlement::insert(tx, &record, ctx.now_ms)?;
    postings::settlement_posted(
        tx,
        &SettlementPosted {
            setl_id: reversal_id.clone(),
            reversal_of: Some(setl_id.clone()),
            setl_date: record.setl_date,
            insu_admdvs: record.insu_admdvs,
            mdtrtarea_admvs: record.mdtrtarea_admvs,
            fixmedins_code: record.fixmedins_code,
            insutype: record.insutype,
            med_type: record.med_type,
            clr_type: record.clr_type,
            amounts,
        },
    )?;
    visit.settled_setl_id = None;
    visit.facts.settled = false;
    yibao_store::visit::update(tx, &visit, ctx.now_ms)?;
    let found = yibao_store::enrollment::person_for_visit(tx, &visit.psn_no)?
        .ok_or_else(|| AppError::Internal("person of a visit vanished".into()))?;
    let cov = crate::coverage::for_visit(tx, &found, &visit)?;
    let person = found.person;
    let info = setlinfo(
        &person,
        &cov,
        &visit,
        &amounts,
        SetlStamp {
            pool_prop: original.pool_prop_selfpay,
            setl_id: Some(&reversal_id),
            medins_setl_id: &medins_id,
            setl_time: ctx.now,
            clr_type: original.clr_type,
            psn_type: original.psn_type,
        },
    );
    Ok(Outcome { output: settle_answer(&info, &details), effect: Effect::None })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use yibao_domain::codes::FundPayType;

    use super::*;

    /// `setldetail` as it was written before `SetlDetailJson`: a `Value` per
    /// fund. Stored records and logged answers hold these bytes.
    fn setldetail_as_value(details: &[SetlDetail], negate: bool) -> String {
        let n = |m: Money| if negate { -m } else { m };
        Value::Array(
            details
                .iter()
                .map(|d| {
                    json!({
                        "fund_pay_type": d.fund_pay_type.code(),
                        "fund_pay_type_name": d.fund_pay_type_name,
                        "inscp_scp_amt": n(d.inscp_scp_amt),
                        "crt_payb_lmt_amt": d.crt_payb_lmt_amt,
                        "fund_payamt": n(d.fund_payamt),
                        "setl_proc_info": d.setl_proc_info,
                    })
                })
                .collect(),
        )
        .to_string()
    }

    fn detail() -> impl Strategy<Value = SetlDetail> {
        (
            proptest::sample::select(FundPayType::ALL.to_vec()),
            -1_000_000_000_i64..1_000_000_000,
            proptest::option::of(0_i64..1_000_000_000),
            -1_000_000_000_i64..1_000_000_000,
            "[a-z0-9：，“”% ]{0,40}",
        )
            .prop_map(|(fund, inscp, cap, pay, info)| SetlDetail {
                fund_pay_type: fund,
                fund_pay_type_name: fund.name(),
                inscp_scp_amt: Money::from_fen(inscp),
                crt_payb_lmt_amt: cap.map(Money::from_fen),
                fund_payamt: Money::from_fen(pay),
                setl_proc_info: info,
            })
    }

    proptest! {
        /// The typed `setldetail` writes the same bytes as the `Value` it
        /// replaced, negated or not.
        #[test]
        fn setldetail_writes_the_bytes_the_value_wrote(
            details in proptest::collection::vec(detail(), 0..6),
            negate in any::<bool>(),
        ) {
            let typed = serde_json::to_string(&setldetail_json(&details, negate)).unwrap();
            prop_assert_eq!(typed, setldetail_as_value(&details, negate));
        }
    }
}
