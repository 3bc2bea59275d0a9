//! 智能审核: rules checked before (事前, 3101) and during (事中, 3102)
//! settlement. This first rule set comes from the 两库 product-code rules in
//! the reference data: sex, age, payment course, institution level, care
//! setting and insurance type restrictions, plus a reminder for items whose
//! payment is restricted by a condition (限定支付范围) a machine cannot
//! verify.
//!
//! Rules are pure: given the patient, the encounter and the orders, they
//! return violations. The risk-control module extends the set.

use std::collections::HashMap;

use serde::Serialize;

use crate::codes::HospitalTier;
use crate::date::Date;
use crate::money::Money;
use crate::resident_id::Sex;

/// Severity (sev_deg): 1 明确违规, 2 高度可疑, 3 提醒.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, PartialOrd, Ord)]
pub enum Severity {
    Violation,
    Suspicious,
    Reminder,
}

impl Severity {
    pub fn code(self) -> &'static str {
        match self {
            Severity::Violation => "1",
            Severity::Suspicious => "2",
            Severity::Reminder => "3",
        }
    }
}

/// One product-code restriction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum DrugRule {
    /// 限定性别对象
    Sex(Sex),
    /// 限定年龄对象: 儿童 (under 18)
    ChildOnly,
    /// 限定支付疗程: at most this many days of use
    CourseDays(u32),
    /// 限定机构等级: at least this tier
    MinTier(HospitalTier),
    /// 限定就医方式: inpatient only
    InpatientOnly,
    /// 限定保险类型: only under this insurance (工伤, 生育)
    InsuranceOnly(String),
}

impl DrugRule {
    /// Parses a (limit_type, limit_value) pair of the rule books; unknown
    /// shapes give `None` (they are not checked rather than guessed at).
    pub fn parse(limit_type: &str, limit_value: &str) -> Option<DrugRule> {
        let v = limit_value.trim();
        Some(match limit_type.trim() {
            "限定性别对象" => match v {
                "男" => DrugRule::Sex(Sex::Male),
                "女" => DrugRule::Sex(Sex::Female),
                _ => return None,
            },
            "限定年龄对象" if v == "儿童" => DrugRule::ChildOnly,
            "限定支付疗程" => DrugRule::CourseDays(v.trim_end_matches('天').parse().ok()?),
            "限定机构等级" => DrugRule::MinTier(match v {
                "二级" => HospitalTier::Two,
                "三级" => HospitalTier::Three,
                _ => return None,
            }),
            "限定就医方式" if v == "住院" => DrugRule::InpatientOnly,
            "限定保险类型" => DrugRule::InsuranceOnly(v.to_owned()),
            _ => return None,
        })
    }

    pub fn rule_id(&self) -> &'static str {
        match self {
            DrugRule::Sex(_) => "YB-DRUG-SEX",
            DrugRule::ChildOnly => "YB-DRUG-AGE",
            DrugRule::CourseDays(_) => "YB-DRUG-COURSE",
            DrugRule::MinTier(_) => "YB-DRUG-LEVEL",
            DrugRule::InpatientOnly => "YB-DRUG-SETTING",
            DrugRule::InsuranceOnly(_) => "YB-DRUG-INSUTYPE",
        }
    }

    pub fn rule_name(&self) -> &'static str {
        match self {
            DrugRule::Sex(_) => "限定性别用药",
            DrugRule::ChildOnly => "限定儿童用药",
            DrugRule::CourseDays(_) => "限定支付疗程",
            DrugRule::MinTier(_) => "限定医疗机构等级",
            DrugRule::InpatientOnly => "限定住院使用",
            DrugRule::InsuranceOnly(_) => "限定险种支付",
        }
    }
}

/// Rules by product code.
#[derive(Clone, Debug, Default)]
pub struct RuleSet {
    by_code: HashMap<String, Vec<DrugRule>>,
}

impl RuleSet {
    pub fn new(rows: impl IntoIterator<Item = (String, String, String)>) -> RuleSet {
        let mut by_code: HashMap<String, Vec<DrugRule>> = HashMap::new();
        for (code, t, v) in rows {
            if let Some(rule) = DrugRule::parse(&t, &v) {
                let rules = by_code.entry(code).or_default();
                if !rules.contains(&rule) {
                    rules.push(rule);
                }
            }
        }
        RuleSet { by_code }
    }

    pub fn rules_of(&self, code: &str) -> &[DrugRule] {
        self.by_code.get(code).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn len(&self) -> usize {
        self.by_code.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_code.is_empty()
    }
}

/// Age below which 儿童 rules are met.
pub const CHILD_AGE_MAX_EXCLUSIVE: i32 = 18;

#[derive(Clone, Debug)]
pub struct Patient {
    pub sex: Option<Sex>,
    pub birth: Option<Date>,
}

#[derive(Clone, Debug)]
pub struct Encounter {
    pub inpatient: bool,
    pub tier: HospitalTier,
    /// The insurance the care is paid under, as a label: 职工/居民 basic
    /// medical insurance never meets a 工伤/生育-only rule.
    pub insurance_label: String,
    pub date: Date,
}

#[derive(Clone, Debug)]
pub struct Order {
    pub id: String,
    pub code: String,
    pub name: String,
    pub amount: Money,
    pub begin: Option<Date>,
    pub end: Option<Date>,
    /// 限定支付范围 text, when the item has one.
    pub restriction: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule_id: String,
    pub rule_name: String,
    pub severity: Severity,
    /// 违规内容
    pub content: String,
    /// 违规依据
    pub evidence: String,
    pub order_id: String,
    /// The amount at stake (the order's amount when the rule forbids payment).
    pub amount: Money,
}

/// Days of use of an order, counting both ends.
fn days_of(order: &Order) -> Option<i32> {
    Some(order.begin?.days_until(order.end?) + 1)
}

/// Checks every order against its rules.
pub fn check(rules: &RuleSet, patient: &Patient, encounter: &Encounter, orders: &[Order]) -> Vec<Finding> {
    let mut out = Vec::new();
    let age = patient.birth.map(|b| b.years_until(encounter.date));
    for order in orders {
        let finding = |rule: &DrugRule, severity: Severity, content: String| Finding {
            rule_id: rule.rule_id().into(),
            rule_name: rule.rule_name().into(),
            severity,
            content,
            evidence: "国家医保药品目录限定支付规则（两库）".into(),
            order_id: order.id.clone(),
            amount: order.amount,
        };
        for rule in rules.rules_of(&order.code) {
            match rule {
                DrugRule::Sex(sex) => {
                    if let Some(s) = patient.sex
                        && s != *sex
                    {
                        out.push(finding(
                            rule,
                            Severity::Violation,
                            format!("{}限{}性使用，患者为{}性", order.name, sex.name(), s.name()),
                        ));
                    }
                }
                DrugRule::ChildOnly => {
                    if let Some(a) = age
                        && a >= CHILD_AGE_MAX_EXCLUSIVE
                    {
                        out.push(finding(rule, Severity::Violation, format!("{}限儿童使用，患者{a}岁", order.name)));
                    }
                }
                DrugRule::CourseDays(limit) => {
                    if let Some(days) = days_of(order)
                        && days > *limit as i32
                    {
                        out.push(finding(
                            rule,
                            Severity::Suspicious,
                            format!("{}限支付{limit}天，本次使用{days}天", order.name),
                        ));
                    }
                }
                DrugRule::MinTier(tier) => {
                    if encounter.tier < *tier {
                        out.push(finding(
                            rule,
                            Severity::Violation,
                            format!(
                                "{}限{}及以上医疗机构使用，本机构为{}",
                                order.name,
                                tier.name(),
                                encounter.tier.name()
                            ),
                        ));
                    }
                }
                DrugRule::InpatientOnly => {
                    if !encounter.inpatient {
                        out.push(finding(rule, Severity::Violation, format!("{}限住院使用", order.name)));
                    }
                }
                DrugRule::InsuranceOnly(label) => {
                    if !encounter.insurance_label.contains(label.as_str()) {
                        out.push(finding(
                            rule,
                            Severity::Violation,
                            format!("{}限{label}保险支付，不属于{}支付范围", order.name, encounter.insurance_label),
                        ));
                    }
                }
            }
        }
        if let Some(r) = &order.restriction {
            out.push(Finding {
                rule_id: "YB-LIMIT-SCOPE".into(),
                rule_name: "限定支付范围提醒".into(),
                severity: Severity::Reminder,
                content: format!("{}：{r}", order.name),
                evidence: "国家医保药品目录（2024年）备注".into(),
                order_id: order.id.clone(),
                amount: Money::ZERO,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    fn order(code: &str, begin: &str, end: &str) -> Order {
        Order {
            id: "rx1".into(),
            code: code.into(),
            name: "某药".into(),
            amount: Money::from_yuan(100),
            begin: Some(d(begin)),
            end: Some(d(end)),
            restriction: None,
        }
    }

    fn set() -> RuleSet {
        RuleSet::new([
            ("F".into(), "限定性别对象".into(), "女".into()),
            ("K".into(), "限定年龄对象".into(), "儿童".into()),
            ("C".into(), "限定支付疗程".into(), "14天".into()),
            ("L".into(), "限定机构等级".into(), "二级".into()),
            ("I".into(), "限定就医方式".into(), "住院".into()),
            ("W".into(), "限定保险类型".into(), "工伤".into()),
            ("X".into(), "限定性别对象".into(), "未知".into()),
        ])
    }

    fn enc(inpatient: bool, tier: HospitalTier) -> Encounter {
        Encounter { inpatient, tier, insurance_label: "职工基本医疗保险".into(), date: d("2026-11-22") }
    }

    #[test]
    fn each_rule_fires_only_when_broken() {
        let rules = set();
        let man = Patient { sex: Some(Sex::Male), birth: Some(d("1980-01-01")) };
        let girl = Patient { sex: Some(Sex::Female), birth: Some(d("2020-01-01")) };
        let out = |p: &Patient, e: &Encounter, o: Order| {
            check(&rules, p, e, &[o]).into_iter().map(|f| f.rule_id).collect::<Vec<_>>()
        };
        let e1 = enc(false, HospitalTier::One);
        assert_eq!(out(&man, &e1, order("F", "2026-11-01", "2026-11-02")), ["YB-DRUG-SEX"]);
        assert!(out(&girl, &e1, order("F", "2026-11-01", "2026-11-02")).is_empty());
        assert_eq!(out(&man, &e1, order("K", "2026-11-01", "2026-11-01")), ["YB-DRUG-AGE"]);
        assert!(out(&girl, &e1, order("K", "2026-11-01", "2026-11-01")).is_empty());
        assert!(out(&man, &e1, order("C", "2026-11-01", "2026-11-14")).is_empty(), "14 days allowed");
        assert_eq!(out(&man, &e1, order("C", "2026-11-01", "2026-11-15")), ["YB-DRUG-COURSE"]);
        assert_eq!(out(&man, &e1, order("L", "2026-11-01", "2026-11-01")), ["YB-DRUG-LEVEL"]);
        assert!(out(&man, &enc(false, HospitalTier::Three), order("L", "2026-11-01", "2026-11-01")).is_empty());
        assert_eq!(out(&man, &e1, order("I", "2026-11-01", "2026-11-01")), ["YB-DRUG-SETTING"]);
        assert!(out(&man, &enc(true, HospitalTier::One), order("I", "2026-11-01", "2026-11-01")).is_empty());
        assert_eq!(out(&man, &e1, order("W", "2026-11-01", "2026-11-01")), ["YB-DRUG-INSUTYPE"]);
        assert!(out(&man, &e1, order("X", "2026-11-01", "2026-11-01")).is_empty(), "unknown shapes are not guessed");
        assert!(out(&man, &e1, order("none", "2026-11-01", "2026-11-01")).is_empty());
    }

    #[test]
    fn unknown_facts_do_not_fire() {
        let rules = set();
        let unknown = Patient { sex: None, birth: None };
        let e = enc(false, HospitalTier::One);
        let mut o = order("C", "2026-11-01", "2026-11-30");
        o.begin = None;
        assert!(
            check(
                &rules,
                &unknown,
                &e,
                &[order("F", "2026-11-01", "2026-11-01"), order("K", "2026-11-01", "2026-11-01"), o]
            )
            .is_empty()
        );
    }
}
