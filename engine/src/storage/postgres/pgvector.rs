//! What the database's pgvector offers: the release's features we depend on, and the
//! refusal when the extension is missing.

use crate::storage::StorageError;

/// The pgvector release that has iterative index scans.
pub(super) const ITERATIVE_SCAN: (u32, u32) = (0, 8);
/// The first with `halfvec`.
pub(super) const HALFVEC: (u32, u32) = (0, 7);

pub(super) fn missing_extension(address: &str, why: &str) -> StorageError {
    StorageError::Refused {
        what: format!("PGVectorStorage at {address}"),
        reason: format!(
            "pgvector is missing: the `vector` extension is not installed in the database \
             and cannot be created ({why}); install pgvector and run CREATE EXTENSION vector"
        ),
    }
}

/// `0.8.2` → (0, 8).
pub(super) fn major_minor(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    Some((parts.next()??, parts.next().flatten().unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_by_release() {
        assert_eq!(major_minor("0.8.2"), Some((0, 8)));
        assert_eq!(major_minor("0.10"), Some((0, 10)));
        assert!(major_minor("0.7.4").unwrap() < ITERATIVE_SCAN);
        assert!(major_minor("0.8.0").unwrap() >= ITERATIVE_SCAN);
        assert_eq!(major_minor("x"), None);
    }
}
