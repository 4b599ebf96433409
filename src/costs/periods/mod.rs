//! Periods and calendar arithmetic; `crate::language::time` reads the time
//! phrases people use for them.
//!
//! A [`Period`] is half-open like Cost Explorer's TimePeriod (End exclusive);
//! labels show inclusive dates, as people say them.

use chrono::{Datelike, Duration, NaiveDate};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Period {
    pub start: NaiveDate,
    /// Exclusive.
    pub end: NaiveDate,
}

/// How a period was named, which decides what "the one before" means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodUnit {
    Day,
    Week,
    Month,
    Quarter,
    Year,
    /// Any other span: the one before is the same number of days earlier.
    Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedPeriod {
    pub period: Period,
    pub unit: PeriodUnit,
    /// A calendar unit cut short at today ("this month", "year to date").
    pub to_date: bool,
}

impl Period {
    pub fn new(start: NaiveDate, end_exclusive: NaiveDate) -> Period {
        Period {
            start,
            end: end_exclusive,
        }
    }
    pub fn inclusive(first: NaiveDate, last: NaiveDate) -> Period {
        Period::new(first, last + Duration::days(1))
    }
    pub fn day(d: NaiveDate) -> Period {
        Period::inclusive(d, d)
    }
    pub fn month(year: i32, month: u32) -> Period {
        let start = NaiveDate::from_ymd_opt(year, month, 1).expect("valid month");
        Period::new(start, add_months(start, 1))
    }
    pub fn days(&self) -> i64 {
        (self.end - self.start).num_days()
    }
    pub fn last_day(&self) -> NaiveDate {
        self.end - Duration::days(1)
    }
    pub fn contains(&self, d: NaiveDate) -> bool {
        self.start <= d && d < self.end
    }
    pub fn iter_days(&self) -> impl Iterator<Item = NaiveDate> {
        let start = self.start;
        (0..self.days()).map(move |i| start + Duration::days(i))
    }

    /// "3 November 2026", "1–30 November 2026", "28 October – 3 November 2026".
    pub fn label(&self) -> String {
        let a = self.start;
        let b = self.last_day();
        if a == b {
            return format!("{} {} {}", a.day(), month_name(a.month()), a.year());
        }
        if a.year() == b.year() && a.month() == b.month() {
            return format!(
                "{}–{} {} {}",
                a.day(),
                b.day(),
                month_name(a.month()),
                a.year()
            );
        }
        if a.year() == b.year() {
            return format!(
                "{} {} – {} {} {}",
                a.day(),
                month_name(a.month()),
                b.day(),
                month_name(b.month()),
                b.year()
            );
        }
        format!(
            "{} {} {} – {} {} {}",
            a.day(),
            month_name(a.month()),
            a.year(),
            b.day(),
            month_name(b.month()),
            b.year()
        )
    }
}

impl NamedPeriod {
    pub fn new(period: Period, unit: PeriodUnit, to_date: bool) -> Self {
        NamedPeriod {
            period,
            unit,
            to_date,
        }
    }

    /// This period moved back by one named unit ("the week before" after any period).
    pub fn shifted_back(&self, unit: PeriodUnit) -> NamedPeriod {
        let p = self.period;
        let back = |d: NaiveDate, months: i32| -> NaiveDate {
            let first = add_months(d, months);
            let day = d.day().min(days_in_month(first));
            NaiveDate::from_ymd_opt(first.year(), first.month(), day).expect("valid day")
        };
        let moved = match unit {
            PeriodUnit::Day => Period::new(p.start - Duration::days(1), p.end - Duration::days(1)),
            PeriodUnit::Week => Period::new(p.start - Duration::days(7), p.end - Duration::days(7)),
            PeriodUnit::Month | PeriodUnit::Quarter | PeriodUnit::Year => {
                if self.unit == unit {
                    return self.previous();
                }
                let m = match unit {
                    PeriodUnit::Month => -1,
                    PeriodUnit::Quarter => -3,
                    _ => -12,
                };
                Period::new(back(p.start, m), back(p.last_day(), m) + Duration::days(1))
            }
            PeriodUnit::Span => return self.previous(),
        };
        NamedPeriod::new(moved, self.unit, self.to_date)
    }

    /// The comparable period before this one: the previous calendar unit, cut
    /// to the same number of days when this one is "to date".
    pub fn previous(&self) -> NamedPeriod {
        let p = self.period;
        let (start, full_end) = match self.unit {
            PeriodUnit::Month => (add_months(p.start, -1), p.start),
            PeriodUnit::Quarter => (add_months(p.start, -3), p.start),
            PeriodUnit::Year => (add_months(p.start, -12), p.start),
            PeriodUnit::Day | PeriodUnit::Week | PeriodUnit::Span => {
                // A week (even a week to date) steps back a whole week, a day one day.
                let len = match self.unit {
                    PeriodUnit::Week => Duration::days(7),
                    PeriodUnit::Day => Duration::days(1),
                    _ => Duration::days(p.days()),
                };
                return NamedPeriod::new(
                    Period::new(p.start - len, p.end - len),
                    self.unit,
                    self.to_date,
                );
            }
        };
        let end = if self.to_date {
            (start + Duration::days(p.days())).min(full_end)
        } else {
            full_end
        };
        NamedPeriod::new(Period::new(start, end), self.unit, self.to_date)
    }
}

pub fn month_name(m: u32) -> &'static str {
    [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ][(m as usize - 1) % 12]
}

/// First day of the month `delta` months from `d`'s month.
pub fn add_months(d: NaiveDate, delta: i32) -> NaiveDate {
    let total = d.year() * 12 + d.month0() as i32 + delta;
    NaiveDate::from_ymd_opt(total.div_euclid(12), total.rem_euclid(12) as u32 + 1, 1)
        .expect("valid month")
}

pub fn days_in_month(first: NaiveDate) -> u32 {
    (add_months(first, 1) - month_start(first)).num_days() as u32
}

pub fn month_start(d: NaiveDate) -> NaiveDate {
    NaiveDate::from_ymd_opt(d.year(), d.month(), 1).expect("valid month")
}

pub fn week_start(d: NaiveDate) -> NaiveDate {
    d - Duration::days(d.weekday().num_days_from_monday() as i64)
}

pub fn quarter_start(year: i32, q: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, (q - 1) * 3 + 1, 1).expect("valid quarter")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::language::time::find_periods;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }
    // A Thursday.
    const TODAY: &str = "2026-11-19";

    #[test]
    fn stepping_back_by_a_named_unit() {
        let this_week = find_periods("this week", d(TODAY))[0];
        assert_eq!(
            this_week.previous().period,
            Period::inclusive(d("2026-11-09"), d("2026-11-12"))
        );
        let yesterday = find_periods("yesterday", d(TODAY))[0];
        assert_eq!(
            yesterday.shifted_back(PeriodUnit::Week).period,
            Period::day(d("2026-11-11"))
        );
        let last_month = find_periods("last month", d(TODAY))[0];
        assert_eq!(
            last_month.shifted_back(PeriodUnit::Month).period,
            Period::month(2026, 9)
        );
        let last_week = find_periods("last week", d(TODAY))[0];
        assert_eq!(
            last_week.shifted_back(PeriodUnit::Week).period,
            Period::inclusive(d("2026-11-02"), d("2026-11-08"))
        );
    }

    #[test]
    fn previous_periods() {
        let last_week = find_periods("last week", d(TODAY))[0];
        assert_eq!(
            last_week.previous().period,
            Period::inclusive(d("2026-11-02"), d("2026-11-08"))
        );
        let mtd = find_periods("this month", d(TODAY))[0];
        assert_eq!(
            mtd.previous().period,
            Period::inclusive(d("2026-10-01"), d("2026-10-19"))
        );
        let march = find_periods("march", d(TODAY))[0];
        assert_eq!(
            march.previous().period,
            Period::inclusive(d("2026-02-01"), d("2026-02-28"))
        );
        let mtd31 = find_periods("this month", d("2026-03-31"))[0];
        assert_eq!(
            mtd31.previous().period,
            Period::inclusive(d("2026-02-01"), d("2026-02-28"))
        );
    }

    #[test]
    fn labels_are_inclusive() {
        assert_eq!(
            Period::inclusive(d("2026-10-01"), d("2026-10-31")).label(),
            "1–31 October 2026"
        );
        assert_eq!(Period::day(d("2026-11-03")).label(), "3 November 2026");
        assert_eq!(
            Period::inclusive(d("2026-10-28"), d("2026-11-03")).label(),
            "28 October – 3 November 2026"
        );
        assert_eq!(Period::month(2026, 10).end, d("2026-11-01"));
    }
}
