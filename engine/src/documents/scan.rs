//! Scanning a workspace's input directory: every file is classified (unsupported name,
//! already processed and so archived, already queued, new), the new ones are queued as
//! pending documents, and failed documents get another run.

use std::collections::BTreeMap;

use crate::ids;
use crate::storage::{DocStatus, FullDoc};
use crate::workspace::Workspace;

use super::intake::{self, Incoming, IntakeError};
use super::{input_files, maintenance};

/// What one scan found and did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ScanReport {
    /// LightRAG's counters: `discovered`, `skipped_unsupported`, `already_processed`,
    /// `already_queued`, `enqueued`, `retried_failed`.
    pub counts: BTreeMap<&'static str, usize>,
    /// Files skipped or not archived, with the reason.
    pub warnings: Vec<String>,
    /// Canonical names of the files queued.
    pub queued: Vec<String>,
}

/// Scans `ws`'s input directory and queues what is new under `track_id`.
pub fn scan(ws: &Workspace, track_id: &str) -> Result<ScanReport, IntakeError> {
    let dir = &ws.input_dir;
    let mut report = ScanReport::default();
    let mut new = Vec::new();
    for name in input_files::list(dir) {
        let mut count = |key| *report.counts.entry(key).or_insert(0) += 1;
        count("discovered");
        let input_files::Named {
            canonical,
            chunking,
        } = match input_files::read_name(&name) {
            Ok(named) => named,
            Err(refusal) => {
                count("skipped_unsupported");
                report.warnings.push(format!("{name}: {refusal}"));
                continue;
            }
        };
        match ws.storage.doc_get(&ids::doc_id_for_source(&canonical))? {
            Some(doc) if doc.status == DocStatus::Processed => {
                count("already_processed");
                if let Err(e) = input_files::archive(dir, &name) {
                    report.warnings.push(format!("{name}: not archived: {e}"));
                }
            }
            Some(_) => count("already_queued"),
            None => {
                count("enqueued");
                ws.inputs.publish(&name)?;
                new.push(Incoming {
                    full_doc: FullDoc::file(name, canonical.clone(), chunking),
                    source: canonical,
                });
            }
        }
    }
    intake::accept(ws, 0, track_id, &new)?;
    report.queued = new.into_iter().map(|d| d.source).collect();
    let retried = maintenance::retry_failed(ws)?;
    report.counts.insert("retried_failed", retried);
    tracing::info!(workspace = %ws.name, track_id, queued = report.queued.len(), retried, "scan completed");
    Ok(report)
}
