//! `top=N` for grouped usage: which groups get series of their own. Ranked over the whole
//! range, by requests or by cost; the rest is folded into one group in SQL
//! (`Store::usage_with_top`), so a by-key breakdown of 200 keys answers buckets × (N + 1)
//! rows instead of buckets × 200.

use std::collections::HashMap;

use super::rollups::Sums;

/// The most groups `top` may ask for (each is a bound value of the folding query).
pub const MAX_TOP: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Top {
    /// 1..=`MAX_TOP`.
    pub n: usize,
    pub by: TopBy,
}

/// What ranks the groups: their requests or their cost over the range.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TopBy {
    #[default]
    Requests,
    Cost,
}

impl TopBy {
    pub fn parse(s: &str) -> Option<TopBy> {
        match s {
            "requests" => Some(TopBy::Requests),
            "cost" => Some(TopBy::Cost),
            _ => None,
        }
    }
}

/// `a - b`, figure by figure (histogram counts too): the folded rest of a bucket is its total
/// less its top groups.
pub(super) fn minus(a: &Sums, b: &Sums) -> Sums {
    let v: Vec<i64> = a.values().zip(b.values()).map(|(x, y)| x - y).collect();
    Sums::from_values(&v)
}

/// The top `top.n` groups of per-part totals (a group may come once per part read: days and
/// the hours at the range's ends), the first ranked first. Ties go to the other measure, then
/// to the name, so an answer is the same every time.
pub(super) fn rank(parts: Vec<(i64, Option<String>, Sums)>, top: Top) -> Vec<String> {
    let mut totals: HashMap<String, (i64, i64)> = HashMap::new();
    for (_, g, s) in parts {
        let t = totals.entry(g.unwrap_or_default()).or_default();
        t.0 += s.requests;
        t.1 += s.cost_nanos;
    }
    let mut ranked: Vec<(String, (i64, i64))> = totals.into_iter().collect();
    ranked.sort_by(|(ga, (ra, ca)), (gb, (rb, cb))| {
        let (a, b) = match top.by {
            TopBy::Requests => ((ra, ca), (rb, cb)),
            TopBy::Cost => ((ca, ra), (cb, rb)),
        };
        b.cmp(&a).then_with(|| ga.cmp(gb))
    });
    ranked.truncate(top.n);
    ranked.into_iter().map(|(g, _)| g).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(g: &str, requests: i64, cost_nanos: i64) -> (i64, Option<String>, Sums) {
        let s = Sums {
            requests,
            cost_nanos,
            ..Default::default()
        };
        (0, Some(g.to_owned()), s)
    }

    #[test]
    fn groups_rank_by_their_sum_over_every_part() {
        let parts = vec![
            part("a", 5, 1),
            part("b", 4, 100),
            part("c", 1, 50),
            part("a", 0, 1),
            part("c", 4, 0),
            part("", 2, 0),
        ];
        let top = |n, by| rank(parts.clone(), Top { n, by });
        // c's 5 requests come from two parts: it ties with a, and its cost (50 > 2) decides.
        assert_eq!(top(3, TopBy::Requests), ["c", "a", "b"]);
        assert_eq!(top(2, TopBy::Cost), ["b", "c"]);
        assert_eq!(top(10, TopBy::Requests), ["c", "a", "b", ""]);
        // A full tie goes to the name.
        let tied = vec![part("y", 1, 1), part("x", 1, 1)];
        let t = Top {
            n: 1,
            by: TopBy::Cost,
        };
        assert_eq!(rank(tied, t), ["x"]);
    }

    #[test]
    fn the_rest_is_the_total_less_the_top() {
        let mut a = Sums {
            requests: 5,
            cost_nanos: 9,
            ..Default::default()
        };
        a.latency[3] = 4;
        let mut b = Sums {
            requests: 2,
            cost_nanos: 9,
            ..Default::default()
        };
        b.latency[3] = 1;
        let r = minus(&a, &b);
        assert_eq!((r.requests, r.cost_nanos, r.latency[3]), (3, 0, 3));
        let mut back = r.clone();
        back.add(&b);
        assert_eq!(back, a);
    }
}
