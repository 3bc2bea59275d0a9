//! 缴费政策 as data, and the assessment (核定) of contributions.
//!
//! A [`ContributionPolicy`] belongs to one pooling region and one insurance
//! type (310 职工 or 390 居民) from an effective date; storage keeps every
//! version. It holds what the region publishes each year: the contribution
//! base bounds (缴费基数上下限, as amounts or as shares of a stated average
//! wage), employer and personal rates, what goes to personal accounts, the
//! residents' yearly amounts by category with the government subsidy, the
//! share of 资助参保 paid by 医疗救助, and the benefit rules (waiting period,
//! grace period, arrears limit) that [`crate::enrollment::coverage`] applies.
//!
//! Rounding: every share is `base × rate` rounded half-up to the fen by
//! [`Money::mul_ratio`]; the account part of a personal share is rounded the
//! same way and the pooled part is the difference, so parts always sum to the
//! whole. Base bounds given as ratios of the average wage are rounded the
//! same way.

use serde::{Deserialize, Serialize};

use crate::codes::{AssistanceCategory, Insutype, PsnType};
use crate::date::Date;
use crate::error::{FieldError, Parsed};
use crate::money::{Money, Ratio};

/// Longest policy name, in bytes.
pub const NAME_LEN_MAX: usize = 200;
/// At most this many assistance rows.
pub const ASSISTANCE_ROWS_MAX: usize = 16;
/// Longest waiting or grace period accepted, in months.
pub const PERIOD_MONTHS_MAX: u32 = 24;

/// A bound of the contribution base: a fixed monthly amount, or a share of
/// the stated average monthly wage. Written `{ amount = "4462.00" }` or
/// `{ ratio = "60%" }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum BaseBound {
    Amount(Money),
    Ratio(Ratio),
}

/// 待遇享受 rules: when contributions give benefits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenefitRules {
    /// 新参保等待期: months a new enrollee waits when the first contribution
    /// is paid after the period it covers has begun (e.g. a resident who
    /// enrolls outside the 集中参保期). 0: no waiting.
    pub new_enrollee_waiting_months: u32,
    /// 断保后固定等待期: months to wait after paying again once the arrears
    /// passed the limit (the enrollment had lapsed).
    pub lapse_waiting_months: u32,
    /// 变动等待期: extra months per full year of lapse.
    #[serde(default)]
    pub extra_waiting_months_per_lapsed_year: u32,
    /// The longest waiting period, whatever the lapse.
    pub waiting_months_max: u32,
    /// 宽限期: months after the last paid period during which benefits go on.
    pub grace_months: u32,
    /// 欠费上限: beyond this many unpaid months the enrollment is suspended
    /// (暂停); a payment after that starts a waiting period. Between the
    /// grace period and the limit, benefits pause and a payment (补缴)
    /// restores them retroactively.
    pub arrears_limit_months: u32,
}

impl BenefitRules {
    fn validate(&self) -> Parsed<()> {
        for (name, v) in [
            ("new_enrollee_waiting_months", self.new_enrollee_waiting_months),
            ("lapse_waiting_months", self.lapse_waiting_months),
            ("extra_waiting_months_per_lapsed_year", self.extra_waiting_months_per_lapsed_year),
            ("waiting_months_max", self.waiting_months_max),
            ("grace_months", self.grace_months),
            ("arrears_limit_months", self.arrears_limit_months),
        ] {
            if v > PERIOD_MONTHS_MAX {
                return Err(FieldError::new(name, format!("不能超过{PERIOD_MONTHS_MAX}个月")));
            }
        }
        if self.arrears_limit_months < self.grace_months {
            return Err(FieldError::new("arrears_limit_months", "欠费上限不能短于宽限期"));
        }
        if self.waiting_months_max < self.lapse_waiting_months.max(self.new_enrollee_waiting_months) {
            return Err(FieldError::new("waiting_months_max", "最长等待期不能短于固定等待期"));
        }
        Ok(())
    }
}

/// 职工医保: base bounds and rates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmployeeRules {
    /// 社会平均工资 (monthly), when the bounds are shares of it.
    #[serde(default)]
    pub average_monthly_wage: Option<Money>,
    pub base_floor: BaseBound,
    pub base_ceiling: BaseBound,
    /// 单位缴费费率.
    pub employer_rate: Ratio,
    /// 个人缴费费率.
    pub personal_rate: Ratio,
    /// 灵活就业人员缴费费率 (the whole contribution is personal).
    pub flexible_rate: Ratio,
    /// Share of the personal contribution credited to the person's account
    /// (在职职工个人缴费全部计入个人账户: 100%).
    pub personal_to_account: Ratio,
    /// For flexible workers: share of the base credited to the account.
    pub flexible_to_account_rate: Ratio,
    /// Fixed monthly amount credited to each retiree's account from the
    /// pooled fund (退休人员定额划入).
    pub retiree_monthly_credit: Money,
}

/// A resident category's yearly amounts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResidentAmount {
    /// 个人缴费 per person and year.
    pub personal: Money,
    /// 财政补助 per person and year (recorded with the bill, not paid by the person).
    pub subsidy: Money,
}

/// The four resident categories a region prices.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResidentCategory {
    Adult,
    Child,
    Student,
    Elderly,
}

impl ResidentCategory {
    pub fn name(self) -> &'static str {
        match self {
            ResidentCategory::Adult => "成年居民",
            ResidentCategory::Child => "未成年人",
            ResidentCategory::Student => "大学生",
            ResidentCategory::Elderly => "老年居民",
        }
    }
}

/// 资助参保: the share of the personal contribution 医疗救助 pays for a group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssistanceRow {
    pub categories: Vec<AssistanceCategory>,
    pub share: Ratio,
}

/// 城乡居民医保: yearly amounts by category.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResidentRules {
    /// Age from which an adult is priced as elderly (`elderly`).
    pub elderly_age: u32,
    pub adult: ResidentAmount,
    pub child: ResidentAmount,
    pub student: ResidentAmount,
    pub elderly: ResidentAmount,
    #[serde(default)]
    pub assistance: Vec<AssistanceRow>,
    /// 集中参保期: the month the next year's collection opens (e.g. 9 for
    /// September–December); informative, the waiting rule reads payment dates.
    #[serde(default)]
    pub collection_opens_month: Option<u8>,
}

impl ResidentRules {
    pub fn amount(&self, category: ResidentCategory) -> ResidentAmount {
        match category {
            ResidentCategory::Adult => self.adult,
            ResidentCategory::Child => self.child,
            ResidentCategory::Student => self.student,
            ResidentCategory::Elderly => self.elderly,
        }
    }

    /// The category of a resident of `psn_type` aged `age` on the first day
    /// of the scheme year.
    pub fn category(&self, psn_type: PsnType, age: i32) -> ResidentCategory {
        match psn_type {
            PsnType::CollegeStudent => ResidentCategory::Student,
            PsnType::Newborn
            | PsnType::Preschool
            | PsnType::PupilStudent
            | PsnType::MinorNotEnrolled
            | PsnType::LocalMinorExt => ResidentCategory::Child,
            _ if age >= self.elderly_age as i32 => ResidentCategory::Elderly,
            _ if age < 18 => ResidentCategory::Child,
            _ => ResidentCategory::Adult,
        }
    }

    pub fn assistance_share(&self, category: Option<AssistanceCategory>) -> Ratio {
        category
            .and_then(|c| self.assistance.iter().find(|r| r.categories.contains(&c)))
            .map_or(Ratio::ZERO, |r| r.share)
    }
}

/// One region's contribution policy for one insurance type, from a date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContributionPolicy {
    pub region: String,
    pub insutype: Insutype,
    pub name: String,
    pub begin_date: Date,
    /// First month of the scheme year (1: calendar year).
    #[serde(default = "default_start_month")]
    pub scheme_year_start_month: u8,
    pub benefit: BenefitRules,
    #[serde(default)]
    pub employee: Option<EmployeeRules>,
    #[serde(default)]
    pub resident: Option<ResidentRules>,
}

fn default_start_month() -> u8 {
    1
}

/// Base bounds resolved to amounts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct BaseBounds {
    pub floor: Money,
    pub ceiling: Money,
}

/// The monthly contribution of one employee or flexible worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Default)]
pub struct MonthlyAssessment {
    pub base: Money,
    pub employer_share: Money,
    pub personal_share: Money,
    /// Part of the contribution credited to the personal account.
    pub to_account: Money,
}

/// The yearly contribution of one resident.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct YearlyAssessment {
    pub category: ResidentCategory,
    /// The whole personal amount (个人缴费标准).
    pub personal_share: Money,
    /// Of which paid by 医疗救助.
    pub assistance_paid: Money,
    pub government_subsidy: Money,
}

impl YearlyAssessment {
    /// What the person (or household) pays.
    pub fn payer_due(&self) -> Money {
        self.personal_share - self.assistance_paid
    }
}

impl ContributionPolicy {
    pub fn from_toml_str(text: &str) -> Parsed<ContributionPolicy> {
        toml::from_str(text).map_err(|e| FieldError::new("policy", format!("缴费政策格式错误：{}", e.message())))
    }

    pub fn from_json_str(text: &str) -> Parsed<ContributionPolicy> {
        serde_json::from_str(text).map_err(|e| FieldError::new("policy", format!("缴费政策格式错误：{e}")))
    }

    /// The scheme year a date falls in, named by the calendar year it starts in.
    pub fn scheme_year(&self, date: Date) -> i32 {
        if date.month() >= self.scheme_year_start_month { date.year() } else { date.year() - 1 }
    }

    /// Checks every rule; the error names the field path.
    pub fn validate(&self) -> Parsed<()> {
        if self.region.len() != 6 || !self.region.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FieldError::new("region", "统筹区划应为6位数字"));
        }
        if self.name.trim().is_empty() || self.name.len() > NAME_LEN_MAX {
            return Err(FieldError::new("name", format!("政策名称不能为空且不超过{NAME_LEN_MAX}字节")));
        }
        if !(1..=12).contains(&self.scheme_year_start_month) {
            return Err(FieldError::new("scheme_year_start_month", "医保年度起始月份应在1到12之间"));
        }
        self.benefit.validate().map_err(|e| e.within("benefit"))?;
        match self.insutype {
            Insutype::EmployeeBasic => {
                let e = self
                    .employee
                    .as_ref()
                    .ok_or_else(|| FieldError::new("employee", "职工医保缴费政策缺少 employee 部分"))?;
                if self.resident.is_some() {
                    return Err(FieldError::new("resident", "职工医保缴费政策不应有 resident 部分"));
                }
                e.validate().map_err(|err| err.within("employee"))
            }
            Insutype::ResidentBasic => {
                let r = self
                    .resident
                    .as_ref()
                    .ok_or_else(|| FieldError::new("resident", "居民医保缴费政策缺少 resident 部分"))?;
                if self.employee.is_some() {
                    return Err(FieldError::new("employee", "居民医保缴费政策不应有 employee 部分"));
                }
                r.validate().map_err(|err| err.within("resident"))
            }
            _ => Err(FieldError::new("insutype", "险种类型应为310（职工）或390（居民）")),
        }
    }

    /// The employee rules (validated policies of 310 have them).
    pub fn employee(&self) -> Parsed<&EmployeeRules> {
        self.employee.as_ref().ok_or_else(|| FieldError::new("insutype", "该缴费政策不是职工医保政策"))
    }

    pub fn resident(&self) -> Parsed<&ResidentRules> {
        self.resident.as_ref().ok_or_else(|| FieldError::new("insutype", "该缴费政策不是居民医保政策"))
    }
}

impl EmployeeRules {
    fn validate(&self) -> Parsed<()> {
        for (name, r) in [
            ("employer_rate", self.employer_rate),
            ("personal_rate", self.personal_rate),
            ("flexible_rate", self.flexible_rate),
            ("personal_to_account", self.personal_to_account),
            ("flexible_to_account_rate", self.flexible_to_account_rate),
        ] {
            if !r.is_at_most_one() {
                return Err(FieldError::new(name, "比例应在0到100%之间"));
            }
        }
        if self.flexible_to_account_rate > self.flexible_rate {
            return Err(FieldError::new("flexible_to_account_rate", "划入账户比例不能高于灵活就业缴费费率"));
        }
        if self.retiree_monthly_credit.is_negative() {
            return Err(FieldError::new("retiree_monthly_credit", "金额不能为负数"));
        }
        if let Some(w) = self.average_monthly_wage
            && !w.is_positive()
        {
            return Err(FieldError::new("average_monthly_wage", "平均工资应大于0"));
        }
        for (name, b) in [("base_floor", self.base_floor), ("base_ceiling", self.base_ceiling)] {
            match b {
                BaseBound::Amount(m) if !m.is_positive() => return Err(FieldError::new(name, "金额应大于0")),
                BaseBound::Ratio(_) if self.average_monthly_wage.is_none() => {
                    return Err(FieldError::new(name, "按平均工资比例设定上下限时须填写 average_monthly_wage"));
                }
                _ => {}
            }
        }
        let b = self.bounds();
        if b.floor > b.ceiling {
            return Err(FieldError::new("base_ceiling", "缴费基数上限低于下限"));
        }
        Ok(())
    }

    /// The base bounds as amounts; ratio bounds are `average × ratio`
    /// rounded half-up to the fen.
    pub fn bounds(&self) -> BaseBounds {
        let resolve = |b: BaseBound| match b {
            BaseBound::Amount(m) => m,
            BaseBound::Ratio(r) => self.average_monthly_wage.unwrap_or(Money::ZERO).mul_ratio(r),
        };
        BaseBounds { floor: resolve(self.base_floor), ceiling: resolve(self.base_ceiling) }
    }

    /// Checks a declared base against the bounds.
    pub fn check_base(&self, base: Money) -> Parsed<()> {
        let b = self.bounds();
        if base < b.floor || base > b.ceiling {
            return Err(FieldError::new(
                "base",
                format!("缴费基数 {base} 元超出本统筹区上下限（{} 至 {} 元）", b.floor, b.ceiling),
            ));
        }
        Ok(())
    }

    /// An employee's month: employer and personal shares of the base, and
    /// the personal share's account part.
    pub fn employee_month(&self, base: Money) -> MonthlyAssessment {
        let personal_share = base.mul_ratio(self.personal_rate);
        MonthlyAssessment {
            base,
            employer_share: base.mul_ratio(self.employer_rate),
            personal_share,
            to_account: personal_share.mul_ratio(self.personal_to_account),
        }
    }

    /// A flexible worker's month: all personal.
    pub fn flexible_month(&self, base: Money) -> MonthlyAssessment {
        MonthlyAssessment {
            base,
            employer_share: Money::ZERO,
            personal_share: base.mul_ratio(self.flexible_rate),
            to_account: base.mul_ratio(self.flexible_to_account_rate),
        }
    }
}

impl ResidentRules {
    fn validate(&self) -> Parsed<()> {
        if !(40..=100).contains(&self.elderly_age) {
            return Err(FieldError::new("elderly_age", "老年居民起始年龄应在40到100之间"));
        }
        for (name, a) in
            [("adult", self.adult), ("child", self.child), ("student", self.student), ("elderly", self.elderly)]
        {
            if a.personal.is_negative() {
                return Err(FieldError::new(format!("{name}.personal"), "金额不能为负数"));
            }
            if a.subsidy.is_negative() {
                return Err(FieldError::new(format!("{name}.subsidy"), "金额不能为负数"));
            }
        }
        if self.assistance.len() > ASSISTANCE_ROWS_MAX {
            return Err(FieldError::new("assistance", format!("资助参保规则不能超过{ASSISTANCE_ROWS_MAX}条")));
        }
        for (i, row) in self.assistance.iter().enumerate() {
            if !row.share.is_at_most_one() {
                return Err(FieldError::new(format!("assistance[{i}].share"), "比例应在0到100%之间"));
            }
            if row.categories.is_empty() {
                return Err(FieldError::new(format!("assistance[{i}].categories"), "至少填写一个救助类别"));
            }
        }
        if let Some(m) = self.collection_opens_month
            && !(1..=12).contains(&m)
        {
            return Err(FieldError::new("collection_opens_month", "月份应在1到12之间"));
        }
        Ok(())
    }

    /// A resident's year: the personal amount, the part 医疗救助 pays
    /// (`personal × share`, rounded half-up), and the subsidy.
    pub fn resident_year(
        &self,
        category: ResidentCategory,
        assistance: Option<AssistanceCategory>,
    ) -> YearlyAssessment {
        let amount = self.amount(category);
        YearlyAssessment {
            category,
            personal_share: amount.personal,
            assistance_paid: amount.personal.mul_ratio(self.assistance_share(assistance)),
            government_subsidy: amount.subsidy,
        }
    }
}

/// A contribution period: a month `yyyy-MM` (employees) or a year `yyyy`
/// (residents), with its first and last day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Period {
    Month { year: i32, month: u8 },
    Year(i32),
}

impl Period {
    pub fn parse(text: &str) -> Parsed<Period> {
        let t = text.trim();
        let bad = || FieldError::new("period", format!("缴费期“{t}”无效，应为 yyyy-MM（按月）或 yyyy（按年）"));
        match t.len() {
            4 => t.parse::<i32>().ok().filter(|y| (1990..=2200).contains(y)).map(Period::Year).ok_or_else(bad),
            7 if t.as_bytes()[4] == b'-' => {
                let year = t[..4].parse::<i32>().map_err(|_| bad())?;
                let month = t[5..].parse::<u8>().map_err(|_| bad())?;
                if !(1990..=2200).contains(&year) || !(1..=12).contains(&month) {
                    return Err(bad());
                }
                Ok(Period::Month { year, month })
            }
            _ => Err(bad()),
        }
    }

    pub fn month_of(date: Date) -> Period {
        Period::Month { year: date.year(), month: date.month() }
    }

    pub fn first_day(self) -> Date {
        match self {
            Period::Month { year, month } => Date::from_ymd(year, month, 1).expect("valid month"),
            Period::Year(y) => Date::from_ymd(y, 1, 1).expect("valid year"),
        }
    }

    pub fn last_day(self) -> Date {
        match self {
            Period::Month { .. } => self.first_day().add_months(1).add_days(-1),
            Period::Year(y) => Date::from_ymd(y, 12, 31).expect("valid year"),
        }
    }

    pub fn is_month(self) -> bool {
        matches!(self, Period::Month { .. })
    }
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Period::Month { year, month } => write!(f, "{year:04}-{month:02}"),
            Period::Year(y) => write!(f, "{y:04}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) const NINGBO_310: &str = include_str!("../../../policies/ningbo-contribution-310.toml");
    pub(crate) const NINGBO_390: &str = include_str!("../../../policies/ningbo-contribution-390.toml");

    #[test]
    fn example_policies_validate() {
        for text in [NINGBO_310, NINGBO_390] {
            let p = ContributionPolicy::from_toml_str(text).unwrap();
            p.validate().unwrap();
            assert_eq!(p.region, "330200");
        }
    }

    fn employee() -> EmployeeRules {
        ContributionPolicy::from_toml_str(NINGBO_310).unwrap().employee.unwrap()
    }

    #[test]
    fn bounds_from_average_wage() {
        let mut e = employee();
        e.average_monthly_wage = Some(Money::from_yuan(8000));
        e.base_floor = BaseBound::Ratio(Ratio::percent(60));
        e.base_ceiling = BaseBound::Ratio(Ratio::percent(300));
        assert_eq!(e.bounds(), BaseBounds { floor: Money::from_yuan(4800), ceiling: Money::from_yuan(24000) });
        assert!(e.check_base(Money::from_yuan(4800)).is_ok());
        let err = e.check_base(Money::from_fen(479_999)).unwrap_err();
        assert_eq!(err.field, "base");
        assert!(err.reason.contains("4800.00"), "{}", err.reason);
        assert!(e.check_base(Money::from_fen(2_400_001)).is_err());
    }

    #[test]
    fn employee_month_rounds_each_share_half_up() {
        let mut e = employee();
        e.employer_rate = Ratio::basis_points(750);
        e.personal_rate = Ratio::percent(2);
        e.personal_to_account = Ratio::ONE;
        // 6543.21 × 7.5 % = 490.74075 → 490.74; × 2 % = 130.8642 → 130.86.
        let m = e.employee_month(Money::from_fen(654_321));
        assert_eq!(m.employer_share, Money::from_fen(49_074));
        assert_eq!(m.personal_share, Money::from_fen(13_086));
        assert_eq!(m.to_account, m.personal_share);
    }

    #[test]
    fn residents_by_category_with_assistance() {
        let p = ContributionPolicy::from_toml_str(NINGBO_390).unwrap();
        let r = p.resident.unwrap();
        assert_eq!(r.category(PsnType::ResidentAdult, 30), ResidentCategory::Adult);
        assert_eq!(r.category(PsnType::ResidentAdult, 75), ResidentCategory::Elderly);
        assert_eq!(r.category(PsnType::PupilStudent, 10), ResidentCategory::Child);
        assert_eq!(r.category(PsnType::CollegeStudent, 20), ResidentCategory::Student);
        let y = r.resident_year(ResidentCategory::Adult, Some(AssistanceCategory::Destitute));
        assert_eq!(y.assistance_paid, y.personal_share, "特困 fully paid by 医疗救助");
        assert_eq!(y.payer_due(), Money::ZERO);
        let y = r.resident_year(ResidentCategory::Adult, None);
        assert_eq!(y.assistance_paid, Money::ZERO);
        assert!(y.government_subsidy.is_positive());
    }

    #[test]
    fn validation_names_fields() {
        let mut p = ContributionPolicy::from_toml_str(NINGBO_310).unwrap();
        p.benefit.arrears_limit_months = 0;
        assert_eq!(p.validate().unwrap_err().field, "benefit.arrears_limit_months");
        let mut p = ContributionPolicy::from_toml_str(NINGBO_310).unwrap();
        p.employee.as_mut().unwrap().employer_rate = Ratio::percent(120);
        assert_eq!(p.validate().unwrap_err().field, "employee.employer_rate");
        let mut p = ContributionPolicy::from_toml_str(NINGBO_310).unwrap();
        p.employee.as_mut().unwrap().base_floor = BaseBound::Amount(Money::from_yuan(90_000));
        assert_eq!(p.validate().unwrap_err().field, "employee.base_ceiling");
        let mut p = ContributionPolicy::from_toml_str(NINGBO_390).unwrap();
        p.resident.as_mut().unwrap().adult.personal = Money::from_fen(-1);
        assert_eq!(p.validate().unwrap_err().field, "resident.adult.personal");
        assert!(ContributionPolicy::from_toml_str("region = 1").is_err());
    }

    #[test]
    fn periods() {
        let p = Period::parse("2026-02").unwrap();
        assert_eq!(p.first_day().to_string(), "2026-02-01");
        assert_eq!(p.last_day().to_string(), "2026-02-28");
        assert_eq!(p.to_string(), "2026-02");
        assert_eq!(Period::parse("2026").unwrap().last_day().to_string(), "2026-12-31");
        for bad in ["2026-13", "26-01", "2026/01", "", "x"] {
            assert_eq!(Period::parse(bad).unwrap_err().field, "period");
        }
    }

    proptest! {
        #[test]
        fn shares_are_exact_parts(fen in 100_000i64..10_000_000, er in 0u32..=200_000, pr in 0u32..=100_000, acct in 0u32..=1_000_000) {
            let mut e = employee();
            e.employer_rate = Ratio::from_ppm(er);
            e.personal_rate = Ratio::from_ppm(pr);
            e.personal_to_account = Ratio::from_ppm(acct);
            let m = e.employee_month(Money::from_fen(fen));
            prop_assert!(m.to_account <= m.personal_share);
            prop_assert!(!m.to_account.is_negative());
            // Each share is within half a fen of the exact product.
            let exact2 = 2 * i128::from(fen) * i128::from(er);
            let got2 = 2 * i128::from(m.employer_share.fen()) * 1_000_000;
            prop_assert!((exact2 - got2).abs() <= 1_000_000);
        }
    }
}

/// What a bill is for.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BillKind {
    /// 单位月度核定
    EmployerMonth,
    /// 灵活就业人员月度核定
    FlexibleMonth,
    /// 城乡居民年度核定 (a household or one person)
    ResidentYear,
}

impl BillKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BillKind::EmployerMonth => "employer_month",
            BillKind::FlexibleMonth => "flexible_month",
            BillKind::ResidentYear => "resident_year",
        }
    }

    pub fn parse(text: &str) -> Parsed<BillKind> {
        match text {
            "employer_month" => Ok(BillKind::EmployerMonth),
            "flexible_month" => Ok(BillKind::FlexibleMonth),
            "resident_year" => Ok(BillKind::ResidentYear),
            _ => Err(FieldError::new("kind", format!("账单类型“{text}”无效"))),
        }
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BillStatus {
    Unpaid,
    Paid,
    Cancelled,
}

impl BillStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BillStatus::Unpaid => "unpaid",
            BillStatus::Paid => "paid",
            BillStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Parsed<BillStatus> {
        match text {
            "unpaid" => Ok(BillStatus::Unpaid),
            "paid" => Ok(BillStatus::Paid),
            "cancelled" => Ok(BillStatus::Cancelled),
            _ => Err(FieldError::new("status", format!("账单状态“{text}”无效"))),
        }
    }
}

/// One insured person's part of a bill.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BillLine {
    pub psn_no: String,
    pub enrollment_id: i64,
    /// `employee`, `flexible`, or the resident category.
    pub category: String,
    pub base: Money,
    pub employer_share: Money,
    pub personal_share: Money,
    pub government_subsidy: Money,
    pub assistance_paid: Money,
    pub to_account: Money,
}

/// A contribution bill (缴费单). Totals are the sums of the lines; the payer
/// owes `amount_due` = employer + personal − assistance.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Bill {
    pub bill_id: String,
    pub kind: BillKind,
    pub insu_admdvs: crate::division::DivisionCode,
    pub insutype: Insutype,
    /// `yyyy-MM` or `yyyy`.
    pub period: String,
    pub emp_no: Option<String>,
    pub psn_no: Option<String>,
    pub hh_no: Option<String>,
    pub employer_share: Money,
    pub personal_share: Money,
    pub government_subsidy: Money,
    pub assistance_paid: Money,
    pub to_accounts: Money,
    pub amount_due: Money,
    pub status: BillStatus,
    pub paid_date: Option<Date>,
    pub paid_order_no: Option<String>,
    pub lines: Vec<BillLine>,
}

impl Bill {
    /// Sums the lines into the bill's totals.
    pub fn total_lines(&mut self) {
        let sum = |f: fn(&BillLine) -> Money| self.lines.iter().map(f).sum::<Money>();
        self.employer_share = sum(|l| l.employer_share);
        self.personal_share = sum(|l| l.personal_share);
        self.government_subsidy = sum(|l| l.government_subsidy);
        self.assistance_paid = sum(|l| l.assistance_paid);
        self.to_accounts = sum(|l| l.to_account);
        self.amount_due = self.employer_share + self.personal_share - self.assistance_paid;
    }
}
