//! 事前/事中 checks (3101/3102) against the rule set in the reference data.

use std::sync::{Arc, RwLock};

use serde::Deserialize;
use serde_json::{Value, json};
use yibao_domain::codes::{Gend, Insutype, deserialize_code_text};
use yibao_domain::resident_id::Sex;
use yibao_domain::risk::{self, Encounter, Order, Patient, RuleSet};
use yibao_domain::{Date, Money};
use yibao_store::Tx;

use crate::catalog::CatalogView;
use crate::error::{AppError, AppResult};
use crate::fsi::FsiCtx;
use crate::{App, settlement::tier_of};

/// The rule set in memory (rules change only with reference data).
#[derive(Clone, Default)]
pub struct RiskCache {
    rules: Arc<RwLock<Option<Arc<RuleSet>>>>,
}

impl RiskCache {
    pub async fn rules(&self, app: &App) -> AppResult<Arc<RuleSet>> {
        if let Some(r) = self.rules.read().unwrap().clone() {
            return Ok(r);
        }
        let rows =
            app.db.read(|tx: &mut dyn Tx| Ok::<_, AppError>(yibao_store::reference::all_drug_code_rules(tx)?)).await?;
        let set = Arc::new(RuleSet::new(rows));
        *self.rules.write().unwrap() = Some(set.clone());
        Ok(set)
    }
}

/// Patients, encounters and orders as 3101/3102 send them (the fields the
/// rules read; others are ignored).
#[derive(Clone, Debug, Deserialize)]
pub struct RiskRequest {
    #[serde(default)]
    pub patient_dtos: Vec<PatientDto>,
    #[serde(default, deserialize_with = "opt_code")]
    pub trig_scen: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct PatientDto {
    #[serde(deserialize_with = "deserialize_code_text")]
    pub patn_id: String,
    #[serde(default, deserialize_with = "opt_code")]
    pub gend: Option<String>,
    #[serde(default)]
    pub brdy: Option<Date>,
    #[serde(default)]
    pub fsi_encounter_dtos: Vec<EncounterDto>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct EncounterDto {
    #[serde(deserialize_with = "deserialize_code_text")]
    pub mdtrt_id: String,
    #[serde(default, deserialize_with = "opt_code")]
    pub med_mdtrt_type: Option<String>,
    #[serde(default, deserialize_with = "opt_code")]
    pub med_type: Option<String>,
    #[serde(default, deserialize_with = "opt_code")]
    pub insutype: Option<String>,
    #[serde(default)]
    pub adm_date: Option<Date>,
    #[serde(default)]
    pub fsi_order_dtos: Vec<OrderDto>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct OrderDto {
    #[serde(deserialize_with = "deserialize_code_text")]
    pub rx_id: String,
    #[serde(deserialize_with = "deserialize_code_text")]
    pub hilist_code: String,
    #[serde(default)]
    pub hilist_name: Option<String>,
    #[serde(default)]
    pub sumamt: Option<Money>,
    #[serde(default)]
    pub drord_begn_date: Option<Date>,
    #[serde(default)]
    pub drord_stop_date: Option<Date>,
}

fn opt_code<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    Ok(match v {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(other) => return Err(serde::de::Error::custom(format!("应为字符串，收到 {other}"))),
    })
}

/// Patients and orders in one request at most.
const PATIENTS_MAX: usize = 100;
const ORDERS_MAX: usize = 5000;

fn insurance_label(code: Option<&str>) -> String {
    match code.and_then(Insutype::from_code) {
        Some(t) => t.name().to_owned(),
        None => "基本医疗保险".to_owned(),
    }
}

/// Runs the rules for every patient and encounter; 3102 with no orders
/// checks the fee lines the visit already has.
pub fn check(
    tx: &mut dyn Tx,
    ctx: &FsiCtx,
    rules: &RuleSet,
    catalog: &CatalogView,
    req: &RiskRequest,
) -> AppResult<Value> {
    if req.patient_dtos.is_empty() {
        return Err(AppError::invalid("input.data.patient_dtos", "不能为空"));
    }
    if req.patient_dtos.len() > PATIENTS_MAX {
        return Err(AppError::invalid("input.data.patient_dtos", format!("不能超过{PATIENTS_MAX}人")));
    }
    let orders_total: usize =
        req.patient_dtos.iter().flat_map(|p| &p.fsi_encounter_dtos).map(|e| e.fsi_order_dtos.len()).sum();
    if orders_total > ORDERS_MAX {
        return Err(AppError::invalid("input.data.patient_dtos", format!("医嘱明细不能超过{ORDERS_MAX}条")));
    }
    let region = ctx.institution.admdvs.as_str();
    let today = ctx.now.date();
    let mut results = Vec::new();
    let mut seq = 0u32;
    for (pi, p) in req.patient_dtos.iter().enumerate() {
        // A known person number gives the authoritative sex and birth date.
        let person = yibao_store::enrollment::person(tx, p.patn_id.trim())?;
        let patient = Patient {
            sex: match person.as_ref().map(|x| x.gend) {
                Some(Gend::Male) => Some(Sex::Male),
                Some(Gend::Female) => Some(Sex::Female),
                _ => match p.gend.as_deref().map(str::trim) {
                    Some("1") => Some(Sex::Male),
                    Some("2") => Some(Sex::Female),
                    _ => None,
                },
            },
            birth: person.as_ref().map(|x| x.brdy).or(p.brdy),
        };
        for (ei, e) in p.fsi_encounter_dtos.iter().enumerate() {
            let inpatient =
                e.med_mdtrt_type.as_deref() == Some("3") || e.med_type.as_deref().is_some_and(|t| t.starts_with('2'));
            let encounter = Encounter {
                inpatient,
                tier: tier_of(ctx.institution.hosp_lv),
                insurance_label: insurance_label(e.insutype.as_deref()),
                date: e.adm_date.unwrap_or(today),
            };
            let mut orders: Vec<Order> = e
                .fsi_order_dtos
                .iter()
                .enumerate()
                .map(|(oi, o)| {
                    let code = o.hilist_code.trim().to_owned();
                    let resolved = catalog.resolve(&code, region, today);
                    Order {
                        id: o.rx_id.clone(),
                        name: o
                            .hilist_name
                            .clone()
                            .or_else(|| resolved.as_ref().map(|(i, _)| i.name.clone()))
                            .unwrap_or_else(|| code.clone()),
                        restriction: resolved.and_then(|(_, r)| r.restriction),
                        code,
                        amount: o.sumamt.unwrap_or(Money::ZERO),
                        begin: o.drord_begn_date,
                        end: o.drord_stop_date.or(o.drord_begn_date),
                    }
                    .with_index(pi, ei, oi)
                })
                .collect();
            if orders.is_empty() && ctx.infno == "3102" {
                // 事中: the visit's own fee lines, one order per item, with
                // the days it was used.
                if let Some(v) = yibao_store::visit::get(tx, e.mdtrt_id.trim(), false)?
                    && v.fixmedins_code.as_str() == ctx.fixmedins_code()
                {
                    let mut by_code: std::collections::BTreeMap<String, Order> = Default::default();
                    for l in yibao_store::visit::active_lines(tx, &v.mdtrt_id, None)? {
                        let day = l.fee_ocur_time.date();
                        let entry = by_code.entry(l.med_list_codg.clone()).or_insert_with(|| Order {
                            id: l.feedetl_sn.clone(),
                            code: l.med_list_codg.clone(),
                            name: l.item_name.clone(),
                            amount: Money::ZERO,
                            begin: Some(day),
                            end: Some(day),
                            restriction: catalog
                                .resolve(&l.med_list_codg, region, day)
                                .and_then(|(_, r)| r.restriction),
                        });
                        entry.amount += l.amount;
                        entry.begin = entry.begin.min(Some(day));
                        entry.end = entry.end.max(Some(day));
                    }
                    orders = by_code.into_values().collect();
                }
            }
            for f in risk::check(rules, &patient, &encounter, &orders) {
                seq += 1;
                let jr_id = format!("{}{seq:04}", ctx.msgid);
                results.push(json!({
                    "jr_id": jr_id, "rule_id": f.rule_id, "rule_name": f.rule_name, "vola_cont": f.content,
                    "patn_id": p.patn_id, "mdtrt_id": e.mdtrt_id,
                    "judge_result_detail_dtos": [{"jrd_id": format!("{jr_id}01"), "patn_id": p.patn_id,
                        "mdtrt_id": e.mdtrt_id, "rx_id": f.order_id, "vola_item_type": "1", "vola_amt": f.amount}],
                    "vola_amt": f.amount, "vola_amt_stas": "1", "sev_deg": f.severity.code(), "vola_evid": f.evidence,
                    "vola_bhvr_type": "1", "task_id": ctx.msgid,
                }));
            }
        }
    }
    Ok(json!({"result": results}))
}

trait WithIndex {
    fn with_index(self, p: usize, e: usize, o: usize) -> Self;
}

impl WithIndex for Order {
    /// Orders without an id get one from their position.
    fn with_index(mut self, p: usize, e: usize, o: usize) -> Order {
        if self.id.trim().is_empty() {
            self.id = format!("{p}-{e}-{o}");
        }
        self
    }
}
