//! Dot products of vectors: nearly all of a vector search's time (an HNSW search over
//! 100k vectors scores thousands of them), so the kernel is chosen for the processor.
//! The binary targets baseline x86-64 (SSE2, four floats a step); where the processor
//! has AVX and FMA (detected at run time, once) the kernel uses 256-bit fused
//! multiply-adds instead, several times the throughput.
//!
//! In one process `dot` and each row of `dots` give the same bits (the same kernel,
//! lanes and order of sums), so an exact scan and a graph search rank alike. Two
//! machines may differ in the last bits (a fused multiply-add rounds once), which
//! nothing depends on: scores are compared only in the process that computed them.

/// Floats a step: one 256-bit register, or two SSE2 registers.
const LANES: usize = 8;

/// The dot product of `a` and `b` (over the shorter's length).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if fma::available() {
        // SAFETY: the processor has the features `fma::dot` is compiled for.
        return unsafe { fma::dot(a, b) };
    }
    portable::dot(a, b)
}

/// `dot` of each of `rows` with `b`, in `rows`' order, each exactly as `dot` computes
/// it. Four rows go through the loop together: one row's lanes are a chain of
/// dependent additions the processor waits on, four rows' are independent chains it
/// overlaps, so a scan runs several times faster with the same results. (Prefetching
/// the next group's rows while one is scored made a graph search slower: measured.)
pub fn dots<'a>(rows: impl IntoIterator<Item = &'a [f32]>, b: &[f32], out: &mut Vec<f32>) {
    let mut rows = rows.into_iter();
    let mut group: [&[f32]; 4] = [&[]; 4];
    loop {
        let mut taken = 0;
        for (slot, row) in group.iter_mut().zip(rows.by_ref()) {
            *slot = row;
            taken += 1;
        }
        if taken < 4 {
            // The last few, one by one.
            out.extend(group[..taken].iter().map(|row| dot(row, b)));
            return;
        }
        out.extend(dot4(group, b));
    }
}

/// Four `dot`s at once; rows of another length than `b` go through `dot` alone.
fn dot4(rows: [&[f32]; 4], b: &[f32]) -> [f32; 4] {
    if rows.iter().any(|r| r.len() != b.len()) {
        return rows.map(|r| dot(r, b));
    }
    #[cfg(target_arch = "x86_64")]
    if fma::available() {
        // SAFETY: as in `dot`; every row has `b`'s length.
        return unsafe { fma::dot4(rows, b) };
    }
    portable::dot4(rows, b)
}

/// The tail beyond the last full step, multiplied and added one by one (never fused,
/// so every kernel sums it alike).
fn tail(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Plain Rust in eight independent lanes, which the compiler turns into SIMD (a single
/// running sum is a dependency chain it may not reorder).
mod portable {
    use super::{LANES, tail};

    pub fn dot(a: &[f32], b: &[f32]) -> f32 {
        let mut lanes = [0.0f32; LANES];
        let (a8, b8) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
        let rest = tail(a8.remainder(), b8.remainder());
        for (x, y) in a8.zip(b8) {
            for i in 0..LANES {
                lanes[i] += x[i] * y[i];
            }
        }
        lanes.iter().sum::<f32>() + rest
    }

    /// Every row has `b`'s length.
    pub fn dot4(rows: [&[f32]; 4], b: &[f32]) -> [f32; 4] {
        let mut lanes = [[0.0f32; LANES]; 4];
        let (ys, y_tail) = b.as_chunks::<LANES>();
        let xs = rows.map(|r| r.as_chunks::<LANES>().0);
        for (k, y) in ys.iter().enumerate() {
            for (lane, x) in lanes.iter_mut().zip(xs) {
                let x = &x[k];
                for i in 0..LANES {
                    lane[i] += x[i] * y[i];
                }
            }
        }
        let mut out = [0.0; 4];
        for ((score, lane), row) in out.iter_mut().zip(&lanes).zip(rows) {
            *score = lane.iter().sum::<f32>() + tail(&row[ys.len() * LANES..], y_tail);
        }
        out
    }
}

/// 256-bit fused multiply-adds, one register of eight lanes per row.
#[cfg(target_arch = "x86_64")]
mod fma {
    use std::arch::x86_64::_mm256_storeu_ps;
    use std::arch::x86_64::{__m256, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_setzero_ps};
    use std::sync::OnceLock;

    use super::{LANES, tail};

    /// Whether this processor has AVX and FMA (asked once).
    pub fn available() -> bool {
        static AVAILABLE: OnceLock<bool> = OnceLock::new();
        *AVAILABLE.get_or_init(|| {
            std::arch::is_x86_feature_detected!("avx") && std::arch::is_x86_feature_detected!("fma")
        })
    }

    /// The lanes summed in order, as the portable kernel sums its array.
    #[target_feature(enable = "avx,fma")]
    fn sum(lanes: __m256) -> f32 {
        let mut out = [0.0f32; LANES];
        // SAFETY: `out` holds eight floats; the store has no alignment requirement.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr(), lanes) };
        out.iter().sum()
    }

    /// # Safety
    /// The processor has AVX and FMA.
    #[target_feature(enable = "avx,fma")]
    pub unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
        let len = a.len().min(b.len());
        let steps = len / LANES;
        let mut acc = _mm256_setzero_ps();
        for k in 0..steps {
            // SAFETY: `k * LANES + LANES <= len`, within both slices.
            unsafe {
                let x = _mm256_loadu_ps(a.as_ptr().add(k * LANES));
                let y = _mm256_loadu_ps(b.as_ptr().add(k * LANES));
                acc = _mm256_fmadd_ps(x, y, acc);
            }
        }
        let done = steps * LANES;
        sum(acc) + tail(&a[done..len], &b[done..len])
    }

    /// # Safety
    /// The processor has AVX and FMA, and every row has `b`'s length.
    #[target_feature(enable = "avx,fma")]
    pub unsafe fn dot4(rows: [&[f32]; 4], b: &[f32]) -> [f32; 4] {
        let steps = b.len() / LANES;
        let mut acc = [_mm256_setzero_ps(); 4];
        for k in 0..steps {
            // SAFETY: `k * LANES + LANES <= b.len()`, the length of every row.
            unsafe {
                let y = _mm256_loadu_ps(b.as_ptr().add(k * LANES));
                for (acc, row) in acc.iter_mut().zip(rows) {
                    *acc = _mm256_fmadd_ps(_mm256_loadu_ps(row.as_ptr().add(k * LANES)), y, *acc);
                }
            }
        }
        let done = steps * LANES;
        let mut out = [0.0; 4];
        for ((score, acc), row) in out.iter_mut().zip(acc).zip(rows) {
            *score = sum(acc) + tail(&row[done..], &b[done..]);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_processors_kernel_matches_the_plain_sum() {
        for len in [0, 1, 7, 8, 13, 384, 1024] {
            let a: Vec<f32> = (0..len).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..len).map(|i| (i as f32 * 0.11).cos()).collect();
            let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - plain).abs() < 1e-3, "{len}");
            assert!((portable::dot(&a, &b) - plain).abs() < 1e-3, "{len}");
        }
    }

    #[test]
    fn dots_are_each_rows_dot_to_the_bit() {
        for (rows, len) in [
            (0, 8),
            (1, 1024),
            (3, 13),
            (4, 7),
            (9, 1024),
            (6, 0),
            (8, 384),
        ] {
            let b: Vec<f32> = (0..len).map(|i| (i as f32 * 0.11).cos()).collect();
            let all: Vec<Vec<f32>> = (0..rows)
                .map(|r| {
                    (0..len)
                        .map(|i| ((i * 7 + r) as f32 * 0.37).sin())
                        .collect()
                })
                .collect();
            let mut got = Vec::new();
            dots(all.iter().map(Vec::as_slice), &b, &mut got);
            let expected: Vec<u32> = all.iter().map(|a| dot(a, &b).to_bits()).collect();
            let got: Vec<u32> = got.iter().map(|s| s.to_bits()).collect();
            assert_eq!(got, expected, "{rows} rows of {len}");
            // The portable kernel agrees with itself the same way.
            for group in all.chunks_exact(4) {
                let rows = [&group[0][..], &group[1], &group[2], &group[3]];
                let four = portable::dot4(rows, &b).map(f32::to_bits);
                assert_eq!(four, rows.map(|r| portable::dot(r, &b).to_bits()));
            }
        }
        // A row of another length is scored alone, as dot scores it.
        let b = [1.0, 2.0, 3.0];
        let rows: [&[f32]; 4] = [&[1.0, 1.0, 1.0], &[1.0], &[0.5, 0.5, 0.5], &[2.0, 0.0, 0.0]];
        let mut got = Vec::new();
        dots(rows, &b, &mut got);
        assert_eq!(got, rows.map(|r| dot(r, &b)));
    }
}
