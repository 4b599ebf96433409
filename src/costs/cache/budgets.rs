//! The cache for AWS Budgets and the organization's account names. Both
//! APIs are free, so their requests are counted in the meter but never
//! reserved against the Cost Explorer monthly cap nor recorded as Cost
//! Explorer requests. Budgets keep for the short TTL (AWS recalculates
//! spend a few times a day); account names for a day, in memory and in
//! SQLite (they rarely change), so no question waits on Organizations.

use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, Utc};

use super::CachedSource;
use crate::costs::budgets::{merge_accounts, AccountList, AccountsQuery, OrgAccount};
use crate::costs::{BudgetQuery, BudgetResult, CostError, Meter};

/// How long the organization's account names are trusted.
const ACCOUNTS_TTL_HOURS: i64 = 24;
/// After a failure that may pass (throttling, an outage), when to ask again.
const RETRY_AFTER: StdDuration = StdDuration::from_secs(300);

/// The organization's account names as last read, and when to read again.
#[derive(Default)]
pub(super) struct OrgNames {
    accounts: Vec<OrgAccount>,
    next_check: Option<Instant>,
    /// Organizations refused once (not the management account): said once.
    warned: bool,
}

impl CachedSource {
    pub(super) async fn budgets_through(
        &self,
        q: &BudgetQuery,
        meter: &Meter<'_>,
    ) -> Result<BudgetResult, CostError> {
        if self.inner.is_sample() {
            return self.inner.budgets_metered(q, meter).await;
        }
        let key = self.other_key(q.connection.as_deref(), &q.canonical());
        if let Some(r) = self.stored(&key).await?.and_then(|t| self.hit_of(&t)) {
            return Ok(r);
        }
        self.metrics
            .cache_misses
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let now = Utc::now();
        let result = self.inner.budgets_metered(q, meter).await?;
        let expires = now + Duration::minutes(self.ttl.recent_ttl_minutes as i64);
        self.keep(&key, &q.canonical(), &result, now, expires).await;
        Ok(result)
    }

    async fn keep<T: serde::Serialize>(
        &self,
        key: &str,
        canonical: &str,
        value: &T,
        now: chrono::DateTime<Utc>,
        expires: chrono::DateTime<Utc>,
    ) {
        let Ok(text) = serde_json::to_string(value) else {
            return;
        };
        if let Err(e) = self
            .store
            .cache_put(key, self.inner.name(), canonical, &text, now, expires)
            .await
        {
            self.metrics
                .cache_write_failures
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::warn!(error = %e, "could not cache an AWS result; returning it uncached");
        }
    }

    pub(super) fn merged_accounts(&self) -> Vec<(String, String)> {
        let org = self.org_names.read().expect("not poisoned");
        merge_accounts(self.inner.known_accounts(), &org.accounts)
    }

    pub(super) fn org_accounts(&self) -> Vec<OrgAccount> {
        self.org_names
            .read()
            .expect("not poisoned")
            .accounts
            .clone()
    }

    fn accounts_due(&self) -> bool {
        let org = self.org_names.read().expect("not poisoned");
        org.next_check.is_none_or(|t| Instant::now() >= t)
    }

    fn set_accounts(&self, accounts: Option<Vec<OrgAccount>>, again_in: StdDuration) {
        let mut org = self.org_names.write().expect("not poisoned");
        if let Some(a) = accounts {
            org.accounts = a;
        }
        org.next_check = Some(Instant::now() + again_in);
    }

    /// Reads the organization's names when they are due: from SQLite when
    /// another process (or an earlier run) read them within the day, else
    /// from Organizations. Returns the list only when Organizations was asked.
    pub(super) async fn refresh_org_accounts(&self) -> Option<AccountList> {
        // The sample organization's names are all known already.
        if self.inner.is_sample() || !self.accounts_due() {
            return None;
        }
        let _one = self.accounts_refresh.lock().await;
        if !self.accounts_due() {
            return None;
        }
        let ttl = StdDuration::from_secs(ACCOUNTS_TTL_HOURS as u64 * 3600);
        let q = AccountsQuery::default();
        let key = self.other_key(None, &q.canonical());
        if let Ok(Some(text)) = self.stored(&key).await {
            if let Ok(list) = serde_json::from_str::<AccountList>(&text) {
                self.set_accounts(Some(list.accounts), ttl);
                return None;
            }
        }
        let now = Utc::now();
        match self
            .inner
            .organization_accounts_metered(&q, &Meter::new())
            .await
        {
            Ok(list) => {
                let expires = now + Duration::hours(ACCOUNTS_TTL_HOURS);
                self.keep(&key, &q.canonical(), &list, now, expires).await;
                self.set_accounts(Some(list.accounts.clone()), ttl);
                Some(list)
            }
            Err(e @ (CostError::AccessDenied(_) | CostError::Unsupported(_))) => {
                let first = {
                    let mut org = self.org_names.write().expect("not poisoned");
                    !std::mem::replace(&mut org.warned, true)
                };
                if first {
                    tracing::warn!(error = %e, "Organizations ListAccounts is not available (it needs the management account and organizations:ListAccounts); using the configured account names only");
                }
                self.set_accounts(None, ttl);
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not list the organization's accounts; trying again in a few minutes");
                self.set_accounts(None, RETRY_AFTER);
                None
            }
        }
    }
}
