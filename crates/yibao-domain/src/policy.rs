//! 医保待遇政策 as data: one pooling region, one insurance type, one period.
//!
//! A [`Policy`] is read from TOML or JSON (see `docs/policy.md` for every
//! field), checked once by [`Policy::validate`], and then wrapped in a
//! [`ValidPolicy`], the only form the settlement engine accepts. Everything
//! the engine needs to know about a region's rules lives here; nothing about
//! a region is hard-coded in `settlement.rs`.
//!
//! Units: money is [`Money`] (written in TOML as yuan strings, "1300.00", or
//! integers of yuan), ratios are [`Ratio`] ("80%"). TOML floats are refused
//! by the primitives on purpose: a binary float is never an amount.
//!
//! Bounds: every list has a maximum (`*_MAX` below) so a policy can never make
//! a settlement do unbounded work; the numbers are far above any published
//! policy (Beijing's table, the largest, has 4 bands × 6 rows).
//!
//! Item classification (甲/乙/丙, 先行自付比例, 最高支付标准) is not here: it
//! comes from the catalog of the treating region, resolved per line by the
//! caller ("就医地目录、参保地政策").

use serde::{Deserialize, Serialize};

use crate::codes::{AssistanceCategory, CareSetting, HospitalTier, Insutype, PersonCategory};
use crate::date::Date;
use crate::error::{FieldError, Parsed};
use crate::money::{Money, Ratio, round_half_up};

/// At most this many bands in one band table.
pub const BANDS_MAX: usize = 8;
/// At most this many ratio rows in one benefit section.
pub const RATIO_ROWS_MAX: usize = 48;
/// At most this many reductions for later admissions (the last one repeats).
pub const LATER_ADMISSIONS_MAX: usize = 12;
/// At most this many deductible groups in one section.
pub const DEDUCTIBLE_GROUPS_MAX: usize = 16;
/// At most this many annual cap rules.
pub const CAP_RULES_MAX: usize = 16;
/// At most this many 大额 rows.
pub const LARGE_AMOUNT_ROWS_MAX: usize = 8;
/// At most this many 大病 special groups.
pub const SPECIAL_GROUPS_MAX: usize = 8;
/// At most this many 医疗救助 schemes.
pub const ASSISTANCE_SCHEMES_MAX: usize = 8;
/// At most this many chained layers in one 医疗救助 scheme; accumulators keep
/// one slot per layer, so this is also the size of those arrays.
pub const ASSISTANCE_LAYERS_MAX: usize = 4;
/// Longest policy name, in bytes.
pub const NAME_LEN_MAX: usize = 200;

/// The four care settings, in a fixed order used by per-setting arrays.
pub const SETTINGS: [CareSetting; 4] =
    [CareSetting::Inpatient, CareSetting::Outpatient, CareSetting::ChronicOutpatient, CareSetting::Pharmacy];

/// A position in [`SETTINGS`].
pub fn setting_index(setting: CareSetting) -> usize {
    match setting {
        CareSetting::Inpatient => 0,
        CareSetting::Outpatient => 1,
        CareSetting::ChronicOutpatient => 2,
        CareSetting::Pharmacy => 3,
    }
}

/// Chinese name of a care setting, for explanations.
pub fn setting_name(setting: CareSetting) -> &'static str {
    match setting {
        CareSetting::Inpatient => "住院",
        CareSetting::Outpatient => "门诊统筹",
        CareSetting::ChronicOutpatient => "门诊慢特病",
        CareSetting::Pharmacy => "药店购药",
    }
}

/// The pools an annual cap of the basic pooled fund (统筹基金年度最高支付限额)
/// can be counted in. Sections that share a pool share its cap (typically
/// inpatient and chronic outpatient share `main`; 门诊统筹 has its own yearly
/// limit). The set is fixed, not named freely, so year-to-date accumulators
/// stay meaningful when a new policy version takes over mid-year.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum CapPool {
    Main,
    Outpatient,
    Chronic,
    Pharmacy,
}

impl CapPool {
    pub const ALL: [CapPool; 4] = [CapPool::Main, CapPool::Outpatient, CapPool::Chronic, CapPool::Pharmacy];

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            CapPool::Main => "统筹基金",
            CapPool::Outpatient => "门诊统筹",
            CapPool::Chronic => "门诊慢特病",
            CapPool::Pharmacy => "药店购药",
        }
    }
}

/// One amount per hospital tier (一级/二级/三级).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierMoney {
    pub one: Money,
    pub two: Money,
    pub three: Money,
}

impl TierMoney {
    pub fn get(&self, tier: HospitalTier) -> Money {
        match tier {
            HospitalTier::One => self.one,
            HospitalTier::Two => self.two,
            HospitalTier::Three => self.three,
        }
    }

    fn validate(&self) -> Parsed<()> {
        for (name, amount) in [("one", self.one), ("two", self.two), ("three", self.three)] {
            if amount.is_negative() {
                return Err(FieldError::new(name, "金额不能为负数"));
            }
        }
        Ok(())
    }
}

/// A change to a deductible: a share of the standard amount, a fixed amount,
/// or fixed amounts by tier. Written `{ ratio = "50%" }`,
/// `{ amount = "650.00" }` or `{ amounts = { one = "300", two = "600", three = "1200" } }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Adjustment {
    Ratio(Ratio),
    Amount(Money),
    Amounts(TierMoney),
}

impl Adjustment {
    /// The adjusted amount; a share is rounded half-up to the fen.
    pub fn apply(self, standard: Money, tier: HospitalTier) -> Money {
        match self {
            Adjustment::Ratio(ratio) => standard.mul_ratio(ratio),
            Adjustment::Amount(amount) => amount,
            Adjustment::Amounts(amounts) => amounts.get(tier),
        }
    }

    fn validate(&self) -> Parsed<()> {
        match self {
            Adjustment::Ratio(r) if !r.is_at_most_one() => Err(FieldError::new("ratio", "比例应在0到100%之间")),
            Adjustment::Amount(m) if m.is_negative() => Err(FieldError::new("amount", "金额不能为负数")),
            Adjustment::Amounts(t) => t.validate().map_err(|e| e.within("amounts")),
            _ => Ok(()),
        }
    }
}

/// Whether a deductible is charged per admission or once per scheme year.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeductibleBasis {
    /// 每次住院 (Beijing, 东平, 重庆): each admission pays its own deductible.
    PerAdmission,
    /// 年度起付线 (宁波, outpatient pooling): paid once per scheme year; a later
    /// visit at a higher tier pays only the difference ("highest level used").
    Yearly,
}

/// A per-person-group change of the deductible (children halved, retired 65 %,
/// 特困 zero). All given criteria must match; the first matching group wins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeductibleGroup {
    #[serde(default)]
    pub categories: Vec<PersonCategory>,
    #[serde(default)]
    pub assistance: Vec<AssistanceCategory>,
    #[serde(default)]
    pub age_min: Option<u32>,
    #[serde(default)]
    pub age_max: Option<u32>,
    pub adjust: Adjustment,
}

/// 起付线 rules of one benefit section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deductible {
    pub basis: DeductibleBasis,
    /// Standard amount by hospital tier.
    pub amount: TierMoney,
    /// For `per_admission`: the deductible of the 2nd, 3rd, … admission of the
    /// year, as a share of the standard amount or a fixed amount; the last
    /// entry repeats for all later admissions. Empty: every admission pays the
    /// standard amount.
    #[serde(default)]
    pub later_admissions: Vec<Adjustment>,
    /// Lowest deductible a later-admission reduction may reach, by tier (重庆:
    /// 三级 620 / 二级 260 / 一级 100).
    #[serde(default)]
    pub floor: Option<TierMoney>,
    #[serde(default)]
    pub groups: Vec<DeductibleGroup>,
    /// Most deductible a person pays in this section per scheme year
    /// (a province capping at 2300; 徐州 1200).
    #[serde(default)]
    pub yearly_cap: Option<Money>,
}

/// One band of a banded ratio: positions `[from, to)` on the band axis pay
/// `ratio`. `to = None` only on the last band (open end).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Band {
    pub from: Money,
    #[serde(default)]
    pub to: Option<Money>,
    pub ratio: Ratio,
}

/// A band table (分段比例), used by the basic fund, 大额 and 大病 alike.
///
/// Positions below the first band's `from` are paid at the first band's
/// ratio: in an "absolute" table (Beijing: 1300–30 000 …) the first edge is
/// the nominal deductible, and a reduced 2nd-admission deductible of 650 must
/// not leave 650–1300 unpaid. Positions at or above the last band's `to` pay
/// nothing: that is how a base ceiling (基本统筹 computes only up to 10万) is
/// written. A flat ratio is one band from 0 with no `to`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Bands(pub Vec<Band>);

impl Bands {
    pub fn flat(ratio: Ratio) -> Bands {
        Bands(vec![Band { from: Money::ZERO, to: None, ratio }])
    }

    pub fn bands(&self) -> &[Band] {
        &self.0
    }

    /// End of the last band, if closed: no payment above it.
    pub fn ceiling(&self) -> Option<Money> {
        self.0.last().and_then(|b| b.to)
    }

    fn validate(&self, first_from_zero: bool) -> Parsed<()> {
        if self.0.is_empty() {
            return Err(FieldError::new("", "至少需要一个分段"));
        }
        if self.0.len() > BANDS_MAX {
            return Err(FieldError::new("", format!("分段不能超过{BANDS_MAX}个")));
        }
        for (i, band) in self.0.iter().enumerate() {
            let at = |field: &str| format!("[{i}].{field}");
            if band.from.is_negative() {
                return Err(FieldError::new(at("from"), "分段起点不能为负数"));
            }
            if i == 0 && first_from_zero && !band.from.is_zero() {
                return Err(FieldError::new(at("from"), "按起付线以上计算的分段须从0开始"));
            }
            if i > 0 && self.0[i - 1].to != Some(band.from) {
                return Err(FieldError::new(at("from"), "分段应首尾相接：起点须等于上一段的终点"));
            }
            match band.to {
                Some(to) if to <= band.from => return Err(FieldError::new(at("to"), "分段终点须大于起点")),
                None if i + 1 < self.0.len() => return Err(FieldError::new(at("to"), "只有最后一段可以不设终点")),
                _ => {}
            }
            if !band.ratio.is_at_most_one() {
                return Err(FieldError::new(at("ratio"), "比例应在0到100%之间"));
            }
        }
        Ok(())
    }

    /// The exact payout, in fen × millionths, of positions `[lo, hi)` with
    /// every ratio shifted by `shift_ppm` (clamped to 0–100 %). Nothing is
    /// rounded here: callers round once (see [`Bands::pay_segment`] and
    /// [`Bands::pay_cumulative`]).
    pub fn exact_fen_ppm(&self, lo: Money, hi: Money, shift_ppm: i64) -> i128 {
        exact_fen_ppm(&self.0, lo, hi, shift_ppm)
    }

    /// Payout of one segment `[lo, hi)`, rounded half-up once.
    pub fn pay_segment(&self, lo: Money, hi: Money, shift_ppm: i64) -> Money {
        Money::from_fen(round_to_fen(exact_fen_ppm(&self.0, lo, hi, shift_ppm)))
    }

    /// What a cumulative base moving from `before` to `after` newly earns,
    /// with nothing paid below `floor` (a yearly threshold):
    /// `pay(after) − pay(before)` where `pay(x)` is the payout of
    /// `[floor, x)` rounded half-up once. Because each settlement pays a
    /// difference of rounded cumulative figures, the payments of a year
    /// always sum to `pay(final)`: however the year's bills are split, not a
    /// fen is gained or lost.
    pub fn pay_cumulative(&self, floor: Money, before: Money, after: Money, shift_ppm: i64) -> Money {
        Bands::pay_cumulative_slice(&self.0, floor, before, after, shift_ppm)
    }

    /// [`Bands::pay_cumulative`] over a band slice (a one-band array on the
    /// stack serves a flat ratio without allocating).
    pub fn pay_cumulative_slice(bands: &[Band], floor: Money, before: Money, after: Money, shift_ppm: i64) -> Money {
        if after <= before {
            return Money::ZERO;
        }
        let pay = |x: Money| Money::from_fen(round_to_fen(exact_fen_ppm(bands, floor, x.max(floor), shift_ppm)));
        pay(after) - pay(before)
    }

    /// The first position `p` in `[lo, hi]` such that `[lo, p)` pays at least
    /// `target` (rounded up to the fen): where an annual cap runs out inside a
    /// segment. Positions above `p` were not paid by this fund.
    pub fn position_paying(&self, lo: Money, hi: Money, target: Money, shift_ppm: i64) -> Money {
        let target_fen_ppm = i128::from(target.fen()) * i128::from(Ratio::PPM_ONE);
        if target_fen_ppm <= 0 {
            return lo;
        }
        let mut paid: i128 = 0;
        for (i, band) in self.0.iter().enumerate() {
            let band_lo = if i == 0 { i64::MIN } else { band.from.fen() };
            let band_hi = band.to.map_or(i64::MAX, Money::fen);
            let overlap_lo = lo.fen().max(band_lo);
            let overlap_hi = hi.fen().min(band_hi);
            if overlap_hi <= overlap_lo {
                continue;
            }
            let ppm = i128::from(shifted_ppm(band.ratio, shift_ppm));
            let piece = i128::from(overlap_hi - overlap_lo) * ppm;
            if ppm > 0 && paid + piece >= target_fen_ppm {
                let needed = target_fen_ppm - paid;
                // Ceiling division: the position where the target is reached.
                let width = (needed + ppm - 1) / ppm;
                return Money::from_fen(overlap_lo + i64::try_from(width).expect("bounded by the segment"));
            }
            paid += piece;
        }
        hi
    }

    /// The ratio of the band holding all of `[lo, hi)`, if one band does.
    pub fn single_ratio(&self, lo: Money, hi: Money, shift_ppm: i64) -> Option<Ratio> {
        let mut found = None;
        for (i, band) in self.0.iter().enumerate() {
            let band_lo = if i == 0 { i64::MIN } else { band.from.fen() };
            let band_hi = band.to.map_or(i64::MAX, Money::fen);
            if lo.fen().max(band_lo) < hi.fen().min(band_hi) {
                if found.is_some() {
                    return None;
                }
                found = Some(Ratio::from_ppm(shifted_ppm(band.ratio, shift_ppm)));
            }
        }
        found
    }
}

/// See [`Bands::exact_fen_ppm`].
fn exact_fen_ppm(bands: &[Band], lo: Money, hi: Money, shift_ppm: i64) -> i128 {
    let (lo, hi) = (lo.fen(), hi.fen());
    if hi <= lo {
        return 0;
    }
    let mut total: i128 = 0;
    for (i, band) in bands.iter().enumerate() {
        // The first band reaches down to minus infinity (see the type doc).
        let band_lo = if i == 0 { i64::MIN } else { band.from.fen() };
        let band_hi = band.to.map_or(i64::MAX, Money::fen);
        let overlap_lo = lo.max(band_lo);
        let overlap_hi = hi.min(band_hi);
        if overlap_hi > overlap_lo {
            let ppm = shifted_ppm(band.ratio, shift_ppm);
            total += i128::from(overlap_hi - overlap_lo) * i128::from(ppm);
        }
    }
    total
}

/// `ratio + shift`, clamped to 0–100 %.
pub fn shifted_ppm(ratio: Ratio, shift_ppm: i64) -> u32 {
    let shifted = i64::from(ratio.ppm()) + shift_ppm;
    u32::try_from(shifted.clamp(0, i64::from(Ratio::PPM_ONE))).expect("clamped")
}

/// Rounds fen × millionths to the fen, half-up.
pub fn round_to_fen(fen_ppm: i128) -> i64 {
    i64::try_from(round_half_up(fen_ppm, i128::from(Ratio::PPM_ONE))).expect("money overflow: inputs are bounded")
}

/// One row of a ratio table: the bands that apply to the given tiers and
/// person categories (and, optionally, ages: Beijing 退休 ≥70, Shanghai ≤44).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatioRow {
    pub tiers: Vec<HospitalTier>,
    pub categories: Vec<PersonCategory>,
    #[serde(default)]
    pub age_min: Option<u32>,
    #[serde(default)]
    pub age_max: Option<u32>,
    pub bands: Bands,
}

/// How band edges of the basic fund are read.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BandBasis {
    /// Edges are positions on the in-scope amount *including* the deductible
    /// (Beijing: 1300–30 000, 30 000–40 000 …).
    Absolute,
    /// Edges are widths measured above the deductible (the first band starts
    /// at 0 = the deductible).
    #[default]
    AboveDeductible,
}

/// Over what the band axis accumulates.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BandScope {
    /// Each settlement starts at 0 (Beijing, 烟台: per admission).
    #[default]
    PerVisit,
    /// The axis continues through the scheme year (宁波 职工 住院).
    AnnualCumulative,
}

/// The basic pooled fund's rules for one care setting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub deductible: Deductible,
    #[serde(default)]
    pub band_basis: BandBasis,
    #[serde(default)]
    pub band_scope: BandScope,
    pub ratios: Vec<RatioRow>,
    /// The annual cap pool this section's fund payments count in.
    pub cap_pool: CapPool,
}

/// An annual cap of the basic pooled fund for one pool (and optionally only
/// for some person categories: 东平 门诊 在职 4500 / 退休 5500).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapRule {
    pub pool: CapPool,
    #[serde(default)]
    pub categories: Vec<PersonCategory>,
    pub amount: Money,
}

/// 大额医疗费用补助 (hifob, employees): pays in-scope cost the basic fund did
/// not pay because its annual cap ran out or its bands ended (the base
/// ceiling), by person category.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LargeAmount {
    pub settings: Vec<CareSetting>,
    pub rows: Vec<LargeAmountRow>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LargeAmountRow {
    pub categories: Vec<PersonCategory>,
    /// Bands on the year's cumulative 大额 base (in-scope cost above the
    /// basic fund's cap or ceiling), from 0.
    pub bands: Bands,
    /// Most 大额 pays per scheme year.
    #[serde(default)]
    pub annual_cap: Option<Money>,
}

/// 大病保险 (hifmi).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriousIllness {
    /// Which settings' personal burden counts (typically inpatient and chronic).
    pub settings: Vec<CareSetting>,
    /// Yearly threshold (起付线): deducted once per scheme year.
    pub threshold: Money,
    /// Bands on the year's cumulative in-scope personal burden (including
    /// the deductible), absolute positions: `(1万, 5万] 60 %` is a band from
    /// 10000 to 50000. The first band reaches down to the threshold.
    pub bands: Bands,
    #[serde(default)]
    pub annual_cap: Option<Money>,
    #[serde(default)]
    pub special_groups: Vec<SpecialGroup>,
}

/// 大病 tilt for special groups (特困/低保/返贫致贫): lower threshold, ratio
/// points added to every band, cap removed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecialGroup {
    pub assistance: Vec<AssistanceCategory>,
    #[serde(default)]
    pub threshold: Option<Money>,
    #[serde(default)]
    pub ratio_bonus: Ratio,
    #[serde(default)]
    pub uncapped: bool,
}

/// 医疗救助 (maf).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assistance {
    pub settings: Vec<CareSetting>,
    /// Most 救助 pays per person per scheme year, all layers together (宿迁 10万).
    #[serde(default)]
    pub annual_cap: Option<Money>,
    pub schemes: Vec<AssistanceScheme>,
}

/// The layers for some assistance categories, applied in order, each to
/// what the previous ones left.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssistanceScheme {
    pub categories: Vec<AssistanceCategory>,
    pub layers: Vec<AssistanceLayer>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssistanceLayer {
    /// Yearly threshold on this layer's cumulative base.
    #[serde(default)]
    pub threshold: Money,
    pub ratio: Ratio,
    #[serde(default)]
    pub annual_cap: Option<Money>,
}

/// 公务员医疗补助 (cvlserv).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CivilServantSubsidy {
    pub settings: Vec<CareSetting>,
    /// Share of the in-scope coinsurance (what is left above the deductible
    /// after the basic fund and 大额).
    pub coinsurance_ratio: Ratio,
    /// Share of the deductible paid this time.
    #[serde(default)]
    pub deductible_ratio: Ratio,
    #[serde(default)]
    pub annual_cap: Option<Money>,
}

/// When the personal account pays.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountOrder {
    /// After every fund, from what is left for the person.
    #[default]
    AfterFunds,
    /// Shanghai: the account pays the in-scope cost first; only what it
    /// cannot pay enters the deductible and the fund.
    AccountFirst,
}

/// 个人账户 rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountRule {
    #[serde(default)]
    pub order: AccountOrder,
    /// Where the account may be used (宁波 门诊特殊病种: not at all).
    #[serde(default = "all_settings")]
    pub settings: Vec<CareSetting>,
    /// May pay 先行自付 (乙类 and cross-region).
    #[serde(default)]
    pub covers_preselfpay: bool,
    /// May pay 全自费 and 超限价 amounts.
    #[serde(default)]
    pub covers_fully_selfpaid: bool,
}

impl Default for AccountRule {
    fn default() -> AccountRule {
        AccountRule {
            order: AccountOrder::AfterFunds,
            settings: all_settings(),
            covers_preselfpay: false,
            covers_fully_selfpaid: false,
        }
    }
}

fn all_settings() -> Vec<CareSetting> {
    SETTINGS.to_vec()
}

fn default_year_start_month() -> u8 {
    1
}

/// 异地就医 terms of the insured region.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrossRegionRule {
    /// 已备案 (转诊/长期居住).
    pub filed: CrossRegionTerms,
    /// 未备案.
    pub unfiled: CrossRegionTerms,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrossRegionTerms {
    /// Extra 先行自付 share of the in-scope amount, before the deductible.
    #[serde(default)]
    pub preselfpay: Ratio,
    /// Percentage points taken off every basic-fund ratio.
    #[serde(default)]
    pub ratio_reduction: Ratio,
}

/// One region's policy for one insurance type and period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// 6-digit 医保区划 of the pooling region.
    pub region: String,
    /// 310 职工 or 390 居民.
    pub insutype: Insutype,
    pub name: String,
    pub begin_date: Date,
    /// Last day in force, inclusive; `None` while current.
    #[serde(default)]
    pub end_date: Option<Date>,
    /// First month of the scheme year (医保年度): 1 for the calendar year,
    /// 7 for Shanghai's July–June year.
    #[serde(default = "default_year_start_month")]
    pub year_start_month: u8,
    #[serde(default)]
    pub caps: Vec<CapRule>,
    #[serde(default)]
    pub inpatient: Option<Section>,
    #[serde(default)]
    pub outpatient: Option<Section>,
    #[serde(default)]
    pub chronic_outpatient: Option<Section>,
    #[serde(default)]
    pub pharmacy: Option<Section>,
    #[serde(default)]
    pub large_amount: Option<LargeAmount>,
    #[serde(default)]
    pub serious_illness: Option<SeriousIllness>,
    #[serde(default)]
    pub assistance: Option<Assistance>,
    #[serde(default)]
    pub civil_servant: Option<CivilServantSubsidy>,
    #[serde(default)]
    pub account: AccountRule,
    #[serde(default)]
    pub cross_region: Option<CrossRegionRule>,
}

/// True when two policies would both be in force on some day for the same
/// region and insurance type. The caller (policy storage) refuses such a pair.
pub fn periods_overlap(a: &Policy, b: &Policy) -> bool {
    if a.region != b.region || a.insutype != b.insutype {
        return false;
    }
    let a_before_b = a.end_date.is_some_and(|end| end < b.begin_date);
    let b_before_a = b.end_date.is_some_and(|end| end < a.begin_date);
    !a_before_b && !b_before_a
}

fn person_matches(
    categories: &[PersonCategory],
    assistance: &[AssistanceCategory],
    age_min: Option<u32>,
    age_max: Option<u32>,
    person: PersonKey,
) -> bool {
    (categories.is_empty() || categories.contains(&person.category))
        && (assistance.is_empty() || person.assistance.is_some_and(|a| assistance.contains(&a)))
        && age_min.is_none_or(|min| person.age_years >= min)
        && age_max.is_none_or(|max| person.age_years <= max)
}

/// What policy lookups need to know about a person.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PersonKey {
    pub category: PersonCategory,
    pub assistance: Option<AssistanceCategory>,
    pub age_years: u32,
}

impl Policy {
    pub fn from_toml_str(text: &str) -> Parsed<Policy> {
        toml::from_str(text).map_err(|e| FieldError::new("policy", format!("政策文件格式错误：{}", e.message())))
    }

    pub fn from_json_str(text: &str) -> Parsed<Policy> {
        serde_json::from_str(text).map_err(|e| FieldError::new("policy", format!("政策文件格式错误：{e}")))
    }

    pub fn in_force_on(&self, date: Date) -> bool {
        self.begin_date <= date && self.end_date.is_none_or(|end| date <= end)
    }

    /// The scheme year a date falls in, named by the calendar year it starts
    /// in: with `year_start_month = 7`, 2026-03-01 is in scheme year 2025.
    pub fn scheme_year(&self, date: Date) -> i32 {
        if date.month() >= self.year_start_month { date.year() } else { date.year() - 1 }
    }

    pub fn section(&self, setting: CareSetting) -> Option<&Section> {
        match setting {
            CareSetting::Inpatient => self.inpatient.as_ref(),
            CareSetting::Outpatient => self.outpatient.as_ref(),
            CareSetting::ChronicOutpatient => self.chronic_outpatient.as_ref(),
            CareSetting::Pharmacy => self.pharmacy.as_ref(),
        }
    }

    /// The annual cap of a pool for a person category, if any.
    pub fn cap(&self, pool: CapPool, category: PersonCategory) -> Option<Money> {
        self.caps
            .iter()
            .find(|c| c.pool == pool && (c.categories.is_empty() || c.categories.contains(&category)))
            .map(|c| c.amount)
    }

    /// Checks every rule a policy must satisfy; the error names the field path.
    pub fn validate(&self) -> Parsed<()> {
        if self.region.len() != 6 || !self.region.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FieldError::new("region", "统筹区划应为6位数字"));
        }
        if !matches!(self.insutype, Insutype::EmployeeBasic | Insutype::ResidentBasic) {
            return Err(FieldError::new("insutype", "险种类型应为310（职工）或390（居民）"));
        }
        if self.name.trim().is_empty() || self.name.len() > NAME_LEN_MAX {
            return Err(FieldError::new("name", format!("政策名称不能为空且不超过{NAME_LEN_MAX}字节")));
        }
        if let Some(end) = self.end_date
            && end < self.begin_date
        {
            return Err(FieldError::new("end_date", "结束日期早于开始日期"));
        }
        if !(1..=12).contains(&self.year_start_month) {
            return Err(FieldError::new("year_start_month", "医保年度起始月份应在1到12之间"));
        }
        if self.caps.len() > CAP_RULES_MAX {
            return Err(FieldError::new("caps", format!("限额规则不能超过{CAP_RULES_MAX}条")));
        }
        for (i, cap) in self.caps.iter().enumerate() {
            if cap.amount.is_negative() {
                return Err(FieldError::new(format!("caps[{i}].amount"), "限额不能为负数"));
            }
        }
        if self.inpatient.is_none() {
            return Err(FieldError::new("inpatient", "基本医疗保险政策必须包含住院待遇"));
        }
        for setting in SETTINGS {
            if let Some(section) = self.section(setting) {
                let name = section_field(setting);
                self.validate_section(setting, section).map_err(|e| e.within(name))?;
            }
        }
        if let Some(large) = &self.large_amount {
            if self.insutype != Insutype::EmployeeBasic {
                return Err(FieldError::new("large_amount", "大额医疗费用补助只适用于职工医保"));
            }
            validate_large_amount(large).map_err(|e| e.within("large_amount"))?;
        }
        if let Some(si) = &self.serious_illness {
            validate_serious_illness(si).map_err(|e| e.within("serious_illness"))?;
        }
        if let Some(assistance) = &self.assistance {
            validate_assistance(assistance).map_err(|e| e.within("assistance"))?;
        }
        if let Some(cs) = &self.civil_servant {
            if self.insutype != Insutype::EmployeeBasic {
                return Err(FieldError::new("civil_servant", "公务员医疗补助只适用于职工医保"));
            }
            validate_settings(&cs.settings).map_err(|e| e.within("civil_servant"))?;
            share(cs.coinsurance_ratio, "civil_servant.coinsurance_ratio")?;
            share(cs.deductible_ratio, "civil_servant.deductible_ratio")?;
            non_negative_opt(cs.annual_cap, "civil_servant.annual_cap")?;
        }
        validate_settings(&self.account.settings).map_err(|e| e.within("account"))?;
        if let Some(cr) = &self.cross_region {
            for (name, terms) in [("filed", cr.filed), ("unfiled", cr.unfiled)] {
                share(terms.preselfpay, &format!("cross_region.{name}.preselfpay"))?;
                share(terms.ratio_reduction, &format!("cross_region.{name}.ratio_reduction"))?;
            }
        }
        Ok(())
    }

    fn validate_section(&self, setting: CareSetting, section: &Section) -> Parsed<()> {
        let d = &section.deductible;
        d.amount.validate().map_err(|e| e.within("deductible.amount"))?;
        if d.basis == DeductibleBasis::PerAdmission && setting != CareSetting::Inpatient {
            return Err(FieldError::new("deductible.basis", "按次起付线只适用于住院"));
        }
        if d.basis == DeductibleBasis::Yearly && (!d.later_admissions.is_empty() || d.floor.is_some()) {
            return Err(FieldError::new("deductible.later_admissions", "年度起付线不能按住院次数递减"));
        }
        if d.later_admissions.len() > LATER_ADMISSIONS_MAX {
            return Err(FieldError::new(
                "deductible.later_admissions",
                format!("住院次数递减规则不能超过{LATER_ADMISSIONS_MAX}条"),
            ));
        }
        for (i, adj) in d.later_admissions.iter().enumerate() {
            adj.validate().map_err(|e| e.within(&format!("deductible.later_admissions[{i}]")))?;
        }
        if let Some(floor) = &d.floor {
            floor.validate().map_err(|e| e.within("deductible.floor"))?;
        }
        if d.groups.len() > DEDUCTIBLE_GROUPS_MAX {
            return Err(FieldError::new(
                "deductible.groups",
                format!("起付线人群规则不能超过{DEDUCTIBLE_GROUPS_MAX}条"),
            ));
        }
        for (i, g) in d.groups.iter().enumerate() {
            let at = format!("deductible.groups[{i}]");
            if g.categories.is_empty() && g.assistance.is_empty() && g.age_min.is_none() && g.age_max.is_none() {
                return Err(FieldError::new(format!("{at}.categories"), "人群规则至少需要一个条件"));
            }
            ages(g.age_min, g.age_max).map_err(|e| e.within(&at))?;
            g.adjust.validate().map_err(|e| e.within(&format!("{at}.adjust")))?;
        }
        non_negative_opt(d.yearly_cap, "deductible.yearly_cap")?;
        if section.ratios.is_empty() || section.ratios.len() > RATIO_ROWS_MAX {
            return Err(FieldError::new("ratios", format!("支付比例表应有1到{RATIO_ROWS_MAX}行")));
        }
        let first_from_zero = section.band_basis == BandBasis::AboveDeductible;
        for (i, row) in section.ratios.iter().enumerate() {
            let at = format!("ratios[{i}]");
            if row.tiers.is_empty() {
                return Err(FieldError::new(format!("{at}.tiers"), "至少需要一个医院级别"));
            }
            if row.categories.is_empty() {
                return Err(FieldError::new(format!("{at}.categories"), "至少需要一个人员类别"));
            }
            ages(row.age_min, row.age_max).map_err(|e| e.within(&at))?;
            row.bands.validate(first_from_zero).map_err(|e| e.within(&format!("{at}.bands")))?;
        }
        // Every tier × category of the insurance type must find a row, so a
        // typo can never silently pay 0 %: "not covered" is an explicit 0 % row.
        for tier in [HospitalTier::One, HospitalTier::Two, HospitalTier::Three] {
            for &category in categories_of(self.insutype) {
                let covered =
                    section.ratios.iter().any(|r| r.tiers.contains(&tier) && r.categories.contains(&category));
                if !covered {
                    return Err(FieldError::new(
                        "ratios",
                        format!("支付比例表缺少{}医院“{}”人员的比例", tier.name(), category_name(category)),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The ratio row for a tier and person; `None` only with age-limited rows
    /// that leave a gap (then the fund pays nothing).
    pub fn ratio_row<'a>(&self, section: &'a Section, tier: HospitalTier, person: PersonKey) -> Option<&'a RatioRow> {
        section
            .ratios
            .iter()
            .find(|r| r.tiers.contains(&tier) && person_matches(&r.categories, &[], r.age_min, r.age_max, person))
    }

    /// The deductible group adjustment for a person, if any.
    pub fn deductible_group(section: &Section, person: PersonKey) -> Option<&DeductibleGroup> {
        section
            .deductible
            .groups
            .iter()
            .find(|g| person_matches(&g.categories, &g.assistance, g.age_min, g.age_max, person))
    }
}

fn section_field(setting: CareSetting) -> &'static str {
    match setting {
        CareSetting::Inpatient => "inpatient",
        CareSetting::Outpatient => "outpatient",
        CareSetting::ChronicOutpatient => "chronic_outpatient",
        CareSetting::Pharmacy => "pharmacy",
    }
}

/// The person categories an insurance type enrols.
pub fn categories_of(insutype: Insutype) -> &'static [PersonCategory] {
    if insutype == Insutype::EmployeeBasic {
        &[PersonCategory::Active, PersonCategory::Retired, PersonCategory::RetiredCadre]
    } else {
        &[PersonCategory::ResidentAdult, PersonCategory::ResidentMinor]
    }
}

pub fn category_name(category: PersonCategory) -> &'static str {
    match category {
        PersonCategory::Active => "在职",
        PersonCategory::Retired => "退休",
        PersonCategory::RetiredCadre => "离休",
        PersonCategory::ResidentAdult => "成年居民",
        PersonCategory::ResidentMinor => "未成年居民",
    }
}

fn share(ratio: Ratio, field: &str) -> Parsed<()> {
    if ratio.is_at_most_one() { Ok(()) } else { Err(FieldError::new(field, "比例应在0到100%之间")) }
}

fn non_negative_opt(amount: Option<Money>, field: &str) -> Parsed<()> {
    match amount {
        Some(m) if m.is_negative() => Err(FieldError::new(field, "金额不能为负数")),
        _ => Ok(()),
    }
}

fn ages(min: Option<u32>, max: Option<u32>) -> Parsed<()> {
    match (min, max) {
        (Some(min), Some(max)) if max < min => Err(FieldError::new("age_max", "年龄上限小于下限")),
        _ => Ok(()),
    }
}

fn validate_settings(settings: &[CareSetting]) -> Parsed<()> {
    if settings.is_empty() {
        return Err(FieldError::new("settings", "至少需要一个适用的就医类别"));
    }
    for (i, s) in settings.iter().enumerate() {
        if settings[..i].contains(s) {
            return Err(FieldError::new(format!("settings[{i}]"), "就医类别重复"));
        }
    }
    Ok(())
}

fn validate_large_amount(large: &LargeAmount) -> Parsed<()> {
    validate_settings(&large.settings)?;
    if large.rows.is_empty() || large.rows.len() > LARGE_AMOUNT_ROWS_MAX {
        return Err(FieldError::new("rows", format!("大额补助比例表应有1到{LARGE_AMOUNT_ROWS_MAX}行")));
    }
    for (i, row) in large.rows.iter().enumerate() {
        let at = format!("rows[{i}]");
        if row.categories.is_empty() {
            return Err(FieldError::new(format!("{at}.categories"), "至少需要一个人员类别"));
        }
        row.bands.validate(true).map_err(|e| e.within(&format!("{at}.bands")))?;
        non_negative_opt(row.annual_cap, &format!("{at}.annual_cap"))?;
    }
    Ok(())
}

fn validate_serious_illness(si: &SeriousIllness) -> Parsed<()> {
    validate_settings(&si.settings)?;
    if si.threshold.is_negative() {
        return Err(FieldError::new("threshold", "起付线不能为负数"));
    }
    si.bands.validate(false).map_err(|e| e.within("bands"))?;
    non_negative_opt(si.annual_cap, "annual_cap")?;
    if si.special_groups.len() > SPECIAL_GROUPS_MAX {
        return Err(FieldError::new("special_groups", format!("特殊人群规则不能超过{SPECIAL_GROUPS_MAX}条")));
    }
    for (i, g) in si.special_groups.iter().enumerate() {
        let at = format!("special_groups[{i}]");
        if g.assistance.is_empty() {
            return Err(FieldError::new(format!("{at}.assistance"), "至少需要一个救助类别"));
        }
        non_negative_opt(g.threshold, &format!("{at}.threshold"))?;
        share(g.ratio_bonus, &format!("{at}.ratio_bonus"))?;
    }
    Ok(())
}

fn validate_assistance(a: &Assistance) -> Parsed<()> {
    validate_settings(&a.settings)?;
    non_negative_opt(a.annual_cap, "annual_cap")?;
    if a.schemes.is_empty() || a.schemes.len() > ASSISTANCE_SCHEMES_MAX {
        return Err(FieldError::new("schemes", format!("救助方案应有1到{ASSISTANCE_SCHEMES_MAX}个")));
    }
    for (i, scheme) in a.schemes.iter().enumerate() {
        let at = format!("schemes[{i}]");
        if scheme.categories.is_empty() {
            return Err(FieldError::new(format!("{at}.categories"), "至少需要一个救助类别"));
        }
        for c in &scheme.categories {
            if a.schemes[..i].iter().any(|s| s.categories.contains(c)) {
                return Err(FieldError::new(
                    format!("{at}.categories"),
                    format!("救助类别“{}”已在前面的方案中出现", c.name()),
                ));
            }
        }
        if scheme.layers.is_empty() || scheme.layers.len() > ASSISTANCE_LAYERS_MAX {
            return Err(FieldError::new(format!("{at}.layers"), format!("救助层级应有1到{ASSISTANCE_LAYERS_MAX}层")));
        }
        for (j, layer) in scheme.layers.iter().enumerate() {
            let at = format!("{at}.layers[{j}]");
            if layer.threshold.is_negative() {
                return Err(FieldError::new(format!("{at}.threshold"), "起付线不能为负数"));
            }
            share(layer.ratio, &format!("{at}.ratio"))?;
            non_negative_opt(layer.annual_cap, &format!("{at}.annual_cap"))?;
        }
    }
    Ok(())
}

/// A policy that passed [`Policy::validate`]: the settlement engine relies on
/// every rule checked there (shares ≤ 100 %, bands contiguous, a ratio row
/// for every tier × category, bounded lists).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ValidPolicy(Policy);

impl ValidPolicy {
    pub fn new(policy: Policy) -> Parsed<ValidPolicy> {
        policy.validate()?;
        Ok(ValidPolicy(policy))
    }

    pub fn from_toml_str(text: &str) -> Parsed<ValidPolicy> {
        ValidPolicy::new(Policy::from_toml_str(text)?)
    }

    pub fn from_json_str(text: &str) -> Parsed<ValidPolicy> {
        ValidPolicy::new(Policy::from_json_str(text)?)
    }

    pub fn policy(&self) -> &Policy {
        &self.0
    }

    pub fn into_inner(self) -> Policy {
        self.0
    }
}

impl std::ops::Deref for ValidPolicy {
    type Target = Policy;
    fn deref(&self) -> &Policy {
        &self.0
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
