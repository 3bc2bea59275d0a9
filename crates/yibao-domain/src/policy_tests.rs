//! Policy loading and validation: every rule rejects with the field path.

use super::*;
use crate::codes::{AssistanceCategory, PersonCategory};

const NINGBO_390: &str = include_str!("../../../policies/ningbo-390.toml");
const NINGBO_310: &str = include_str!("../../../policies/ningbo-310.toml");
const BEIJING_310: &str = include_str!("../../../policies/beijing-310.toml");
const HEILONGJIANG_310: &str = include_str!("../../../policies/heilongjiang-310-e1.toml");

fn ningbo() -> Policy {
    Policy::from_toml_str(NINGBO_390).expect("ningbo-390.toml parses")
}

fn beijing() -> Policy {
    Policy::from_toml_str(BEIJING_310).expect("beijing-310.toml parses")
}

fn d(s: &str) -> Date {
    Date::parse(s).unwrap()
}

fn m(yuan: i64) -> Money {
    Money::from_yuan(yuan)
}

#[test]
fn shipped_policies_parse_and_validate() {
    for (name, text) in [
        ("ningbo-390", NINGBO_390),
        ("ningbo-310", NINGBO_310),
        ("beijing-310", BEIJING_310),
        ("hlj", HEILONGJIANG_310),
    ] {
        let policy = ValidPolicy::from_toml_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(policy.inpatient.is_some(), "{name}");
    }
    let nb = ningbo();
    assert_eq!(nb.region, "330200");
    assert_eq!(nb.insutype, Insutype::ResidentBasic);
    assert_eq!(nb.inpatient.as_ref().unwrap().deductible.amount.three, m(1200));
    assert_eq!(nb.cap(CapPool::Main, PersonCategory::ResidentAdult), Some(m(300_000)));
    let bj = beijing();
    let row = &bj.inpatient.as_ref().unwrap().ratios[5];
    assert_eq!(row.bands.bands()[0].ratio, Ratio::basis_points(9550));
    assert_eq!(row.bands.ceiling(), Some(m(100_000)));
}

#[test]
fn json_round_trip_preserves_the_policy() {
    let policy = beijing();
    let json = serde_json::to_string(&policy).unwrap();
    let back = Policy::from_json_str(&json).unwrap();
    assert_eq!(back, policy);
}

#[test]
fn unknown_fields_and_toml_floats_are_refused() {
    let e = Policy::from_toml_str(&format!("{NINGBO_390}\nsurprise = 1\n")).unwrap_err();
    assert!(e.reason.contains("surprise"), "{e}");
    let float = NINGBO_390.replace(r#"amount = "300000.00"   # [A] 住院年度限额 30万"#, "amount = 300000.5");
    let e = Policy::from_toml_str(&float).unwrap_err();
    assert!(e.reason.contains("字符串"), "{e}");
}

#[test]
fn scheme_year_follows_the_start_month() {
    let mut p = ningbo();
    assert_eq!(p.scheme_year(d("2026-03-01")), 2026);
    p.year_start_month = 7;
    assert_eq!(p.scheme_year(d("2026-03-01")), 2025);
    assert_eq!(p.scheme_year(d("2026-07-01")), 2026);
    assert_eq!(p.scheme_year(d("2026-06-30")), 2025);
}

#[test]
fn overlapping_periods_are_detected() {
    let mut a = ningbo();
    let mut b = ningbo();
    a.end_date = Some(d("2023-12-31"));
    b.begin_date = d("2024-01-01");
    assert!(!periods_overlap(&a, &b));
    b.begin_date = d("2023-12-31");
    assert!(periods_overlap(&a, &b));
    assert!(periods_overlap(&b, &a));
    a.end_date = None;
    b.begin_date = d("2030-01-01");
    assert!(periods_overlap(&a, &b), "an open-ended policy overlaps every later one");
    b.region = "330100".into();
    assert!(!periods_overlap(&a, &b), "other regions never overlap");
}

#[test]
fn band_payouts_round_once_and_telescope() {
    let bands = Bands(vec![
        Band { from: m(10_000), to: Some(m(50_000)), ratio: Ratio::percent(60) },
        Band { from: m(50_000), to: None, ratio: Ratio::percent(70) },
    ]);
    // [10000, 60000) = 40000×60% + 10000×70%.
    assert_eq!(bands.pay_segment(m(10_000), m(60_000), 0), m(31_000));
    // Below the first edge the first ratio applies.
    assert_eq!(bands.pay_segment(m(0), m(1_000), 0), m(600));
    // +5 points bonus.
    assert_eq!(bands.pay_segment(m(10_000), m(11_000), 50_000), m(650));
    // Cumulative with a threshold: nothing below 10000.
    assert_eq!(bands.pay_cumulative(m(10_000), m(0), m(10_000), 0), Money::ZERO);
    assert_eq!(bands.pay_cumulative(m(10_000), m(5_000), m(20_000), 0), m(6_000));
    // Inverse: 6000 of payout is reached 10000 above the start.
    assert_eq!(bands.position_paying(m(10_000), m(60_000), m(6_000), 0), m(20_000));
    assert_eq!(bands.single_ratio(m(10_000), m(20_000), 0), Some(Ratio::percent(60)));
    assert_eq!(bands.single_ratio(m(10_000), m(60_000), 0), None);
}

macro_rules! rejects {
    ($name:ident, $field:expr, |$p:ident| $mutate:block) => {
        #[test]
        fn $name() {
            #[allow(unused_mut)]
            let mut $p = ningbo();
            $mutate
            let e = $p.validate().expect_err("the policy must be rejected");
            assert_eq!(e.field, $field, "{e}");
            assert!(e.reason.chars().any(|c| c > '\u{2e80}'), "reason should be Chinese: {e}");
        }
    };
}

fn inpatient(p: &mut Policy) -> &mut Section {
    p.inpatient.as_mut().unwrap()
}

rejects!(rejects_bad_region, "region", |p| {
    p.region = "3302".into();
});
rejects!(rejects_non_basic_insutype, "insutype", |p| {
    p.insutype = Insutype::LongTermCare;
});
rejects!(rejects_empty_name, "name", |p| {
    p.name = "  ".into();
});
rejects!(rejects_end_before_begin, "end_date", |p| {
    p.end_date = Some(d("2022-12-31"));
});
rejects!(rejects_bad_year_start_month, "year_start_month", |p| {
    p.year_start_month = 13;
});
rejects!(rejects_negative_cap, "caps[1].amount", |p| {
    p.caps[1].amount = Money::from_fen(-1);
});
rejects!(rejects_missing_inpatient, "inpatient", |p| {
    p.inpatient = None;
});
rejects!(rejects_per_admission_outside_inpatient, "outpatient.deductible.basis", |p| {
    p.outpatient.as_mut().unwrap().deductible.basis = DeductibleBasis::PerAdmission;
});
rejects!(rejects_yearly_deductible_with_admission_steps, "inpatient.deductible.later_admissions", |p| {
    inpatient(&mut p).deductible.later_admissions = vec![Adjustment::Ratio(Ratio::percent(50))];
});
rejects!(rejects_admission_step_above_one, "inpatient.deductible.later_admissions[0].ratio", |p| {
    inpatient(&mut p).deductible.basis = DeductibleBasis::PerAdmission;
    inpatient(&mut p).deductible.later_admissions = vec![Adjustment::Ratio(Ratio::percent(150))];
});
rejects!(rejects_negative_deductible, "inpatient.deductible.amount.three", |p| {
    inpatient(&mut p).deductible.amount.three = Money::from_fen(-100);
});
rejects!(rejects_group_without_criteria, "inpatient.deductible.groups[0].categories", |p| {
    let g = &mut inpatient(&mut p).deductible.groups[0];
    g.categories.clear();
});
rejects!(rejects_negative_deductible_cap, "inpatient.deductible.yearly_cap", |p| {
    inpatient(&mut p).deductible.yearly_cap = Some(Money::from_fen(-1));
});
rejects!(rejects_ratio_above_one, "inpatient.ratios[0].bands[0].ratio", |p| {
    inpatient(&mut p).ratios[0].bands.0[0].ratio = Ratio::percent(101);
});
rejects!(rejects_gap_between_bands, "inpatient.ratios[2].bands[1].from", |p| {
    inpatient(&mut p).ratios[2].bands = Bands(vec![
        Band { from: m(0), to: Some(m(30_000)), ratio: Ratio::percent(80) },
        Band { from: m(35_000), to: None, ratio: Ratio::percent(90) },
    ]);
});
rejects!(rejects_band_ending_before_it_starts, "inpatient.ratios[0].bands[0].to", |p| {
    inpatient(&mut p).ratios[0].bands.0[0].to = Some(Money::ZERO);
});
rejects!(rejects_open_band_before_the_last, "inpatient.ratios[0].bands[0].to", |p| {
    inpatient(&mut p).ratios[0].bands.0.push(Band { from: m(50_000), to: None, ratio: Ratio::percent(80) });
});
rejects!(rejects_above_deductible_bands_not_from_zero, "inpatient.ratios[0].bands[0].from", |p| {
    inpatient(&mut p).ratios[0].bands.0[0].from = m(1200);
});
rejects!(rejects_too_many_bands, "inpatient.ratios[0].bands", |p| {
    let bands = (0..=BANDS_MAX as i64)
        .map(|i| Band {
            from: m(i * 100),
            to: if i as usize == BANDS_MAX { None } else { Some(m(i * 100 + 100)) },
            ratio: Ratio::percent(50),
        })
        .collect();
    inpatient(&mut p).ratios[0].bands = Bands(bands);
});
rejects!(rejects_row_without_tiers, "inpatient.ratios[0].tiers", |p| {
    inpatient(&mut p).ratios[0].tiers.clear();
});
rejects!(rejects_table_missing_a_tier_and_category, "inpatient.ratios", |p| {
    inpatient(&mut p).ratios.remove(1);
});
rejects!(rejects_inverted_ages, "inpatient.ratios[0].age_max", |p| {
    inpatient(&mut p).ratios[0].age_min = Some(70);
    inpatient(&mut p).ratios[0].age_max = Some(60);
});
rejects!(rejects_large_amount_for_residents, "large_amount", |p| {
    p.large_amount = beijing().large_amount;
});
rejects!(rejects_negative_serious_illness_threshold, "serious_illness.threshold", |p| {
    p.serious_illness.as_mut().unwrap().threshold = Money::from_fen(-1);
});
rejects!(rejects_serious_illness_band_gap, "serious_illness.bands[1].from", |p| {
    p.serious_illness.as_mut().unwrap().bands.0[1].from = m(60_000);
});
rejects!(rejects_bonus_above_one, "serious_illness.special_groups[0].ratio_bonus", |p| {
    p.serious_illness.as_mut().unwrap().special_groups[0].ratio_bonus = Ratio::percent(120);
});
rejects!(rejects_assistance_ratio_above_one, "assistance.schemes[0].layers[0].ratio", |p| {
    p.assistance.as_mut().unwrap().schemes[0].layers[0].ratio = Ratio::percent(101);
});
rejects!(rejects_assistance_category_in_two_schemes, "assistance.schemes[1].categories", |p| {
    p.assistance.as_mut().unwrap().schemes[1].categories.push(AssistanceCategory::Destitute);
});
rejects!(rejects_too_many_assistance_layers, "assistance.schemes[0].layers", |p| {
    let layer = p.assistance.as_ref().unwrap().schemes[0].layers[0].clone();
    p.assistance.as_mut().unwrap().schemes[0].layers = vec![layer; ASSISTANCE_LAYERS_MAX + 1];
});
rejects!(rejects_empty_settings, "assistance.settings", |p| {
    p.assistance.as_mut().unwrap().settings.clear();
});
rejects!(rejects_duplicate_settings, "serious_illness.settings[1]", |p| {
    p.serious_illness.as_mut().unwrap().settings = vec![CareSetting::Inpatient, CareSetting::Inpatient];
});
rejects!(rejects_civil_servant_for_residents, "civil_servant", |p| {
    p.civil_servant = Some(CivilServantSubsidy {
        settings: vec![CareSetting::Inpatient],
        coinsurance_ratio: Ratio::percent(50),
        deductible_ratio: Ratio::ZERO,
        annual_cap: None,
    });
});
rejects!(rejects_cross_region_share_above_one, "cross_region.unfiled.preselfpay", |p| {
    p.cross_region.as_mut().unwrap().unfiled.preselfpay = Ratio::percent(140);
});

#[test]
fn docs_reproduce_the_shipped_policies() {
    let doc = include_str!("../../../docs/policy.md");
    assert!(doc.contains(NINGBO_390), "docs/policy.md must embed policies/ningbo-390.toml verbatim");
    assert!(doc.contains(BEIJING_310), "docs/policy.md must embed policies/beijing-310.toml verbatim");
}
