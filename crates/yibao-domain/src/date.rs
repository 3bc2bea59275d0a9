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

    /// `yyyy-MM-dd` or `yyyyMMdd`, surrounding whitespace ignored. Parsed
    /// from the bytes, without an allocation: dates are read from every
    /// stored row and every message (docs/performance.md, thirteenth round).
    pub fn parse(text: &str) -> Parsed<Date> {
        let t = text.trim();
        let bad = || FieldError::new("", format!("“{t}”不是有效日期，应为 yyyy-MM-dd"));
        let b = t.as_bytes();
        let (year, month, day) = match b.len() {
            10 if b[4] == b'-' && b[7] == b'-' => (digits(&b[0..4]), digits(&b[5..7]), digits(&b[8..10])),
            8 => (digits(&b[0..4]), digits(&b[4..6]), digits(&b[6..8])),
            _ => return Err(bad()),
        };
        let (Some(year), Some(month), Some(day)) = (year, month, day) else {
            return Err(bad());
        };
        Date::from_ymd(year as i32, month as u8, day as u8)
            .map_err(|_| FieldError::new("", format!("“{t}”不是有效日期")))
    }

    /// `yyyyMMdd`.
    pub fn compact(self) -> String {
        match self.ascii() {
            Some(b) => [&b[0..4], &b[5..7], &b[8..10]].concat().into_iter().map(char::from).collect(),
            None => format!("{:04}{:02}{:02}", self.year(), self.month(), self.day()),
        }
    }

    /// `yyyy-MM-dd` as bytes, written without the formatting machinery
    /// (`write!` with padded fields cost ten times as much, and dates are
    /// written into every row and answer); None for a year outside
    /// 0..=9999, which callers write the slow way.
    fn ascii(self) -> Option<[u8; 10]> {
        let year = u32::try_from(self.year()).ok().filter(|y| *y <= 9999)?;
        let mut buf = *b"0000-00-00";
        put_digits(&mut buf[0..4], year);
        put_digits(&mut buf[5..7], u32::from(self.month()));
        put_digits(&mut buf[8..10], u32::from(self.day()));
        Some(buf)
    }
}

impl fmt::Display for Date {
    /// `yyyy-MM-dd`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ascii() {
            Some(b) => f.write_str(std::str::from_utf8(&b).expect("ASCII digits")),
            None => write!(f, "{:04}-{:02}-{:02}", self.year(), self.month(), self.day()),
        }
    }
}

/// Digits of an unsigned decimal field; None if any byte is not a digit.
fn digits(bytes: &[u8]) -> Option<u32> {
    bytes.iter().try_fold(0u32, |n, &b| b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0')))
}

/// Writes `value` as `buf.len()` zero-padded digits (the value fits).
fn put_digits(buf: &mut [u8], mut value: u32) {
    for slot in buf.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
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

    /// `yyyy-MM-dd HH:mm:ss` (or `T` between), `yyyyMMddHHmmss`, or a date
    /// alone (midnight). Parsed from the bytes, without an allocation.
    pub fn parse(text: &str) -> Parsed<DateTime> {
        let t = text.trim();
        let bad = || FieldError::new("", format!("“{t}”不是有效时间，应为 yyyy-MM-dd HH:mm:ss"));
        if !t.is_ascii() {
            // Also keeps the slices below on character boundaries.
            return Err(bad());
        }
        let b = t.as_bytes();
        let (date, clock) = match b.len() {
            19 if (b[10] == b' ' || b[10] == b'T') && b[13] == b':' && b[16] == b':' => {
                (&t[0..10], [digits(&b[11..13]), digits(&b[14..16]), digits(&b[17..19])])
            }
            14 => (&t[0..8], [digits(&b[8..10]), digits(&b[10..12]), digits(&b[12..14])]),
            10 | 8 => (t, [Some(0); 3]),
            _ => return Err(bad()),
        };
        let date = Date::parse(date).map_err(|_| bad())?;
        let [Some(h), Some(m), Some(s)] = clock else {
            return Err(bad());
        };
        let time = time::Time::from_hms(h as u8, m as u8, s as u8).map_err(|_| bad())?;
        Ok(DateTime(PrimitiveDateTime::new(date.0, time)))
    }

    /// `yyyyMMddHHmmss`.
    pub fn compact(self) -> String {
        match self.ascii() {
            Some(b) => [&b[0..4], &b[5..7], &b[8..10], &b[11..13], &b[14..16], &b[17..19]]
                .concat()
                .into_iter()
                .map(char::from)
                .collect(),
            None => format!("{}{:02}{:02}{:02}", self.date().compact(), self.hour(), self.minute(), self.second()),
        }
    }

    /// `yyyy-MM-dd HH:mm:ss` as bytes, as [`Date::ascii`].
    fn ascii(self) -> Option<[u8; 19]> {
        let mut buf = *b"0000-00-00 00:00:00";
        buf[0..10].copy_from_slice(&self.date().ascii()?);
        put_digits(&mut buf[11..13], u32::from(self.hour()));
        put_digits(&mut buf[14..16], u32::from(self.minute()));
        put_digits(&mut buf[17..19], u32::from(self.second()));
        Some(buf)
    }
}

impl fmt::Display for DateTime {
    /// `yyyy-MM-dd HH:mm:ss`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ascii() {
            Some(b) => f.write_str(std::str::from_utf8(&b).expect("ASCII digits")),
            None => write!(f, "{} {:02}:{:02}:{:02}", self.date(), self.hour(), self.minute(), self.second()),
        }
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
        fn written_as_zero_padded_fields_and_read_back(ms in -2_000_000_000_000i64..4_000_000_000_000) {
            let dt = DateTime::from_unix_ms(ms);
            let (d, text) = (dt.date(), dt.to_string());
            let fields = format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
                d.year(), d.month(), d.day(), dt.hour(), dt.minute(), dt.second()
            );
            prop_assert_eq!(&text, &fields);
            prop_assert_eq!(d.to_string(), &fields[..10]);
            prop_assert_eq!(DateTime::parse(&text).unwrap(), dt);
            prop_assert_eq!(DateTime::parse(&text.replace(' ', "T")).unwrap(), dt);
            prop_assert_eq!(DateTime::parse(&dt.compact()).unwrap(), dt);
        }

        #[test]
        fn any_text_parses_or_is_refused_without_panic(text in "\\PC{0,22}") {
            let _ = Date::parse(&text);
            let _ = DateTime::parse(&text);
        }

        #[test]
        fn days_round_trip(days in -40_000i32..80_000) {
            let d = Date::from_days_since_epoch(days);
            prop_assert_eq!(d.days_since_epoch(), days);
            prop_assert_eq!(Date::parse(&d.to_string()).unwrap(), d);
            prop_assert_eq!(Date::parse(&d.compact()).unwrap(), d);
        }
    }
}
