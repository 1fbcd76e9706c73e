//! What the processes serving one deployment coordinate through.
//!
//! The engine runs in many processes at once (the workers of a node, and in time several
//! nodes). Whatever they must agree on reaches it through the traits here, never through
//! a concrete mechanism: the worker crate implements them on the shared-memory arena
//! (one node), and a database-backed implementation (PostgreSQL advisory locks and
//! rows, Redis leases) plugs in beside it without any change to the engine.
//!
//! - [`Coordination`]: per workspace, the pipeline claim with its fencing token, the
//!   pipeline-status board, and the change counters that tell caches to reload.
//! - [`Permits`]: how many model calls of one role may be in flight (MAX_ASYNC).
//! - [`LoginThrottle`] and [`Renewals`]: the login lockout and the token-renewal rate,
//!   held across every process so that N workers do not allow N times as much.

use std::net::IpAddr;
use std::sync::Arc;

use crate::llm::BoxFuture;
pub use crate::storage::{Generations, LocalGenerations};

/// The workspace's pipeline, held until dropped (a panic under it releases it too).
///
/// Its token is fencing: a holder that lost its claim (declared dead, taken over) sees
/// [`PipelineClaim::still_held`] turn false and must stop writing.
pub trait PipelineClaim: Send + Sync {
    /// Strictly larger for every new claim of the same workspace.
    fn token(&self) -> u64;
    /// Whether this claim is still the workspace's current one.
    fn still_held(&self) -> bool;
}

/// A held claim; dropping it releases the pipeline.
pub type Claim = Box<dyn PipelineClaim>;

/// A copy of a workspace's pipeline status, as `/documents/pipeline_status` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub busy: bool,
    pub cancellation_requested: bool,
    pub job_name: String,
    pub job_start: Option<i64>,
    pub docs: u32,
    pub batchs: u32,
    pub cur_batch: u32,
    pub latest_message: String,
    /// Oldest first.
    pub history_messages: Vec<String>,
}

/// LightRAG's `pipeline_status` of one workspace, identical from every process.
pub trait StatusBoard: Send + Sync {
    /// A job starts: busy, with its name and document count (`now` in epoch seconds).
    fn start(&self, job_name: &str, docs: usize, now: i64);
    fn progress(&self, cur_batch: usize);
    fn message(&self, message: &str);
    /// The job ended (busy and cancellation cleared).
    fn finish(&self);
    /// Asks the running job to stop; false when nothing runs.
    fn request_cancel(&self) -> bool;
    fn cancellation_requested(&self) -> bool;
    /// Whether a job runs, without copying the rest (`/health` asks on every poll).
    fn busy(&self) -> bool;
    fn snapshot(&self) -> Snapshot;
}

/// Per-workspace coordination.
pub trait Coordination: Send + Sync {
    /// Takes `workspace`'s pipeline for this process unless a live holder has it (this
    /// process included); a dead holder's claim is taken over.
    fn claim(&self, workspace: &str) -> Option<Claim>;
    /// Whether a live holder has `workspace`'s pipeline.
    fn pipeline_busy(&self, workspace: &str) -> bool;
    /// The pipeline-status board of `workspace`.
    fn board(&self, workspace: &str) -> Arc<dyn StatusBoard>;
    /// The change counters of `workspace`'s vector namespaces: any process's write moves
    /// them, and every cache over them reloads.
    fn generations(&self, workspace: &str) -> Arc<dyn Generations>;
}

/// A permit for one model call, given back when dropped.
pub type Permit = Box<dyn Send + Sync>;

/// The model-call limit of one role across every process.
pub trait Permits: Send + Sync {
    /// Waits for one of the role's permits.
    fn acquire(&self) -> BoxFuture<'_, Permit>;
}

/// Too many failed logins: retry after this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    pub retry_after_secs: u64,
}

/// Failed logins counted per client and user name across every process.
///
/// An attempt is counted as a failure before its password is verified, in the same step
/// that checks the limit: concurrent attempts cannot all pass the check while the first
/// ones are still being verified.
pub trait LoginThrottle: Send + Sync {
    /// Takes one attempt for `client`/`username`, counted as a failure until
    /// [`LoginThrottle::record_success`]; refuses once the window's failures are used up
    /// (or, conservatively, when no record can be kept for it).
    fn reserve(&self, client: IpAddr, username: &str) -> Result<(), Locked>;
    /// The reserved attempt succeeded: clears the record.
    fn record_success(&self, client: IpAddr, username: &str);
}

/// "At most one token renewal per user per interval", across every process.
pub trait Renewals: Send + Sync {
    /// True for exactly one caller per user per interval.
    fn try_claim(&self, username: &str) -> bool;
}

/// A limit kept in memory shared for the process's lifetime (the arena's table).
impl<T: Renewals + ?Sized> Renewals for &T {
    fn try_claim(&self, username: &str) -> bool {
        (**self).try_claim(username)
    }
}
