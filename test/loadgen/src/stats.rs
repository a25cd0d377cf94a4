//! Latency summaries: count, p50, p99, p99.9 and max of a set of samples
//! (nearest-rank percentiles, so each is a latency that was measured and
//! they are ordered by construction).

use std::fmt;
use std::time::Duration;

/// The distribution of one measurement's latencies.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub count: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub p999: Duration,
    pub max: Duration,
}

impl Summary {
    /// The summary of `samples` (sorted in place); none when empty.
    pub fn of(samples: &mut [Duration]) -> Option<Summary> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        Some(Summary {
            count: samples.len(),
            p50: percentile(samples, 0.50),
            p99: percentile(samples, 0.99),
            p999: percentile(samples, 0.999),
            max: samples[samples.len() - 1],
        })
    }

    /// Whether p50 ≤ p99 ≤ p99.9 ≤ max.
    pub fn is_ordered(&self) -> bool {
        self.p50 <= self.p99 && self.p99 <= self.p999 && self.p999 <= self.max
    }
}

/// The nearest-rank percentile `p` (0..=1) of sorted, non-empty `samples`.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Milliseconds with two decimals.
pub fn ms(duration: Duration) -> String {
    format!("{:.2}", duration.as_secs_f64() * 1000.0)
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "n={} p50={} ms p99={} ms p99.9={} ms max={} ms",
            self.count,
            ms(self.p50),
            ms(self.p99),
            ms(self.p999),
            ms(self.max)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut samples: Vec<Duration> = (1..=1000).rev().map(Duration::from_millis).collect();
        let summary = Summary::of(&mut samples).unwrap();
        assert_eq!(summary.count, 1000);
        assert_eq!(summary.p50, Duration::from_millis(500));
        assert_eq!(summary.p99, Duration::from_millis(990));
        assert_eq!(summary.p999, Duration::from_millis(999));
        assert_eq!(summary.max, Duration::from_millis(1000));
        assert!(summary.is_ordered());
    }

    #[test]
    fn one_sample_and_none() {
        let mut one = vec![Duration::from_millis(7)];
        let summary = Summary::of(&mut one).unwrap();
        assert_eq!(
            (summary.p50, summary.p999, summary.max),
            (one[0], one[0], one[0])
        );
        assert!(Summary::of(&mut []).is_none());
    }
}
