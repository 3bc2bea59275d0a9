//! The settlement calculation: who pays what for one visit.
//!
//! [`settle`] is a pure function of a [`ValidPolicy`], the person, their
//! year-to-date [`Accumulators`], the visit and the fee lines. It returns the
//! national 2206/2207 figures (setlinfo, setldetail), one [`LineResult`] per
//! fee line and the [`AccumulatorDelta`] that storage persists with the
//! settlement (and reverts on cancellation).
//!
//! Order of deductions (every consistent published example agrees; see
//! `docs/policy.md`):
//!
//! 1. per line: 全自费 (丙类 or unknown class) and the part of the unit price
//!    above the 最高支付标准 (超限价) are self-paid; 乙类 先行自付 is
//!    `rest × selfpay_prop`, rounded half-up **per line** (the catalog share
//!    belongs to the item, and per-line figures are what 2204/2301 report);
//!    what remains is in scope (政策范围内);
//! 2. cross-region extra 先行自付 (share of the in-scope total, rounded once);
//! 3. account-first policies: the personal account pays in-scope cost first;
//! 4. deductible (起付线) on the in-scope amount, per admission or yearly,
//!    reduced for later admissions and person groups, within a yearly cap;
//! 5. basic pooled fund (hifp): flat or banded ratio on the band axis, then
//!    the annual cap of its pool;
//! 6. 大额 (hifob): the in-scope cost above the basic cap or base ceiling;
//! 7. 大病 (hifmi): yearly-cumulative in-scope personal burden (deductible
//!    included) above a threshold, band by band;
//! 8. 医疗救助 (maf): chained layers on what is still left;
//! 9. 公务员医疗补助 (cvlserv): a share of the coinsurance and deductible;
//! 10. personal account (after funds) and finally cash.
//!
//! Rounding: each fund payment is rounded half-up to the fen exactly once;
//! the person's share and cash are derived by subtraction, so the parts
//! always sum to the whole (asserted before returning).

use serde::{Deserialize, Serialize};

use crate::catalog::ResolvedItem;
use crate::codes::{AssistanceCategory, CareSetting, ChrgitmLv, FundPayType, HospitalTier, Insutype, MedType, PsnType};
use crate::date::Date;
use crate::error::{FieldError, Parsed};
use crate::money::{Money, Quantity, Ratio, UnitPrice};
use crate::policy::{
    ASSISTANCE_LAYERS_MAX, AccountOrder, Band, BandBasis, BandScope, CapPool, DeductibleBasis, PersonKey, Policy,
    Section, ValidPolicy, categories_of, round_to_fen, setting_index, setting_name,
};

/// Most fee lines one settlement accepts. A long inpatient stay has a few
/// thousand; the bound keeps one calculation's work and its sums bounded.
pub const FEE_LINES_MAX: usize = 10_000;

/// The person as the settlement needs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonStatus {
    pub insutype: Insutype,
    pub psn_type: PsnType,
    pub age_years: u32,
    pub assistance: Option<AssistanceCategory>,
    pub civil_servant: bool,
    pub has_account: bool,
}

/// 异地就医: whether the person filed (备案) before treatment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrossRegion {
    pub filed: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visit {
    pub med_type: MedType,
    pub hospital_tier: HospitalTier,
    /// 1 for the first admission of the scheme year; only read for inpatient care.
    pub admission_no: u32,
    pub date: Date,
    pub cross_region: Option<CrossRegion>,
    /// acct_used_flag.
    pub use_account: bool,
}

/// One fee line, classified with the treating region's catalog.
#[derive(Clone, Copy, Debug)]
pub struct FeeLine<'a> {
    pub resolved: &'a ResolvedItem,
    pub quantity: Quantity,
    pub unit_price: UnitPrice,
    /// det_item_fee_sumamt: authoritative (the caller checked price × quantity).
    pub amount: Money,
}

#[derive(Clone, Copy, Debug)]
pub struct SettlementInput<'a> {
    pub policy: &'a ValidPolicy,
    pub person: &'a PersonStatus,
    /// Year-to-date figures for the scheme year of the visit.
    pub ytd: &'a Accumulators,
    pub visit: &'a Visit,
    pub account_balance: Money,
    pub lines: &'a [FeeLine<'a>],
}

/// How one fee line was classified.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LineResult {
    pub fulamt_ownpay_amt: Money,
    pub overlmt_amt: Money,
    pub preselfpay_amt: Money,
    pub inscp_scp_amt: Money,
    pub selfpay_prop: Ratio,
    pub chrgitm_lv: Option<ChrgitmLv>,
}

/// One setldetail row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FundDetail {
    pub fund_pay_type: FundPayType,
    /// The base this fund computed on.
    pub inscp_scp_amt: Money,
    /// What this fund could still pay this year before this settlement.
    pub crt_payb_lmt_amt: Option<Money>,
    pub fund_payamt: Money,
    pub setl_proc_info: String,
}

/// The outcome of one settlement, with the national field names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SettlementResult {
    pub medfee_sumamt: Money,
    pub fulamt_ownpay_amt: Money,
    pub overlmt_selfpay: Money,
    /// 乙类 先行自付 of all lines plus the cross-region extra 先行自付.
    pub preselfpay_amt: Money,
    /// In scope after the cross-region extra 先行自付 (so the four parts sum
    /// to the total); lines report their own in-scope amounts before it.
    pub inscp_scp_amt: Money,
    pub act_pay_dedc: Money,
    pub hifp_pay: Money,
    /// The applied pooled ratio (after any cross-region reduction). When the
    /// visit spans several bands: the effective ratio `hifp_pay ÷ (in-scope
    /// above the deductible)`, rounded half-up to the millionth.
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
    /// Account balance after this settlement.
    pub balc: Money,
    pub setldetail: Vec<FundDetail>,
    pub lines: Vec<LineResult>,
    pub delta: AccumulatorDelta,
}

/// One money figure per care setting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PerSetting {
    pub inpatient: Money,
    pub outpatient: Money,
    pub chronic_outpatient: Money,
    pub pharmacy: Money,
}

impl PerSetting {
    pub fn get(&self, setting: CareSetting) -> Money {
        [self.inpatient, self.outpatient, self.chronic_outpatient, self.pharmacy][setting_index(setting)]
    }

    pub fn get_mut(&mut self, setting: CareSetting) -> &mut Money {
        match setting {
            CareSetting::Inpatient => &mut self.inpatient,
            CareSetting::Outpatient => &mut self.outpatient,
            CareSetting::ChronicOutpatient => &mut self.chronic_outpatient,
            CareSetting::Pharmacy => &mut self.pharmacy,
        }
    }
}

/// One money figure per basic-fund cap pool.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PerPool {
    pub main: Money,
    pub outpatient: Money,
    pub chronic: Money,
    pub pharmacy: Money,
}

impl PerPool {
    pub fn get(&self, pool: CapPool) -> Money {
        [self.main, self.outpatient, self.chronic, self.pharmacy][pool.index()]
    }

    pub fn get_mut(&mut self, pool: CapPool) -> &mut Money {
        match pool {
            CapPool::Main => &mut self.main,
            CapPool::Outpatient => &mut self.outpatient,
            CapPool::Chronic => &mut self.chronic,
            CapPool::Pharmacy => &mut self.pharmacy,
        }
    }
}

/// A figure that accumulates: added on apply, subtracted on revert.
trait Tally: Copy {
    fn add(&mut self, other: &Self);
    /// `None` if the result would be negative (reverting what was never applied).
    fn sub(&self, other: &Self) -> Option<Self>;
}

impl Tally for Money {
    fn add(&mut self, other: &Money) {
        *self += *other;
    }
    fn sub(&self, other: &Money) -> Option<Money> {
        self.checked_sub(*other).filter(|m| !m.is_negative())
    }
}

impl Tally for u32 {
    fn add(&mut self, other: &u32) {
        *self = self.checked_add(*other).expect("accumulator overflow");
    }
    fn sub(&self, other: &u32) -> Option<u32> {
        self.checked_sub(*other)
    }
}

impl<const N: usize> Tally for [Money; N] {
    fn add(&mut self, other: &Self) {
        for (a, b) in self.iter_mut().zip(other) {
            a.add(b);
        }
    }
    fn sub(&self, other: &Self) -> Option<Self> {
        let mut out = *self;
        for (a, b) in out.iter_mut().zip(other) {
            *a = Tally::sub(a, b)?;
        }
        Some(out)
    }
}

impl Tally for PerSetting {
    fn add(&mut self, o: &Self) {
        self.inpatient.add(&o.inpatient);
        self.outpatient.add(&o.outpatient);
        self.chronic_outpatient.add(&o.chronic_outpatient);
        self.pharmacy.add(&o.pharmacy);
    }
    fn sub(&self, o: &Self) -> Option<Self> {
        Some(PerSetting {
            inpatient: Tally::sub(&self.inpatient, &o.inpatient)?,
            outpatient: Tally::sub(&self.outpatient, &o.outpatient)?,
            chronic_outpatient: Tally::sub(&self.chronic_outpatient, &o.chronic_outpatient)?,
            pharmacy: Tally::sub(&self.pharmacy, &o.pharmacy)?,
        })
    }
}

impl Tally for PerPool {
    fn add(&mut self, o: &Self) {
        self.main.add(&o.main);
        self.outpatient.add(&o.outpatient);
        self.chronic.add(&o.chronic);
        self.pharmacy.add(&o.pharmacy);
    }
    fn sub(&self, o: &Self) -> Option<Self> {
        Some(PerPool {
            main: Tally::sub(&self.main, &o.main)?,
            outpatient: Tally::sub(&self.outpatient, &o.outpatient)?,
            chronic: Tally::sub(&self.chronic, &o.chronic)?,
            pharmacy: Tally::sub(&self.pharmacy, &o.pharmacy)?,
        })
    }
}

/// Declares [`Accumulators`] and [`AccumulatorDelta`] with the same fields,
/// so apply and revert can never forget one.
macro_rules! accumulators {
    ($( $(#[$doc:meta])* $field:ident : $ty:ty ),+ $(,)?) => {
        /// Year-to-date figures of one person for one scheme year (see
        /// [`Policy::scheme_year`]). Cheap to copy; storage keeps one row per
        /// person per scheme year and rebuilds it from deltas if needed.
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct Accumulators {
            $( $(#[$doc])* pub $field: $ty, )+
        }

        /// What one settlement adds to the [`Accumulators`]; every field is
        /// non-negative. Persisted with the settlement.
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct AccumulatorDelta {
            $( $(#[$doc])* pub $field: $ty, )+
        }

        impl Accumulators {
            /// Adds a settlement's delta.
            pub fn apply(&mut self, delta: &AccumulatorDelta) {
                $( Tally::add(&mut self.$field, &delta.$field); )+
            }

            /// Takes a settlement's delta back out (cancellation, 冲正): the
            /// exact inverse of [`Accumulators::apply`]. Refuses, changing
            /// nothing, if a figure would go negative.
            pub fn revert(&mut self, delta: &AccumulatorDelta) -> Parsed<()> {
                let mut out = *self;
                $(
                    out.$field = Tally::sub(&self.$field, &delta.$field).ok_or_else(|| {
                        FieldError::new(stringify!($field), "冲销金额超过年度累计")
                    })?;
                )+
                *self = out;
                Ok(())
            }
        }
    };
}

accumulators! {
    /// 起付线 paid, per setting.
    deductible_paid: PerSetting,
    /// 起付线 paid, all settings.
    deductible_paid_total: Money,
    /// In-scope amount that entered the band axis (after cross-region
    /// 先行自付 and account-first payments), per setting: the position of
    /// annual-cumulative bands.
    inscope_axis: PerSetting,
    /// Basic pooled fund paid, per cap pool (门诊统筹 and 门诊慢特病 usage).
    pool_paid: PerPool,
    /// Cumulative 大额 base (in-scope cost above the basic cap or ceiling).
    hifob_base: Money,
    hifob_paid: Money,
    /// Cumulative 大病 base (in-scope personal burden incl. the deductible).
    hifmi_base: Money,
    hifmi_paid: Money,
    /// Cumulative base reaching each 医疗救助 layer.
    maf_base: [Money; ASSISTANCE_LAYERS_MAX],
    maf_paid: [Money; ASSISTANCE_LAYERS_MAX],
    maf_paid_total: Money,
    cvlserv_paid: Money,
    /// Inpatient settlements counted.
    admissions: u32,
    /// 医疗费总额 of the year.
    medfee_total: Money,
}

fn fund_err(field: &str, reason: impl Into<String>) -> FieldError {
    FieldError::new(field, reason)
}

/// Per-line classification (step 1).
pub fn classify_line(index: usize, line: &FeeLine<'_>) -> Parsed<LineResult> {
    let at = |field: &str| format!("feedetail[{index}].{field}");
    let amount = line.amount;
    if amount.is_negative() {
        return Err(fund_err(&at("det_item_fee_sumamt"), "明细金额不能为负数"));
    }
    if amount.fen() > Money::INPUT_FEN_MAX {
        return Err(fund_err(&at("det_item_fee_sumamt"), "明细金额超出允许范围"));
    }
    if line.quantity.is_negative() {
        return Err(fund_err(&at("cnt"), "数量不能为负数"));
    }
    if line.unit_price.is_negative() {
        return Err(fund_err(&at("pric"), "单价不能为负数"));
    }
    let item = line.resolved;
    if !item.selfpay_prop.is_at_most_one() {
        return Err(fund_err(&at("selfpay_prop"), "先行自付比例应在0到100%之间"));
    }
    if let Some(cap) = item.price_cap
        && cap.is_negative()
    {
        return Err(fund_err(&at("price_cap"), "最高支付标准不能为负数"));
    }
    let chrgitm_lv = item.class;
    if item.fully_self_paid() {
        return Ok(LineResult {
            fulamt_ownpay_amt: amount,
            overlmt_amt: Money::ZERO,
            preselfpay_amt: Money::ZERO,
            inscp_scp_amt: Money::ZERO,
            selfpay_prop: Ratio::ONE,
            chrgitm_lv,
        });
    }
    // 超限价: (unit price − cap) × quantity, rounded half-up once, never more
    // than the line.
    let overlmt_amt = match item.price_cap {
        Some(cap) if line.unit_price > UnitPrice::from_money(cap) => {
            let excess =
                UnitPrice::from_micro_yuan(line.unit_price.micro_yuan() - UnitPrice::from_money(cap).micro_yuan());
            Money::price_times_quantity(excess, line.quantity)
                .ok_or_else(|| fund_err(&at("pric"), "超限价金额超出允许范围"))?
                .min(amount)
        }
        _ => Money::ZERO,
    };
    let rest = amount - overlmt_amt;
    let preselfpay_amt = rest.mul_ratio(item.selfpay_prop);
    Ok(LineResult {
        fulamt_ownpay_amt: Money::ZERO,
        overlmt_amt,
        preselfpay_amt,
        inscp_scp_amt: rest - preselfpay_amt,
        selfpay_prop: item.selfpay_prop,
        chrgitm_lv,
    })
}

/// The deductible still due for this visit (step 4), before limiting it to
/// the in-scope amount.
fn deductible_due(
    section: &Section,
    visit: &Visit,
    person: PersonKey,
    ytd: &Accumulators,
    setting: CareSetting,
) -> Money {
    let rule = &section.deductible;
    let standard = rule.amount.get(visit.hospital_tier);
    let mut due = standard;
    if rule.basis == DeductibleBasis::PerAdmission && visit.admission_no >= 2 && !rule.later_admissions.is_empty() {
        let step = (visit.admission_no as usize - 2).min(rule.later_admissions.len() - 1);
        let reduced = rule.later_admissions[step].apply(standard, visit.hospital_tier);
        // A floor limits reductions only; it never raises a deductible.
        let floor = rule.floor.map_or(Money::ZERO, |f| f.get(visit.hospital_tier)).min(standard);
        due = reduced.max(floor);
    }
    if let Some(group) = Policy::deductible_group(section, person) {
        due = group.adjust.apply(due, visit.hospital_tier);
    }
    let paid = ytd.deductible_paid.get(setting);
    if rule.basis == DeductibleBasis::Yearly {
        due = (due - paid).clamp_non_negative();
    }
    if let Some(cap) = rule.yearly_cap {
        due = due.min((cap - paid).clamp_non_negative());
    }
    due
}

/// `min(cap − used, ∞)`: what an annual cap still allows.
fn remaining(cap: Option<Money>, used: Money) -> Option<Money> {
    cap.map(|c| (c - used).clamp_non_negative())
}

fn limit(amount: Money, cap_remaining: Option<Money>) -> Money {
    cap_remaining.map_or(amount, |r| amount.min(r))
}

/// Appends formatted text without an intermediate `String` (explanations
/// are built on every settlement, so they should cost little).
fn write_text(text: &mut String, args: std::fmt::Arguments<'_>) {
    use std::fmt::Write;
    text.write_fmt(args).expect("writing to a String cannot fail");
}

/// One band's share of a segment, for explanations.
fn band_pieces(bands: &[Band], lo: Money, hi: Money, shift_ppm: i64) -> String {
    let mut text = String::new();
    for (i, band) in bands.iter().enumerate() {
        let band_lo = if i == 0 { i64::MIN } else { band.from.fen() };
        let band_hi = band.to.map_or(i64::MAX, Money::fen);
        let overlap_lo = lo.fen().max(band_lo);
        let overlap_hi = hi.fen().min(band_hi);
        if overlap_hi > overlap_lo {
            if !text.is_empty() {
                text.push_str(" + ");
            }
            let ratio = Ratio::from_ppm(crate::policy::shifted_ppm(band.ratio, shift_ppm));
            write_text(&mut text, format_args!("{}×{}", Money::from_fen(overlap_hi - overlap_lo), ratio));
        }
    }
    if text.is_empty() { "0.00".to_owned() } else { text }
}

/// Settles one visit. Pure and deterministic.
pub fn settle(input: &SettlementInput<'_>) -> Parsed<SettlementResult> {
    let policy: &Policy = input.policy;
    let person = input.person;
    let visit = input.visit;
    let ytd = input.ytd;
    let setting = visit.med_type.setting();

    if person.insutype != policy.insutype {
        return Err(fund_err("insutype", "人员险种与政策险种不一致"));
    }
    let category = person.psn_type.category();
    if !categories_of(policy.insutype).contains(&category) {
        return Err(fund_err("psn_type", "人员类别与险种不符"));
    }
    if !policy.in_force_on(visit.date) {
        return Err(fund_err("setl_time", "结算日期不在政策有效期内"));
    }
    if setting == CareSetting::Inpatient && visit.admission_no == 0 {
        return Err(fund_err("admission_no", "本年住院次数应从1开始"));
    }
    if input.account_balance.is_negative() || input.account_balance.fen() > Money::INPUT_FEN_MAX {
        return Err(fund_err("balc", "个人账户余额无效"));
    }
    if input.lines.len() > FEE_LINES_MAX {
        return Err(fund_err("feedetail", format!("费用明细不能超过{FEE_LINES_MAX}条")));
    }
    let key = PersonKey { category, assistance: person.assistance, age_years: person.age_years };

    // Step 1: lines.
    let mut lines = Vec::with_capacity(input.lines.len());
    let mut medfee = Money::ZERO;
    let mut fulamt = Money::ZERO;
    let mut overlmt = Money::ZERO;
    let mut line_preselfpay = Money::ZERO;
    let mut inscope_lines = Money::ZERO;
    for (i, line) in input.lines.iter().enumerate() {
        let r = classify_line(i, line)?;
        medfee += line.amount;
        if medfee.fen() > Money::INPUT_FEN_MAX {
            return Err(fund_err("medfee_sumamt", "医疗费总额超出允许范围"));
        }
        fulamt += r.fulamt_ownpay_amt;
        overlmt += r.overlmt_amt;
        line_preselfpay += r.preselfpay_amt;
        inscope_lines += r.inscp_scp_amt;
        lines.push(r);
    }

    // Step 2: cross-region extra 先行自付 and ratio reduction, from the
    // insured region's policy.
    let cross_terms = match (visit.cross_region, &policy.cross_region) {
        (Some(cr), Some(rule)) => Some(if cr.filed { rule.filed } else { rule.unfiled }),
        _ => None,
    };
    let cross_preselfpay = cross_terms.map_or(Money::ZERO, |t| inscope_lines.mul_ratio(t.preselfpay));
    let shift_ppm = -cross_terms.map_or(0, |t| i64::from(t.ratio_reduction.ppm()));
    let inscope = inscope_lines - cross_preselfpay;

    // Step 3: account first.
    let account_usable = person.has_account && visit.use_account && policy.account.settings.contains(&setting);
    let account_first = if account_usable && policy.account.order == AccountOrder::AccountFirst {
        input.account_balance.min(inscope)
    } else {
        Money::ZERO
    };
    let fund_base = inscope - account_first;

    let mut delta = AccumulatorDelta::default();
    let mut details: Vec<FundDetail> = Vec::with_capacity(6);

    // Steps 4–5: deductible and basic pooled fund.
    let pool_type =
        if policy.insutype == Insutype::EmployeeBasic { FundPayType::EmployeePool } else { FundPayType::ResidentPool };
    let mut deductible = Money::ZERO;
    let mut hifp = Money::ZERO;
    let mut eligible = Money::ZERO;
    let mut pool_ratio = Ratio::ZERO;
    let mut uncovered = Money::ZERO;
    if let Some(section) = policy.section(setting) {
        deductible = fund_base.min(deductible_due(section, visit, key, ytd, setting));
        eligible = fund_base - deductible;
        let axis_before = ytd.inscope_axis.get(setting);
        let (start, end) = match (section.band_scope, section.band_basis) {
            (BandScope::PerVisit, BandBasis::Absolute) => (deductible, fund_base),
            (BandScope::PerVisit, BandBasis::AboveDeductible) => (Money::ZERO, eligible),
            (BandScope::AnnualCumulative, BandBasis::Absolute) => (axis_before + deductible, axis_before + fund_base),
            (BandScope::AnnualCumulative, BandBasis::AboveDeductible) => {
                let above = (axis_before - ytd.deductible_paid.get(setting)).clamp_non_negative();
                (above, above + eligible)
            }
        };
        let pool = section.cap_pool;
        let cap_left = remaining(policy.cap(pool, category), ytd.pool_paid.get(pool));
        let mut info = format!("起付线 {deductible} 元；");
        match policy.ratio_row(section, visit.hospital_tier, key) {
            Some(row) => {
                let bands = &row.bands;
                let computed = match section.band_scope {
                    BandScope::PerVisit => bands.pay_segment(start, end, shift_ppm),
                    BandScope::AnnualCumulative => bands.pay_cumulative(Money::ZERO, start, end, shift_ppm),
                };
                hifp = limit(computed, cap_left);
                // Where the basic fund stopped paying: at the cap, or at the
                // end of its bands (base ceiling). 大额 starts there.
                let stop = if hifp < computed {
                    bands.position_paying(start, end, hifp, shift_ppm)
                } else {
                    bands.ceiling().map_or(end, |c| c.max(start).min(end))
                };
                uncovered = end - stop;
                let single = bands.single_ratio(start, end.max(start + Money::from_fen(1)), shift_ppm);
                pool_ratio = match single {
                    Some(r) => r,
                    None => Ratio::from_ppm(
                        u32::try_from(crate::money::round_half_up(
                            i128::from(hifp.fen()) * i128::from(Ratio::PPM_ONE),
                            i128::from(eligible.fen().max(1)),
                        ))
                        .expect("a share of at most one"),
                    ),
                };
                if section.band_scope == BandScope::AnnualCumulative {
                    write_text(&mut info, format_args!("年度累计区间 {start}–{end}："));
                }
                match single {
                    Some(r) if section.band_scope == BandScope::PerVisit => {
                        write_text(&mut info, format_args!("({fund_base}−{deductible})×{r} = {computed} 元"))
                    }
                    _ => write_text(
                        &mut info,
                        format_args!("{} = {computed} 元", band_pieces(bands.bands(), start, end, shift_ppm)),
                    ),
                }
                if shift_ppm != 0 {
                    write_text(
                        &mut info,
                        format_args!(
                            "（异地就医比例下调 {}）",
                            Ratio::from_ppm(u32::try_from(-shift_ppm).expect("share"))
                        ),
                    );
                }
                if hifp < computed {
                    write_text(
                        &mut info,
                        format_args!(
                            "；{}年度限额剩余 {} 元，本次支付 {hifp} 元",
                            pool.name(),
                            cap_left.unwrap_or_default()
                        ),
                    );
                }
            }
            None => info.push_str("无适用支付比例，统筹基金不支付"),
        }
        *delta.deductible_paid.get_mut(setting) += deductible;
        delta.deductible_paid_total += deductible;
        *delta.inscope_axis.get_mut(setting) += fund_base;
        *delta.pool_paid.get_mut(pool) += hifp;
        details.push(FundDetail {
            fund_pay_type: pool_type,
            inscp_scp_amt: fund_base,
            crt_payb_lmt_amt: cap_left,
            fund_payamt: hifp,
            setl_proc_info: info,
        });
    } else {
        details.push(FundDetail {
            fund_pay_type: pool_type,
            inscp_scp_amt: fund_base,
            crt_payb_lmt_amt: None,
            fund_payamt: Money::ZERO,
            setl_proc_info: format!("本政策不含{}统筹待遇，统筹基金不支付", setting_name(setting)),
        });
    }
    assert!(hifp + uncovered <= eligible, "basic fund and 大额 base exceed the eligible amount");

    // Step 6: 大额 above the basic cap or ceiling.
    let mut hifob = Money::ZERO;
    if let Some(large) = &policy.large_amount {
        let row = large.rows.iter().find(|r| r.categories.contains(&category));
        if let (true, Some(row)) = (large.settings.contains(&setting), row) {
            let before = ytd.hifob_base;
            let computed = row.bands.pay_cumulative(Money::ZERO, before, before + uncovered, 0);
            let cap_left = remaining(row.annual_cap, ytd.hifob_paid);
            hifob = limit(computed, cap_left).min(uncovered);
            delta.hifob_base += uncovered;
            delta.hifob_paid += hifob;
            details.push(FundDetail {
                fund_pay_type: FundPayType::LargeAmount,
                inscp_scp_amt: uncovered,
                crt_payb_lmt_amt: cap_left,
                fund_payamt: hifob,
                setl_proc_info: format!(
                    "统筹基金限额以上政策范围内费用 {uncovered} 元；年度累计 {before}–{}：{} = {computed} 元{}",
                    before + uncovered,
                    band_pieces(row.bands.bands(), before, before + uncovered, 0),
                    if hifob < computed {
                        format!("；年度限额剩余，本次支付 {hifob} 元")
                    } else {
                        String::new()
                    },
                ),
            });
        }
    }

    // What of the fund base nobody has paid yet: the in-scope personal
    // burden, deductible included. Later layers only ever pay from it.
    let burden = fund_base - hifp - hifob;

    // Step 7: 大病, band by band on the year's cumulative burden.
    let mut hifmi = Money::ZERO;
    if let Some(si) = policy.serious_illness.as_ref().filter(|s| s.settings.contains(&setting)) {
        let group = si.special_groups.iter().find(|g| person.assistance.is_some_and(|a| g.assistance.contains(&a)));
        let threshold = group.and_then(|g| g.threshold).unwrap_or(si.threshold);
        let bonus_ppm = group.map_or(0, |g| i64::from(g.ratio_bonus.ppm()));
        let cap = if group.is_some_and(|g| g.uncapped) { None } else { si.annual_cap };
        let before = ytd.hifmi_base;
        let after = before + burden;
        let computed = si.bands.pay_cumulative(threshold, before, after, bonus_ppm);
        let cap_left = remaining(cap, ytd.hifmi_paid);
        hifmi = limit(computed, cap_left).min(burden);
        delta.hifmi_base += burden;
        delta.hifmi_paid += hifmi;
        details.push(FundDetail {
            fund_pay_type: FundPayType::ResidentSeriousIllness,
            inscp_scp_amt: burden,
            crt_payb_lmt_amt: cap_left,
            fund_payamt: hifmi,
            setl_proc_info: format!(
                "年度累计政策范围内个人负担 {before} → {after} 元，起付线 {threshold} 元；本次新增：{} = {computed} 元{}",
                band_pieces(si.bands.bands(), before.max(threshold), after.max(threshold), bonus_ppm),
                if hifmi < computed { format!("；年度限额剩余，本次支付 {hifmi} 元") } else { String::new() },
            ),
        });
    }

    // Step 8: 医疗救助 layers, each on what the previous left.
    let mut maf = Money::ZERO;
    let after_hifmi = burden - hifmi;
    if let Some(assistance) = policy.assistance.as_ref().filter(|a| a.settings.contains(&setting)) {
        let scheme = person.assistance.and_then(|c| assistance.schemes.iter().find(|s| s.categories.contains(&c)));
        if let Some(scheme) = scheme {
            let mut total_left = remaining(assistance.annual_cap, ytd.maf_paid_total);
            let total_cap_before = total_left;
            let mut left = after_hifmi;
            let mut info = String::new();
            for (j, layer) in scheme.layers.iter().enumerate() {
                let before = ytd.maf_base[j];
                let flat = [Band { from: Money::ZERO, to: None, ratio: layer.ratio }];
                let computed =
                    crate::policy::Bands::pay_cumulative_slice(&flat, layer.threshold, before, before + left, 0);
                let layer_left = remaining(layer.annual_cap, ytd.maf_paid[j]);
                let pay = limit(limit(computed, layer_left), total_left).min(left);
                delta.maf_base[j] += left;
                delta.maf_paid[j] += pay;
                total_left = total_left.map(|t| t - pay);
                if !info.is_empty() {
                    info.push('；');
                }
                write_text(
                    &mut info,
                    format_args!(
                        "第{}层：基数 {left} 元（年度累计 {} 元，起付 {} 元）×{} = {pay} 元",
                        j + 1,
                        before + left,
                        layer.threshold,
                        layer.ratio
                    ),
                );
                left -= pay;
                maf += pay;
            }
            delta.maf_paid_total += maf;
            details.push(FundDetail {
                fund_pay_type: FundPayType::MedicalAssistance,
                inscp_scp_amt: after_hifmi,
                crt_payb_lmt_amt: total_cap_before,
                fund_payamt: maf,
                setl_proc_info: info,
            });
        }
    }

    // Step 9: 公务员医疗补助.
    let mut cvlserv = Money::ZERO;
    let after_maf = after_hifmi - maf;
    if let Some(cs) = policy.civil_servant.as_ref().filter(|c| person.civil_servant && c.settings.contains(&setting)) {
        let coinsurance = (eligible - hifp - hifob).clamp_non_negative();
        // One exact sum, rounded once.
        let exact = i128::from(coinsurance.fen()) * i128::from(cs.coinsurance_ratio.ppm())
            + i128::from(deductible.fen()) * i128::from(cs.deductible_ratio.ppm());
        let computed = Money::from_fen(round_to_fen(exact));
        let cap_left = remaining(cs.annual_cap, ytd.cvlserv_paid);
        cvlserv = limit(computed, cap_left).min(after_maf);
        delta.cvlserv_paid += cvlserv;
        details.push(FundDetail {
            fund_pay_type: FundPayType::CivilServant,
            inscp_scp_amt: after_maf,
            crt_payb_lmt_amt: cap_left,
            fund_payamt: cvlserv,
            setl_proc_info: format!(
                "共付段 {coinsurance}×{} + 起付线 {deductible}×{} = {computed} 元{}",
                cs.coinsurance_ratio,
                cs.deductible_ratio,
                if cvlserv < computed { format!("，本次支付 {cvlserv} 元") } else { String::new() },
            ),
        });
    }

    let fund_pay_sumamt = hifp + cvlserv + hifmi + hifob + maf;
    assert!(fund_pay_sumamt <= fund_base, "funds pay only in-scope cost");

    // Step 10: personal account after the funds, then cash.
    let preselfpay_amt = line_preselfpay + cross_preselfpay;
    let mut acct_pay = account_first;
    if account_usable {
        let mut coverable = fund_base - fund_pay_sumamt;
        if policy.account.covers_preselfpay {
            coverable += preselfpay_amt;
        }
        if policy.account.covers_fully_selfpaid {
            coverable += fulamt + overlmt;
        }
        acct_pay += (input.account_balance - account_first).min(coverable);
        if acct_pay.is_positive() {
            details.push(FundDetail {
                fund_pay_type: FundPayType::EmployeeAccount,
                inscp_scp_amt: coverable + account_first,
                crt_payb_lmt_amt: Some(input.account_balance),
                fund_payamt: acct_pay,
                setl_proc_info: format!(
                    "个人账户余额 {} 元，{}支付 {acct_pay} 元",
                    input.account_balance,
                    if account_first.is_positive() { "先于统筹" } else { "" }
                ),
            });
        }
    }
    let psn_part_amt = medfee - fund_pay_sumamt;
    let psn_cash_pay = psn_part_amt - acct_pay;
    let balc = input.account_balance - acct_pay;

    delta.admissions = u32::from(setting == CareSetting::Inpatient);
    delta.medfee_total = medfee;

    let result = SettlementResult {
        medfee_sumamt: medfee,
        fulamt_ownpay_amt: fulamt,
        overlmt_selfpay: overlmt,
        preselfpay_amt,
        inscp_scp_amt: inscope,
        act_pay_dedc: deductible,
        hifp_pay: hifp,
        pool_prop_selfpay: pool_ratio,
        cvlserv_pay: cvlserv,
        hifes_pay: Money::ZERO,
        hifmi_pay: hifmi,
        hifob_pay: hifob,
        maf_pay: maf,
        oth_pay: Money::ZERO,
        fund_pay_sumamt,
        psn_part_amt,
        acct_pay,
        psn_cash_pay,
        balc,
        setldetail: details,
        lines,
        delta,
    };
    result.assert_invariants();
    Ok(result)
}

impl SettlementResult {
    /// The identities every settlement satisfies; a violation is a bug, so
    /// it panics rather than paying a wrong amount.
    pub fn assert_invariants(&self) {
        let r = self;
        assert_eq!(r.medfee_sumamt, r.fulamt_ownpay_amt + r.overlmt_selfpay + r.preselfpay_amt + r.inscp_scp_amt);
        assert_eq!(r.medfee_sumamt, r.fund_pay_sumamt + r.psn_part_amt);
        assert_eq!(r.psn_part_amt, r.acct_pay + r.psn_cash_pay);
        assert_eq!(
            r.fund_pay_sumamt,
            r.hifp_pay + r.cvlserv_pay + r.hifes_pay + r.hifmi_pay + r.hifob_pay + r.maf_pay + r.oth_pay
        );
        for (name, m) in [
            ("fulamt_ownpay_amt", r.fulamt_ownpay_amt),
            ("overlmt_selfpay", r.overlmt_selfpay),
            ("preselfpay_amt", r.preselfpay_amt),
            ("inscp_scp_amt", r.inscp_scp_amt),
            ("act_pay_dedc", r.act_pay_dedc),
            ("hifp_pay", r.hifp_pay),
            ("cvlserv_pay", r.cvlserv_pay),
            ("hifmi_pay", r.hifmi_pay),
            ("hifob_pay", r.hifob_pay),
            ("maf_pay", r.maf_pay),
            ("acct_pay", r.acct_pay),
            ("psn_cash_pay", r.psn_cash_pay),
            ("balc", r.balc),
        ] {
            assert!(!m.is_negative(), "{name} is negative: {m:?}");
        }
        assert!(r.fund_pay_sumamt <= r.inscp_scp_amt, "funds exceed the in-scope amount");
        assert!(r.act_pay_dedc <= r.inscp_scp_amt, "deductible exceeds the in-scope amount");
        let line_total: Money =
            r.lines.iter().map(|l| l.fulamt_ownpay_amt + l.overlmt_amt + l.preselfpay_amt + l.inscp_scp_amt).sum();
        assert_eq!(line_total, r.medfee_sumamt, "line parts must sum to the total");
        assert!(r.delta.admissions <= 1);
    }
}

#[cfg(test)]
#[path = "settlement_tests.rs"]
mod tests;
