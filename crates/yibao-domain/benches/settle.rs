//! One settlement with 10 and with 100 fee lines, on the demo policy
//! (宁波 居民 住院 with 大病 and 医疗救助 in play, so every layer runs).
//!
//! Run: `cargo bench -p yibao-domain --bench settle`. Target: ≥ 200 000
//! settlements per second on one core for 10 lines (≤ 5 µs each).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use yibao_domain::catalog::ResolvedItem;
use yibao_domain::codes::{AssistanceCategory, ChrgitmLv, HospitalTier, Insutype, ListType, MedType, PsnType};
use yibao_domain::policy::ValidPolicy;
use yibao_domain::settlement::{Accumulators, FeeLine, PersonStatus, SettlementInput, Visit, settle};
use yibao_domain::{Date, Money, Quantity, Ratio, UnitPrice};

const NINGBO_390: &str = include_str!("../../../policies/ningbo-390.toml");

fn items() -> Vec<ResolvedItem> {
    let classes = [
        (Some(ChrgitmLv::ClassA), Ratio::ZERO, None),
        (Some(ChrgitmLv::ClassB), Ratio::percent(10), None),
        (Some(ChrgitmLv::ClassB), Ratio::percent(5), Some(Money::from_yuan(80))),
        (Some(ChrgitmLv::ClassC), Ratio::ONE, None),
        (Some(ChrgitmLv::ClassA), Ratio::ZERO, Some(Money::from_yuan(200))),
    ];
    classes
        .iter()
        .enumerate()
        .map(|(i, &(class, selfpay_prop, price_cap))| ResolvedItem {
            code: format!("ITEM{i}"),
            name: "测试项目".into(),
            list_type: ListType::WesternAndPatentDrug,
            class,
            selfpay_prop,
            price_cap,
            restriction: None,
            applied_overrides: vec![],
        })
        .collect()
}

fn lines(items: &[ResolvedItem], count: usize) -> Vec<FeeLine<'_>> {
    (0..count)
        .map(|i| {
            let unit_price = UnitPrice::from_micro_yuan(37_450_000 + 1_000_000 * i as i64);
            let quantity = Quantity::units(1 + (i % 4) as i64);
            FeeLine {
                resolved: &items[i % items.len()],
                quantity,
                unit_price,
                amount: Money::price_times_quantity(unit_price, quantity).unwrap(),
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let policy = ValidPolicy::from_toml_str(NINGBO_390).unwrap();
    let person = PersonStatus {
        insutype: Insutype::ResidentBasic,
        psn_type: PsnType::ResidentAdult,
        age_years: 59,
        assistance: Some(AssistanceCategory::DibaoMarginal),
        civil_servant: false,
        has_account: false,
    };
    let ytd = Accumulators { hifmi_base: Money::from_yuan(9000), ..Accumulators::default() };
    let visit = Visit {
        med_type: MedType::GeneralInpatient,
        hospital_tier: HospitalTier::Three,
        admission_no: 1,
        date: Date::parse("2024-03-01").unwrap(),
        cross_region: None,
        use_account: false,
    };
    let items = items();
    for count in [10, 100] {
        let lines = lines(&items, count);
        let input = SettlementInput {
            policy: &policy,
            person: &person,
            ytd: &ytd,
            visit: &visit,
            account_balance: Money::ZERO,
            lines: &lines,
        };
        // Basic fund, 大病 and 医疗救助 all run.
        assert_eq!(settle(&input).unwrap().setldetail.len(), 3);
        c.bench_function(&format!("settle {count} lines"), |b| b.iter(|| settle(black_box(&input)).unwrap()));
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
