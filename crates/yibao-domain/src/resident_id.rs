//! The 18-digit resident identity number (公民身份号码, GB 11643-1999).
//!
//! Layout: 6-digit address code, 8-digit birth date, 3-digit sequence (odd for
//! men, even for women) and an ISO 7064 MOD 11-2 check character (0–9 or X).
//!
//! A [`ResidentId`] can only be obtained by parsing, so holding one proves the
//! number is well formed. Its `Display` and `Debug` show the masked form
//! (`110105********123X`) so that an ID number never lands in a log by
//! accident; [`ResidentId::as_str`] gives the full number where it is needed
//! (the national interface, a clerk's screen).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::date::Date;
use crate::error::{FieldError, Parsed};

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS: [u8; 11] = *b"10X98765432";

/// Province-level prefixes in use in GB/T 2260, plus 81/82/83 used by the
/// residence permits of Hong Kong, Macao and Taiwan residents.
const PROVINCE_PREFIXES: [&str; 37] = [
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42", "43", "44",
    "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82", "83", "91", "92",
];

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    /// The national `gend` code: 1 男, 2 女.
    pub fn gend_code(self) -> &'static str {
        match self {
            Sex::Male => "1",
            Sex::Female => "2",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Sex::Male => "男",
            Sex::Female => "女",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResidentId([u8; 18]);

/// ISO 7064 MOD 11-2 check character of the first 17 digits.
pub fn check_char(first17: &[u8]) -> u8 {
    assert_eq!(first17.len(), 17);
    let sum: u32 = first17.iter().zip(WEIGHTS).map(|(d, w)| u32::from(d - b'0') * w).sum();
    CHECK_CHARS[(sum % 11) as usize]
}

impl ResidentId {
    pub fn parse(text: &str) -> Parsed<ResidentId> {
        let t = text.trim();
        let err = |reason: &str| FieldError::new("certno", reason.to_owned());
        if t.len() != 18 || !t.is_ascii() {
            return Err(err("身份证号码应为18位"));
        }
        let mut bytes: [u8; 18] = t.as_bytes().try_into().unwrap();
        if bytes[17] == b'x' {
            bytes[17] = b'X';
        }
        if !bytes[..17].iter().all(u8::is_ascii_digit) {
            return Err(err("身份证号码前17位应为数字"));
        }
        if !(bytes[17].is_ascii_digit() || bytes[17] == b'X') {
            return Err(err("身份证号码第18位应为数字或X"));
        }
        let province = std::str::from_utf8(&bytes[0..2]).unwrap();
        if !PROVINCE_PREFIXES.contains(&province) {
            return Err(err("身份证号码地址码无效"));
        }
        let birth = std::str::from_utf8(&bytes[6..14]).unwrap();
        let birth = Date::parse(birth).map_err(|_| err("身份证号码出生日期无效"))?;
        if birth.year() < 1800 {
            return Err(err("身份证号码出生日期无效"));
        }
        if check_char(&bytes[..17]) != bytes[17] {
            return Err(err("身份证号码校验位错误"));
        }
        Ok(ResidentId(bytes))
    }

    /// Builds a valid number from its parts (demo data and tests).
    pub fn compose(address: &str, birth: Date, sequence: u16) -> Parsed<ResidentId> {
        if address.len() != 6 || !address.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FieldError::new("address", "地址码应为6位数字"));
        }
        if sequence > 999 {
            return Err(FieldError::new("sequence", "顺序码应为3位"));
        }
        let first17 = format!("{address}{}{sequence:03}", birth.compact());
        let check = check_char(first17.as_bytes()) as char;
        ResidentId::parse(&format!("{first17}{check}"))
    }

    /// The full number. Use only where the full number is required.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap()
    }

    /// The 6-digit address code (the region where the number was issued).
    pub fn address_code(&self) -> &str {
        &self.as_str()[0..6]
    }

    pub fn birth_date(&self) -> Date {
        Date::parse(&self.as_str()[6..14]).expect("validated at parse")
    }

    /// Age in completed years on `date`.
    pub fn age_on(&self, date: Date) -> i32 {
        self.birth_date().years_until(date)
    }

    pub fn sex(&self) -> Sex {
        if (self.0[16] - b'0') % 2 == 1 { Sex::Male } else { Sex::Female }
    }

    pub fn sequence(&self) -> u16 {
        self.as_str()[14..17].parse().unwrap()
    }

    /// `110105********123X`: address code and the last four characters.
    pub fn masked(&self) -> String {
        mask(self.as_str())
    }
}

/// Masks an 18-character ID number for display and logs; other text of
/// length ≥ 8 keeps its first and last quarter, shorter text is fully masked.
pub fn mask(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() == 18 {
        let head: String = chars[..6].iter().collect();
        let tail: String = chars[14..].iter().collect();
        return format!("{head}********{tail}");
    }
    if chars.len() < 8 {
        return "*".repeat(chars.len());
    }
    let keep = chars.len() / 4;
    let head: String = chars[..keep].iter().collect();
    let tail: String = chars[chars.len() - keep..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 2 * keep))
}

/// True when `text` is a well-formed resident ID (used to find IDs to mask
/// inside free-form JSON such as audit records).
pub fn looks_like_resident_id(text: &str) -> bool {
    text.len() == 18 && ResidentId::parse(text).is_ok()
}

impl fmt::Display for ResidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for ResidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResidentId({})", self.masked())
    }
}

impl Serialize for ResidentId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ResidentId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ResidentId, D::Error> {
        let text = String::deserialize(d)?;
        ResidentId::parse(&text).map_err(|e| serde::de::Error::custom(e.reason))
    }
}

/// Masks `text` if it is a resident ID; returns it unchanged otherwise.
pub fn mask_if_id(text: &str) -> String {
    if looks_like_resident_id(text) { mask(text) } else { text.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_known_valid_numbers() {
        // The GB 11643 worked example and the standard X example.
        let id = ResidentId::parse("11010519491231002X").unwrap();
        assert_eq!(id.birth_date().to_string(), "1949-12-31");
        assert_eq!(id.sex(), Sex::Female);
        assert_eq!(id.masked(), "110105********002X");
        assert_eq!(format!("{id}"), "110105********002X");
        assert_eq!(format!("{id:?}"), "ResidentId(110105********002X)");
        let id = ResidentId::parse("440524188001010014").unwrap();
        assert_eq!(id.sex(), Sex::Male);
        assert_eq!(id.age_on(Date::parse("2026-01-01").unwrap()), 146);
        // lower-case x is normalised.
        assert_eq!(ResidentId::parse("11010519491231002x").unwrap().as_str(), "11010519491231002X");
    }

    #[test]
    fn rejects_each_defect_with_a_reason() {
        let cases = [
            ("11010519491231002", "18位"),
            ("11010519491231002Y", "第18位"),
            ("1101051949123100AX", "前17位"),
            ("00010519491231002X", "地址码"),
            ("11010519491331002X", "出生日期"),
            ("110105194912310021", "校验位"),
        ];
        for (text, needle) in cases {
            let e = ResidentId::parse(text).unwrap_err();
            assert_eq!(e.field, "certno");
            assert!(e.reason.contains(needle), "{text}: {}", e.reason);
        }
    }

    #[test]
    fn mask_other_text() {
        assert_eq!(mask("1234"), "****");
        assert_eq!(mask("12345678"), "12****78");
    }

    proptest! {
        #[test]
        fn composed_numbers_parse_and_decompose(days in -20_000i32..20_000, seq in 0u16..1000) {
            let birth = Date::from_days_since_epoch(days);
            let id = ResidentId::compose("330203", birth, seq).unwrap();
            prop_assert_eq!(id.birth_date(), birth);
            prop_assert_eq!(id.sequence(), seq);
            prop_assert_eq!(id.sex() == Sex::Male, seq % 2 == 1);
            prop_assert_eq!(ResidentId::parse(id.as_str()).unwrap(), id);
        }

        #[test]
        fn any_single_digit_change_is_caught(days in -20_000i32..20_000, seq in 0u16..1000, pos in 0usize..17, delta in 1u8..10) {
            let id = ResidentId::compose("330203", Date::from_days_since_epoch(days), seq).unwrap();
            let mut bytes = id.as_str().as_bytes().to_vec();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            let altered = String::from_utf8(bytes).unwrap();
            // MOD 11-2 detects every single-digit substitution.
            prop_assert!(ResidentId::parse(&altered).is_err());
        }
    }
}
