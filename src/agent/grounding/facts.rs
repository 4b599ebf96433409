//! What this turn's tools returned, read for the grounding check: exact
//! amounts, the few sums, differences, changes and shares a reply may state,
//! dates (window edges, points, spike days), counts and period lengths.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Duration, NaiveDate};
use rust_decimal::Decimal;
use serde_json::Value;

use super::extract::{self, Claim, Sign};
use crate::agent::answer::Answer;

/// A money or percent value a reply may state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Num {
    pub value: Decimal,
    /// The sign means a direction (a change), not just a level.
    pub signed: bool,
    /// Computed here (a sum, a difference): accepted only when written to
    /// the dollar or finer, since near a total there are many such values.
    pub derived: bool,
}

impl Num {
    fn level(value: Decimal) -> Self {
        Num {
            value,
            signed: false,
            derived: false,
        }
    }
    fn change(value: Decimal) -> Self {
        Num {
            value,
            signed: true,
            derived: false,
        }
    }
    fn derived(value: Decimal) -> Self {
        Num {
            value,
            signed: false,
            derived: true,
        }
    }
}

/// One tool view, structured enough to derive figures from it.
#[derive(Debug, Default)]
struct View {
    /// Cost Explorer totals with their period start (to order changes across views).
    totals: Vec<(NaiveDate, Decimal)>,
    /// Group amounts by key, for the same key across two views.
    groups: Vec<(NaiveDate, String, Decimal)>,
    /// Like amounts (the groups of one result, the movers' after figures)
    /// with the total they belong to: two of them may be added or
    /// subtracted, and one taken from the total ("everything else").
    parts: Vec<(Vec<Decimal>, Option<Decimal>)>,
    /// Amounts whose differences may be stated (forecast against budget).
    diffs: Vec<Vec<Decimal>>,
}

#[derive(Debug, Default)]
pub struct FactSet {
    pub money: Vec<Num>,
    /// Figures quoted from guide text: accepted only as written there.
    pub quoted_money: Vec<Decimal>,
    pub quoted_percent: Vec<Decimal>,
    pub percents: Vec<Num>,
    pub ratios: Vec<Decimal>,
    pub dates: BTreeSet<NaiveDate>,
    /// Days a spike may be said to be on: anomaly days, the highest point.
    pub spike_dates: BTreeSet<NaiveDate>,
    /// Window edges (allowed in spike sentences too).
    pub edges: BTreeSet<NaiveDate>,
    /// Cost Explorer's exclusive End (allowed in code only).
    pub exclusive_ends: BTreeSet<NaiveDate>,
    pub periods: Vec<(NaiveDate, NaiveDate)>,
    pub counts: BTreeSet<i64>,
    pub span_days: BTreeSet<i64>,
    pub span_weeks: BTreeSet<i64>,
    pub span_months: BTreeSet<i64>,
    pub units: BTreeSet<String>,
    views: Vec<View>,
}

const TEXT_KEYS: &[&str] = &[
    "key",
    "title",
    "section",
    "text",
    "guide",
    "source_url",
    "label",
    "typical_savings",
];

fn dec(v: &Value) -> Option<Decimal> {
    v.as_str().and_then(|s| s.parse().ok())
}

fn date(v: &Value) -> Option<NaiveDate> {
    v.as_str()
        .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
}

fn hundred() -> Decimal {
    Decimal::from(100)
}

fn change(before: Decimal, after: Decimal) -> Option<Decimal> {
    (after - before)
        .checked_div(before.abs())?
        .checked_mul(hundred())
}

fn share(part: Decimal, whole: Decimal) -> Option<Decimal> {
    part.checked_div(whole)?.checked_mul(hundred())
}

fn months_between(start: NaiveDate, end: NaiveDate) -> i64 {
    (end.year() as i64 * 12 + end.month() as i64)
        - (start.year() as i64 * 12 + start.month() as i64)
        + 1
}

impl FactSet {
    fn amount(&mut self, d: Decimal) {
        self.money.push(Num::level(d));
    }
    fn derived_amount(&mut self, d: Decimal) {
        self.money.push(Num::derived(d));
    }
    fn signed_amount(&mut self, d: Decimal) {
        self.money.push(Num::change(d));
    }
    fn change_pct(&mut self, before: Decimal, after: Decimal) {
        if let Some(p) = change(before, after) {
            self.percents.push(Num::change(p));
            self.ratios.extend(after.checked_div(before));
        }
    }
    fn share_pct(&mut self, part: Decimal, whole: Decimal) {
        if let Some(p) = share(part, whole) {
            self.percents.push(Num::level(p));
        }
    }

    fn period(&mut self, start: NaiveDate, end: NaiveDate) {
        self.dates.extend([start, end]);
        self.edges.extend([start, end]);
        self.exclusive_ends.insert(end + Duration::days(1));
        self.periods.push((start, end));
        let days = (end - start).num_days() + 1;
        self.span_days.insert(days);
        self.counts.insert(days);
        if days % 7 == 0 {
            self.span_weeks.insert(days / 7);
        }
        self.span_months.insert(months_between(start, end));
    }

    fn period_of(&mut self, v: &Value) -> Option<NaiveDate> {
        let (s, e) = (date(&v["start"])?, date(&v["end"])?);
        self.period(s, e);
        Some(s)
    }

    /// Every amount, date and integer anywhere in a view, exact.
    fn walk(&mut self, v: &Value, key: &str) {
        match v {
            Value::String(s) if !TEXT_KEYS.contains(&key) => {
                if let Some(d) = date(v) {
                    self.dates.insert(d);
                } else if let Ok(d) = s.parse::<Decimal>() {
                    self.amount(d);
                } else if key == "unit" {
                    self.units.insert(s.clone());
                }
            }
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    self.counts.insert(i);
                }
            }
            Value::Array(items) => {
                self.counts.insert(items.len() as i64);
                for i in items {
                    self.walk(i, key);
                }
            }
            Value::Object(map) => {
                for (k, i) in map {
                    self.walk(i, k);
                }
            }
            _ => {}
        }
    }

    /// Figures in text a tool returned (guide passages): quoted only as written.
    fn quote(&mut self, text: &str) {
        for said in extract::figures(text) {
            match said.claim {
                Claim::Money { value, .. } => self.quoted_money.push(value),
                Claim::Percent { value, .. } => self.quoted_percent.push(value),
                Claim::Count { n, .. } => {
                    self.counts.insert(n);
                }
                _ => {}
            }
        }
    }

    pub fn add_view(&mut self, view: &Value) {
        self.walk(view, "");
        let mut v = View::default();
        if let Some(c) = view.get("costs") {
            self.costs(c, &mut v);
        }
        if let Some(c) = view.get("comparison") {
            self.comparison(c, &mut v);
        }
        if let Some(f) = view.get("forecast") {
            self.forecast(f, &mut v);
        }
        if let Some(a) = view.get("anomalies") {
            self.anomalies(a, &mut v);
        }
        if let Some(Value::Array(hits)) = view.get("guides") {
            for h in hits {
                for k in ["text", "title", "section", "typical_savings"] {
                    if let Some(t) = h[k].as_str() {
                        self.quote(t);
                    }
                }
            }
        }
        self.views.push(v);
    }

    fn costs(&mut self, c: &Value, v: &mut View) {
        let start = self.period_of(&c["period"]);
        let total = dec(&c["total"]);
        if let (Some(s), Some(t)) = (start, total) {
            v.totals.push((s, t));
        }
        let groups: Vec<(String, Decimal)> = c["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|g| Some((g["key"].as_str()?.to_string(), dec(&g["amount"])?)))
            .collect();
        let mut running = Decimal::ZERO;
        let mut parts: Vec<Decimal> = groups.iter().map(|g| g.1).collect();
        for (i, (key, a)) in groups.iter().enumerate() {
            if let Some(s) = start {
                v.groups.push((s, key.clone(), *a));
            }
            running += a;
            if let Some(t) = total {
                self.share_pct(*a, t);
                // "the top 3 make up $X (78%)".
                if i > 0 {
                    self.derived_amount(running);
                    self.share_pct(running, t);
                }
            }
        }
        self.counts
            .insert(groups.iter().filter(|(_, a)| !a.is_zero()).count() as i64);
        if let Some(other) = dec(&c["other_groups"]["amount"]) {
            parts.push(other);
            if let Some(t) = total {
                self.share_pct(other, t);
            }
            if let Some(n) = c["other_groups"]["count"].as_i64() {
                self.counts.insert(n + groups.len() as i64);
            }
        }
        v.parts.push((parts, total));
        let points: Vec<(NaiveDate, Decimal)> = c["points"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| Some((date(&p[0])?, dec(&p[1])?)))
            .collect();
        for w in points.windows(2) {
            // Day over day (or month over month): "up $40 (12%) on the day before".
            self.derived_amount((w[1].1 - w[0].1).abs());
            self.change_pct(w[0].1, w[1].1);
        }
        if let (Some(first), Some(last)) = (points.first(), points.last()) {
            self.change_pct(first.1, last.1);
            self.derived_amount((last.1 - first.1).abs());
        }
        if let Some(max) = points.iter().max_by_key(|p| p.1) {
            self.spike_dates.insert(max.0);
            if let Some(t) = total {
                self.share_pct(max.1, t);
            }
        }
        if let Some(min) = points.iter().min_by_key(|p| p.1) {
            self.edges.insert(min.0);
        }
        if !points.is_empty() {
            let sum: Decimal = points.iter().map(|p| p.1).sum();
            let avg = sum / Decimal::from(points.len() as i64);
            self.amount(avg);
            let values = points.iter().map(|p| p.1);
            if let (Some(max), Some(min)) = (values.clone().max(), values.min()) {
                self.change_pct(avg, max);
                self.change_pct(min, max);
                for d in [max - min, max - avg, avg - min] {
                    self.derived_amount(d);
                }
            }
        }
    }

    fn comparison(&mut self, c: &Value, v: &mut View) {
        let cs = self.period_of(&c["current"]["period"]);
        let ps = self.period_of(&c["previous"]["period"]);
        let cur = dec(&c["current"]["total"]);
        let prev = dec(&c["previous"]["total"]);
        let delta = dec(&c["change"]);
        if let (Some(s), Some(t)) = (cs, cur) {
            v.totals.push((s, t));
        }
        if let (Some(s), Some(t)) = (ps, prev) {
            v.totals.push((s, t));
        }
        let (mut befores, mut afters, mut changes) = (vec![], vec![], vec![]);
        if let Some(d) = delta {
            self.signed_amount(d);
        }
        if let (Some(p), Some(c)) = (prev, cur) {
            self.change_pct(p, c);
        }
        for m in c["movers"].as_array().into_iter().flatten() {
            let (Some(b), Some(a), Some(ch)) =
                (dec(&m["before"]), dec(&m["after"]), dec(&m["change"]))
            else {
                continue;
            };
            befores.push(b);
            afters.push(a);
            changes.push(ch);
            self.signed_amount(ch);
            self.change_pct(b, a);
            if let Some(t) = cur {
                self.share_pct(a, t);
            }
            if let Some(t) = prev {
                self.share_pct(b, t);
            }
            if let Some(d) = delta {
                // "EC2 drove 80% of the increase".
                self.share_pct(ch, d);
            }
        }
        v.parts
            .extend([(befores, prev), (afters, cur), (changes, delta)]);
        let movers = c["movers"].as_array().map(|m| m.as_slice()).unwrap_or(&[]);
        let ups = movers
            .iter()
            .filter(|m| dec(&m["change"]).is_some_and(|d| d > Decimal::ZERO))
            .count();
        self.counts
            .extend([ups as i64, (movers.len() - ups) as i64]);
    }

    fn forecast(&mut self, f: &Value, v: &mut View) {
        let names = [
            "actual_to_date",
            "forecast_total",
            "low_80",
            "high_80",
            "budget",
        ];
        let vals: BTreeMap<&str, Decimal> = names
            .iter()
            .filter_map(|n| Some((*n, dec(&f[*n])?)))
            .collect();
        v.diffs.push(vals.values().copied().collect());
        if let (Some(b), Some(fc)) = (vals.get("budget"), vals.get("forecast_total")) {
            self.change_pct(*b, *fc);
            self.share_pct(*fc, *b);
        }
        if let (Some(b), Some(a)) = (vals.get("budget"), vals.get("actual_to_date")) {
            self.share_pct(*a, *b);
        }
        if let (Some(fc), Some(a)) = (vals.get("forecast_total"), vals.get("actual_to_date")) {
            self.share_pct(*a, *fc);
        }
        if let Some(m) = f["month"]
            .as_str()
            .and_then(|m| NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d").ok())
        {
            let end = crate::costs::periods::add_months(m, 1) - Duration::days(1);
            self.dates.extend([m, end]);
            self.edges.extend([m, end]);
            self.periods.push((m, end));
            if let Some(through) = date(&f["actual_through"]) {
                self.edges.insert(through);
                self.counts.insert((end - through).num_days());
                self.counts.insert((through - m).num_days() + 1);
            }
        }
        if let Some(d) = date(&f["budget_crossed_on"]) {
            self.edges.insert(d);
        }
    }

    fn anomalies(&mut self, a: &Value, v: &mut View) {
        self.period_of(&a["window"]);
        let mut impact = Decimal::ZERO;
        let mut aboves = Vec::new();
        for i in a["items"].as_array().into_iter().flatten() {
            for k in ["first_day", "last_day", "peak_day"] {
                if let Some(d) = date(&i[k]) {
                    self.spike_dates.insert(d);
                }
            }
            if let (Some(f), Some(l)) = (date(&i["first_day"]), date(&i["last_day"])) {
                self.counts.insert((l - f).num_days() + 1);
            }
            let (peak, typical, above) = (
                dec(&i["peak"]),
                dec(&i["typical_day"]),
                dec(&i["above_normal"]),
            );
            aboves.extend(above);
            if let (Some(p), Some(t)) = (peak, typical) {
                self.change_pct(t, p);
                self.derived_amount((p - t).abs());
            }
            impact += above.unwrap_or_default();
        }
        self.derived_amount(impact);
        v.parts.push((aboves, None));
    }

    /// Figures of the composed answer: exact amounts, its texts' figures.
    pub fn add_answer(&mut self, a: &Answer) {
        for f in &a.figures {
            if let Ok(d) = f.amount.parse::<Decimal>() {
                self.amount(d);
            }
            self.units.insert(f.unit.clone());
            self.text(&f.display);
        }
        if let Some(t) = &a.table {
            self.counts.insert(t.rows.len() as i64);
            // The cells' pairs (before/after/change) are the views' pairs
            // already; pairing columns here would invent "changes".
            for c in t.rows.iter().flatten() {
                if let Some(x) = c.amount {
                    self.amount(x);
                }
                self.text(&c.text);
            }
        }
        if let Some(s) = &a.series {
            self.units.insert(s.unit.clone());
            for p in &s.points {
                self.amount(p.amount);
                self.dates.insert(p.date);
            }
            if let Some(max) = s.points.iter().max_by_key(|p| p.amount) {
                self.spike_dates.insert(max.date);
            }
        }
        if let Some(b) = &a.basis {
            self.period(b.start, b.end_inclusive);
            self.text(&b.period);
            if let Some(c) = &b.compared_with {
                self.text(c);
            }
        }
        self.counts.insert(a.tool_calls.len() as i64);
        self.text(&a.summary);
        for d in a.details.iter().chain(&a.notes) {
            self.text(d);
        }
        for s in &a.sections {
            self.add_answer(&s.answer);
        }
    }

    /// The figures written in the answer's own (deterministic) text.
    fn text(&mut self, t: &str) {
        for said in extract::figures(t) {
            match said.claim {
                Claim::Money { value, sign, .. } => match sign {
                    Sign::Down => self.signed_amount(-value),
                    _ => self.amount(value),
                },
                Claim::Percent { value, sign, .. } => self.percents.push(match sign {
                    Sign::Up => Num::change(value),
                    Sign::Down => Num::change(-value),
                    Sign::Unknown => Num::level(value),
                }),
                // A table of days lists every day: dates, not edges or spikes.
                Claim::Date {
                    year: Some(y),
                    month,
                    day,
                    ..
                } => {
                    if let Some(d) = NaiveDate::from_ymd_opt(y, month, day) {
                        self.dates.insert(d);
                    }
                }
                Claim::Count { n, .. } => {
                    self.counts.insert(n);
                }
                Claim::Span { n, unit } => {
                    match unit {
                        extract::SpanUnit::Days => &mut self.span_days,
                        extract::SpanUnit::Weeks => &mut self.span_weeks,
                        extract::SpanUnit::Months => &mut self.span_months,
                    }
                    .insert(n);
                }
                _ => {}
            }
        }
    }

    /// Sums and differences of two figures shown, within a view and across
    /// views (totals, and the same group in two periods), plus changes
    /// between views in period order.
    pub fn derived(&self) -> (Vec<Num>, Vec<Num>) {
        let mut money = Vec::new();
        let mut pct = Vec::new();
        for v in &self.views {
            for (parts, whole) in &v.parts {
                for (i, a) in parts.iter().enumerate() {
                    for b in &parts[i + 1..] {
                        money.push(Num::derived(*a + *b));
                        money.push(Num::derived((*a - *b).abs()));
                    }
                    if let Some(w) = whole {
                        money.push(Num::derived((*w - *a).abs()));
                    }
                }
            }
            for family in &v.diffs {
                for (i, a) in family.iter().enumerate() {
                    for b in &family[i + 1..] {
                        money.push(Num::derived((*a - *b).abs()));
                    }
                }
            }
        }
        let totals: Vec<(NaiveDate, Decimal)> =
            self.views.iter().flat_map(|v| v.totals.clone()).collect();
        let groups: Vec<(NaiveDate, String, Decimal)> =
            self.views.iter().flat_map(|v| v.groups.clone()).collect();
        let mut pair = |(s1, a): (NaiveDate, Decimal), (s2, b): (NaiveDate, Decimal)| {
            if s1 == s2 {
                return;
            }
            let (before, after) = if s1 < s2 { (a, b) } else { (b, a) };
            money.push(Num::derived(a + b));
            money.push(Num::derived((a - b).abs()));
            if let Some(p) = change(before, after) {
                pct.push(Num::change(p));
            }
        };
        for (i, x) in totals.iter().enumerate() {
            for y in &totals[i + 1..] {
                pair(*x, *y);
            }
        }
        for (i, x) in groups.iter().enumerate() {
            for y in groups[i + 1..].iter().filter(|y| y.1 == x.1) {
                pair((x.0, x.2), (y.0, y.2));
            }
        }
        (money, pct)
    }
}
