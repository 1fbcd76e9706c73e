//! Platform checks that must pass before the first fork.
//!
//! On macOS, Objective-C runtime state initialised before `fork` crashes the child
//! unless `OBJC_DISABLE_INITIALIZE_FORK_SAFETY=YES`, and the DOCLING document loader is
//! not fork-safe at all. The check is a pure function of the platform, the worker count
//! and the environment, so its macOS cases run as unit tests on Linux.

/// The platform the check reasons about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    MacOs,
    Other,
}

impl Os {
    pub fn current() -> Os {
        if cfg!(target_os = "macos") {
            Os::MacOs
        } else {
            Os::Other
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForkSafetyError {
    #[error(
        "DOCUMENT_LOADING_ENGINE=DOCLING is not fork-safe on macOS with more than one worker: \
         set WORKERS=1 or choose another DOCUMENT_LOADING_ENGINE"
    )]
    Docling,
    #[error(
        "on macOS with more than one worker, set OBJC_DISABLE_INITIALIZE_FORK_SAFETY=YES \
         in the environment before starting (or set WORKERS=1)"
    )]
    ObjcForkSafety,
}

/// Refuses configurations that would crash forked workers. `env` looks a variable up
/// in the process environment and `.env`.
pub fn check(
    os: Os,
    workers: usize,
    env: impl Fn(&str) -> Option<String>,
) -> Result<(), ForkSafetyError> {
    if os != Os::MacOs || workers <= 1 {
        return Ok(());
    }
    if env("DOCUMENT_LOADING_ENGINE").is_some_and(|v| v.eq_ignore_ascii_case("DOCLING")) {
        return Err(ForkSafetyError::Docling);
    }
    if env("OBJC_DISABLE_INITIALIZE_FORK_SAFETY").as_deref() != Some("YES") {
        return Err(ForkSafetyError::ObjcForkSafety);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn linux_and_single_worker_always_pass() {
        assert_eq!(
            check(Os::Other, 8, env(&[("DOCUMENT_LOADING_ENGINE", "DOCLING")])),
            Ok(())
        );
        assert_eq!(
            check(Os::MacOs, 1, env(&[("DOCUMENT_LOADING_ENGINE", "DOCLING")])),
            Ok(())
        );
    }

    #[test]
    fn macos_refuses_docling_with_several_workers() {
        let e = env(&[
            ("DOCUMENT_LOADING_ENGINE", "docling"),
            ("OBJC_DISABLE_INITIALIZE_FORK_SAFETY", "YES"),
        ]);
        let err = check(Os::MacOs, 2, e).unwrap_err();
        assert_eq!(err, ForkSafetyError::Docling);
        assert!(err.to_string().contains("WORKERS=1"));
    }

    #[test]
    fn macos_requires_objc_fork_safety_off() {
        let err = check(Os::MacOs, 4, env(&[])).unwrap_err();
        assert!(
            err.to_string()
                .contains("OBJC_DISABLE_INITIALIZE_FORK_SAFETY=YES")
        );
        let no = env(&[("OBJC_DISABLE_INITIALIZE_FORK_SAFETY", "NO")]);
        assert_eq!(
            check(Os::MacOs, 4, no),
            Err(ForkSafetyError::ObjcForkSafety)
        );
        let yes = env(&[("OBJC_DISABLE_INITIALIZE_FORK_SAFETY", "YES")]);
        assert_eq!(check(Os::MacOs, 4, yes), Ok(()));
    }
}
