//! How one spreadsheet cell reads as text, the way openpyxl hands it to LightRAG's
//! xlsx reader and Python's `str()` prints it: whole numbers without a decimal point,
//! other numbers as Python floats (`2.5`, `30.0`, `1e+16`), booleans as `True`/`False`,
//! and a number in a date or time format as the date or time it stands for
//! (`2024-03-01 00:00:00`, `12:30:00`, `1 day, 2:00:00` for `[h]` durations).

use super::ParseError;
use super::budget::Budget;
use super::markup::{Token, attribute, local_name, tokens};

/// What a cell style makes of a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    Number,
    DateTime,
    Duration,
}

/// The number formats of a workbook, by cell style index (`<c s="...">`).
#[derive(Debug, Default)]
pub struct Formats {
    styles: Vec<Shown>,
    /// Serial 0 is 1904-01-01 rather than 1899-12-30.
    pub date1904: bool,
}

impl Formats {
    /// The cell formats of `xl/styles.xml`.
    pub fn read(xml: &str, budget: &mut Budget) -> Result<Self, ParseError> {
        let mut custom: Vec<(u32, Shown)> = Vec::new();
        let mut styles = Vec::new();
        let mut in_cell_xfs = false;
        for token in tokens(xml) {
            budget.charge_operation()?;
            let Token::Tag(tag) = token else {
                continue;
            };
            match local_name(tag) {
                "numFmt" if !tag.starts_with('/') => {
                    if let Some(id) = attribute(tag, "numFmtId").and_then(|id| id.parse().ok()) {
                        let code = super::markup::decode_entities(
                            attribute(tag, "formatCode").unwrap_or_default(),
                        );
                        custom.push((id, shown_by_code(&code)));
                    }
                }
                "cellXfs" => in_cell_xfs = !tag.starts_with('/') && !tag.ends_with('/'),
                "xf" if in_cell_xfs && !tag.starts_with('/') => {
                    let id: u32 = attribute(tag, "numFmtId")
                        .and_then(|id| id.parse().ok())
                        .unwrap_or(0);
                    let shown = custom
                        .iter()
                        .find(|(custom_id, _)| *custom_id == id)
                        .map_or_else(|| shown_by_builtin(id), |(_, shown)| *shown);
                    styles.push(shown);
                }
                _ => {}
            }
        }
        Ok(Self {
            styles,
            date1904: false,
        })
    }

    pub fn shown(&self, style: Option<usize>) -> Shown {
        style
            .and_then(|s| self.styles.get(s).copied())
            .unwrap_or(Shown::Number)
    }
}

/// Excel's built-in date and time formats (14-22, 45-47); the locale-specific ones are
/// not known to openpyxl either, and read as numbers.
fn shown_by_builtin(id: u32) -> Shown {
    match id {
        46 => Shown::Duration,
        14..=22 | 45 | 47 => Shown::DateTime,
        _ => Shown::Number,
    }
}

/// A format code's kind, by openpyxl's rule: its first section, quoted text, escapes
/// and bracketed parts other than `[h]`/`[m]`/`[s]` removed, names a date when a
/// `d`, `m`, `y`, `h` or `s` is left.
fn shown_by_code(code: &str) -> Shown {
    let first = code.split(';').next().unwrap_or_default();
    let mut kept = String::new();
    let mut chars = first.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                for q in chars.by_ref() {
                    if q == '"' {
                        break;
                    }
                }
            }
            '\\' | '_' | '*' => {
                chars.next();
            }
            '[' => {
                let inner: String = chars.by_ref().take_while(|&b| b != ']').collect();
                let lower = inner.to_ascii_lowercase();
                if ["h", "hh", "m", "mm", "s", "ss"].contains(&lower.as_str()) {
                    kept.push('[');
                    kept.push_str(&lower);
                    kept.push(']');
                }
            }
            _ => kept.push(c.to_ascii_lowercase()),
        }
    }
    if kept.starts_with("[h") || kept.starts_with("[m") || kept.starts_with("[s") {
        return Shown::Duration;
    }
    if kept.contains(['d', 'm', 'y', 'h', 's']) {
        Shown::DateTime
    } else {
        Shown::Number
    }
}

/// A numeric cell's text: as openpyxl casts it (an int unless it has `.`/`e`), then
/// through the style's date format.
pub fn number(raw: &str, shown: Shown, date1904: bool) -> String {
    let raw = raw.trim();
    let float = raw.contains(['.', 'e', 'E']);
    if shown != Shown::Number
        && let Ok(value) = raw.parse::<f64>()
        && let Some(text) = date_or_time(value, shown, date1904)
    {
        return text;
    }
    if float {
        return raw.parse().map_or_else(|_| raw.to_owned(), python_float);
    }
    raw.parse::<i128>()
        .map_or_else(|_| raw.to_owned(), |n| n.to_string())
}

/// Python's `repr` of a float: the shortest digits that round-trip, in scientific form
/// below 1e-4 and from 1e16 on.
pub fn python_float(value: f64) -> String {
    if value.is_nan() {
        return "nan".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    let magnitude = value.abs();
    if magnitude != 0.0 && !(1e-4..1e16).contains(&magnitude) {
        let text = format!("{value:e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let exponent: i32 = exponent.parse().unwrap_or(0);
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exponent.abs());
    }
    let text = format!("{value}");
    if text.contains('.') {
        text
    } else {
        text + ".0"
    }
}

const SECONDS_PER_DAY: i64 = 86_400;

/// openpyxl's `from_excel`, printed as Python prints a datetime, time or timedelta;
/// `None` for serials no date can stand for.
fn date_or_time(value: f64, shown: Shown, date1904: bool) -> Option<String> {
    if !value.is_finite() || value.abs() > 3e6 {
        return None;
    }
    if shown == Shown::Duration {
        if value < 0.0 {
            return None;
        }
        let millis = (value * SECONDS_PER_DAY as f64 * 1000.0).round() as i64;
        let (days, rest) = (
            millis / (SECONDS_PER_DAY * 1000),
            millis % (SECONDS_PER_DAY * 1000),
        );
        let clock = clock(rest, false);
        return Some(match days {
            0 => clock,
            1 => format!("1 day, {clock}"),
            n => format!("{n} days, {clock}"),
        });
    }
    let mut day = value.floor();
    let millis = ((value - day) * SECONDS_PER_DAY as f64 * 1000.0).round() as i64;
    if (0.0..1.0).contains(&value) && millis < SECONDS_PER_DAY * 1000 {
        return Some(clock(millis, true));
    }
    // Excel's 1900 calendar has a 29 February that never was.
    if !date1904 && 0.0 < value && value < 60.0 {
        day += 1.0;
    }
    let epoch_days = if date1904 {
        days_from_civil(1904, 1, 1)
    } else {
        days_from_civil(1899, 12, 30)
    };
    let total = (epoch_days + day as i64) * SECONDS_PER_DAY * 1000 + millis;
    let (days, rest) = (
        total.div_euclid(SECONDS_PER_DAY * 1000),
        total.rem_euclid(SECONDS_PER_DAY * 1000),
    );
    let (y, m, d) = civil_from_days(days);
    if !(1..=9999).contains(&y) {
        return None;
    }
    Some(format!("{y:04}-{m:02}-{d:02} {}", clock(rest, true)))
}

/// `H:MM:SS` (`HH` when `padded`, as a time prints; a timedelta does not pad), with
/// `.ffffff` when there are milliseconds, of milliseconds into a day.
fn clock(millis: i64, padded: bool) -> String {
    let seconds = millis / 1000;
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    let hours = if padded {
        format!("{h:02}")
    } else {
        h.to_string()
    };
    match millis % 1000 {
        0 => format!("{hours}:{m:02}:{s:02}"),
        ms => format!("{hours}:{m:02}:{s:02}.{:06}", ms * 1000),
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::super::budget::ParseLimits;
    use super::*;

    #[test]
    fn numbers_print_as_python_does() {
        assert_eq!(number("30", Shown::Number, false), "30");
        assert_eq!(number("007", Shown::Number, false), "7");
        assert_eq!(number("30.0", Shown::Number, false), "30.0");
        assert_eq!(number("2.5", Shown::Number, false), "2.5");
        assert_eq!(number("1.5E3", Shown::Number, false), "1500.0");
        assert_eq!(number("1E16", Shown::Number, false), "1e+16");
        assert_eq!(number("0.00001", Shown::Number, false), "1e-05");
        assert_eq!(number("abc", Shown::Number, false), "abc");
    }

    #[test]
    fn dates_times_and_durations() {
        assert_eq!(
            number("45352", Shown::DateTime, false),
            "2024-03-01 00:00:00"
        );
        assert_eq!(
            number("45352.5", Shown::DateTime, false),
            "2024-03-01 12:00:00"
        );
        assert_eq!(number("0.5208333333", Shown::DateTime, false), "12:30:00");
        assert_eq!(number("0.25", Shown::DateTime, false), "06:00:00");
        assert_eq!(
            number("0.2500058", Shown::DateTime, false),
            "06:00:00.501000"
        );
        assert_eq!(number("1", Shown::DateTime, false), "1900-01-01 00:00:00");
        assert_eq!(number("61", Shown::DateTime, false), "1900-03-01 00:00:00");
        assert_eq!(number("0", Shown::DateTime, true), "00:00:00");
        assert_eq!(number("1", Shown::DateTime, true), "1904-01-02 00:00:00");
        assert_eq!(
            number("1.0833333333", Shown::Duration, false),
            "1 day, 2:00:00"
        );
        assert_eq!(number("1e300", Shown::DateTime, false), "1e+300");
    }

    #[test]
    fn formats_by_builtin_id_and_code() {
        let styles = r#"<styleSheet><numFmts><numFmt numFmtId="164" formatCode="yyyy\-mm\-dd"/>
            <numFmt numFmtId="165" formatCode="&quot;days&quot; 0.00"/><numFmt numFmtId="166" formatCode="[h]:mm"/>
            <numFmt numFmtId="167" formatCode="[Red]0.00;[Blue]-0.00"/></numFmts>
            <cellStyleXfs><xf numFmtId="14"/></cellStyleXfs>
            <cellXfs><xf numFmtId="0"/><xf numFmtId="14"/><xf numFmtId="164"/><xf numFmtId="165"/><xf numFmtId="166"/><xf numFmtId="167"/><xf numFmtId="2"/></cellXfs></styleSheet>"#;
        let formats = Formats::read(styles, &mut Budget::new(ParseLimits::default())).unwrap();
        let shown: Vec<Shown> = (0..8).map(|s| formats.shown(Some(s))).collect();
        use Shown::*;
        assert_eq!(
            shown,
            [
                Number, DateTime, DateTime, Number, Duration, Number, Number, Number
            ]
        );
        assert_eq!(formats.shown(None), Number);
    }
}
