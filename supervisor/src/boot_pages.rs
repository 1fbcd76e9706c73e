//! Unmapping the executable's pages that only start-up used.
//!
//! A process maps a page of its executable when it first runs or reads it, and the
//! kernel maps the cached pages around it as well (64 KiB at a time). Code and read-only
//! data used once, to parse the configuration, open and migrate the store or build the
//! router, would stay mapped for the process's life and count in its RSS and PSS: about
//! a third of an idle worker's PSS. So once booted, the master (before its loop) and
//! each worker (once Ready) drop their mappings of the executable's clean read-only
//! pages with `MADV_DONTNEED`. What runs afterwards is mapped again by a minor fault,
//! from the page cache, where the pages stay; the kernel may reclaim the ones no process
//! maps first when memory runs short.
//!
//! Nothing is lost: such a page holds exactly the file's bytes. A mapping that has pages
//! of its own (the relocated RELRO the loader wrote, a debugger's breakpoint) is left
//! alone, as is every writable one. Only Linux has `/proc/self/smaps`; elsewhere, or if
//! it cannot be read, nothing is dropped.

use std::io::{BufRead, BufReader};
use std::ops::Range;

/// One mapping of `/proc/self/smaps`, with what decides whether it may be dropped.
#[derive(Debug, PartialEq, Eq)]
struct Mapping {
    range: Range<usize>,
    perms: String,
    /// The backing file's device and inode, as smaps spells them.
    file: String,
    /// KiB of pages this process has of its own in the mapping (copy-on-write copies).
    anonymous_kib: u64,
}

/// Drops this process's mappings of its executable's clean read-only pages.
pub fn release() {
    let Ok(smaps) = std::fs::File::open("/proc/self/smaps") else {
        return;
    };
    let lines = BufReader::new(smaps).lines().map_while(Result::ok);
    let own_code = release as fn() as usize;
    let mut kib = 0;
    for range in droppable(&mappings(lines), own_code) {
        let len = range.end - range.start;
        // SAFETY: the range is a whole mapping of the executable that is not writable
        // and has no page of its own, so its contents are the file's: the next access
        // maps the same bytes again.
        if unsafe { libc::madvise(range.start as *mut libc::c_void, len, libc::MADV_DONTNEED) } == 0
        {
            kib += len / 1024;
        }
    }
    tracing::debug!(
        mapped_kib = kib,
        "dropped the start-up mappings of the executable"
    );
}

/// The mappings listed in smaps `lines`.
fn mappings(lines: impl Iterator<Item = String>) -> Vec<Mapping> {
    let mut all: Vec<Mapping> = Vec::new();
    for line in lines {
        let mut fields = line.split_whitespace();
        let Some(first) = fields.next() else {
            continue;
        };
        if let Some(key) = first.strip_suffix(':') {
            if key == "Anonymous"
                && let (Some(last), Some(kib)) = (all.last_mut(), fields.next())
            {
                last.anonymous_kib = kib.parse().unwrap_or(u64::MAX);
            }
            continue;
        }
        let Some(range) = first.split_once('-').and_then(|(start, end)| {
            Some(usize::from_str_radix(start, 16).ok()?..usize::from_str_radix(end, 16).ok()?)
        }) else {
            continue;
        };
        let (perms, _offset, dev, inode) =
            (fields.next(), fields.next(), fields.next(), fields.next());
        all.push(Mapping {
            range,
            perms: perms.unwrap_or_default().to_owned(),
            file: format!("{} {}", dev.unwrap_or_default(), inode.unwrap_or("0")),
            // Unknown until its Anonymous line says otherwise.
            anonymous_kib: u64::MAX,
        });
    }
    all
}

/// The mappings of the file that holds `own_code` that are read-only, private and have
/// no page of their own.
fn droppable(mappings: &[Mapping], own_code: usize) -> Vec<Range<usize>> {
    let Some(executable) = mappings
        .iter()
        .find(|m| m.range.contains(&own_code))
        .map(|m| &m.file)
    else {
        return Vec::new();
    };
    mappings
        .iter()
        .filter(|m| {
            &m.file == executable
                && m.perms.starts_with('r')
                && !m.perms.contains('w')
                && m.perms.ends_with('p')
                && m.anonymous_kib == 0
        })
        .map(|m| m.range.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
00200000-00f2a000 r--p 00000000 fe:00 42                                 /usr/bin/lightrag-master
Rss:                1088 kB
Anonymous:             0 kB
00f2a000-0223b000 r-xp 00d29000 fe:00 42                                 /usr/bin/lightrag-master
Rss:                8832 kB
Anonymous:             0 kB
VmFlags: rd ex mr mw me
0223b000-0232c000 r--p 02039000 fe:00 42                                 /usr/bin/lightrag-master
Anonymous:            24 kB
0232c000-02336000 rw-p 0212a000 fe:00 42                                 /usr/bin/lightrag-master
Anonymous:            40 kB
7f0000000000-7f0000170000 r-xp 00028000 fe:00 77                         /usr/lib/libc.so.6
Anonymous:             0 kB
7f0000200000-7f0000201000 r--p 00000000 fe:00 42                         /usr/bin/lightrag-master
";

    fn listed() -> Vec<Mapping> {
        mappings(SMAPS.lines().map(str::to_owned))
    }

    #[test]
    fn smaps_lines_become_mappings_with_their_own_pages() {
        let all = listed();
        assert_eq!(all.len(), 6);
        assert_eq!(all[1].range, 0x00f2_a000..0x0223_b000);
        assert_eq!(all[1].perms, "r-xp");
        assert_eq!(all[1].file, "fe:00 42");
        assert_eq!(all[2].anonymous_kib, 24);
        assert_eq!(all[5].anonymous_kib, u64::MAX, "no Anonymous line: unknown");
    }

    /// Code and read-only data of the executable go; the relocated RELRO (pages of its
    /// own), the writable data, other files and a mapping of unknown state stay.
    #[test]
    fn only_the_executables_clean_read_only_mappings_are_dropped() {
        assert_eq!(
            droppable(&listed(), 0x0100_0000),
            [0x0020_0000..0x00f2_a000, 0x00f2_a000..0x0223_b000]
        );
        assert_eq!(droppable(&listed(), 0x10), [], "code outside every mapping");
    }

    /// The process goes on running what it dropped, and maps less of its code after.
    #[test]
    fn a_process_runs_on_after_dropping_its_start_up_pages() {
        let resident_code_kib = || {
            let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
            let own = release as fn() as usize;
            let mut lines = smaps.lines().skip_while(|l| {
                let range = l.split_whitespace().next().and_then(|r| r.split_once('-'));
                !range.is_some_and(|(a, b)| {
                    let hex = |s| usize::from_str_radix(s, 16).unwrap_or(0);
                    (hex(a)..hex(b)).contains(&own)
                })
            });
            lines.next().expect("the mapping of this code");
            let rss = lines.find(|l| l.starts_with("Rss:")).unwrap();
            rss.split_whitespace()
                .nth(1)
                .unwrap()
                .parse::<u64>()
                .unwrap()
        };
        let before = resident_code_kib();
        release();
        let after = resident_code_kib();
        assert!(after < before, "{after} KiB mapped after, {before} before");
    }
}
