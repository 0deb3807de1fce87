//! Test data: a file's worth of bytes that neither compress nor repeat.

/// `len` bytes starting as a JPEG does, the rest from a xorshift seeded by `seed`: a photo's worth
/// of entropy (nothing compresses it, and a chunk at the wrong place changes its hash).
pub fn incompressible(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE0];
    out.extend((4..len).map(|_| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x as u8
    }));
    out
}
