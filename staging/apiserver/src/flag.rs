//! Flag value types with Go's (pflag's) syntax: durations (`1m0s`, `90s`,
//! `1h`), booleans (`true`, `t`, `1`, ...), `key=value` maps and port ranges.
//! Values parse into types here; range checks live in each option group's
//! `validate`, so a negative duration parses and is reported with the others.

use std::fmt;
use std::str::FromStr;
use std::time::Duration as StdDuration;

/// A Go `time.Duration`: signed nanoseconds, printed the way Go prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Duration {
    nanos: i64,
}

impl Duration {
    pub const ZERO: Duration = Duration { nanos: 0 };

    pub const fn from_secs(secs: i64) -> Self {
        Duration {
            nanos: secs * 1_000_000_000,
        }
    }

    pub const fn from_millis(millis: i64) -> Self {
        Duration {
            nanos: millis * 1_000_000,
        }
    }

    pub const fn is_negative(self) -> bool {
        self.nanos < 0
    }

    pub const fn as_nanos(self) -> i64 {
        self.nanos
    }

    /// The duration as a std one; negative durations become zero.
    pub fn to_std(self) -> StdDuration {
        StdDuration::from_nanos(u64::try_from(self.nanos).unwrap_or(0))
    }
}

/// Why a Go duration did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationError(String);

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "time: invalid duration {:?}", self.0)
    }
}

impl std::error::Error for DurationError {}

impl FromStr for Duration {
    type Err = DurationError;

    /// `time.ParseDuration`: an optional sign, then one or more decimal numbers
    /// each with a unit (ns, us, µs, ms, s, m, h); "0" alone is allowed.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let invalid = || DurationError(input.to_string());
        let (negative, mut rest) = match input.as_bytes().first() {
            Some(b'-') => (true, &input[1..]),
            Some(b'+') => (false, &input[1..]),
            _ => (false, input),
        };
        if rest == "0" {
            return Ok(Duration::ZERO);
        }
        if rest.is_empty() {
            return Err(invalid());
        }
        let mut total: f64 = 0.0;
        while !rest.is_empty() {
            let number_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(invalid)?;
            let number: f64 = rest[..number_len].parse().map_err(|_| invalid())?;
            rest = &rest[number_len..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(rest.len());
            let unit_nanos = match &rest[..unit_len] {
                "ns" => 1.0,
                "us" | "µs" | "μs" => 1e3,
                "ms" => 1e6,
                "s" => 1e9,
                "m" => 60e9,
                "h" => 3600e9,
                _ => return Err(invalid()),
            };
            rest = &rest[unit_len..];
            total += number * unit_nanos;
        }
        if total > i64::MAX as f64 {
            return Err(invalid());
        }
        let nanos = total.round() as i64;
        Ok(Duration {
            nanos: if negative { -nanos } else { nanos },
        })
    }
}

impl fmt::Display for Duration {
    /// `time.Duration.String`: `1h0m0s`, `1m30s`, `5s`, `1.5s`, `300ms`, `0s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.nanos < 0 { "-" } else { "" };
        let n = self.nanos.unsigned_abs();
        if n == 0 {
            return f.write_str("0s");
        }
        if n < 1_000_000_000 {
            let (value, unit) = if n < 1_000 {
                return write!(f, "{sign}{n}ns");
            } else if n < 1_000_000 {
                (n as f64 / 1e3, "µs")
            } else {
                (n as f64 / 1e6, "ms")
            };
            return write!(f, "{sign}{value}{unit}");
        }
        let hours = n / 3_600_000_000_000;
        let minutes = (n / 60_000_000_000) % 60;
        let secs = (n % 60_000_000_000) as f64 / 1e9;
        write!(f, "{sign}")?;
        if hours > 0 {
            write!(f, "{hours}h{minutes}m")?;
        } else if minutes > 0 {
            write!(f, "{minutes}m")?;
        }
        write!(f, "{secs}s")
    }
}

/// pflag's boolean syntax (`strconv.ParseBool`).
pub fn parse_bool(input: &str) -> Result<bool, String> {
    match input {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!(
            "strconv.ParseBool: parsing {input:?}: invalid syntax"
        )),
    }
}

/// One `key=value` entry of a map flag (`--feature-gates`, `--runtime-config`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

impl FromStr for KeyValue {
    type Err = String;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let (key, value) = input
            .split_once('=')
            .ok_or_else(|| format!("{input:?} must be formatted as key=value"))?;
        Ok(KeyValue {
            key: key.trim().to_string(),
            value: value.trim().to_string(),
        })
    }
}

/// An inclusive port range, `30000-32767` (a single port or `base+size` too,
/// as `utilnet.PortRange` accepts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub base: u16,
    pub size: u32,
}

impl PortRange {
    pub fn contains(&self, port: i64) -> bool {
        let base = i64::from(self.base);
        port >= base && port < base + i64::from(self.size)
    }
}

impl FromStr for PortRange {
    type Err = String;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let bad = || format!("unable to parse port range: {input}");
        let port = |s: &str| s.trim().parse::<u16>().map_err(|_| bad());
        let range = if let Some((low, high)) = input.split_once('-') {
            let (low, high) = (port(low)?, port(high)?);
            if high < low {
                return Err(format!(
                    "invalid port range {input}: end port is lower than the start port"
                ));
            }
            PortRange {
                base: low,
                size: u32::from(high) - u32::from(low) + 1,
            }
        } else if let Some((low, size)) = input.split_once('+') {
            let low = port(low)?;
            let size: u32 = size.trim().parse().map_err(|_| bad())?;
            if u32::from(low) + size > 65536 {
                return Err(bad());
            }
            PortRange { base: low, size }
        } else {
            PortRange {
                base: port(input)?,
                size: 1,
            }
        };
        if range.base == 0 && range.size > 0 {
            return Err(format!(
                "invalid port range {input}: ports must be greater than zero"
            ));
        }
        Ok(range)
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.size == 0 {
            return Ok(());
        }
        write!(f, "{}-{}", self.base, u32::from(self.base) + self.size - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_go_syntax() {
        let cases = [
            ("1m0s", 60_000_000_000),
            ("90s", 90_000_000_000),
            ("1h", 3_600_000_000_000),
            ("1h30m", 5_400_000_000_000),
            ("1.5s", 1_500_000_000),
            ("300ms", 300_000_000),
            ("10us", 10_000),
            ("0", 0),
            ("-1s", -1_000_000_000),
        ];
        for (input, nanos) in cases {
            let parsed: Duration = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(parsed.as_nanos(), nanos, "{input}");
        }
        for bad in ["", "1", "s", "1x", "1h-5m", "abc", "-"] {
            assert!(bad.parse::<Duration>().is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn durations_print_like_go() {
        let cases = [
            (Duration::from_secs(60), "1m0s"),
            (Duration::from_secs(3600), "1h0m0s"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(5), "5s"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_millis(300), "300ms"),
            (Duration::ZERO, "0s"),
            (Duration::from_secs(-5), "-5s"),
        ];
        for (duration, text) in cases {
            assert_eq!(duration.to_string(), text);
        }
    }

    #[test]
    fn bools_and_port_ranges() {
        assert_eq!(parse_bool("t"), Ok(true));
        assert_eq!(parse_bool("False"), Ok(false));
        assert!(parse_bool("yes").is_err());
        let range: PortRange = "30000-32767".parse().unwrap();
        assert_eq!(range.to_string(), "30000-32767");
        assert!(range.contains(30000) && range.contains(32767) && !range.contains(32768));
        assert!("32767-30000".parse::<PortRange>().is_err());
        assert!("a-b".parse::<PortRange>().is_err());
        assert_eq!("8080".parse::<PortRange>().unwrap().size, 1);
    }
}
