//! One async lock per key (a conversation, a Cost Explorer query), kept only
//! while somebody holds or waits for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

type Slot = Arc<tokio::sync::Mutex<()>>;

#[derive(Default)]
pub struct KeyedLocks {
    slots: Mutex<HashMap<String, Slot>>,
}

/// Holds the key's lock until dropped.
pub struct KeyedGuard<'a> {
    locks: &'a KeyedLocks,
    key: String,
    slot: Slot,
    guard: Option<OwnedMutexGuard<()>>,
}

impl KeyedLocks {
    pub fn new() -> Self {
        KeyedLocks::default()
    }

    /// Waits for the key's lock. Cancel-safe: a waiter that is dropped leaves nothing behind.
    pub async fn lock(&self, key: &str) -> KeyedGuard<'_> {
        let slot = self
            .slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key.to_string())
            .or_default()
            .clone();
        let guard = slot.clone().lock_owned().await;
        KeyedGuard {
            locks: self,
            key: key.to_string(),
            slot,
            guard: Some(guard),
        }
    }

    /// Keys with a holder or a waiter (for tests).
    pub fn len(&self) -> usize {
        self.slots.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for KeyedGuard<'_> {
    fn drop(&mut self) {
        let mut slots = self.locks.slots.lock().unwrap_or_else(|e| e.into_inner());
        drop(self.guard.take());
        // The map's copy and ours, and nobody else's: forget the key. New
        // waiters clone under the map lock, so none can slip in meanwhile.
        if Arc::strong_count(&self.slot) == 2 {
            slots.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn one_holder_per_key_and_keys_are_forgotten() {
        let locks = Arc::new(KeyedLocks::new());
        let held = locks.lock("a").await;
        // Another key is free.
        drop(locks.lock("b").await);
        let waiter = {
            let locks = locks.clone();
            tokio::spawn(async move {
                let _g = locks.lock("a").await;
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished(), "the second holder waits");
        drop(held);
        waiter.await.unwrap();
        assert!(locks.is_empty());
        // A waiter cancelled while waiting leaves nothing behind.
        let held = locks.lock("c").await;
        let cancelled = {
            let locks = locks.clone();
            tokio::spawn(async move {
                let _g = locks.lock("c").await;
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        cancelled.abort();
        let _ = cancelled.await;
        drop(held);
        assert!(locks.is_empty());
    }
}
