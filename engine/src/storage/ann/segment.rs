//! One namespace's HNSW index on disk, `<namespace>.hnsw`: an immutable file that every
//! worker maps read-only, so its vectors and graph live once in the page cache however
//! many workers search it. A writer never changes a published file: it writes the next
//! one beside it and renames it over (atomic on POSIX), so a reader maps either the old
//! file or the new one, never a torn mix; a reader keeps its old map (the inode lives
//! on) until the generation counter tells it to look again.
//!
//! The file says which store state it holds: the store's `epoch` (moved when a
//! namespace is dropped or replaced) and `seq`, the last change it includes; the
//! changes after `seq` are read from the store and searched exactly (see
//! [`super::Delta`]). Layout (native endian, every section 8-aligned):
//!
//! ```text
//! header   HEADER_BYTES: magic, version, dim, count, epoch, seq, entry, top level,
//!          then the byte offset of each section
//! vectors  count x dim f32, unit length
//! level0   count x (1 + 2M) u32: neighbour count, neighbours
//! uppers   count + 1 u32: where each node's upper-level records start (prefix sums)
//! upper    records of (1 + M) u32, node by node, level 1 first
//! dead     count u8: 1 for a node deleted or replaced since it was inserted
//! ids      count + 1 u64 offsets, then the UTF-8 bytes
//! metas    count + 1 u64 offsets, then the metadata as JSON text
//! order    count u32: the nodes sorted by id (for lookups by id)
//! ```

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::OnceLock;

use memmap2::Mmap;

use super::hnsw::{Layers, M};
use super::{AnnError, Result};

const MAGIC: [u8; 8] = *b"LRMHNSW\0";
const VERSION: u32 = 1;
const ENDIAN: u32 = 0x0102_0304;
const SECTIONS: usize = 10;
const HEADER_BYTES: usize = 64 + SECTIONS * 8;
const LEVEL0: usize = 1 + 2 * M;
const UPPER: usize = 1 + M;
const NO_LEVEL: u32 = u32::MAX;
/// Bytes of each id in the table a lookup by id searches first (see [`Prefixes`]).
const PREFIX: usize = 16;

/// The segment of namespace `ns` in the index directory `dir`.
pub fn path(dir: &Path, namespace: &str) -> std::path::PathBuf {
    dir.join(format!("{namespace}.hnsw"))
}

/// What a segment holds besides the graph.
pub struct Contents<'s> {
    pub epoch: u64,
    pub seq: u64,
    pub ids: Vec<&'s str>,
    pub metas: Vec<&'s str>,
    pub dead: Vec<bool>,
}

/// A published segment, mapped.
pub struct Segment {
    map: Mmap,
    dim: usize,
    count: usize,
    epoch: u64,
    seq: u64,
    entry: Option<(u32, usize)>,
    offsets: [usize; SECTIONS],
    /// The lookup table by id, built at the first lookup (see [`Prefixes`]).
    prefixes: OnceLock<Prefixes>,
}

/// The first `PREFIX` bytes of each id (zero-padded) in `order`'s order, and every
/// `FENCE`th of them. A step of a binary search over `order` reads three scattered
/// places of the map (the node, its offset, its bytes) and 100k ids take seventeen;
/// here the fences (a few kilobytes, cached) find the block, a search of the block's
/// contiguous prefixes finds the id's, and the map is read once, to compare the whole
/// id. A local query looks up hundreds of chunks' vectors in every segment.
struct Prefixes {
    all: Box<[[u8; PREFIX]]>,
    fences: Box<[[u8; PREFIX]]>,
}

/// Prefixes per block of the table.
const FENCE: usize = 64;

enum Section {
    Vectors,
    Level0,
    Uppers,
    Upper,
    Dead,
    IdOffsets,
    Ids,
    MetaOffsets,
    Metas,
    Order,
}

fn pad8(len: usize) -> usize {
    len.div_ceil(8) * 8
}

fn u32s(values: &[u32]) -> impl Iterator<Item = [u8; 4]> + '_ {
    values.iter().map(|v| v.to_ne_bytes())
}

/// Writes `graph` with `contents` to `path` (a temporary name; the caller renames it)
/// and syncs it to disk.
pub fn write(path: &Path, graph: &super::hnsw::Builder<'_>, contents: &Contents<'_>) -> Result<()> {
    let count = graph.len();
    let dim = graph.dim();
    let links = graph.links();
    let mut uppers = Vec::with_capacity(count + 1);
    uppers.push(0u32);
    for node in links {
        uppers.push(uppers.last().copied().unwrap_or(0) + node.len().saturating_sub(1) as u32);
    }
    let text_bytes = |parts: &[&str]| parts.iter().map(|p| p.len()).sum::<usize>();
    let sizes = [
        count * dim * 4,
        count * LEVEL0 * 4,
        (count + 1) * 4,
        *uppers.last().unwrap_or(&0) as usize * UPPER * 4,
        count,
        (count + 1) * 8,
        text_bytes(&contents.ids),
        (count + 1) * 8,
        text_bytes(&contents.metas),
        count * 4,
    ];
    let mut offsets = [0usize; SECTIONS];
    let mut at = HEADER_BYTES;
    for (offset, size) in offsets.iter_mut().zip(sizes) {
        *offset = at;
        at += pad8(size);
    }
    let total = at;

    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut header = Vec::with_capacity(HEADER_BYTES);
    header.extend(MAGIC);
    header.extend(VERSION.to_ne_bytes());
    header.extend(ENDIAN.to_ne_bytes());
    header.extend((dim as u64).to_ne_bytes());
    header.extend((count as u64).to_ne_bytes());
    header.extend(contents.epoch.to_ne_bytes());
    header.extend(contents.seq.to_ne_bytes());
    let (entry, top) = graph.entry().map_or((0, NO_LEVEL), |(e, t)| (e, t as u32));
    header.extend(entry.to_ne_bytes());
    header.extend(top.to_ne_bytes());
    header.extend((total as u64).to_ne_bytes());
    header.resize(64, 0);
    for offset in offsets {
        header.extend((offset as u64).to_ne_bytes());
    }
    out.write_all(&header)?;

    // Each section is streamed, then padded to the next multiple of 8.
    let pad =
        |out: &mut BufWriter<File>, size: usize| out.write_all(&[0u8; 8][..pad8(size) - size]);
    for node in 0..count as u32 {
        out.write_all(&bytes_of(
            graph.vector(node).iter().map(|x| x.to_ne_bytes()),
        ))?;
    }
    pad(&mut out, sizes[Section::Vectors as usize])?;
    let mut record = Vec::with_capacity(LEVEL0);
    for node in links {
        let level0 = node.first().map_or(&[][..], Vec::as_slice);
        put_record(&mut out, &mut record, level0, LEVEL0)?;
    }
    pad(&mut out, sizes[Section::Level0 as usize])?;
    out.write_all(&bytes_of(u32s(&uppers)))?;
    pad(&mut out, sizes[Section::Uppers as usize])?;
    for node in links {
        for level in node.iter().skip(1) {
            put_record(&mut out, &mut record, level, UPPER)?;
        }
    }
    pad(&mut out, sizes[Section::Upper as usize])?;
    out.write_all(
        &contents
            .dead
            .iter()
            .map(|&d| u8::from(d))
            .collect::<Vec<u8>>(),
    )?;
    pad(&mut out, count)?;
    for texts in [&contents.ids, &contents.metas] {
        let mut end = 0u64;
        let ends = std::iter::once(0).chain(texts.iter().map(|t| {
            end += t.len() as u64;
            end
        }));
        out.write_all(&bytes_of(ends.map(u64::to_ne_bytes)))?;
        for t in texts.iter() {
            out.write_all(t.as_bytes())?;
        }
        pad(&mut out, text_bytes(texts))?;
    }
    let mut order: Vec<u32> = (0..count as u32).collect();
    order.sort_by(|&a, &b| contents.ids[a as usize].cmp(contents.ids[b as usize]));
    out.write_all(&bytes_of(u32s(&order)))?;
    pad(&mut out, count * 4)?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    if file.metadata()?.len() != total as u64 {
        return Err(AnnError::Invalid(
            "segment written with a wrong length".into(),
        ));
    }
    file.sync_all()?;
    Ok(())
}

/// The first `PREFIX` bytes of `id`, zero-padded: `a <= b` implies
/// `prefix(a) <= prefix(b)`.
fn prefix(id: &[u8]) -> [u8; PREFIX] {
    let mut out = [0; PREFIX];
    let len = id.len().min(PREFIX);
    out[..len].copy_from_slice(&id[..len]);
    out
}

fn bytes_of<const N: usize>(items: impl Iterator<Item = [u8; N]>) -> Vec<u8> {
    items.flatten().collect()
}

/// Writes `links` as a fixed-size record: the count, the links, zeros up to `len`.
fn put_record(
    out: &mut BufWriter<File>,
    record: &mut Vec<u32>,
    links: &[u32],
    len: usize,
) -> std::io::Result<()> {
    record.clear();
    record.push(links.len() as u32);
    record.extend(links);
    record.resize(len, 0);
    out.write_all(&bytes_of(u32s(record)))
}

impl Segment {
    /// Maps the segment at `path`; `None` when there is none.
    pub fn open(path: &Path) -> Result<Option<Segment>> {
        let file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        // SAFETY: published segments are never written again (a new one is renamed over
        // the name), so the mapped bytes cannot change under the map.
        let map = unsafe { Mmap::map(&file)? };
        Segment::parse(map).map(Some)
    }

    fn parse(map: Mmap) -> Result<Segment> {
        let invalid = |why: &str| AnnError::Invalid(why.to_owned());
        if map.len() < HEADER_BYTES || map[..8] != MAGIC {
            return Err(invalid("not a segment"));
        }
        let u32_at = |at: usize| u32::from_ne_bytes(map[at..at + 4].try_into().unwrap_or([0; 4]));
        let u64_at = |at: usize| u64::from_ne_bytes(map[at..at + 8].try_into().unwrap_or([0; 8]));
        if u32_at(8) != VERSION || u32_at(12) != ENDIAN {
            return Err(invalid("another version or byte order"));
        }
        let dim = u64_at(16) as usize;
        let count = u64_at(24) as usize;
        let (entry, top) = (u32_at(48), u32_at(52));
        if u64_at(56) as usize != map.len() {
            return Err(invalid("truncated"));
        }
        let mut offsets = [0usize; SECTIONS];
        for (i, offset) in offsets.iter_mut().enumerate() {
            *offset = u64_at(64 + i * 8) as usize;
            if *offset > map.len() || *offset % 8 != 0 {
                return Err(invalid("section out of bounds"));
            }
        }
        let segment = Segment {
            dim,
            count,
            epoch: u64_at(32),
            seq: u64_at(40),
            entry: (top != NO_LEVEL && (entry as usize) < count).then_some((entry, top as usize)),
            offsets,
            map,
            prefixes: OnceLock::new(),
        };
        segment.check()?;
        Ok(segment)
    }

    /// Every section fits the file and every neighbour is a node: a damaged file is
    /// refused rather than read out of bounds.
    fn check(&self) -> Result<()> {
        let invalid = |why: &str| Err(AnnError::Invalid(why.to_owned()));
        let fits = |s: Section, len: usize| self.offsets[s as usize] + len <= self.map.len();
        let uppers_len = (self.count + 1) * 4;
        if !fits(Section::Vectors, self.count * self.dim * 4)
            || !fits(Section::Level0, self.count * LEVEL0 * 4)
            || !fits(Section::Uppers, uppers_len)
            || !fits(Section::Dead, self.count)
            || !fits(Section::IdOffsets, (self.count + 1) * 8)
            || !fits(Section::MetaOffsets, (self.count + 1) * 8)
            || !fits(Section::Order, self.count * 4)
        {
            return invalid("sections do not fit");
        }
        let uppers = self.u32s(Section::Uppers, self.count + 1);
        let records = *uppers.last().unwrap_or(&0) as usize;
        if !fits(Section::Upper, records * UPPER * 4) || uppers.windows(2).any(|w| w[0] > w[1]) {
            return invalid("upper levels do not fit");
        }
        let links_ok = |list: &[u32], cap: usize| {
            list.first().is_some_and(|&n| n as usize <= cap)
                && list[1..=list[0] as usize]
                    .iter()
                    .all(|&n| (n as usize) < self.count)
        };
        if !self
            .u32s(Section::Level0, self.count * LEVEL0)
            .chunks_exact(LEVEL0)
            .all(|l| links_ok(l, 2 * M))
            || !self
                .u32s(Section::Upper, records * UPPER)
                .chunks_exact(UPPER)
                .all(|l| links_ok(l, M))
        {
            return invalid("a neighbour is not a node");
        }
        for (offsets, texts) in [
            (Section::IdOffsets, Section::Ids),
            (Section::MetaOffsets, Section::Metas),
        ] {
            let ends = self.u64s(offsets, self.count + 1);
            let len = ends.last().copied().unwrap_or(0) as usize;
            if !fits(texts, len) || ends.windows(2).any(|w| w[0] > w[1]) {
                return invalid("texts do not fit");
            }
        }
        if self
            .u32s(Section::Order, self.count)
            .iter()
            .any(|&n| n as usize >= self.count)
        {
            return invalid("order out of range");
        }
        Ok(())
    }

    fn bytes(&self, section: Section, len: usize) -> &[u8] {
        let start = self.offsets[section as usize];
        &self.map[start..start + len]
    }

    fn u32s(&self, section: Section, count: usize) -> &[u32] {
        let bytes = self.bytes(section, count * 4);
        // SAFETY: sections start 8-aligned in a page-aligned map, `check` proved the
        // length, and every bit pattern is a valid u32.
        unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast(), count) }
    }

    fn u64s(&self, section: Section, count: usize) -> &[u64] {
        let bytes = self.bytes(section, count * 8);
        // SAFETY: as in `u32s`.
        unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast(), count) }
    }

    fn text_bytes(&self, offsets: Section, texts: Section, node: u32) -> &[u8] {
        let ends = self.u64s(offsets, self.count + 1);
        let (start, end) = (
            ends[node as usize] as usize,
            ends[node as usize + 1] as usize,
        );
        &self.bytes(texts, ends[self.count] as usize)[start..end]
    }

    fn text(&self, offsets: Section, texts: Section, node: u32) -> &str {
        std::str::from_utf8(self.text_bytes(offsets, texts, node)).unwrap_or("")
    }

    /// A node's id as stored, unchecked: byte order is `str` order, so the search by
    /// id compares bytes without validating UTF-8 at every step.
    fn id_bytes(&self, node: u32) -> &[u8] {
        self.text_bytes(Section::IdOffsets, Section::Ids, node)
    }

    pub fn dim(&self) -> usize {
        self.dim
    }
    pub fn epoch(&self) -> u64 {
        self.epoch
    }
    pub fn seq(&self) -> u64 {
        self.seq
    }
    pub fn id(&self, node: u32) -> &str {
        self.text(Section::IdOffsets, Section::Ids, node)
    }
    pub fn meta(&self, node: u32) -> &str {
        self.text(Section::MetaOffsets, Section::Metas, node)
    }
    pub fn is_dead(&self, node: u32) -> bool {
        self.bytes(Section::Dead, self.count)[node as usize] != 0
    }
    pub fn dead_count(&self) -> usize {
        self.bytes(Section::Dead, self.count)
            .iter()
            .filter(|&&d| d != 0)
            .count()
    }
    /// All vectors, node after node.
    pub fn vectors(&self) -> &[f32] {
        let bytes = self.bytes(Section::Vectors, self.count * self.dim * 4);
        // SAFETY: as in `u32s`; every bit pattern is a valid f32.
        unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast(), self.count * self.dim) }
    }

    /// The nodes stored under `id`: one, or more when a merge kept an older copy as a
    /// dead node beside the live one.
    pub fn find_all<'s>(&'s self, id: &'s str) -> impl Iterator<Item = u32> + 's {
        let order = self.u32s(Section::Order, self.count);
        let prefixes = self.prefixes.get_or_init(|| {
            let all: Box<[_]> = order
                .iter()
                .map(|&node| prefix(self.id_bytes(node)))
                .collect();
            let fences = all.iter().step_by(FENCE).copied().collect();
            Prefixes { all, fences }
        });
        // Ids sorted are prefixes sorted, so those sharing `id`'s prefix are one run
        // (almost always of one), starting in the block after the last smaller fence.
        let key = prefix(id.as_bytes());
        let block = prefixes
            .fences
            .partition_point(|p| *p < key)
            .saturating_sub(1)
            * FENCE;
        let end = (block + FENCE + 1).min(self.count);
        let start = block + prefixes.all[block..end].partition_point(|p| *p < key);
        order[start..]
            .iter()
            .zip(&prefixes.all[start..])
            .take_while(move |(_, p)| **p == key)
            .map(|(&node, _)| node)
            .filter(move |&node| self.id_bytes(node) == id.as_bytes())
    }

    /// Every node's links per level (to extend the graph in a new segment).
    pub fn links(&self) -> Vec<Vec<Vec<u32>>> {
        (0..self.count as u32)
            .map(|node| {
                let levels = 1 + self.upper_records(node).len() / UPPER;
                (0..levels)
                    .map(|l| self.neighbors(node, l).to_vec())
                    .collect()
            })
            .collect()
    }

    fn upper_records(&self, node: u32) -> &[u32] {
        let uppers = self.u32s(Section::Uppers, self.count + 1);
        let (start, end) = (
            uppers[node as usize] as usize,
            uppers[node as usize + 1] as usize,
        );
        let all = self.u32s(Section::Upper, uppers[self.count] as usize * UPPER);
        &all[start * UPPER..end * UPPER]
    }
}

impl Layers for Segment {
    fn vector(&self, node: u32) -> &[f32] {
        let start = node as usize * self.dim;
        &self.vectors()[start..start + self.dim]
    }
    fn neighbors(&self, node: u32, level: usize) -> &[u32] {
        let record = if level == 0 {
            let all = self.u32s(Section::Level0, self.count * LEVEL0);
            &all[node as usize * LEVEL0..(node as usize + 1) * LEVEL0]
        } else {
            let records = self.upper_records(node);
            let at = (level - 1) * UPPER;
            if at + UPPER > records.len() {
                return &[];
            }
            &records[at..at + UPPER]
        };
        &record[1..=record[0] as usize]
    }
    fn entry(&self) -> Option<(u32, usize)> {
        self.entry
    }
    fn len(&self) -> usize {
        self.count
    }
}

#[cfg(test)]
mod tests {
    use super::super::hnsw::{Builder, tests::random_vectors};
    use super::*;

    #[test]
    fn a_segment_of_an_odd_count_reads_back_what_was_written() {
        let dir = crate::storage::tests::temp("segment");
        std::fs::create_dir_all(&dir).unwrap();
        let vectors = random_vectors(7, 4, 21);
        let mut graph = Builder::new(4);
        for v in &vectors {
            graph.insert(v);
        }
        let ids: Vec<String> = (0..7).map(|i| format!("id{i}")).collect();
        let contents = Contents {
            epoch: 3,
            seq: 9,
            ids: ids.iter().map(String::as_str).collect(),
            metas: vec!["{}"; 7],
            dead: (0..7).map(|i| i == 2).collect(),
        };
        let file = path(&dir, "chunks");
        write(&file, &graph, &contents).unwrap();
        let segment = Segment::open(&file).unwrap().unwrap();
        assert_eq!((segment.len(), segment.epoch(), segment.seq()), (7, 3, 9));
        assert_eq!(segment.vector(6), &vectors[6][..]);
        assert_eq!(segment.find_all("id5").collect::<Vec<_>>(), [5]);
        assert!(segment.is_dead(2) && !segment.is_dead(3));
        assert_eq!(segment.neighbors(4, 0), graph.neighbors(4, 0));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn lookups_by_id_find_every_copy_whatever_the_ids_share() {
        let dir = crate::storage::tests::temp("segment-ids");
        std::fs::create_dir_all(&dir).unwrap();
        // Ids longer than the prefix table's width that share it, a duplicate, ids
        // shorter than it, the empty id, one that is another's prefix, and enough
        // others for several blocks of the table.
        let special = [
            "chunk-shared-prefix-b",
            "chunk-shared-prefix-a",
            "x",
            "",
            "chunk-shared-prefix-a",
            "chunk-shared-pre",
            "chunk-shared-prefix",
        ];
        let others: Vec<String> = (0..300u64)
            .map(|i| format!("chunk-{:032x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15)))
            .collect();
        let ids: Vec<&str> = special
            .into_iter()
            .chain(others.iter().map(String::as_str))
            .collect();
        let vectors = random_vectors(ids.len(), 4, 5);
        let mut graph = Builder::new(4);
        for v in &vectors {
            graph.insert(v);
        }
        let contents = Contents {
            epoch: 0,
            seq: 0,
            ids: ids.clone(),
            metas: vec!["{}"; ids.len()],
            dead: vec![false; ids.len()],
        };
        let file = path(&dir, "chunks");
        write(&file, &graph, &contents).unwrap();
        let segment = Segment::open(&file).unwrap().unwrap();
        for &id in &ids {
            let mut found: Vec<u32> = segment.find_all(id).collect();
            found.sort_unstable();
            let expected: Vec<u32> = (0..ids.len() as u32)
                .filter(|&n| ids[n as usize] == id)
                .collect();
            assert_eq!(found, expected, "{id:?}");
        }
        for missing in [
            "chunk-shared-prefix-c",
            "chunk-shared-p",
            "chunk-shared-prefix-",
            "chunk-",
            "chunk-ffffffffffffffffffffffffffffffff",
            "y",
        ] {
            assert_eq!(segment.find_all(missing).count(), 0, "{missing:?}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
