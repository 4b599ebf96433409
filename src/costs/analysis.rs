//! Analysis on cost series: period-over-period movers, robust anomaly
//! detection, and a month-end forecast. Actual amounts stay exact
//! (`Decimal`); statistical estimates are computed in f64 and rounded to cents.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate};
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::money::cents;
use super::CostResult;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mover {
    pub key: Vec<String>,
    #[serde(with = "rust_decimal::serde::str")]
    pub before: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub after: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub change: Decimal,
}

/// Per-group change from `before` to `after`, largest absolute change first.
pub fn movers(before: &CostResult, after: &CostResult) -> Vec<Mover> {
    let mut map: BTreeMap<Vec<String>, (Decimal, Decimal)> = BTreeMap::new();
    for (k, v) in before.totals_by_group() {
        map.entry(k).or_default().0 = v;
    }
    for (k, v) in after.totals_by_group() {
        map.entry(k).or_default().1 = v;
    }
    let mut out: Vec<Mover> = map
        .into_iter()
        .map(|(key, (b, a))| Mover {
            key,
            before: b,
            after: a,
            change: a - b,
        })
        .collect();
    out.sort_by(|x, y| {
        y.change
            .abs()
            .cmp(&x.change.abs())
            .then_with(|| x.key.cmp(&y.key))
    });
    out
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    /// The group (e.g. service) whose spend jumped.
    pub key: String,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub peak_day: NaiveDate,
    #[serde(with = "rust_decimal::serde::str")]
    pub peak_amount: Decimal,
    /// The typical daily amount before (median of the baseline window).
    #[serde(with = "rust_decimal::serde::str")]
    pub expected_daily: Decimal,
    /// Spend above expected over the anomaly's days.
    #[serde(with = "rust_decimal::serde::str")]
    pub impact: Decimal,
    /// Robust z-score at the peak.
    pub score: f64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct AnomalySettings {
    /// Days of history each day is compared with.
    pub baseline_days: usize,
    /// Robust z-score above which a day is unusual.
    pub threshold: f64,
    /// Smallest excess in dollars worth telling anyone about.
    pub min_impact: f64,
}

impl Default for AnomalySettings {
    fn default() -> Self {
        AnomalySettings {
            baseline_days: 28,
            threshold: 4.0,
            min_impact: 25.0,
        }
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn to_f64(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(0.0)
}

fn to_dec(x: f64) -> Decimal {
    cents(Decimal::from_f64(x).unwrap_or_default())
}

/// Spikes in each group's daily series within `window`, compared with the
/// median and MAD (median absolute deviation) of the preceding days.
/// Consecutive unusual days of one group form one anomaly.
pub fn anomalies(
    series: &BTreeMap<String, Vec<(NaiveDate, Decimal)>>,
    window: (NaiveDate, NaiveDate),
    s: AnomalySettings,
) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for (key, points) in series {
        let values: Vec<f64> = points.iter().map(|(_, v)| to_f64(*v)).collect();
        let mut current: Option<Anomaly> = None;
        for (i, (day, amount)) in points.iter().enumerate() {
            if *day < window.0 || *day > window.1 || i < s.baseline_days / 2 {
                continue;
            }
            let from = i.saturating_sub(s.baseline_days);
            let mut base: Vec<f64> = values[from..i].to_vec();
            let m = median(&mut base);
            let mut dev: Vec<f64> = base.iter().map(|x| (x - m).abs()).collect();
            let mad = median(&mut dev);
            // A flat baseline has MAD 0; keep a floor so pennies are not anomalies.
            let scale = (1.4826 * mad).max(0.02 * m.abs()).max(0.5);
            let x = values[i];
            let z = (x - m) / scale;
            let excess = x - m;
            let unusual = z > s.threshold && excess > s.min_impact.max(0.2 * m.abs());
            if unusual {
                match current.as_mut() {
                    Some(a) if a.last_day + Duration::days(1) == *day => {
                        a.last_day = *day;
                        a.impact += to_dec(excess);
                        if x > to_f64(a.peak_amount) {
                            a.peak_day = *day;
                            a.peak_amount = cents(*amount);
                            a.score = z;
                        }
                    }
                    _ => {
                        if let Some(done) = current.take() {
                            out.push(done);
                        }
                        current = Some(Anomaly {
                            key: key.clone(),
                            first_day: *day,
                            last_day: *day,
                            peak_day: *day,
                            peak_amount: cents(*amount),
                            expected_daily: to_dec(m),
                            impact: to_dec(excess),
                            score: (z * 10.0).round() / 10.0,
                        });
                    }
                }
            } else if let Some(done) = current.take() {
                out.push(done);
            }
        }
        if let Some(done) = current.take() {
            out.push(done);
        }
    }
    out.sort_by_key(|a| std::cmp::Reverse(a.impact));
    out
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    pub month_start: NaiveDate,
    pub month_end: NaiveDate,
    /// Actual spend from the 1st through `actual_through`.
    #[serde(with = "rust_decimal::serde::str")]
    pub actual_to_date: Decimal,
    pub actual_through: Option<NaiveDate>,
    #[serde(with = "rust_decimal::serde::str")]
    pub forecast_total: Decimal,
    /// An 80% interval around the forecast.
    #[serde(with = "rust_decimal::serde::str")]
    pub low: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub high: Decimal,
    #[serde(default, with = "rust_decimal::serde::str_option")]
    pub budget: Option<Decimal>,
    /// The first day the month's running total would pass the budget.
    pub budget_crossed_on: Option<NaiveDate>,
    /// Days of history the model was fitted on.
    pub history_days: usize,
}

/// Forecasts the month containing `today`: actuals through yesterday (today
/// is incomplete), then a linear trend times a day-of-week factor, both fitted
/// on `history` (complete days before today, ideally 8 weeks or more).
pub fn forecast_month(
    history: &[(NaiveDate, Decimal)],
    today: NaiveDate,
    budget: Option<Decimal>,
) -> Forecast {
    let month_start = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).expect("valid");
    let month_end = super::periods::add_months(month_start, 1) - Duration::days(1);
    let hist: Vec<(NaiveDate, f64)> = history
        .iter()
        .filter(|(d, _)| *d < today)
        .map(|(d, v)| (*d, to_f64(*v)))
        .collect();
    let actual: Decimal = history
        .iter()
        .filter(|(d, _)| *d >= month_start && *d < today)
        .map(|(_, v)| *v)
        .sum();
    let actual_through = history
        .iter()
        .filter(|(d, _)| *d >= month_start && *d < today)
        .map(|(d, _)| *d)
        .max();

    // Day-of-week factors.
    let mean = hist.iter().map(|(_, v)| v).sum::<f64>() / hist.len().max(1) as f64;
    let mut dow_sum = [0.0f64; 7];
    let mut dow_n = [0usize; 7];
    for (d, v) in &hist {
        let w = d.weekday().num_days_from_monday() as usize;
        dow_sum[w] += v;
        dow_n[w] += 1;
    }
    let factor: Vec<f64> = (0..7)
        .map(|w| {
            if dow_n[w] > 0 && mean > 0.0 {
                (dow_sum[w] / dow_n[w] as f64) / mean
            } else {
                1.0
            }
        })
        .collect();
    // Linear trend on the de-seasonalized series.
    let origin = hist.first().map(|(d, _)| *d).unwrap_or(today);
    let pts: Vec<(f64, f64)> = hist
        .iter()
        .map(|(d, v)| {
            (
                (*d - origin).num_days() as f64,
                v / factor[d.weekday().num_days_from_monday() as usize].max(1e-9),
            )
        })
        .collect();
    let n = pts.len() as f64;
    let (slope, intercept) = if pts.len() >= 2 {
        let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
        let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
        let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
        let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        let b = if sxx > 0.0 { sxy / sxx } else { 0.0 };
        (b, my - b * mx)
    } else {
        (0.0, pts.first().map(|p| p.1).unwrap_or(0.0))
    };
    let resid_sd = if pts.len() > 2 {
        (pts.iter()
            .map(|p| (p.1 - (intercept + slope * p.0)).powi(2))
            .sum::<f64>()
            / (n - 2.0))
            .sqrt()
    } else {
        0.0
    };
    let mut running = to_f64(actual);
    let budget_f = budget.map(to_f64);
    let mut crossed = None;
    if let Some(b) = budget_f {
        // Did the actuals already cross it?
        let mut acc = 0.0;
        for (d, v) in history
            .iter()
            .filter(|(d, _)| *d >= month_start && *d < today)
        {
            acc += to_f64(*v);
            if acc > b && crossed.is_none() {
                crossed = Some(*d);
            }
        }
    }
    let mut remaining = 0usize;
    let mut day = today;
    while day <= month_end {
        let t = (day - origin).num_days() as f64;
        let pred = ((intercept + slope * t)
            * factor[day.weekday().num_days_from_monday() as usize])
            .max(0.0);
        running += pred;
        remaining += 1;
        if let (Some(b), None) = (budget_f, crossed) {
            if running > b {
                crossed = Some(day);
            }
        }
        day += Duration::days(1);
    }
    let spread = 1.2816 * resid_sd * (remaining as f64).sqrt();
    Forecast {
        month_start,
        month_end,
        actual_to_date: actual,
        actual_through,
        forecast_total: to_dec(running),
        low: to_dec((running - spread).max(to_f64(actual))),
        high: to_dec(running + spread),
        budget,
        budget_crossed_on: crossed,
        history_days: hist.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn series(start: &str, values: &[f64]) -> Vec<(NaiveDate, Decimal)> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                (
                    d(start) + Duration::days(i as i64),
                    Decimal::from_f64(*v).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn finds_a_spike_and_its_size() {
        let mut v = vec![100.0; 40];
        for (i, x) in v.iter_mut().enumerate() {
            *x += (i % 3) as f64;
        }
        v[35] = 700.0;
        let mut map = BTreeMap::new();
        map.insert("NAT".to_string(), series("2026-10-01", &v));
        let found = anomalies(
            &map,
            (d("2026-10-20"), d("2026-11-09")),
            AnomalySettings::default(),
        );
        assert_eq!(found.len(), 1);
        let a = &found[0];
        assert_eq!(a.peak_day, d("2026-11-05"));
        assert_eq!(a.expected_daily, Decimal::from(101));
        assert_eq!(a.impact, Decimal::from(599));
    }

    #[test]
    fn weekly_rhythm_is_not_an_anomaly() {
        let v: Vec<f64> = (0..60)
            .map(|i| if i % 7 >= 5 { 60.0 } else { 100.0 })
            .collect();
        let mut map = BTreeMap::new();
        map.insert("EC2".to_string(), series("2026-09-01", &v));
        assert!(anomalies(
            &map,
            (d("2026-09-01"), d("2026-10-30")),
            AnomalySettings::default()
        )
        .is_empty());
    }

    #[test]
    fn flat_spend_forecasts_flat_and_finds_the_crossing_day() {
        // 2026-09-21 .. 2026-11-18 at $100/day; today is 2026-11-19.
        let hist = series("2026-09-21", &vec![100.0; 59]);
        let f = forecast_month(&hist, d("2026-11-19"), Some(Decimal::from(2500)));
        assert_eq!(f.actual_to_date, Decimal::from(1800));
        assert_eq!(f.forecast_total, Decimal::from(3000));
        // 1,800 + 7 x 100 reaches 2,500 on the 25th; it is passed on the 26th.
        assert_eq!(f.budget_crossed_on, Some(d("2026-11-26")));
        assert_eq!(f.low, f.high);
    }

    #[test]
    fn growth_shows_in_the_forecast() {
        let v: Vec<f64> = (0..56).map(|i| 100.0 + i as f64).collect();
        let hist = series("2026-09-24", &v);
        let f = forecast_month(&hist, d("2026-11-19"), None);
        // Naive run-rate would be (actual / 18 days) * 30.
        assert!(f.forecast_total > f.actual_to_date / Decimal::from(18) * Decimal::from(30));
    }
}
