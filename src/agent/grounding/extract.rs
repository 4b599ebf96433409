//! Finds the figures in prose: amounts, percentages, ratios, dates, months,
//! counts and period spans, each with the precision and direction it was
//! written with. Numbers that are names (EC2, m5.large, us-east-1, Route 53),
//! years, ordinals and "top 3" are not figures.

use std::sync::LazyLock;

use regex::Regex;
use rust_decimal::Decimal;

/// Which way a figure says things moved ("up 12%", "-$5", "a 3% drop").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sign {
    Up,
    Down,
    Unknown,
}

/// How the figure is bounded: "about $1,200" is a rounding, "over $1,000" a bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Approx,
    Over,
    Under,
    Nearly,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// `value` is the magnitude; `precision` the place it was written to.
    Money {
        value: Decimal,
        precision: Decimal,
        sign: Sign,
        bound: Bound,
        currency: Option<String>,
        /// No currency, scale or cost word: "1,234.56" alone.
        bare: bool,
    },
    Percent {
        value: Decimal,
        precision: Decimal,
        sign: Sign,
        bound: Bound,
    },
    /// "half of", "a third of": a share, with a tolerance in points.
    Fraction {
        percent: Decimal,
        tolerance: Decimal,
    },
    /// "3x", "2.5 times".
    Ratio {
        value: Decimal,
        precision: Decimal,
    },
    Date {
        year: Option<i32>,
        month: u32,
        day: u32,
        /// In a sentence about a spike: must be a spike's day (or a window edge).
        spike: bool,
        /// Inside `code`: Cost Explorer's exclusive End is allowed there.
        in_code: bool,
    },
    Month {
        year: Option<i32>,
        month: u32,
    },
    Count {
        n: i64,
        noun: String,
    },
    /// "last 7 days", "a 30-day window": a period length.
    Span {
        n: i64,
        unit: SpanUnit,
    },
    /// A quantity no tool returns ("1,200 GB").
    Usage {
        value: Decimal,
        unit: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanUnit {
    Days,
    Weeks,
    Months,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Said {
    /// The text as written.
    pub text: String,
    pub claim: Claim,
}

const NUM: &str = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?";
const MONTHS: &str = r"January|February|March|April|May|June|July|August|September|October|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec";
const WORD_NUMS: &str = "two|three|four|five|six|seven|eight|nine|ten|eleven|twelve";
const COUNT_NOUNS: &str = r"anomal(?:y|ies)|spikes?|services?|accounts?|regions?|days?|weeks?|months?|items?|groups?|categor(?:y|ies)|usage types?|instance types?|movers?|tool calls?|calls?|guides?|passages?|resources?|instances?|buckets?|functions?|line items?|charges?|tags?|teams?|projects?|environments?";
const COUNT_ADJ: &str = r"unusual|daily|separate|distinct|different|linked|new|other|more|active|AWS|cost|big|large|major|notable|anomalous|member|top-level";

fn re(s: &str) -> Regex {
    Regex::new(s).expect("grounding regex")
}

static CODE: LazyLock<Regex> = LazyLock::new(|| re(r"(?s)```.*?```|`[^`\n]*`"));
static ISO_DATE: LazyLock<Regex> = LazyLock::new(|| re(r"\b(\d{4})-(\d{2})-(\d{2})\b"));
static ISO_MONTH: LazyLock<Regex> = LazyLock::new(|| re(r"\b(\d{4})-(\d{2})\b"));
static MONTH_DAY: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"\b(?P<mon>{MONTHS})\.?\s+(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?(?:\s*(?:[-–—]|to|through|and)\s*(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?)?\b(?:,?\s+(?P<y>\d{{4}})\b)?"
    ))
});
static DAY_MONTH: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"\b(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?(?:\s*(?:[-–—]|to|through|and)\s*(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?)?\s+(?:of\s+)?(?P<mon>{MONTHS})\b\.?(?:,?\s+(?P<y>\d{{4}})\b)?"
    ))
});
static MONTH_ALONE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?P<mon>January|February|March|April|June|July|August|September|October|November|December|(?:May|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)(?:\s+\d{4}))\b(?:\s+(?P<y>\d{4})\b)?",
    )
});
static PRODUCT_NAMES: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)\broute\s?53\b|\b24/7\b|\b\d+-year\b|\b\d+-hour\b|\bp\d+\b"));
static SPAN: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?i)\b(?:(?:last|past|previous|prior|next|trailing|over the last|over the past|in the last|in the past)\s+(?P<n>\d+|{WORD_NUMS})\s+(?P<u>days?|weeks?|months?)|(?P<n2>\d+|{WORD_NUMS})-(?P<u2>day|week|month)\b)"
    ))
});
static TOP_N: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)\b(?:top|bottom|first|last|the other)\s+(?:\d+|two|three|four|five|ten)\b")
});
static INTERVAL_LEVEL: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)\b\d+\s?%\s+(?:confidence|interval|range|prediction|likely range|forecast range)")
});
static FRACTION: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)(?P<pre>\b(?:first|second|last|latter|former|the)\s+)?\b(?P<f>half|(?:a|one)\s+third|(?:a|one)\s+quarter|two\s+thirds|three\s+quarters)\s+of\b",
    )
});
static PERCENT: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?i)(?P<sign>[-+])?(?P<num>{NUM})\s?(?:%|percent\b|per cent\b|pct\b)"
    ))
});
static MONEY_PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?P<neg>-\s?)?(?P<cur>US\$|\$|€|£|\bUSD\s?|\bEUR\s?|\bGBP\s?)(?P<neg2>-)?(?P<num>{NUM})(?:\s?(?P<scale>k|K|thousand|million|mn|M|m|bn|B|billion)\b)?(?:\s?(?P<cur2>USD|EUR|GBP|dollars?|euros?)\b)?"
    ))
});
static MONEY_SUFFIX: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?P<neg>-)?(?P<num>{NUM})(?:\s?(?P<scale>k|K|thousand|million|mn|M|bn|billion)\b)?\s?(?P<cur2>USD|EUR|GBP|dollars?|euros?|bucks)\b"
    ))
});
static MONEY_SCALE: LazyLock<Regex> =
    LazyLock::new(|| re(&format!(r"(?P<neg>-)?(?P<num>{NUM})(?P<scale>k|K|M|bn)\b")));
static RATIO: LazyLock<Regex> =
    LazyLock::new(|| re(&format!(r"(?P<num>{NUM})\s?(?:x\b|×|times\b)")));
static RATIO_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)\b(?:doubled|tripled|quadrupled|halved|twice as|(?:two|three|four) times)\b")
});
static COUNT: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?i)\b(?P<n>\d+|{WORD_NUMS})\s+(?:(?:{COUNT_ADJ})\s+)?(?P<noun>{COUNT_NOUNS})\b"
    ))
});
static ORDINAL: LazyLock<Regex> = LazyLock::new(|| re(r"\b\d+(?:st|nd|rd|th)\b"));
static USAGE: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?P<num>{NUM})\s?(?P<unit>GB|GiB|TB|TiB|MB|hours|hrs|hour|vCPUs?|requests|GB-months?|IOPS|Gbps|Mbps)\b"
    ))
});
static BARE: LazyLock<Regex> = LazyLock::new(|| re(NUM));
static SENTENCE: LazyLock<Regex> = LazyLock::new(|| re(r"(?m)[^\n]+?(?:[.!?](?:\s|$)|$)"));
static SPIKE_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:spik\w*|peak\w*|jump\w*|surg\w*|anomal\w*|unusual|highest|biggest|outlier\w*|burst\w*|budget)",
    )
});

/// Words that mean "this figure is a level, not a change" are not cues.
const UP: &str = "up rose risen rising rise rises increased increase increases increasing grew \
    grown growth grow grows higher more jumped jump jumps climbed climb spiked \
    surged gained added gain ahead";
const DOWN: &str = "down fell fallen falling fall dropped drop drops decreased decrease decreases \
    declined decline lower less cut shrank reduced reduction cheaper lost";
const FILLER: &str = "by about roughly around approximately approx nearly almost some a an just \
    another only of over under ~ ±";
/// A bare integer after one of these is an amount ("EC2 cost 512").
const COST_WORDS: &str =
    "cost costs costing spent spend spending total totals totaled totalled billed \
    charged reached hit was were is are at to by about around roughly approximately \
    nearly almost over under of amounted came";

/// `word` is one of the space-separated words of `list`.
fn has(list: &str, word: &str) -> bool {
    list.split_whitespace().any(|w| w == word)
}

pub fn month_number(name: &str) -> Option<u32> {
    let n = name.to_ascii_lowercase();
    let n = n.trim_end_matches('.');
    let all = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    all.iter()
        .position(|m| n.starts_with(m))
        .map(|i| i as u32 + 1)
}

fn word_number(s: &str) -> Option<i64> {
    let words = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve",
    ];
    let l = s.to_ascii_lowercase();
    words
        .iter()
        .position(|w| *w == l)
        .map(|i| i as i64)
        .or_else(|| s.parse().ok())
}

/// "1,234.56" -> 1234.56 and the place it was written to (0.01).
pub fn parse_number(s: &str) -> Option<(Decimal, Decimal)> {
    let plain: String = s.chars().filter(|c| *c != ',').collect();
    let value: Decimal = plain.parse().ok()?;
    let decimals = plain.split_once('.').map(|(_, f)| f.len()).unwrap_or(0) as u32;
    Some((value, Decimal::new(1, decimals)))
}

fn scale_of(s: &str) -> Decimal {
    match s {
        "k" | "K" | "thousand" => Decimal::from(1_000),
        "M" | "m" | "mn" | "million" => Decimal::from(1_000_000),
        "B" | "bn" | "billion" => Decimal::from(1_000_000_000),
        _ => Decimal::ONE,
    }
}

/// The coarsest place a written integer may be rounded to: "1,200" may be
/// to the hundred, but never fewer than two significant digits are assumed.
pub fn effective_precision(
    value: Decimal,
    written: Decimal,
    integer_text: Option<&str>,
) -> Decimal {
    let mut p = written;
    if let Some(t) = integer_text {
        let digits: String = t.chars().filter(|c| c.is_ascii_digit()).collect();
        let zeros = digits.len() - digits.trim_end_matches('0').len();
        if written == Decimal::ONE && zeros > 0 && zeros < digits.len() {
            p = Decimal::from(10i64.pow(zeros as u32));
        }
    }
    if p > Decimal::ONE {
        // At least two significant digits.
        let mut cap = Decimal::ONE;
        let mut v = value.abs();
        while v >= Decimal::from(100) {
            v /= Decimal::from(10);
            cap *= Decimal::from(10);
        }
        p = p.min(cap);
    }
    p
}

/// The working copy of the text: found figures are blanked out so that
/// later, looser patterns do not see their digits again.
struct Scan {
    text: String,
    work: Vec<u8>,
    code: Vec<(usize, usize)>,
    spike: Vec<(usize, usize)>,
    out: Vec<(usize, Said)>,
}

impl Scan {
    fn free(&self, s: usize, e: usize) -> bool {
        self.work[s..e].iter().all(|b| *b != 0)
    }
    fn blank(&mut self, s: usize, e: usize) {
        for b in &mut self.work[s..e] {
            *b = 0;
        }
    }
    fn view(&self) -> String {
        // Blanked bytes become spaces: ASCII, so offsets and UTF-8 stay valid.
        let bytes: Vec<u8> = self
            .work
            .iter()
            .map(|b| if *b == 0 { b' ' } else { *b })
            .collect();
        String::from_utf8(bytes).expect("blanking keeps whole characters")
    }
    fn in_code(&self, at: usize) -> bool {
        self.code.iter().any(|(s, e)| at >= *s && at < *e)
    }
    fn in_spike(&self, at: usize) -> bool {
        self.spike.iter().any(|(s, e)| at >= *s && at < *e)
    }
    fn push(&mut self, s: usize, e: usize, claim: Claim) {
        let text = self.text[s..e].trim().to_string();
        self.out.push((s, Said { text, claim }));
        self.blank(s, e);
    }
    /// Glued on the left to a name (EC2, us-east-1, t3).
    fn glued_left(&self, s: usize) -> bool {
        let t = self.text.as_bytes();
        let before = |i: usize| if i == 0 { None } else { Some(t[i - 1]) };
        match before(s) {
            Some(b) if b.is_ascii_alphabetic() || b == b'_' => true,
            Some(b'-' | b'.' | b'/' | b':') => {
                before(s - 1).is_some_and(|c| c.is_ascii_alphanumeric())
            }
            _ => false,
        }
    }
    /// Part of a name: glued to letters (EC2, m5.large, us-east-1, 64GB).
    fn is_name(&self, s: usize, e: usize) -> bool {
        let t = self.text.as_bytes();
        if self.glued_left(s) {
            return true;
        }
        if e < t.len() {
            let a = t[e];
            if a.is_ascii_alphabetic() || a == b'_' {
                return true;
            }
            if matches!(a, b'.' | b'-' | b'/')
                && t.get(e + 1).is_some_and(|c| c.is_ascii_alphabetic())
            {
                return true;
            }
        }
        false
    }
    /// The word before `at`, lowercased, and the words before it.
    fn words_before(&self, at: usize, n: usize) -> Vec<String> {
        self.text[..at]
            .split(|c: char| !(c.is_alphanumeric() || c == '~' || c == '±'))
            .filter(|w| !w.is_empty())
            .rev()
            .take(n)
            .map(|w| w.to_lowercase())
            .collect()
    }
    fn word_after(&self, at: usize) -> Option<String> {
        self.text[at..]
            .split(|c: char| !c.is_alphanumeric())
            .find(|w| !w.is_empty())
            .map(|w| w.to_lowercase())
    }
    fn bound(&self, at: usize) -> Bound {
        let before = self.text[..at].to_lowercase();
        let before = before.trim_end_matches([' ', '$', '-', '(', '*', '`']);
        let ends = |w: &str| {
            before.ends_with(w)
                && before[..before.len() - w.len()]
                    .chars()
                    .last()
                    .is_none_or(|c| !c.is_alphanumeric())
        };
        if [
            "just under",
            "just below",
            "nearly",
            "almost",
            "close to",
            "just shy of",
        ]
        .iter()
        .any(|w| ends(w))
        {
            Bound::Nearly
        } else if [
            "more than",
            "over",
            "above",
            "at least",
            "exceeding",
            "upwards of",
            "in excess of",
        ]
        .iter()
        .any(|w| ends(w))
        {
            Bound::Over
        } else if ["less than", "under", "below", "at most", "fewer than"]
            .iter()
            .any(|w| ends(w))
        {
            Bound::Under
        } else {
            Bound::Approx
        }
    }
    /// A direction cue right before ("rose by about 12%") or after ("a 12% drop").
    fn cue(&self, s: usize, e: usize) -> Sign {
        let words = self.words_before(s, 5);
        if words.first().is_some_and(|w| w == "to" || w == "from") {
            return Sign::Unknown;
        }
        let mut words = words.as_slice();
        // "made up 38%" and "adds up to" are levels, not rises.
        if words.first().is_some_and(|w| w == "up")
            && words.get(1).is_some_and(|w| {
                [
                    "made", "make", "makes", "making", "add", "adds", "added", "sum", "sums",
                    "took", "takes", "end", "ends", "ended",
                ]
                .contains(&w.as_str())
            })
        {
            return Sign::Unknown;
        }
        // "more than 40%" is a bound, not a direction.
        if words.len() >= 2
            && words[0] == "than"
            && ["more", "less", "fewer"].contains(&words[1].as_str())
        {
            words = &words[2..];
        }
        for w in words {
            if has(UP, w) {
                return Sign::Up;
            }
            if has(DOWN, w) {
                return Sign::Down;
            }
            if !has(FILLER, w) {
                break;
            }
        }
        match self.word_after(e).as_deref() {
            Some(w) if has(UP, w) => Sign::Up,
            Some(w) if has(DOWN, w) => Sign::Down,
            _ => Sign::Unknown,
        }
    }
}

fn currency_of(s: &str) -> Option<String> {
    let s = s.trim();
    Some(
        match s {
            "$" | "US$" | "USD" | "dollar" | "dollars" | "bucks" => "USD",
            "€" | "EUR" | "euro" | "euros" => "EUR",
            "£" | "GBP" => "GBP",
            _ => return None,
        }
        .to_string(),
    )
}

/// Every figure in `prose`, in order of appearance.
pub fn figures(prose: &str) -> Vec<Said> {
    let text = normalize(prose);
    let code = CODE
        .find_iter(&text)
        .map(|m| (m.start(), m.end()))
        .collect();
    let spike = SENTENCE
        .find_iter(&text)
        .filter(|m| SPIKE_WORDS.is_match(m.as_str()))
        .map(|m| (m.start(), m.end()))
        .collect();
    let mut scan = Scan {
        work: text.as_bytes().to_vec(),
        text,
        code,
        spike,
        out: Vec::new(),
    };
    dates(&mut scan);
    not_figures(&mut scan);
    spans(&mut scan);
    fractions(&mut scan);
    percents(&mut scan);
    money(&mut scan);
    ratios(&mut scan);
    counts(&mut scan);
    usage(&mut scan);
    bare(&mut scan);
    let mut out = scan.out;
    out.sort_by_key(|(s, _)| *s);
    out.into_iter().map(|(_, s)| s).collect()
}

fn normalize(prose: &str) -> String {
    prose
        .replace(['\u{2212}', '\u{2010}', '\u{2011}'], "-")
        .replace(['\u{a0}', '\u{202f}', '\u{2009}'], " ")
        .replace('*', " ")
}

fn dates(scan: &mut Scan) {
    let v = scan.view();
    for c in ISO_DATE.captures_iter(&v) {
        let m = c.get(0).unwrap();
        let (y, mo, d) = (
            c[1].parse().ok(),
            c[2].parse().unwrap_or(0),
            c[3].parse().unwrap_or(0),
        );
        push_date(scan, m.start(), m.end(), y, mo, d);
    }
    for pattern in [&*MONTH_DAY, &*DAY_MONTH] {
        let v = scan.view();
        for c in pattern.captures_iter(&v) {
            let m = c.get(0).unwrap();
            if !scan.free(m.start(), m.end()) || scan.is_name(m.start(), m.end()) {
                continue;
            }
            let Some(mo) = month_number(&c["mon"]) else {
                continue;
            };
            let y = c.name("y").and_then(|y| y.as_str().parse().ok());
            let d1: u32 = c["d1"].parse().unwrap_or(0);
            if !(1..=31).contains(&d1) {
                continue;
            }
            let at = m.start();
            let spike = scan.in_spike(at);
            let in_code = scan.in_code(at);
            if let Some(d2) = c.name("d2") {
                let d2: u32 = d2.as_str().parse().unwrap_or(0);
                scan.out.push((
                    at + 1,
                    Said {
                        text: format!("{} {d2}", &c["mon"]),
                        claim: Claim::Date {
                            year: y,
                            month: mo,
                            day: d2,
                            spike,
                            in_code,
                        },
                    },
                ));
            }
            scan.push(
                m.start(),
                m.end(),
                Claim::Date {
                    year: y,
                    month: mo,
                    day: d1,
                    spike,
                    in_code,
                },
            );
        }
    }
    let v = scan.view();
    for c in ISO_MONTH.captures_iter(&v) {
        let m = c.get(0).unwrap();
        if scan.is_name(m.start(), m.end()) {
            continue;
        }
        let mo: u32 = c[2].parse().unwrap_or(0);
        if (1..=12).contains(&mo) {
            scan.push(
                m.start(),
                m.end(),
                Claim::Month {
                    year: c[1].parse().ok(),
                    month: mo,
                },
            );
        }
    }
    let v = scan.view();
    for c in MONTH_ALONE.captures_iter(&v) {
        let m = c.get(0).unwrap();
        let name = c["mon"].split_whitespace().next().unwrap_or("");
        let Some(mo) = month_number(name) else {
            continue;
        };
        let y = c
            .name("y")
            .map(|y| y.as_str())
            .or_else(|| c["mon"].split_whitespace().nth(1))
            .and_then(|y| y.parse().ok());
        scan.push(m.start(), m.end(), Claim::Month { year: y, month: mo });
    }
}

fn push_date(scan: &mut Scan, s: usize, e: usize, y: Option<i32>, mo: u32, d: u32) {
    let spike = scan.in_spike(s);
    let in_code = scan.in_code(s);
    scan.push(
        s,
        e,
        Claim::Date {
            year: y,
            month: mo,
            day: d,
            spike,
            in_code,
        },
    );
}

/// Names, interval levels, "top 3", ordinals and years: blanked, not figures.
fn not_figures(scan: &mut Scan) {
    for pattern in [&*PRODUCT_NAMES, &*INTERVAL_LEVEL] {
        let v = scan.view();
        let found: Vec<_> = pattern
            .find_iter(&v)
            .map(|m| (m.start(), m.end()))
            .collect();
        for (s, e) in found {
            scan.blank(s, e);
        }
    }
}

fn spans(scan: &mut Scan) {
    let v = scan.view();
    for c in SPAN.captures_iter(&v) {
        let m = c.get(0).unwrap();
        let n = c
            .name("n")
            .or(c.name("n2"))
            .map(|n| n.as_str())
            .unwrap_or("");
        let u = c
            .name("u")
            .or(c.name("u2"))
            .map(|u| u.as_str().to_lowercase())
            .unwrap_or_default();
        let Some(n) = word_number(n) else { continue };
        let unit = if u.starts_with("day") {
            SpanUnit::Days
        } else if u.starts_with("week") {
            SpanUnit::Weeks
        } else {
            SpanUnit::Months
        };
        scan.push(m.start(), m.end(), Claim::Span { n, unit });
    }
    let v = scan.view();
    let found: Vec<_> = TOP_N.find_iter(&v).map(|m| (m.start(), m.end())).collect();
    for (s, e) in found {
        scan.blank(s, e);
    }
    let v = scan.view();
    let found: Vec<_> = ORDINAL
        .find_iter(&v)
        .map(|m| (m.start(), m.end()))
        .collect();
    for (s, e) in found {
        scan.blank(s, e);
    }
}

fn fractions(scan: &mut Scan) {
    let v = scan.view();
    for c in FRACTION.captures_iter(&v) {
        if c.name("pre").is_some() {
            continue; // "the second half of the month"
        }
        let f = c.name("f").unwrap();
        let words = f.as_str().to_lowercase();
        let percent = if words == "half" {
            Decimal::from(50)
        } else if words.ends_with("quarters") {
            Decimal::from(75)
        } else if words.ends_with("thirds") {
            Decimal::new(6667, 2)
        } else if words.ends_with("third") {
            Decimal::new(3333, 2)
        } else {
            Decimal::from(25)
        };
        scan.push(
            f.start(),
            f.end(),
            Claim::Fraction {
                percent,
                tolerance: Decimal::new(25, 1),
            },
        );
    }
}

fn percents(scan: &mut Scan) {
    let v = scan.view();
    for c in PERCENT.captures_iter(&v) {
        let m = c.get(0).unwrap();
        let num = c.name("num").unwrap();
        if scan.glued_left(num.start()) {
            continue;
        }
        let Some((value, precision)) = parse_number(num.as_str()) else {
            continue;
        };
        let sign = match c.name("sign").map(|s| s.as_str()) {
            Some("-") => Sign::Down,
            Some("+") => Sign::Up,
            _ => scan.cue(m.start(), m.end()),
        };
        let bound = scan.bound(m.start());
        scan.push(
            m.start(),
            m.end(),
            Claim::Percent {
                value,
                precision,
                sign,
                bound,
            },
        );
    }
}

fn money(scan: &mut Scan) {
    for (i, pattern) in [&*MONEY_PREFIX, &*MONEY_SUFFIX, &*MONEY_SCALE]
        .into_iter()
        .enumerate()
    {
        let v = scan.view();
        let caps: Vec<_> = pattern.captures_iter(&v).collect();
        for c in caps {
            let m = c.get(0).unwrap();
            let num = c.name("num").unwrap();
            if !scan.free(m.start(), m.end()) {
                continue;
            }
            // Suffix forms must not be glued to a name on the left.
            if i > 0 && scan.glued_left(num.start()) {
                continue;
            }
            if i == 0
                && c.name("cur").is_some_and(|c| c.as_str().trim().len() == 3)
                && scan.glued_left(m.start())
            {
                continue;
            }
            let Some((raw, written)) = parse_number(num.as_str()) else {
                continue;
            };
            let scale = c
                .name("scale")
                .map(|s| scale_of(s.as_str()))
                .unwrap_or(Decimal::ONE);
            // "$9e30 billion" does not fit a Decimal: not a figure worth reading.
            let (Some(value), Some(written)) = (raw.checked_mul(scale), written.checked_mul(scale))
            else {
                continue;
            };
            let integer_text =
                (scale == Decimal::ONE && !num.as_str().contains('.')).then(|| num.as_str());
            let precision = effective_precision(value, written, integer_text);
            let currency = c
                .name("cur")
                .and_then(|c| currency_of(c.as_str()))
                .or_else(|| c.name("cur2").and_then(|c| currency_of(c.as_str())));
            let explicit_minus = c.name("neg").is_some() || c.name("neg2").is_some();
            let sign = if explicit_minus {
                Sign::Down
            } else {
                scan.cue(m.start(), m.end())
            };
            let bound = scan.bound(m.start());
            scan.push(
                m.start(),
                m.end(),
                Claim::Money {
                    value,
                    precision,
                    sign,
                    bound,
                    currency,
                    bare: false,
                },
            );
        }
    }
}

fn ratios(scan: &mut Scan) {
    let v = scan.view();
    // "doubled" is a ratio of 2 give or take 0.1.
    let words: Vec<_> = RATIO_WORDS
        .find_iter(&v)
        .map(|m| (m.start(), m.end(), m.as_str().to_lowercase()))
        .collect();
    for (s, e, w) in words {
        let value = if w.starts_with("doubled") || w.starts_with("twice") || w.starts_with("two") {
            Decimal::from(2)
        } else if w.starts_with("tripled") || w.starts_with("three") {
            Decimal::from(3)
        } else if w.starts_with("quadrupled") || w.starts_with("four") {
            Decimal::from(4)
        } else {
            Decimal::new(5, 1)
        };
        scan.push(
            s,
            e,
            Claim::Ratio {
                value,
                precision: Decimal::new(2, 1),
            },
        );
    }
    let v = scan.view();
    for c in RATIO.captures_iter(&v) {
        let m = c.get(0).unwrap();
        let num = c.name("num").unwrap();
        if scan.glued_left(num.start()) {
            continue;
        }
        if let Some((value, precision)) = parse_number(num.as_str()) {
            scan.push(m.start(), m.end(), Claim::Ratio { value, precision });
        }
    }
}

fn counts(scan: &mut Scan) {
    let v = scan.view();
    for c in COUNT.captures_iter(&v) {
        let m = c.get(0).unwrap();
        let n = c.name("n").unwrap();
        if scan.glued_left(n.start()) {
            continue;
        }
        let Some(count) = word_number(n.as_str()) else {
            continue;
        };
        let noun = c["noun"].to_lowercase();
        scan.push(m.start(), m.end(), Claim::Count { n: count, noun });
    }
}

fn usage(scan: &mut Scan) {
    let v = scan.view();
    for c in USAGE.captures_iter(&v) {
        let m = c.get(0).unwrap();
        let num = c.name("num").unwrap();
        if scan.glued_left(num.start()) {
            continue;
        }
        if let Some((value, _)) = parse_number(num.as_str()) {
            scan.push(
                m.start(),
                m.end(),
                Claim::Usage {
                    value,
                    unit: c["unit"].to_string(),
                },
            );
        }
    }
}

/// Numbers with no marker: amounts when they look like money (separators,
/// decimals, four or more digits, or right after a cost word).
fn bare(scan: &mut Scan) {
    let v = scan.view();
    let found: Vec<_> = BARE.find_iter(&v).map(|m| (m.start(), m.end())).collect();
    for (s, e) in found {
        if scan.is_name(s, e) {
            continue;
        }
        let t = &scan.text[s..e];
        let Some((value, written)) = parse_number(t) else {
            continue;
        };
        let digits = t.chars().filter(|c| c.is_ascii_digit()).count();
        let formatted = t.contains(',') || t.contains('.');
        if !formatted {
            if digits == 4
                && (1990..=2100).contains(&value.trunc().to_string().parse::<i64>().unwrap_or(0))
            {
                continue; // a year
            }
            if digits == 12 {
                continue; // an account id
            }
            if digits < 4 {
                let cost_word = scan
                    .words_before(s, 1)
                    .first()
                    .is_some_and(|w| has(COST_WORDS, w));
                if !cost_word {
                    continue;
                }
            }
        }
        let integer_text = (!t.contains('.')).then_some(t);
        let precision = effective_precision(value, written, integer_text);
        let negative = s > 0
            && scan.text.as_bytes()[s - 1] == b'-'
            && (s < 2 || !scan.text.as_bytes()[s - 2].is_ascii_alphanumeric());
        let (s0, sign) = if negative {
            (s - 1, Sign::Down)
        } else {
            (s, scan.cue(s, e))
        };
        let bound = scan.bound(s0);
        scan.push(
            s0,
            e,
            Claim::Money {
                value,
                precision,
                sign,
                bound,
                currency: None,
                bare: true,
            },
        );
    }
}

#[cfg(test)]
#[path = "extract_tests.rs"]
mod tests;
