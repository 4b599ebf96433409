//! One async lock per key (a conversation, a Cost Explorer query), kept only
//! while somebody holds or waits for it. The lock can guard a small state
//! (`T`) that lives exactly as long: what the holder leaves there is seen by
//! those queued behind it, and is forgotten with the key.

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

type Slot<T> = Arc<tokio::sync::Mutex<T>>;

pub struct KeyedLocks<T = ()> {
    slots: Mutex<HashMap<String, Slot<T>>>,
}

/// Holds the key's lock until dropped; derefs to the key's state.
pub struct KeyedGuard<'a, T = ()> {
    locks: &'a KeyedLocks<T>,
    key: String,
    slot: Slot<T>,
    guard: Option<OwnedMutexGuard<T>>,
}

impl<T> Default for KeyedLocks<T> {
    fn default() -> Self {
        KeyedLocks {
            slots: Mutex::new(HashMap::new()),
        }
    }
}

impl KeyedLocks {
    pub fn new() -> Self {
        KeyedLocks::default()
    }
}

impl<T: Default> KeyedLocks<T> {
    /// Waits for the key's lock. Cancel-safe: a waiter that is dropped leaves nothing behind.
    pub async fn lock(&self, key: &str) -> KeyedGuard<'_, T> {
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
}

impl<T> KeyedLocks<T> {
    /// Keys with a holder or a waiter (for tests).
    pub fn len(&self) -> usize {
        self.slots.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Deref for KeyedGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.guard.as_deref().expect("held until dropped")
    }
}

impl<T> DerefMut for KeyedGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.guard.as_deref_mut().expect("held until dropped")
    }
}

impl<T> Drop for KeyedGuard<'_, T> {
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

    #[tokio::test]
    async fn state_reaches_those_queued_behind_and_goes_with_the_key() {
        let locks = Arc::new(KeyedLocks::<Option<u32>>::default());
        let mut held = locks.lock("a").await;
        let waiter = {
            let locks = locks.clone();
            tokio::spawn(async move { *locks.lock("a").await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        *held = Some(7);
        drop(held);
        assert_eq!(waiter.await.unwrap(), Some(7));
        assert!(locks.is_empty());
        assert_eq!(*locks.lock("a").await, None, "a new key starts afresh");
    }
}
