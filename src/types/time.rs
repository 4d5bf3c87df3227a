//! UTC calendar arithmetic on unix milliseconds: budget periods (day, ISO week, month) and
//! RFC 3339 timestamps. Small and exact (Howard Hinnant's civil-date algorithms), so the
//! ledger needs no date crate.

const DAY_MS: i64 = 86_400_000;

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date (year, month, day) of a day number.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The UTC day number of a unix-ms instant.
pub fn day_of(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS)
}

/// Start of the UTC day holding `ms`.
pub fn day_start(ms: i64) -> i64 {
    day_of(ms) * DAY_MS
}

/// Start of the ISO week (Monday 00:00 UTC) holding `ms`.
pub fn week_start(ms: i64) -> i64 {
    let day = day_of(ms);
    // 1970-01-01 was a Thursday: Monday-based weekday is (day + 3) mod 7.
    (day - (day + 3).rem_euclid(7)) * DAY_MS
}

/// Start of the UTC month holding `ms`.
pub fn month_start(ms: i64) -> i64 {
    let (y, m, _) = civil_from_days(day_of(ms));
    days_from_civil(y, m, 1) * DAY_MS
}

/// Start of the month after the one holding `ms`.
pub fn next_month_start(ms: i64) -> i64 {
    let (y, m, _) = civil_from_days(day_of(ms));
    let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    days_from_civil(y, m, 1) * DAY_MS
}

/// Formats unix ms as RFC 3339 in UTC, to the second or millisecond (`2027-01-01T00:00:00Z`).
pub fn format_rfc3339(ms: i64) -> String {
    let (y, mo, d) = civil_from_days(day_of(ms));
    let in_day = ms.rem_euclid(DAY_MS);
    let (h, mi, s, frac) = (
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000,
    );
    if frac == 0 {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    } else {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{frac:03}Z")
    }
}

/// Parses an RFC 3339 timestamp (`2027-01-01T00:00:00Z`, `...T12:30:00.5+02:00`) into unix
/// ms. Fractions beyond milliseconds are truncated.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo as u32) {
        return None;
    }
    if h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut millis = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        let digits = &s[start..i.min(start + 3)];
        millis = digits.parse::<i64>().ok()? * 10i64.pow(3 - digits.len() as u32);
    }
    let offset_ms = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
            let oh = num(i + 1..i + 3)?;
            let om = num(i + 4..i + 6)?;
            if oh > 23 || om > 59 {
                return None;
            }
            let o = (oh * 60 + om) * 60_000;
            if *sign == b'+' {
                o
            } else {
                -o
            }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo as u32, d as u32);
    let sec = sec.min(59); // a leap second counts as :59
    Some(days * DAY_MS + ((h * 60 + mi) * 60 + sec) * 1000 + millis - offset_ms)
}

fn days_in_month(y: i64, m: u32) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip_over_centuries() {
        for z in (-800_000..800_000).step_by(37) {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z, "{y}-{m}-{d}");
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(20_454), (2026, 1, 1));
    }

    #[test]
    fn periods() {
        let t = parse_rfc3339("2026-12-02T15:04:05Z").unwrap(); // a Wednesday
        assert_eq!(format_rfc3339(day_start(t)), "2026-12-02T00:00:00Z");
        assert_eq!(format_rfc3339(week_start(t)), "2026-11-30T00:00:00Z");
        assert_eq!(format_rfc3339(month_start(t)), "2026-12-01T00:00:00Z");
        assert_eq!(format_rfc3339(next_month_start(t)), "2027-01-01T00:00:00Z");
        // A Monday is its own week's start; a Sunday belongs to the week before.
        let mon = parse_rfc3339("2026-11-30T00:00:00Z").unwrap();
        assert_eq!(week_start(mon), mon);
        let sun = parse_rfc3339("2026-11-29T23:59:59Z").unwrap();
        assert_eq!(format_rfc3339(week_start(sun)), "2026-11-23T00:00:00Z");
    }

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:01.5Z"), Some(1500));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00.123456Z"), Some(123));
        let t = parse_rfc3339("2027-01-01T00:00:00Z").unwrap();
        assert_eq!(format_rfc3339(t), "2027-01-01T00:00:00Z");
        for bad in [
            "",
            "2027-01-01",
            "2027-13-01T00:00:00Z",
            "2027-02-29T00:00:00Z",
            "2027-01-01T24:00:00Z",
            "2027-01-01T00:00:00",
            "2027-01-01T00:00:00+0100",
            "2027-01-01T00:00:00.Z",
            "２０２７-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn format_parse_round_trip() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let ms = (x % 8_000_000_000_000) as i64 - 1_000_000_000_000;
            assert_eq!(parse_rfc3339(&format_rfc3339(ms)), Some(ms), "{ms}");
        }
    }
}
