//! SQLite's page-cache setting for the whole process, applied before its first
//! connection.
//!
//! By default each connection's page cache, on its first read, allocates room for 20
//! pages at once (about 86 KiB) and writes a header into every one, so each page of it
//! is resident at once: an idle worker's writer and reader held 170 KiB that reads
//! through the memory map never fill. Without that bulk allocation a cache line is
//! allocated when a page is first cached, as SQLite does past the 20 anyway.

use std::ffi::{c_int, c_void};
use std::sync::Once;

use rusqlite::ffi;

/// Turns the bulk allocation off, once per process. SQLite accepts the setting only
/// before it initialises (on the first connection); after that this changes nothing.
pub(super) fn configure() {
    static APPLIED: Once = Once::new();
    APPLIED.call_once(|| {
        // SAFETY: SQLITE_CONFIG_PAGECACHE takes (void *, int, int); a null buffer and 0
        // lines mean "no bulk allocation". It runs before this process opens a
        // connection through the storage; if SQLite is initialised already it answers
        // SQLITE_MISUSE and changes nothing.
        let rc = unsafe {
            ffi::sqlite3_config(
                ffi::SQLITE_CONFIG_PAGECACHE,
                std::ptr::null_mut::<c_void>(),
                0 as c_int,
                0 as c_int,
            )
        };
        if rc != ffi::SQLITE_OK {
            tracing::debug!(
                rc,
                "SQLite was initialised already: page cache left as it is"
            );
        }
    });
}
