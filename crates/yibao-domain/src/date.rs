//! Calendar dates and local date-times as the national interface writes them.
//!
//! All business time in yibao is China Standard Time (UTC+8, no daylight
//! saving). The domain never reads a clock: callers pass "now" in.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::{Month, PrimitiveDateTime, UtcOffset};

use crate::error::{FieldError, Parsed};

/// UTC+8.
pub const CHINA_OFFSET: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(offset) => offset,
    Err(_) => panic!("valid offset"),
};

/// A calendar date. Parses `yyyy-MM-dd` and `yyyyMMdd`; displays `yyyy-MM-dd`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(time::Date);

impl Date {
    pub fn from_ymd(year: i32, month: u8, day: u8) -> Parsed<Date> {
        let month = Month::try_from(month).map_err(|_| FieldError::new("", "月份无效"))?;
        time::Date::from_calendar_date(year, month, day)
            .map(Date)
            .map_err(|_| FieldError::new("", format!("{year}-{month:02}-{day:02} 不是有效日期", month = month as u8)))
    }

    pub fn year(self) -> i32 {
        self.0.year()
    }

    pub fn month(self) -> u8 {
        self.0.month() as u8
    }

    pub fn day(self) -> u8 {
        self.0.day()
    }

    /// Days since 1970-01-01 (negative before).
    pub fn days_since_epoch(self) -> i32 {
        self.0.to_julian_day() - time::Date::from_calendar_date(1970, Month::January, 1).unwrap().to_julian_day()
    }

    pub fn from_days_since_epoch(days: i32) -> Date {
        let epoch = time::Date::from_calendar_date(1970, Month::January, 1).unwrap().to_julian_day();
        Date(time::Date::from_julian_day(epoch + days).expect("date in range"))
    }

    pub fn add_days(self, days: i32) -> Date {
        Date::from_days_since_epoch(self.days_since_epoch() + days)
    }

    /// Whole days from `self` to `later` (negative if `later` is earlier).
    pub fn days_until(self, later: Date) -> i32 {
        later.days_since_epoch() - self.days_since_epoch()
    }

    /// The same day `months` months later, clamped to the month's last day.
    pub fn add_months(self, months: i32) -> Date {
        let total = self.year() * 12 + i32::from(self.month()) - 1 + months;
        let year = total.div_euclid(12);
        let month = (total.rem_euclid(12) + 1) as u8;
        let last = time::util::days_in_month(Month::try_from(month).unwrap(), year);
        Date::from_ymd(year, month, self.day().min(last)).expect("clamped day is valid")
    }

    /// First day of this date's month.
    pub fn first_of_month(self) -> Date {
        Date::from_ymd(self.year(), self.month(), 1).unwrap()
    }

    /// Completed years from `self` (a birth date) to `on`.
    pub fn years_until(self, on: Date) -> i32 {
        let mut years = on.year() - self.year();
        if (on.month(), on.day()) < (self.month(), self.day()) {
            years -= 1;
        }
        years
    }

    pub fn parse(text: &str) -> Parsed<Date> {
        let t = text.trim();
        let digits: String = match t.len() {
            10 if t.as_bytes()[4] == b'-' && t.as_bytes()[7] == b'-' => {
                format!("{}{}{}", &t[0..4], &t[5..7], &t[8..10])
            }
            8 => t.to_owned(),
            _ => {
                return Err(FieldError::new("", format!("“{t}”不是有效日期，应为 yyyy-MM-dd")));
            }
        };
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FieldError::new("", format!("“{t}”不是有效日期，应为 yyyy-MM-dd")));
        }
        let year: i32 = digits[0..4].parse().unwrap();
        let month: u8 = digits[4..6].parse().unwrap();
        let day: u8 = digits[6..8].parse().unwrap();
        Date::from_ymd(year, month, day).map_err(|_| FieldError::new("", format!("“{t}”不是有效日期")))
    }

    /// `yyyyMMdd`.
    pub fn compact(self) -> String {
        format!("{:04}{:02}{:02}", self.year(), self.month(), self.day())
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year(), self.month(), self.day())
    }
}

impl fmt::Debug for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Date {
    type Err = FieldError;
    fn from_str(s: &str) -> Parsed<Date> {
        Date::parse(s)
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let text = String::deserialize(d)?;
        Date::parse(&text).map_err(|e| serde::de::Error::custom(e.reason))
    }
}

/// A local (UTC+8) date and time to the second. Parses `yyyy-MM-dd HH:mm:ss`
/// and `yyyyMMddHHmmss`; a bare date means midnight. Displays
/// `yyyy-MM-dd HH:mm:ss`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateTime(PrimitiveDateTime);

impl DateTime {
    pub fn from_unix_ms(ms: i64) -> DateTime {
        let utc =
            time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).expect("timestamp in range");
        let local = utc.to_offset(CHINA_OFFSET);
        DateTime(PrimitiveDateTime::new(local.date(), local.time()).replace_millisecond(0).unwrap())
    }

    pub fn unix_seconds(self) -> i64 {
        self.0.assume_offset(CHINA_OFFSET).unix_timestamp()
    }

    pub fn date(self) -> Date {
        Date(self.0.date())
    }

    pub fn from_date(date: Date) -> DateTime {
        DateTime(PrimitiveDateTime::new(date.0, time::Time::MIDNIGHT))
    }

    pub fn hour(self) -> u8 {
        self.0.hour()
    }

    pub fn minute(self) -> u8 {
        self.0.minute()
    }

    pub fn second(self) -> u8 {
        self.0.second()
    }

    pub fn add_seconds(self, seconds: i64) -> DateTime {
        DateTime(self.0 + time::Duration::seconds(seconds))
    }

    pub fn parse(text: &str) -> Parsed<DateTime> {
        let t = text.trim();
        let bad = || FieldError::new("", format!("“{t}”不是有效时间，应为 yyyy-MM-dd HH:mm:ss"));
        let (date, clock) = match t.len() {
            19 if t.as_bytes()[10] == b' ' || t.as_bytes()[10] == b'T' => (&t[0..10], t[11..19].replace(':', "")),
            14 => (&t[0..8], t[8..14].to_owned()),
            10 | 8 => (t, "000000".to_owned()),
            _ => return Err(bad()),
        };
        if t.len() == 19 && (t.as_bytes()[13] != b':' || t.as_bytes()[16] != b':') {
            return Err(bad());
        }
        let date = Date::parse(date).map_err(|_| bad())?;
        if clock.len() != 6 || !clock.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let h: u8 = clock[0..2].parse().unwrap();
        let m: u8 = clock[2..4].parse().unwrap();
        let s: u8 = clock[4..6].parse().unwrap();
        let time = time::Time::from_hms(h, m, s).map_err(|_| bad())?;
        Ok(DateTime(PrimitiveDateTime::new(date.0, time)))
    }

    /// `yyyyMMddHHmmss`.
    pub fn compact(self) -> String {
        format!("{}{:02}{:02}{:02}", self.date().compact(), self.hour(), self.minute(), self.second())
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:02}:{:02}:{:02}", self.date(), self.hour(), self.minute(), self.second())
    }
}

impl fmt::Debug for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for DateTime {
    type Err = FieldError;
    fn from_str(s: &str) -> Parsed<DateTime> {
        DateTime::parse(s)
    }
}

impl Serialize for DateTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DateTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<DateTime, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse(&text).map_err(|e| serde::de::Error::custom(e.reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_both_formats() {
        assert_eq!(Date::parse("2026-02-28").unwrap().to_string(), "2026-02-28");
        assert_eq!(Date::parse("20260228").unwrap().to_string(), "2026-02-28");
        assert!(Date::parse("2026-02-30").is_err());
        assert!(Date::parse("2026/02/28").is_err());
        assert!(Date::parse("").is_err());
        let dt = DateTime::parse("2021-11-29 18:09:52").unwrap();
        assert_eq!(dt.to_string(), "2021-11-29 18:09:52");
        assert_eq!(DateTime::parse("20211129180952").unwrap(), dt);
        assert_eq!(dt.compact(), "20211129180952");
        assert!(DateTime::parse("2021-11-29 25:09:52").is_err());
        assert_eq!(DateTime::parse("2021-11-29").unwrap().to_string(), "2021-11-29 00:00:00");
    }

    #[test]
    fn month_arithmetic_clamps() {
        let d = Date::parse("2026-01-31").unwrap();
        assert_eq!(d.add_months(1).to_string(), "2026-02-28");
        assert_eq!(d.add_months(-2).to_string(), "2025-11-30");
        assert_eq!(d.add_months(12).to_string(), "2027-01-31");
    }

    #[test]
    fn age_counts_completed_years() {
        let birth = Date::parse("1960-03-15").unwrap();
        assert_eq!(birth.years_until(Date::parse("2026-03-14").unwrap()), 65);
        assert_eq!(birth.years_until(Date::parse("2026-03-15").unwrap()), 66);
    }

    #[test]
    fn unix_ms_is_china_time() {
        // 2021-11-29 10:09:52 UTC is 18:09:52 in Beijing.
        let dt = DateTime::from_unix_ms(1_638_180_592_000);
        assert_eq!(dt.to_string(), "2021-11-29 18:09:52");
        assert_eq!(dt.unix_seconds(), 1_638_180_592);
    }

    proptest! {
        #[test]
        fn days_round_trip(days in -40_000i32..80_000) {
            let d = Date::from_days_since_epoch(days);
            prop_assert_eq!(d.days_since_epoch(), days);
            prop_assert_eq!(Date::parse(&d.to_string()).unwrap(), d);
            prop_assert_eq!(Date::parse(&d.compact()).unwrap(), d);
        }
    }
}
