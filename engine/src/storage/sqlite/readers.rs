//! Read-only connections beside the one writer. In WAL mode a reader never waits for a
//! writer, so short reads (the label list, a document's status) no longer queue behind
//! an ingestion's transactions or each other on the writer's mutex. Each read runs in
//! its own autocommit transaction and sees every write committed before it started.
//! Connections are opened on first use, so an idle worker pays for none.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::storage::Result;

/// Readers per store: one per core of the machines we target; more only add memory.
pub(super) const READERS: usize = 2;
/// Page cache per reader, in KiB: reads go mostly through the memory map.
const READER_CACHE_KIB: i64 = 4 * 1024;

pub(super) struct Readers {
    path: PathBuf,
    busy_timeout: Duration,
    mmap_bytes: i64,
    slots: Vec<Mutex<Option<Connection>>>,
    /// Where a caller that found every reader busy waits next, spreading the waiters.
    next: AtomicUsize,
}

impl Readers {
    pub(super) fn new(path: &Path, busy_timeout: Duration, mmap_bytes: i64) -> Readers {
        Readers {
            path: path.to_owned(),
            busy_timeout,
            mmap_bytes,
            slots: (0..READERS).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
        }
    }

    /// Runs `f` on a free reader, or waits for one when all are in use.
    pub(super) fn with<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let mut guard = self
            .slots
            .iter()
            .find_map(|slot| slot.try_lock().ok())
            .unwrap_or_else(|| {
                let i = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
                self.slots[i].lock().unwrap_or_else(|e| e.into_inner())
            });
        if guard.is_none() {
            *guard = Some(self.open()?);
        }
        f(guard.as_ref().expect("reader opened above"))
    }

    fn open(&self) -> Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        conn.busy_timeout(self.busy_timeout)?;
        conn.pragma_update(None, "mmap_size", self.mmap_bytes)?;
        conn.pragma_update(None, "cache_size", -READER_CACHE_KIB)?;
        tracing::debug!(path = %self.path.display(), "sqlite reader opened");
        Ok(conn)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::super::SqliteStorage;
    use crate::storage::graph::{Entity, GraphStorage};
    use crate::storage::tests::temp;

    #[test]
    fn a_read_sees_what_the_writer_committed() {
        let s = SqliteStorage::open(&temp("readers-commit"), "").unwrap();
        assert!(s.node_names().unwrap().is_empty());
        s.nodes_upsert(&[Entity::new("Alice")]).unwrap();
        assert_eq!(s.node_names().unwrap(), ["Alice"]);
        assert_eq!(s.node_get("Alice").unwrap().unwrap().name, "Alice");
    }

    #[test]
    fn a_read_does_not_wait_for_an_open_write() {
        let s = std::sync::Arc::new(SqliteStorage::open(&temp("readers-busy"), "").unwrap());
        s.nodes_upsert(&[Entity::new("Alice")]).unwrap();
        // The writer is held, mid-transaction, for as long as the read takes.
        let mut writer = s.conn.lock().unwrap();
        let tx = writer.transaction().unwrap();
        tx.execute(
            "INSERT INTO graph_nodes (workspace, name, data) VALUES ('', 'Bob', '{}')",
            [],
        )
        .unwrap();
        let (done, names) = mpsc::channel();
        let reader = std::sync::Arc::clone(&s);
        std::thread::spawn(move || done.send(reader.node_names().unwrap()));
        // A deadline against a hang, not a measurement: the read needs no writer at all.
        let seen = names
            .recv_timeout(Duration::from_secs(60))
            .expect("the read waited for the writer");
        assert_eq!(seen, ["Alice"], "an uncommitted write is not visible");
        tx.commit().unwrap();
        drop(writer);
        assert_eq!(s.node_names().unwrap(), ["Alice", "Bob"]);
    }

    #[test]
    fn readers_refuse_writes() {
        let s = SqliteStorage::open(&temp("readers-readonly"), "").unwrap();
        let refused = s.read(|conn, _| Ok(conn.execute("DELETE FROM graph_nodes", []).is_err()));
        assert!(refused.unwrap());
    }
}
