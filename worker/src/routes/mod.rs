//! The HTTP routes. Each API area gets its own module; unknown paths and methods answer
//! in LightRAG's JSON shape.

mod health;
#[cfg(feature = "testing")]
mod testing;

use axum::Router;
use lightrag_supervisor::WorkerContext;

use crate::error;

/// Why the application could not be built (the worker then exits with APP_LOAD_ERROR).
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[cfg(feature = "testing")]
    #[error("boot failure requested by the test-boot-exit file")]
    InjectedFailure,
}

pub fn router(ctx: &WorkerContext) -> Result<Router, AppError> {
    let router = Router::new().merge(health::routes());
    #[cfg(feature = "testing")]
    let router = router.merge(testing::routes(ctx)?);
    #[cfg(not(feature = "testing"))]
    let _ = ctx;
    Ok(router
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed))
}
