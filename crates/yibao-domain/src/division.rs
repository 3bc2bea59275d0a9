//! 医保区划 (admdvs): 6-digit division codes and their province / city / county chain.
//!
//! A [`DivisionCode`] is syntactically valid (six digits); an [`AdmDvs`] also
//! exists in the [`Divisions`] reference table, which is the only way to get
//! one. The table holds the statistical division list (省 / 地 / 县) and
//! accepts the pooling-region convention of 医保 systems: a city-level pool
//! `xxxx99` (市本级统筹区) stands for the prefecture `xxxx00`.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{FieldError, Parsed};

/// Six ASCII digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DivisionCode([u8; 6]);

impl DivisionCode {
    pub fn parse(text: &str) -> Parsed<DivisionCode> {
        let t = text.trim();
        if t.len() != 6 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FieldError::new("admdvs", format!("区划代码“{t}”应为6位数字")));
        }
        Ok(DivisionCode(t.as_bytes().try_into().unwrap()))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap()
    }

    /// The significant prefix used for scoping: "33" for 330000, "3302" for
    /// 330200 and 330299, "330203" for a county.
    pub fn scope_prefix(&self) -> &str {
        let s = self.as_str();
        if s.ends_with("0000") {
            &s[..2]
        } else if s.ends_with("00") || s.ends_with("99") {
            &s[..4]
        } else {
            s
        }
    }

    /// The province code (xx0000).
    pub fn province(&self) -> DivisionCode {
        let mut b = self.0;
        b[2..].copy_from_slice(b"0000");
        DivisionCode(b)
    }

    /// The prefecture code (xxxx00).
    pub fn prefecture(&self) -> DivisionCode {
        let mut b = self.0;
        b[4..].copy_from_slice(b"00");
        DivisionCode(b)
    }

    pub fn same_province(&self, other: &DivisionCode) -> bool {
        self.0[..2] == other.0[..2]
    }
}

impl fmt::Display for DivisionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for DivisionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for DivisionCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for DivisionCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<DivisionCode, D::Error> {
        let text = String::deserialize(d)?;
        DivisionCode::parse(&text).map_err(|e| serde::de::Error::custom(e.reason))
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum DivisionLevel {
    /// 省级
    Province,
    /// 地市级
    Prefecture,
    /// 区县级
    County,
}

impl DivisionLevel {
    pub fn from_number(n: u8) -> Option<DivisionLevel> {
        match n {
            1 => Some(DivisionLevel::Province),
            2 => Some(DivisionLevel::Prefecture),
            3 => Some(DivisionLevel::County),
            _ => None,
        }
    }

    pub fn number(self) -> u8 {
        match self {
            DivisionLevel::Province => 1,
            DivisionLevel::Prefecture => 2,
            DivisionLevel::County => 3,
        }
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Division {
    pub code: DivisionCode,
    pub name: String,
    pub level: DivisionLevel,
    pub parent: Option<DivisionCode>,
    /// Statistical-only code (development zones, xx71–xx80).
    pub stat_only: bool,
}

/// A division code proven to exist in the reference table.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AdmDvs(DivisionCode);

impl AdmDvs {
    pub fn code(&self) -> DivisionCode {
        self.0
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Trusted construction from storage, where only validated codes are written.
    pub fn from_trusted(code: DivisionCode) -> AdmDvs {
        AdmDvs(code)
    }
}

impl fmt::Display for AdmDvs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for AdmDvs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for AdmDvs {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The reference table of divisions. Cheap to clone (shared).
#[derive(Clone, Default)]
pub struct Divisions {
    by_code: Arc<HashMap<DivisionCode, Division>>,
}

/// A division's chain from the province down.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize)]
pub struct DivisionChain {
    pub code: DivisionCode,
    pub name: String,
    pub full_name: String,
    pub level: DivisionLevel,
    pub province: Option<Division>,
    pub prefecture: Option<Division>,
    pub county: Option<Division>,
    /// True for a pooling-region code xxxx99 (市本级).
    pub pooling_region: bool,
}

impl Divisions {
    /// Builds the table; fails if a parent is missing or a code repeats.
    pub fn new(rows: impl IntoIterator<Item = Division>) -> Parsed<Divisions> {
        let mut by_code = HashMap::new();
        for row in rows {
            let code = row.code;
            if by_code.insert(code, row).is_some() {
                return Err(FieldError::new("code", format!("区划代码 {code} 重复")));
            }
        }
        for d in by_code.values() {
            if let Some(parent) = d.parent
                && !by_code.contains_key(&parent)
            {
                return Err(FieldError::new("parent_code", format!("{} 的上级区划 {parent} 不存在", d.code)));
            }
        }
        Ok(Divisions { by_code: Arc::new(by_code) })
    }

    pub fn len(&self) -> usize {
        self.by_code.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_code.is_empty()
    }

    pub fn get(&self, code: DivisionCode) -> Option<&Division> {
        self.by_code.get(&code)
    }

    /// Parses text into a division code that exists (or is a city pool xxxx99
    /// of an existing prefecture).
    pub fn parse(&self, text: &str) -> Parsed<AdmDvs> {
        let code = DivisionCode::parse(text)?;
        if self.by_code.contains_key(&code) || self.pooling_prefecture(code).is_some() {
            Ok(AdmDvs(code))
        } else {
            Err(FieldError::new("admdvs", format!("区划代码“{code}”不存在")))
        }
    }

    fn pooling_prefecture(&self, code: DivisionCode) -> Option<&Division> {
        if code.as_str().ends_with("99") {
            self.by_code.get(&code.prefecture()).filter(|d| d.level == DivisionLevel::Prefecture)
        } else {
            None
        }
    }

    pub fn chain(&self, code: AdmDvs) -> DivisionChain {
        let (own, pooling) = match self.by_code.get(&code.0) {
            Some(d) => (d.clone(), false),
            None => {
                let pref = self.pooling_prefecture(code.0).expect("AdmDvs exists");
                (
                    Division {
                        code: code.0,
                        name: format!("{}本级", pref.name),
                        level: DivisionLevel::Prefecture,
                        parent: pref.parent,
                        stat_only: false,
                    },
                    true,
                )
            }
        };
        let mut chain = DivisionChain {
            code: code.0,
            name: own.name.clone(),
            full_name: String::new(),
            level: own.level,
            province: None,
            prefecture: None,
            county: None,
            pooling_region: pooling,
        };
        let mut cursor = Some(own);
        // A chain is at most three deep; the bound guards against a cycle.
        for _ in 0..4 {
            let Some(d) = cursor else { break };
            let parent = d.parent.and_then(|p| self.by_code.get(&p).cloned());
            match d.level {
                DivisionLevel::Province => chain.province = Some(d),
                DivisionLevel::Prefecture => chain.prefecture = Some(d),
                DivisionLevel::County => chain.county = Some(d),
            }
            cursor = parent;
        }
        let mut full = String::new();
        for d in [&chain.province, &chain.prefecture, &chain.county].into_iter().flatten() {
            // 直辖市 prefectures are named "市辖区" / "县": skip those fillers.
            if d.name != "市辖区" && d.name != "县" && d.name != "省直辖县级行政区划" {
                full.push_str(&d.name);
            }
        }
        chain.full_name = full;
        chain
    }

    pub fn iter(&self) -> impl Iterator<Item = &Division> {
        self.by_code.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Divisions {
        let d = |code: &str, name: &str, level: u8, parent: Option<&str>| Division {
            code: DivisionCode::parse(code).unwrap(),
            name: name.into(),
            level: DivisionLevel::from_number(level).unwrap(),
            parent: parent.map(|p| DivisionCode::parse(p).unwrap()),
            stat_only: false,
        };
        Divisions::new([
            d("330000", "浙江省", 1, None),
            d("330200", "宁波市", 2, Some("330000")),
            d("330203", "海曙区", 3, Some("330200")),
        ])
        .unwrap()
    }

    #[test]
    fn parses_existing_codes_only() {
        let t = sample();
        assert!(t.parse("330203").is_ok());
        assert!(t.parse("330299").is_ok(), "city pool code");
        let e = t.parse("330204").unwrap_err();
        assert_eq!(e.field, "admdvs");
        assert!(e.reason.contains("不存在"));
        assert!(t.parse("33020").unwrap_err().reason.contains("6位数字"));
        assert!(t.parse("3302a3").is_err());
    }

    #[test]
    fn chain_runs_province_to_county() {
        let t = sample();
        let c = t.chain(t.parse("330203").unwrap());
        assert_eq!(c.full_name, "浙江省宁波市海曙区");
        assert_eq!(c.province.unwrap().name, "浙江省");
        assert_eq!(c.prefecture.unwrap().name, "宁波市");
        let pool = t.chain(t.parse("330299").unwrap());
        assert!(pool.pooling_region);
        assert_eq!(pool.name, "宁波市本级");
        assert_eq!(pool.full_name, "浙江省宁波市本级");
    }

    #[test]
    fn scope_prefixes() {
        assert_eq!(DivisionCode::parse("330000").unwrap().scope_prefix(), "33");
        assert_eq!(DivisionCode::parse("330200").unwrap().scope_prefix(), "3302");
        assert_eq!(DivisionCode::parse("330299").unwrap().scope_prefix(), "3302");
        assert_eq!(DivisionCode::parse("330203").unwrap().scope_prefix(), "330203");
    }

    #[test]
    fn rejects_missing_parent() {
        let d = Division {
            code: DivisionCode::parse("330203").unwrap(),
            name: "海曙区".into(),
            level: DivisionLevel::County,
            parent: Some(DivisionCode::parse("330200").unwrap()),
            stat_only: false,
        };
        assert!(Divisions::new([d]).is_err());
    }
}
