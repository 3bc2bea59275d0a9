//! 参保登记: insured persons and their periods of insurance.
//!
//! A person is identified nationally by a certificate (almost always the
//! resident ID) and locally by a person number (`psn_no`) the platform
//! assigns. An enrollment is one period of insurance under one scheme
//! (insutype) in one pooling region; a person has at most one active basic
//! enrollment (职工 or 居民) at a time.

use serde::{Deserialize, Serialize};

use crate::codes::{AssistanceCategory, Gend, Insutype, PsnCertType, PsnInsuStas, PsnType};
use crate::contribution::BenefitRules;
use crate::date::Date;
use crate::division::DivisionCode;
use crate::error::{FieldError, Parsed};
use crate::resident_id::ResidentId;

/// Longest name accepted (minority names in transliteration can be long).
pub const NAME_CHARS_MAX: usize = 50;

/// Validates a person's name: 1–50 characters, letters (any script), the
/// middle dot of transliterated names, and spaces inside.
pub fn parse_name(text: &str) -> Parsed<String> {
    let t = text.trim();
    let n = t.chars().count();
    if n == 0 {
        return Err(FieldError::new("psn_name", "姓名不能为空"));
    }
    if n > NAME_CHARS_MAX {
        return Err(FieldError::new("psn_name", format!("姓名不能超过{NAME_CHARS_MAX}个字符")));
    }
    if !t.chars().all(|c| c.is_alphabetic() || matches!(c, '·' | '•' | ' ' | '.')) {
        return Err(FieldError::new("psn_name", "姓名含有无效字符"));
    }
    Ok(t.to_owned())
}

/// A certificate: type and number, parsed together so that an ID card
/// number is always a valid resident ID.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Certificate {
    pub psn_cert_type: PsnCertType,
    pub certno: String,
}

impl Certificate {
    pub fn parse(cert_type: PsnCertType, number: &str) -> Parsed<Certificate> {
        let n = number.trim();
        let certno = match cert_type {
            PsnCertType::ResidentIdCard | PsnCertType::HkMoTwResidence => ResidentId::parse(n)?.as_str().to_owned(),
            _ => {
                if n.is_empty() || n.len() > 50 || !n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                    return Err(FieldError::new("certno", "证件号码应为1至50位字母或数字"));
                }
                n.to_owned()
            }
        };
        Ok(Certificate { psn_cert_type: cert_type, certno })
    }

    pub fn resident_id(&self) -> Option<ResidentId> {
        match self.psn_cert_type {
            PsnCertType::ResidentIdCard | PsnCertType::HkMoTwResidence => ResidentId::parse(&self.certno).ok(),
            _ => None,
        }
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Person {
    pub psn_no: String,
    pub certificate: Certificate,
    pub name: String,
    pub gend: Gend,
    pub brdy: Date,
    /// 民族 (GB 3304 two-digit code, "01" 汉族).
    pub naty: String,
    /// Division of residence.
    pub admdvs: DivisionCode,
    pub tel: String,
    pub address: String,
    pub death_date: Option<Date>,
}

impl Person {
    pub fn age_on(&self, date: Date) -> i32 {
        self.brdy.years_until(date)
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnrollmentStatus {
    /// 参保缴费
    Active,
    /// 暂停 (arrears beyond the limit; resumes on payment)
    Suspended,
    /// 终止 / 停保 (left, transferred out, died)
    Stopped,
}

impl EnrollmentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EnrollmentStatus::Active => "active",
            EnrollmentStatus::Suspended => "suspended",
            EnrollmentStatus::Stopped => "stopped",
        }
    }

    pub fn parse(text: &str) -> Parsed<EnrollmentStatus> {
        match text {
            "active" => Ok(EnrollmentStatus::Active),
            "suspended" => Ok(EnrollmentStatus::Suspended),
            "stopped" => Ok(EnrollmentStatus::Stopped),
            _ => Err(FieldError::new("status", format!("参保状态“{text}”无效"))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            EnrollmentStatus::Active => "参保缴费",
            EnrollmentStatus::Suspended => "暂停参保",
            EnrollmentStatus::Stopped => "终止参保",
        }
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Enrollment {
    pub id: i64,
    pub psn_no: String,
    pub insutype: Insutype,
    pub psn_type: PsnType,
    /// The pooling region the person is insured in.
    pub insu_admdvs: DivisionCode,
    pub begin_date: Date,
    /// Last day insured, inclusive; `None` while open.
    pub end_date: Option<Date>,
    pub status: EnrollmentStatus,
    /// 公务员医疗补助 eligible.
    pub cvlserv_flag: bool,
    pub assistance_category: Option<AssistanceCategory>,
}

impl Enrollment {
    /// Whether the period (ignoring payment status) includes `date`.
    pub fn spans(&self, date: Date) -> bool {
        self.begin_date <= date && self.end_date.is_none_or(|e| date <= e)
    }
}

/// Why an enrollment ended (停保原因).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// 离职减员 (the employer reported the person leaving)
    LeftEmployer,
    /// 转出 (transferred to another region)
    TransferredOut,
    /// 死亡
    Death,
    /// 参加其他险种 (e.g. from 居民 to 职工)
    SchemeChange,
    /// 出国定居等其他原因
    Other,
}

impl StopReason {
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::LeftEmployer => "left_employer",
            StopReason::TransferredOut => "transferred_out",
            StopReason::Death => "death",
            StopReason::SchemeChange => "scheme_change",
            StopReason::Other => "other",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            StopReason::LeftEmployer => "离职减员",
            StopReason::TransferredOut => "转出",
            StopReason::Death => "死亡",
            StopReason::SchemeChange => "变更险种",
            StopReason::Other => "其他",
        }
    }

    pub fn parse(text: &str) -> Parsed<StopReason> {
        [
            StopReason::LeftEmployer,
            StopReason::TransferredOut,
            StopReason::Death,
            StopReason::SchemeChange,
            StopReason::Other,
        ]
        .into_iter()
        .find(|r| r.as_str() == text)
        .ok_or_else(|| {
            FieldError::new(
                "reason",
                format!("停保原因“{text}”无效，应为 left_employer、transferred_out、death、scheme_change 或 other"),
            )
        })
    }
}

/// A family relation, for households and 家庭共济 authorizations.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    /// 户主
    Head,
    /// 配偶
    Spouse,
    /// 子女
    Child,
    /// 父母
    Parent,
    /// 其他家庭成员
    Other,
}

impl Relation {
    pub fn as_str(self) -> &'static str {
        match self {
            Relation::Head => "head",
            Relation::Spouse => "spouse",
            Relation::Child => "child",
            Relation::Parent => "parent",
            Relation::Other => "other",
        }
    }

    pub fn parse(text: &str) -> Parsed<Relation> {
        match text {
            "head" => Ok(Relation::Head),
            "spouse" => Ok(Relation::Spouse),
            "child" => Ok(Relation::Child),
            "parent" => Ok(Relation::Parent),
            "other" => Ok(Relation::Other),
            _ => {
                Err(FieldError::new("relation", format!("关系“{text}”无效，应为 head、spouse、child、parent 或 other")))
            }
        }
    }

    /// 家庭共济 may be authorized for spouses, parents and children only.
    pub fn may_share_account(self) -> bool {
        matches!(self, Relation::Spouse | Relation::Child | Relation::Parent)
    }
}

/// Checks a household's members: exactly one head (户主), no one twice.
pub fn check_household(relations: &[(String, Relation)]) -> Parsed<()> {
    let heads = relations.iter().filter(|(_, r)| *r == Relation::Head).count();
    if heads == 0 {
        return Err(FieldError::new("members", "家庭必须有一名户主（relation = head）"));
    }
    if heads > 1 {
        return Err(FieldError::new("members", "家庭只能有一名户主"));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, (key, _)) in relations.iter().enumerate() {
        if !seen.insert(key.as_str()) {
            return Err(FieldError::new(format!("members[{i}]"), "同一人在家庭中出现两次"));
        }
    }
    Ok(())
}

/// A contribution that was paid: the period it covers and the day it was
/// paid. Bills, migrated history and transferred-in years all become paid
/// periods; benefit status is derived from them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PaidPeriod {
    pub start: Date,
    pub end: Date,
    pub paid_on: Date,
}

/// A run of contiguous paid periods and the day its benefits begin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Segment {
    pub start: Date,
    pub benefit_from: Date,
    pub paid_until: Date,
}

/// The last day of the month `months` after the month of `end` (`end` is
/// usually a month's last day): 2026-02-28 + 1 → 2026-03-31.
pub fn months_after(end: Date, months: u32) -> Date {
    end.add_days(1).add_months(months as i32).add_days(-1)
}

/// Whole months from the day after `end` to `date` (0 if `date` ≤ `end`).
fn months_between(end: Date, date: Date) -> u32 {
    if date <= end {
        return 0;
    }
    let from = end.add_days(1);
    let mut months = (date.year() - from.year()) * 12 + i32::from(date.month()) - i32::from(from.month());
    if date.day() < from.day() {
        months -= 1;
    }
    months.max(0) as u32
}

/// Groups paid periods into contiguous runs and decides when each run's
/// benefits begin:
///
/// - the first run waits `new_enrollee_waiting_months` from its first
///   payment when that payment came after the period had begun (a resident
///   enrolling outside the 集中参保期), unless the enrollment is exempt
///   (newborns, transfers in with continuity);
/// - a payment that arrives after the previous run's arrears passed
///   `arrears_limit_months` (the enrollment had lapsed) starts a new run
///   whose benefits begin `lapse_waiting_months` (+ the extra months per
///   full lapsed year, at most `waiting_months_max`) after the payment;
///   months paid that late are never covered retroactively;
/// - a payment within the limit (补缴) extends the run retroactively.
pub fn segments(periods: &[PaidPeriod], waiting_exempt: bool, rules: &BenefitRules) -> Vec<Segment> {
    let mut sorted = periods.to_vec();
    sorted.sort_by_key(|p| (p.start, p.paid_on));
    let mut out: Vec<Segment> = Vec::new();
    for p in sorted {
        let Some(s) = out.last_mut() else {
            let waits = !waiting_exempt && rules.new_enrollee_waiting_months > 0 && p.paid_on > p.start;
            let benefit_from = if waits {
                p.start.max(p.paid_on.add_months(rules.new_enrollee_waiting_months as i32))
            } else {
                p.start
            };
            out.push(Segment { start: p.start, benefit_from, paid_until: p.end });
            continue;
        };
        let contiguous = p.start <= s.paid_until.add_days(1);
        let lapsed = p.paid_on > months_after(s.paid_until, rules.arrears_limit_months)
            || (!contiguous && months_between(s.paid_until, p.start.add_days(-1)) > rules.arrears_limit_months);
        if !lapsed && contiguous {
            s.paid_until = s.paid_until.max(p.end);
        } else if !lapsed {
            out.push(Segment { start: p.start, benefit_from: p.start, paid_until: p.end });
        } else {
            let lapsed_months = months_between(s.paid_until, p.paid_on.max(p.start));
            let waiting = (rules.lapse_waiting_months
                + rules.extra_waiting_months_per_lapsed_year * (lapsed_months / 12))
                .min(rules.waiting_months_max);
            let benefit_from = p.start.max(p.paid_on.add_months(waiting as i32));
            out.push(Segment { start: p.start, benefit_from, paid_until: p.end });
        }
    }
    out
}

/// What the payments say about a date.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BenefitState {
    /// 正常享受
    Covered,
    /// 欠费宽限期内, benefits go on
    Grace,
    /// 待遇等待期
    Waiting,
    /// 欠费未满上限: benefits pause; 补缴 restores them retroactively
    Arrears,
    /// 欠费超过上限: 暂停参保
    Suspended,
    /// nothing paid that covers the date
    Unpaid,
}

/// Derives the benefit state on `date` from the runs of [`segments`].
/// Returns the state and the run it was decided by.
pub fn benefit_state(segs: &[Segment], date: Date, rules: &BenefitRules) -> (BenefitState, Option<Segment>) {
    if let Some(s) = segs.iter().find(|s| s.benefit_from <= date && date <= s.paid_until) {
        return (BenefitState::Covered, Some(*s));
    }
    if let Some(s) = segs.iter().find(|s| {
        s.paid_until < date && s.benefit_from <= date && date <= months_after(s.paid_until, rules.grace_months)
    }) {
        return (BenefitState::Grace, Some(*s));
    }
    let Some(s) = segs.iter().rev().find(|s| s.start <= date) else {
        return (BenefitState::Unpaid, None);
    };
    if date < s.benefit_from {
        return (BenefitState::Waiting, Some(*s));
    }
    if date > months_after(s.paid_until, rules.arrears_limit_months) {
        (BenefitState::Suspended, Some(*s))
    } else {
        (BenefitState::Arrears, Some(*s))
    }
}

/// The answer to the settlement engine's question "is person P covered on
/// date D, and how?" (see `yibao_app::enrollment::coverage`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Coverage {
    pub psn_no: String,
    pub date: Date,
    /// Whether benefits may be paid for care on `date`.
    pub covered: bool,
    /// Why (or why not), in Chinese: 正常享受 / 欠费宽限期内 / 等待期 / 欠费暂停 /
    /// 已停保 / 已死亡 / 未参保 …
    pub reason: String,
    /// The state the payments give (absent when no enrollment spans the date).
    pub state: Option<BenefitState>,
    /// 1 正常参保, 2 暂停参保, 4 终止参保.
    pub psn_insu_stas: PsnInsuStas,
    pub enrollment_id: Option<i64>,
    pub insutype: Option<Insutype>,
    pub psn_type: Option<PsnType>,
    pub insu_admdvs: Option<DivisionCode>,
    pub cvlserv_flag: bool,
    pub assistance_category: Option<AssistanceCategory>,
    /// Whether the person has a personal account (职工).
    pub has_account: bool,
    /// The first day benefits may be paid in the run that decides the date.
    pub benefit_start: Option<Date>,
    /// The last day paid for in that run.
    pub paid_until: Option<Date>,
}

/// Everything [`coverage`] reads.
#[derive(Clone, Copy, Debug)]
pub struct CoverageInput<'a> {
    pub psn_no: &'a str,
    pub death_date: Option<Date>,
    /// The person's basic enrollments (职工 or 居民), any order.
    pub enrollments: &'a [Enrollment],
    /// Paid periods of the enrollment that spans the date, with whether it
    /// is exempt from the new-enrollee waiting period.
    pub paid: &'a [PaidPeriod],
    pub waiting_exempt: bool,
    /// The region's benefit rules for that enrollment; `None` when the region
    /// keeps no contribution policy here (contributions collected elsewhere):
    /// the enrollment alone decides.
    pub rules: Option<&'a BenefitRules>,
    pub has_account: bool,
    pub date: Date,
}

/// The enrollment a coverage question is about: the basic one spanning the
/// date, else none.
pub fn enrollment_on(enrollments: &[Enrollment], date: Date) -> Option<&Enrollment> {
    enrollments.iter().filter(|e| e.insutype.is_basic() && e.spans(date)).max_by_key(|e| (e.begin_date, e.id))
}

/// Derives coverage: death first, then the enrollment spanning the date,
/// then what the payments give. Pure; the rule behind
/// `yibao_app::enrollment::coverage`.
pub fn coverage(input: &CoverageInput<'_>) -> Coverage {
    let date = input.date;
    let mut c = Coverage {
        psn_no: input.psn_no.to_owned(),
        date,
        covered: false,
        reason: String::new(),
        state: None,
        psn_insu_stas: PsnInsuStas::Terminated,
        enrollment_id: None,
        insutype: None,
        psn_type: None,
        insu_admdvs: None,
        cvlserv_flag: false,
        assistance_category: None,
        has_account: false,
        benefit_start: None,
        paid_until: None,
    };
    if let Some(death) = input.death_date
        && date > death
    {
        c.reason = format!("已死亡（{death}），不能享受待遇");
        return c;
    }
    let Some(e) = enrollment_on(input.enrollments, date) else {
        let ended = input
            .enrollments
            .iter()
            .filter(|e| e.insutype.is_basic() && e.end_date.is_some_and(|end| end < date))
            .max_by_key(|e| e.end_date);
        c.reason = match ended {
            Some(e) => format!("已停保（{} 起）", e.end_date.map(|d| d.add_days(1)).unwrap_or(date)),
            None => "未参保".to_owned(),
        };
        if let Some(e) = ended {
            c.enrollment_id = Some(e.id);
            c.insutype = Some(e.insutype);
            c.psn_type = Some(e.psn_type);
            c.insu_admdvs = Some(e.insu_admdvs);
        }
        return c;
    };
    c.enrollment_id = Some(e.id);
    c.insutype = Some(e.insutype);
    c.psn_type = Some(e.psn_type);
    c.insu_admdvs = Some(e.insu_admdvs);
    c.cvlserv_flag = e.cvlserv_flag;
    c.assistance_category = e.assistance_category;
    c.has_account = input.has_account;
    let Some(rules) = input.rules else {
        c.covered = true;
        c.psn_insu_stas = PsnInsuStas::Normal;
        c.benefit_start = Some(e.begin_date);
        c.reason = "参保有效（本统筹区未配置缴费政策，按参保状态判定）".to_owned();
        return c;
    };
    let segs = segments(input.paid, input.waiting_exempt, rules);
    let (state, seg) = benefit_state(&segs, date, rules);
    c.state = Some(state);
    c.benefit_start = seg.map(|s| s.benefit_from);
    c.paid_until = seg.map(|s| s.paid_until);
    let (covered, stas, reason) = match (state, seg) {
        (BenefitState::Covered, _) => (true, PsnInsuStas::Normal, "正常享受".to_owned()),
        (BenefitState::Grace, Some(s)) => {
            (true, PsnInsuStas::Normal, format!("欠费宽限期内（已缴至 {}），可享受待遇", s.paid_until))
        }
        (BenefitState::Waiting, Some(s)) => {
            (false, PsnInsuStas::Normal, format!("待遇等待期内，{} 起享受待遇", s.benefit_from))
        }
        (BenefitState::Arrears, Some(s)) => {
            (false, PsnInsuStas::Normal, format!("欠费（已缴至 {}），补缴后恢复待遇", s.paid_until))
        }
        (BenefitState::Suspended, Some(s)) => (
            false,
            PsnInsuStas::Suspended,
            format!("欠费暂停（已缴至 {}，欠费超过{}个月）", s.paid_until, rules.arrears_limit_months),
        ),
        _ => (false, PsnInsuStas::Normal, "已参保但未缴费".to_owned()),
    };
    c.covered = covered;
    c.psn_insu_stas = stas;
    c.reason = reason;
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(parse_name(" 张三 ").unwrap(), "张三");
        assert_eq!(parse_name("阿依古丽·买买提").unwrap(), "阿依古丽·买买提");
        assert!(parse_name("").is_err());
        assert!(parse_name("张三1").is_err());
        assert!(parse_name(&"张".repeat(51)).is_err());
    }

    #[test]
    fn id_card_certificates_must_be_valid_ids() {
        assert!(Certificate::parse(PsnCertType::ResidentIdCard, "11010519491231002X").is_ok());
        let e = Certificate::parse(PsnCertType::ResidentIdCard, "110105194912310021").unwrap_err();
        assert_eq!(e.field, "certno");
        assert!(Certificate::parse(PsnCertType::ForeignPassport, "E12345678").is_ok());
        assert!(Certificate::parse(PsnCertType::ForeignPassport, "E1 2345").is_err());
    }

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    fn employee_rules() -> BenefitRules {
        BenefitRules {
            new_enrollee_waiting_months: 0,
            lapse_waiting_months: 3,
            extra_waiting_months_per_lapsed_year: 1,
            waiting_months_max: 6,
            grace_months: 1,
            arrears_limit_months: 3,
        }
    }

    fn resident_rules() -> BenefitRules {
        BenefitRules { new_enrollee_waiting_months: 3, grace_months: 0, arrears_limit_months: 0, ..employee_rules() }
    }

    fn month(y: i32, m: u8, paid_on: &str) -> PaidPeriod {
        let start = Date::from_ymd(y, m, 1).unwrap();
        PaidPeriod { start, end: start.add_months(1).add_days(-1), paid_on: d(paid_on) }
    }

    fn state(paid: &[PaidPeriod], rules: &BenefitRules, date: &str) -> BenefitState {
        benefit_state(&segments(paid, false, rules), d(date), rules).0
    }

    #[test]
    fn employee_grace_arrears_suspension_and_waiting() {
        let r = employee_rules();
        let mut paid = vec![month(2026, 1, "2026-01-20"), month(2026, 2, "2026-02-20"), month(2026, 3, "2026-03-20")];
        assert_eq!(state(&paid, &r, "2026-03-31"), BenefitState::Covered);
        assert_eq!(state(&paid, &r, "2026-04-30"), BenefitState::Grace, "one month of grace");
        assert_eq!(state(&paid, &r, "2026-05-10"), BenefitState::Arrears);
        assert_eq!(state(&paid, &r, "2026-06-30"), BenefitState::Arrears);
        assert_eq!(state(&paid, &r, "2026-07-01"), BenefitState::Suspended, "more than 3 months unpaid");
        // 补缴 of April and May within the limit restores them retroactively.
        let mut repaid = paid.clone();
        repaid.push(month(2026, 4, "2026-06-15"));
        repaid.push(month(2026, 5, "2026-06-15"));
        assert_eq!(state(&repaid, &r, "2026-05-10"), BenefitState::Covered);
        // Paying again after the lapse: 3 months' waiting from the payment, no retroaction.
        paid.push(month(2026, 8, "2026-08-05"));
        paid.push(month(2026, 9, "2026-09-05"));
        paid.push(month(2026, 10, "2026-10-05"));
        assert_eq!(state(&paid, &r, "2026-08-10"), BenefitState::Waiting);
        assert_eq!(state(&paid, &r, "2026-11-04"), BenefitState::Waiting);
        assert_eq!(
            state(&paid, &r, "2026-11-05"),
            BenefitState::Grace,
            "waiting over, October paid, November in grace"
        );
        assert_eq!(state(&paid, &r, "2026-03-15"), BenefitState::Covered, "the past stays covered");
    }

    #[test]
    fn residents_in_and_outside_the_collection_window() {
        let r = resident_rules();
        let year = |y: i32, paid_on: &str| PaidPeriod {
            start: Date::from_ymd(y, 1, 1).unwrap(),
            end: Date::from_ymd(y, 12, 31).unwrap(),
            paid_on: d(paid_on),
        };
        // Paid in the collection window: covered from 1 January.
        assert_eq!(state(&[year(2026, "2025-11-10")], &r, "2026-01-01"), BenefitState::Covered);
        // A new enrollee paying in March waits 3 months.
        let late = [year(2026, "2026-03-10")];
        assert_eq!(state(&late, &r, "2026-06-09"), BenefitState::Waiting);
        assert_eq!(state(&late, &r, "2026-06-10"), BenefitState::Covered);
        assert_eq!(benefit_state(&segments(&late, true, &r), d("2026-03-11"), &r).0, BenefitState::Covered, "exempt");
        // Renewed in time, then not renewed: suspended from 1 January.
        let two = [year(2025, "2024-12-01"), year(2026, "2025-12-01")];
        assert_eq!(state(&two, &r, "2026-07-01"), BenefitState::Covered);
        assert_eq!(state(&two, &r, "2027-01-01"), BenefitState::Suspended);
        // Lapsed for more than a year: 3 + 1 months.
        let back = [year(2024, "2023-12-01"), year(2026, "2026-02-01")];
        assert_eq!(state(&back, &r, "2026-05-31"), BenefitState::Waiting);
        assert_eq!(state(&back, &r, "2026-06-01"), BenefitState::Covered);
        let segs = segments(&back, false, &r);
        assert_eq!(segs[1].benefit_from, d("2026-06-01"));
    }

    #[test]
    fn months_after_keeps_month_ends() {
        assert_eq!(months_after(d("2026-02-28"), 1), d("2026-03-31"));
        assert_eq!(months_after(d("2026-01-31"), 1), d("2026-02-28"));
        assert_eq!(months_after(d("2026-12-31"), 0), d("2026-12-31"));
        assert_eq!(months_between(d("2026-03-31"), d("2026-07-01")), 3);
        assert_eq!(months_between(d("2026-03-31"), d("2026-04-30")), 0);
    }

    fn enrollment(begin: &str, end: Option<&str>) -> Enrollment {
        Enrollment {
            id: 1,
            psn_no: "P1".into(),
            insutype: Insutype::EmployeeBasic,
            psn_type: PsnType::EmployeeActive,
            insu_admdvs: DivisionCode::parse("330200").unwrap(),
            begin_date: d(begin),
            end_date: end.map(d),
            status: if end.is_some() { EnrollmentStatus::Stopped } else { EnrollmentStatus::Active },
            cvlserv_flag: false,
            assistance_category: None,
        }
    }

    #[test]
    fn coverage_checks_death_enrollment_then_payments() {
        let r = employee_rules();
        let paid = [month(2026, 1, "2026-01-20")];
        let es = [enrollment("2026-01-01", None)];
        let input = CoverageInput {
            psn_no: "P1",
            death_date: None,
            enrollments: &es,
            paid: &paid,
            waiting_exempt: false,
            rules: Some(&r),
            has_account: true,
            date: d("2026-01-15"),
        };
        let c = coverage(&input);
        assert!(c.covered);
        assert_eq!(c.psn_insu_stas, PsnInsuStas::Normal);
        assert_eq!(c.insutype, Some(Insutype::EmployeeBasic));
        assert_eq!(c.benefit_start, Some(d("2026-01-01")));
        let c = coverage(&CoverageInput { date: d("2026-07-01"), ..input });
        assert!(!c.covered);
        assert_eq!(c.psn_insu_stas, PsnInsuStas::Suspended);
        assert!(c.reason.contains("欠费暂停"), "{}", c.reason);
        let c = coverage(&CoverageInput { death_date: Some(d("2026-01-10")), ..input });
        assert!(!c.covered);
        assert_eq!(c.psn_insu_stas, PsnInsuStas::Terminated);
        assert!(c.reason.contains("已死亡"));
        let stopped = [enrollment("2026-01-01", Some("2026-01-31"))];
        let c = coverage(&CoverageInput { enrollments: &stopped, date: d("2026-02-01"), ..input });
        assert!(!c.covered);
        assert!(c.reason.contains("已停保"), "{}", c.reason);
        let c = coverage(&CoverageInput { enrollments: &[], ..input });
        assert_eq!(c.reason, "未参保");
        let c = coverage(&CoverageInput { rules: None, paid: &[], ..input });
        assert!(c.covered, "no contribution policy: the enrollment decides");
    }

    #[test]
    fn households_need_one_head() {
        let m = |k: &str, r| (k.to_owned(), r);
        assert!(check_household(&[m("a", Relation::Head), m("b", Relation::Child)]).is_ok());
        assert_eq!(check_household(&[m("a", Relation::Spouse)]).unwrap_err().field, "members");
        assert!(check_household(&[m("a", Relation::Head), m("b", Relation::Head)]).is_err());
        assert_eq!(
            check_household(&[m("a", Relation::Head), m("a", Relation::Child)]).unwrap_err().field,
            "members[1]"
        );
    }

    proptest::proptest! {
        /// Benefits are never paid for a date no payment reaches (its period
        /// or the grace months after it), and paying every month on time
        /// covers every day.
        #[test]
        fn coverage_needs_payment(
            months in proptest::collection::vec((0u8..30, 0i32..200), 1..30),
            probe in 0i32..1200,
        ) {
            let r = employee_rules();
            let base = d("2024-01-01");
            let paid: Vec<PaidPeriod> = months
                .iter()
                .map(|(m, delay)| {
                    let start = base.add_months(i32::from(*m));
                    PaidPeriod { start, end: start.add_months(1).add_days(-1), paid_on: start.add_days(*delay) }
                })
                .collect();
            let date = base.add_days(probe);
            let segs = segments(&paid, false, &r);
            let (state, _) = benefit_state(&segs, date, &r);
            if matches!(state, BenefitState::Covered | BenefitState::Grace) {
                proptest::prop_assert!(paid.iter().any(|p| p.start <= date && date <= months_after(p.end, r.grace_months)));
            }
            for s in &segs {
                proptest::prop_assert!(s.benefit_from >= s.start);
            }
            let on_time: Vec<PaidPeriod> = (0..30)
                .map(|m| {
                    let start = base.add_months(m);
                    PaidPeriod { start, end: start.add_months(1).add_days(-1), paid_on: start.add_days(10) }
                })
                .collect();
            let segs = segments(&on_time, false, &r);
            proptest::prop_assert_eq!(segs.len(), 1);
            if date < base.add_months(30) {
                proptest::prop_assert_eq!(benefit_state(&segs, date, &r).0, BenefitState::Covered);
            }
        }
    }
}
