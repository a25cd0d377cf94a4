//! CronJob schedules as upstream checks them (`cron.ParseStandard` of
//! robfig/cron v3): five fields (minute, hour, day of month, month, day of
//! week) of `*`, `?`, numbers, names, ranges, steps and lists, or a
//! descriptor (`@hourly`, `@every 1h30m`, ...), with an optional `TZ=` or
//! `CRON_TZ=` prefix. Only whether a schedule parses is needed, with
//! robfig's messages; nothing here computes run times. Linear in the
//! schedule's length.

/// One field's bounds and names.
struct Bounds {
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTES: Bounds = Bounds {
    min: 0,
    max: 59,
    names: &[],
};
const HOURS: Bounds = Bounds {
    min: 0,
    max: 23,
    names: &[],
};
const DAYS_OF_MONTH: Bounds = Bounds {
    min: 1,
    max: 31,
    names: &[],
};
/// Names start at the bound's minimum (`jan` is 1, `sun` is 0).
const MONTHS: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
};
const DAYS_OF_WEEK: Bounds = Bounds {
    min: 0,
    max: 6,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
};

const DESCRIPTORS: [&str; 7] = [
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];

/// Whether `schedule` parses as a standard cron schedule; the error is
/// robfig/cron's.
pub fn parse_standard(schedule: &str) -> Result<(), String> {
    if schedule.is_empty() {
        return Err("empty spec string".to_owned());
    }
    let mut spec = schedule;
    if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
        let (prefix, rest) = spec.split_once(' ').unwrap_or((spec, ""));
        let zone = prefix.split_once('=').map_or("", |(_, zone)| zone);
        if !super::time_zone::is_known(zone) {
            return Err(format!(
                "provided bad location {zone}: unknown time zone {zone}"
            ));
        }
        spec = rest.trim();
    }
    if spec.starts_with('@') {
        return parse_descriptor(spec);
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "expected exactly 5 fields, found {}: [{}]",
            fields.len(),
            fields.join(" ")
        ));
    }
    for (field, bounds) in
        fields
            .iter()
            .zip([&MINUTES, &HOURS, &DAYS_OF_MONTH, &MONTHS, &DAYS_OF_WEEK])
    {
        for expression in field.split(',') {
            parse_range(expression, bounds)?;
        }
    }
    Ok(())
}

fn parse_descriptor(descriptor: &str) -> Result<(), String> {
    if DESCRIPTORS.contains(&descriptor) {
        return Ok(());
    }
    if let Some(duration) = descriptor.strip_prefix("@every ") {
        return parse_go_duration(duration)
            .map_err(|why| format!("failed to parse duration {descriptor}: {why}"));
    }
    Err(format!("unrecognized descriptor: {descriptor}"))
}

/// `getRange`: `*`, `?`, `N`, `N-M`, each optionally `/STEP`.
fn parse_range(expression: &str, bounds: &Bounds) -> Result<(), String> {
    let mut slash = expression.split('/');
    let range = slash.next().unwrap_or_default();
    let step = slash.next();
    if slash.next().is_some() {
        return Err(format!("too many slashes: {expression}"));
    }
    let mut hyphen = range.split('-');
    let low = hyphen.next().unwrap_or_default();
    let high = hyphen.next();
    if hyphen.next().is_some() {
        return Err(format!("too many hyphens: {expression}"));
    }
    let (start, end) = if low == "*" || low == "?" {
        (bounds.min, bounds.max)
    } else {
        let start = parse_value(low, bounds)?;
        let end = match high {
            Some(high) => parse_value(high, bounds)?,
            None if step.is_some() => bounds.max,
            None => start,
        };
        (start, end)
    };
    if let Some(step) = step {
        let step = must_parse_int(step)?;
        if step == 0 {
            return Err(format!(
                "step of range should be a positive number: {expression}"
            ));
        }
    }
    if start < bounds.min {
        return Err(format!(
            "beginning of range ({start}) below minimum ({}): {expression}",
            bounds.min
        ));
    }
    if end > bounds.max {
        return Err(format!(
            "end of range ({end}) above maximum ({}): {expression}",
            bounds.max
        ));
    }
    if start > end {
        return Err(format!(
            "beginning of range ({start}) beyond end of range ({end}): {expression}"
        ));
    }
    Ok(())
}

/// `parseIntOrName`: a field's name (any case) or a number.
fn parse_value(text: &str, bounds: &Bounds) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    if let Some(index) = bounds.names.iter().position(|name| *name == lower) {
        return Ok(bounds.min + index as u32);
    }
    must_parse_int(text)
}

/// `mustParseInt`.
fn must_parse_int(text: &str) -> Result<u32, String> {
    let number: i64 = text.parse().map_err(|_| {
        format!("failed to parse int from {text}: strconv.Atoi: parsing {text:?}: invalid syntax")
    })?;
    u32::try_from(number).map_err(|_| format!("negative number ({number}) not allowed: {text}"))
}

/// Whether `text` is a Go duration (`time.ParseDuration`): a sequence of
/// decimal numbers with units `ns`, `us`, `µs`, `ms`, `s`, `m`, `h`.
fn parse_go_duration(text: &str) -> Result<(), String> {
    let invalid = || format!("time: invalid duration {text:?}");
    let body = text.strip_prefix(['+', '-']).unwrap_or(text);
    if body == "0" {
        return Ok(());
    }
    if body.is_empty() {
        return Err(invalid());
    }
    let mut rest = body;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if digits == 0 || rest[..digits].chars().all(|c| c == '.') {
            return Err(invalid());
        }
        rest = &rest[digits..];
        let unit = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        if unit == 0 {
            return Err(format!("time: missing unit in duration {text:?}"));
        }
        if !["ns", "us", "µs", "μs", "ms", "s", "m", "h"].contains(&&rest[..unit]) {
            return Err(format!(
                "time: unknown unit {:?} in duration {text:?}",
                &rest[..unit]
            ));
        }
        rest = &rest[unit..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_schedules_parse() {
        for schedule in [
            "*/1 * * * *",
            "0 0 * * *",
            "5 4 * * sun",
            "0 22 * * 1-5",
            "0 0,12 1 */2 *",
            "15 2 ? JAN-MAR MON/2",
            "@hourly",
            "@every 1h30m",
            "TZ=UTC 0 1 * * *",
        ] {
            assert_eq!(parse_standard(schedule), Ok(()), "{schedule}");
        }
    }

    #[test]
    fn bad_schedules_get_robfigs_messages() {
        let cases = [
            ("", "empty spec string"),
            ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
            ("60 * * * *", "end of range (60) above maximum (59): 60"),
            ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
            (
                "5-1 * * * *",
                "beginning of range (5) beyond end of range (1): 5-1",
            ),
            (
                "*/0 * * * *",
                "step of range should be a positive number: */0",
            ),
            (
                "x * * * *",
                "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax",
            ),
            ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
            ("@fortnightly", "unrecognized descriptor: @fortnightly"),
            (
                "@every 5 minutes",
                "failed to parse duration @every 5 minutes: time: unknown unit \" minutes\" in duration \"5 minutes\"",
            ),
        ];
        for (schedule, message) in cases {
            assert_eq!(
                parse_standard(schedule),
                Err(message.to_owned()),
                "{schedule}"
            );
        }
    }
}
