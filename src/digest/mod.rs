//! Scheduled digests: a schedule fires, the builder calls the same tools and
//! composer as chat answers, and the run is delivered exactly once per
//! (subscription, period) through a state machine kept in SQLite.

pub mod builder;
pub mod chart;
pub mod chat;
pub mod deliver;
pub mod run;
pub mod schedule;
pub mod subscription;

pub use run::{DigestError, Digests, Posted, Retry};
pub use schedule::{Cadence, Occurrence, Schedule};
pub use subscription::{Destination, DigestConfig, DigestScope, Origin, Subscription};
