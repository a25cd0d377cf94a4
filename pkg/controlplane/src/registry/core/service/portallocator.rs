//! Node port allocation from `--service-node-port-range`
//! (`pkg/registry/core/service/portallocator`): a bitmap over the range's
//! ports, with upstream's error messages. Ports are `i32` as the API carries
//! them, so an out-of-range request gets the range error and not a
//! conversion error.

use std::fmt;
use std::ops::RangeInclusive;

use super::bitmap::Bitmap;

/// Why a port could not be allocated (`portallocator.ErrNotInRange`,
/// `ErrAllocated`, `ErrFull`); `Display` is upstream's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllocationError {
    /// `range` as upstream prints it: `30000-32767`.
    NotInRange {
        range: String,
    },
    Allocated,
    Full,
}

impl fmt::Display for AllocationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllocationError::NotInRange { range } => write!(
                f,
                "provided port is not in the valid range. The range of valid ports is {range}"
            ),
            AllocationError::Allocated => f.write_str("provided port is already allocated"),
            AllocationError::Full => f.write_str("range is full"),
        }
    }
}

impl std::error::Error for AllocationError {}

/// The ports of one range and which of them are taken.
#[derive(Debug, Clone)]
pub struct Allocator {
    range: RangeInclusive<u16>,
    used: Bitmap,
}

impl Allocator {
    /// An allocator over `range` with every port free (an empty range, end
    /// before start, has no ports).
    pub fn new(range: RangeInclusive<u16>) -> Self {
        let size = if range.is_empty() {
            0
        } else {
            usize::from(*range.end() - *range.start()) + 1
        };
        Allocator {
            used: Bitmap::new(size, dynamic_band_start(size)),
            range,
        }
    }

    pub fn range(&self) -> RangeInclusive<u16> {
        self.range.clone()
    }

    /// Reserves `port`.
    pub fn allocate(&mut self, port: i32) -> Result<(), AllocationError> {
        let offset = self.offset_of(port)?;
        if self.used.set(offset) {
            Ok(())
        } else {
            Err(AllocationError::Allocated)
        }
    }

    /// What [`Allocator::allocate`] would answer, without reserving.
    pub fn check(&self, port: i32) -> Result<(), AllocationError> {
        let offset = self.offset_of(port)?;
        if self.used.has(offset) {
            Err(AllocationError::Allocated)
        } else {
            Ok(())
        }
    }

    /// Reserves a free port.
    pub fn allocate_next(&mut self) -> Result<i32, AllocationError> {
        let offset = self.used.take_next().ok_or(AllocationError::Full)?;
        Ok(self.port_at(offset))
    }

    /// Gives `port` back; a port outside the range or not reserved is
    /// ignored, as upstream.
    pub fn release(&mut self, port: i32) {
        if let Ok(offset) = self.offset_of(port) {
            self.used.clear(offset);
        }
    }

    /// Whether `port` is reserved.
    pub fn has(&self, port: i32) -> bool {
        self.offset_of(port)
            .map(|offset| self.used.has(offset))
            .unwrap_or(false)
    }

    pub fn contains(&self, port: i32) -> bool {
        self.offset_of(port).is_ok()
    }

    /// Every reserved port.
    pub fn allocated(&self) -> impl Iterator<Item = i32> + '_ {
        self.used.used_offsets().map(|offset| self.port_at(offset))
    }

    /// How many ports are left.
    pub fn free(&self) -> usize {
        self.used.free()
    }

    /// How many ports are reserved.
    pub fn used(&self) -> usize {
        self.used.used()
    }

    /// How many ports the range holds.
    pub fn size(&self) -> usize {
        self.used.size()
    }

    /// The stored form (a `RangeAllocation`'s `range` and `data`), the
    /// range as upstream's `PortRange` prints it (`30000-32767`).
    pub fn snapshot(&self) -> (String, Vec<u8>) {
        (self.range_text(), self.used.to_bytes())
    }

    /// Takes the reserved ports from a stored snapshot; `false` (and
    /// nothing changed) when it describes another range.
    pub fn restore(&mut self, range: &str, data: &[u8]) -> bool {
        range == self.range_text() && self.used.load_bytes(data).is_ok()
    }

    fn offset_of(&self, port: i32) -> Result<usize, AllocationError> {
        u16::try_from(port)
            .ok()
            .filter(|port| self.range.contains(port))
            .map(|port| usize::from(port - *self.range.start()))
            .ok_or_else(|| AllocationError::NotInRange {
                range: self.range_text(),
            })
    }

    fn port_at(&self, offset: usize) -> i32 {
        i32::from(*self.range.start()) + offset as i32
    }

    /// `net.PortRange.String()`: `base-last`, empty for an empty range.
    fn range_text(&self) -> String {
        if self.range.is_empty() {
            String::new()
        } else {
            format!("{}-{}", self.range.start(), self.range.end())
        }
    }
}

/// Upstream's `calculateRangeOffset` for ports: the low band kept for
/// requested ports is `min(max(16, size/32), 128)`, none for ranges of 16
/// ports or fewer.
fn dynamic_band_start(size: usize) -> usize {
    const MIN: usize = 16;
    const MAX: usize = 128;
    const STEP: usize = 32;
    if size <= MIN {
        return 0;
    }
    (size / STEP).clamp(MIN, MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_range_messages() {
        let mut ports = Allocator::new(30000..=32767);
        assert_eq!(ports.size(), 2768);
        assert_eq!(ports.allocate(30080), Ok(()));
        assert!(ports.has(30080));
        assert_eq!(
            ports.allocate(30080).unwrap_err().to_string(),
            "provided port is already allocated"
        );
        for outside in [80, 29999, 32768, -1, 70000] {
            assert_eq!(
                ports.allocate(outside).unwrap_err().to_string(),
                "provided port is not in the valid range. The range of valid ports is 30000-32767",
                "port {outside}"
            );
        }
        assert_eq!(ports.used(), 1);
        assert_eq!(ports.check(30081), Ok(()));
        assert_eq!(ports.check(30080), Err(AllocationError::Allocated));
    }

    #[test]
    fn exhaustion_and_release() {
        let mut ports = Allocator::new(40000..=40009);
        let mut taken: Vec<i32> = (0..10)
            .map(|_| ports.allocate_next().expect("free port"))
            .collect();
        taken.sort();
        assert_eq!(taken, (40000..=40009).collect::<Vec<i32>>());
        assert_eq!(ports.allocate_next(), Err(AllocationError::Full));
        assert_eq!(ports.free(), 0);
        ports.release(40004);
        ports.release(12);
        assert_eq!(ports.free(), 1);
        assert_eq!(ports.allocate_next(), Ok(40004));
    }

    #[test]
    fn dynamic_ports_start_above_the_static_band() {
        let mut ports = Allocator::new(30000..=32767);
        // 2768 / 32 = 86 ports kept for requests.
        assert_eq!(ports.allocate_next(), Ok(30086));
        assert_eq!(ports.allocate_next(), Ok(30087));
    }

    #[test]
    fn empty_range() {
        #[allow(clippy::reversed_empty_ranges)]
        let mut ports = Allocator::new(10..=9);
        assert_eq!(ports.size(), 0);
        assert_eq!(ports.allocate_next(), Err(AllocationError::Full));
    }
}
