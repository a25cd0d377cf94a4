//! Cluster IP allocation from `--service-cluster-ip-range`
//! (`pkg/registry/core/service/ipallocator`): one allocator per range (a
//! dual-stack cluster has two), a bitmap over the usable addresses, with
//! upstream's error messages.
//!
//! The network address is never handed out, nor the broadcast address of an
//! IPv4 range. The first usable address is not reserved here: the bootstrap
//! takes it for the `kubernetes` service with [`Allocator::allocate`].

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use super::bitmap::Bitmap;

/// Upstream keeps at most this many addresses of an IPv6 range (the
/// bitmap would be too large otherwise).
const MAX_IPV6_ADDRESSES: u128 = 65536;

/// No IPv4 range may need a larger bitmap than this; the flag validation
/// already rejects ranges over 2^20 addresses (`the mask must be >= 12`).
const MAX_IPV4_ADDRESSES: u128 = 1 << 24;

/// An IP family, as `spec.ipFamilies` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpFamily {
    V4,
    V6,
}

impl IpFamily {
    pub fn of(ip: &IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => IpFamily::V4,
            IpAddr::V6(_) => IpFamily::V6,
        }
    }

    /// `IPv4` or `IPv6`.
    pub fn as_str(self) -> &'static str {
        match self {
            IpFamily::V4 => "IPv4",
            IpFamily::V6 => "IPv6",
        }
    }

    /// Parses `IPv4` / `IPv6`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "IPv4" => Some(IpFamily::V4),
            "IPv6" => Some(IpFamily::V6),
            _ => None,
        }
    }

    /// The other family (dual-stack's secondary).
    pub fn other(self) -> Self {
        match self {
            IpFamily::V4 => IpFamily::V6,
            IpFamily::V6 => IpFamily::V4,
        }
    }
}

impl fmt::Display for IpFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an address could not be allocated (`ipallocator.ErrNotInRange`,
/// `ErrAllocated`, `ErrFull`); `Display` is upstream's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllocationError {
    NotInRange { ip: IpAddr, range: IpNet },
    Allocated,
    Full,
}

impl fmt::Display for AllocationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllocationError::NotInRange { ip, range } => write!(
                f,
                "the provided IP ({ip}) is not in the valid range. The range of valid IPs is {range}"
            ),
            AllocationError::Allocated => f.write_str("provided IP is already allocated"),
            AllocationError::Full => f.write_str("range is full"),
        }
    }
}

impl std::error::Error for AllocationError {}

/// The first address of `cidr` a client can be given, the one after the
/// network address (`10.0.0.0/24` → `10.0.0.1`, `fd00::/108` → `fd00::1`):
/// the `kubernetes` service's cluster IP. `None` for a range with no
/// address past its network address.
pub fn first_usable_address(cidr: IpNet) -> Option<IpAddr> {
    let cidr = cidr.trunc();
    let first = address_number(&cidr.network()).checked_add(1)?;
    let candidate = match cidr {
        IpNet::V4(_) => IpAddr::V4(u32::try_from(first).ok()?.into()),
        IpNet::V6(_) => IpAddr::V6(first.into()),
    };
    cidr.contains(&candidate).then_some(candidate)
}

/// The addresses of one CIDR and which of them are taken.
#[derive(Debug, Clone)]
pub struct Allocator {
    cidr: IpNet,
    /// The first usable address (the network address + 1) as a number.
    base: u128,
    used: Bitmap,
}

impl Allocator {
    /// An allocator over `cidr` with every address free.
    pub fn new(cidr: IpNet) -> Self {
        let cidr = cidr.trunc();
        let host_bits = u32::from(cidr.max_prefix_len() - cidr.prefix_len());
        let total = 1u128.checked_shl(host_bits).unwrap_or(u128::MAX);
        let usable = match cidr {
            // Neither the network nor the broadcast address.
            IpNet::V4(_) => total.min(MAX_IPV4_ADDRESSES).saturating_sub(2),
            // Only the network address (no broadcast in IPv6).
            IpNet::V6(_) => total.min(MAX_IPV6_ADDRESSES).saturating_sub(1),
        };
        let usable = usize::try_from(usable).unwrap_or(0);
        Allocator {
            base: address_number(&cidr.network()) + 1,
            used: Bitmap::new(usable, dynamic_band_start(total)),
            cidr,
        }
    }

    /// The range this allocator covers (`10.0.0.0/24`).
    pub fn cidr(&self) -> IpNet {
        self.cidr
    }

    pub fn family(&self) -> IpFamily {
        match self.cidr {
            IpNet::V4(_) => IpFamily::V4,
            IpNet::V6(_) => IpFamily::V6,
        }
    }

    /// Reserves `ip`.
    pub fn allocate(&mut self, ip: IpAddr) -> Result<(), AllocationError> {
        let offset = self.offset_of(&ip)?;
        if self.used.set(offset) {
            Ok(())
        } else {
            Err(AllocationError::Allocated)
        }
    }

    /// What [`Allocator::allocate`] would answer, without reserving.
    pub fn check(&self, ip: IpAddr) -> Result<(), AllocationError> {
        let offset = self.offset_of(&ip)?;
        if self.used.has(offset) {
            Err(AllocationError::Allocated)
        } else {
            Ok(())
        }
    }

    /// Reserves a free address.
    pub fn allocate_next(&mut self) -> Result<IpAddr, AllocationError> {
        let offset = self.used.take_next().ok_or(AllocationError::Full)?;
        Ok(self.address_at(offset))
    }

    /// The address [`Allocator::allocate_next`] would reserve.
    pub fn peek_next(&self) -> Result<IpAddr, AllocationError> {
        let offset = self.used.peek_next().ok_or(AllocationError::Full)?;
        Ok(self.address_at(offset))
    }

    /// Gives `ip` back; an address outside the range or not reserved is
    /// ignored, as upstream.
    pub fn release(&mut self, ip: IpAddr) {
        if let Ok(offset) = self.offset_of(&ip) {
            self.used.clear(offset);
        }
    }

    /// Whether `ip` is reserved (so that `allocate(ip)` would fail with
    /// [`AllocationError::Allocated`]).
    pub fn has(&self, ip: IpAddr) -> bool {
        self.offset_of(&ip)
            .map(|offset| self.used.has(offset))
            .unwrap_or(false)
    }

    /// Whether `ip` is one of the addresses this allocator hands out.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.offset_of(&ip).is_ok()
    }

    /// Every reserved address.
    pub fn allocated(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.used
            .used_offsets()
            .map(|offset| self.address_at(offset))
    }

    /// How many addresses are left.
    pub fn free(&self) -> usize {
        self.used.free()
    }

    /// How many addresses are reserved.
    pub fn used(&self) -> usize {
        self.used.used()
    }

    /// How many addresses the range can hand out in all.
    pub fn size(&self) -> usize {
        self.used.size()
    }

    /// The stored form (a `RangeAllocation`'s `range` and `data`).
    pub fn snapshot(&self) -> (String, Vec<u8>) {
        (self.cidr.to_string(), self.used.to_bytes())
    }

    /// Takes the reserved addresses from a stored snapshot; `false` (and
    /// nothing changed) when it describes another range.
    pub fn restore(&mut self, range: &str, data: &[u8]) -> bool {
        range == self.cidr.to_string() && self.used.load_bytes(data).is_ok()
    }

    fn offset_of(&self, ip: &IpAddr) -> Result<usize, AllocationError> {
        let not_in_range = || AllocationError::NotInRange {
            ip: *ip,
            range: self.cidr,
        };
        if !self.cidr.contains(ip) {
            return Err(not_in_range());
        }
        address_number(ip)
            .checked_sub(self.base)
            .and_then(|offset| usize::try_from(offset).ok())
            .filter(|offset| *offset < self.used.size())
            .ok_or_else(not_in_range)
    }

    fn address_at(&self, offset: usize) -> IpAddr {
        // `offset` < size, and base + size stays inside the range.
        let number = self.base + offset as u128;
        match self.cidr {
            IpNet::V4(_) => IpAddr::V4(Ipv4Addr::from(number as u32)),
            IpNet::V6(_) => IpAddr::V6(Ipv6Addr::from(number)),
        }
    }
}

fn address_number(ip: &IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(*v4)),
        IpAddr::V6(v6) => u128::from(*v6),
    }
}

/// Upstream's `calculateRangeOffset`: the low band kept for requested
/// addresses is `min(max(16, total/16), 256)`, none for ranges of 16
/// addresses or fewer.
fn dynamic_band_start(total: u128) -> usize {
    const MIN: u128 = 16;
    const MAX: u128 = 256;
    const STEP: u128 = 16;
    if total <= MIN {
        return 0;
    }
    // At most MAX, so the conversion cannot fail.
    usize::try_from((total / STEP).clamp(MIN, MAX)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("test address")
    }

    fn allocator(cidr: &str) -> Allocator {
        Allocator::new(cidr.parse().expect("test cidr"))
    }

    #[test]
    fn a_slash_29_has_six_usable_addresses_and_is_exhausted() {
        let mut alloc = allocator("192.168.1.0/29");
        assert_eq!(alloc.size(), 6);
        assert_eq!(alloc.free(), 6);
        let mut taken: Vec<IpAddr> = (0..6)
            .map(|_| alloc.allocate_next().expect("free address"))
            .collect();
        taken.sort();
        let expected: Vec<IpAddr> = (1..=6).map(|i| ip(&format!("192.168.1.{i}"))).collect();
        assert_eq!(taken, expected, "neither .0 nor .7 is handed out");
        assert_eq!(alloc.allocate_next(), Err(AllocationError::Full));
        assert_eq!(
            alloc.allocate_next().unwrap_err().to_string(),
            "range is full"
        );
        assert_eq!(alloc.used(), 6);
        assert_eq!(alloc.free(), 0);

        alloc.release(ip("192.168.1.3"));
        assert!(!alloc.has(ip("192.168.1.3")));
        assert_eq!(alloc.free(), 1);
        assert_eq!(alloc.allocate_next(), Ok(ip("192.168.1.3")));
    }

    #[test]
    fn requested_address_in_use_and_out_of_range() {
        let mut alloc = allocator("10.0.0.0/24");
        assert_eq!(alloc.allocate(ip("10.0.0.1")), Ok(()));
        assert!(alloc.has(ip("10.0.0.1")));
        let taken = alloc.allocate(ip("10.0.0.1")).unwrap_err();
        assert_eq!(taken.to_string(), "provided IP is already allocated");
        assert_eq!(alloc.check(ip("10.0.0.1")), Err(AllocationError::Allocated));

        let outside = alloc.allocate(ip("10.1.0.5")).unwrap_err();
        assert_eq!(
            outside.to_string(),
            "the provided IP (10.1.0.5) is not in the valid range. The range of valid IPs is 10.0.0.0/24"
        );
        for reserved in ["10.0.0.0", "10.0.0.255", "fd00::1"] {
            assert!(
                matches!(
                    alloc.allocate(ip(reserved)),
                    Err(AllocationError::NotInRange { .. })
                ),
                "{reserved} must not be allocatable"
            );
        }
        assert_eq!(alloc.used(), 1);
    }

    #[test]
    fn dynamic_allocation_starts_above_the_static_band() {
        let mut alloc = allocator("10.0.0.0/24");
        // A /24 keeps its first 16 usable addresses for requests.
        assert_eq!(alloc.peek_next(), Ok(ip("10.0.0.17")));
        assert_eq!(alloc.allocate_next(), Ok(ip("10.0.0.17")));
        assert_eq!(alloc.allocate_next(), Ok(ip("10.0.0.18")));
        assert_eq!(alloc.allocate(ip("10.0.0.1")), Ok(()));
    }

    #[test]
    fn ipv6_ranges_are_capped_and_have_no_broadcast() {
        let mut alloc = allocator("fd00:10:96::/112");
        assert_eq!(alloc.family(), IpFamily::V6);
        assert_eq!(alloc.size(), 65535);
        assert_eq!(alloc.allocate(ip("fd00:10:96::1")), Ok(()));
        assert_eq!(alloc.allocate(ip("fd00:10:96::ffff")), Ok(()));
        assert!(matches!(
            alloc.allocate(ip("fd00:10:96::")),
            Err(AllocationError::NotInRange { .. })
        ));
        let next = alloc.allocate_next().expect("free address");
        assert!(alloc.cidr().contains(&next));

        let mut wide = allocator("fd00::/64");
        assert_eq!(wide.size(), 65535);
        assert_eq!(wide.allocate(ip("fd00::1")), Ok(()));
        // Beyond the capped part of the range.
        assert!(matches!(
            wide.allocate(ip("fd00::1:0")),
            Err(AllocationError::NotInRange { .. })
        ));
        let tiny = allocator("fd00::/128");
        assert_eq!(tiny.size(), 0);
    }

    #[test]
    fn the_first_usable_address_follows_the_network_address() {
        let first = |cidr: &str| first_usable_address(cidr.parse().unwrap());
        assert_eq!(first("10.0.0.0/24"), Some(ip("10.0.0.1")));
        assert_eq!(first("10.96.0.5/12"), Some(ip("10.96.0.1")));
        assert_eq!(first("fd00::/108"), Some(ip("fd00::1")));
        assert_eq!(first("fd00:10::/64"), Some(ip("fd00:10::1")));
        assert_eq!(first("10.0.0.7/32"), None);
        assert_eq!(first("255.255.255.255/32"), None);
        assert_eq!(first("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"), None);
    }

    #[test]
    fn a_slash_12_is_cheap() {
        let mut alloc = allocator("10.96.0.0/12");
        assert_eq!(alloc.size(), (1 << 20) - 2);
        for _ in 0..1000 {
            alloc.allocate_next().expect("free address");
        }
        assert_eq!(alloc.used(), 1000);
        assert_eq!(alloc.allocate(ip("10.111.255.254")), Ok(()));
        assert!(alloc.allocate(ip("10.111.255.255")).is_err());
    }
}
