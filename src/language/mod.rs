//! Language understanding: how people name periods ("last week", "Q3 so
//! far") and services ("our NAT gateway bill", "ALB"). The planners use it;
//! `costs/` knows only Cost Explorer's own names and calendar arithmetic.

pub mod normalize;
pub mod services;
pub mod time;

use std::collections::HashSet;
use std::sync::LazyLock;

static DOMAIN: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("domain.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect()
});

/// Whether `word` (lower case) is a word of cloud cost and FinOps.
pub fn is_domain_word(word: &str) -> bool {
    DOMAIN.contains(word)
}
