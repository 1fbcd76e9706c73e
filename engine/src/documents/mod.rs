//! The document lifecycle, from acceptance to deletion, with no HTTP in it.
//!
//! - [`intake`]: admission control and the one-document-per-name reservation.
//! - [`runner`]: the pipeline that parses, chunks, extracts and merges documents, one
//!   run per workspace across every process.
//! - [`merger`]: the run's merges, documents batched as they finish extracting.
//! - [`deletion`]: deleting documents all-or-nothing, resumed after a crash.
//! - [`maintenance`]: clearing, retrying failed documents, cancellation, status.
//! - [`scan`]: queueing the files dropped into a workspace's input directory.
//! - [`input_files`]: the files waiting in a workspace's input directory.
//! - [`input_store`]: where they wait for a pipeline that may run on another node.
//!
//! Statuses and records are typed in [`crate::storage`] (`DocStatus`, `FullDoc`);
//! what processes must agree on goes through [`crate::coordination`].

pub mod deletion;
pub mod input_files;
pub mod input_store;
pub mod intake;
pub mod maintenance;
mod merger;
pub mod runner;
pub mod scan;

pub use deletion::DeletionRequest;
pub use intake::{Incoming, IntakeError};
pub use runner::{IndexingConfig, Pipeline, workspaces_with_work};
