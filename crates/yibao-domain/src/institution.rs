//! 定点医药机构: institution codes, kinds, agreements and the rule that decides
//! whether an institution may settle on a given day.
//!
//! The code layout is one letter (`H` 医疗机构, `P` 定点零售药店) + the 6-digit
//! county-level division + a 5-digit sequence, 12 characters in all.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::codes::HospLv;
use crate::date::Date;
use crate::division::DivisionCode;
use crate::error::{FieldError, Parsed};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum InstitutionKind {
    /// 定点医疗机构 (H)
    Hospital,
    /// 定点零售药店 (P)
    Pharmacy,
}

impl InstitutionKind {
    pub fn letter(self) -> char {
        match self {
            InstitutionKind::Hospital => 'H',
            InstitutionKind::Pharmacy => 'P',
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            InstitutionKind::Hospital => "定点医疗机构",
            InstitutionKind::Pharmacy => "定点零售药店",
        }
    }

    pub fn parse(text: &str) -> Parsed<InstitutionKind> {
        match text {
            "hospital" | "H" => Ok(InstitutionKind::Hospital),
            "pharmacy" | "P" => Ok(InstitutionKind::Pharmacy),
            _ => Err(FieldError::new("kind", format!("机构类型“{text}”无效，应为 hospital 或 pharmacy"))),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstitutionCode([u8; 12]);

impl InstitutionCode {
    pub fn parse(text: &str) -> Parsed<InstitutionCode> {
        let t = text.trim();
        let err = |reason: String| FieldError::new("fixmedins_code", reason);
        if t.len() != 12 || !t.is_ascii() {
            return Err(err(format!("机构编码“{t}”应为12位：H或P + 6位区划 + 5位顺序号")));
        }
        let b = t.as_bytes();
        if b[0] != b'H' && b[0] != b'P' {
            return Err(err(format!("机构编码“{t}”应以H（医疗机构）或P（零售药店）开头")));
        }
        if !b[1..].iter().all(u8::is_ascii_digit) {
            return Err(err(format!("机构编码“{t}”第2至12位应为数字")));
        }
        Ok(InstitutionCode(b.try_into().unwrap()))
    }

    pub fn compose(kind: InstitutionKind, division: DivisionCode, sequence: u32) -> InstitutionCode {
        assert!(sequence <= 99_999, "sequence has five digits");
        InstitutionCode::parse(&format!("{}{}{sequence:05}", kind.letter(), division.as_str())).expect("composed")
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap()
    }

    pub fn kind(&self) -> InstitutionKind {
        if self.0[0] == b'H' { InstitutionKind::Hospital } else { InstitutionKind::Pharmacy }
    }

    pub fn division(&self) -> DivisionCode {
        DivisionCode::parse(&self.as_str()[1..7]).expect("validated")
    }
}

impl fmt::Display for InstitutionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for InstitutionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for InstitutionCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for InstitutionCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<InstitutionCode, D::Error> {
        let text = String::deserialize(d)?;
        InstitutionCode::parse(&text).map_err(|e| serde::de::Error::custom(e.reason))
    }
}

/// The institution's own standing in the registry.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstitutionStatus {
    /// 正常
    Active,
    /// 暂停 (e.g. under investigation); no settlement while suspended
    Suspended,
    /// 终止 / 注销
    Terminated,
}

impl InstitutionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InstitutionStatus::Active => "active",
            InstitutionStatus::Suspended => "suspended",
            InstitutionStatus::Terminated => "terminated",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            InstitutionStatus::Active => "正常",
            InstitutionStatus::Suspended => "暂停",
            InstitutionStatus::Terminated => "终止",
        }
    }

    pub fn parse(text: &str) -> Parsed<InstitutionStatus> {
        match text {
            "active" => Ok(InstitutionStatus::Active),
            "suspended" => Ok(InstitutionStatus::Suspended),
            "terminated" => Ok(InstitutionStatus::Terminated),
            _ => Err(FieldError::new("status", format!("状态“{text}”无效，应为 active、suspended 或 terminated"))),
        }
    }
}

/// A service agreement (医保服务协议) period.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Agreement {
    pub agreement_no: String,
    pub begin_date: Date,
    /// Last day covered (inclusive).
    pub end_date: Date,
    pub status: InstitutionStatus,
}

impl Agreement {
    pub fn covers(&self, date: Date) -> bool {
        self.status == InstitutionStatus::Active && self.begin_date <= date && date <= self.end_date
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Institution {
    pub code: InstitutionCode,
    pub name: String,
    pub kind: InstitutionKind,
    /// Hospital level; pharmacies have none.
    pub hosp_lv: Option<HospLv>,
    pub admdvs: DivisionCode,
    pub address: String,
    pub status: InstitutionStatus,
    pub agreements: Vec<Agreement>,
}

impl Institution {
    /// Whether this institution may settle a visit dated `date`; the error
    /// says why not, in the words a HIS operator understands.
    pub fn check_can_settle(&self, date: Date) -> Parsed<()> {
        if self.status != InstitutionStatus::Active {
            return Err(FieldError::new(
                "fixmedins_code",
                format!("定点医药机构 {} 状态为{}，不能结算", self.code, self.status.name()),
            ));
        }
        if !self.agreements.iter().any(|a| a.covers(date)) {
            return Err(FieldError::new(
                "fixmedins_code",
                format!("定点医药机构 {} 在 {date} 没有有效的医保服务协议", self.code),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_real_codes() {
        for code in ["H45012400011", "H43028110001", "H33011100246", "P31010100003"] {
            let c = InstitutionCode::parse(code).unwrap();
            assert_eq!(c.as_str(), code);
        }
        let c = InstitutionCode::parse("P31010100003").unwrap();
        assert_eq!(c.kind(), InstitutionKind::Pharmacy);
        assert_eq!(c.division().as_str(), "310101");
    }

    #[test]
    fn rejects_malformed_codes() {
        for bad in ["X45012400011", "H4501240001", "H4501240001A", "", "h45012400011"] {
            let e = InstitutionCode::parse(bad).unwrap_err();
            assert_eq!(e.field, "fixmedins_code");
        }
    }

    #[test]
    fn settlement_needs_active_status_and_agreement() {
        let d = |s: &str| Date::parse(s).unwrap();
        let mut inst = Institution {
            code: InstitutionCode::parse("H33020300001").unwrap(),
            name: "测试医院".into(),
            kind: InstitutionKind::Hospital,
            hosp_lv: Some(HospLv::ThreeA),
            admdvs: DivisionCode::parse("330203").unwrap(),
            address: String::new(),
            status: InstitutionStatus::Active,
            agreements: vec![Agreement {
                agreement_no: "A1".into(),
                begin_date: d("2026-01-01"),
                end_date: d("2026-12-31"),
                status: InstitutionStatus::Active,
            }],
        };
        assert!(inst.check_can_settle(d("2026-06-01")).is_ok());
        assert!(inst.check_can_settle(d("2027-01-01")).unwrap_err().reason.contains("没有有效"));
        inst.status = InstitutionStatus::Suspended;
        assert!(inst.check_can_settle(d("2026-06-01")).unwrap_err().reason.contains("暂停"));
    }
}
