//! The demo anomalies injected into the sample organization, named by
//! service, account, region and usage type, and placed relative to "today"
//! so every demo has something to find.

use chrono::{Duration, NaiveDate};

use super::catalog::{service_index, ServiceSpec, ACCOUNTS, REGIONS};
use crate::costs::periods::week_start;

/// A demo anomaly: one usage type of one service in one account, multiplied
/// on some days. Named rather than indexed, so reordering SERVICES, ACCOUNTS
/// or REGIONS cannot move it onto another service.
#[derive(Clone, Copy)]
pub(super) struct DemoEvent {
    /// Cost Explorer SERVICE name, as in SERVICES.
    pub(super) service: &'static str,
    /// Account name, as in ACCOUNTS.
    pub(super) account: &'static str,
    /// Region code, as in REGIONS; `None` for every region the service runs in there.
    pub(super) region: Option<&'static str>,
    /// Usage type without its region prefix, as in the service's `usage`.
    pub(super) usage: &'static str,
    /// First and last day affected (inclusive), relative to today so a demo always has them.
    pub(super) days: fn(NaiveDate) -> (NaiveDate, NaiveDate),
    pub(super) factor: f64,
}

pub(super) const DEMO_EVENTS: &[DemoEvent] = &[
    // A new fleet for the search team: EC2 steps up from the start of last week.
    DemoEvent {
        service: "Amazon Elastic Compute Cloud - Compute",
        account: "prod",
        region: Some("us-east-1"),
        usage: "BoxUsage:m7i.xlarge",
        days: |today| (week_start(today) - Duration::days(7), today),
        factor: 1.6,
    },
    // NAT gateway traffic spikes for one day.
    DemoEvent {
        service: "EC2 - Other",
        account: "prod",
        region: Some("us-east-1"),
        usage: "NatGateway-Bytes",
        days: |today| (today - Duration::days(3), today - Duration::days(3)),
        factor: 7.0,
    },
    // A burst of S3 requests in the data account.
    DemoEvent {
        service: "Amazon Simple Storage Service",
        account: "data",
        region: None,
        usage: "Requests-Tier1",
        days: |today| (today - Duration::days(45), today - Duration::days(45)),
        factor: 12.0,
    },
    // Verbose logging left on in staging for three days.
    DemoEvent {
        service: "AmazonCloudWatch",
        account: "staging",
        region: None,
        usage: "DataProcessing-Bytes",
        days: |today| (today - Duration::days(20), today - Duration::days(18)),
        factor: 5.0,
    },
];

/// A [`DemoEvent`] with its names resolved to indices into one service table.
#[derive(Debug)]
pub(super) struct Injection {
    service: usize,
    account: usize,
    region: Option<usize>,
    usage: &'static str,
    from: NaiveDate,
    to: NaiveDate,
    pub(super) factor: f64,
}

impl Injection {
    /// First and last day affected (inclusive).
    pub(super) fn span(&self) -> (NaiveDate, NaiveDate) {
        (self.from, self.to)
    }

    pub(super) fn applies(
        &self,
        si: usize,
        ai: usize,
        ri: usize,
        usage: &str,
        day: NaiveDate,
    ) -> bool {
        si == self.service
            && ai == self.account
            && self.region.is_none_or(|r| r == ri)
            && usage == self.usage
            && day >= self.from
            && day <= self.to
    }
}

impl DemoEvent {
    /// Resolves the names against `services`; an error says which name does not
    /// match, or that the named service does not run that usage in that account.
    pub(super) fn resolve(
        &self,
        services: &[ServiceSpec],
        today: NaiveDate,
    ) -> Result<Injection, String> {
        let service = service_index(services, self.service)
            .ok_or_else(|| format!("no sample service is named '{}'", self.service))?;
        let spec = &services[service];
        let account = ACCOUNTS
            .iter()
            .position(|(name, _)| *name == self.account)
            .ok_or_else(|| format!("no sample account is named '{}'", self.account))?;
        if !spec.accounts.iter().any(|&(ai, _)| ai == account) {
            return Err(format!(
                "'{}' does not run in the {} account",
                self.service, self.account
            ));
        }
        let region = match self.region {
            None => None,
            Some(code) => Some(
                REGIONS
                    .iter()
                    .position(|(c, _)| *c == code)
                    .ok_or_else(|| format!("no sample region is named '{code}'"))?,
            ),
        };
        if !spec.usage.iter().any(|&(u, _)| u == self.usage) {
            return Err(format!(
                "'{}' has no usage type '{}'",
                self.service, self.usage
            ));
        }
        let (from, to) = (self.days)(today);
        Ok(Injection {
            service,
            account,
            region,
            usage: self.usage,
            from,
            to,
            factor: self.factor,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::catalog::SERVICES;
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn every_demo_event_resolves() {
        let today = d("2026-11-19");
        for e in DEMO_EVENTS {
            if let Err(message) = e.resolve(SERVICES, today) {
                panic!("demo event on '{}': {message}", e.service);
            }
        }
        // A misspelled or renamed service is an error, not an event on nothing.
        let renamed = DemoEvent {
            service: "Amazon Elastic Compute Cloud",
            ..DEMO_EVENTS[0]
        };
        assert!(renamed
            .resolve(SERVICES, today)
            .unwrap_err()
            .contains("no sample service"));
        let wrong_usage = DemoEvent {
            usage: "NatGateway-Bytes",
            ..DEMO_EVENTS[0]
        };
        assert!(wrong_usage.resolve(SERVICES, today).is_err());
    }
}
