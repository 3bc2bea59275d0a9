//! Settlement: the published worked examples to the fen, one test per
//! feature, and property tests over random policies and years.

use super::*;
use crate::codes::{ChrgitmLv, ListType};
use crate::policy::{
    Adjustment, Assistance, AssistanceLayer, AssistanceScheme, Bands, CivilServantSubsidy, CrossRegionTerms,
};

const NINGBO_390: &str = include_str!("../../../policies/ningbo-390.toml");
const NINGBO_310: &str = include_str!("../../../policies/ningbo-310.toml");
const BEIJING_310: &str = include_str!("../../../policies/beijing-310.toml");
const HEILONGJIANG_310: &str = include_str!("../../../policies/heilongjiang-310-e1.toml");

fn load(text: &str) -> Policy {
    Policy::from_toml_str(text).unwrap()
}

fn valid(policy: Policy) -> ValidPolicy {
    ValidPolicy::new(policy).unwrap()
}

fn m(yuan: i64) -> Money {
    Money::from_yuan(yuan)
}

fn fen(fen: i64) -> Money {
    Money::from_fen(fen)
}

fn item(class: Option<ChrgitmLv>, selfpay_percent: u32) -> ResolvedItem {
    ResolvedItem {
        code: "X".into(),
        name: "测试项目".into(),
        list_type: ListType::WesternAndPatentDrug,
        class,
        selfpay_prop: match class {
            Some(ChrgitmLv::ClassA) => Ratio::ZERO,
            Some(ChrgitmLv::ClassC) | None => Ratio::ONE,
            _ => Ratio::percent(selfpay_percent),
        },
        price_cap: None,
        restriction: None,
        applied_overrides: vec![],
    }
}

fn class_a() -> ResolvedItem {
    item(Some(ChrgitmLv::ClassA), 0)
}

fn class_b(percent: u32) -> ResolvedItem {
    item(Some(ChrgitmLv::ClassB), percent)
}

fn class_c() -> ResolvedItem {
    item(Some(ChrgitmLv::ClassC), 100)
}

/// One unit at the line's amount.
fn line(resolved: &ResolvedItem, amount: Money) -> FeeLine<'_> {
    FeeLine { resolved, quantity: Quantity::ONE, unit_price: UnitPrice::from_money(amount), amount }
}

fn employee() -> PersonStatus {
    PersonStatus {
        insutype: Insutype::EmployeeBasic,
        psn_type: PsnType::EmployeeActive,
        age_years: 40,
        assistance: None,
        civil_servant: false,
        has_account: false,
    }
}

fn resident() -> PersonStatus {
    PersonStatus {
        insutype: Insutype::ResidentBasic,
        psn_type: PsnType::ResidentAdult,
        age_years: 59,
        assistance: None,
        civil_servant: false,
        has_account: false,
    }
}

fn visit(med_type: MedType, tier: HospitalTier, admission_no: u32) -> Visit {
    Visit {
        med_type,
        hospital_tier: tier,
        admission_no,
        date: Date::parse("2023-06-01").unwrap(),
        cross_region: None,
        use_account: false,
    }
}

fn inpatient(tier: HospitalTier) -> Visit {
    visit(MedType::GeneralInpatient, tier, 1)
}

struct Case<'a> {
    policy: &'a ValidPolicy,
    person: PersonStatus,
    ytd: Accumulators,
    visit: Visit,
    balance: Money,
}

impl<'a> Case<'a> {
    fn new(policy: &'a ValidPolicy, person: PersonStatus, visit: Visit) -> Case<'a> {
        Case { policy, person, ytd: Accumulators::default(), visit, balance: Money::ZERO }
    }

    fn settle(&self, lines: &[FeeLine<'_>]) -> SettlementResult {
        self.try_settle(lines).unwrap()
    }

    fn try_settle(&self, lines: &[FeeLine<'_>]) -> Parsed<SettlementResult> {
        settle(&SettlementInput {
            policy: self.policy,
            person: &self.person,
            ytd: &self.ytd,
            visit: &self.visit,
            account_balance: self.balance,
            lines,
        })
    }

    /// Settles and adds the delta to the year-to-date figures.
    fn settle_and_apply(&mut self, lines: &[FeeLine<'_>]) -> SettlementResult {
        let r = self.settle(lines);
        self.ytd.apply(&r.delta);
        r
    }

    /// Settles an in-scope (甲类) amount alone.
    fn inscope(&self, amount: Money) -> SettlementResult {
        let a = class_a();
        self.settle(&[line(&a, amount)])
    }

    fn inscope_and_apply(&mut self, amount: Money) -> SettlementResult {
        let a = class_a();
        self.settle_and_apply(&[line(&a, amount)])
    }
}

fn detail(r: &SettlementResult, t: FundPayType) -> &FundDetail {
    r.setldetail.iter().find(|d| d.fund_pay_type == t).unwrap_or_else(|| panic!("no {t:?} row in {r:#?}"))
}

// ---------------------------------------------------------------- worked examples

#[test]
fn e1_heilongjiang_employee_inpatient() {
    let policy = valid(load(HEILONGJIANG_310));
    let case = Case::new(&policy, employee(), inpatient(HospitalTier::Three));
    let (a, b) = (class_a(), class_b(10));
    let r = case.settle(&[line(&a, m(2000)), line(&a, m(3000)), line(&b, m(5000))]);
    assert_eq!(r.medfee_sumamt, m(10_000));
    assert_eq!(r.preselfpay_amt, m(500));
    assert_eq!(r.inscp_scp_amt, m(9500));
    assert_eq!(r.act_pay_dedc, m(1300));
    assert_eq!(r.hifp_pay, m(6560));
    assert_eq!(r.pool_prop_selfpay, Ratio::percent(80));
    assert_eq!(r.fund_pay_sumamt, m(6560));
    assert_eq!(r.psn_part_amt, m(3440));
    assert_eq!(r.psn_cash_pay, m(3440));
    let pool = detail(&r, FundPayType::EmployeePool);
    assert_eq!(pool.setl_proc_info, "起付线 1300.00 元；(9500.00−1300.00)×80% = 6560.00 元");
    assert_eq!(r.lines[2].preselfpay_amt, m(500));
    assert_eq!(r.lines[2].inscp_scp_amt, m(4500));
    assert_eq!(r.delta.deductible_paid.inpatient, m(1300));
    assert_eq!(r.delta.admissions, 1);
}

#[test]
fn e2_ningbo_resident_tier_three_inpatient() {
    let policy = valid(load(NINGBO_390));
    let case = Case::new(&policy, resident(), inpatient(HospitalTier::Three));
    // 22000 total: 1500 自费; 乙类 5000 @ 10 % (先行自付 500, the flagged
    // synthetic split of the example); the rest 甲类.
    let (a, b, c) = (class_a(), class_b(10), class_c());
    let r = case.settle(&[line(&c, m(1500)), line(&b, m(5000)), line(&a, m(15_500))]);
    assert_eq!(r.fulamt_ownpay_amt, m(1500));
    assert_eq!(r.preselfpay_amt, m(500));
    assert_eq!(r.act_pay_dedc, m(1200));
    assert_eq!(r.hifp_pay, m(13_160));
    assert_eq!(r.hifmi_pay, Money::ZERO, "burden 6840 is below the 大病 threshold");
    assert_eq!(r.psn_part_amt, m(8840));
    assert_eq!(r.psn_cash_pay, m(8840));
    assert_eq!(r.psn_part_amt - r.fulamt_ownpay_amt - r.preselfpay_amt - r.act_pay_dedc, m(5640));
}

#[test]
fn e12_rounding_trap_sums_exactly() {
    let mut policy = load(HEILONGJIANG_310);
    let section = policy.inpatient.as_mut().unwrap();
    section.deductible.amount = crate::policy::TierMoney { one: m(0), two: m(0), three: m(0) };
    section.ratios[0].bands = Bands::flat(Ratio::percent(50));
    let policy = valid(policy);
    let case = Case::new(&policy, employee(), inpatient(HospitalTier::Three));
    let b = class_b(5);
    let r = case.settle(&[line(&b, fen(54_550))]);
    assert_eq!(r.preselfpay_amt, fen(2728), "545.50 × 5 % = 27.275 → 27.28");
    assert_eq!(r.inscp_scp_amt, fen(51_822), "the complement by subtraction, not 518.23");
    assert_eq!(r.hifp_pay, fen(25_911));
    assert_eq!(r.psn_part_amt, fen(28_639));
    assert_eq!(r.hifp_pay + r.psn_part_amt, r.medfee_sumamt);
}

// ---------------------------------------------------------------- lines

#[test]
fn class_c_line_is_fully_self_paid() {
    let policy = valid(load(HEILONGJIANG_310));
    let case = Case::new(&policy, employee(), inpatient(HospitalTier::Three));
    let (a, c) = (class_a(), class_c());
    let unknown = item(None, 0);
    let r = case.settle(&[line(&c, m(800)), line(&unknown, m(200)), line(&a, m(3300))]);
    assert_eq!(r.fulamt_ownpay_amt, m(1000));
    assert_eq!(r.lines[0].fulamt_ownpay_amt, m(800));
    assert_eq!(r.lines[1].chrgitm_lv, None);
    assert_eq!(r.inscp_scp_amt, m(3300));
    assert_eq!(r.hifp_pay, m(1600));
    assert_eq!(r.psn_part_amt, m(1000 + 1300 + 400));
}

#[test]
fn price_above_the_cap_is_self_paid_per_unit() {
    let policy = valid(load(HEILONGJIANG_310));
    let case = Case::new(&policy, employee(), inpatient(HospitalTier::Three));
    let mut capped = class_b(10);
    capped.price_cap = Some(m(100));
    let l = FeeLine {
        resolved: &capped,
        quantity: Quantity::units(3),
        unit_price: UnitPrice::parse("120.005").unwrap(),
        amount: fen(36_002),
    };
    let r = case.settle(&[l]);
    // (120.005 − 100) × 3 = 60.015 → 60.02; rest 300.00; 10 % → 30.00.
    assert_eq!(r.overlmt_selfpay, fen(6002));
    assert_eq!(r.preselfpay_amt, m(30));
    assert_eq!(r.inscp_scp_amt, m(270));
    assert_eq!(r.lines[0].overlmt_amt, fen(6002));
}

#[test]
fn bad_inputs_name_the_line_and_field() {
    let policy = valid(load(HEILONGJIANG_310));
    let case = Case::new(&policy, employee(), inpatient(HospitalTier::Three));
    let a = class_a();
    let e = case.try_settle(&[line(&a, m(10)), line(&a, fen(-1))]).unwrap_err();
    assert_eq!(e.field, "feedetail[1].det_item_fee_sumamt");
    let mut neg = line(&a, m(10));
    neg.quantity = Quantity::from_ten_thousandths(-1);
    assert_eq!(case.try_settle(&[neg]).unwrap_err().field, "feedetail[0].cnt");
    let too_many = vec![line(&a, m(1)); FEE_LINES_MAX + 1];
    assert_eq!(case.try_settle(&too_many).unwrap_err().field, "feedetail");
    let mut other = Case::new(&policy, resident(), inpatient(HospitalTier::Three));
    assert_eq!(other.try_settle(&[line(&a, m(10))]).unwrap_err().field, "insutype");
    other.person = employee();
    other.visit.date = Date::parse("2019-12-31").unwrap();
    assert_eq!(other.try_settle(&[line(&a, m(10))]).unwrap_err().field, "setl_time");
    other.visit = visit(MedType::GeneralInpatient, HospitalTier::Three, 0);
    assert_eq!(other.try_settle(&[line(&a, m(10))]).unwrap_err().field, "admission_no");
}

// ---------------------------------------------------------------- bands

#[test]
fn beijing_absolute_bands_include_the_deductible() {
    let policy = valid(load(BEIJING_310));
    let case = Case::new(&policy, employee(), inpatient(HospitalTier::Three));
    let r = case.inscope(m(50_000));
    // [1300, 30000) × 85 % + [30000, 40000) × 90 % + [40000, 50000) × 95 %.
    assert_eq!(r.hifp_pay, m(24_395 + 9000 + 9500));
    assert_eq!(
        detail(&r, FundPayType::EmployeePool).setl_proc_info,
        "起付线 1300.00 元；28700.00×85% + 10000.00×90% + 10000.00×95% = 42895.00 元"
    );
    // Effective ratio: 42895 / 48700.
    assert_eq!(r.pool_prop_selfpay, Ratio::from_ppm(880_801));
    // The retired table is its own, not "+x points".
    let mut retired = Case::new(&policy, employee(), inpatient(HospitalTier::Two));
    retired.person.psn_type = PsnType::EmployeeRetired;
    assert_eq!(retired.inscope(m(11_300)).hifp_pay, m(9610), "10000 × 96.1 %");
}

#[test]
fn above_deductible_bands_are_widths() {
    let mut policy = load(BEIJING_310);
    let section = policy.inpatient.as_mut().unwrap();
    section.band_basis = BandBasis::AboveDeductible;
    for row in &mut section.ratios {
        row.bands.0[0].from = Money::ZERO;
    }
    let policy = valid(policy);
    let case = Case::new(&policy, employee(), inpatient(HospitalTier::Three));
    // Eligible 48700: [0, 30000) × 85 % + [30000, 40000) × 90 % + [40000, 48700) × 95 %.
    assert_eq!(case.inscope(m(50_000)).hifp_pay, m(25_500 + 9000 + 8265));
}

#[test]
fn annual_cumulative_bands_continue_across_visits() {
    let policy = valid(load(NINGBO_310));
    let mut case = Case::new(&policy, employee(), inpatient(HospitalTier::Three));
    let first = case.inscope_and_apply(m(30_000));
    assert_eq!(first.act_pay_dedc, m(1500));
    assert_eq!(first.hifp_pay, m(22_800), "[1500, 30000) × 80 %");
    case.visit.admission_no = 2;
    let second = case.inscope_and_apply(m(30_000));
    assert_eq!(second.act_pay_dedc, Money::ZERO, "the yearly deductible is paid");
    assert_eq!(second.hifp_pay, m(4000 + 21_250), "[30000, 35000) × 80 % + [35000, 60000) × 85 %");

    // The same two visits with per-visit bands: the second starts at 0 again.
    let mut per_visit = load(NINGBO_310);
    per_visit.inpatient.as_mut().unwrap().band_scope = BandScope::PerVisit;
    let per_visit = valid(per_visit);
    let mut case = Case::new(&per_visit, employee(), inpatient(HospitalTier::Three));
    case.inscope_and_apply(m(30_000));
    case.visit.admission_no = 2;
    assert_eq!(case.inscope(m(30_000)).hifp_pay, m(24_000));
}

#[test]
fn yearly_deductible_is_paid_up_to_the_highest_tier_used() {
    let policy = valid(load(NINGBO_310));
    let mut case = Case::new(&policy, employee(), inpatient(HospitalTier::Two));
    assert_eq!(case.inscope_and_apply(m(5000)).act_pay_dedc, m(600));
    case.visit.hospital_tier = HospitalTier::Three;
    assert_eq!(case.inscope_and_apply(m(5000)).act_pay_dedc, m(900), "1500 − 600 already paid");
    assert_eq!(case.inscope_and_apply(m(5000)).act_pay_dedc, Money::ZERO);
    // Retired persons' group amounts are per tier.
    let mut retired = Case::new(&policy, employee(), inpatient(HospitalTier::Three));
    retired.person.psn_type = PsnType::EmployeeRetired;
    assert_eq!(retired.inscope(m(5000)).act_pay_dedc, m(1200));
}

// ---------------------------------------------------------------- deductibles

#[test]
fn second_admission_deductible_is_reduced() {
    let policy = valid(load(BEIJING_310));
    let mut case = Case::new(&policy, employee(), inpatient(HospitalTier::Three));
    case.visit.admission_no = 2;
    let r = case.inscope(m(10_000));
    assert_eq!(r.act_pay_dedc, m(650));
    // 650–1300 is paid at the first band's ratio: (10000 − 650) × 85 %.
    assert_eq!(r.hifp_pay, fen(794_750));
    case.visit.admission_no = 5;
    assert_eq!(case.inscope(m(10_000)).act_pay_dedc, m(650), "the last step repeats");
}

#[test]
fn admission_steps_by_ratio_with_floors() {
    // 东平: full, half, then none.
    let mut dongping = load(HEILONGJIANG_310);
    let d = &mut dongping.inpatient.as_mut().unwrap().deductible;
    d.amount.two = m(500);
    d.later_admissions = vec![Adjustment::Ratio(Ratio::percent(50)), Adjustment::Ratio(Ratio::ZERO)];
    let dongping = valid(dongping);
    let mut case = Case::new(&dongping, employee(), inpatient(HospitalTier::Two));
    let dues: Vec<Money> = (1..=4)
        .map(|n| {
            case.visit.admission_no = n;
            case.inscope(m(5000)).act_pay_dedc
        })
        .collect();
    assert_eq!(dues, vec![m(500), m(250), m(0), m(0)]);

    // 重庆: −10 % per further admission, never below the floor.
    let mut chongqing = load(HEILONGJIANG_310);
    let d = &mut chongqing.inpatient.as_mut().unwrap().deductible;
    d.amount.three = m(800);
    d.later_admissions = [90, 80, 70, 60].iter().map(|&p| Adjustment::Ratio(Ratio::percent(p))).collect();
    d.floor = Some(crate::policy::TierMoney { one: m(100), two: m(260), three: m(620) });
    let chongqing = valid(chongqing);
    let mut case = Case::new(&chongqing, employee(), inpatient(HospitalTier::Three));
    let dues: Vec<Money> = (1..=5)
        .map(|n| {
            case.visit.admission_no = n;
            case.inscope(m(5000)).act_pay_dedc
        })
        .collect();
    assert_eq!(dues, vec![m(800), m(720), m(640), m(620), m(620)]);
}

#[test]
fn yearly_deductible_cap_limits_per_admission_deductibles() {
    let mut policy = load(HEILONGJIANG_310);
    let d = &mut policy.inpatient.as_mut().unwrap().deductible;
    d.amount.three = m(1000);
    d.yearly_cap = Some(m(2300));
    let policy = valid(policy);
    let mut case = Case::new(&policy, employee(), inpatient(HospitalTier::Three));
    let dues: Vec<Money> = (1..=4)
        .map(|n| {
            case.visit.admission_no = n;
            case.inscope_and_apply(m(5000)).act_pay_dedc
        })
        .collect();
    assert_eq!(dues, vec![m(1000), m(1000), m(300), m(0)]);
    assert_eq!(case.ytd.deductible_paid_total, m(2300));
}

#[test]
fn deductible_groups_halve_and_waive() {
    let policy = valid(load(NINGBO_390));
    let mut case = Case::new(&policy, resident(), inpatient(HospitalTier::Three));
    case.person.psn_type = PsnType::PupilStudent;
    assert_eq!(case.inscope(m(5000)).act_pay_dedc, m(600));
    case.person.psn_type = PsnType::ResidentAdult;
    case.person.assistance = Some(AssistanceCategory::Destitute);
    assert_eq!(case.inscope(m(5000)).act_pay_dedc, Money::ZERO);
}

// ---------------------------------------------------------------- caps and 大额

#[test]
fn outpatient_pooling_limit_reached_mid_visit() {
    let policy = valid(load(NINGBO_390));
    let mut case = Case::new(&policy, resident(), visit(MedType::GeneralOutpatient, HospitalTier::One, 0));
    case.ytd.pool_paid.outpatient = m(1900);
    let r = case.inscope(m(1000));
    assert_eq!(r.hifp_pay, m(100), "600 computed, 100 left of the 2000 limit");
    let row = detail(&r, FundPayType::ResidentPool);
    assert_eq!(row.crt_payb_lmt_amt, Some(m(100)));
    assert!(row.setl_proc_info.contains("门诊统筹年度限额剩余 100.00 元"), "{}", row.setl_proc_info);
    assert_eq!(r.delta.pool_paid.outpatient, m(100));
    case.ytd.apply(&r.delta);
    assert_eq!(case.inscope(m(1000)).hifp_pay, Money::ZERO);
    // Inpatient draws on its own pool.
    case.visit = inpatient(HospitalTier::Three);
    assert_eq!(case.inscope(m(2200)).hifp_pay, m(700));
}

#[test]
fn large_amount_pays_above_the_basic_ceiling() {
    let policy = valid(load(BEIJING_310));
    let case = Case::new(&policy, employee(), inpatient(HospitalTier::Three));
    let r = case.inscope(m(150_000));
    assert_eq!(r.hifp_pay, m(24_395 + 9000 + 57_000), "bands end at 100000");
    assert_eq!(r.hifob_pay, m(42_500), "50000 above the ceiling × 85 %");
    assert_eq!(detail(&r, FundPayType::LargeAmount).inscp_scp_amt, m(50_000));
    assert_eq!(r.delta.hifob_base, m(50_000));
}

#[test]
fn large_amount_takes_over_when_the_basic_cap_runs_out() {
    let mut policy = load(BEIJING_310);
    policy.caps.push(crate::policy::CapRule { pool: CapPool::Main, categories: vec![], amount: m(200_000) });
    let policy = valid(policy);
    let mut case = Case::new(&policy, employee(), inpatient(HospitalTier::Three));
    case.ytd.pool_paid.main = m(199_150);
    let r = case.inscope(m(11_300));
    // 10000 × 85 % = 8500 computed; 850 left: paid up to position 1300 + 1000.
    assert_eq!(r.hifp_pay, m(850));
    assert_eq!(r.hifob_pay, m(7650), "the remaining 9000 × 85 %");
    assert_eq!(r.delta.pool_paid.main, m(850));
    // The 大额 annual cap holds too.
    case.ytd.hifob_paid = m(339_000);
    assert_eq!(case.inscope(m(11_300)).hifob_pay, m(1000));
}

// ---------------------------------------------------------------- 大病

/// A resident policy where the basic fund pays nothing, so the 大病 base is
/// simply the in-scope amount.
fn serious_illness_only() -> ValidPolicy {
    let mut policy = load(NINGBO_390);
    let section = policy.inpatient.as_mut().unwrap();
    section.deductible.amount = crate::policy::TierMoney { one: m(0), two: m(0), three: m(0) };
    for row in &mut section.ratios {
        row.bands = Bands::flat(Ratio::ZERO);
    }
    policy.assistance = None;
    valid(policy)
}

#[test]
fn serious_illness_pays_band_by_band_across_the_year() {
    let policy = serious_illness_only();
    let amounts = [fen(733_333), fen(1_234_567), fen(4_567_891), fen(6_000_009)];
    let mut split = Case::new(&policy, resident(), inpatient(HospitalTier::Three));
    let mut paid = Money::ZERO;
    for (i, amount) in amounts.iter().enumerate() {
        split.visit.admission_no = i as u32 + 1;
        paid += split.inscope_and_apply(*amount).hifmi_pay;
    }
    let total: Money = amounts.iter().sum();
    let single = Case::new(&policy, resident(), inpatient(HospitalTier::Three)).inscope(total);
    assert_eq!(total, fen(12_535_800));
    // 40000 × 60 % + 50000 × 70 % + 25358 × 80 % = 79286.40.
    assert_eq!(single.hifmi_pay, fen(7_928_640));
    assert_eq!(paid, single.hifmi_pay, "the split year pays exactly what one settlement would");
    assert_eq!(split.ytd.hifmi_paid, paid);
}

#[test]
fn serious_illness_special_group_lower_threshold_bonus_no_cap() {
    let policy = serious_illness_only();
    let mut case = Case::new(&policy, resident(), inpatient(HospitalTier::Three));
    assert_eq!(case.inscope(m(20_000)).hifmi_pay, m(6000), "(20000 − 10000) × 60 %");
    case.person.assistance = Some(AssistanceCategory::Dibao);
    assert_eq!(case.inscope(m(20_000)).hifmi_pay, m(9750), "(20000 − 5000) × 65 %");
    case.ytd.hifmi_paid = m(300_000);
    assert_eq!(case.inscope(m(20_000)).hifmi_pay, m(9750), "no cap for the group");
    case.person.assistance = None;
    assert_eq!(case.inscope(m(20_000)).hifmi_pay, Money::ZERO, "others stop at the cap");
}

// ---------------------------------------------------------------- 医疗救助

#[test]
fn suqian_assistance_layers_threshold_and_cap() {
    let policy = valid(load(NINGBO_390));
    let mut case = Case::new(&policy, resident(), visit(MedType::GeneralOutpatient, HospitalTier::One, 0));
    // 门诊统筹 一级: no deductible, 60 %; burden = 40 % of the in-scope amount.
    case.person.assistance = Some(AssistanceCategory::DibaoMarginal);
    let first = case.inscope_and_apply(m(5000));
    assert_eq!(first.hifp_pay, m(2000), "capped by the 2000 outpatient limit");
    assert_eq!(first.maf_pay, fen(0), "3000 burden: at the 3000 threshold, nothing yet");
    let second = case.inscope_and_apply(m(1000));
    assert_eq!(second.maf_pay, m(700), "1000 above the threshold × 70 %");

    case.person.assistance = Some(AssistanceCategory::Destitute);
    case.ytd = Accumulators::default();
    let r = case.inscope(m(1000));
    assert_eq!(r.maf_pay, m(400), "特困: 100 % of the burden");
    assert_eq!(r.psn_cash_pay, Money::ZERO);
    case.ytd.maf_paid_total = m(99_900);
    assert_eq!(case.inscope(m(1000)).maf_pay, m(100), "the 10万 annual limit");
}

#[test]
fn yubei_assistance_chains_two_layers() {
    let mut policy = load(NINGBO_390);
    policy.assistance = Some(Assistance {
        settings: vec![CareSetting::Inpatient],
        annual_cap: None,
        schemes: vec![AssistanceScheme {
            categories: vec![AssistanceCategory::DibaoMarginal],
            layers: vec![
                AssistanceLayer { threshold: Money::ZERO, ratio: Ratio::percent(70), annual_cap: None },
                AssistanceLayer { threshold: m(3000), ratio: Ratio::percent(60), annual_cap: Some(m(2000)) },
            ],
        }],
    });
    let mut base = valid(policy).into_inner();
    base.serious_illness = None;
    let section = base.inpatient.as_mut().unwrap();
    section.deductible.amount = crate::policy::TierMoney { one: m(0), two: m(0), three: m(0) };
    for row in &mut section.ratios {
        row.bands = Bands::flat(Ratio::ZERO);
    }
    let policy = valid(base);
    let mut case = Case::new(&policy, resident(), inpatient(HospitalTier::Three));
    case.person.assistance = Some(AssistanceCategory::DibaoMarginal);
    let r = case.inscope_and_apply(m(20_000));
    // 70 % of 20000 = 14000; 6000 left, 3000 above the threshold × 60 % = 1800.
    assert_eq!(r.maf_pay, m(15_800));
    assert_eq!(r.delta.maf_paid, [m(14_000), m(1800), Money::ZERO, Money::ZERO]);
    let r = case.inscope_and_apply(m(10_000));
    // 7000 + 3000 × 60 % = 1800, but layer 2 has only 200 left of its 2000 cap.
    assert_eq!(r.maf_pay, m(7200));
    assert!(detail(&r, FundPayType::MedicalAssistance).setl_proc_info.contains("第2层"));
}

// ---------------------------------------------------------------- 公务员, account, cross-region

#[test]
fn civil_servant_subsidy_shares_coinsurance_and_deductible() {
    let mut policy = load(HEILONGJIANG_310);
    policy.civil_servant = Some(CivilServantSubsidy {
        settings: vec![CareSetting::Inpatient],
        coinsurance_ratio: Ratio::percent(50),
        deductible_ratio: Ratio::percent(20),
        annual_cap: Some(m(5000)),
    });
    let policy = valid(policy);
    let mut case = Case::new(&policy, employee(), inpatient(HospitalTier::Three));
    assert_eq!(case.inscope(m(9500)).cvlserv_pay, Money::ZERO, "only for civil servants");
    case.person.civil_servant = true;
    let r = case.inscope(m(9500));
    assert_eq!(r.cvlserv_pay, m(820 + 260), "1640 × 50 % + 1300 × 20 %");
    assert_eq!(r.psn_part_amt, m(9500 - 6560 - 1080));
    case.ytd.cvlserv_paid = m(4500);
    assert_eq!(case.inscope(m(9500)).cvlserv_pay, m(500));
}

#[test]
fn account_after_funds_never_goes_negative() {
    let policy = valid(load(BEIJING_310));
    let mut case = Case::new(&policy, employee(), inpatient(HospitalTier::Three));
    case.person.has_account = true;
    case.visit.use_account = true;
    case.balance = m(100_000);
    let (a, b, c) = (class_a(), class_b(10), class_c());
    let lines = [line(&a, m(9000)), line(&b, m(2000)), line(&c, m(500))];
    let r = case.settle(&lines);
    // Beijing lets the account pay 先行自付 but not 全自费.
    let inscope_personal = r.inscp_scp_amt - r.fund_pay_sumamt;
    assert_eq!(r.acct_pay, inscope_personal + r.preselfpay_amt);
    assert_eq!(r.psn_cash_pay, m(500));
    assert_eq!(r.balc, m(100_000) - r.acct_pay);
    case.balance = m(100);
    let r = case.settle(&lines);
    assert_eq!(r.acct_pay, m(100));
    assert_eq!(r.balc, Money::ZERO);
    case.visit.use_account = false;
    assert_eq!(case.settle(&lines).acct_pay, Money::ZERO, "acct_used_flag = 0");
}

#[test]
fn account_first_pays_before_the_deductible() {
    let policy = valid(load(NINGBO_310));
    let mut case = Case::new(&policy, employee(), visit(MedType::GeneralOutpatient, HospitalTier::Three, 0));
    case.person.has_account = true;
    case.visit.use_account = true;
    case.balance = m(300);
    let r = case.inscope(m(2000));
    assert_eq!(r.acct_pay, m(300), "当年账户段 first");
    assert_eq!(r.act_pay_dedc, m(900), "自负段 of 900 on the remaining 1700");
    assert_eq!(r.hifp_pay, m(600), "800 × 75 %");
    assert_eq!(r.psn_cash_pay, m(1100));
    // The same visit with the account after the funds: the fund pays more of
    // the in-scope amount, the account pays the deductible part instead.
    let mut after = load(NINGBO_310);
    after.account.order = AccountOrder::AfterFunds;
    let after = valid(after);
    let mut case2 = Case::new(&after, employee(), case.visit);
    case2.person = case.person;
    case2.balance = m(300);
    let r2 = case2.inscope(m(2000));
    assert_eq!(r2.hifp_pay, fen(82_500), "1100 × 75 %");
    assert_eq!(r2.acct_pay, m(300));
    // No account use in 门诊特殊病种.
    case.visit.med_type = MedType::ChronicSpecialOutpatient;
    assert_eq!(case.inscope(m(2000)).acct_pay, Money::ZERO);
}

#[test]
fn cross_region_filed_and_unfiled() {
    let policy = valid(load(NINGBO_390));
    let mut case = Case::new(&policy, resident(), inpatient(HospitalTier::Three));
    case.visit.cross_region = Some(CrossRegion { filed: true });
    let filed = case.inscope(m(10_000));
    assert_eq!(filed.preselfpay_amt, m(1000));
    assert_eq!(filed.inscp_scp_amt, m(9000));
    assert_eq!(filed.hifp_pay, m(5460), "(9000 − 1200) × 70 %");
    assert_eq!(filed.lines[0].inscp_scp_amt, m(10_000), "lines keep the treating region's classification");
    case.visit.cross_region = Some(CrossRegion { filed: false });
    let unfiled = case.inscope(m(10_000));
    assert_eq!(unfiled.preselfpay_amt, m(4000));
    assert_eq!(unfiled.hifp_pay, m(3360), "(6000 − 1200) × 70 %");

    let mut reduced = load(NINGBO_390);
    reduced.cross_region.as_mut().unwrap().unfiled =
        CrossRegionTerms { preselfpay: Ratio::ZERO, ratio_reduction: Ratio::percent(10) };
    let reduced = valid(reduced);
    let mut case = Case::new(&reduced, resident(), inpatient(HospitalTier::Three));
    case.visit.cross_region = Some(CrossRegion { filed: false });
    let r = case.inscope(m(10_000));
    assert_eq!(r.hifp_pay, m(5280), "(10000 − 1200) × 60 %");
    assert_eq!(r.pool_prop_selfpay, Ratio::percent(60));
}

#[test]
fn accumulators_revert_exactly_and_refuse_underflow() {
    let policy = valid(load(NINGBO_390));
    let mut case = Case::new(&policy, resident(), inpatient(HospitalTier::Three));
    case.inscope_and_apply(m(30_000));
    let before = case.ytd;
    let r = case.inscope_and_apply(m(50_000));
    assert_ne!(case.ytd, before);
    case.ytd.revert(&r.delta).unwrap();
    assert_eq!(case.ytd, before);
    let mut empty = Accumulators::default();
    let e = empty.revert(&r.delta).unwrap_err();
    assert_eq!(empty, Accumulators::default(), "a refused revert changes nothing");
    assert!(!e.field.is_empty());
    let json = serde_json::to_string(&before).unwrap();
    assert_eq!(serde_json::from_str::<Accumulators>(&json).unwrap(), before);
}

#[test]
fn every_setting_of_the_demo_policy_settles() {
    let policy = valid(load(NINGBO_390));
    for (med_type, expected) in [
        (MedType::GeneralOutpatient, m(350)),        // (1000 − 300) × 50 %
        (MedType::ChronicSpecialOutpatient, m(700)), // 1000 × 70 %, no deductible
        (MedType::PharmacyPurchase, m(500)),         // 1000 × 50 %
        (MedType::GeneralInpatient, Money::ZERO),    // below the 1200 deductible
    ] {
        let case = Case::new(&policy, resident(), visit(med_type, HospitalTier::Three, 1));
        assert_eq!(case.inscope(m(1000)).hifp_pay, expected, "{med_type:?}");
    }
}

#[path = "settlement_props.rs"]
mod props;
