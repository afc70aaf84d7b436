//! The file system as the power-loss tests see it: a hook that records every mutating call a
//! writer (or a recovery) makes, and a model that replays them into the states a power loss could
//! leave. What was synced survives; of each file's changes since its last sync (writes at offsets,
//! truncations) an arbitrary prefix survives, the last write possibly torn, sometimes with some
//! of the writes after it (out of order), and the bytes past the synced length may be garbled or
//! zero-filled; directory changes survive only as far as an ordered journal prefix made them
//! durable.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use kfm_wal_core::fsutil::{IoHook, IoOp};
use kfm_wal_core::{hash, record};

#[derive(Debug, Clone)]
pub enum Op {
    Create(PathBuf),
    Append(PathBuf, Vec<u8>),
    WriteAt(PathBuf, u64, Vec<u8>),
    Truncate(PathBuf, u64),
    /// Writeback started early: makes nothing durable, so the model ignores it; it may fail.
    Writeback,
    SyncFile(PathBuf),
    Rename(PathBuf, PathBuf),
    SyncDir,
    Ack(u64),
    /// A pipelined submit's handle resolved with receipts up to this seq (pushed by the test).
    Done(u64),
}

/// Records every call relative to the log root; fails call number `fail_at` if set.
pub struct Recorder {
    pub root: PathBuf,
    pub ops: Mutex<Vec<Op>>,
    pub fail_at: Option<usize>,
}

impl Recorder {
    fn rel(&self, p: &Path) -> PathBuf {
        p.strip_prefix(&self.root).unwrap_or(p).to_path_buf()
    }
}

impl IoHook for Recorder {
    fn before(&self, op: IoOp<'_>) -> io::Result<()> {
        let mut ops = self.ops.lock().unwrap();
        let is_io = !matches!(op, IoOp::Acknowledged(_));
        if is_io && Some(ops.iter().filter(|o| !matches!(o, Op::Ack(_) | Op::Done(_))).count()) == self.fail_at {
            return Err(io::Error::other("injected I/O failure"));
        }
        ops.push(match op {
            IoOp::Create(p) => Op::Create(self.rel(p)),
            IoOp::Append(p, b) => Op::Append(self.rel(p), b.to_vec()),
            IoOp::WriteAt(p, offset, b) => Op::WriteAt(self.rel(p), offset, b.to_vec()),
            IoOp::Truncate(p, len) => Op::Truncate(self.rel(p), len),
            IoOp::Writeback(_) => Op::Writeback,
            IoOp::SyncFile(p) => Op::SyncFile(self.rel(p)),
            IoOp::Rename(a, b) => Op::Rename(self.rel(a), self.rel(b)),
            IoOp::SyncDir(_) => Op::SyncDir,
            IoOp::Remove(_) => unreachable!("these logs are not compressed: nothing is removed"),
            IoOp::Acknowledged(seq) => Op::Ack(seq),
        });
        Ok(())
    }
}

/// A change to a file's bytes, kept until the file is synced.
#[derive(Debug, Clone)]
enum Change {
    Write(usize, Vec<u8>),
    Truncate(usize),
}

impl Change {
    fn apply_to(&self, bytes: &mut Vec<u8>) {
        match self {
            Change::Write(at, data) => {
                if bytes.len() < at + data.len() {
                    bytes.resize(at + data.len(), 0);
                }
                bytes[*at..at + data.len()].copy_from_slice(data);
            }
            Change::Truncate(len) => bytes.truncate(*len),
        }
    }
}

/// A file: its bytes on stable storage, its bytes now, and the changes between the two in order.
#[derive(Default, Clone)]
pub struct Inode {
    pub durable: Vec<u8>,
    current: Vec<u8>,
    pending: Vec<Change>,
}

impl Inode {
    fn change(&mut self, change: Change) {
        change.apply_to(&mut self.current);
        self.pending.push(change);
    }
}

/// Model of files (inodes) and directory entries (durable and current), with metadata changes
/// journaled in order.
#[derive(Default, Clone)]
pub struct Model {
    pub inodes: Vec<Inode>,
    current: BTreeMap<PathBuf, usize>,
    pub durable: BTreeMap<PathBuf, usize>,
    journal: Vec<(PathBuf, Option<PathBuf>, usize)>, // (from or new path, rename target, inode)
    /// Paths renamed away, to the inode they named. The sync stage holds the live segment open
    /// and names it by the path it had: after a rotation archived it, a late fdatasync of that
    /// handle is recorded under the old path and still syncs the same inode.
    renamed_away: BTreeMap<PathBuf, usize>,
}

impl Model {
    /// The files under `dir` as they are (all durable): the start of a model of what a process
    /// does to a directory it finds after a crash.
    pub fn of_dir(dir: &Path) -> Model {
        let mut m = Model::default();
        let mut todo = vec![dir.to_path_buf()];
        while let Some(d) = todo.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let path = e.unwrap().path();
                if path.is_dir() {
                    todo.push(path);
                    continue;
                }
                let bytes = std::fs::read(&path).unwrap();
                m.inodes.push(Inode { durable: bytes.clone(), current: bytes, pending: Vec::new() });
                let rel = path.strip_prefix(dir).unwrap().to_path_buf();
                m.current.insert(rel.clone(), m.inodes.len() - 1);
                m.durable.insert(rel, m.inodes.len() - 1);
            }
        }
        m
    }

    fn inode_of(&self, p: &Path) -> usize {
        let ino = self.current.get(p).or_else(|| self.renamed_away.get(p)).copied();
        ino.unwrap_or_else(|| panic!("{} was never created", p.display()))
    }

    pub fn apply(&mut self, op: &Op) {
        match op {
            Op::Create(p) => {
                self.inodes.push(Inode::default());
                let ino = self.inodes.len() - 1;
                self.current.insert(p.clone(), ino);
                self.journal.push((p.clone(), None, ino));
            }
            Op::Append(p, bytes) => {
                let ino = self.inode_of(p);
                let at = self.inodes[ino].current.len();
                self.inodes[ino].change(Change::Write(at, bytes.clone()));
            }
            Op::WriteAt(p, offset, bytes) => {
                let ino = self.inode_of(p);
                self.inodes[ino].change(Change::Write(usize::try_from(*offset).unwrap(), bytes.clone()));
            }
            Op::Truncate(p, len) => {
                let ino = self.inode_of(p);
                self.inodes[ino].change(Change::Truncate(usize::try_from(*len).unwrap()));
            }
            Op::SyncFile(p) => {
                let ino = self.inode_of(p);
                let inode = &mut self.inodes[ino];
                inode.durable = inode.current.clone();
                inode.pending.clear();
            }
            Op::Rename(a, b) => {
                let ino = self.current.remove(a).unwrap();
                self.current.insert(b.clone(), ino);
                self.renamed_away.insert(a.clone(), ino);
                self.journal.push((a.clone(), Some(b.clone()), ino));
            }
            Op::SyncDir => self.commit_journal(self.journal.len()),
            Op::Writeback | Op::Ack(_) | Op::Done(_) => {}
        }
    }

    fn commit_journal(&mut self, n: usize) {
        for (path, target, ino) in self.journal.drain(..n) {
            match target {
                None => {
                    self.durable.insert(path, ino);
                }
                Some(to) => {
                    self.durable.remove(&path);
                    self.durable.insert(to, ino);
                }
            }
        }
    }

    /// The disk after power loss when nothing unsynced survived, written into `dir`.
    pub fn synced_only_into(&self, dir: &Path) {
        std::fs::create_dir_all(dir.join("archive")).unwrap();
        for (path, &ino) in &self.durable {
            write_file(&dir.join(path), &self.inodes[ino].durable);
        }
    }

    /// One possible disk after power loss, written into `dir`: of each file's changes since its
    /// last sync, a prefix survives, the last of them possibly only in part; then the bytes past
    /// the synced length may be garbled at their end or all zero (blocks allocated, data lost).
    pub fn crash_into(&self, dir: &Path, rng: &mut fastrand::Rng) {
        let mut m = self.clone();
        let survived = rng.usize(0..=m.journal.len());
        m.commit_journal(survived);
        std::fs::create_dir_all(dir.join("archive")).unwrap();
        for (path, &ino) in &m.durable {
            let inode = &m.inodes[ino];
            let mut bytes = inode.durable.clone();
            let kept = rng.usize(0..=inode.pending.len());
            for change in &inode.pending[..kept] {
                change.apply_to(&mut bytes);
            }
            if let Some(Change::Write(at, data)) = inode.pending.get(kept) {
                Change::Write(*at, data[..rng.usize(0..=data.len())].to_vec()).apply_to(&mut bytes);
            }
            // Out of order: later writes (up to the next truncation) may survive when this one
            // did not, as pages written back in another order do; in a segment filled ahead with
            // zeros this leaves zeros, then a later group with its own valid seal.
            if rng.u8(0..3) == 0 {
                let later = inode.pending.iter().skip(kept + 1);
                for change in later.take_while(|c| matches!(c, Change::Write(..))) {
                    if rng.bool() {
                        change.apply_to(&mut bytes);
                    }
                }
            }
            let synced = inode.durable.len().min(bytes.len());
            let unsynced = &mut bytes[synced..];
            match rng.u8(0..4) {
                0 if !unsynced.is_empty() => {
                    let from = unsynced.len().saturating_sub(rng.usize(1..32));
                    unsynced[from..].iter_mut().for_each(|b| *b = rng.u8(..));
                }
                1 => unsynced.iter_mut().for_each(|b| *b = 0),
                _ => {}
            }
            write_file(&dir.join(path), &bytes);
        }
    }
}

fn write_file(path: &Path, bytes: &[u8]) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, bytes).unwrap();
}

/// seq -> hash of every complete record line the writer ever wrote (each file's bytes as the
/// writes at their offsets left them; the writer never cuts what it wrote).
pub fn written(ops: &[Op]) -> HashMap<u64, [u8; 32]> {
    let mut model = Model::default();
    for op in ops {
        model.apply(op);
    }
    let mut out = HashMap::new();
    for inode in &model.inodes {
        for line in inode.current.split_inclusive(|b| *b == b'\n') {
            if let Ok(env) = record::parse(line) {
                out.insert(env.seq, hash::sha256(record::hashed_part(line)));
            }
        }
    }
    out
}
