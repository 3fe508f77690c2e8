//! The SQLite store's caches of rows read on every API request, kept true by the writer: API
//! keys by hash (every request authenticates) and accounts by reference-id (every inquiry create
//! with a reference-id). A point read costs a read transaction that re-reads its pages (each
//! commit empties a reader's page cache): the two were ~16 % of the tokio workers' time in the
//! create benchmark.
//!
//! Accounts are never changed or deleted once written, so only another process could make a
//! cached one wrong; the accounts this store inserts are cached from their commit on. Keys are
//! revoked on other connections: by `verity api-key revoke` in another process, or by the
//! store's own `revoke_api_key` on the sqlx pool. The writer reads `PRAGMA data_version` at the
//! start of each of its transactions, which changes exactly when another connection committed,
//! and then bumps a generation; a cache's own generation is bumped when this store stamps a key's
//! last use or revokes a key. A cached row is used only while its generation is current and the
//! writer looked within [`FRESH_FOR`]: so a key revoked by another process is refused at most
//! that long after the revocation committed (one revoked by this process, at once), and an idle
//! server (no transactions, so no looks) reads the table.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long after the writer's last look at `data_version` cached keys are still trusted. Under
/// load the writer starts a transaction every millisecond or so.
pub(super) const FRESH_FOR: Duration = Duration::from_millis(5);

/// Rows kept at most by each cache; a cache starts over when full.
const CAPACITY: usize = 16 * 1024;

/// What the writer publishes of other connections' commits.
#[derive(Debug)]
pub(super) struct OutsideCommits {
    /// Bumped when the writer finds that another connection committed.
    generation: AtomicU64,
    /// When the writer last read `data_version`, in µs since `started`, plus one (0: never).
    looked_at: AtomicU64,
    started: Instant,
}

impl OutsideCommits {
    pub(super) fn new() -> OutsideCommits {
        OutsideCommits {
            generation: AtomicU64::new(0),
            looked_at: AtomicU64::new(0),
            started: Instant::now(),
        }
    }

    fn micros_since_start(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX - 1)
    }

    /// The writer has just read `data_version`; `changed` when it differs from its last reading.
    pub(super) fn looked(&self, changed: bool) {
        if changed {
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        self.looked_at
            .store(self.micros_since_start() + 1, Ordering::Release);
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The current generation, if the writer looked recently enough for it to be trusted.
    fn trusted_generation(&self) -> Option<u64> {
        let looked_at = self.looked_at.load(Ordering::Acquire);
        let generation = self.generation();
        let fresh = looked_at != 0
            && self.micros_since_start().saturating_sub(looked_at - 1)
                <= FRESH_FOR.as_micros() as u64;
        fresh.then_some(generation)
    }
}

/// Rows by a unique key, each with the generation it was read under: the sum of the outside
/// commits' generation and this cache's own, which only grow, so an equal sum means neither moved.
#[derive(Debug)]
pub(super) struct ReadCache<T> {
    commits: std::sync::Arc<OutsideCommits>,
    /// Bumped when this store changed the table itself.
    own_changes: AtomicU64,
    rows: Mutex<HashMap<String, (u64, T)>>,
}

impl<T: Clone> ReadCache<T> {
    pub(super) fn new(commits: std::sync::Arc<OutsideCommits>) -> ReadCache<T> {
        ReadCache {
            commits,
            own_changes: AtomicU64::new(0),
            rows: Mutex::new(HashMap::new()),
        }
    }

    fn rows(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u64, T)>> {
        self.rows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// This store changed the table itself (and committed): what is cached may be out of date.
    pub(super) fn changed(&self) {
        self.own_changes.fetch_add(1, Ordering::AcqRel);
    }

    /// The generation to remember a row under that is read or written from now on.
    pub(super) fn generation(&self) -> u64 {
        self.own_changes.load(Ordering::Acquire) + self.commits.generation()
    }

    /// Remembers a row that this store wrote (and committed), under the generation taken before
    /// it wrote it.
    pub(super) fn remember(&self, key: &str, row: T, generation: u64) {
        let mut rows = self.rows();
        if rows.len() >= CAPACITY {
            rows.clear();
        }
        rows.insert(key.to_owned(), (generation, row));
    }

    /// The row cached under `key`, if it can be trusted; never reads the database.
    pub(super) fn get(&self, key: &str) -> Option<T> {
        let generation =
            self.commits.trusted_generation()? + self.own_changes.load(Ordering::Acquire);
        match self.rows().get(key) {
            Some((cached_under, row)) if *cached_under == generation => Some(row.clone()),
            _ => None,
        }
    }

    /// The row stored under `key`, from the cache when it can be trusted, else from `read` (and
    /// then cached). Rows not found are not cached.
    pub(super) fn get_or_read<E>(
        &self,
        key: &str,
        read: impl FnOnce() -> Result<Option<T>, E>,
    ) -> Result<Option<T>, E> {
        if let Some(row) = self.get(key) {
            return Ok(Some(row));
        }
        // Taken before the read: a change committed meanwhile leaves this entry already stale.
        let generation = self.generation();
        let found = read()?;
        if let Some(row) = &found {
            self.remember(key, row.clone(), generation);
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::FRESH_FOR;
    use crate::clock::{Clock, SystemClock};
    use crate::records::{AccountRecord, ApiKeyRecord};
    use crate::store::sqlite::SqliteStore;
    use crate::store::{Store, Write};
    use domain::ids::{AccountId, ApiKeyId};
    use std::path::Path;

    async fn store_with_key(path: &Path) -> (SqliteStore, ApiKeyRecord) {
        let store = SqliteStore::open(path).await.unwrap();
        let key = ApiKeyRecord {
            id: ApiKeyId::new(),
            name: "cache test".into(),
            key_hash: crate::api_keys::hash(&crate::api_keys::generate()),
            key_prefix: "verity_abcdef".into(),
            created_at: SystemClock.now(),
            last_used_at: None,
            revoked_at: None,
        };
        store.insert_api_key(&key).await.unwrap();
        (store, key)
    }

    /// Any write through the writer: it starts a transaction, so it looks at `data_version`.
    async fn commit_something(store: &SqliteStore) {
        let now = SystemClock.now();
        let account = AccountRecord {
            id: AccountId::new(),
            reference_id: None,
            created_at: now,
            updated_at: now,
        };
        store
            .commit(vec![Write::InsertAccount(account)])
            .await
            .unwrap();
    }

    /// What `verity api-key revoke` does, from a connection of its own (another process).
    fn revoke_elsewhere(path: &Path, key: &ApiKeyRecord) {
        let conn = rusqlite::Connection::open(path).unwrap();
        let changed = conn
            .execute(
                "UPDATE api_keys SET revoked_at = 1 WHERE id = ?",
                [key.id.as_str()],
            )
            .unwrap();
        assert_eq!(changed, 1);
    }

    /// A store that read (so cached) a key, which another process then revoked.
    async fn key_cached_then_revoked_elsewhere() -> (tempfile::TempDir, SqliteStore, ApiKeyRecord) {
        let data = tempfile::tempdir().unwrap();
        let path = data.path().join("verity.sqlite3");
        let (store, key) = store_with_key(&path).await;
        commit_something(&store).await;
        let found = store.api_key_by_hash(&key.key_hash).await.unwrap().unwrap();
        assert!(found.revoked_at.is_none());
        revoke_elsewhere(&path, &key);
        (data, store, key)
    }

    async fn assert_read_as_revoked(store: &SqliteStore, key: &ApiKeyRecord) {
        let found = store.api_key_by_hash(&key.key_hash).await.unwrap().unwrap();
        assert!(
            found.revoked_at.is_some(),
            "a revoked key was served from the cache"
        );
    }

    #[tokio::test]
    async fn a_key_revoked_by_another_process_is_seen_at_the_writers_next_transaction() {
        let (_data, store, key) = key_cached_then_revoked_elsewhere().await;
        commit_something(&store).await;
        assert_read_as_revoked(&store, &key).await;
    }

    #[tokio::test]
    async fn without_transactions_of_the_writer_the_cache_is_not_trusted() {
        let (_data, store, key) = key_cached_then_revoked_elsewhere().await;
        tokio::time::sleep(FRESH_FOR * 2).await;
        assert_read_as_revoked(&store, &key).await;
    }

    #[tokio::test]
    async fn a_use_the_writer_stamps_is_read_back() {
        let data = tempfile::tempdir().unwrap();
        let path = data.path().join("verity.sqlite3");
        let (store, key) = store_with_key(&path).await;
        commit_something(&store).await;
        assert!(store
            .api_key_by_hash(&key.key_hash)
            .await
            .unwrap()
            .unwrap()
            .last_used_at
            .is_none());
        let now = SystemClock.now();
        let touch = Write::TouchApiKey {
            id: key.id.clone(),
            at: now,
            unless_since: now,
        };
        store.commit(vec![touch]).await.unwrap();
        let found = store.api_key_by_hash(&key.key_hash).await.unwrap().unwrap();
        assert_eq!(found.last_used_at, Some(now));
    }
}
