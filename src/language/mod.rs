//! Language understanding: how people name periods ("last week", "Q3 so
//! far") and services ("our NAT gateway bill", "ALB"). The planners use it;
//! `costs/` knows only Cost Explorer's own names and calendar arithmetic.

pub mod normalize;
pub mod services;
pub mod time;
