//! LightRAG's `pipeline_status`, shared by every worker through the arena, so
//! `/documents/pipeline_status` and `/health` answer the same whichever worker is asked.
//! Fixed-size fields behind a robust mutex (a worker killed while updating it cannot
//! wedge the others); messages are truncated to their slots and the history is a ring.

use lightrag_engine::coordination::{Snapshot, StatusBoard};
use lightrag_supervisor::robust_mutex::RobustMutex;

const JOB_NAME: usize = 128;
const MESSAGE: usize = 512;
const HISTORY: usize = 64;

#[derive(Clone, Copy)]
#[repr(C)]
struct Text<const N: usize> {
    len: u16,
    bytes: [u8; N],
}

impl<const N: usize> Text<N> {
    const EMPTY: Self = Text {
        len: 0,
        bytes: [0; N],
    };

    fn set(&mut self, s: &str) {
        let mut end = s.len().min(N);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.bytes[..end].copy_from_slice(&s.as_bytes()[..end]);
        self.len = end as u16;
    }

    fn get(&self) -> String {
        String::from_utf8_lossy(&self.bytes[..usize::from(self.len).min(N)]).into_owned()
    }
}

#[repr(C)]
pub struct PipelineState {
    busy: bool,
    cancellation_requested: bool,
    job_name: Text<JOB_NAME>,
    /// Epoch seconds; 0 when no job ran yet.
    job_start: i64,
    docs: u32,
    batchs: u32,
    cur_batch: u32,
    latest_message: Text<MESSAGE>,
    history: [Text<MESSAGE>; HISTORY],
    /// Messages ever recorded; the ring holds the last `HISTORY`.
    recorded: u64,
}

impl PipelineState {
    pub const EMPTY: PipelineState = PipelineState {
        busy: false,
        cancellation_requested: false,
        job_name: Text::EMPTY,
        job_start: 0,
        docs: 0,
        batchs: 0,
        cur_batch: 0,
        latest_message: Text::EMPTY,
        history: [Text::EMPTY; HISTORY],
        recorded: 0,
    };
}

pub struct PipelineStatus {
    state: &'static RobustMutex<PipelineState>,
}

impl PipelineStatus {
    pub fn new(state: &'static RobustMutex<PipelineState>) -> Self {
        PipelineStatus { state }
    }

    fn with<T>(&self, f: impl FnOnce(&mut PipelineState) -> T) -> Option<T> {
        match self.state.lock() {
            Ok(mut guard) => Some(f(&mut guard)),
            Err(e) => {
                tracing::error!(error = %e, "pipeline status unusable");
                None
            }
        }
    }
}

impl StatusBoard for PipelineStatus {
    /// A run starts: busy, with its job name and document count.
    fn start(&self, job_name: &str, docs: usize, now: i64) {
        self.with(|s| {
            s.busy = true;
            s.cancellation_requested = false;
            s.job_name.set(job_name);
            s.job_start = now;
            s.docs = docs as u32;
            s.batchs = docs as u32;
            s.cur_batch = 0;
        });
    }

    fn progress(&self, cur_batch: usize) {
        self.with(|s| s.cur_batch = cur_batch as u32);
    }

    fn message(&self, message: &str) {
        self.with(|s| {
            s.latest_message.set(message);
            let slot = (s.recorded % HISTORY as u64) as usize;
            s.history[slot].set(message);
            s.recorded += 1;
        });
    }

    /// Asks the running job to stop; false when nothing runs.
    fn request_cancel(&self) -> bool {
        self.with(|s| {
            if s.busy {
                s.cancellation_requested = true;
            }
            s.busy
        })
        .unwrap_or(false)
    }

    /// Whether a run is going, without copying the rest (`/health` asks on every poll).
    fn busy(&self) -> bool {
        self.with(|s| s.busy).unwrap_or(false)
    }

    fn cancellation_requested(&self) -> bool {
        self.with(|s| s.cancellation_requested).unwrap_or(false)
    }

    fn finish(&self) {
        self.with(|s| {
            s.busy = false;
            s.cancellation_requested = false;
        });
    }

    fn snapshot(&self) -> Snapshot {
        self.with(|s| {
            let kept = s.recorded.min(HISTORY as u64) as usize;
            let first = s.recorded as usize - kept;
            Snapshot {
                busy: s.busy,
                cancellation_requested: s.cancellation_requested,
                job_name: s.job_name.get(),
                job_start: (s.job_start != 0).then_some(s.job_start),
                docs: s.docs,
                batchs: s.batchs,
                cur_batch: s.cur_batch,
                latest_message: s.latest_message.get(),
                history_messages: (first..first + kept)
                    .map(|i| s.history[i % HISTORY].get())
                    .collect(),
            }
        })
        .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lightrag_supervisor::Arena;

    #[test]
    fn status_is_shared_truncated_and_bounded() {
        let arena = Arena::map(std::process::id() as i32).unwrap();
        crate::arena::init_shared(arena.app_region()).unwrap();
        let status = PipelineStatus::new(
            crate::arena::SharedRegion::of(arena.app_region()).pipeline_status(""),
        );
        assert!(!status.busy());
        status.start("Default Job", 3, 1_795_674_000);
        for i in 0..100 {
            status.message(&format!("message {i}"));
        }
        status.message(&"é".repeat(400));
        let s = status.snapshot();
        assert!(s.busy);
        assert_eq!((s.docs, s.job_start), (3, Some(1_795_674_000)));
        assert_eq!(s.history_messages.len(), HISTORY);
        assert_eq!(s.history_messages[0], "message 37");
        assert_eq!(
            s.latest_message.chars().count(),
            256,
            "cut on a char boundary"
        );
        assert!(status.request_cancel());
        assert!(status.cancellation_requested());
        status.finish();
        assert!(!status.snapshot().busy);
        assert!(!status.request_cancel(), "nothing to cancel");
    }
}
