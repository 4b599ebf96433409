//! The time phrases people use for periods ("last week", "March vs April",
//! "from 3 to 9 November", "Q3"), read into [`NamedPeriod`]s — or into the
//! reason they name no period costbot can answer for (the future, before the
//! history, backwards, impossible).

use std::sync::LazyLock;

use chrono::{Datelike, Duration, NaiveDate};
use regex::Regex;

use crate::costs::periods::{
    add_months, month_start, quarter_start, week_start, NamedPeriod, Period, PeriodUnit,
};

const MONTHS: &str = "january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec";

fn month_number(word: &str) -> Option<u32> {
    let w = word.to_ascii_lowercase();
    let idx = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ]
    .iter()
    .position(|m| w.starts_with(m))?;
    Some(idx as u32 + 1)
}

fn number_word(s: &str) -> Option<i64> {
    Some(match s {
        "a" | "one" => 1,
        "two" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        "twelve" => 12,
        _ => return s.parse().ok(),
    })
}

/// A date written as 2026-03-05, 5 March 2026, March 5 2026 or March 5
/// (the latest such day not after today).
const DATE: &str = r"(?:\d{4}-\d{2}-\d{2}|\d{1,2}(?:st|nd|rd|th)? (?:of )?(?:MONTHS),? \d{4}|\d{1,2}(?:st|nd|rd|th)? of (?:MONTHS)|(?:MONTHS) \d{1,2}(?:st|nd|rd|th)?(?:,? \d{4})?|\d{1,2}(?:st|nd|rd|th)? (?:MONTHS))";

fn date_re() -> String {
    DATE.replace("MONTHS", MONTHS)
}

fn parse_date(s: &str, today: NaiveDate) -> Option<NaiveDate> {
    let s = s.trim().trim_end_matches(',');
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(d);
    }
    let cleaned: String = s.replace(',', " ");
    let words: Vec<&str> = cleaned.split_whitespace().collect();
    let mut day = None;
    let mut month = None;
    let mut year = None;
    for w in words {
        let digits: String = w.chars().take_while(|c| c.is_ascii_digit()).collect();
        if !digits.is_empty() {
            let n: i32 = digits.parse().ok()?;
            if digits.len() == 4 {
                year = Some(n);
            } else {
                day = Some(n as u32);
            }
        } else if let Some(m) = month_number(w) {
            month = Some(m);
        }
    }
    let (day, month) = (day?, month?);
    match year {
        Some(y) => NaiveDate::from_ymd_opt(y, month, day),
        None => {
            let this_year = NaiveDate::from_ymd_opt(today.year(), month, day)?;
            if this_year <= today {
                Some(this_year)
            } else {
                NaiveDate::from_ymd_opt(today.year() - 1, month, day)
            }
        }
    }
}

/// Why a time phrase gives no period to answer for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, thiserror::Error)]
pub enum PeriodProblem {
    #[error("'{said}' is not a real period: {why}.")]
    Impossible { said: String, why: String },
    #[error(
        "'{said}' ({label}) has not happened yet: Cost Explorer has actual costs up to today only."
    )]
    Future { said: String, label: String },
    #[error("'{said}' runs backwards: it ends before it starts.")]
    Reversed { said: String },
    #[error(
        "'{said}' starts on {start}, before the oldest data Cost Explorer keeps ({earliest})."
    )]
    BeforeHistory {
        said: String,
        start: NaiveDate,
        earliest: NaiveDate,
    },
}

impl PeriodProblem {
    pub fn said(&self) -> &str {
        match self {
            PeriodProblem::Impossible { said, .. }
            | PeriodProblem::Future { said, .. }
            | PeriodProblem::Reversed { said }
            | PeriodProblem::BeforeHistory { said, .. } => said,
        }
    }
}

/// A time phrase found in a message and how it reads.
#[derive(Debug, Clone, PartialEq)]
pub struct TimePhrase {
    /// The words as written (lower case).
    pub said: String,
    pub start: usize,
    pub end: usize,
    pub reading: Result<NamedPeriod, PeriodProblem>,
    /// Set when the period was cut at today ("from 10 to 25 November" on the 19th).
    pub cut_at_today: bool,
}

/// What the calendar of a question looks like: today and the oldest day with data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calendar {
    pub today: NaiveDate,
    pub earliest: NaiveDate,
}

impl Calendar {
    /// Cost Explorer's default: 13 months before the current month.
    pub fn new(today: NaiveDate) -> Self {
        Calendar {
            today,
            earliest: add_months(today, -13),
        }
    }
}

/// How a rule read its match: a period, a phrase that cannot be a period
/// (with the reason), or words that are not a time phrase after all ("may" the verb).
enum Built {
    Period(NamedPeriod),
    Impossible(String),
    Future(String),
    Reversed,
    NotTime,
}

use Built::NotTime;

impl From<Option<NamedPeriod>> for Built {
    fn from(p: Option<NamedPeriod>) -> Self {
        p.map(Built::Period).unwrap_or(NotTime)
    }
}

struct Rule {
    re: Regex,
    build: fn(&regex::Captures, NaiveDate) -> Built,
}

fn rule(pattern: &str, build: fn(&regex::Captures, NaiveDate) -> Built) -> Rule {
    let full = format!(
        r"\b(?:{})\b",
        pattern
            .replace("DATE", &date_re())
            .replace("MONTHS", MONTHS)
    );
    Rule {
        re: Regex::new(&full).expect("period pattern compiles"),
        build,
    }
}

fn latest_month(today: NaiveDate, month: u32) -> NaiveDate {
    let this_year = NaiveDate::from_ymd_opt(today.year(), month, 1).expect("valid");
    if this_year <= today {
        this_year
    } else {
        NaiveDate::from_ymd_opt(today.year() - 1, month, 1).expect("valid")
    }
}

/// A calendar unit that may still be running: cut at today.
fn calendar(
    start: NaiveDate,
    full_end: NaiveDate,
    unit: PeriodUnit,
    today: NaiveDate,
) -> NamedPeriod {
    let tomorrow = today + Duration::days(1);
    // Running until today's end (its last day included) is still "to date": today is unfinished.
    if full_end >= tomorrow && start <= today {
        NamedPeriod::new(Period::new(start, tomorrow), unit, true)
    } else {
        NamedPeriod::new(Period::new(start, full_end), unit, false)
    }
}

fn period(p: NamedPeriod) -> Built {
    Built::Period(p)
}

/// An inclusive span between two days, as written.
fn span(a: NaiveDate, b: NaiveDate) -> Built {
    if b < a {
        return Built::Reversed;
    }
    period(NamedPeriod::new(
        Period::inclusive(a, b),
        PeriodUnit::Span,
        false,
    ))
}

/// "the last N days/weeks": N complete days ending yesterday (today's data is still arriving).
fn rolling_days(days: i64, unit: PeriodUnit, t: NaiveDate) -> Built {
    period(NamedPeriod::new(
        Period::new(t - Duration::days(days), t),
        unit,
        false,
    ))
}

fn count(word: &str) -> Result<i64, Built> {
    let n = number_word(word).ok_or(NotTime)?;
    if n <= 0 {
        return Err(Built::Impossible("a period needs at least one day".into()));
    }
    // Longer than any history Cost Explorer keeps; also keeps the arithmetic in range.
    if n > 5000 {
        return Err(Built::Impossible(
            "that is longer than any billing history".into(),
        ));
    }
    Ok(n)
}

fn quarter_of(t: NaiveDate) -> NaiveDate {
    quarter_start(t.year(), t.month0() / 3 + 1)
}

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    vec![
        rule(
            r"(?:from|between) (DATE) (?:to|and|until|through|till|thru|-|–) (DATE)",
            |c, t| match (parse_date(&c[1], t), parse_date(&c[2], t)) {
                (Some(a), Some(b)) => span(a, b),
                _ => Built::Impossible("one of its dates does not exist".into()),
            },
        ),
        rule(r"since (DATE)", |c, t| match parse_date(&c[1], t) {
            Some(a) if a > t => Built::Future(a.to_string()),
            Some(a) => period(NamedPeriod::new(
                Period::inclusive(a, t),
                PeriodUnit::Span,
                true,
            )),
            None => Built::Impossible("that date does not exist".into()),
        }),
        // "Nov 4–10", "october 3 to 9".
        rule(
            r"(MONTHS) (\d{1,2})(?:st|nd|rd|th)? ?(?:-|–|to|through|until|till) ?(\d{1,2})(?:st|nd|rd|th)?(?:,? (\d{4}))?",
            |c, t| {
                let Some(m) = month_number(&c[1]) else {
                    return NotTime;
                };
                let (Ok(a), Ok(b)) = (c[2].parse::<u32>(), c[3].parse::<u32>()) else {
                    return NotTime;
                };
                let y = match c.get(4) {
                    Some(y) => y.as_str().parse().unwrap_or(t.year()),
                    None => latest_month(t, m).year(),
                };
                match (
                    NaiveDate::from_ymd_opt(y, m, a),
                    NaiveDate::from_ymd_opt(y, m, b),
                ) {
                    (Some(a), Some(b)) => span(a, b),
                    _ => Built::Impossible("one of its days does not exist".into()),
                }
            },
        ),
        // "Oct 28–Nov 3".
        rule(
            r"(DATE) ?(?:-|–|to|through|until|till) ?(DATE)",
            |c, t| match (parse_date(&c[1], t), parse_date(&c[2], t)) {
                (Some(a), Some(b)) => span(a, b),
                _ => Built::Impossible("one of its dates does not exist".into()),
            },
        ),
        rule(
            r"(?:from|since) (MONTHS)(?:,? (\d{4}))? (?:up )?(?:to|until|till) (?:now|today|date)",
            |c, t| {
                let Some(a) = month_period(&c[1], c.get(2).map(|m| m.as_str()), t) else {
                    return NotTime;
                };
                period(NamedPeriod::new(
                    Period::new(a.start, t + Duration::days(1)),
                    PeriodUnit::Span,
                    true,
                ))
            },
        ),
        rule(
            r"since (?:the )?(?:start|beginning) of (?:the |this )?(week|month|quarter|year)|since (?:the )?(week|month|quarter|year) (?:began|started|start)",
            |c, t| {
                let unit = c.get(1).or(c.get(2)).map(|m| m.as_str()).unwrap_or("");
                let s = match unit {
                    "week" => week_start(t),
                    "month" => month_start(t),
                    "quarter" => quarter_of(t),
                    _ => ymd(t.year(), 1),
                };
                period(NamedPeriod::new(
                    Period::inclusive(s, t),
                    PeriodUnit::Span,
                    true,
                ))
            },
        ),
        rule(
            r"(?:since|from) (?:the )?(?:start|beginning) of (MONTHS)(?:,? (\d{4}))?",
            |c, t| {
                let Some(a) = month_period(&c[1], c.get(2).map(|m| m.as_str()), t) else {
                    return NotTime;
                };
                period(NamedPeriod::new(
                    Period::new(a.start, t + Duration::days(1)),
                    PeriodUnit::Span,
                    true,
                ))
            },
        ),
        rule(r"(first|second) half of (MONTHS)(?:,? (\d{4}))?", |c, t| {
            let Some(m) = month_period(&c[2], c.get(3).map(|m| m.as_str()), t) else {
                return NotTime;
            };
            let mid = m.start + Duration::days(15);
            if &c[1] == "first" {
                span(m.start, mid - Duration::days(1))
            } else {
                span(mid, m.last_day())
            }
        }),
        rule(r"since ((?:19|20)\d\d)", |c, t| {
            let Ok(y) = c[1].parse::<i32>() else {
                return NotTime;
            };
            period(NamedPeriod::new(
                Period::inclusive(ymd(y, 1), t),
                PeriodUnit::Span,
                true,
            ))
        }),
        rule(r"month (\d{1,2})(?: of (\d{4}))?", |c, t| {
            let m: u32 = c[1].parse().unwrap_or(0);
            let y = c
                .get(2)
                .and_then(|y| y.as_str().parse().ok())
                .unwrap_or(t.year());
            match NaiveDate::from_ymd_opt(y, m, 1) {
                Some(s) => period(calendar(s, add_months(s, 1), PeriodUnit::Month, t)),
                None => Built::Impossible(format!("there is no month {m}")),
            }
        }),
        rule(
            r"(?:calendar |iso )?week (\d{1,2})(?: of (\d{4}))?",
            |c, t| {
                let w: u32 = c[1].parse().unwrap_or(0);
                let y = c
                    .get(2)
                    .and_then(|y| y.as_str().parse().ok())
                    .unwrap_or(t.year());
                match NaiveDate::from_isoywd_opt(y, w, chrono::Weekday::Mon) {
                    Some(s) => period(calendar(s, s + Duration::weeks(1), PeriodUnit::Week, t)),
                    None => Built::Impossible(format!("{y} has no week {w}")),
                }
            },
        ),
        rule(
            r"(?:the )?(?:past|last) (?:week or two|couple (?:of )?weeks)",
            |_, t| rolling_days(14, PeriodUnit::Span, t),
        ),
        rule(
            r"(?:the )?(\d+)(?:st|nd|rd|th) quarter(?: of (\d{4}))?",
            |c, t| {
                let q: u32 = c[1].parse().unwrap_or(0);
                if !(1..=4).contains(&q) {
                    return Built::Impossible(format!("a year has four quarters, not {q}"));
                }
                let y = c
                    .get(2)
                    .and_then(|y| y.as_str().parse().ok())
                    .unwrap_or(t.year());
                let s = quarter_start(y, q);
                period(calendar(s, add_months(s, 3), PeriodUnit::Quarter, t))
            },
        ),
        // Weekdays: "since monday", "on tuesday", "last friday" (the latest one before today).
        rule(
            r"(since|from|on|last|this past|past)? ?(monday|tuesday|wednesday|thursday|friday|saturday|sunday)",
            |c, t| {
                let days = [
                    "monday",
                    "tuesday",
                    "wednesday",
                    "thursday",
                    "friday",
                    "saturday",
                    "sunday",
                ];
                let Some(idx) = days.iter().position(|d| *d == &c[2]) else {
                    return NotTime;
                };
                let today_idx = t.weekday().num_days_from_monday() as i64;
                let mut back = (today_idx - idx as i64).rem_euclid(7);
                let word = c.get(1).map(|m| m.as_str()).unwrap_or("");
                if back == 0 && word != "since" {
                    back = 7;
                }
                let d = t - Duration::days(back);
                if word == "since" || word == "from" {
                    period(NamedPeriod::new(
                        Period::inclusive(d, t),
                        PeriodUnit::Span,
                        true,
                    ))
                } else {
                    period(NamedPeriod::new(Period::day(d), PeriodUnit::Day, false))
                }
            },
        ),
        rule(r"week over week|this week vs last", |_, t| {
            let s = week_start(t);
            period(calendar(s, s + Duration::weeks(1), PeriodUnit::Week, t))
        }),
        rule(
            r"(?:the )?(?:week|month) after next|(?:the )?rest of (?:the |this )?(?:year|quarter|month|week)",
            |c, _| Built::Future(c[0].to_string()),
        ),
        rule(r"(\d+)d", |c, t| match count(&c[1]) {
            Ok(n) => rolling_days(n, PeriodUnit::Span, t),
            Err(b) => b,
        }),
        rule(
            r"(?:from|between) (MONTHS)(?:,? (\d{4}))? (?:to|and|until|through|till|thru|-|–) (MONTHS)(?:,? (\d{4}))?",
            |c, t| {
                let (Some(am), Some(bm)) = (month_number(&c[1]), month_number(&c[3])) else {
                    return NotTime;
                };
                let year = |i: usize| c.get(i).and_then(|m| m.as_str().parse::<i32>().ok());
                let (a, b) = match (year(2), year(4)) {
                    (Some(ya), Some(yb)) => (ymd(ya, am), ymd(yb, bm)),
                    (None, Some(yb)) => {
                        let b = ymd(yb, bm);
                        // "between october and march 2026": the start is the one before the end.
                        let ya = if am > bm { yb - 1 } else { yb };
                        (ymd(ya, am), b)
                    }
                    (Some(ya), None) => {
                        let yb = if bm < am { ya + 1 } else { ya };
                        (ymd(ya, am), ymd(yb, bm))
                    }
                    (None, None) => latest_month_range(am, bm, t),
                };
                if b < a {
                    return Built::Reversed;
                }
                period(NamedPeriod::new(
                    Period::new(a, add_months(b, 1)),
                    PeriodUnit::Span,
                    false,
                ))
            },
        ),
        // "nov through feb": a span of months without "from".
        rule(
            r"(MONTHS) (?:through|thru|till|until|-|–) (MONTHS)",
            |c, t| {
                let (Some(am), Some(bm)) = (month_number(&c[1]), month_number(&c[2])) else {
                    return NotTime;
                };
                let (a, b) = latest_month_range(am, bm, t);
                period(NamedPeriod::new(
                    Period::new(a, add_months(b, 1)),
                    PeriodUnit::Span,
                    false,
                ))
            },
        ),
        rule(r"since (MONTHS)(?:,? (\d{4}))?", |c, t| {
            let Some(a) = month_period(&c[1], c.get(2).map(|m| m.as_str()), t) else {
                return NotTime;
            };
            period(NamedPeriod::new(
                Period::new(a.start, t + Duration::days(1)),
                PeriodUnit::Span,
                true,
            ))
        }),
        rule(
            r"(\d{4}-\d{2}-\d{2}) ?(?:to|until|through|-|–|\.\.) ?(\d{4}-\d{2}-\d{2})",
            |c, t| match (parse_date(&c[1], t), parse_date(&c[2], t)) {
                (Some(a), Some(b)) => span(a, b),
                _ => Built::Impossible("one of its dates does not exist".into()),
            },
        ),
        rule(r"(\d{4}-\d{2}-\d{2})", |c, t| match parse_date(&c[1], t) {
            Some(d) => period(NamedPeriod::new(Period::day(d), PeriodUnit::Day, false)),
            None => Built::Impossible("that date does not exist".into()),
        }),
        rule(r"(\d{4})-(\d{1,2})", |c, t| {
            let (Ok(y), Ok(m)) = (c[1].parse::<i32>(), c[2].parse::<u32>()) else {
                return NotTime;
            };
            match NaiveDate::from_ymd_opt(y, m, 1) {
                Some(s) => period(calendar(s, add_months(s, 1), PeriodUnit::Month, t)),
                None => Built::Impossible(format!("there is no month {m}")),
            }
        }),
        rule(r"(\d{1,2})/(\d{4})", |c, t| {
            let (Ok(y), Ok(m)) = (c[2].parse::<i32>(), c[1].parse::<u32>()) else {
                return NotTime;
            };
            match NaiveDate::from_ymd_opt(y, m, 1) {
                Some(s) => period(calendar(s, add_months(s, 1), PeriodUnit::Month, t)),
                None => Built::Impossible(format!("there is no month {m}")),
            }
        }),
        rule(r"(?:last|past|previous) weekend", |_, t| {
            let sat = week_start(t) - Duration::days(2);
            span(sat, sat + Duration::days(1))
        }),
        rule(r"this weekend", |_, t| {
            let sat = week_start(t) + Duration::days(5);
            if sat > t {
                return Built::Future("this weekend".into());
            }
            period(NamedPeriod::new(
                Period::inclusive(sat, t),
                PeriodUnit::Span,
                true,
            ))
        }),
        rule(
            r"tomorrow|next (?:day|week|weekend|month|quarter|year)|(?:next|coming|following) (?:\d+|a|one|two|three|four|five|six|seven|eight|nine|ten|twelve|couple of|few) (?:day|week|month|quarter|year)s?",
            |c, _| Built::Future(c[0].to_string()),
        ),
        rule(
            r"(?:the )?(?:last|past|previous|trailing|prior) (-?\d+|a|one|two|three|four|five|six|seven|eight|nine|ten|twelve|couple of|few) (day|week|fortnight|month|quarter|year)s?",
            |c, t| {
                let n = match c[1].trim() {
                    "couple of" => 2,
                    "few" => 3,
                    w => match count(w) {
                        Ok(n) => n,
                        Err(b) => return b,
                    },
                };
                let plural = n > 1;
                match &c[2] {
                    "day" => rolling_days(n, PeriodUnit::Span, t),
                    "week" => rolling_days(
                        7 * n,
                        if plural {
                            PeriodUnit::Span
                        } else {
                            PeriodUnit::Week
                        },
                        t,
                    ),
                    "fortnight" => rolling_days(14 * n, PeriodUnit::Span, t),
                    unit => {
                        let (start_of, months, u) = match unit {
                            "month" => (month_start(t), 1, PeriodUnit::Month),
                            "quarter" => (quarter_of(t), 3, PeriodUnit::Quarter),
                            _ => (ymd(t.year(), 1), 12, PeriodUnit::Year),
                        };
                        let Ok(back) = i32::try_from(n * months) else {
                            return Built::Impossible(
                                "that is longer than any billing history".into(),
                            );
                        };
                        period(NamedPeriod::new(
                            Period::new(add_months(start_of, -back), start_of),
                            if plural { PeriodUnit::Span } else { u },
                            false,
                        ))
                    }
                }
            },
        ),
        rule(r"(?:last|past) (-?\d+)d", |c, t| match count(&c[1]) {
            Ok(n) => rolling_days(n, PeriodUnit::Span, t),
            Err(b) => b,
        }),
        rule(r"(?:the )?(?:past|last) fortnight", |_, t| {
            rolling_days(14, PeriodUnit::Span, t)
        }),
        rule(r"(?:the )?day before yesterday", |_, t| {
            period(NamedPeriod::new(
                Period::day(t - Duration::days(2)),
                PeriodUnit::Day,
                false,
            ))
        }),
        rule(r"today", |_, t| {
            period(NamedPeriod::new(Period::day(t), PeriodUnit::Day, true))
        }),
        rule(r"yesterday", |_, t| {
            period(NamedPeriod::new(
                Period::day(t - Duration::days(1)),
                PeriodUnit::Day,
                false,
            ))
        }),
        rule(r"(?:the )?week before last", |_, t| {
            let s = week_start(t) - Duration::weeks(2);
            period(NamedPeriod::new(
                Period::new(s, s + Duration::weeks(1)),
                PeriodUnit::Week,
                false,
            ))
        }),
        rule(
            r"this week|week to date|week-to-date|wtd|current week|so far this week",
            |_, t| {
                let s = week_start(t);
                period(calendar(s, s + Duration::weeks(1), PeriodUnit::Week, t))
            },
        ),
        rule(r"(?:last|previous|past|prior) week", |_, t| {
            let s = week_start(t) - Duration::weeks(1);
            period(NamedPeriod::new(
                Period::new(s, s + Duration::weeks(1)),
                PeriodUnit::Week,
                false,
            ))
        }),
        rule(r"(?:the )?month before last", |_, t| {
            let s = add_months(t, -2);
            period(NamedPeriod::new(
                Period::new(s, add_months(s, 1)),
                PeriodUnit::Month,
                false,
            ))
        }),
        rule(
            r"this month|month to date|month-to-date|mtd|so far this month|current month",
            |_, t| {
                let s = month_start(t);
                period(calendar(s, add_months(s, 1), PeriodUnit::Month, t))
            },
        ),
        rule(r"(?:last|previous|past|prior) month", |_, t| {
            let s = add_months(t, -1);
            period(NamedPeriod::new(
                Period::new(s, add_months(s, 1)),
                PeriodUnit::Month,
                false,
            ))
        }),
        rule(
            r"this quarter|quarter to date|quarter-to-date|qtd|current quarter|so far this quarter",
            |_, t| {
                let s = quarter_of(t);
                period(calendar(s, add_months(s, 3), PeriodUnit::Quarter, t))
            },
        ),
        rule(r"(?:last|previous|prior|past) quarter", |_, t| {
            let s = add_months(quarter_of(t), -3);
            period(NamedPeriod::new(
                Period::new(s, add_months(s, 3)),
                PeriodUnit::Quarter,
                false,
            ))
        }),
        // "Q2-Q3", "q1 through q3 2026": one span of quarters.
        rule(
            r"q(\d)(?: (\d{4}))? ?(?:-|–|to|through|thru|until) ?q(\d)(?:[ /-]?(\d{4}))?",
            |c, t| {
                let (a, b) = (
                    c[1].parse::<u32>().unwrap_or(0),
                    c[3].parse::<u32>().unwrap_or(0),
                );
                if !(1..=4).contains(&a) || !(1..=4).contains(&b) {
                    return Built::Impossible("a year has quarters Q1 to Q4".into());
                }
                let year = |i: usize| c.get(i).and_then(|m| m.as_str().parse::<i32>().ok());
                let yb = year(4).or(year(2)).unwrap_or_else(|| {
                    if quarter_start(t.year(), b) <= t {
                        t.year()
                    } else {
                        t.year() - 1
                    }
                });
                let ya = year(2).unwrap_or(if a > b { yb - 1 } else { yb });
                let (s, e) = (quarter_start(ya, a), quarter_start(yb, b));
                if e < s {
                    return Built::Reversed;
                }
                period(NamedPeriod::new(
                    Period::new(s, add_months(e, 3)),
                    PeriodUnit::Span,
                    false,
                ))
            },
        ),
        rule(r"q(\d)(?:[ /-]?(\d{4}))?", |c, t| {
            let q: u32 = c[1].parse().unwrap_or(0);
            if !(1..=4).contains(&q) {
                return Built::Impossible(format!("there is no Q{q}; a year has Q1 to Q4"));
            }
            let s = match c.get(2) {
                Some(y) => match y.as_str().parse() {
                    Ok(y) => quarter_start(y, q),
                    Err(_) => return NotTime,
                },
                None => {
                    let this = quarter_start(t.year(), q);
                    if this <= t {
                        this
                    } else {
                        quarter_start(t.year() - 1, q)
                    }
                }
            };
            period(calendar(s, add_months(s, 3), PeriodUnit::Quarter, t))
        }),
        rule(
            r"this year|year to date|year-to-date|ytd|so far this year|current year",
            |_, t| {
                let s = ymd(t.year(), 1);
                period(calendar(s, add_months(s, 12), PeriodUnit::Year, t))
            },
        ),
        rule(r"(?:last|previous|prior|past) year", |_, t| {
            let s = ymd(t.year() - 1, 1);
            period(NamedPeriod::new(
                Period::new(s, add_months(s, 12)),
                PeriodUnit::Year,
                false,
            ))
        }),
        rule(r"(?:on )?(DATE)", |c, t| match parse_date(&c[1], t) {
            Some(d) => period(NamedPeriod::new(Period::day(d), PeriodUnit::Day, false)),
            None => Built::Impossible("that date does not exist".into()),
        }),
        rule(r"(MONTHS),? (\d{4})", |c, t| {
            let (Some(m), Ok(y)) = (month_number(&c[1]), c[2].parse::<i32>()) else {
                return NotTime;
            };
            let s = ymd(y, m);
            period(calendar(s, add_months(s, 1), PeriodUnit::Month, t))
        }),
        // "may" alone is too often the verb: a bare month name needs a preposition or must not be "may".
        rule(
            r"(?:(in|for|during|of|since|and|vs|versus|to|with) )?(MONTHS)",
            |c, t| {
                let word = c[2].to_ascii_lowercase();
                if word == "may" && c.get(1).is_none() {
                    return NotTime;
                }
                let Some(m) = month_number(&word) else {
                    return NotTime;
                };
                let s = latest_month(t, m);
                period(calendar(s, add_months(s, 1), PeriodUnit::Month, t))
            },
        ),
        // "in Smarch": a month that does not exist (a typo of one with its first letter wrong).
        rule(r"(?:in|during|for|of) ([a-z]{4,})", |c, _| {
            const FULL: [&str; 12] = [
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
            let w = &c[1];
            let near = FULL.iter().any(|m| {
                m.as_bytes()[0] != w.as_bytes()[0] && strsim::damerau_levenshtein(w, m) == 1
            });
            if near && month_number(w).is_none() {
                Built::Impossible(format!("there is no month called {w}"))
            } else {
                NotTime
            }
        }),
        // A year on its own: "in 2025", "2024 spend".
        rule(
            r"(?:in|for|during|of|over|throughout|calendar year|fy) ((?:19|20)\d\d)|((?:19|20)\d\d) (?:spend|costs?|bill|total)",
            |c, t| {
                let Some(Ok(y)) = c.get(1).or(c.get(2)).map(|m| m.as_str().parse::<i32>()) else {
                    return NotTime;
                };
                let s = ymd(y, 1);
                period(calendar(s, add_months(s, 12), PeriodUnit::Year, t))
            },
        ),
    ]
});

/// "from november to february" with no years: the first days of the first and
/// last months of the latest such range that has begun (across a year end).
fn latest_month_range(first: u32, last: u32, today: NaiveDate) -> (NaiveDate, NaiveDate) {
    let mut b = latest_month(today, last);
    let mut ya = if first > last { b.year() - 1 } else { b.year() };
    if ymd(ya, first) > today {
        ya -= 1;
        b = ymd(b.year() - 1, last);
    }
    (ymd(ya, first), b)
}

fn ymd(year: i32, month: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, 1).unwrap_or(NaiveDate::MIN)
}

fn month_period(word: &str, year: Option<&str>, today: NaiveDate) -> Option<Period> {
    let m = month_number(word)?;
    let start = match year {
        Some(y) => NaiveDate::from_ymd_opt(y.parse().ok()?, m, 1)?,
        None => latest_month(today, m),
    };
    Some(Period::new(start, add_months(start, 1)))
}

/// A date-like phrase no rule could read (an unknown format), so the
/// planner can say so instead of guessing.
pub fn unreadable_date(text: &str, today: NaiveDate) -> Option<String> {
    static DATE_LIKE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(&format!(r"\b(?:\d{{4}}-\d{{1,2}}(?:-\d{{1,2}})?|\d{{1,2}}/\d{{1,2}}(?:/\d{{2,4}})?|\d{{1,2}}(?:st|nd|rd|th)? (?:{MONTHS})\b(?:,? \d{{4}})?|(?:{MONTHS}) \d{{1,2}}(?:st|nd|rd|th)?\b(?:,? \d{{4}})?)")).expect("date-like pattern compiles")
    });
    let lower = text.to_lowercase();
    let spans: Vec<(usize, usize)> = read_time(&lower, Calendar::new(today))
        .into_iter()
        .map(|p| (p.start, p.end))
        .collect();
    DATE_LIKE
        .find_iter(&lower)
        // "24/7" is round the clock, not the 24th of July.
        .filter(|m| m.as_str() != "24/7")
        .find(|m| !spans.iter().any(|(s, e)| m.start() >= *s && m.end() <= *e))
        .map(|m| m.as_str().to_string())
}

/// Every time phrase in `text`, in the order written, read against a calendar:
/// phrases that name no answerable period carry the reason.
pub fn read_time(text: &str, cal: Calendar) -> Vec<TimePhrase> {
    let lower = text.to_lowercase();
    let t = cal.today;
    let mut taken: Vec<TimePhrase> = Vec::new();
    for rule in RULES.iter() {
        for caps in rule.re.captures_iter(&lower) {
            let m = caps.get(0).expect("whole match");
            if taken.iter().any(|p| m.start() < p.end && p.start < m.end()) {
                continue;
            }
            // A numeric month directly followed by "-NN" is part of a date no rule read.
            let said = m.as_str().trim().to_string();
            // "next year's budget planning" is context, not the period asked about.
            let rest = &lower[m.end()..];
            let possessive = (rest.starts_with("'s ") || rest.starts_with("’s "))
                && [
                    "budget",
                    "plan",
                    "roadmap",
                    "offsite",
                    "meeting",
                    "review",
                    "headcount",
                    "okr",
                ]
                .iter()
                .any(|w| rest[3..].trim_start().starts_with(w));
            let reading = match (rule.build)(&caps, t) {
                NotTime => continue,
                Built::Future(_) if possessive => continue,
                Built::Impossible(why) => Err(PeriodProblem::Impossible {
                    said: said.clone(),
                    why,
                }),
                Built::Future(label) => Err(PeriodProblem::Future {
                    said: said.clone(),
                    label,
                }),
                Built::Reversed => Err(PeriodProblem::Reversed { said: said.clone() }),
                Built::Period(p) => Ok(p),
            };
            let mut cut = false;
            let reading = reading.and_then(|mut p| {
                if p.period.start > t {
                    return Err(PeriodProblem::Future {
                        said: said.clone(),
                        label: p.period.label(),
                    });
                }
                if p.period.start < cal.earliest {
                    return Err(PeriodProblem::BeforeHistory {
                        said: said.clone(),
                        start: p.period.start,
                        earliest: cal.earliest,
                    });
                }
                let tomorrow = t + Duration::days(1);
                if p.period.end > tomorrow {
                    p.period.end = tomorrow;
                    p.to_date = true;
                    cut = true;
                }
                Ok(p)
            });
            taken.push(TimePhrase {
                said,
                start: m.start(),
                end: m.end(),
                reading,
                cut_at_today: cut,
            });
        }
    }
    taken.sort_by_key(|p| p.start);
    taken
}

/// Every readable period in `text`, in the order written, for a given `today`
/// (no history limit).
pub fn find_periods(text: &str, today: NaiveDate) -> Vec<NamedPeriod> {
    let cal = Calendar {
        today,
        earliest: NaiveDate::MIN,
    };
    read_time(text, cal)
        .into_iter()
        .filter_map(|p| p.reading.ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }
    // A Thursday.
    const TODAY: &str = "2026-11-19";

    fn one(text: &str) -> (String, String, PeriodUnit, bool) {
        let found = find_periods(text, d(TODAY));
        assert_eq!(found.len(), 1, "{text}: {found:?}");
        let p = found[0];
        (
            p.period.start.to_string(),
            p.period.last_day().to_string(),
            p.unit,
            p.to_date,
        )
    }

    #[test]
    fn table_of_phrases() {
        use PeriodUnit::*;
        let cases: &[(&str, &str, &str, PeriodUnit, bool)] = &[
            ("spend today", "2026-11-19", "2026-11-19", Day, true),
            (
                "what about yesterday?",
                "2026-11-18",
                "2026-11-18",
                Day,
                false,
            ),
            (
                "the day before yesterday",
                "2026-11-17",
                "2026-11-17",
                Day,
                false,
            ),
            ("this week", "2026-11-16", "2026-11-19", Week, true),
            (
                "why did EC2 go up last week?",
                "2026-11-09",
                "2026-11-15",
                Week,
                false,
            ),
            (
                "the week before last",
                "2026-11-02",
                "2026-11-08",
                Week,
                false,
            ),
            ("this month", "2026-11-01", "2026-11-19", Month, true),
            ("month to date", "2026-11-01", "2026-11-19", Month, true),
            ("MTD", "2026-11-01", "2026-11-19", Month, true),
            ("last month", "2026-10-01", "2026-10-31", Month, false),
            (
                "the month before last",
                "2026-09-01",
                "2026-09-30",
                Month,
                false,
            ),
            ("year to date", "2026-01-01", "2026-11-19", Year, true),
            ("last year", "2025-01-01", "2025-12-31", Year, false),
            ("last 7 days", "2026-11-12", "2026-11-18", Span, false),
            ("past 30 days", "2026-10-20", "2026-11-18", Span, false),
            ("last three months", "2026-08-01", "2026-10-31", Span, false),
            // Rolling weeks are complete days up to yesterday.
            ("last 2 weeks", "2026-11-05", "2026-11-18", Span, false),
            ("in March", "2026-03-01", "2026-03-31", Month, false),
            ("March 2025", "2025-03-01", "2025-03-31", Month, false),
            ("for december", "2025-12-01", "2025-12-31", Month, false),
            ("november", "2026-11-01", "2026-11-19", Month, true),
            ("Q3", "2026-07-01", "2026-09-30", Quarter, false),
            ("q4", "2026-10-01", "2026-11-19", Quarter, true),
            ("Q1 2025", "2025-01-01", "2025-03-31", Quarter, false),
            ("last quarter", "2026-07-01", "2026-09-30", Quarter, false),
            ("this quarter", "2026-10-01", "2026-11-19", Quarter, true),
            ("on 2026-03-05", "2026-03-05", "2026-03-05", Day, false),
            (
                "from 2026-03-01 to 2026-03-15",
                "2026-03-01",
                "2026-03-15",
                Span,
                false,
            ),
            (
                "2026-03-01..2026-03-15",
                "2026-03-01",
                "2026-03-15",
                Span,
                false,
            ),
            (
                "between March 3 and March 9",
                "2026-03-03",
                "2026-03-09",
                Span,
                false,
            ),
            ("since 2026-11-01", "2026-11-01", "2026-11-19", Span, true),
            ("on 5 October 2026", "2026-10-05", "2026-10-05", Day, false),
        ];
        for (text, start, last, unit, to_date) in cases {
            assert_eq!(
                one(text),
                (start.to_string(), last.to_string(), *unit, *to_date),
                "phrase: {text}"
            );
        }
    }

    #[test]
    fn month_ranges_numeric_months_and_weekends() {
        use PeriodUnit::*;
        let cases: &[(&str, &str, &str, PeriodUnit, bool)] = &[
            ("spend since march", "2026-03-01", "2026-11-19", Span, true),
            (
                "from march to june",
                "2026-03-01",
                "2026-06-30",
                Span,
                false,
            ),
            (
                "between january and march 2026",
                "2026-01-01",
                "2026-03-31",
                Span,
                false,
            ),
            ("spend in 2026-10", "2026-10-01", "2026-10-31", Month, false),
            (
                "EC2 spend in 10/2026",
                "2026-10-01",
                "2026-10-31",
                Month,
                false,
            ),
            (
                "spend last weekend",
                "2026-11-14",
                "2026-11-15",
                Span,
                false,
            ),
        ];
        for (text, start, last, unit, to_date) in cases {
            assert_eq!(
                one(text),
                (start.to_string(), last.to_string(), *unit, *to_date),
                "phrase: {text}"
            );
        }
    }

    #[test]
    fn impossible_future_and_backward_periods_are_named_not_replaced() {
        let t = d(TODAY);
        let problem = |text: &str| {
            read_time(text, Calendar::new(t))
                .into_iter()
                .find_map(|p| p.reading.err())
        };
        let cases: &[(&str, &str)] = &[
            ("spend on 2026-02-30", "impossible"),
            ("spend on 2026-11-20", "future"),
            ("spend on november 31", "impossible"),
            ("spend on 31 february 2026", "impossible"),
            ("cost in Q5", "impossible"),
            ("ec2 for 2026-13", "impossible"),
            ("bill for the last 0 days", "impossible"),
            ("costs for the last -3 days", "impossible"),
            ("spend next month", "future"),
            ("spend in december 2026", "future"),
            ("spend from march 10 to march 3", "reversed"),
            ("spend in 2024", "history"),
            ("spend last year", "history"),
            ("the last 5000 days", "history"),
            ("cost for the 6th quarter", "impossible"),
        ];
        for (text, kind) in cases {
            let got = match problem(text) {
                Some(PeriodProblem::Impossible { .. }) => "impossible",
                Some(PeriodProblem::Future { .. }) => "future",
                Some(PeriodProblem::Reversed { .. }) => "reversed",
                Some(PeriodProblem::BeforeHistory { .. }) => "history",
                None => "none",
            };
            assert_eq!(got, *kind, "{text}");
        }
        for fine in [
            "spend on 2026-11-02",
            "from 2026-03-01 to 2026-03-15",
            "spend in march 2026",
            "runs 24/7",
        ] {
            assert_eq!(problem(fine), None, "{fine}");
            assert_eq!(unreadable_date(fine, t), None, "{fine}");
        }
    }

    #[test]
    fn multi_quarter_cross_year_and_punctuated_periods() {
        use PeriodUnit::*;
        let cases: &[(&str, &str, &str, PeriodUnit, bool)] = &[
            ("spend in Q2-Q3", "2026-04-01", "2026-09-30", Span, false),
            (
                "from november to february",
                "2025-11-01",
                "2026-02-28",
                Span,
                false,
            ),
            (
                "spend in 2026-10?",
                "2026-10-01",
                "2026-10-31",
                Month,
                false,
            ),
            (
                "cost on 2026-11-03.",
                "2026-11-03",
                "2026-11-03",
                Day,
                false,
            ),
            ("last two quarters", "2026-04-01", "2026-09-30", Span, false),
            ("past fortnight", "2026-11-05", "2026-11-18", Span, false),
            ("spend since monday", "2026-11-16", "2026-11-19", Span, true),
            ("on tuesday", "2026-11-17", "2026-11-17", Day, false),
            (
                "the 2nd quarter",
                "2026-04-01",
                "2026-06-30",
                Quarter,
                false,
            ),
            ("ec2 week over week", "2026-11-16", "2026-11-19", Week, true),
            (
                "since the quarter began",
                "2026-10-01",
                "2026-11-19",
                Span,
                true,
            ),
            (
                "since the start of the month",
                "2026-11-01",
                "2026-11-19",
                Span,
                true,
            ),
            ("nov through feb", "2025-11-01", "2026-02-28", Span, false),
        ];
        for (text, start, last, unit, to_date) in cases {
            assert_eq!(
                one(text),
                (start.to_string(), last.to_string(), *unit, *to_date),
                "phrase: {text}"
            );
        }
    }

    #[test]
    fn may_the_verb_is_not_a_month() {
        assert!(find_periods("may I see the bill", d(TODAY)).is_empty());
        assert_eq!(find_periods("spend in may", d(TODAY)).len(), 1);
    }

    #[test]
    fn two_periods_in_order() {
        let found = find_periods("compare March vs April", d(TODAY));
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].period.start, d("2026-03-01"));
        assert_eq!(found[1].period.start, d("2026-04-01"));
    }
}
