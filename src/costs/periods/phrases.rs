//! The time phrases people use for periods ("last week", "March vs April",
//! "from 3 to 9 November", "Q3"), read into [`NamedPeriod`]s.

use std::sync::LazyLock;

use chrono::{Datelike, Duration, NaiveDate};
use regex::Regex;

use super::{add_months, month_start, quarter_start, week_start, NamedPeriod, Period, PeriodUnit};

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
const DATE: &str = r"(?:\d{4}-\d{2}-\d{2}|\d{1,2}(?:st|nd|rd|th)? (?:MONTHS),? \d{4}|(?:MONTHS) \d{1,2}(?:st|nd|rd|th)?(?:,? \d{4})?|\d{1,2}(?:st|nd|rd|th)? (?:MONTHS))";

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

struct Rule {
    re: Regex,
    build: fn(&regex::Captures, NaiveDate) -> Option<NamedPeriod>,
}

fn rule(pattern: &str, build: fn(&regex::Captures, NaiveDate) -> Option<NamedPeriod>) -> Rule {
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
    if full_end > tomorrow {
        NamedPeriod::new(Period::new(start, tomorrow), unit, true)
    } else {
        NamedPeriod::new(Period::new(start, full_end), unit, false)
    }
}

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    vec![
        rule(
            r"(?:from|between) (MONTHS)(?:,? (\d{4}))? (?:to|and|until|through|till|-) (MONTHS)(?:,? (\d{4}))?",
            |c, t| {
                let a = month_period(&c[1], c.get(2).map(|m| m.as_str()), t)?;
                let b = month_period(&c[3], c.get(4).map(|m| m.as_str()), t)?;
                let (a, b) = if b.start < a.start && c.get(4).is_none() {
                    // "from november to february": the end is the later one.
                    (a, Period::month(a.start.year() + 1, b.start.month()))
                } else {
                    (a, b)
                };
                (a.start <= b.start && a.start <= t).then(|| {
                    let end = b.end.min(t + Duration::days(1));
                    NamedPeriod::new(
                        Period::new(a.start, end),
                        PeriodUnit::Span,
                        end == t + Duration::days(1),
                    )
                })
            },
        ),
        rule(r"since (MONTHS)(?:,? (\d{4}))?", |c, t| {
            let a = month_period(&c[1], c.get(2).map(|m| m.as_str()), t)?;
            (a.start <= t)
                .then(|| NamedPeriod::new(Period::inclusive(a.start, t), PeriodUnit::Span, true))
        }),
        rule(r"(\d{4})-(\d{2})(?:[^-\d]|$)", |c, t| {
            let s = NaiveDate::from_ymd_opt(c[1].parse().ok()?, c[2].parse().ok()?, 1)?;
            (s <= t).then(|| calendar(s, add_months(s, 1), PeriodUnit::Month, t))
        }),
        rule(r"(\d{1,2})/(\d{4})", |c, t| {
            let s = NaiveDate::from_ymd_opt(c[2].parse().ok()?, c[1].parse().ok()?, 1)?;
            (s <= t).then(|| calendar(s, add_months(s, 1), PeriodUnit::Month, t))
        }),
        rule(r"(?:last|past|previous) weekend", |_, t| {
            let sat = week_start(t) - Duration::days(2);
            Some(NamedPeriod::new(
                Period::inclusive(sat, sat + Duration::days(1)),
                PeriodUnit::Span,
                false,
            ))
        }),
        rule(r"this weekend", |_, t| {
            let sat = week_start(t) + Duration::days(5);
            (sat <= t).then(|| NamedPeriod::new(Period::inclusive(sat, t), PeriodUnit::Span, true))
        }),
        rule(
            r"(?:from|between) (DATE) (?:to|and|until|through|till|-) (DATE)",
            |c, t| {
                let a = parse_date(&c[1], t)?;
                let b = parse_date(&c[2], t)?;
                (a <= b).then(|| NamedPeriod::new(Period::inclusive(a, b), PeriodUnit::Span, false))
            },
        ),
        rule(
            r"(\d{4}-\d{2}-\d{2}) ?(?:to|until|through|-|–|\.\.) ?(\d{4}-\d{2}-\d{2})",
            |c, t| {
                let a = parse_date(&c[1], t)?;
                let b = parse_date(&c[2], t)?;
                (a <= b).then(|| NamedPeriod::new(Period::inclusive(a, b), PeriodUnit::Span, false))
            },
        ),
        rule(r"since (DATE)", |c, t| {
            let a = parse_date(&c[1], t)?;
            (a <= t).then(|| NamedPeriod::new(Period::inclusive(a, t), PeriodUnit::Span, true))
        }),
        rule(
            r"(?:the )?(?:last|past|previous|trailing) (\d+|a|one|two|three|four|five|six|seven|eight|nine|ten|twelve) (day|week|month)s?",
            |c, t| {
                let n = number_word(&c[1])?;
                if n <= 0 || n > 1000 {
                    return None;
                }
                match &c[2] {
                    // Complete days: today's data is still arriving.
                    "day" => Some(NamedPeriod::new(
                        Period::new(t - Duration::days(n), t),
                        PeriodUnit::Span,
                        false,
                    )),
                    "week" => {
                        let end = week_start(t);
                        Some(NamedPeriod::new(
                            Period::new(end - Duration::weeks(n), end),
                            if n == 1 {
                                PeriodUnit::Week
                            } else {
                                PeriodUnit::Span
                            },
                            false,
                        ))
                    }
                    _ => {
                        let end = month_start(t);
                        let start = add_months(end, -(n as i32));
                        Some(NamedPeriod::new(
                            Period::new(start, end),
                            if n == 1 {
                                PeriodUnit::Month
                            } else {
                                PeriodUnit::Span
                            },
                            false,
                        ))
                    }
                }
            },
        ),
        rule(r"(?:last|past) (\d+)d", |c, t| {
            let n: i64 = c[1].parse().ok()?;
            (n > 0 && n <= 1000).then(|| {
                NamedPeriod::new(
                    Period::new(t - Duration::days(n), t),
                    PeriodUnit::Span,
                    false,
                )
            })
        }),
        rule(r"(?:the )?day before yesterday", |_, t| {
            Some(NamedPeriod::new(
                Period::day(t - Duration::days(2)),
                PeriodUnit::Day,
                false,
            ))
        }),
        rule(r"today", |_, t| {
            Some(NamedPeriod::new(Period::day(t), PeriodUnit::Day, true))
        }),
        rule(r"yesterday", |_, t| {
            Some(NamedPeriod::new(
                Period::day(t - Duration::days(1)),
                PeriodUnit::Day,
                false,
            ))
        }),
        rule(r"(?:the )?week before last", |_, t| {
            let s = week_start(t) - Duration::weeks(2);
            Some(NamedPeriod::new(
                Period::new(s, s + Duration::weeks(1)),
                PeriodUnit::Week,
                false,
            ))
        }),
        rule(r"this week|week to date|wtd", |_, t| {
            let s = week_start(t);
            Some(calendar(s, s + Duration::weeks(1), PeriodUnit::Week, t))
        }),
        rule(r"(?:last|previous|past) week", |_, t| {
            let s = week_start(t) - Duration::weeks(1);
            Some(NamedPeriod::new(
                Period::new(s, s + Duration::weeks(1)),
                PeriodUnit::Week,
                false,
            ))
        }),
        rule(r"(?:the )?month before last", |_, t| {
            let s = add_months(t, -2);
            Some(NamedPeriod::new(
                Period::new(s, add_months(s, 1)),
                PeriodUnit::Month,
                false,
            ))
        }),
        rule(
            r"this month|month to date|month-to-date|mtd|so far this month|current month",
            |_, t| {
                let s = month_start(t);
                Some(calendar(s, add_months(s, 1), PeriodUnit::Month, t))
            },
        ),
        rule(r"(?:last|previous|past|prior) month", |_, t| {
            let s = add_months(t, -1);
            Some(NamedPeriod::new(
                Period::new(s, add_months(s, 1)),
                PeriodUnit::Month,
                false,
            ))
        }),
        rule(
            r"this quarter|quarter to date|qtd|current quarter",
            |_, t| {
                let s = quarter_start(t.year(), t.month0() / 3 + 1);
                Some(calendar(s, add_months(s, 3), PeriodUnit::Quarter, t))
            },
        ),
        rule(r"(?:last|previous|prior) quarter", |_, t| {
            let s = add_months(quarter_start(t.year(), t.month0() / 3 + 1), -3);
            Some(NamedPeriod::new(
                Period::new(s, add_months(s, 3)),
                PeriodUnit::Quarter,
                false,
            ))
        }),
        rule(r"q([1-4])(?:[ /-]?(\d{4}))?", |c, t| {
            let q: u32 = c[1].parse().ok()?;
            let s = match c.get(2) {
                Some(y) => quarter_start(y.as_str().parse().ok()?, q),
                None => {
                    let this = quarter_start(t.year(), q);
                    if this <= t {
                        this
                    } else {
                        quarter_start(t.year() - 1, q)
                    }
                }
            };
            (s <= t).then(|| calendar(s, add_months(s, 3), PeriodUnit::Quarter, t))
        }),
        rule(
            r"this year|year to date|year-to-date|ytd|so far this year",
            |_, t| {
                let s = NaiveDate::from_ymd_opt(t.year(), 1, 1)?;
                Some(calendar(s, add_months(s, 12), PeriodUnit::Year, t))
            },
        ),
        rule(r"(?:last|previous|prior) year", |_, t| {
            let s = NaiveDate::from_ymd_opt(t.year() - 1, 1, 1)?;
            Some(NamedPeriod::new(
                Period::new(s, add_months(s, 12)),
                PeriodUnit::Year,
                false,
            ))
        }),
        rule(r"(?:on )?(DATE)", |c, t| {
            let d = parse_date(&c[1], t)?;
            (d <= t).then(|| NamedPeriod::new(Period::day(d), PeriodUnit::Day, false))
        }),
        rule(r"(MONTHS),? (\d{4})", |c, t| {
            let m = month_number(&c[1])?;
            let y: i32 = c[2].parse().ok()?;
            let s = NaiveDate::from_ymd_opt(y, m, 1)?;
            (s <= t).then(|| calendar(s, add_months(s, 1), PeriodUnit::Month, t))
        }),
        // "may" alone is too often the verb: a bare month name needs a preposition or must not be "may".
        rule(
            r"(?:(in|for|during|of|since|and|vs|versus|to|with) )?(MONTHS)",
            |c, t| {
                let word = c[2].to_ascii_lowercase();
                if word == "may" && c.get(1).is_none() {
                    return None;
                }
                let s = latest_month(t, month_number(&word)?);
                Some(calendar(s, add_months(s, 1), PeriodUnit::Month, t))
            },
        ),
    ]
});

fn month_period(word: &str, year: Option<&str>, today: NaiveDate) -> Option<Period> {
    let m = month_number(word)?;
    let start = match year {
        Some(y) => NaiveDate::from_ymd_opt(y.parse().ok()?, m, 1)?,
        None => latest_month(today, m),
    };
    Some(Period::new(start, add_months(start, 1)))
}

/// A date-like phrase no rule could read (an impossible or future date, an
/// unknown format), so the planner can say so instead of guessing.
pub fn unreadable_date(text: &str, today: NaiveDate) -> Option<String> {
    static DATE_LIKE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(&format!(r"\b(?:\d{{4}}-\d{{1,2}}(?:-\d{{1,2}})?|\d{{1,2}}/\d{{1,2}}(?:/\d{{2,4}})?|\d{{1,2}}(?:st|nd|rd|th)? (?:{MONTHS})\b(?:,? \d{{4}})?|(?:{MONTHS}) \d{{1,2}}(?:st|nd|rd|th)?\b(?:,? \d{{4}})?)")).expect("date-like pattern compiles")
    });
    let lower = text.to_lowercase();
    let spans = period_spans(&lower, today);
    DATE_LIKE
        .find_iter(&lower)
        .find(|m| !spans.iter().any(|(s, e)| m.start() >= *s && m.end() <= *e))
        .map(|m| m.as_str().to_string())
}

fn period_spans(lower: &str, today: NaiveDate) -> Vec<(usize, usize)> {
    matches(lower, today)
        .into_iter()
        .map(|(s, e, _)| (s, e))
        .collect()
}

fn matches(lower: &str, today: NaiveDate) -> Vec<(usize, usize, NamedPeriod)> {
    let mut taken: Vec<(usize, usize, NamedPeriod)> = Vec::new();
    for rule in RULES.iter() {
        for caps in rule.re.captures_iter(lower) {
            let m = caps.get(0).expect("whole match");
            if taken.iter().any(|(s, e, _)| m.start() < *e && *s < m.end()) {
                continue;
            }
            if let Some(p) = (rule.build)(&caps, today) {
                taken.push((m.start(), m.end(), p));
            }
        }
    }
    taken.sort_by_key(|(s, _, _)| *s);
    taken
}

/// Every time phrase in `text`, in the order written, for a given `today`.
pub fn find_periods(text: &str, today: NaiveDate) -> Vec<NamedPeriod> {
    matches(&text.to_lowercase(), today)
        .into_iter()
        .map(|(_, _, p)| p)
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
            ("last 2 weeks", "2026-11-02", "2026-11-15", Span, false),
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
    fn unreadable_dates_are_named() {
        let t = d(TODAY);
        assert_eq!(
            unreadable_date("spend on 2026-02-30", t).as_deref(),
            Some("2026-02-30")
        );
        assert_eq!(
            unreadable_date("spend on 2026-11-20", t).as_deref(),
            Some("2026-11-20")
        );
        assert_eq!(
            unreadable_date("spend on november 31", t).as_deref(),
            Some("november 31")
        );
        assert_eq!(
            unreadable_date("spend on 31 february 2026", t).as_deref(),
            Some("31 february 2026")
        );
        assert_eq!(unreadable_date("spend on 2026-11-02", t), None);
        assert_eq!(unreadable_date("from 2026-03-01 to 2026-03-15", t), None);
        assert_eq!(unreadable_date("spend in march 2026", t), None);
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
