//! 参保单位: employers and the unified social credit code that identifies them.
//!
//! The unified social credit code (统一社会信用代码, GB 32100-2015) has 18
//! characters: registration authority (1), organisation kind (1), the
//! registering authority's division code (6), the organisation's identifier
//! (9, the former 组织机构代码) and a check character. The alphabet is
//! `0-9A-HJ-NPQRTUWXY` (31 characters: no I, O, S, V, Z); the check character
//! is `31 − (Σ value × weight mod 31)` with the weights below, 31 written as 0.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::division::DivisionCode;
use crate::error::{FieldError, Parsed};

const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

fn value_of(c: u8) -> Option<u32> {
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)
}

/// The GB 32100 check character of the first 17 characters (which must be
/// in the alphabet).
pub fn credit_code_check_char(first17: &[u8]) -> Option<u8> {
    if first17.len() != 17 {
        return None;
    }
    let mut sum = 0;
    for (c, w) in first17.iter().zip(WEIGHTS) {
        sum += value_of(*c)? * w;
    }
    let v = (31 - sum % 31) % 31;
    Some(ALPHABET[v as usize])
}

/// A well-formed unified social credit code.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CreditCode([u8; 18]);

impl CreditCode {
    pub fn parse(text: &str) -> Parsed<CreditCode> {
        let t = text.trim().to_ascii_uppercase();
        let err = |reason: &str| FieldError::new("uscc", reason.to_owned());
        if t.len() != 18 || !t.is_ascii() {
            return Err(err("统一社会信用代码应为18位"));
        }
        let b: [u8; 18] = t.as_bytes().try_into().unwrap();
        if let Some(bad) = b.iter().find(|c| value_of(**c).is_none()) {
            return Err(err(&format!("统一社会信用代码含无效字符“{}”（不使用I、O、S、V、Z）", *bad as char)));
        }
        if !b[2..8].iter().all(u8::is_ascii_digit) {
            return Err(err("统一社会信用代码第3至8位应为登记管理机关行政区划码"));
        }
        if credit_code_check_char(&b[..17]) != Some(b[17]) {
            return Err(err("统一社会信用代码校验位错误"));
        }
        Ok(CreditCode(b))
    }

    /// Builds a valid code from its first 17 characters (demo data and tests).
    pub fn compose(first17: &str) -> Parsed<CreditCode> {
        let check = credit_code_check_char(first17.as_bytes())
            .ok_or_else(|| FieldError::new("uscc", "统一社会信用代码前17位无效"))?;
        CreditCode::parse(&format!("{first17}{}", check as char))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap()
    }

    /// The registering authority's division (positions 3–8).
    pub fn division(&self) -> &str {
        &self.as_str()[2..8]
    }
}

impl fmt::Display for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CreditCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CreditCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<CreditCode, D::Error> {
        let text = String::deserialize(d)?;
        CreditCode::parse(&text).map_err(|e| serde::de::Error::custom(e.reason))
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmployerStatus {
    /// 正常参保
    Active,
    /// 暂停缴费 (e.g. business suspended); no bills are assessed
    Suspended,
    /// 注销
    Cancelled,
}

impl EmployerStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EmployerStatus::Active => "active",
            EmployerStatus::Suspended => "suspended",
            EmployerStatus::Cancelled => "cancelled",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            EmployerStatus::Active => "正常",
            EmployerStatus::Suspended => "暂停缴费",
            EmployerStatus::Cancelled => "注销",
        }
    }

    pub fn parse(text: &str) -> Parsed<EmployerStatus> {
        match text {
            "active" => Ok(EmployerStatus::Active),
            "suspended" => Ok(EmployerStatus::Suspended),
            "cancelled" => Ok(EmployerStatus::Cancelled),
            _ => Err(FieldError::new("status", format!("单位状态“{text}”无效，应为 active、suspended 或 cancelled"))),
        }
    }
}

/// A registered employer (参保单位).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Employer {
    /// 单位编号: the pooling region's 6 digits and an 8-digit sequence.
    pub emp_no: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "91350100M000100Y43"))]
    pub uscc: CreditCode,
    pub emp_name: String,
    /// The pooling region the employer is insured in.
    pub insu_admdvs: DivisionCode,
    /// Where the employer is located.
    pub admdvs: DivisionCode,
    pub address: String,
    pub contact: String,
    pub tel: String,
    pub status: EmployerStatus,
}

/// Composes an employer number: region + 8-digit sequence.
pub fn compose_emp_no(region: DivisionCode, sequence: u32) -> String {
    assert!(sequence <= 99_999_999, "sequence has eight digits");
    format!("{}{sequence:08}", region.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_a_published_example() {
        let c = CreditCode::parse("91350100M000100Y43").unwrap();
        assert_eq!(c.division(), "350100");
        assert_eq!(CreditCode::parse(" 91350100m000100y43 ").unwrap(), c);
    }

    #[test]
    fn rejects_each_defect() {
        for (bad, needle) in [
            ("91350100M000100Y4", "18位"),
            ("91350100M000100Y44", "校验位"),
            ("9135010OM000100Y43", "无效字符"),
            ("91A50100M000100Y43", "区划码"),
        ] {
            let e = CreditCode::parse(bad).unwrap_err();
            assert_eq!(e.field, "uscc");
            assert!(e.reason.contains(needle), "{bad}: {}", e.reason);
        }
    }

    proptest! {
        #[test]
        fn composed_codes_parse_and_any_change_is_caught(body in "[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{9}", pos in 0usize..17, delta in 1usize..31) {
            let code = CreditCode::compose(&body).unwrap();
            prop_assert_eq!(CreditCode::parse(code.as_str()).unwrap(), code);
            let mut bytes = code.as_str().as_bytes().to_vec();
            let v = value_of(bytes[pos]).unwrap() as usize;
            bytes[pos] = ALPHABET[(v + delta) % 31];
            let altered = String::from_utf8(bytes).unwrap();
            // MOD 31 with weights coprime to 31 catches every single substitution.
            prop_assert!(CreditCode::parse(&altered).is_err());
        }
    }
}
