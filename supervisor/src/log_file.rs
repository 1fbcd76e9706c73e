//! The size-rotated log file, with the semantics of Python's `RotatingFileHandler`:
//! `lightrag.log` rolls to `lightrag.log.1` (newest) ... `.N` when the next line would
//! reach `max_bytes`; lines are never split. Only the master owns this file, so the
//! rename chain never races another process.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub struct RotatingFile {
    path: PathBuf,
    max_bytes: u64,
    backups: u32,
    file: File,
    size: u64,
}

fn open_append(path: &Path) -> io::Result<(File, u64)> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    let size = file.metadata()?.len();
    Ok((file, size))
}

impl RotatingFile {
    /// Opens (or creates) `path` for appending. `max_bytes` 0 or `backups` 0 disables
    /// rotation, as in Python.
    pub fn open(path: &Path, max_bytes: u64, backups: u32) -> io::Result<RotatingFile> {
        let (file, size) = open_append(path)?;
        Ok(RotatingFile {
            path: path.to_owned(),
            max_bytes,
            backups,
            file,
            size,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one whole line, rotating first if it would reach the limit.
    pub fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        let rotating = self.max_bytes > 0 && self.backups > 0;
        if rotating && self.size > 0 && self.size + line.len() as u64 >= self.max_bytes {
            self.rotate()?;
        }
        self.file.write_all(line)?;
        self.size += line.len() as u64;
        Ok(())
    }

    /// Appends whole lines with as few writes as rotation allows: one, unless the file
    /// must roll over between two of them.
    pub fn write_lines(&mut self, lines: &[u8]) -> io::Result<()> {
        let rotating = self.max_bytes > 0 && self.backups > 0;
        let mut start = 0;
        let mut end = 0;
        for line in lines.split_inclusive(|&b| b == b'\n') {
            let pending = (end - start + line.len()) as u64;
            if rotating && end > start && self.size + pending >= self.max_bytes {
                self.write_line(&lines[start..end])?;
                start = end;
            }
            end += line.len();
        }
        if end > start {
            self.write_line(&lines[start..end])?;
        }
        Ok(())
    }

    fn backup(&self, n: u32) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    fn rotate(&mut self) -> io::Result<()> {
        for n in (1..self.backups).rev() {
            match std::fs::rename(self.backup(n), self.backup(n + 1)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        std::fs::rename(&self.path, self.backup(1))?;
        self.reopen()
    }

    /// Flushes to disk; errors only cost durability of the last lines.
    pub fn sync(&mut self) {
        let _ = self.file.sync_data();
    }

    /// Reopens the path (after an external rename, on USR1).
    pub fn reopen(&mut self) -> io::Result<()> {
        let (file, size) = open_append(&self.path)?;
        self.file = file;
        self.size = size;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_of_lines_rotate_between_lines_as_single_ones_do() {
        let dir = std::env::temp_dir().join(format!("lrm-rot-batch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (one, many) = (dir.join("one.log"), dir.join("many.log"));
        let mut single = RotatingFile::open(&one, 100, 50).unwrap();
        let mut batched = RotatingFile::open(&many, 100, 50).unwrap();
        let lines: Vec<String> = (0..20)
            .map(|i| format!("line {i:02} {}\n", ".".repeat(i % 7 * 5)))
            .collect();
        for line in &lines {
            single.write_line(line.as_bytes()).unwrap();
        }
        for chunk in lines.chunks(6) {
            batched.write_lines(chunk.concat().as_bytes()).unwrap();
        }
        let read = |p: PathBuf| std::fs::read_to_string(p).unwrap_or_default();
        for n in 0..=50 {
            let (a, b) = if n == 0 {
                (one.clone(), many.clone())
            } else {
                (single.backup(n), batched.backup(n))
            };
            assert_eq!(read(a), read(b), "file {n}");
        }
    }

    #[test]
    fn rotates_whole_lines_and_keeps_n_backups() {
        let dir = std::env::temp_dir().join(format!("lrm-rot-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("lightrag.log");
        let mut file = RotatingFile::open(&path, 100, 2).unwrap();
        for i in 0..20 {
            file.write_line(format!("line {i:02} .......................\n").as_bytes())
                .unwrap();
        }
        let read = |p: PathBuf| std::fs::read_to_string(p).unwrap_or_default();
        let current = read(path.clone());
        let newest = read(file.backup(1));
        assert!(current.ends_with("line 19 .......................\n"));
        assert!(
            newest.ends_with("line 17 .......................\n"),
            "{newest}"
        );
        assert!(!file.backup(3).exists());
        for text in [current, newest, read(file.backup(2))] {
            assert!(
                text.len() < 100 && text.lines().all(|l| l.len() == 31),
                "{text}"
            );
        }
    }
}
