//! The one markdown table a run prints: the method line (machine cores,
//! binary, storage, protocol and connections, concurrency) above it, then
//! one row per measurement: count, rate, p50/p99/p99.9/max latency, and a
//! value column for what is not a latency (sizes, memory, ratios, errors).

use std::fmt;

use crate::stats::{Summary, ms};

/// One row.
#[derive(Clone, Debug, Default)]
pub struct Row {
    pub measurement: String,
    pub count: Option<u64>,
    pub rate: Option<f64>,
    pub summary: Option<Summary>,
    pub value: String,
}

/// The table and its method line.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub method: String,
    pub rows: Vec<Row>,
}

const HEADER: [&str; 8] = [
    "measurement",
    "n",
    "rate/s",
    "p50 ms",
    "p99 ms",
    "p99.9 ms",
    "max ms",
    "value",
];

impl Report {
    pub fn new(method: impl Into<String>) -> Report {
        Report {
            method: method.into(),
            rows: Vec::new(),
        }
    }

    /// A row of latencies.
    pub fn latency(
        &mut self,
        measurement: impl Into<String>,
        rate: Option<f64>,
        summary: Option<Summary>,
        value: impl Into<String>,
    ) {
        self.rows.push(Row {
            measurement: measurement.into(),
            count: summary.map(|s| s.count as u64),
            rate,
            summary,
            value: value.into(),
        });
    }

    /// A row with only a value.
    pub fn value(&mut self, measurement: impl Into<String>, value: impl Into<String>) {
        self.rows.push(Row {
            measurement: measurement.into(),
            value: value.into(),
            ..Row::default()
        });
    }

    fn cells(row: &Row) -> [String; 8] {
        let latency = |pick: fn(&Summary) -> std::time::Duration| {
            row.summary
                .as_ref()
                .map(|s| ms(pick(s)))
                .unwrap_or_default()
        };
        [
            row.measurement.clone(),
            row.count.map(|n| n.to_string()).unwrap_or_default(),
            row.rate.map(|r| format!("{r:.0}")).unwrap_or_default(),
            latency(|s| s.p50),
            latency(|s| s.p99),
            latency(|s| s.p999),
            latency(|s| s.max),
            row.value.clone(),
        ]
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.method)?;
        writeln!(f)?;
        let rows: Vec<[String; 8]> = self.rows.iter().map(Report::cells).collect();
        let mut widths = HEADER.map(|h| h.chars().count());
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let line = |f: &mut fmt::Formatter<'_>, cells: &[String]| -> fmt::Result {
            write!(f, "|")?;
            for (column, (cell, width)) in cells.iter().zip(widths).enumerate() {
                // Numbers right-aligned, text left-aligned.
                if (1..=6).contains(&column) {
                    write!(f, " {cell:>width$} |")?;
                } else {
                    write!(f, " {cell:<width$} |")?;
                }
            }
            writeln!(f)
        };
        line(f, &HEADER.map(str::to_owned))?;
        write!(f, "|")?;
        for (column, width) in widths.iter().enumerate() {
            let dashes = "-".repeat(*width);
            if (1..=6).contains(&column) {
                write!(f, "{dashes}-:|")?;
            } else {
                write!(f, "-{dashes}-|")?;
            }
        }
        writeln!(f)?;
        for row in &rows {
            line(f, row)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn one_table_under_its_method_line() {
        let mut report = Report::new("method: 2 cores");
        let summary = Summary::of(&mut [Duration::from_millis(1), Duration::from_millis(3)]);
        report.latency("pod creates", Some(1234.4), summary, "all 201");
        report.value("RSS idle", "20.0 MiB");
        let text = report.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "method: 2 cores");
        assert!(lines[2].starts_with("| measurement"));
        assert!(lines[3].starts_with("|--"));
        assert!(lines[4].contains(" 1234 |") && lines[4].contains("3.00"));
        assert!(lines[5].contains("20.0 MiB"));
        assert!(
            lines[2..]
                .iter()
                .all(|l| l.starts_with('|') && l.ends_with('|'))
        );
    }
}
