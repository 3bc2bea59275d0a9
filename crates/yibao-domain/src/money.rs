//! Money, exact ratios, quantities and prices, and the one rounding rule.
//!
//! Invariants:
//! - money is an integer number of fen (分) in [`Money`]; no floating point is
//!   ever used on a money path, not even to read a JSON number (serde_json's
//!   `arbitrary_precision` hands us the digits as text);
//! - ratios are integers in millionths ([`Ratio`]), so 96.1 % and 11.2 % are exact;
//! - every product that leaves the fen grid is rounded by [`round_half_up`],
//!   and complements are derived by subtraction, so parts always sum exactly
//!   to their whole.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};
use std::str::FromStr;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{FieldError, Parsed};

/// Rounds `numerator / denominator` to the nearest integer, halves away from
/// zero ("四舍五入"). This is the only rounding rule on money paths: every fund
/// payment, 先行自付 amount and price × quantity goes through it.
///
/// `denominator` must be positive.
pub fn round_half_up(numerator: i128, denominator: i128) -> i128 {
    assert!(denominator > 0, "denominator must be positive");
    let quotient = numerator / denominator;
    let remainder = numerator % denominator;
    // |remainder| * 2 >= denominator means the fraction is at least one half.
    if remainder.abs() * 2 >= denominator { quotient + numerator.signum() } else { quotient }
}

/// An amount of money in fen (分). Displays and parses as yuan with two decimals.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(i64);

impl Money {
    pub const ZERO: Money = Money(0);
    /// The largest amount accepted from outside: 16 digits with 2 decimals as the
    /// national interface defines money (`16,2`), i.e. just under 10^14 yuan.
    pub const INPUT_FEN_MAX: i64 = 9_999_999_999_999_999;

    pub const fn from_fen(fen: i64) -> Money {
        Money(fen)
    }

    pub const fn from_yuan(yuan: i64) -> Money {
        Money(yuan * 100)
    }

    pub const fn fen(self) -> i64 {
        self.0
    }

    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    pub const fn is_positive(self) -> bool {
        self.0 > 0
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).map(Money)
    }

    pub fn min(self, other: Money) -> Money {
        Money(self.0.min(other.0))
    }

    pub fn max(self, other: Money) -> Money {
        Money(self.0.max(other.0))
    }

    /// `max(self, 0)`.
    pub fn clamp_non_negative(self) -> Money {
        Money(self.0.max(0))
    }

    /// `self × ratio`, rounded half-up to the fen.
    pub fn mul_ratio(self, ratio: Ratio) -> Money {
        let product = i128::from(self.0) * i128::from(ratio.ppm());
        Money(to_i64(round_half_up(product, i128::from(Ratio::PPM_ONE))))
    }

    /// `price × quantity`, rounded half-up to the fen.
    pub fn price_times_quantity(price: UnitPrice, quantity: Quantity) -> Option<Money> {
        // price is in 1e-6 yuan = 1e-4 fen, quantity in 1e-4 units: divide by 1e8.
        let product = i128::from(price.0).checked_mul(i128::from(quantity.0))?;
        i64::try_from(round_half_up(product, 100_000_000)).ok().map(Money)
    }

    /// Parses yuan text: an optional minus sign, digits, and at most two
    /// decimals ("123.45", "-0.5", "100"). Trailing zeros beyond the second
    /// decimal are accepted because they do not add precision ("1.500").
    pub fn parse_yuan(text: &str) -> Parsed<Money> {
        let fen = parse_scaled(text, 2).map_err(|reason| FieldError::new("", reason))?;
        if fen.unsigned_abs() > Money::INPUT_FEN_MAX as u64 {
            return Err(FieldError::new("", "金额超出允许范围"));
        }
        Ok(Money(fen))
    }

    /// The amount as yuan text with exactly two decimals.
    pub fn to_yuan_string(self) -> String {
        self.to_string()
    }
}

fn to_i64(value: i128) -> i64 {
    i64::try_from(value).expect("money overflow: amounts are bounded at input")
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "¥{self}")
    }
}

impl FromStr for Money {
    type Err = FieldError;
    fn from_str(s: &str) -> Parsed<Money> {
        Money::parse_yuan(s)
    }
}

// Arithmetic panics on overflow in every build: amounts are bounded at input
// (INPUT_FEN_MAX, a bounded number of lines), so an overflow is a bug, and a
// wrong amount is worse than a crash.
impl Add for Money {
    type Output = Money;
    fn add(self, rhs: Money) -> Money {
        self.checked_add(rhs).expect("money overflow")
    }
}

impl Sub for Money {
    type Output = Money;
    fn sub(self, rhs: Money) -> Money {
        self.checked_sub(rhs).expect("money overflow")
    }
}

impl AddAssign for Money {
    fn add_assign(&mut self, rhs: Money) {
        *self = *self + rhs;
    }
}

impl SubAssign for Money {
    fn sub_assign(&mut self, rhs: Money) {
        *self = *self - rhs;
    }
}

impl Neg for Money {
    type Output = Money;
    fn neg(self) -> Money {
        Money(self.0.checked_neg().expect("money overflow"))
    }
}

impl Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, Add::add)
    }
}

impl<'a> Sum<&'a Money> for Money {
    fn sum<I: Iterator<Item = &'a Money>>(iter: I) -> Money {
        iter.copied().sum()
    }
}

/// Parses a decimal text into an integer scaled by 10^scale, exactly.
/// Digits beyond `scale` must be zeros. Returns the reason on failure.
fn parse_scaled(text: &str, scale: u32) -> Result<i64, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("不能为空".into());
    }
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int_part, frac_part) = match body.split_once('.') {
        Some((i, f)) => (i, f),
        None => (body, ""),
    };
    if int_part.is_empty() || !int_part.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("“{text}”不是有效的数字"));
    }
    if body.contains('.') && frac_part.is_empty() {
        return Err(format!("“{text}”不是有效的数字"));
    }
    if !frac_part.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("“{text}”不是有效的数字"));
    }
    let significant_frac = frac_part.trim_end_matches('0');
    if significant_frac.len() > scale as usize {
        return Err(format!("最多{scale}位小数"));
    }
    if int_part.len() > 18 {
        return Err("数值超出允许范围".into());
    }
    let mut value: i64 = 0;
    for b in int_part.bytes() {
        value = value.checked_mul(10).and_then(|v| v.checked_add(i64::from(b - b'0'))).ok_or("数值超出允许范围")?;
    }
    let mut frac_value: i64 = 0;
    for i in 0..scale as usize {
        let digit = significant_frac.as_bytes().get(i).map_or(0, |b| i64::from(b - b'0'));
        frac_value = frac_value * 10 + digit;
    }
    let scaled =
        value.checked_mul(10_i64.pow(scale)).and_then(|v| v.checked_add(frac_value)).ok_or("数值超出允许范围")?;
    Ok(if negative { -scaled } else { scaled })
}

/// The longest scaled decimal as text: a sign, "0." and 18 fraction digits
/// (or 19 digits and a point).
const SCALED_TEXT_BYTES_MAX: usize = 1 + 2 + 18;

/// The largest scale [`scaled_text`] writes (i64 has 19 digits).
const SCALE_MAX: u32 = 18;

/// An integer scaled by 10^scale as a decimal, dropping trailing zeros of
/// the fraction ("0.1", "12", "-0.05"), written into `buf` without the
/// formatting machinery, as [`money_text`] does for amounts: every line
/// answer carries a quantity, a price and a ratio (docs/performance.md,
/// fourteenth round).
fn scaled_text(value: i64, scale: u32, buf: &mut [u8; SCALED_TEXT_BYTES_MAX]) -> &str {
    assert!(scale <= SCALE_MAX, "scale out of range");
    let mut abs = value.unsigned_abs();
    let mut at = buf.len();
    // The fraction, last digit first; trailing zeros are not written.
    let mut fraction = false;
    for _ in 0..scale {
        let digit = (abs % 10) as u8;
        abs /= 10;
        if fraction || digit != 0 {
            at -= 1;
            buf[at] = b'0' + digit;
            fraction = true;
        }
    }
    if fraction {
        at -= 1;
        buf[at] = b'.';
    }
    at = digits_before(abs, buf, at);
    if value < 0 {
        at -= 1;
        buf[at] = b'-';
    }
    std::str::from_utf8(&buf[at..]).expect("ASCII digits")
}

/// Writes `n` in decimal into `buf`, its last digit just before `end`, and
/// returns where its first digit is: the digit loop of every number yibao
/// writes without the formatting machinery (decimals here, SQL placeholders
/// in the store). `buf` needs room for 20 digits before `end` (`u64::MAX`).
pub fn digits_before(mut n: u64, buf: &mut [u8], end: usize) -> usize {
    let mut at = end;
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return at;
        }
    }
}

/// [`scaled_text`] as a `String`.
fn format_scaled(value: i64, scale: u32) -> String {
    scaled_text(value, scale, &mut [0; SCALED_TEXT_BYTES_MAX]).to_owned()
}

/// A non-negative ratio in millionths: exact for any percentage with up to
/// four decimals (96.1 %, 11.2 %, 0.05 %). Ratios above one exist (DRG
/// coefficients), so the type does not cap at one; policy validation does
/// where a ratio is a share.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Ratio(u32);

impl Ratio {
    pub const PPM_ONE: u32 = 1_000_000;
    pub const ZERO: Ratio = Ratio(0);
    pub const ONE: Ratio = Ratio(Ratio::PPM_ONE);
    /// Upper bound accepted from outside (1000 %), far above any real coefficient.
    pub const PPM_MAX: u32 = 10 * Ratio::PPM_ONE;

    pub const fn from_ppm(ppm: u32) -> Ratio {
        Ratio(ppm)
    }

    /// From a whole percentage: `Ratio::percent(80)` is 80 %.
    pub const fn percent(percent: u32) -> Ratio {
        Ratio(percent * 10_000)
    }

    /// From basis points: `Ratio::basis_points(9610)` is 96.1 %.
    pub const fn basis_points(bp: u32) -> Ratio {
        Ratio(bp * 100)
    }

    pub const fn ppm(self) -> u32 {
        self.0
    }

    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub fn is_at_most_one(self) -> bool {
        self.0 <= Ratio::PPM_ONE
    }

    /// `1 − self`; only for shares (≤ 1).
    pub fn complement(self) -> Ratio {
        assert!(self.is_at_most_one(), "complement of a ratio above one");
        Ratio(Ratio::PPM_ONE - self.0)
    }

    pub fn saturating_add(self, other: Ratio) -> Ratio {
        Ratio(self.0.saturating_add(other.0))
    }

    pub fn saturating_sub(self, other: Ratio) -> Ratio {
        Ratio(self.0.saturating_sub(other.0))
    }

    /// Parses "80%", "96.1%", "0.8", "1" or "0.05".
    pub fn parse(text: &str) -> Parsed<Ratio> {
        let text = text.trim();
        let ppm = if let Some(percent) = text.strip_suffix('%') {
            parse_scaled(percent, 4).map_err(|r| FieldError::new("", format!("比例{r}")))?
        } else {
            parse_scaled(text, 6).map_err(|r| FieldError::new("", format!("比例{r}")))?
        };
        if ppm < 0 {
            return Err(FieldError::new("", "比例不能为负数"));
        }
        if ppm > i64::from(Ratio::PPM_MAX) {
            return Err(FieldError::new("", "比例超出允许范围"));
        }
        Ok(Ratio(ppm as u32))
    }

    /// The ratio as a decimal fraction: "0.8", "0.961", "1".
    pub fn to_decimal_string(self) -> String {
        format_scaled(i64::from(self.0), 6)
    }

    /// The ratio as a percentage: "80%", "96.1%".
    pub fn to_percent_string(self) -> String {
        format!("{}%", format_scaled(i64::from(self.0), 4))
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_percent_string())
    }
}

impl fmt::Debug for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_percent_string())
    }
}

impl FromStr for Ratio {
    type Err = FieldError;
    fn from_str(s: &str) -> Parsed<Ratio> {
        Ratio::parse(s)
    }
}

/// A quantity with four decimals (`16,4` in the national interface).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Quantity(i64);

impl Quantity {
    pub const SCALE: u32 = 4;
    pub const ONE: Quantity = Quantity(10_000);

    pub const fn from_ten_thousandths(value: i64) -> Quantity {
        Quantity(value)
    }

    pub const fn units(units: i64) -> Quantity {
        Quantity(units * 10_000)
    }

    pub const fn ten_thousandths(self) -> i64 {
        self.0
    }

    pub fn parse(text: &str) -> Parsed<Quantity> {
        parse_scaled(text, Self::SCALE).map(Quantity).map_err(|r| FieldError::new("", format!("数量{r}")))
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(scaled_text(self.0, Self::SCALE, &mut [0; SCALED_TEXT_BYTES_MAX]))
    }
}

impl fmt::Debug for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A unit price in yuan with six decimals (`16,6` in the national interface).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UnitPrice(i64);

impl UnitPrice {
    pub const SCALE: u32 = 6;

    pub const fn from_micro_yuan(value: i64) -> UnitPrice {
        UnitPrice(value)
    }

    pub const fn from_money(money: Money) -> UnitPrice {
        UnitPrice(money.fen() * 10_000)
    }

    pub const fn micro_yuan(self) -> i64 {
        self.0
    }

    pub fn parse(text: &str) -> Parsed<UnitPrice> {
        parse_scaled(text, Self::SCALE).map(UnitPrice).map_err(|r| FieldError::new("", format!("单价{r}")))
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }
}

impl fmt::Display for UnitPrice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(scaled_text(self.0, Self::SCALE, &mut [0; SCALED_TEXT_BYTES_MAX]))
    }
}

impl fmt::Debug for UnitPrice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

// ---------------------------------------------------------------------------
// serde: decimals travel as JSON numbers (exact, via arbitrary_precision) and
// are also accepted as strings ("12.50"), because real HIS clients send both.

/// The key serde_json uses to carry a number's digits through serde when
/// `arbitrary_precision` is on (and what buffered content such as
/// `#[serde(flatten)]` turns numbers into).
const JSON_NUMBER_TOKEN: &str = "$serde_json::private::Number";

struct DecimalText;

impl<'de> Visitor<'de> for DecimalText {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a decimal number or a string holding one")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_f64<E: de::Error>(self, _v: f64) -> Result<String, E> {
        // Only non-JSON formats (TOML floats) get here; refuse rather than
        // round a binary float.
        Err(E::custom("小数请写成字符串，例如 \"0.8\" 或 \"1300.00\""))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<String, A::Error> {
        match map.next_key::<String>()? {
            Some(key) if key == JSON_NUMBER_TOKEN => map.next_value::<String>(),
            _ => Err(de::Error::custom("expected a number")),
        }
    }
}

fn deserialize_decimal_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_any(DecimalText)
}

/// Writes decimal text as a JSON number: what `serde_json::Number` does
/// (feature `arbitrary_precision`), without parsing the text back into one.
/// The text is always ours and well formed (asserted in debug builds).
fn serialize_decimal<S: Serializer>(text: &str, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct;
    debug_assert!(serde_json::Number::from_str(text).is_ok(), "not a JSON number: {text}");
    let mut number = s.serialize_struct(JSON_NUMBER_TOKEN, 1)?;
    number.serialize_field(JSON_NUMBER_TOKEN, text)?;
    number.end()
}

/// The longest amount as text: a sign, 19 digits, a point and 2 decimals.
const MONEY_TEXT_BYTES_MAX: usize = 1 + 19 + 1 + 2;

/// An amount as yuan text ("-123.45"), written into `buf` without the
/// formatting machinery: every answer carries dozens of amounts (a 2204 of
/// ten lines, seventy), written inside the single writer's jobs.
fn money_text(fen: i64, buf: &mut [u8; MONEY_TEXT_BYTES_MAX]) -> &str {
    let mut abs = fen.unsigned_abs();
    let mut at = buf.len();
    for position in 0.. {
        at -= 1;
        if position == 2 {
            buf[at] = b'.';
            continue;
        }
        buf[at] = b'0' + (abs % 10) as u8;
        abs /= 10;
        if abs == 0 && position >= 3 {
            break;
        }
    }
    if fen < 0 {
        at -= 1;
        buf[at] = b'-';
    }
    std::str::from_utf8(&buf[at..]).expect("ASCII digits")
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; MONEY_TEXT_BYTES_MAX];
        serialize_decimal(money_text(self.0, &mut buf), s)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Money, D::Error> {
        let text = deserialize_decimal_text(d)?;
        Money::parse_yuan(&text).map_err(|e| de::Error::custom(e.reason))
    }
}

impl Serialize for Ratio {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_decimal(scaled_text(i64::from(self.0), 6, &mut [0; SCALED_TEXT_BYTES_MAX]), s)
    }
}

impl<'de> Deserialize<'de> for Ratio {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Ratio, D::Error> {
        let text = deserialize_decimal_text(d)?;
        Ratio::parse(&text).map_err(|e| de::Error::custom(e.reason))
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_decimal(scaled_text(self.0, Self::SCALE, &mut [0; SCALED_TEXT_BYTES_MAX]), s)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Quantity, D::Error> {
        let text = deserialize_decimal_text(d)?;
        Quantity::parse(&text).map_err(|e| de::Error::custom(e.reason))
    }
}

impl Serialize for UnitPrice {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_decimal(scaled_text(self.0, Self::SCALE, &mut [0; SCALED_TEXT_BYTES_MAX]), s)
    }
}

impl<'de> Deserialize<'de> for UnitPrice {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<UnitPrice, D::Error> {
        let text = deserialize_decimal_text(d)?;
        UnitPrice::parse(&text).map_err(|e| de::Error::custom(e.reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_yuan_exactly() {
        assert_eq!(Money::parse_yuan("123.45").unwrap().fen(), 12345);
        assert_eq!(Money::parse_yuan("0.5").unwrap().fen(), 50);
        assert_eq!(Money::parse_yuan("100").unwrap().fen(), 10000);
        assert_eq!(Money::parse_yuan("-0.05").unwrap().fen(), -5);
        assert_eq!(Money::parse_yuan("1.500").unwrap().fen(), 150);
        assert_eq!(Money::parse_yuan("0.10").unwrap().fen(), 10);
    }

    #[test]
    fn rejects_bad_yuan() {
        for bad in ["", "12.345", "1e3", "abc", "12.", ".5", "+1", "1,000", "1.2.3", "--1", "１２"] {
            assert!(Money::parse_yuan(bad).is_err(), "{bad} should be rejected");
        }
        let e = Money::parse_yuan("12.345").unwrap_err();
        assert!(e.reason.contains("最多2位小数"), "{e}");
        assert!(Money::parse_yuan("100000000000000000").is_err());
    }

    #[test]
    fn displays_two_decimals() {
        assert_eq!(Money::from_fen(12345).to_string(), "123.45");
        assert_eq!(Money::from_fen(5).to_string(), "0.05");
        assert_eq!(Money::from_fen(-5).to_string(), "-0.05");
        assert_eq!(Money::from_fen(-12345).to_string(), "-123.45");
        assert_eq!(Money::ZERO.to_string(), "0.00");
    }

    #[test]
    fn rounding_is_half_up_away_from_zero() {
        assert_eq!(round_half_up(5, 10), 1);
        assert_eq!(round_half_up(4, 10), 0);
        assert_eq!(round_half_up(15, 10), 2);
        assert_eq!(round_half_up(-5, 10), -1);
        assert_eq!(round_half_up(-4, 10), 0);
        assert_eq!(round_half_up(0, 10), 0);
        // The E12 trap: 545.50 × 5 % = 27.275 → 27.28.
        assert_eq!(Money::from_fen(54550).mul_ratio(Ratio::percent(5)).fen(), 2728);
        // 518.22 × 50 % = 259.11 exactly.
        assert_eq!(Money::from_fen(51822).mul_ratio(Ratio::percent(50)).fen(), 25911);
    }

    #[test]
    fn ratio_parses_percent_and_decimal() {
        assert_eq!(Ratio::parse("80%").unwrap(), Ratio::percent(80));
        assert_eq!(Ratio::parse("0.8").unwrap(), Ratio::percent(80));
        assert_eq!(Ratio::parse("96.1%").unwrap(), Ratio::basis_points(9610));
        assert_eq!(Ratio::parse("1").unwrap(), Ratio::ONE);
        assert_eq!(Ratio::parse("0.05").unwrap().to_percent_string(), "5%");
        assert_eq!(Ratio::basis_points(9610).to_decimal_string(), "0.961");
        assert!(Ratio::parse("-5%").is_err());
        assert!(Ratio::parse("abc").is_err());
        assert!(Ratio::parse("0.1234567").is_err());
    }

    #[test]
    fn price_times_quantity_rounds_once() {
        let price = UnitPrice::parse("3.333333").unwrap();
        let qty = Quantity::parse("3").unwrap();
        assert_eq!(Money::price_times_quantity(price, qty).unwrap().fen(), 1000);
        let price = UnitPrice::parse("12.5").unwrap();
        let qty = Quantity::parse("0.5").unwrap();
        assert_eq!(Money::price_times_quantity(price, qty).unwrap().fen(), 625);
    }

    #[test]
    fn json_round_trip_is_exact() {
        let m: Money = serde_json::from_str("16.23").unwrap();
        assert_eq!(m.fen(), 1623);
        let m: Money = serde_json::from_str("\"16.2\"").unwrap();
        assert_eq!(m.fen(), 1620);
        let m: Money = serde_json::from_str("7").unwrap();
        assert_eq!(m.fen(), 700);
        assert_eq!(serde_json::to_string(&Money::from_fen(1623)).unwrap(), "16.23");
        assert_eq!(serde_json::to_string(&Money::from_fen(-5)).unwrap(), "-0.05");
        assert!(serde_json::from_str::<Money>("16.234").is_err());
        let r: Ratio = serde_json::from_str("0.05").unwrap();
        assert_eq!(r, Ratio::percent(5));
        assert_eq!(serde_json::to_string(&r).unwrap(), "0.05");
        // Numbers buffered through serde's content (flatten, untagged) still work.
        #[derive(Deserialize)]
        struct Inner {
            amt: Money,
        }
        #[derive(Deserialize)]
        struct Outer {
            #[serde(flatten)]
            inner: Inner,
        }
        let o: Outer = serde_json::from_str(r#"{"amt": 1.25}"#).unwrap();
        assert_eq!(o.inner.amt.fen(), 125);
    }

    #[test]
    fn amounts_serialize_as_their_yuan_text() {
        for (fen, text) in
            [(0, "0.00"), (5, "0.05"), (-5, "-0.05"), (100, "1.00"), (12345, "123.45"), (-100_000, "-1000.00")]
        {
            assert_eq!(serde_json::to_string(&Money::from_fen(fen)).unwrap(), text);
        }
        assert_eq!(
            serde_json::to_string(&Money::from_fen(i64::MIN)).unwrap(),
            format!("{}", Money::from_fen(i64::MIN))
        );
        assert_eq!(serde_json::to_value(Money::from_fen(-120)).unwrap().to_string(), "-1.20");
    }

    /// The formatting `scaled_text` replaced, kept as its oracle.
    fn scaled_by_format(value: i64, scale: u32) -> String {
        let sign = if value < 0 { "-" } else { "" };
        let unit = 10_u64.pow(scale);
        let (int, frac) = (value.unsigned_abs() / unit, value.unsigned_abs() % unit);
        if frac == 0 {
            return format!("{sign}{int}");
        }
        let frac = format!("{frac:0width$}", width = scale as usize);
        format!("{sign}{int}.{}", frac.trim_end_matches('0'))
    }

    #[test]
    fn scaled_text_at_the_edges() {
        for (value, scale, text) in [
            (0, 4, "0"),
            (1, 4, "0.0001"),
            (-5, 2, "-0.05"),
            (10_000, 4, "1"),
            (12_500, 4, "1.25"),
            (i64::MIN, 0, "-9223372036854775808"),
            (i64::MIN, 18, "-9.223372036854775808"),
            (i64::MAX, 6, "9223372036854.775807"),
            (-1, 18, "-0.000000000000000001"),
        ] {
            assert_eq!(format_scaled(value, scale), text);
            assert_eq!(scaled_by_format(value, scale), text);
        }
    }

    proptest! {
        #[test]
        fn scaled_text_is_what_formatting_wrote(value in any::<i64>(), scale in 0u32..=SCALE_MAX) {
            prop_assert_eq!(format_scaled(value, scale), scaled_by_format(value, scale));
        }

        #[test]
        fn quantity_price_and_ratio_serialize_as_their_text(e4 in any::<i64>(), e6 in any::<i64>(), ppm in any::<u32>()) {
            let (q, p, r) = (Quantity::from_ten_thousandths(e4), UnitPrice::from_micro_yuan(e6), Ratio::from_ppm(ppm));
            prop_assert_eq!(serde_json::to_string(&q).unwrap(), scaled_by_format(e4, 4));
            prop_assert_eq!(serde_json::to_string(&p).unwrap(), scaled_by_format(e6, 6));
            prop_assert_eq!(serde_json::to_string(&r).unwrap(), scaled_by_format(i64::from(ppm), 6));
            prop_assert_eq!(q.to_string(), scaled_by_format(e4, 4));
            prop_assert_eq!(p.to_string(), scaled_by_format(e6, 6));
        }

        #[test]
        fn serialized_amount_is_the_display_text(fen in any::<i64>()) {
            let m = Money::from_fen(fen);
            prop_assert_eq!(serde_json::to_string(&m).unwrap(), m.to_string());
        }

        #[test]
        fn display_then_parse_is_identity(fen in -Money::INPUT_FEN_MAX..=Money::INPUT_FEN_MAX) {
            let m = Money::from_fen(fen);
            prop_assert_eq!(Money::parse_yuan(&m.to_string()).unwrap(), m);
        }

        #[test]
        fn ratio_text_round_trips(ppm in 0u32..=Ratio::PPM_MAX) {
            let r = Ratio::from_ppm(ppm);
            prop_assert_eq!(Ratio::parse(&r.to_decimal_string()).unwrap(), r);
        }

        #[test]
        fn ratio_and_complement_sum_to_whole(fen in 0i64..1_000_000_000_000, ppm in 0u32..=Ratio::PPM_ONE) {
            let m = Money::from_fen(fen);
            let part = m.mul_ratio(Ratio::from_ppm(ppm));
            prop_assert!(part >= Money::ZERO && part <= m);
            // The complement is derived by subtraction, never rounded on its own.
            prop_assert_eq!(part + (m - part), m);
            // Rounding moves at most half a fen from the exact product.
            let exact_times_2 = 2 * i128::from(fen) * i128::from(ppm);
            let rounded_times_2 = 2 * i128::from(part.fen()) * i128::from(Ratio::PPM_ONE);
            prop_assert!((exact_times_2 - rounded_times_2).abs() <= i128::from(Ratio::PPM_ONE));
        }

        #[test]
        fn round_half_up_is_symmetric(n in -1_000_000_000i128..1_000_000_000, d in 1i128..1_000_000) {
            prop_assert_eq!(round_half_up(-n, d), -round_half_up(n, d));
        }
    }
}
