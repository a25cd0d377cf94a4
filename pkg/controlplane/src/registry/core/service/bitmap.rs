//! The allocation bitmap behind the cluster-IP and node-port allocators
//! (`pkg/registry/core/service/allocator`): one bit per offset of a range,
//! with upstream's split into a low band kept for static (requested) values
//! and a high band that dynamic allocation tries first.

/// A fixed-size set of offsets `0..size`, one bit each.
#[derive(Debug, Clone)]
pub(crate) struct Bitmap {
    words: Vec<u64>,
    size: usize,
    used: usize,
    /// Dynamic allocation scans `band_start..size` before `0..band_start`,
    /// so requested values in the low band rarely collide with automatic ones.
    band_start: usize,
    /// Where the next dynamic scan of the high band starts (next fit).
    cursor: usize,
}

impl Bitmap {
    /// A bitmap of `size` free offsets whose dynamic band starts at
    /// `band_start` (clamped to `size`).
    pub(crate) fn new(size: usize, band_start: usize) -> Self {
        let band_start = band_start.min(size);
        Bitmap {
            words: vec![0; size.div_ceil(64)],
            size,
            used: 0,
            band_start,
            cursor: band_start,
        }
    }

    pub(crate) fn size(&self) -> usize {
        self.size
    }

    pub(crate) fn used(&self) -> usize {
        self.used
    }

    pub(crate) fn free(&self) -> usize {
        self.size - self.used
    }

    pub(crate) fn has(&self, offset: usize) -> bool {
        offset < self.size && self.words[offset / 64] & (1 << (offset % 64)) != 0
    }

    /// Marks `offset` used; `false` when it was already used or is outside
    /// the bitmap.
    pub(crate) fn set(&mut self, offset: usize) -> bool {
        if offset >= self.size || self.has(offset) {
            return false;
        }
        self.words[offset / 64] |= 1 << (offset % 64);
        self.used += 1;
        true
    }

    /// Marks `offset` free again; a free or outside offset is left alone.
    pub(crate) fn clear(&mut self, offset: usize) {
        if self.has(offset) {
            self.words[offset / 64] &= !(1 << (offset % 64));
            self.used -= 1;
        }
    }

    /// The offset [`Bitmap::take_next`] would take, without taking it.
    pub(crate) fn peek_next(&self) -> Option<usize> {
        if self.used == self.size {
            return None;
        }
        self.first_free(self.cursor, self.size)
            .or_else(|| self.first_free(self.band_start, self.cursor))
            .or_else(|| self.first_free(0, self.band_start))
    }

    /// Takes a free offset: the high band first (from where the last scan
    /// stopped), then the low band.
    pub(crate) fn take_next(&mut self) -> Option<usize> {
        let offset = self.peek_next()?;
        self.set(offset);
        if offset >= self.band_start {
            self.cursor = offset + 1;
        }
        Some(offset)
    }

    /// Every used offset, in order, a word at a time.
    pub(crate) fn used_offsets(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(index, word)| {
            let mut bits = *word;
            std::iter::from_fn(move || {
                (bits != 0).then(|| {
                    let bit = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    index * 64 + bit
                })
            })
        })
    }

    /// The bitmap as stored in a `RangeAllocation` (upstream's
    /// `AllocationBitmap.Snapshot`): the big-endian bytes of the integer
    /// whose bit `i` is offset `i`, without leading zero bytes.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let Some(highest) = self.used_offsets().last() else {
            return Vec::new();
        };
        let len = highest / 8 + 1;
        let mut bytes = vec![0u8; len];
        for offset in self.used_offsets() {
            bytes[len - 1 - offset / 8] |= 1 << (offset % 8);
        }
        bytes
    }

    /// Replaces the used offsets with those of [`Bitmap::to_bytes`]'s
    /// `bytes`; `Err` (and the bitmap unchanged) when one lies outside the
    /// bitmap. Where dynamic allocation resumes is kept.
    pub(crate) fn load_bytes(&mut self, bytes: &[u8]) -> Result<(), OutOfRange> {
        let mut loaded = Bitmap::new(self.size, self.band_start);
        for (index, byte) in bytes.iter().rev().enumerate() {
            for bit in 0..8 {
                if byte & (1 << bit) != 0 && !loaded.set(index * 8 + bit) {
                    return Err(OutOfRange);
                }
            }
        }
        self.words = loaded.words;
        self.used = loaded.used;
        Ok(())
    }

    /// The first free offset in `start..end`, a word at a time.
    fn first_free(&self, start: usize, end: usize) -> Option<usize> {
        let end = end.min(self.size);
        let mut offset = start;
        while offset < end {
            let word_index = offset / 64;
            let bit = offset % 64;
            // Bits below `offset` within this word count as used.
            let mut free_bits = !self.words[word_index] & (u64::MAX << bit);
            let word_end = (word_index + 1) * 64;
            if end < word_end {
                free_bits &= u64::MAX >> (word_end - end);
            }
            if free_bits != 0 {
                return Some(word_index * 64 + free_bits.trailing_zeros() as usize);
            }
            offset = word_end;
        }
        None
    }
}

/// A stored bitmap names an offset beyond this one's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OutOfRange;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_in_upstreams_big_endian_form() {
        let mut bitmap = Bitmap::new(300, 0);
        assert_eq!(bitmap.to_bytes(), Vec::<u8>::new());
        for offset in [0, 9, 64, 299] {
            bitmap.set(offset);
        }
        let bytes = bitmap.to_bytes();
        // Offset 299 is bit 3 of the most significant byte (299 / 8 = 37).
        assert_eq!(bytes.len(), 38);
        assert_eq!(bytes[0], 1 << 3);
        assert_eq!(bytes[37], 1, "offset 0 is the lowest bit of the last byte");
        assert_eq!(bytes[36], 1 << 1, "offset 9");
        let mut loaded = Bitmap::new(300, 0);
        loaded.load_bytes(&bytes).expect("in range");
        assert_eq!(
            loaded.used_offsets().collect::<Vec<_>>(),
            vec![0, 9, 64, 299]
        );
        assert_eq!(loaded.used(), 4);

        let mut small = Bitmap::new(100, 0);
        small.set(5);
        assert_eq!(small.load_bytes(&bytes), Err(OutOfRange));
        assert_eq!(
            small.used_offsets().collect::<Vec<_>>(),
            vec![5],
            "unchanged"
        );
    }

    #[test]
    fn dynamic_allocation_fills_the_high_band_before_the_low_one() {
        let mut bitmap = Bitmap::new(10, 4);
        let taken: Vec<usize> = std::iter::from_fn(|| bitmap.take_next()).collect();
        assert_eq!(taken, vec![4, 5, 6, 7, 8, 9, 0, 1, 2, 3]);
        assert_eq!(bitmap.free(), 0);
        assert_eq!(bitmap.take_next(), None);
    }

    #[test]
    fn set_clear_and_reuse() {
        let mut bitmap = Bitmap::new(130, 0);
        assert!(bitmap.set(129));
        assert!(!bitmap.set(129));
        assert!(!bitmap.set(130));
        assert!(bitmap.has(129));
        assert_eq!(bitmap.used(), 1);
        bitmap.clear(129);
        bitmap.clear(129);
        assert_eq!(bitmap.used(), 0);
        for _ in 0..130 {
            assert!(bitmap.take_next().is_some());
        }
        bitmap.clear(70);
        assert_eq!(bitmap.peek_next(), Some(70));
        assert_eq!(bitmap.take_next(), Some(70));
        assert_eq!(bitmap.take_next(), None);
    }

    #[test]
    fn scans_skip_whole_words_and_respect_the_end() {
        let mut bitmap = Bitmap::new(200, 0);
        for offset in 0..199 {
            assert!(bitmap.set(offset));
        }
        assert_eq!(bitmap.take_next(), Some(199));
        assert_eq!(bitmap.take_next(), None);
        let empty = Bitmap::new(0, 16);
        assert_eq!(empty.peek_next(), None);
        assert_eq!(empty.used_offsets().count(), 0);
    }

    #[test]
    fn used_offsets_are_listed_in_order() {
        let mut bitmap = Bitmap::new(300, 0);
        for offset in [299, 0, 63, 64, 128] {
            assert!(bitmap.set(offset));
        }
        assert_eq!(
            bitmap.used_offsets().collect::<Vec<_>>(),
            [0, 63, 64, 128, 299]
        );
    }
}
