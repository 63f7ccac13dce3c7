//! Evaluation: times. Reading a time as JavaScript's `Date` reads it (ISO 8601 and the common
//! other spellings, numbers as milliseconds; the local time zone is UTC, as on the reference's
//! servers), writing it as `toISOString` does, and formatting with moment.js patterns.

use crate::value::Value;

use super::js;

const MAX_MS: f64 = 8.64e15;

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

const DAYS: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];

/// Days since 1970-01-01 of a civil date (months and days may overflow, as `Date.UTC` allows).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = y + (m - 1).div_euclid(12);
    let m = (m - 1).rem_euclid(12) + 1;
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468 + (d - 1)
}

/// The civil date of a day number: (year, month 1-12, day 1-31).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A time from its civil date, clock time (h, m, s, ms) and offset east of UTC in minutes.
fn make(
    (y, mo, d): (i64, i64, i64),
    (h, mi, s, ms): (i64, i64, i64, f64),
    offset_min: i64,
) -> Option<f64> {
    let days = days_from_civil(y, mo, d);
    let t = (days * 86_400 + h * 3600 + mi * 60 + s - offset_min * 60) as f64 * 1000.0 + ms;
    (t.abs() <= MAX_MS).then_some(t)
}

/// A time as milliseconds since 1970, or `None` when it is not a valid time.
pub fn parse(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => {
            let f = js::num_f64(n)?;
            (f.is_finite() && f.abs() <= MAX_MS).then_some(f.trunc())
        }
        // V8 reads ISO 8601 only as the whole text: with spaces around it, only the other
        // spellings are read (`" 2020-02-02T00:00:00Z "` is no date).
        Value::String(s) if s.trim().len() == s.len() => parse_str(s),
        Value::String(s) => legacy(s.trim()),
        // A list is read as JavaScript reads it, as its String(): `["2020-02-02T00:00:00Z"]`
        // is that date (an object's String() is "[object Object]", no date).
        list @ Value::Array(_) => parse_str(js::to_js_string(Some(list)).trim()),
        _ => None,
    }
}

fn parse_str(s: &str) -> Option<f64> {
    parse_iso(s).or_else(|| legacy(s))
}

fn digits(b: &[u8], i: &mut usize, n: usize) -> Option<i64> {
    if *i + n > b.len() || !b[*i..*i + n].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = std::str::from_utf8(&b[*i..*i + n]).ok()?.parse().ok()?;
    *i += n;
    Some(v)
}

/// ISO 8601 as `Date.parse` reads it: date-only forms are UTC, date-times without an offset
/// are local time (UTC here); more than three fraction digits are cut.
fn parse_iso(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let mut i = 0;
    let y = match b.first()? {
        b'+' | b'-' => {
            let neg = b[0] == b'-';
            i = 1;
            let v = digits(b, &mut i, 6)?;
            if neg { -v } else { v }
        }
        _ => digits(b, &mut i, 4)?,
    };
    let (mut mo, mut d) = (1, 1);
    if b.get(i) == Some(&b'-') {
        i += 1;
        mo = digits(b, &mut i, 2)?;
        if b.get(i) == Some(&b'-') {
            i += 1;
            d = digits(b, &mut i, 2)?;
        }
    }
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    if i == b.len() {
        return make((y, mo, d), (0, 0, 0, 0.0), 0);
    }
    if !matches!(b[i], b'T' | b't' | b' ') {
        return None;
    }
    i += 1;
    let h = digits(b, &mut i, 2)?;
    if b.get(i) != Some(&b':') {
        return None;
    }
    i += 1;
    let mi = digits(b, &mut i, 2)?;
    let (mut sec, mut ms) = (0, 0.0);
    if b.get(i) == Some(&b':') {
        i += 1;
        sec = digits(b, &mut i, 2)?;
        if matches!(b.get(i), Some(b'.' | b',')) {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i == start {
                return None;
            }
            let frac = &s[start..i.min(start + 3)];
            ms = frac.parse::<f64>().ok()? * 10f64.powi(3 - frac.len() as i32);
        }
    }
    if h > 24 || mi > 59 || sec > 59 || (h == 24 && (mi > 0 || sec > 0 || ms > 0.0)) {
        return None;
    }
    let offset = match b.get(i) {
        None => 0,
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(b'+' | b'-') => {
            let neg = b[i] == b'-';
            i += 1;
            let oh = digits(b, &mut i, 2)?;
            if b.get(i) == Some(&b':') {
                i += 1;
            }
            let om = digits(b, &mut i, 2)?;
            if i != b.len() || oh > 23 || om > 59 {
                return None;
            }
            let o = oh * 60 + om;
            if neg { -o } else { o }
        }
        _ => return None,
    };
    make((y, mo, d), (h, mi, sec, ms), offset)
}

/// The other spellings `Date.parse` accepts: `Mon, 25 Dec 1995 13:30:00 GMT`,
/// `December 17, 1995 03:24:00`, `12/25/1995`, `1995/12/25 10:00`, with an optional
/// `GMT+0530`-style offset and `AM`/`PM`.
fn legacy(s: &str) -> Option<f64> {
    let mut text = String::with_capacity(s.len());
    let mut depth = 0;
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ if depth == 0 => text.push(c),
            _ => {}
        }
    }
    let mut nums: Vec<i64> = Vec::new();
    let mut month: Option<i64> = None;
    let mut time: Option<(i64, i64, i64)> = None;
    let mut pm: Option<bool> = None;
    let mut offset: Option<i64> = None;
    let mut slash_date: Option<(i64, i64, i64)> = None;
    let tokens: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|t| !t.is_empty())
        .collect();
    for tok in tokens {
        let lower = tok.to_ascii_lowercase();
        if tok.contains(':') && tok.chars().next().is_some_and(|c| c.is_ascii_digit()) {
            let parts: Vec<&str> = tok.split(':').collect();
            let mut p = parts.iter().map(|x| x.parse::<f64>().ok());
            let h = p.next()??;
            let m = p.next().flatten().unwrap_or(0.0);
            let sec = p.next().flatten().unwrap_or(0.0);
            #[allow(clippy::cast_possible_truncation)]
            {
                time = Some((h as i64, m as i64, sec as i64));
            }
        } else if tok.contains('/') {
            let parts: Vec<i64> = tok
                .split('/')
                .map(|x| x.parse().ok())
                .collect::<Option<_>>()?;
            match parts.as_slice() {
                [a, b, c] if *a > 31 => slash_date = Some((*a, *b, *c)),
                [a, b, c] => slash_date = Some((*c, *a, *b)),
                [a, b] => slash_date = Some((2001, *a, *b)),
                _ => return None,
            }
        } else if lower == "am" || lower == "pm" {
            pm = Some(lower == "pm");
        } else if lower == "gmt" || lower == "utc" || lower == "ut" || lower == "z" {
            offset = offset.or(Some(0));
        } else if let Some(rest) = lower
            .strip_prefix("gmt")
            .or_else(|| lower.strip_prefix("utc"))
            .filter(|r| r.starts_with(['+', '-']))
            .or_else(|| {
                (lower.starts_with(['+', '-']) && lower.len() >= 3).then_some(lower.as_str())
            })
        {
            let neg = rest.starts_with('-');
            let d: String = rest[1..].chars().filter(char::is_ascii_digit).collect();
            let (oh, om) = match d.len() {
                1 | 2 => (d.parse::<i64>().ok()?, 0),
                3 | 4 => (
                    d[..d.len() - 2].parse().ok()?,
                    d[d.len() - 2..].parse().ok()?,
                ),
                _ => return None,
            };
            let o = oh * 60 + om;
            offset = Some(if neg { -o } else { o });
        } else if let Ok(n) = tok.parse::<i64>() {
            nums.push(n);
        } else if tok.chars().all(|c| c.is_ascii_alphabetic() || c == '.') {
            let word = lower.trim_end_matches('.');
            if word.len() >= 3 {
                if let Some(m) = MONTHS.iter().position(|m| m.starts_with(word)) {
                    month = Some(m as i64 + 1);
                    continue;
                }
                if DAYS.iter().any(|d| d.starts_with(word)) {
                    continue;
                }
            }
            return None;
        } else {
            return None;
        }
    }
    let (y, mo, d) = match (slash_date, month) {
        (Some(sd), _) => sd,
        (None, Some(m)) => match nums.as_slice() {
            [a, b] if *a > 31 => (*a, m, *b),
            [a, b] => (*b, m, *a),
            [a] if *a > 31 => (*a, m, 1),
            _ => return None,
        },
        (None, None) => return None,
    };
    let y = if (0..50).contains(&y) {
        y + 2000
    } else if (50..100).contains(&y) {
        y + 1900
    } else {
        y
    };
    let (mut h, mi, sec) = time.unwrap_or((0, 0, 0));
    match pm {
        Some(true) if h < 12 => h += 12,
        Some(false) if h == 12 => h = 0,
        _ => {}
    }
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 24 || mi > 59 || sec > 59 {
        return None;
    }
    make((y, mo, d), (h, mi, sec, 0.0), offset.unwrap_or(0))
}

struct Parts {
    y: i64,
    mo: i64,
    d: i64,
    h: i64,
    mi: i64,
    s: i64,
    ms: i64,
    weekday: i64,
}

fn parts(ms: f64) -> Parts {
    #[allow(clippy::cast_possible_truncation)]
    let t = ms.floor() as i64;
    let days = t.div_euclid(86_400_000);
    let rem = t.rem_euclid(86_400_000);
    let (y, mo, d) = civil_from_days(days);
    Parts {
        y,
        mo,
        d,
        h: rem / 3_600_000,
        mi: rem / 60_000 % 60,
        s: rem / 1000 % 60,
        ms: rem % 1000,
        weekday: (days + 4).rem_euclid(7),
    }
}

/// `Date.prototype.toISOString`.
pub fn iso_of(ms: f64) -> String {
    let p = parts(ms);
    let year = if (0..=9999).contains(&p.y) {
        format!("{:04}", p.y)
    } else if p.y < 0 {
        format!("-{:06}", -p.y)
    } else {
        format!("+{:06}", p.y)
    };
    format!(
        "{year}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        p.mo, p.d, p.h, p.mi, p.s, p.ms
    )
}

/// `toISOString`, `None` for a time out of range.
pub fn iso(ms: f64) -> Option<String> {
    (ms.is_finite() && ms.abs() <= MAX_MS).then(|| iso_of(ms))
}

/// A time in UTC, written with a moment.js pattern.
pub fn format(ms: f64, pattern: &str) -> Option<String> {
    if !ms.is_finite() || ms.abs() > MAX_MS {
        return None;
    }
    let p = parts(ms);
    let mut out = String::new();
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    let cap = |s: &str| {
        let mut c = s.chars();
        c.next()
            .map(|f| f.to_uppercase().chain(c).collect::<String>())
            .unwrap_or_default()
    };
    while i < chars.len() {
        if chars[i] == '[' {
            let end = chars[i + 1..].iter().position(|c| *c == ']');
            if let Some(e) = end {
                out.extend(&chars[i + 1..i + 1 + e]);
                i += e + 2;
                continue;
            }
        }
        let run = chars[i..].iter().take_while(|c| **c == chars[i]).count();
        let c = chars[i];
        let mut used = run;
        let hour12 = if p.h % 12 == 0 { 12 } else { p.h % 12 };
        match (c, run) {
            ('Y', 4..) => {
                used = 4;
                out.push_str(&format!("{:04}", p.y));
            }
            ('Y', 2 | 3) => {
                used = 2;
                out.push_str(&format!("{:02}", p.y.rem_euclid(100)));
            }
            ('M', 4..) => {
                used = 4;
                out.push_str(&cap(MONTHS[(p.mo - 1) as usize]));
            }
            ('M', 3) => out.push_str(&cap(&MONTHS[(p.mo - 1) as usize][..3])),
            ('M', 2) => out.push_str(&format!("{:02}", p.mo)),
            ('M', 1) => out.push_str(&p.mo.to_string()),
            ('D', 2..) => {
                used = 2;
                out.push_str(&format!("{:02}", p.d));
            }
            ('D', 1) => {
                if chars.get(i + 1) == Some(&'o') {
                    used = 2;
                    let suffix = match (p.d % 10, p.d % 100) {
                        (_, 11..=13) => "th",
                        (1, _) => "st",
                        (2, _) => "nd",
                        (3, _) => "rd",
                        _ => "th",
                    };
                    out.push_str(&format!("{}{suffix}", p.d));
                } else {
                    out.push_str(&p.d.to_string());
                }
            }
            ('d', 4..) => {
                used = 4;
                out.push_str(&cap(DAYS[p.weekday as usize]));
            }
            ('d', 3) => out.push_str(&cap(&DAYS[p.weekday as usize][..3])),
            ('d', 1) => out.push_str(&p.weekday.to_string()),
            ('H', 2..) => {
                used = 2;
                out.push_str(&format!("{:02}", p.h));
            }
            ('H', 1) => out.push_str(&p.h.to_string()),
            ('h', 2..) => {
                used = 2;
                out.push_str(&format!("{hour12:02}"));
            }
            ('h', 1) => out.push_str(&hour12.to_string()),
            ('m', 2..) => {
                used = 2;
                out.push_str(&format!("{:02}", p.mi));
            }
            ('m', 1) => out.push_str(&p.mi.to_string()),
            ('s', 2..) => {
                used = 2;
                out.push_str(&format!("{:02}", p.s));
            }
            ('s', 1) => out.push_str(&p.s.to_string()),
            ('S', n) => {
                let frac = format!("{:03}", p.ms);
                out.push_str(&frac[..n.min(3)]);
                out.extend(std::iter::repeat_n('0', n.saturating_sub(3)));
            }
            ('A', 1) => out.push_str(if p.h < 12 { "AM" } else { "PM" }),
            ('a', 1) => out.push_str(if p.h < 12 { "am" } else { "pm" }),
            ('X', 1) => out.push_str(&((ms / 1000.0).floor() as i64).to_string()),
            ('x', 1) => out.push_str(&(ms.floor() as i64).to_string()),
            ('Z', 2..) => {
                used = 2;
                out.push_str("+0000");
            }
            ('Z', 1) => out.push_str("+00:00"),
            _ => {
                used = 1;
                out.push(c);
            }
        }
        i += used;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    fn ms(s: &str) -> Option<f64> {
        parse(Some(&json!(s)))
    }

    #[test]
    fn reads_times_as_date_parse_does() {
        assert_eq!(ms("2024-01-23T08:35:17.562Z"), Some(1_705_998_917_562.0));
        assert_eq!(ms("2024-01-23"), Some(1_705_968_000_000.0));
        assert_eq!(
            ms("2019-09-01T15:46:51.693229+05:30"),
            Some(1_567_333_011_693.0)
        );
        assert_eq!(ms("2024-01-23 08:35:17"), Some(1_705_998_917_000.0));
        assert_eq!(
            ms("Tue, 23 Jan 2024 08:35:17 GMT"),
            Some(1_705_998_917_000.0)
        );
        assert_eq!(ms("January 23, 2024 08:35:17"), Some(1_705_998_917_000.0));
        assert_eq!(ms("01/23/2024"), Some(1_705_968_000_000.0));
        assert_eq!(ms("not a date"), None);
        assert_eq!(ms("2024-13-01"), None);
        assert_eq!(
            parse(Some(&json!(1_705_998_917_562u64))),
            Some(1_705_998_917_562.0)
        );
    }

    #[test]
    fn writes_iso_and_patterns() {
        assert_eq!(iso_of(1_705_998_917_562.0), "2024-01-23T08:35:17.562Z");
        assert_eq!(iso_of(0.0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format(
                1_705_998_917_562.0,
                "YYYY-MM-DD HH:mm:ss.SSS [at] A Do MMM dddd"
            )
            .as_deref(),
            Some("2024-01-23 08:35:17.562 at AM 23rd Jan Tuesday")
        );
    }
}
