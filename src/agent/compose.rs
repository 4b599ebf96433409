//! Turns tool outputs into an [`Answer`]. Every figure is copied from a tool
//! result; the wording around it is fixed text.

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;

use super::answer::{Answer, Basis, Cell, Citation, Series, SeriesPoint, Table};
use super::ask::{Ask, Intent};
use super::tools::ToolOutput;
use crate::costs::money::{self, format, format_change, format_percent, percent_change};
use crate::costs::periods::Period;
use crate::costs::{CostResult, Dimension};
use crate::retrieval::Hit;

/// How group keys read to people.
pub struct Labels {
    pub accounts: Vec<(String, String)>,
}

impl Labels {
    pub fn key(&self, dims: &[Dimension], keys: &[String]) -> String {
        keys.iter()
            .enumerate()
            .map(|(i, k)| match dims.get(i) {
                Some(Dimension::LinkedAccount) => {
                    match self.accounts.iter().find(|(_, id)| id == k) {
                        Some((name, id)) => format!("{name} ({id})"),
                        None => k.clone(),
                    }
                }
                Some(Dimension::Tag(tag)) => {
                    let v = k.strip_prefix(&format!("{tag}$")).unwrap_or(k);
                    if v.is_empty() {
                        format!("(no {tag} tag)")
                    } else {
                        v.to_string()
                    }
                }
                _ if k.is_empty() => "(none)".to_string(),
                _ => k.clone(),
            })
            .collect::<Vec<_>>()
            .join(" · ")
    }
}

pub fn basis(result: &CostResult, compared: Option<&Period>, sample: bool) -> Basis {
    let p = result.query.period;
    Basis {
        period: p.label(),
        start: p.start,
        end_inclusive: p.last_day(),
        compared_with: compared.map(|c| c.label()),
        metric: result.query.metric.label().to_string(),
        credits_refunds_excluded: !result.query.include_credits_refunds,
        credits_apply: true,
        source: if sample {
            "sample data".into()
        } else {
            "AWS Cost Explorer".into()
        },
        sample_data: sample,
        estimated: result.estimated(),
        cached: result.cached,
    }
}

fn share(part: Decimal, total: Decimal) -> String {
    if total.is_zero() {
        "–".into()
    } else {
        format!("{:.1}%", (part / total * Decimal::from(100)).round_dp(1))
    }
}

fn cite(hits: &[Hit], answer: &mut Answer) {
    for h in hits {
        answer.citations.push(Citation {
            title: h.title.clone(),
            section: h.section.clone(),
            guide: h.guide.clone(),
            source_url: h.source_url.clone(),
        });
    }
}

fn first_sentences(text: &str, max_chars: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.len() <= max_chars {
        return flat;
    }
    let cut = flat
        .char_indices()
        .take_while(|(i, _)| *i < max_chars)
        .last()
        .map(|(i, _)| i)
        .unwrap_or(0);
    let head = &flat[..cut];
    match head.rfind(". ") {
        Some(dot) if dot > max_chars / 3 => head[..=dot].to_string(),
        _ => format!("{}…", head.trim_end()),
    }
}

/// The result's buckets as chart points: one per bucket, or one per bucket
/// and group when the result is grouped. `partial` marks incomplete buckets.
fn series_of(
    result: &CostResult,
    labels: &Labels,
    partial: impl Fn(&crate::costs::TimeBucket) -> bool,
) -> Series {
    let dims = &result.query.group_by;
    let points = result
        .buckets
        .iter()
        .flat_map(|b| {
            let p = partial(b);
            if dims.is_empty() || b.groups.is_empty() {
                vec![SeriesPoint {
                    date: b.start,
                    group: None,
                    amount: b.total(),
                    partial: p,
                }]
            } else {
                b.groups
                    .iter()
                    .map(|g| SeriesPoint {
                        date: b.start,
                        group: Some(labels.key(dims, &g.keys)),
                        amount: g.amount,
                        partial: p,
                    })
                    .collect()
            }
        })
        .collect();
    Series {
        unit: result.unit.clone(),
        granularity: match result.query.granularity {
            crate::costs::Granularity::Daily => "DAILY".into(),
            crate::costs::Granularity::Monthly => "MONTHLY".into(),
        },
        points,
    }
}

pub fn compose(
    ask: &Ask,
    outputs: &[ToolOutput],
    labels: &Labels,
    sample: bool,
    today: NaiveDate,
) -> Answer {
    let mut a = Answer::default();
    let what = ask.subject.as_str();
    for out in outputs {
        match out {
            ToolOutput::Costs { result, top_n } => costs(
                ask.intent, result, *top_n, what, labels, sample, today, &mut a,
            ),
            ToolOutput::Comparison {
                current,
                previous,
                movers,
                top_n,
            } => {
                let before = previous.total();
                let after = current.total();
                let change = after - before;
                let unit = &current.unit;
                let direction = if change > Decimal::ZERO {
                    "went up"
                } else if change < Decimal::ZERO {
                    "went down"
                } else {
                    "did not change"
                };
                let pct = percent_change(before, after)
                    .map(|p| format!(" ({})", format_percent(p)))
                    .unwrap_or_default();
                let (days_now, days_before) =
                    (current.query.period.days(), previous.query.period.days());
                if days_now != days_before && days_now > 0 && days_before > 0 {
                    // Unequal periods: totals alone would mislead, so the headline is per day.
                    let per_now = after / Decimal::from(days_now);
                    let per_before = before / Decimal::from(days_before);
                    let per_change = per_now - per_before;
                    let per_direction = if per_change > Decimal::ZERO {
                        "went up"
                    } else if per_change < Decimal::ZERO {
                        "went down"
                    } else {
                        "did not change"
                    };
                    let per_pct = percent_change(per_before, per_now)
                        .map(|p| format!(" ({})", format_percent(p)))
                        .unwrap_or_default();
                    a.summary = format!(
                        "{what} spend per day {per_direction} by {}{per_pct}: {} a day in {} ({}, {} in total) against {} a day in {} ({}, {} in total). The periods differ in length.",
                        format(per_change.abs(), unit),
                        format(per_now, unit),
                        current.query.period.label(),
                        day_count(days_now),
                        format(after, unit),
                        format(per_before, unit),
                        previous.query.period.label(),
                        day_count(days_before),
                        format(before, unit),
                    );
                    a.figure(
                        format!("{what} per day, {}", current.query.period.label()),
                        per_now.round_dp(2),
                        unit,
                    );
                    a.figure(
                        format!("{what} per day, {}", previous.query.period.label()),
                        per_before.round_dp(2),
                        unit,
                    );
                } else {
                    a.summary = format!(
                        "{what} spend {direction} by {}{pct}: {} in {} against {} in {}.",
                        format(change.abs(), unit),
                        format(after, unit),
                        current.query.period.label(),
                        format(before, unit),
                        previous.query.period.label()
                    );
                }
                a.figure(
                    format!("{what}, {}", current.query.period.label()),
                    after,
                    unit,
                );
                a.figure(
                    format!("{what}, {}", previous.query.period.label()),
                    before,
                    unit,
                );
                a.figure("Change", change, unit);
                let dims = &current.query.group_by;
                let shown: Vec<_> = movers
                    .iter()
                    .filter(|m| !m.change.is_zero())
                    .take(*top_n)
                    .collect();
                if let Some(top) = shown.first() {
                    let same_direction = top.change.is_sign_positive() == change.is_sign_positive();
                    let share_of_change = if !change.is_zero() && same_direction {
                        format!(
                            ", {} of the change",
                            share(top.change.abs(), change.abs()).replace('–', "n/a")
                        )
                    } else {
                        String::new()
                    };
                    a.summary.push_str(&format!(
                        " The biggest mover was {} ({}{share_of_change}).",
                        labels.key(dims, &top.key),
                        format_change(top.change, unit)
                    ));
                    a.table = Some(Table {
                        columns: vec![
                            dims.iter()
                                .map(|d| d.label())
                                .collect::<Vec<_>>()
                                .join(" · "),
                            previous.query.period.label(),
                            current.query.period.label(),
                            "Change".into(),
                            "%".into(),
                        ],
                        rows: shown
                            .iter()
                            .map(|m| {
                                vec![
                                    labels.key(dims, &m.key).into(),
                                    Cell::money(m.before, unit),
                                    Cell::money(m.after, unit),
                                    Cell::change(m.change, unit),
                                    percent_change(m.before, m.after)
                                        .map(format_percent)
                                        .unwrap_or_else(|| "new".into())
                                        .into(),
                                ]
                            })
                            .collect(),
                    });
                }
                if days_now != days_before {
                    // The headline is already per day; the table's totals are not.
                    let table = if a.table.is_some() {
                        "; the table compares totals"
                    } else {
                        ""
                    };
                    a.notes.push(format!(
                        "The periods differ in length ({days_now} vs {days_before} days): the headline compares spend per day{table}."
                    ));
                }
                a.basis = Some(basis(current, Some(&previous.query.period), sample));
                a.suggestions = vec![
                    "Break that down by region".into(),
                    "And the week before?".into(),
                    "How did you get that?".into(),
                ];
            }
            ToolOutput::Forecast {
                forecast: f,
                history,
                filtered,
            } => {
                let unit = &history.unit;
                a.series = Some(series_of(history, labels, |b| b.end > today));
                let month = crate::costs::periods::month_name(
                    f.month_start.format("%m").to_string().parse().unwrap_or(1),
                );
                // Beside AWS's own forecast, each figure says which method made it.
                let method = if outputs.iter().any(|o| {
                    matches!(
                        o,
                        ToolOutput::AwsForecast { .. } | ToolOutput::AwsBudgets { .. }
                    )
                }) {
                    "costbot's projection from the daily run rate: "
                } else {
                    ""
                };
                a.summary = format!(
                    "{method}{what} is on course to end {month} at about {} (80% range {} to {}), with {} spent through {}.",
                    format(f.forecast_total, unit),
                    format(f.low, unit),
                    format(f.high, unit),
                    format(f.actual_to_date, unit),
                    f.actual_through.map(|d| Period::day(d).label()).unwrap_or_else(|| "today (no complete day yet)".into())
                );
                a.figure("Actual month to date", f.actual_to_date, unit);
                a.figure("Forecast month total", f.forecast_total, unit);
                a.figure("Forecast low (80%)", f.low, unit);
                a.figure("Forecast high (80%)", f.high, unit);
                // Beside AWS's budgets, the configured one says where it comes from.
                let config_budget = if outputs
                    .iter()
                    .any(|o| matches!(o, ToolOutput::AwsBudgets { .. }))
                {
                    " set in costbot's config"
                } else {
                    ""
                };
                match (f.budget, *filtered) {
                    (Some(b), _) => {
                        a.figure("Monthly budget", b, unit);
                        let gap = f.forecast_total - b;
                        if gap > Decimal::ZERO {
                            a.summary.push_str(&format!(
                                " That is {} over the {} budget{config_budget}{}.",
                                format(gap, unit),
                                format(b, unit),
                                f.budget_crossed_on.map(|d| format!(", which would be passed on {}", Period::day(d).label())).unwrap_or_default()
                            ));
                            a.figure("Forecast over budget", gap, unit);
                        } else {
                            a.summary.push_str(&format!(" That is {} under the {} budget{config_budget}.", format(-gap, unit), format(b, unit)));
                            a.figure("Forecast under budget", -gap, unit);
                        }
                    }
                    (None, true) => a.notes.push("The budget applies to the whole bill, so it is not compared with a filtered forecast.".into()),
                    (None, false) => a.notes.push("No monthly budget is configured; set budget_monthly (or COSTBOT_BUDGET_MONTHLY) to compare.".into()),
                }
                a.details.push(format!(
                    "Method: costbot's own projection, not AWS's forecast: a linear trend times a day-of-week factor, fitted on {} complete days; today's partial data is replaced by the projection.",
                    f.history_days
                ));
                let mut b = basis(history, None, sample);
                b.period = format!(
                    "{} (history used: {})",
                    Period::new(f.month_start, f.month_end.succ_opt().unwrap_or(f.month_end))
                        .label(),
                    history.query.period.label()
                );
                a.basis = Some(b);
                a.suggestions = vec![
                    "Any anomalies this month?".into(),
                    "Top 5 services this month".into(),
                ];
            }
            ToolOutput::Anomalies {
                anomalies,
                window,
                history,
            } => {
                let unit = &history.unit;
                let dims = &history.query.group_by;
                if anomalies.is_empty() {
                    a.summary = format!(
                        "No unusual spikes in {what} spend between {}.",
                        window.label()
                    );
                } else {
                    let top = &anomalies[0];
                    let total: Decimal = anomalies.iter().map(|x| x.impact).sum();
                    a.summary = format!(
                        "Found {} unusual spike{} in {what} spend in {}, about {} above normal in all. The largest: {} on {}, {} against a typical {} a day.",
                        anomalies.len(),
                        if anomalies.len() == 1 { "" } else { "s" },
                        window.label(),
                        format(total, unit),
                        labels.key(dims, &top.key.split(" / ").map(String::from).collect::<Vec<_>>()),
                        Period::day(top.peak_day).label(),
                        format(top.peak_amount, unit),
                        format(top.expected_daily, unit)
                    );
                    a.figure("Total above normal", total, unit);
                    a.table = Some(Table {
                        columns: vec![
                            dims.iter()
                                .map(|d| d.label())
                                .collect::<Vec<_>>()
                                .join(" · "),
                            "Days".into(),
                            "Peak day".into(),
                            "Peak".into(),
                            "Typical day".into(),
                            "Above normal".into(),
                        ],
                        rows: anomalies
                            .iter()
                            .take(10)
                            .map(|x| {
                                vec![
                                    labels
                                        .key(
                                            dims,
                                            &x.key
                                                .split(" / ")
                                                .map(String::from)
                                                .collect::<Vec<_>>(),
                                        )
                                        .into(),
                                    Period::inclusive(x.first_day, x.last_day).label().into(),
                                    x.peak_day.to_string().into(),
                                    Cell::money(x.peak_amount, unit),
                                    Cell::money(x.expected_daily, unit),
                                    Cell::money(x.impact, unit),
                                ]
                            })
                            .collect(),
                    });
                }
                a.details.push("Method: each day is compared with the median of the 28 days before it; a day counts as unusual when it is more than 4 robust deviations (MAD) and at least $25 above that median.".into());
                let mut b = basis(history, None, sample);
                b.period = window.label();
                b.start = window.start;
                b.end_inclusive = window.last_day();
                a.basis = Some(b);
                a.suggestions = vec![
                    "Why did EC2 go up last week?".into(),
                    "How do I cut our NAT gateway bill?".into(),
                ];
            }
            ToolOutput::AwsForecast { result } => {
                let beside = outputs
                    .iter()
                    .any(|o| matches!(o, ToolOutput::Forecast { .. }));
                super::compose_aws::forecast(result, what, beside, sample, &mut a)
            }
            ToolOutput::AwsAnomalies { result } => {
                super::compose_aws::anomalies(result, what, labels, sample, &mut a)
            }
            ToolOutput::AwsRecommendations { result } => {
                super::compose_commitments::recommendation(result, sample, today, &mut a)
            }
            ToolOutput::AwsCommitmentUsage { result } => {
                super::compose_commitments::usage(result, what, sample, &mut a)
            }
            ToolOutput::AwsRightsizing {
                result,
                hub,
                hub_note,
            } => super::compose_rightsizing::compose(
                result,
                hub.as_ref(),
                hub_note.as_deref(),
                what,
                labels,
                sample,
                today,
                &mut a,
            ),
            ToolOutput::AwsBudgets { result, left_out } => {
                let beside = outputs
                    .iter()
                    .any(|o| matches!(o, ToolOutput::Forecast { .. }));
                super::compose_budgets::budgets(
                    result, *left_out, what, beside, sample, today, &mut a,
                )
            }
            ToolOutput::AwsAccounts { accounts, listed } => {
                super::compose_budgets::accounts(accounts, listed.as_ref(), sample, &mut a)
            }
            ToolOutput::Guides { hits } => {
                if ask.intent == Intent::Advice {
                    match hits.first() {
                        Some(h) => {
                            let head = if a.summary.is_empty() {
                                String::new()
                            } else {
                                format!("{} ", a.summary)
                            };
                            a.summary = format!(
                                "{head}From the guide \"{}\": {}",
                                h.title,
                                first_sentences(&h.text, 320)
                            );
                            for more in hits.iter().skip(1) {
                                a.details.push(format!(
                                    "See also \"{}\" ({}): {}",
                                    more.title,
                                    more.section,
                                    first_sentences(&more.text, 200)
                                ));
                            }
                            if let Some(s) = &h.typical_savings {
                                a.details.insert(0, format!("Typical savings: {s}."));
                            }
                        }
                        None => {
                            a.summary = "I found no guide about that. Try naming the service or the technique, e.g. \"How do I save on S3 storage?\"".into();
                        }
                    }
                }
                cite(hits, &mut a);
            }
        }
    }
    let recs: Vec<_> = outputs
        .iter()
        .filter_map(|o| match o {
            ToolOutput::AwsRecommendations { result } => Some(result),
            _ => None,
        })
        .collect();
    if recs.len() == 2 {
        super::compose_commitments::both_recommendations(&recs, &mut a);
    }
    let includes_today = outputs
        .iter()
        .flat_map(|o| o.results())
        .any(|r| r.query.period.end > today);
    if includes_today {
        a.notes
            .push("Includes today, whose data is still incomplete.".into());
    }
    a
}

// The composer's shared inputs, passed as they are rather than wrapped for one function.
#[allow(clippy::too_many_arguments)]
fn costs(
    intent: Intent,
    result: &CostResult,
    top_n: Option<usize>,
    what: &str,
    labels: &Labels,
    sample: bool,
    today: NaiveDate,
    a: &mut Answer,
) {
    let unit = &result.unit;
    let total = result.total();
    let period = result.query.period;
    let dims = &result.query.group_by;
    match intent {
        Intent::Advice => {
            let spend = format!(
                "Your {what} spend in the last 30 days ({}): {}.",
                period.label(),
                format(total, unit)
            );
            a.summary = if a.summary.is_empty() {
                spend
            } else {
                format!("{} {spend}", a.summary)
            };
            a.figure(format!("{what}, {}", period.label()), total, unit);
            a.basis = Some(basis(result, None, sample));
        }
        Intent::Trend => {
            let monthly = result.query.granularity == crate::costs::Granularity::Monthly;
            let step = if monthly { "month" } else { "day" };
            // A bucket is partial when it is a month cut by the period, or today.
            let partial = |b: &crate::costs::TimeBucket| {
                b.end > today
                    || (monthly
                        && (b.start.day() != 1
                            || b.end != crate::costs::periods::add_months(b.start, 1)))
            };
            let full: Vec<(chrono::NaiveDate, Decimal)> = result
                .buckets
                .iter()
                .filter(|b| !partial(b))
                .map(|b| (b.start, b.total()))
                .collect();
            // Averages and extremes use complete buckets only, when there are any.
            let stats: Vec<(chrono::NaiveDate, Decimal)> = if full.is_empty() {
                result.series()
            } else {
                full
            };
            let n = stats.len().max(1);
            let avg = stats.iter().map(|(_, v)| *v).sum::<Decimal>() / Decimal::from(n as u64);
            let (peak_d, peak) = stats
                .iter()
                .max_by(|x, y| x.1.cmp(&y.1))
                .cloned()
                .unwrap_or((period.start, Decimal::ZERO));
            let (low_d, low) = stats
                .iter()
                .min_by(|x, y| x.1.cmp(&y.1))
                .cloned()
                .unwrap_or((period.start, Decimal::ZERO));
            let label = |d: chrono::NaiveDate| {
                if monthly {
                    d.format("%Y-%m").to_string()
                } else {
                    d.to_string()
                }
            };
            a.summary = format!(
                "{what} spend in {}: {} in all, {} a {step} on average; highest {} ({}), lowest {} ({}).",
                period.label(),
                format(total, unit),
                format(money::cents(avg), unit),
                format(peak, unit),
                label(peak_d),
                format(low, unit),
                label(low_d)
            );
            let partial_count = result.buckets.iter().filter(|b| partial(b)).count();
            if partial_count > 0 && partial_count < result.buckets.len() {
                a.notes.push(format!("Average, highest and lowest leave out {partial_count} incomplete {step}(s), marked partial in the table."));
            }
            a.figure(format!("{what}, {}", period.label()), total, unit);
            a.figure(format!("Average per {step}"), money::cents(avg), unit);
            a.figure(format!("Highest {step}"), peak, unit);
            a.figure(format!("Lowest {step}"), low, unit);
            a.table = Some(Table {
                columns: vec![
                    if monthly {
                        "Month".into()
                    } else {
                        "Day".into()
                    },
                    "Cost".into(),
                ],
                rows: result
                    .buckets
                    .iter()
                    .map(|b| {
                        let name = if partial(b) {
                            format!(
                                "{} (partial: {})",
                                label(b.start),
                                Period::new(b.start, b.end.min(today + chrono::Duration::days(1)))
                                    .label()
                            )
                        } else {
                            label(b.start)
                        };
                        vec![name.into(), Cell::money(b.total(), unit)]
                    })
                    .collect(),
            });
            a.series = Some(series_of(result, labels, partial));
            a.basis = Some(basis(result, None, sample));
            a.suggestions = vec![
                "Any anomalies in this period?".into(),
                "Break that down by service".into(),
            ];
        }
        Intent::Breakdown => {
            let groups = result.totals_by_group();
            let n = top_n.unwrap_or(10);
            let dim_label = dims
                .iter()
                .map(|d| d.label())
                .collect::<Vec<_>>()
                .join(" · ");
            if let Some((top_key, top_amount)) = groups.first() {
                a.summary = format!(
                    "{what} spend in {} was {} across {} {}s; the largest was {} at {} ({}).",
                    period.label(),
                    format(total, unit),
                    groups.len(),
                    dim_label,
                    labels.key(dims, top_key),
                    format(*top_amount, unit),
                    share(*top_amount, total)
                );
            } else {
                a.summary = format!("No {what} spend in {}.", period.label());
            }
            a.figure(format!("{what}, {}", period.label()), total, unit);
            let mut rows: Vec<Vec<Cell>> = groups
                .iter()
                .take(n)
                .map(|(k, v)| {
                    vec![
                        labels.key(dims, k).into(),
                        Cell::money(*v, unit),
                        share(*v, total).into(),
                    ]
                })
                .collect();
            if groups.len() > n {
                let rest: Decimal = groups.iter().skip(n).map(|(_, v)| *v).sum();
                rows.push(vec![
                    format!("Other ({} more)", groups.len() - n).into(),
                    Cell::money(rest, unit),
                    share(rest, total).into(),
                ]);
            }
            rows.push(vec![
                "Total".into(),
                Cell::money(total, unit),
                "100.0%".into(),
            ]);
            a.table = Some(Table {
                columns: vec![dim_label, "Cost".into(), "Share".into()],
                rows,
            });
            a.basis = Some(basis(result, None, sample));
            a.suggestions = vec![
                "Why did it change from the month before?".into(),
                "Only prod".into(),
                "How did you get that?".into(),
            ];
        }
        _ => {
            let days = period.days().max(1);
            a.summary = format!(
                "{what} spend in {}: {}.",
                period.label(),
                format(total, unit)
            );
            a.figure(format!("{what}, {}", period.label()), total, unit);
            if days > 1 {
                let avg = money::cents(total / Decimal::from(days));
                a.summary.push_str(&format!(
                    " That is {} a day on average over {} days.",
                    format(avg, unit),
                    days
                ));
                a.figure("Average per day", avg, unit);
            }
            a.basis = Some(basis(result, None, sample));
            a.suggestions = vec![
                "Break that down by service".into(),
                "And the month before?".into(),
                "How did you get that?".into(),
            ];
        }
    }
}

/// "1 day", "7 days".
fn day_count(days: i64) -> String {
    if days == 1 {
        "1 day".into()
    } else {
        format!("{days} days")
    }
}
