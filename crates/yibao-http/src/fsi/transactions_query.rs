//! Queries, downloads, pharmacy purchases and 冲正 for the national interface.

use serde::Deserialize;
use serde_json::{Value, json};
use yibao_app::catalog::CatalogView;
use yibao_app::fsi::{self as fsi_app, Effect, FsiCtx, Outcome};
use yibao_app::settlement::SettleInput;
use yibao_app::visit::{self, FeeLineInput};
use yibao_app::{App, AppError, AppResult};
use yibao_domain::codes::{ChrgitmLv, Insutype, ListType, MdtrtCertType, PsnSetlway, deserialize_code_text};
use yibao_domain::visit::VisitKind;
use yibao_domain::{Date, DateTime, Money, ResidentId};
use yibao_store::Tx;

use super::Reply;
use super::node;

/// 1101 `data`: a credential (mdtrt_cert_type + mdtrt_cert_no), or, as the
/// spec's own example does, a certificate (psn_cert_type + certno).
#[derive(Clone, Debug, Deserialize)]
pub struct PersonQuery {
    #[serde(default)]
    pub mdtrt_cert_type: Option<MdtrtCertType>,
    #[serde(default, deserialize_with = "opt_text")]
    pub mdtrt_cert_no: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub certno: Option<String>,
    #[serde(default)]
    pub card_sn: Option<String>,
    #[serde(default)]
    pub psn_name: Option<String>,
}

fn age_json(brdy: Date, on: Date) -> Value {
    let days = i64::from(brdy.days_until(on).max(0));
    let tenths = days * 10 / 365;
    serde_json::from_str(&format!("{}.{}", tenths / 10, tenths % 10)).unwrap_or(Value::Null)
}

fn opt_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    Ok(match v {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(other) => return Err(serde::de::Error::custom(format!("应为字符串，收到 {other}"))),
    })
}

/// 1101 人员信息获取.
pub fn person_info(tx: &mut dyn Tx, ctx: &FsiCtx, q: &PersonQuery) -> AppResult<Value> {
    let (cert_type, number) = match (q.mdtrt_cert_type, q.mdtrt_cert_no.as_deref(), q.certno.as_deref()) {
        (Some(t), Some(n), _) => (t, n.trim()),
        (Some(_), None, _) => return Err(AppError::invalid("input.data.mdtrt_cert_no", "不能为空")),
        (None, _, Some(certno)) => (MdtrtCertType::IdCard, certno.trim()),
        (None, _, None) => {
            return Err(AppError::invalid(
                "input.data.mdtrt_cert_type",
                "不能为空（或提供证件类型 psn_cert_type 与证件号码 certno）",
            ));
        }
    };
    let person = match cert_type {
        MdtrtCertType::EVoucher => {
            let psn_no = yibao_app::evoucher::verify_token(&ctx.evoucher, number, ctx.now_ms)
                .map_err(|r| AppError::invalid("input.data.mdtrt_cert_no", r))?;
            yibao_store::enrollment::person_for_visit(tx, &psn_no)?
        }
        MdtrtCertType::IdCard | MdtrtCertType::SocialSecurityCard => {
            if cert_type == MdtrtCertType::SocialSecurityCard
                && q.card_sn.as_deref().is_none_or(|s| s.trim().is_empty())
            {
                return Err(AppError::invalid("input.data.card_sn", "社会保障卡就诊须提供卡识别码"));
            }
            // Shenyang sends "cardno|cardtoken": the number is before the bar.
            let id = ResidentId::parse(number.split('|').next().unwrap_or(""))
                .map_err(|e| e.named("input.data.mdtrt_cert_no"))?;
            yibao_store::enrollment::person_for_visit_by_certno(tx, id.as_str())?
        }
    };
    let Some(found) = person else {
        return Err(AppError::invalid("input.data.mdtrt_cert_no", "未查询到该人员的参保信息"));
    };
    let person = &found.person;
    if let Some(name) = q.psn_name.as_deref().map(str::trim).filter(|n| !n.is_empty())
        && name != person.name
    {
        return Err(AppError::invalid("input.data.psn_name", "人员姓名与证件号码不符"));
    }
    let today = ctx.now.date();
    let coverages = yibao_app::coverage::coverages_of(tx, &found, today)?;
    let insuinfo: Vec<Value> = coverages
        .iter()
        .map(|c| {
            json!({
                "balc": c.account_balance,
                "insutype": c.insutype.code(),
                "psn_type": c.psn_type.code(),
                "psn_insu_stas": c.psn_insu_stas.code(),
                "psn_insu_date": c.insured_since.to_string(),
                "paus_insu_date": if c.covered { Value::Null } else { json!(today.to_string()) },
                "cvlserv_flag": if c.cvlserv_flag { "1" } else { "0" },
                "insuplc_admdvs": c.insu_admdvs.as_str(),
                "emp_name": "",
            })
        })
        .collect();
    let idetinfo: Vec<Value> = coverages
        .iter()
        .filter_map(|c| c.assistance_category)
        .map(|a| {
            json!({"psn_idet_type": a.code(), "psn_type_lv": "", "memo": a.name(),
                   "begntime": Value::Null, "endtime": Value::Null})
        })
        .collect();
    Ok(json!({
        "baseinfo": {
            "psn_no": person.psn_no,
            "psn_cert_type": person.certificate.psn_cert_type.code(),
            "certno": person.certificate.certno,
            "psn_name": person.name,
            "gend": person.gend.code(),
            "naty": person.naty,
            "brdy": person.brdy.to_string(),
            "age": age_json(person.brdy, today),
            // Both spellings are in use by clients; both are sent.
            "expContent": null,
            "exp_content": null,
        },
        "insuinfo": insuinfo,
        "idetinfo": idetinfo,
    }))
}

/// 2101 / 2102 `data`.
#[derive(Clone, Debug, Deserialize)]
pub struct PharmacyData {
    psn_no: String,
    mdtrt_cert_type: MdtrtCertType,
    #[serde(deserialize_with = "deserialize_code_text")]
    mdtrt_cert_no: String,
    insutype: Insutype,
    medfee_sumamt: Money,
    #[serde(default)]
    psn_setlway: Option<PsnSetlway>,
    #[serde(default)]
    acct_used_flag: Option<Value>,
    #[serde(default)]
    begntime: Option<DateTime>,
    /// From 2101, to settle what was pre-settled.
    #[serde(default)]
    mdtrt_id: Option<String>,
}

/// A parsed pharmacy purchase (2101 / 2102).
#[derive(Clone, Debug)]
pub struct Pharmacy {
    data: PharmacyData,
    existing: Option<String>,
    lines: Vec<FeeLineInput>,
    /// Each line's other fields ([`visit::extra_fields`]).
    extras: Vec<String>,
    acct_used_flag: bool,
    commit: bool,
}

pub fn parse_pharmacy(input: &Value, commit: bool) -> AppResult<Pharmacy> {
    let data: PharmacyData = node(input, "data")?;
    let existing = data.mdtrt_id.clone().filter(|id| !id.trim().is_empty() && commit);
    let lines: Vec<FeeLineInput> = if existing.is_some() && input.get("feedetail").is_none_or(Value::is_null) {
        Vec::new()
    } else {
        node(input, "feedetail")?
    };
    let extras = super::transactions::extras_of(input);
    let acct_used_flag = match &data.acct_used_flag {
        Some(Value::String(s)) => s.trim() == "1",
        Some(Value::Number(n)) => n.to_string() == "1",
        _ => false,
    };
    Ok(Pharmacy { data, existing, lines, extras, acct_used_flag, commit })
}

/// 2101 药店预结算 / 2102 药店结算: the purchase carries its lines.
pub async fn pharmacy(app: &App, ctx: FsiCtx, p: Pharmacy) -> AppResult<Reply> {
    let Pharmacy { data, existing, lines, extras, acct_used_flag, commit } = p;
    let policies = app.policies.snapshot(app).await?;
    // A new purchase's lines are checked and valued before the write job;
    // its visit, and so the lines' mdtrt_id, is opened in the job.
    let prepared = if existing.is_none() {
        let catalog = app.catalog.view(app).await?;
        let unvisited: Vec<FeeLineInput> =
            lines.into_iter().map(|l| FeeLineInput { mdtrt_id: String::new(), ..l }).collect();
        match visit::prepare_lines(&ctx, &catalog, &unvisited, extras) {
            Ok(prepared) => Some(prepared),
            Err(e) => return super::transactions::replay_or(app, ctx, e).await,
        }
    } else {
        None
    };
    super::transactions::write(app, ctx, true, move |tx: &mut dyn Tx, ctx: &FsiCtx| {
        let (mdtrt_id, lines_out, now_active) = match (&existing, &prepared) {
            (Some(id), _) => (id.clone(), Value::Null, None),
            (None, None) => return Err(AppError::Internal("a new purchase without its lines".into())),
            (None, Some(prepared)) => {
                let visit = visit::open_pharmacy_visit(
                    tx,
                    ctx,
                    &data.psn_no,
                    data.insutype,
                    data.mdtrt_cert_type,
                    &data.mdtrt_cert_no,
                    data.begntime.unwrap_or(ctx.now),
                )?;
                let now_active = visit::add_lines(tx, ctx, &visit.mdtrt_id, prepared)?.now_active;
                let answers = serde_json::to_value(prepared.answers())
                    .map_err(|e| AppError::Internal(format!("line answers: {e}")))?;
                (visit.mdtrt_id, answers, now_active)
            }
        };
        let settle = SettleInput {
            psn_no: data.psn_no.clone(),
            mdtrt_cert_type: data.mdtrt_cert_type,
            mdtrt_cert_no: data.mdtrt_cert_no.clone(),
            med_type: None,
            medfee_sumamt: data.medfee_sumamt,
            psn_setlway: data.psn_setlway,
            mdtrt_id: mdtrt_id.clone(),
            chrg_bchno: None,
            insutype: data.insutype,
            acct_used_flag,
            mid_setl_flag: false,
        };
        let mut outcome = if commit {
            yibao_app::settlement::settle_visit(tx, ctx, &policies, &settle, VisitKind::Pharmacy)?
        } else {
            let mut o = yibao_app::settlement::pre_settle(tx, ctx, &policies, &settle, VisitKind::Pharmacy)?;
            o.effect = Effect::VisitOpened { mdtrt_id: mdtrt_id.clone(), now_active };
            o
        };
        if !lines_out.is_null() {
            let mut output = outcome.output.into_value()?;
            output["result"] = lines_out;
            outcome.output = output.into();
        }
        Ok(outcome)
    })
    .await
}

/// 2601 冲正: undoes what the original message did.
pub fn reverse(tx: &mut dyn Tx, ctx: &FsiCtx, omsgid: &str, oinfno: &str, _psn_no: Option<&str>) -> AppResult<Outcome> {
    let omsgid = fsi_app::parse_id("input.data.omsgid", omsgid, super::envelope::MSGID_CHARS_MAX)?;
    let oinfno = super::envelope::base_infno(oinfno);
    if omsgid == ctx.msgid {
        return Err(AppError::invalid("input.data.omsgid", "不能冲正本报文自身"));
    }
    let Some((message, effect)) = fsi_app::logged_effect(tx, ctx.fixmedins_code(), &omsgid)? else {
        // The original never arrived (or failed and wrote nothing): nothing to
        // undo now, and it must not be processed if it arrives late.
        fsi_app::tombstone(tx, ctx, &omsgid, &oinfno)?;
        return Ok(Outcome {
            output: json!({"data": {"omsgid": omsgid, "oinfno": oinfno, "result": "原交易未受理，已登记冲正"}}).into(),
            effect: Effect::None,
        });
    };
    if message.infno != oinfno {
        return Err(AppError::invalid(
            "input.data.oinfno",
            format!("原报文 {omsgid} 的交易编号是 {}，不是 {oinfno}", message.infno),
        ));
    }
    if let Some(by) = &message.reversed_by {
        return Err(AppError::invalid("input.data.omsgid", format!("原交易已被冲正（{by}）")));
    }
    match &effect {
        Effect::None => {}
        Effect::VisitOpened { mdtrt_id, .. } => {
            let v = visit::load_visit(tx, ctx, mdtrt_id, None)?;
            if v.facts.active_lines > 0 {
                // A pharmacy pre-settlement opened the visit with its lines.
                visit::cancel_lines(tx, ctx, mdtrt_id, None, None, &[])?;
            }
            visit::cancel_visit(tx, ctx, mdtrt_id, None, v.kind)?;
        }
        Effect::LinesUploaded { mdtrt_id, serials, .. } => {
            visit::cancel_lines(tx, ctx, mdtrt_id, None, None, serials)?;
        }
        Effect::LinesCancelled { mdtrt_id, serials } => {
            let mut v = visit::load_visit(tx, ctx, mdtrt_id, None)?;
            yibao_domain::visit::check(v.kind, &v.facts, yibao_domain::visit::VisitAction::UploadDetails)?;
            yibao_store::visit::reactivate_lines(tx, &mut v, serials)?;
            v.facts.active_lines = yibao_store::visit::count_active(tx, mdtrt_id)?;
            yibao_store::visit::update(tx, &v, ctx.now_ms)?;
        }
        Effect::Settled { mdtrt_id, setl_id } => {
            yibao_app::settlement::cancel_settlement(tx, ctx, mdtrt_id, setl_id, None)?;
        }
        Effect::Discharged { mdtrt_id } => {
            visit::cancel_discharge(tx, ctx, mdtrt_id, None)?;
        }
    }
    if !yibao_store::fsi::mark_message_reversed(tx, ctx.fixmedins_code(), &omsgid, &ctx.msgid)? {
        return Err(AppError::Retryable("原交易正在被冲正".into()));
    }
    Ok(Outcome {
        output: json!({"data": {"omsgid": omsgid, "oinfno": oinfno, "result": "冲正成功"}}).into(),
        effect: Effect::None,
    })
}

/// 5203 `data`.
#[derive(Clone, Debug, Deserialize)]
pub struct SettlementQuery {
    #[serde(default)]
    pub psn_no: Option<String>,
    #[serde(deserialize_with = "deserialize_code_text")]
    pub setl_id: String,
    #[serde(default)]
    pub mdtrt_id: Option<String>,
}

/// 5203 结算信息查询.
pub fn settlement_info(tx: &mut dyn Tx, ctx: &FsiCtx, q: &SettlementQuery) -> AppResult<Value> {
    let s = yibao_store::settlement::get(tx, q.setl_id.trim())?
        .filter(|s| s.fixmedins_code.as_str() == ctx.fixmedins_code())
        .ok_or_else(|| AppError::invalid("input.data.setl_id", format!("结算ID“{}”不存在", q.setl_id.trim())))?;
    if q.psn_no.as_deref().is_some_and(|p| !p.trim().is_empty() && p.trim() != s.psn_no) {
        return Err(AppError::invalid("input.data.psn_no", "人员编号与结算记录不符"));
    }
    if q.mdtrt_id.as_deref().is_some_and(|m| !m.trim().is_empty() && m.trim() != s.mdtrt_id) {
        return Err(AppError::invalid("input.data.mdtrt_id", "就诊ID与结算记录不符"));
    }
    let person =
        yibao_store::enrollment::person(tx, &s.psn_no)?.ok_or_else(|| AppError::Internal("person vanished".into()))?;
    let visit =
        yibao_store::visit::get(tx, &s.mdtrt_id, false)?.ok_or_else(|| AppError::Internal("visit vanished".into()))?;
    let a = &s.amounts;
    let cvlserv =
        yibao_app::coverage::coverage_of(tx, &person, s.insutype, s.setl_date).map(|c| c.cvlserv_flag).unwrap_or(false);
    let details: Value = serde_json::from_str(&s.setldetail).unwrap_or(json!([]));
    Ok(json!({
        "setlinfo": {
            "setl_id": s.setl_id, "mdtrt_id": s.mdtrt_id, "psn_no": s.psn_no, "psn_name": person.name,
            "psn_cert_type": person.certificate.psn_cert_type.code(), "certno": person.certificate.certno,
            "gend": person.gend.code(), "naty": person.naty, "brdy": person.brdy.to_string(),
            "age": age_json(person.brdy, s.setl_date), "insutype": s.insutype.code(), "psn_type": s.psn_type.code(),
            "cvlserv_flag": if cvlserv { "1" } else { "0" }, "flxempe_flag": if matches!(s.psn_type.code(), "1103" | "1203") { "1" } else { "0" },
            "nwb_flag": if s.psn_type.code() == "1401" { "1" } else { "0" },
            "insu_optins": s.insu_admdvs.as_str(), "emp_name": "",
            "pay_loc": if yibao_app::visit::same_pooling_region(s.insu_admdvs.as_str(), s.mdtrtarea_admvs.as_str()) { "2" } else if s.insu_admdvs.same_province(&s.mdtrtarea_admvs) { "3" } else { "4" },
            "fixmedins_code": s.fixmedins_code.as_str(), "fixmedins_name": ctx.institution.name,
            "hosp_lv": ctx.institution.hosp_lv.map(|l| l.code()).unwrap_or("11"),
            "fixmedins_poolarea": s.mdtrtarea_admvs.as_str(),
            "lmtpric_hosp_lv": ctx.institution.hosp_lv.map(|l| l.code()).unwrap_or("11"),
            "dedc_hosp_lv": ctx.institution.hosp_lv.map(|l| l.code()).unwrap_or("11"),
            "begndate": visit.begntime.date().to_string(),
            "enddate": visit.endtime.map(|t| t.date().to_string()),
            "setl_time": s.setl_time.to_string(), "mdtrt_cert_type": visit.mdtrt_cert_type.code(),
            "med_type": s.med_type.code(), "clr_type": s.clr_type.code(), "clr_way": s.clr_way.code(),
            "clr_optins": s.mdtrtarea_admvs.as_str(),
            "medfee_sumamt": a.medfee_sumamt, "fulamt_ownpay_amt": a.fulamt_ownpay_amt, "overlmt_selfpay": a.overlmt_selfpay,
            "preselfpay_amt": a.preselfpay_amt, "inscp_scp_amt": a.inscp_scp_amt, "act_pay_dedc": a.act_pay_dedc,
            "hifp_pay": a.hifp_pay, "pool_prop_selfpay": s.pool_prop_selfpay, "med_sumfee": a.inscp_scp_amt,
            "cvlserv_pay": a.cvlserv_pay, "hifes_pay": a.hifes_pay, "hifmi_pay": a.hifmi_pay, "hifob_pay": a.hifob_pay,
            "hifdm_pay": Money::ZERO, "maf_pay": a.maf_pay, "oth_pay": a.oth_pay, "fund_pay_sumamt": a.fund_pay_sumamt,
            "psn_pay": a.psn_part_amt, "psn_part_amt": a.psn_part_amt, "acct_pay": a.acct_pay,
            "cash_payamt": a.psn_cash_pay, "psn_cash_pay": a.psn_cash_pay, "hosp_part_amt": a.hosp_part_amt, "balc": a.balc,
            "acct_mulaid_pay": a.acct_mulaid_pay, "medins_setl_id": s.medins_setl_id,
            "refd_setl_flag": if s.reversal_of.is_some() { "1" } else { "0" },
            "year": s.scheme_year.to_string(), "dise_codg": "", "dise_name": "", "invono": "",
            "opter_id": "", "opter_name": "", "opt_time": s.setl_time.to_string(),
        },
        "setldetail": details,
    }))
}

/// 5206 `data`.
#[derive(Clone, Debug, Deserialize)]
pub struct CumQuery {
    pub psn_no: String,
    /// `yyyy-MM` or `yyyy`: the year of the accumulators; this year when absent.
    #[serde(default)]
    pub cum_ym: Option<String>,
}

/// 5206 人员累计信息查询: the year-to-date accumulators, one row per figure.
pub fn cumulative(tx: &mut dyn Tx, ctx: &FsiCtx, q: &CumQuery) -> AppResult<Value> {
    let psn_no = fsi_app::parse_id("input.data.psn_no", &q.psn_no, 30)?;
    let Some(person) = yibao_store::enrollment::person_for_visit(tx, &psn_no)? else {
        return Err(AppError::invalid("input.data.psn_no", format!("人员编号“{psn_no}”不存在")));
    };
    let year: i32 = match q.cum_ym.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(ym) => ym
            .get(..4)
            .and_then(|y| y.parse().ok())
            .ok_or_else(|| AppError::invalid("input.data.cum_ym", "应为 yyyy-MM 或 yyyy"))?,
        None => ctx.now.date().year(),
    };
    let mut rows = Vec::new();
    for c in yibao_app::coverage::coverages_of(tx, &person, ctx.now.date())? {
        let key = yibao_store::policy::AccumulatorKey { psn_no: psn_no.clone(), insutype: c.insutype, year };
        let (acc, _) = yibao_store::policy::accumulators(tx, &key)?;
        for (code, name, amount) in [
            ("C001", "起付线累计", acc.deductible_paid_total),
            ("C002", "医疗费用累计", acc.medfee_total),
            (
                "C003",
                "统筹基金支付累计",
                acc.pool_paid.main + acc.pool_paid.outpatient + acc.pool_paid.chronic + acc.pool_paid.pharmacy,
            ),
            ("C004", "门诊统筹支付累计", acc.pool_paid.outpatient),
            ("C005", "门诊慢特病支付累计", acc.pool_paid.chronic),
            ("C006", "大额医疗费用补助累计", acc.hifob_paid),
            ("C007", "大病保险支付累计", acc.hifmi_paid),
            ("C008", "医疗救助支付累计", acc.maf_paid_total),
            ("C009", "公务员医疗补助累计", acc.cvlserv_paid),
        ] {
            rows.push(json!({"insutype": c.insutype.code(), "year": year.to_string(), "cum_type_code": code,
                             "cum_type_name": name, "cum": amount, "insu_admdvs": c.insu_admdvs.as_str()}));
        }
        rows.push(json!({"insutype": c.insutype.code(), "year": year.to_string(), "cum_type_code": "C010",
                         "cum_type_name": "住院次数", "cum": acc.admissions, "insu_admdvs": c.insu_admdvs.as_str()}));
    }
    Ok(json!({"cuminfo": rows}))
}

/// 1312 `data`.
#[derive(Clone, Debug, Deserialize)]
pub struct CatalogQuery {
    #[serde(default)]
    pub query_date: Option<Date>,
    #[serde(default)]
    pub hilist_code: Option<String>,
    #[serde(default)]
    pub hilist_name: Option<String>,
    #[serde(default)]
    pub pinyin: Option<String>,
    #[serde(default)]
    pub list_type: Option<String>,
    #[serde(default)]
    pub chrgitm_lv: Option<String>,
    #[serde(default)]
    pub page_num: Option<Value>,
    #[serde(default)]
    pub page_size: Option<Value>,
}

fn page_param(v: &Option<Value>, field: &str, default: i64, max: i64) -> AppResult<i64> {
    let n = match v {
        None | Some(Value::Null) => default,
        Some(Value::Number(n)) => n.as_i64().ok_or_else(|| AppError::invalid(field, "应为整数"))?,
        Some(Value::String(s)) if s.trim().is_empty() => default,
        Some(Value::String(s)) => s.trim().parse().map_err(|_| AppError::invalid(field, "应为整数"))?,
        Some(_) => return Err(AppError::invalid(field, "应为整数")),
    };
    if !(1..=max).contains(&n) {
        return Err(AppError::invalid(field, format!("应在1到{max}之间")));
    }
    Ok(n)
}

/// 1312 医保目录信息查询 (paged).
pub fn catalog_query(tx: &mut dyn Tx, ctx: &FsiCtx, catalog: &CatalogView, q: &CatalogQuery) -> AppResult<Value> {
    let page_num = page_param(&q.page_num, "input.data.page_num", 1, 100_000)?;
    let page_size = page_param(&q.page_size, "input.data.page_size", 20, 500)?;
    let date = q.query_date.unwrap_or(ctx.now.date());
    let region = ctx.institution.admdvs.as_str().to_owned();
    let list_types = match q.list_type.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(t) => vec![ListType::parse(t).map_err(|e| e.named("input.data.list_type"))?],
        None => vec![],
    };
    let class = q
        .chrgitm_lv
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|c| ChrgitmLv::parse(c).map_err(|e| e.named("input.data.chrgitm_lv")))
        .transpose()?;
    let text = q.hilist_code.clone().or(q.hilist_name.clone()).or(q.pinyin.clone()).unwrap_or_default();
    let (items, total) = if let Some(code) = q.hilist_code.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let found: Vec<_> = catalog.items.get(code).cloned().into_iter().collect();
        let n = found.len() as i64;
        (found, n)
    } else {
        let search = yibao_store::catalog::Search {
            text: if text.trim().is_empty() { "%".into() } else { text },
            list_types,
            class,
            limit: page_size,
            offset: (page_num - 1) * page_size,
        };
        yibao_store::catalog::search(tx, &search)?
    };
    let rows: Vec<Value> = items
        .iter()
        .filter_map(|item| catalog.resolve(&item.code, &region, date))
        .map(|(item, r)| {
            json!({
                "hilist_code": item.code, "hilist_name": item.name, "insu_admdvs": region,
                "begndate": item.begin_date.to_string(), "enddate": item.end_date.map(|d| d.to_string()),
                "med_chrgitm_type": "", "chrgitm_lv": r.class.map_or("03", |c| c.code()),
                "lmt_used_flag": if r.restriction.is_some() { "1" } else { "0" },
                "list_type": item.list_type.code(), "med_use_flag": "1", "matn_used_flag": "0",
                "hilist_use_type": "1", "lmt_cpnd_type": "0", "wubi": "", "pinyin": yibao_app::reference::initials(&item.name),
                "memo": r.restriction, "vali_flag": if item.in_force_on(date) { "1" } else { "0" }, "rid": item.code,
                "updt_time": item.begin_date.to_string(), "crter_id": "", "crter_name": "", "crte_time": item.begin_date.to_string(),
                "crte_optins_no": "", "opter_id": "", "opter_name": "", "opt_time": item.begin_date.to_string(),
                "optins_no": "", "poolarea_no": region,
                "selfpay_prop": r.selfpay_prop, "pric_uplmt_amt": r.price_cap,
            })
        })
        .collect();
    let pages = (total + page_size - 1) / page_size;
    Ok(json!({
        "data": rows, "recordCounts": total, "pages": pages, "pageNum": page_num, "pageSize": page_size,
        "size": rows.len(), "startRow": (page_num - 1) * page_size + 1,
        "firstPage": page_num == 1, "lastPage": page_num >= pages,
    }))
}

/// 1901 `data`.
#[derive(Clone, Debug, Deserialize)]
pub struct DictQuery {
    #[serde(rename = "type")]
    pub dict_type: String,
}

/// 1901 字典表查询: the national code tables, plus the local values known.
pub fn dictionary(tx: &mut dyn Tx, q: &DictQuery) -> AppResult<Value> {
    let t = q.dict_type.trim();
    let tables = yibao_domain::codes::all_tables();
    let Some((field, _, values)) = tables.into_iter().find(|(f, _, _)| *f == t) else {
        return Err(AppError::invalid("input.data.type", format!("字典类型“{t}”不存在")));
    };
    let mut list: Vec<Value> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            json!({"type": field, "label": v.name, "value": v.code, "parent_value": "", "sort": i + 1,
                   "vali_flag": "1", "create_user": "", "create_date": "", "version": "1"})
        })
        .collect();
    for local in yibao_store::reference::code_values(tx, field)? {
        if !values.iter().any(|v| v.code == local.code) {
            list.push(json!({"type": field, "label": local.name, "value": local.code, "parent_value": "",
                             "sort": list.len() + 1, "vali_flag": "1", "create_user": "", "create_date": "", "version": "1"}));
        }
    }
    Ok(json!({"list": list}))
}

/// 1301–1321 目录下载: prepares a tab-separated file of the catalogue for
/// 9102. A `ver` equal to the current version gets an empty file.
pub async fn catalog_download(app: &App, ctx: FsiCtx, infno: &str, ver: &str) -> AppResult<Reply> {
    let received_ms = ctx.now_ms;
    let catalog = app.catalog.view(app).await?;
    let code = infno.to_owned();
    let ver = ver.trim().to_owned();
    let (kept, filename, count, version) = app
        .db
        .write(move |tx: &mut dyn Tx| {
            fsi_app::check_signin(tx, &ctx)?;
            let hash = yibao_store::reference::dataset_hash(tx, "catalog")?.unwrap_or_default();
            let version = hash[..hash.len().min(12)].to_owned();
            let date = ctx.now.date();
            let region = ctx.institution.admdvs.as_str().to_owned();
            let mut out = String::new();
            let mut count = 0i64;
            let up_to_date = !ver.is_empty() && ver != "0" && ver == version;
            let list_type = match code.as_str() {
                "1301" => Some(ListType::WesternAndPatentDrug),
                "1302" => Some(ListType::HerbalPieces),
                "1303" => Some(ListType::HospitalPreparation),
                "1304" => Some(ListType::EthnicDrug),
                "1305" => Some(ListType::MedicalService),
                "1306" => Some(ListType::MedicalConsumable),
                _ => None,
            };
            if !up_to_date {
                if let Some(t) = list_type {
                    out.push_str("hilist_code\thilist_name\tlist_type\tchrgitm_lv\tselfpay_prop\tpric_uplmt_amt\tdosage_form\tmemo\tbegndate\tenddate\n");
                    let all = yibao_store::catalog::all_items(tx)?;
                    for item in all.iter().filter(|i| i.list_type == t) {
                        if let Some((item, r)) = catalog.resolve(&item.code, &region, date) {
                            count += 1;
                            out.push_str(&format!(
                                "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                                item.code,
                                item.name,
                                item.list_type.code(),
                                r.class.map_or("03", |c| c.code()),
                                r.selfpay_prop.to_decimal_string(),
                                r.price_cap.map(|m| m.to_string()).unwrap_or_default(),
                                item.dosage_form.clone().unwrap_or_default(),
                                r.restriction.clone().unwrap_or_default().replace(['\t', '\n'], " "),
                                item.begin_date,
                                item.end_date.map(|d| d.to_string()).unwrap_or_default()
                            ));
                        }
                    }
                } else if code == "1307" || code == "1308" {
                    out.push_str("code\tname\n");
                    let table = if code == "1307" { "diagnosis" } else { "procedure_item" };
                    for row in tx.query(&format!("SELECT code, name FROM {table} ORDER BY code"), yibao_store::params![])? {
                        count += 1;
                        out.push_str(&format!("{}\t{}\n", row.text(0)?, row.text(1)?));
                    }
                }
            }
            let filename = format!("{code}_{}_{version}.txt", date.compact());
            let kept = super::reconcile::keep_file(tx, &ctx, &filename, out.into_bytes(), count)?;
            Ok::<_, AppError>((kept, filename, count, version))
        })
        .await?;
    let ends = DateTime::from_unix_ms(kept.expires_at_ms);
    Ok(Reply::Output {
        output: json!({"file_qury_no": kept.file_qury_no, "filename": filename, "dld_end_time": ends.to_string(),
                       "data_cnt": count, "ver": version})
        .into(),
        inf_refmsgid: fsi_app::new_refmsgid("000000", DateTime::from_unix_ms(received_ms)),
    })
}

/// 9102 文件下载.
pub async fn download(app: &App, ctx: FsiCtx, file_qury_no: &str) -> AppResult<Reply> {
    let no = fsi_app::parse_id("input.fsDownloadIn.file_qury_no", file_qury_no, 40)?;
    let code = ctx.fixmedins_code().to_owned();
    let now = ctx.now_ms;
    let file = app
        .db
        .read(move |tx: &mut dyn Tx| {
            fsi_app::check_signin(tx, &ctx)?;
            Ok::<_, AppError>(yibao_store::fsi::file(tx, &no)?)
        })
        .await?;
    match file {
        Some(f) if f.fixmedins_code == code && f.expires_at_ms > now => {
            Ok(Reply::File { filename: f.filename, bytes: f.content })
        }
        Some(f) if f.fixmedins_code != code => {
            Err(AppError::invalid("input.fsDownloadIn.file_qury_no", "文件不属于本机构"))
        }
        Some(_) => Err(AppError::invalid("input.fsDownloadIn.file_qury_no", "文件已过下载截止时间，请重新申请")),
        None => Err(AppError::invalid("input.fsDownloadIn.file_qury_no", "文件查询号不存在")),
    }
}
