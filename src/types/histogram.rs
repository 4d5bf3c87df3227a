//! A fixed log-scale histogram of milliseconds, as the usage rollups store it: one count per
//! bucket, so histograms of any rows (hours, keys, replicas) merge by adding counts, and a
//! quantile of the merge is exact to the bucket whatever was merged.

/// Exclusive upper bounds of the buckets, in ms; the last bucket (from the last bound up) is
/// open. Roughly three buckets per decade from 5 ms to two minutes. Changing these changes
/// what stored counts mean: a new migration, never an edit.
pub const BOUNDS_MS: [i64; 24] = [
    5, 10, 20, 35, 50, 75, 100, 150, 200, 300, 500, 750, 1_000, 1_500, 2_000, 3_000, 5_000, 7_500,
    10_000, 15_000, 20_000, 30_000, 60_000, 120_000,
];

/// How many buckets a histogram has (the bounds plus the open last one).
pub const BUCKETS: usize = BOUNDS_MS.len() + 1;

pub type Counts = [i64; BUCKETS];

/// The bucket a value falls in: the first whose upper bound exceeds it (negatives count as 0).
pub fn bucket_of(ms: i64) -> usize {
    BOUNDS_MS.partition_point(|&b| b <= ms)
}

/// The range `[low, high)` a bucket covers; the last one's `high` is `None`.
pub fn bucket_range(i: usize) -> (i64, Option<i64>) {
    let low = if i == 0 { 0 } else { BOUNDS_MS[i - 1] };
    (low, BOUNDS_MS.get(i).copied())
}

/// The `q` quantile (0 < q <= 1) of the counted values, to the bucket: the upper bound of the
/// bucket holding the ⌈q·n⌉-th smallest value, so the true quantile is at most this and above
/// the bucket's lower bound. In the open last bucket it is that bucket's lower bound (there
/// is no upper one). `None` when nothing was counted.
pub fn quantile(counts: &Counts, q: f64) -> Option<i64> {
    let n: i64 = counts.iter().sum();
    if n <= 0 {
        return None;
    }
    // The rank of the value asked for, 1-based: ⌈q·n⌉, at least 1.
    let rank = ((q * n as f64).ceil() as i64).clamp(1, n);
    let mut seen = 0i64;
    for (i, &c) in counts.iter().enumerate() {
        seen += c;
        if seen >= rank {
            let (low, high) = bucket_range(i);
            return Some(high.unwrap_or(low));
        }
    }
    None
}

/// Adds `b`'s counts to `a`'s.
pub fn merge(a: &mut Counts, b: &Counts) {
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_lands_in_the_bucket_whose_range_holds_it() {
        for ms in -5..130_000 {
            let i = bucket_of(ms);
            let (low, high) = bucket_range(i);
            assert!(ms.max(0) >= low, "{ms} below bucket {i}");
            if let Some(h) = high {
                assert!(ms < h, "{ms} above bucket {i}");
            }
        }
        assert_eq!(bucket_of(i64::MAX), BUCKETS - 1);
        assert_eq!(bucket_of(4), 0);
        assert_eq!(bucket_of(5), 1);
    }

    /// Brute force: for many small samples, the quantile of the histogram is the upper bound
    /// of the bucket of the exact quantile (the ⌈q·n⌉-th smallest value).
    #[test]
    fn quantile_is_exact_to_the_bucket() {
        let values = [0, 3, 5, 9, 10, 49, 50, 99, 100, 740, 999, 1_000, 59_999, 60_000, 200_000];
        let mut seed = 7u64;
        for len in 1..40 {
            for _ in 0..50 {
                let mut sample: Vec<i64> = (0..len)
                    .map(|_| {
                        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        values[(seed >> 33) as usize % values.len()]
                    })
                    .collect();
                let mut counts = [0; BUCKETS];
                for &v in &sample {
                    counts[bucket_of(v)] += 1;
                }
                sample.sort();
                for q in [0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 1.0] {
                    let rank = ((q * len as f64).ceil() as usize).clamp(1, len);
                    let exact = sample[rank - 1];
                    let (low, high) = bucket_range(bucket_of(exact));
                    assert_eq!(quantile(&counts, q), Some(high.unwrap_or(low)), "q={q} {sample:?}");
                }
            }
        }
    }

    #[test]
    fn merged_histograms_answer_as_one() {
        let (mut a, mut b, mut all) = ([0; BUCKETS], [0; BUCKETS], [0; BUCKETS]);
        for v in [1, 40, 700, 700, 9_000] {
            a[bucket_of(v)] += 1;
            all[bucket_of(v)] += 1;
        }
        for v in [3, 3, 120, 130_000] {
            b[bucket_of(v)] += 1;
            all[bucket_of(v)] += 1;
        }
        merge(&mut a, &b);
        assert_eq!(a, all);
        assert_eq!(quantile(&a, 0.5), quantile(&all, 0.5));
        assert_eq!(quantile(&[0; BUCKETS], 0.5), None);
        assert_eq!(quantile(&a, 1.0), Some(120_000));
    }
}
