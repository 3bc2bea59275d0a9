//! 医保目录: catalog items and their resolution "as of date D in region R".
//!
//! The national catalog gives each item a class (甲/乙/丙), and for some a
//! payment standard (最高支付标准) and a restriction (限定支付范围). A pooling
//! region may change an item's class, its 先行自付比例, its price cap or its
//! restriction from a given date; it may also set defaults for a whole kind
//! of item (e.g. "every 乙类 drug: 10 % 先行自付"). [`resolve`] applies those
//! overrides in one documented order, so the same item resolves the same way
//! everywhere, and a change in one city never leaks into another.
//!
//! Resolution order (later steps win, field by field):
//! 1. the national entry;
//! 2. kind-level defaults (no item code), broader region first, then older
//!    effective date first;
//! 3. item-level overrides, in the same order.
//!
//! The class is resolved first; kind-level defaults that filter on a class
//! then see the resolved class. Finally the class decides the self-pay share:
//! 甲 pays no 先行自付, 乙 pays the resolved share, 丙 (and an item whose class
//! is still unknown) is fully self-paid.

use serde::{Deserialize, Serialize};

use crate::codes::{ChrgitmLv, ListType};
use crate::date::Date;
use crate::error::{FieldError, Parsed};
use crate::money::{Money, Ratio};

/// Longest catalog code accepted (product-level drug codes are 23 characters,
/// consumable codes 27).
pub const CATALOG_CODE_LEN_MAX: usize = 50;

/// Validates a catalog code's shape (not its existence).
pub fn parse_catalog_code(text: &str) -> Parsed<String> {
    let t = text.trim();
    if t.is_empty() {
        return Err(FieldError::new("med_list_codg", "目录编码不能为空"));
    }
    if t.len() > CATALOG_CODE_LEN_MAX {
        return Err(FieldError::new("med_list_codg", format!("目录编码超过{CATALOG_CODE_LEN_MAX}个字符")));
    }
    if !t.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'+' | b'*')) {
        return Err(FieldError::new("med_list_codg", format!("目录编码“{t}”含有无效字符")));
    }
    Ok(t.to_owned())
}

/// One entry of the national catalog (or a product code linked to one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CatalogItem {
    pub code: String,
    pub list_type: ListType,
    pub name: String,
    /// 甲/乙/丙 as published; `None` where the source carries no class
    /// (service items and consumables: the region sets it).
    pub class: Option<ChrgitmLv>,
    /// 先行自付比例 where the national entry fixes one.
    pub selfpay_prop: Option<Ratio>,
    /// 最高支付标准 per unit, where published.
    pub price_cap: Option<Money>,
    /// The unit the price cap is for, as published ("10mg/支").
    pub price_cap_unit: Option<String>,
    /// 限定支付范围.
    pub restriction: Option<String>,
    pub dosage_form: Option<String>,
    pub category_code: Option<String>,
    pub category_name: Option<String>,
    /// 协议期内谈判药品 and 竞价药品.
    pub negotiated: bool,
    /// The generic catalog entry a product code belongs to.
    pub generic_code: Option<String>,
    /// 协议有效期 of a negotiated drug (informational: the catalog entry's own
    /// period is `begin_date`..`end_date`).
    pub agreement_begin: Option<Date>,
    pub agreement_end: Option<Date>,
    pub begin_date: Date,
    /// Last day in force, inclusive; `None` while current.
    pub end_date: Option<Date>,
}

impl CatalogItem {
    pub fn in_force_on(&self, date: Date) -> bool {
        self.begin_date <= date && self.end_date.is_none_or(|end| date <= end)
    }
}

/// A regional change to one item or to a kind of item, effective for a period.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogOverride {
    pub id: i64,
    /// Scope prefix of the region that set it: "33" (province), "3302" (city),
    /// "330203" (county), or "" for a national rule.
    pub region_prefix: String,
    /// The item; `None` for a kind-level default.
    pub code: Option<String>,
    /// For kind-level defaults: which kind (any if `None`).
    pub list_type: Option<ListType>,
    /// For kind-level defaults: which class the default applies to.
    pub class_filter: Option<ChrgitmLv>,
    pub begin_date: Date,
    /// Last day in force, inclusive.
    pub end_date: Option<Date>,
    pub class: Option<ChrgitmLv>,
    pub selfpay_prop: Option<Ratio>,
    pub price_cap: Option<Money>,
    pub restriction: Option<String>,
    pub note: String,
}

impl CatalogOverride {
    pub fn in_force_on(&self, date: Date) -> bool {
        self.begin_date <= date && self.end_date.is_none_or(|end| date <= end)
    }

    /// Validates an override as entered by staff.
    pub fn validate(&self) -> Parsed<()> {
        if !self.region_prefix.bytes().all(|b| b.is_ascii_digit()) || ![0, 2, 4, 6].contains(&self.region_prefix.len())
        {
            return Err(FieldError::new("region_prefix", "区划范围应为空或2、4、6位数字"));
        }
        if let Some(end) = self.end_date
            && end < self.begin_date
        {
            return Err(FieldError::new("end_date", "结束日期早于开始日期"));
        }
        if self.code.is_some() && (self.list_type.is_some() || self.class_filter.is_some()) {
            return Err(FieldError::new("code", "按项目设置时不能同时指定目录类别或等级筛选"));
        }
        if let Some(code) = &self.code {
            parse_catalog_code(code)?;
        }
        if self.class.is_none() && self.selfpay_prop.is_none() && self.price_cap.is_none() && self.restriction.is_none()
        {
            return Err(FieldError::new("class", "至少需要设置等级、先行自付比例、最高支付标准或限定支付范围之一"));
        }
        if let Some(p) = self.selfpay_prop
            && !p.is_at_most_one()
        {
            return Err(FieldError::new("selfpay_prop", "先行自付比例应在0到100%之间"));
        }
        if let Some(cap) = self.price_cap
            && cap.is_negative()
        {
            return Err(FieldError::new("price_cap", "最高支付标准不能为负数"));
        }
        Ok(())
    }

    fn applies_to_region(&self, region: &str) -> bool {
        region.starts_with(&self.region_prefix)
    }
}

/// What one item means for payment in one region on one day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResolvedItem {
    pub code: String,
    pub name: String,
    pub list_type: ListType,
    /// `None`: no class known anywhere → treated as not covered (丙).
    pub class: Option<ChrgitmLv>,
    /// The share the patient pays first (0 for 甲, the region's share for 乙,
    /// 1 for 丙 or unknown).
    pub selfpay_prop: Ratio,
    pub price_cap: Option<Money>,
    pub restriction: Option<String>,
    /// Ids of the overrides that changed something, in the order applied.
    pub applied_overrides: Vec<i64>,
}

impl ResolvedItem {
    /// True when the fund pays nothing for this item.
    pub fn fully_self_paid(&self) -> bool {
        !matches!(self.class, Some(ChrgitmLv::ClassA | ChrgitmLv::ClassB | ChrgitmLv::ClassCReimbursable))
    }
}

/// Resolves `item` for a region (its 6-digit code) on `date`, given every
/// override that could apply (the caller may pass more; non-matching ones are
/// ignored).
pub fn resolve(item: &CatalogItem, overrides: &[&CatalogOverride], region: &str, date: Date) -> ResolvedItem {
    let mut applicable: Vec<&CatalogOverride> = overrides
        .iter()
        .copied()
        .filter(|o| o.in_force_on(date) && o.applies_to_region(region))
        .filter(|o| match &o.code {
            Some(code) => code == &item.code,
            None => o.list_type.is_none_or(|t| t == item.list_type),
        })
        .collect();
    // Kind-level before item-level, broader region before narrower, older before newer.
    applicable.sort_by(|a, b| {
        (a.code.is_some(), a.region_prefix.len(), a.begin_date, a.id).cmp(&(
            b.code.is_some(),
            b.region_prefix.len(),
            b.begin_date,
            b.id,
        ))
    });

    let mut applied = Vec::new();
    // Pass 1: the class. A class-filtered default applies to the class as
    // resolved so far (national, then earlier overrides).
    let mut class = item.class;
    for o in &applicable {
        if o.class_filter.is_some() && o.class_filter != class {
            continue;
        }
        if let Some(c) = o.class {
            class = Some(c);
            applied.push(o.id);
        }
    }
    // Pass 2: everything else, against the resolved class.
    let mut selfpay = item.selfpay_prop;
    let mut price_cap = item.price_cap;
    let mut restriction = item.restriction.clone();
    for o in &applicable {
        if o.class_filter.is_some() && o.class_filter != class {
            continue;
        }
        let mut changed = false;
        if let Some(p) = o.selfpay_prop {
            selfpay = Some(p);
            changed = true;
        }
        if let Some(cap) = o.price_cap {
            price_cap = Some(cap);
            changed = true;
        }
        if let Some(r) = &o.restriction {
            restriction = Some(r.clone());
            changed = true;
        }
        if changed && !applied.contains(&o.id) {
            applied.push(o.id);
        }
    }
    let selfpay_prop = match class {
        Some(ChrgitmLv::ClassA) => Ratio::ZERO,
        Some(ChrgitmLv::ClassB) | Some(ChrgitmLv::ClassCReimbursable) => selfpay.unwrap_or(Ratio::ZERO),
        Some(ChrgitmLv::ClassC) | None => Ratio::ONE,
    };
    ResolvedItem {
        code: item.code.clone(),
        name: item.name.clone(),
        list_type: item.list_type,
        class,
        selfpay_prop,
        price_cap,
        restriction: restriction.filter(|r| !r.is_empty()),
        applied_overrides: applied,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    fn drug(class: Option<ChrgitmLv>) -> CatalogItem {
        CatalogItem {
            code: "XJ01CAA040A001010101234".into(),
            list_type: ListType::WesternAndPatentDrug,
            name: "阿莫西林胶囊".into(),
            class,
            selfpay_prop: None,
            price_cap: None,
            price_cap_unit: None,
            restriction: None,
            dosage_form: Some("口服常释剂型".into()),
            category_code: Some("XJ01CA".into()),
            category_name: None,
            negotiated: false,
            generic_code: None,
            agreement_begin: None,
            agreement_end: None,
            begin_date: d("2025-01-01"),
            end_date: None,
        }
    }

    fn ov(id: i64, region: &str, code: Option<&str>, begin: &str) -> CatalogOverride {
        CatalogOverride {
            id,
            region_prefix: region.into(),
            code: code.map(Into::into),
            list_type: None,
            class_filter: None,
            begin_date: d(begin),
            end_date: None,
            class: None,
            selfpay_prop: None,
            price_cap: None,
            restriction: None,
            note: String::new(),
        }
    }

    #[test]
    fn class_a_has_no_selfpay_and_c_is_fully_selfpaid() {
        let r = resolve(&drug(Some(ChrgitmLv::ClassA)), &[], "330203", d("2026-01-01"));
        assert_eq!(r.selfpay_prop, Ratio::ZERO);
        assert!(!r.fully_self_paid());
        let r = resolve(&drug(Some(ChrgitmLv::ClassC)), &[], "330203", d("2026-01-01"));
        assert_eq!(r.selfpay_prop, Ratio::ONE);
        assert!(r.fully_self_paid());
        let r = resolve(&drug(None), &[], "330203", d("2026-01-01"));
        assert!(r.fully_self_paid());
    }

    #[test]
    fn regional_default_then_item_override_by_date_and_region() {
        let item = drug(Some(ChrgitmLv::ClassB));
        let mut province_default = ov(1, "33", None, "2025-01-01");
        province_default.class_filter = Some(ChrgitmLv::ClassB);
        province_default.selfpay_prop = Some(Ratio::percent(10));
        let mut city_item = ov(2, "3302", Some(&item.code), "2026-07-01");
        city_item.selfpay_prop = Some(Ratio::percent(5));
        let mut other_city = ov(3, "3301", Some(&item.code), "2025-01-01");
        other_city.class = Some(ChrgitmLv::ClassA);
        let all = [&province_default, &city_item, &other_city];

        let before = resolve(&item, &all, "330203", d("2026-06-30"));
        assert_eq!(before.selfpay_prop, Ratio::percent(10));
        assert_eq!(before.class, Some(ChrgitmLv::ClassB));
        let after = resolve(&item, &all, "330203", d("2026-07-01"));
        assert_eq!(after.selfpay_prop, Ratio::percent(5));
        assert_eq!(after.applied_overrides, vec![1, 2]);
        // Hangzhou made it 甲; Ningbo did not: no leak between cities.
        let hz = resolve(&item, &all, "330102", d("2026-07-01"));
        assert_eq!(hz.class, Some(ChrgitmLv::ClassA));
        assert_eq!(hz.selfpay_prop, Ratio::ZERO);
    }

    #[test]
    fn class_filtered_default_sees_reclassified_item() {
        let item = drug(Some(ChrgitmLv::ClassA));
        let mut reclass = ov(1, "3302", Some(&item.code), "2026-01-01");
        reclass.class = Some(ChrgitmLv::ClassB);
        let mut b_default = ov(2, "3302", None, "2025-01-01");
        b_default.class_filter = Some(ChrgitmLv::ClassB);
        b_default.selfpay_prop = Some(Ratio::percent(15));
        let r = resolve(&item, &[&reclass, &b_default], "330203", d("2026-03-01"));
        assert_eq!(r.class, Some(ChrgitmLv::ClassB));
        assert_eq!(r.selfpay_prop, Ratio::percent(15));
    }

    #[test]
    fn ended_override_stops_applying() {
        let item = drug(Some(ChrgitmLv::ClassB));
        let mut cap = ov(1, "3302", Some(&item.code), "2026-01-01");
        cap.price_cap = Some(Money::from_yuan(12));
        cap.end_date = Some(d("2026-03-31"));
        assert_eq!(resolve(&item, &[&cap], "330203", d("2026-03-31")).price_cap, Some(Money::from_yuan(12)));
        assert_eq!(resolve(&item, &[&cap], "330203", d("2026-04-01")).price_cap, None);
    }

    #[test]
    fn override_validation_names_fields() {
        let mut o = ov(1, "3302", Some("X1"), "2026-01-01");
        assert_eq!(o.validate().unwrap_err().field, "class");
        o.selfpay_prop = Some(Ratio::percent(120));
        assert_eq!(o.validate().unwrap_err().field, "selfpay_prop");
        o.selfpay_prop = Some(Ratio::percent(10));
        o.end_date = Some(d("2025-12-31"));
        assert_eq!(o.validate().unwrap_err().field, "end_date");
        o.end_date = None;
        o.region_prefix = "330".into();
        assert_eq!(o.validate().unwrap_err().field, "region_prefix");
        o.region_prefix = "3302".into();
        assert!(o.validate().is_ok());
    }

    #[test]
    fn catalog_code_shape() {
        assert!(parse_catalog_code("XJ01CAA040A001010101234").is_ok());
        assert!(parse_catalog_code("A01.000x005+J17.0*").is_ok());
        assert_eq!(parse_catalog_code("").unwrap_err().field, "med_list_codg");
        assert!(parse_catalog_code("阿莫西林").is_err());
    }
}
