//! The sample organization's stand-ins for AWS's own forecast and Cost
//! Anomaly Detection: deterministic, derived from the sample's data and its
//! demo events (so they agree with costbot's own anomaly search), and
//! labelled "sample" like everything else it answers.

use chrono::{Duration, NaiveDate};
use rust_decimal::prelude::FromPrimitive;
use rust_decimal::Decimal;

use super::catalog::{ACCOUNTS, REGIONS, SERVICES};
use super::events::DEMO_EVENTS;
use super::{RecordType, SampleSource};
use crate::costs::insights::{
    AnomalyImpact, AnomalyQuery, AnomalyResult, AwsAnomaly, ForecastBucket, ForecastQuery,
    ForecastResult, RootCause,
};
use crate::costs::periods::{add_months, month_start};
use crate::costs::{CostError, CostSource, Granularity, Period};

/// The monitor the sample's anomalies are reported under.
pub const SAMPLE_MONITOR_ARN: &str =
    "arn:aws:ce::111111111111:anomalymonitor/sample-services-monitor";

/// z for a central interval of `level` percent (Abramowitz–Stegun 26.2.23).
fn z_for(level: u8) -> f64 {
    let q = (1.0 - level as f64 / 100.0) / 2.0;
    let t = (-2.0 * q.ln()).sqrt();
    t - (2.515517 + 0.802853 * t + 0.010328 * t * t)
        / (1.0 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t)
}

fn money(v: f64) -> Decimal {
    Decimal::from_f64(v.max(0.0))
        .unwrap_or_default()
        .round_dp(2)
}

/// Mean of the last 28 complete days, spread over the period's days, with an
/// interval from their day-to-day spread.
pub(super) async fn forecast(
    sample: &SampleSource,
    q: &ForecastQuery,
    today: NaiveDate,
) -> Result<ForecastResult, CostError> {
    q.validate()?;
    let start = q.period.start.max(today);
    if start >= q.period.end {
        return Err(CostError::InvalidQuery(
            "AWS forecasts only days from today on".into(),
        ));
    }
    let mut history = q.as_cost_query();
    history.granularity = Granularity::Daily;
    history.group_by.clear();
    history.period = Period::new(today - Duration::days(28), today);
    let series: Vec<f64> = sample
        .cost_and_usage(&history)
        .await?
        .series()
        .iter()
        .map(|(_, d)| d.to_string().parse::<f64>().unwrap_or(0.0))
        .collect();
    let n = series.len().max(1) as f64;
    let mean = series.iter().sum::<f64>() / n;
    let sd = (series.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    let z = z_for(q.prediction_interval);
    let mut buckets = Vec::new();
    let mut from = start;
    while from < q.period.end {
        let to = match q.granularity {
            Granularity::Daily => from + Duration::days(1),
            Granularity::Monthly => add_months(month_start(from), 1),
        }
        .min(q.period.end);
        let days = (to - from).num_days() as f64;
        let m = money(mean * days);
        let spread = z * sd * days.sqrt();
        buckets.push(ForecastBucket {
            start: from,
            end: to,
            mean: m,
            lower: Some(money(mean * days - spread)),
            upper: Some(money(mean * days + spread)),
        });
        from = to;
    }
    let mut query = q.clone();
    query.period = Period::new(start, q.period.end);
    Ok(ForecastResult {
        query,
        unit: "USD".into(),
        total: buckets.iter().map(|b| b.mean).sum(),
        buckets,
        source: "sample".into(),
        requests: 0,
        cached: false,
    })
}

fn impact_passes(q: &AnomalyQuery, total: Decimal) -> bool {
    let Some(f) = &q.total_impact else {
        return true;
    };
    match f.operator.as_str() {
        "EQUAL" => total == f.start,
        "GREATER_THAN_OR_EQUAL" => total >= f.start,
        "LESS_THAN_OR_EQUAL" => total <= f.start,
        "GREATER_THAN" => total > f.start,
        "LESS_THAN" => total < f.start,
        "BETWEEN" => total >= f.start && f.end.is_none_or(|e| total <= e),
        _ => false,
    }
}

/// One anomaly per demo event that has begun and overlaps the interval,
/// its impact measured on the sample's own records (actual against actual
/// without the event's factor).
pub(super) fn anomalies(
    sample: &SampleSource,
    q: &AnomalyQuery,
    today: NaiveDate,
) -> Result<AnomalyResult, CostError> {
    q.validate()?;
    if let Some(c) = &q.connection {
        return Err(CostError::UnknownConnection(c.clone()));
    }
    let monitor_matches = q
        .monitor_arn
        .as_deref()
        .is_none_or(|arn| arn == SAMPLE_MONITOR_ARN);
    let records = sample.records(today);
    let mut anomalies = Vec::new();
    for (n, event) in DEMO_EVENTS.iter().enumerate() {
        let Ok(injection) = event.resolve(SERVICES, today) else {
            continue;
        };
        let (from, to) = injection.span();
        let to = to.min(today);
        if !monitor_matches || from > to || to < q.start || from > q.end {
            continue;
        }
        let mut daily: std::collections::BTreeMap<NaiveDate, f64> = Default::default();
        let mut causes: Vec<RootCause> = Vec::new();
        let factor = injection.factor;
        for r in records.iter().filter(|r| r.kind == RecordType::Usage) {
            let usage = r
                .usage_type
                .strip_prefix(REGIONS.get(r.region).map(|x| x.1).unwrap_or(""))
                .unwrap_or(&r.usage_type);
            if !injection.applies(r.service, r.account, r.region, usage, r.day) {
                continue;
            }
            let actual = r.amount.to_string().parse::<f64>().unwrap_or(0.0);
            *daily.entry(r.day).or_default() += actual;
            let cause = RootCause {
                service: Some(event.service.to_string()),
                region: REGIONS.get(r.region).map(|x| x.0.to_string()),
                linked_account: Some(ACCOUNTS[r.account].1.to_string()),
                linked_account_name: Some(ACCOUNTS[r.account].0.to_string()),
                usage_type: Some(r.usage_type.clone()),
            };
            if !causes.contains(&cause) {
                causes.push(cause);
            }
        }
        let actual: f64 = daily.values().sum();
        let expected = actual / factor;
        let max_day = daily
            .values()
            .map(|a| a - a / factor)
            .fold(0.0_f64, f64::max);
        let total_impact = money(actual - expected);
        if !impact_passes(q, total_impact) {
            continue;
        }
        let (total_actual, total_expected) = (money(actual), money(expected));
        anomalies.push(AwsAnomaly {
            id: format!("sample-anomaly-{n}-{from}"),
            start: Some(from),
            end: Some(to),
            dimension_value: Some(event.service.to_string()),
            monitor_arn: SAMPLE_MONITOR_ARN.to_string(),
            root_causes: causes,
            impact: AnomalyImpact {
                max_impact: money(max_day),
                total_impact,
                total_actual_spend: Some(total_actual),
                total_expected_spend: Some(total_expected),
                total_impact_percentage: (total_expected > Decimal::ZERO)
                    .then(|| (total_impact / total_expected * Decimal::ONE_HUNDRED).round_dp(2)),
            },
        });
    }
    anomalies.sort_by(|a, b| {
        b.impact
            .total_impact
            .cmp(&a.impact.total_impact)
            .then_with(|| a.id.cmp(&b.id))
    });
    Ok(AnomalyResult {
        query: q.clone(),
        anomalies,
        source: "sample".into(),
        requests: 0,
        cached: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::costs::Period;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn z_matches_the_normal_table() {
        assert!((z_for(80) - 1.2816).abs() < 0.001);
        assert!((z_for(95) - 1.96).abs() < 0.001);
    }

    #[tokio::test]
    async fn the_sample_forecast_covers_the_rest_of_the_month_with_an_interval() {
        let today = d("2026-11-19");
        let sample = SampleSource::new(today);
        let q = ForecastQuery::new(Period::new(today, d("2026-12-01")));
        let f = sample.forecast(&q).await.unwrap();
        assert_eq!(f.source, "sample");
        assert_eq!(f.buckets.len(), 1);
        let (lo, hi) = f.interval().unwrap();
        assert!(lo < f.total && f.total < hi, "{lo} {} {hi}", f.total);
        // Deterministic.
        assert_eq!(f, sample.forecast(&q).await.unwrap());
        // A narrower scope forecasts less.
        let mut s3 = q.clone();
        s3.filter.services = vec!["Amazon Simple Storage Service".into()];
        assert!(sample.forecast(&s3).await.unwrap().total < f.total);
    }

    #[tokio::test]
    async fn the_sample_anomalies_are_its_demo_events() {
        let today = d("2026-11-19");
        let sample = SampleSource::new(today);
        let q = AnomalyQuery {
            start: today - Duration::days(7),
            end: today,
            monitor_arn: None,
            total_impact: None,
            connection: None,
        };
        let r = sample.anomalies(&q).await.unwrap();
        let services: Vec<_> = r
            .anomalies
            .iter()
            .filter_map(|a| a.dimension_value.clone())
            .collect();
        assert!(
            services.contains(&"EC2 - Other".to_string()),
            "{services:?}"
        );
        assert!(services.contains(&"Amazon Elastic Compute Cloud - Compute".to_string()));
        let nat = r
            .anomalies
            .iter()
            .find(|a| a.dimension_value.as_deref() == Some("EC2 - Other"))
            .unwrap();
        assert_eq!(nat.start, Some(d("2026-11-16")));
        let cause = &nat.root_causes[0];
        assert_eq!(cause.linked_account_name.as_deref(), Some("prod"));
        assert_eq!(cause.usage_type.as_deref(), Some("USE1-NatGateway-Bytes"));
        let i = &nat.impact;
        assert_eq!(
            i.total_impact,
            i.total_actual_spend.unwrap() - i.total_expected_spend.unwrap()
        );
        assert!(i.total_impact > Decimal::ZERO);
        // The impact filter and the monitor narrow the list.
        let mut big = q.clone();
        big.total_impact = Some(crate::costs::insights::ImpactFilter {
            operator: "GREATER_THAN".into(),
            start: Decimal::from(1_000_000),
            end: None,
        });
        assert!(sample.anomalies(&big).await.unwrap().anomalies.is_empty());
        let mut other = q.clone();
        other.monitor_arn = Some("arn:aws:ce::1:anomalymonitor/other".into());
        assert!(sample.anomalies(&other).await.unwrap().anomalies.is_empty());
    }
}
