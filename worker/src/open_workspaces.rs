//! The workspaces one worker has open, by name, and their bound: each holds a store
//! connection and vector caches, and a request header can name any number of them.
//! So a workspace nobody uses is closed: after [`IDLE`] without a request, or sooner
//! when the table is full and another is asked for. One in use (a request or a
//! pipeline run holds it, or its pipeline runs in any worker) is never closed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use lightrag_engine::storage::StorageError;
use lightrag_engine::workspace::Workspace;

/// Workspaces one worker keeps open at most: each holds a store connection and vector
/// caches, and a header can name any number of them.
pub const MAX_OPEN: usize = 256;

/// How long a workspace stays open without a request.
pub const IDLE: Duration = Duration::from_secs(300);

struct Open {
    ws: Arc<Workspace>,
    used: Instant,
}

impl Open {
    /// Whether something holds it besides this table, or its pipeline runs.
    fn in_use(&self) -> bool {
        Arc::strong_count(&self.ws) > 1 || self.ws.pipeline_busy()
    }
}

/// The workspaces this worker has opened, by name.
#[derive(Default)]
pub struct Workspaces {
    open: Mutex<HashMap<String, Open>>,
}

impl Workspaces {
    pub fn get_or_open(
        &self,
        name: &str,
        open: impl FnOnce() -> Result<Workspace, StorageError>,
    ) -> Result<Arc<Workspace>, OpenError> {
        let mut map = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if let Some(entry) = map.get_mut(name) {
            entry.used = now;
            return Ok(entry.ws.clone());
        }
        if map.len() >= MAX_OPEN {
            close_idle(&mut map, now, IDLE);
        }
        if map.len() >= MAX_OPEN {
            // Full of recently used ones: the least recently used one not in use goes.
            let lru = map
                .iter()
                .filter(|(_, entry)| !entry.in_use())
                .min_by_key(|(_, entry)| entry.used)
                .map(|(name, _)| name.clone())
                .ok_or(OpenError::TooMany)?;
            map.remove(&lru);
            tracing::info!(workspace = %lru, "workspace closed to open another");
        }
        let ws = Arc::new(open()?);
        map.insert(
            name.to_owned(),
            Open {
                ws: ws.clone(),
                used: now,
            },
        );
        tracing::info!(workspace = %name, "workspace opened");
        Ok(ws)
    }

    /// Closes the workspaces idle for longer than [`IDLE`].
    pub fn close_idle(&self) {
        let mut map = self.open.lock().unwrap_or_else(|e| e.into_inner());
        close_idle(&mut map, Instant::now(), IDLE);
    }

    /// The workspaces opened so far, weakly: a visitor upgrades one at a time, so that
    /// a walk over all of them does not hold them all in use (and fill the table).
    pub fn all(&self) -> Vec<Weak<Workspace>> {
        let map = self.open.lock().unwrap_or_else(|e| e.into_inner());
        map.values()
            .map(|entry| Arc::downgrade(&entry.ws))
            .collect()
    }
}

fn close_idle(map: &mut HashMap<String, Open>, now: Instant, idle: Duration) {
    map.retain(|name, entry| {
        let keep = now.duration_since(entry.used) < idle || entry.in_use();
        if !keep {
            tracing::info!(workspace = %name, "idle workspace closed");
        }
        keep
    });
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("More than {MAX_OPEN} workspaces are in use; this one cannot be opened")]
    TooMany,
}

#[cfg(test)]
mod tests {
    use lightrag_engine::storage::StorageConfig;

    use super::*;
    use crate::arena::coordination::ArenaCoordination;
    use crate::arena::{SharedRegion, init_shared};

    #[test]
    fn idle_workspaces_make_room_and_used_ones_stay() {
        let arena = lightrag_supervisor::Arena::map(std::process::id() as i32).unwrap();
        init_shared(arena.app_region()).unwrap();
        let coordination = Arc::new(ArenaCoordination::new(SharedRegion::of(arena.app_region())));
        let dir = std::env::temp_dir().join(format!("lrm-open-{}", std::process::id()));
        let config = StorageConfig::embedded(dir.clone());
        let table = Workspaces::default();
        let open = |name: &str| {
            table.get_or_open(name, || {
                Workspace::open(&config, coordination.clone(), &dir, name)
            })
        };
        let held = open("held").unwrap();
        for i in 0..MAX_OPEN * 2 {
            open(&format!("w{i}")).unwrap();
        }
        assert_eq!(table.all().len(), MAX_OPEN);
        assert!(
            Arc::ptr_eq(&held, &open("held").unwrap()),
            "a workspace a request holds stays open"
        );
        let mut map = table.open.lock().unwrap();
        close_idle(&mut map, Instant::now(), Duration::ZERO);
        assert_eq!(map.keys().collect::<Vec<_>>(), ["held"]);
        drop(map);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
