//! Resource quantities (`k8s.io/apimachinery/pkg/api/resource.Quantity`) as
//! far as pods need them: parsing `500m`, `1Gi`, `2e3` into a comparable
//! value, so validation can check `requests <= limits` and the QoS class can
//! add requests up.

use std::cmp::Ordering;

/// Upstream's parse error text (`ErrFormatWrong`).
pub const QUANTITY_FORMAT_ERROR: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/// Nano units (10^-9) per unit: the finest scale a quantity keeps.
const NANO_PER_UNIT: i128 = 1_000_000_000;

/// A parsed quantity in nano units, rounded up like upstream rounds a value
/// finer than its smallest scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct ParsedQuantity(i128);

impl ParsedQuantity {
    pub const ZERO: ParsedQuantity = ParsedQuantity(0);

    /// Parses `text`; `Err` carries upstream's format message.
    pub fn parse(text: &str) -> Result<Self, String> {
        parse_nanos(text.trim())
            .map(ParsedQuantity)
            .ok_or_else(|| QUANTITY_FORMAT_ERROR.to_string())
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    pub fn is_positive(self) -> bool {
        self.0 > 0
    }

    /// Whether the value is a whole number of units.
    pub fn is_integer(self) -> bool {
        self.0 % NANO_PER_UNIT == 0
    }

    pub fn saturating_add(self, other: Self) -> Self {
        ParsedQuantity(self.0.saturating_add(other.0))
    }

    /// A whole number of units.
    pub fn from_units(units: i64) -> Self {
        ParsedQuantity(i128::from(units) * NANO_PER_UNIT)
    }

    pub fn checked_add(self, other: Self) -> Option<Self> {
        self.0.checked_add(other.0).map(ParsedQuantity)
    }

    pub fn checked_sub(self, other: Self) -> Option<Self> {
        self.0.checked_sub(other.0).map(ParsedQuantity)
    }

    /// The value in whole units, when it is whole and fits an `i64`.
    pub fn to_units(self) -> Option<i64> {
        if self.is_integer() {
            i64::try_from(self.0 / NANO_PER_UNIT).ok()
        } else {
            None
        }
    }

    /// -1, 0 or 1.
    pub fn signum(self) -> i64 {
        self.0.signum() as i64
    }

    pub fn cmp_value(self, other: Self) -> Ordering {
        self.0.cmp(&other.0)
    }

    /// The value in units, as a float (for ratios).
    pub fn to_f64(self) -> f64 {
        self.0 as f64 / NANO_PER_UNIT as f64
    }
}

/// The multiplier of a suffix, as a power of two or of ten.
enum Scale {
    Binary(u32),
    Decimal(i32),
}

fn suffix_scale(suffix: &str) -> Option<Scale> {
    Some(match suffix {
        "" => Scale::Decimal(0),
        "n" => Scale::Decimal(-9),
        "u" => Scale::Decimal(-6),
        "m" => Scale::Decimal(-3),
        "k" => Scale::Decimal(3),
        "M" => Scale::Decimal(6),
        "G" => Scale::Decimal(9),
        "T" => Scale::Decimal(12),
        "P" => Scale::Decimal(15),
        "E" => Scale::Decimal(18),
        "Ki" => Scale::Binary(10),
        "Mi" => Scale::Binary(20),
        "Gi" => Scale::Binary(30),
        "Ti" => Scale::Binary(40),
        "Pi" => Scale::Binary(50),
        "Ei" => Scale::Binary(60),
        exponent if exponent.starts_with(['e', 'E']) => {
            let digits = &exponent[1..];
            let unsigned = digits.strip_prefix(['+', '-']).unwrap_or(digits);
            if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Scale::Decimal(digits.parse().ok()?)
        }
        _ => return None,
    })
}

fn pow10(exp: u32) -> Option<i128> {
    10i128.checked_pow(exp)
}

/// The value of `text` in nano units, rounded up (away from zero for
/// positive values, as `RoundUp`); `None` when it is not a quantity or is
/// too large to compare.
fn parse_nanos(text: &str) -> Option<i128> {
    let (negative, rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let number_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(number_end);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
        return None;
    }
    // The digits as one integer, and how many of them are after the point.
    let digits = format!("{whole}{fraction}");
    let mantissa: i128 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    let fraction_digits = i32::try_from(fraction.len()).ok()?;
    let (mantissa, decimal_exp) = match suffix_scale(suffix)? {
        Scale::Binary(bits) => (mantissa.checked_mul(1i128 << bits)?, 0),
        Scale::Decimal(exp) => (mantissa, exp),
    };
    // value = mantissa * 10^(decimal_exp - fraction_digits) units
    //       = mantissa * 10^(decimal_exp - fraction_digits + 9) nanos.
    // In i64: an exponent such as `1e2147483647` must not wrap around (a
    // wrapped value would compare as a small one).
    let exp = i64::from(decimal_exp) - i64::from(fraction_digits) + 9;
    let nanos = if exp >= 0 {
        mantissa.checked_mul(pow10(u32::try_from(exp).ok()?)?)?
    } else {
        let divisor = pow10(u32::try_from(-exp).ok()?).unwrap_or(i128::MAX);
        let quotient = mantissa / divisor;
        if mantissa % divisor == 0 {
            quotient
        } else {
            quotient + 1
        }
    };
    Some(if negative { -nanos } else { nanos })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nanos(text: &str) -> i128 {
        ParsedQuantity::parse(text)
            .map(|q| q.0)
            .unwrap_or(i128::MIN)
    }

    #[test]
    fn parses_every_suffix_kind() {
        assert_eq!(nanos("1"), 1_000_000_000);
        assert_eq!(nanos("500m"), 500_000_000);
        assert_eq!(nanos("0.5"), 500_000_000);
        assert_eq!(nanos("1Ki"), 1024 * NANO_PER_UNIT);
        assert_eq!(nanos("1.5Gi"), 1_610_612_736 * NANO_PER_UNIT);
        assert_eq!(nanos("2e3"), 2000 * NANO_PER_UNIT);
        assert_eq!(nanos("1E-3"), 1_000_000);
        assert_eq!(nanos("128M"), 128_000_000 * NANO_PER_UNIT);
        assert_eq!(nanos("-1"), -NANO_PER_UNIT);
        assert_eq!(nanos("1n"), 1);
    }

    /// Exponents at the ends of i32 are too large (or too small) to
    /// represent, never a wrapped-around small value.
    #[test]
    fn extreme_exponents_do_not_wrap() {
        assert_eq!(nanos("1e2147483647"), i128::MIN, "too large is an error");
        assert_eq!(nanos("1e2147483639"), i128::MIN);
        assert_eq!(nanos("1e-2147483648"), 1, "too small rounds up to 1n");
        assert_eq!(nanos("0.5e-2147483648"), 1);
        let huge = ParsedQuantity::parse("1e40");
        assert!(huge.is_err(), "{huge:?}");
    }

    #[test]
    fn rounds_finer_than_nano_up() {
        assert_eq!(nanos("0.0000000001"), 1);
    }

    #[test]
    fn rejects_what_is_not_a_quantity() {
        for bad in ["", "abc", "1x", "1..2", "1e", "--1", "1Gb"] {
            assert_eq!(
                ParsedQuantity::parse(bad),
                Err(QUANTITY_FORMAT_ERROR.to_string()),
                "{bad}"
            );
        }
    }

    #[test]
    fn compares_across_units() {
        let a = ParsedQuantity::parse("1Gi").unwrap_or_default();
        let b = ParsedQuantity::parse("1000Mi").unwrap_or_default();
        assert_eq!(a.cmp_value(b), Ordering::Greater);
        let c = ParsedQuantity::parse("1000m").unwrap_or_default();
        let d = ParsedQuantity::parse("1").unwrap_or_default();
        assert_eq!(c.cmp_value(d), Ordering::Equal);
        assert!(d.is_integer());
        assert!(
            !ParsedQuantity::parse("1500m")
                .unwrap_or_default()
                .is_integer()
        );
    }
}
