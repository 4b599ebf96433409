//! The extractor's unit tests: each form of figure, and what is not one.
use super::*;

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn one(prose: &str) -> Claim {
    let f = figures(prose);
    assert_eq!(f.len(), 1, "{prose}: {f:?}");
    f[0].claim.clone()
}

fn money(prose: &str) -> (Decimal, Decimal, Sign) {
    match one(prose) {
        Claim::Money {
            value,
            precision,
            sign,
            ..
        } => (value, precision, sign),
        c => panic!("{prose}: {c:?}"),
    }
}

#[test]
fn amounts_in_their_written_precision() {
    assert_eq!(
        money("EC2 cost $1,234.56 last month"),
        (d("1234.56"), d("0.01"), Sign::Unknown)
    );
    assert_eq!(money("EC2 cost $1,235"), (d("1235"), d("1"), Sign::Unknown));
    assert_eq!(money("about $1,200"), (d("1200"), d("100"), Sign::Unknown));
    assert_eq!(money("about $1.2k"), (d("1200"), d("100"), Sign::Unknown));
    assert_eq!(
        money("$1.2M in total"),
        (d("1200000"), d("100000"), Sign::Unknown)
    );
    assert_eq!(money("1,234 dollars"), (d("1234"), d("1"), Sign::Unknown));
    assert_eq!(money("USD 12"), (d("12"), d("1"), Sign::Unknown));
    assert_eq!(money("12.50 EUR"), (d("12.50"), d("0.01"), Sign::Unknown));
    assert_eq!(
        money("a credit of -$3.10"),
        (d("3.10"), d("0.01"), Sign::Down)
    );
    assert_eq!(
        money("a credit of −$3.10"),
        (d("3.10"), d("0.01"), Sign::Down)
    );
    assert_eq!(money("costs rose by $120"), (d("120"), d("10"), Sign::Up));
    assert_eq!(
        money("spend fell to $120.00"),
        (d("120.00"), d("0.01"), Sign::Unknown)
    );
    // One significant digit is never assumed: "$1,000" is to the hundred.
    assert_eq!(money("$1,000"), (d("1000"), d("100"), Sign::Unknown));
    assert_eq!(money("$300"), (d("300"), d("10"), Sign::Unknown));
    assert_eq!(money("$5"), (d("5"), d("1"), Sign::Unknown));
    assert_eq!(
        money("the bill was 4,321.09"),
        (d("4321.09"), d("0.01"), Sign::Unknown)
    );
}

#[test]
fn percentages_ratios_fractions() {
    assert!(
        matches!(one("up 12%"), Claim::Percent { value, sign: Sign::Up, .. } if value == d("12"))
    );
    assert!(
        matches!(one("a 12.5 percent drop"), Claim::Percent { value, precision, sign: Sign::Down, .. } if value == d("12.5") && precision == d("0.1"))
    );
    assert!(matches!(
        one("-3.4%"),
        Claim::Percent {
            sign: Sign::Down,
            ..
        }
    ));
    assert!(matches!(
        one("EC2 is 41% of the bill"),
        Claim::Percent {
            sign: Sign::Unknown,
            ..
        }
    ));
    assert!(matches!(
        one("more than 40% of it"),
        Claim::Percent {
            bound: Bound::Over,
            ..
        }
    ));
    assert!(matches!(
        one("EC2 is about a third of the bill"),
        Claim::Fraction { .. }
    ));
    assert!(figures("in the second half of the month").is_empty());
    assert!(
        matches!(one("the peak was 3x a normal day"), Claim::Ratio { value, .. } if value == d("3"))
    );
    assert!(matches!(one("EC2 spend doubled"), Claim::Ratio { value, .. } if value == d("2")));
    assert!(matches!(one("it is twice as high"), Claim::Ratio { value, .. } if value == d("2")));
    assert!(matches!(
        one("EC2 made up 41% of the bill"),
        Claim::Percent {
            sign: Sign::Unknown,
            ..
        }
    ));
    // The interval level is not a figure.
    let f = figures("the 80% range is $10–$12");
    assert!(
        f.len() == 2 && f.iter().all(|s| matches!(s.claim, Claim::Money { .. })),
        "{f:?}"
    );
}

#[test]
fn dates_in_every_common_form() {
    for (prose, day) in [
        ("on 2026-11-03", 3),
        ("on Nov 3", 3),
        ("on 3 November", 3),
        ("on November 3rd, 2026", 3),
        ("on the 3rd of November", 3),
        ("on Nov. 3", 3),
    ] {
        let f = figures(prose);
        assert!(
            matches!(f.as_slice(), [Said { claim: Claim::Date { month: 11, day: d, .. }, .. }] if *d == day),
            "{prose}: {f:?}"
        );
    }
    let f = figures("from Nov 3–5");
    assert_eq!(f.len(), 2, "{f:?}");
    let f = figures("EC2 spiked on Nov 4 at $1,067.22. On Nov 5 it was back.");
    assert!(
        matches!(f[0].claim, Claim::Date { spike: true, .. }),
        "{f:?}"
    );
    assert!(
        matches!(f[2].claim, Claim::Date { spike: false, .. }),
        "{f:?}"
    );
    let f =
        figures("Run `aws ce get-cost-and-usage --time-period Start=2026-10-01,End=2026-11-01`");
    assert_eq!(f.len(), 2);
    assert!(f
        .iter()
        .all(|s| matches!(s.claim, Claim::Date { in_code: true, .. })));
    assert!(matches!(
        one("In October 2026 you spent"),
        Claim::Month {
            year: Some(2026),
            month: 10
        }
    ));
}

#[test]
fn names_years_ordinals_and_top_n_are_not_figures() {
    for prose in [
        "EC2 and S3 on m5.large in us-east-1",
        "Route 53 and gp3 volumes on t3.micro",
        "the top 3 services",
        "in 2026",
        "a 1-year Savings Plan",
        "the 3rd largest",
        "account 123456789012",
        "step 2 is to tag",
    ] {
        assert!(figures(prose).is_empty(), "{prose}: {:?}", figures(prose));
    }
}

#[test]
fn counts_and_spans() {
    assert_eq!(
        one("I found 3 anomalies"),
        Claim::Count {
            n: 3,
            noun: "anomalies".into()
        }
    );
    assert_eq!(
        one("three unusual spikes"),
        Claim::Count {
            n: 3,
            noun: "spikes".into()
        }
    );
    assert_eq!(
        one("over the last 7 days"),
        Claim::Span {
            n: 7,
            unit: SpanUnit::Days
        }
    );
    assert_eq!(
        one("a 30-day window"),
        Claim::Span {
            n: 30,
            unit: SpanUnit::Days
        }
    );
    assert!(matches!(one("it moved 1,200 GB"), Claim::Usage { .. }));
}

#[test]
fn odd_text_never_panics() {
    let parts = [
        "Nov 3–5",
        "€1,234.5",
        "—",
        "−$3",
        "🙂",
        "₹12",
        "3 – 4 %",
        "1–31 October 2026",
        "`End=2026-11-01`",
        "(",
        ")",
        "$",
        "%",
        "x",
        "12",
        "٣",
        "1,2,3",
        "., ",
        "\n",
        "Route 53",
        "half of",
        "doubled",
        "last 7 days",
        "EC2",
        "us-east-1",
        "ü",
        "2026-11",
        "Q3",
    ];
    // Every pair and triple of the parts, glued and spaced.
    for a in parts {
        for b in parts {
            for c in ["", " ", "–", "€"] {
                let _ = figures(&format!("{a}{c}{b}"));
                let _ = figures(&format!("{b} {a}{c}{a}"));
            }
        }
    }
}

#[test]
fn huge_numbers_do_not_overflow() {
    let _ = figures(
        "$79,228,162,514,264,337,593,543,950,335 billion and 99999999999999999999999999999999%",
    );
}
