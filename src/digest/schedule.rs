//! When a digest fires: a small cron subset ("daily 09:00", "weekdays 09:00",
//! "weekly mon 09:00", "monthly 1 09:00") read in the subscription's IANA
//! time zone. Each occurrence is named by its local date (the run's period).
//!
//! Wall-clock rules, decided here once:
//! - a time that happens twice (the October switch) fires at the first one;
//! - a time that does not exist (02:30 on the March switch day in Paris)
//!   fires at the instant it would have been at the old offset, i.e. one
//!   hour later on the new clock (03:30), never skipped;
//! - "monthly 31" fires on the last day of shorter months.

use std::fmt;

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;

use crate::costs::periods::{add_months, month_start};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cadence {
    Daily,
    Weekdays,
    Weekly(Weekday),
    /// Day of the month, 1–31; past the month's end means its last day.
    Monthly(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub cadence: Cadence,
    pub time: NaiveTime,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{given}' is not a schedule: {why}. Use \"daily 09:00\", \"weekdays 09:00\", \"weekly mon 09:00\" or \"monthly 1 09:00\"")]
pub struct ScheduleError {
    pub given: String,
    pub why: String,
}

impl std::str::FromStr for Schedule {
    type Err = ScheduleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |why: &str| ScheduleError {
            given: s.to_string(),
            why: why.to_string(),
        };
        let words: Vec<String> = s.split_whitespace().map(str::to_ascii_lowercase).collect();
        let (cadence, time) = match words.as_slice() {
            [c, t] if c == "daily" => (Cadence::Daily, t),
            [c, t] if c == "weekdays" => (Cadence::Weekdays, t),
            [c, d, t] if c == "weekly" => {
                let day = d
                    .parse::<Weekday>()
                    .map_err(|_| err(&format!("'{d}' is not a day of the week")))?;
                (Cadence::Weekly(day), t)
            }
            [c, d, t] if c == "monthly" => {
                let day: u32 = d
                    .parse()
                    .ok()
                    .filter(|n| (1..=31).contains(n))
                    .ok_or_else(|| err(&format!("'{d}' is not a day of the month (1-31)")))?;
                (Cadence::Monthly(day), t)
            }
            _ => return Err(err("unknown form")),
        };
        let time = NaiveTime::parse_from_str(time, "%H:%M")
            .map_err(|_| err(&format!("'{time}' is not a time like 09:00")))?;
        Ok(Schedule { cadence, time })
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.time.format("%H:%M");
        match self.cadence {
            Cadence::Daily => write!(f, "daily {t}"),
            Cadence::Weekdays => write!(f, "weekdays {t}"),
            Cadence::Weekly(d) => write!(f, "weekly {} {t}", short_day(d)),
            Cadence::Monthly(n) => write!(f, "monthly {n} {t}"),
        }
    }
}

fn short_day(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "mon",
        Weekday::Tue => "tue",
        Weekday::Wed => "wed",
        Weekday::Thu => "thu",
        Weekday::Fri => "fri",
        Weekday::Sat => "sat",
        Weekday::Sun => "sun",
    }
}

/// One firing: the local date it belongs to and the instant it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    pub period: NaiveDate,
    pub at: DateTime<Utc>,
}

fn last_day_of_month(d: NaiveDate) -> u32 {
    (add_months(month_start(d), 1) - Duration::days(1)).day()
}

impl Schedule {
    /// Whether the schedule fires on this local date.
    pub fn fires_on(&self, date: NaiveDate) -> bool {
        match self.cadence {
            Cadence::Daily => true,
            Cadence::Weekdays => !matches!(date.weekday(), Weekday::Sat | Weekday::Sun),
            Cadence::Weekly(d) => date.weekday() == d,
            Cadence::Monthly(n) => date.day() == n.min(last_day_of_month(date)),
        }
    }

    /// The instant the schedule's time is on `date` in `tz` (see the module
    /// notes for repeated and missing wall-clock times).
    pub fn instant_on(&self, date: NaiveDate, tz: Tz) -> DateTime<Utc> {
        let local = date.and_time(self.time);
        match tz.from_local_datetime(&local) {
            LocalResult::Single(t) => t.with_timezone(&Utc),
            LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
            // In a gap: one hour later on the new clock, which is the
            // instant the missing time names at the old offset.
            LocalResult::None => tz
                .from_local_datetime(&(local + Duration::hours(1)))
                .earliest()
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_else(|| Utc.from_utc_datetime(&local)),
        }
    }

    /// The first occurrence strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Occurrence {
        let mut date = after.with_timezone(&tz).date_naive() - Duration::days(1);
        // Monthly on the 31st fires within 31 days; weekly within 7.
        for _ in 0..70 {
            if self.fires_on(date) {
                let at = self.instant_on(date, tz);
                if at > after {
                    return Occurrence { period: date, at };
                }
            }
            date += Duration::days(1);
        }
        unreachable!("every schedule fires at least once a month")
    }

    /// Every occurrence in (`from`, `to`], oldest first, at most `limit`
    /// (the newest are kept when there are more).
    pub fn between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        tz: Tz,
        limit: usize,
    ) -> Vec<Occurrence> {
        let mut out = Vec::new();
        let mut cursor = from;
        loop {
            let o = self.next_after(cursor, tz);
            if o.at > to {
                break;
            }
            out.push(o);
            cursor = o.at;
        }
        if out.len() > limit {
            out.drain(..out.len() - limit);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }
    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }
    const PARIS: Tz = chrono_tz::Europe::Paris;

    #[test]
    fn schedules_read_and_print_back() {
        for s in [
            "daily 09:00",
            "weekdays 07:30",
            "weekly mon 09:00",
            "monthly 31 23:15",
        ] {
            assert_eq!(s.parse::<Schedule>().unwrap().to_string(), s);
        }
        for bad in [
            "hourly",
            "daily 25:00",
            "weekly funday 09:00",
            "monthly 32 09:00",
            "daily",
        ] {
            let e = bad.parse::<Schedule>().unwrap_err();
            assert!(e.to_string().contains("daily 09:00"), "{e}");
        }
    }

    #[test]
    fn paris_nine_oclock_keeps_its_wall_time_across_both_switches() {
        let s: Schedule = "daily 09:00".parse().unwrap();
        // March 2026: clocks go forward on Sunday the 29th (CET +1 -> CEST +2).
        let sat = s.next_after(utc("2026-03-28T00:00:00Z"), PARIS);
        assert_eq!(
            sat,
            Occurrence {
                period: d("2026-03-28"),
                at: utc("2026-03-28T08:00:00Z")
            }
        );
        let sun = s.next_after(sat.at, PARIS);
        assert_eq!(
            sun,
            Occurrence {
                period: d("2026-03-29"),
                at: utc("2026-03-29T07:00:00Z")
            }
        );
        // October 2026: clocks go back on Sunday the 25th.
        let sat = s.next_after(utc("2026-10-24T00:00:00Z"), PARIS);
        assert_eq!(sat.at, utc("2026-10-24T07:00:00Z"));
        let sun = s.next_after(sat.at, PARIS);
        assert_eq!(
            sun,
            Occurrence {
                period: d("2026-10-25"),
                at: utc("2026-10-25T08:00:00Z")
            }
        );
        // Exactly one firing per local day across both switches.
        let all = s.between(
            utc("2026-03-27T12:00:00Z"),
            utc("2026-03-31T12:00:00Z"),
            PARIS,
            100,
        );
        assert_eq!(
            all.iter().map(|o| o.period.to_string()).collect::<Vec<_>>(),
            ["2026-03-28", "2026-03-29", "2026-03-30", "2026-03-31"]
        );
        let all = s.between(
            utc("2026-10-23T12:00:00Z"),
            utc("2026-10-27T12:00:00Z"),
            PARIS,
            100,
        );
        assert_eq!(all.len(), 4);
    }

    #[test]
    fn a_missing_time_fires_an_hour_later_and_a_repeated_time_fires_once() {
        let s: Schedule = "daily 02:30".parse().unwrap();
        // 02:30 does not exist in Paris on 29 March 2026: it fires at 03:30 CEST (01:30Z).
        let o = s.next_after(utc("2026-03-28T12:00:00Z"), PARIS);
        assert_eq!(
            o,
            Occurrence {
                period: d("2026-03-29"),
                at: utc("2026-03-29T01:30:00Z")
            }
        );
        // 02:30 happens twice on 25 October 2026: the first (CEST, 00:30Z) only.
        let o = s.next_after(utc("2026-10-24T12:00:00Z"), PARIS);
        assert_eq!(o.at, utc("2026-10-25T00:30:00Z"));
        let next = s.next_after(o.at, PARIS);
        assert_eq!(next.period, d("2026-10-26"));
    }

    #[test]
    fn monthly_past_the_end_means_the_last_day() {
        let s: Schedule = "monthly 31 09:00".parse().unwrap();
        let tz = chrono_tz::UTC;
        let mut at = utc("2026-01-01T00:00:00Z");
        let mut periods = Vec::new();
        for _ in 0..4 {
            let o = s.next_after(at, tz);
            periods.push(o.period.to_string());
            at = o.at;
        }
        assert_eq!(
            periods,
            ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30"]
        );
        let leap = s.next_after(utc("2028-02-01T00:00:00Z"), tz);
        assert_eq!(leap.period, d("2028-02-29"));
    }

    #[test]
    fn weekdays_and_weekly_skip_the_right_days() {
        let tz: Tz = "America/New_York".parse().unwrap();
        let s: Schedule = "weekdays 09:00".parse().unwrap();
        // Friday 27 Nov 2026 after 09:00 local: next is Monday the 30th, 14:00Z (EST).
        let o = s.next_after(utc("2026-11-27T15:00:00Z"), tz);
        assert_eq!(
            o,
            Occurrence {
                period: d("2026-11-30"),
                at: utc("2026-11-30T14:00:00Z")
            }
        );
        let w: Schedule = "weekly wed 18:00".parse().unwrap();
        assert_eq!(
            w.next_after(utc("2026-11-30T00:00:00Z"), tz).period,
            d("2026-12-02")
        );
    }

    #[test]
    fn between_keeps_the_newest_when_limited() {
        let s: Schedule = "daily 09:00".parse().unwrap();
        let all = s.between(
            utc("2026-11-01T00:00:00Z"),
            utc("2026-11-10T23:00:00Z"),
            chrono_tz::UTC,
            3,
        );
        assert_eq!(
            all.iter().map(|o| o.period.day()).collect::<Vec<_>>(),
            [8, 9, 10]
        );
    }
}
