//! Drives the engine's document pipeline in this worker: every worker polls the document
//! store briefly, and for each workspace with work the engine's runner either wins the
//! workspace's claim and processes it on a blocking thread, or leaves it to the worker
//! that holds it. The workspaces this worker has open are visited too, so that a
//! deletion interrupted by a crash is finished.
//!
//! A worker that records documents itself (an insert, an upload, a scan, a retry) wakes
//! its loop at once through [`App::pipeline_wake`]; the poll is for documents another
//! worker or node recorded, and for work a crash left. A wake during a run is kept
//! and starts the next run straight after it (documents recorded meanwhile are taken
//! by the running one anyway, which looks again before it finishes).

use std::sync::Arc;
use std::time::Duration;

use lightrag_engine::documents;

use crate::app::App;
use crate::open_workspaces::OpenError;

/// How often an idle worker looks for documents it was not told about.
const POLL: Duration = Duration::from_millis(500);

/// Starts the worker's pipeline loop on the runtime.
pub fn spawn(app: Arc<App>) {
    tokio::spawn(async move {
        loop {
            let app_for_run = app.clone();
            let outcome = tokio::task::spawn_blocking(move || run_workspaces(&app_for_run)).await;
            if let Ok(Err(e)) = outcome {
                lightrag_engine::log_unless_outage!(error, &e, error = %e, "pipeline run failed");
            }
            tokio::select! {
                () = tokio::time::sleep(POLL) => {}
                () = app.pipeline_wake.notified() => {}
            }
        }
    });
}

fn run_workspaces(app: &App) -> lightrag_engine::storage::Result<()> {
    app.close_idle_workspaces();
    let mut visited = std::collections::BTreeSet::new();
    for ws in app
        .open_workspaces()
        .iter()
        .filter_map(std::sync::Weak::upgrade)
    {
        visited.insert(ws.name.clone());
        run(app, &ws);
    }
    for name in documents::workspaces_with_work(&*app.default_workspace.storage)? {
        if !visited.insert(name.clone()) {
            continue;
        }
        match app.workspace(&name) {
            Ok(ws) => run(app, &ws),
            Err(OpenError::Storage(error)) => {
                lightrag_engine::log_unless_outage!(error, &error, workspace = %name, %error, "workspace cannot be opened");
            }
            Err(error) => tracing::error!(workspace = %name, %error, "workspace cannot be opened"),
        }
    }
    Ok(())
}

fn run(app: &App, ws: &lightrag_engine::workspace::Workspace) {
    if let Err(error) = app.pipeline.run(ws) {
        lightrag_engine::log_unless_outage!(error, &error, worker = app.worker_id, workspace = %ws.name, %error, "pipeline run failed");
    }
}
