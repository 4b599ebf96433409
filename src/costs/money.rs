//! Money formatting. Amounts stay `Decimal` end to end so sums are exact;
//! rounding happens only when a figure is shown.

use rust_decimal::{Decimal, RoundingStrategy};

/// Rounds to cents, half away from zero (as the billing console shows).
pub fn cents(amount: Decimal) -> Decimal {
    amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// `$12,345.67`, `-$3.10`, or `1,234.50 EUR` for other currencies.
pub fn format(amount: Decimal, unit: &str) -> String {
    let rounded = cents(amount);
    let negative = rounded.is_sign_negative() && !rounded.is_zero();
    let abs = rounded.abs();
    let text = format!("{abs:.2}");
    let (int, frac) = text.split_once('.').unwrap_or((&text, "00"));
    let mut grouped = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    let sign = if negative { "-" } else { "" };
    if unit == "USD" {
        format!("{sign}${grouped}.{frac}")
    } else {
        format!("{sign}{grouped}.{frac} {unit}")
    }
}

/// A signed change: `+$1,200.00` or `-$35.10`.
pub fn format_change(amount: Decimal, unit: &str) -> String {
    if amount.is_sign_positive() && !cents(amount).is_zero() {
        format!("+{}", format(amount, unit))
    } else {
        format(amount, unit)
    }
}

/// Percent change from `before` to `after`, one decimal; None when before is 0.
pub fn percent_change(before: Decimal, after: Decimal) -> Option<Decimal> {
    if before.is_zero() {
        return None;
    }
    Some(
        ((after - before) / before.abs() * Decimal::from(100))
            .round_dp_with_strategy(1, RoundingStrategy::MidpointAwayFromZero),
    )
}

pub fn format_percent(p: Decimal) -> String {
    if p.is_sign_positive() && !p.is_zero() {
        format!("+{p:.1}%")
    } else {
        format!("{p:.1}%")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn formats_like_a_bill() {
        assert_eq!(format(d("1234567.891"), "USD"), "$1,234,567.89");
        assert_eq!(format(d("0.005"), "USD"), "$0.01");
        assert_eq!(format(d("-3.1"), "USD"), "-$3.10");
        assert_eq!(format(d("999.995"), "USD"), "$1,000.00");
        assert_eq!(format(d("12"), "EUR"), "12.00 EUR");
        assert_eq!(format(d("-0.001"), "USD"), "$0.00");
        assert_eq!(format_change(d("5"), "USD"), "+$5.00");
        assert_eq!(format_change(d("-5"), "USD"), "-$5.00");
    }

    #[test]
    fn percent() {
        assert_eq!(percent_change(d("100"), d("125")), Some(d("25.0")));
        assert_eq!(percent_change(d("0"), d("1")), None);
        assert_eq!(format_percent(d("-12.34")), "-12.3%");
    }
}
