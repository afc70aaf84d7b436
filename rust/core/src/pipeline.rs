//! Pipelined submits: a caller hands over a checked batch and gets a `Pending` handle at once,
//! while earlier batches are still being chained, signed, written and synced.
//!
//! Two threads per writer carry submitted batches, started by the first submit: the *write*
//! thread takes them in submit order and hands each to the commit queue (so they join the same
//! groups as concurrent `append` callers, and their seqs increase in submit order); the *ack*
//! thread takes each written batch, waits until the sync stage has made its seal durable, and
//! only then resolves its handle. While the ack thread waits for batch N's fdatasync, the write
//! thread already writes batch N+1, and the caller encodes and checks batch N+2.
//!
//! Invariants: a handle resolves with receipts only once a durable seal covers them (at the
//! writer's durability); handles resolve in submit order; every submitted batch resolves, with
//! receipts or an error, close included (close waits for them). Bytes in flight (submitted, not
//! yet resolved) are bounded: `submit` blocks while the bound is reached.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::commit_queue::lock;
use crate::error::{Result, WalError};
use crate::prepare::Prepared;
use crate::receipt::AppendReceipt;

/// Default bound on bytes submitted but not yet durable.
pub const DEFAULT_MAX_IN_FLIGHT_BYTES: u64 = 64 << 20;

/// Bytes a record costs beyond its body members (envelope, hash, newline), for the bound.
const RECORD_OVERHEAD: u64 = 128;

/// The answer of one submitted batch, kept so that every wait sees it.
struct Slot {
    result: Mutex<Option<Result<Vec<AppendReceipt>>>>,
    ready: Condvar,
}

impl Slot {
    fn resolve(&self, result: Result<Vec<AppendReceipt>>) {
        *lock(&self.result) = Some(result);
        self.ready.notify_all();
    }
}

/// A submitted batch: its receipts once a durable seal covers them, or the error that failed it.
#[derive(Clone)]
pub struct Pending {
    slot: Arc<Slot>,
}

impl Pending {
    pub(crate) fn resolved(result: Result<Vec<AppendReceipt>>) -> Pending {
        let slot = Arc::new(Slot { result: Mutex::new(Some(result)), ready: Condvar::new() });
        Pending { slot }
    }

    /// Whether the batch is resolved (durable, or failed).
    #[must_use]
    pub fn done(&self) -> bool {
        lock(&self.slot.result).is_some()
    }

    /// Wait until the batch is resolved (at most `timeout`; `None` when it ran out) and return
    /// its answer. Every wait returns the same answer: the same receipts, or an equal error.
    #[must_use]
    pub fn wait(&self, timeout: Option<Duration>) -> Option<Result<Vec<AppendReceipt>>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut r = lock(&self.slot.result);
        loop {
            if let Some(result) = r.as_ref() {
                return Some(match result {
                    Ok(receipts) => Ok(receipts.clone()),
                    Err(e) => Err(duplicate(e)),
                });
            }
            r = match deadline {
                None => self.slot.ready.wait(r).unwrap_or_else(std::sync::PoisonError::into_inner),
                Some(d) => {
                    let left = d.checked_duration_since(Instant::now())?;
                    self.slot.ready.wait_timeout(r, left).unwrap_or_else(std::sync::PoisonError::into_inner).0
                }
            };
        }
    }
}

/// An equal copy of an error (an I/O error keeps its kind and text).
fn duplicate(e: &WalError) -> WalError {
    match e {
        WalError::Io { path, source } => WalError::Io {
            path: path.clone(),
            source: source.raw_os_error().map_or_else(
                || std::io::Error::new(source.kind(), source.to_string()),
                std::io::Error::from_raw_os_error,
            ),
        },
        WalError::Schema { index, field, message } => {
            WalError::Schema { index: *index, field: field.clone(), message: message.clone() }
        }
        WalError::TooLarge { index, size, limit } => WalError::TooLarge { index: *index, size: *size, limit: *limit },
        WalError::Locked { path, pid } => WalError::Locked { path: path.clone(), pid: pid.clone() },
        WalError::Corruption(f) => WalError::Corruption(f.clone()),
        WalError::Poisoned(why) => WalError::Poisoned(why.clone()),
        WalError::NotALog(p) => WalError::NotALog(p.clone()),
        WalError::Exists(p) => WalError::Exists(p.clone()),
        WalError::KeyMismatch { expected, given } => {
            WalError::KeyMismatch { expected: expected.clone(), given: given.clone() }
        }
        WalError::Conflict { index, message } => WalError::Conflict { index: *index, message: message.clone() },
        WalError::Closed => WalError::Closed,
        WalError::Key(m) => WalError::Key(m.clone()),
        WalError::InvalidArgument(m) => WalError::InvalidArgument(m.clone()),
    }
}

/// A batch on its way through the two threads.
struct Job {
    items: Vec<Prepared>,
    bytes: u64,
    slot: Arc<Slot>,
}

/// A written batch (or its failure), waiting for its seal to be durable.
struct Written {
    result: Result<Vec<AppendReceipt>>,
    bytes: u64,
    slot: Arc<Slot>,
}

#[derive(Default)]
struct Flight {
    bytes: u64,
    batches: usize,
    closed: bool,
    to_write: Option<Sender<Job>>,
    threads: Vec<JoinHandle<()>>,
}

/// What the pipeline threads need of the writer: write a batch through the commit queue (returns
/// once its group is written), and wait until a seal is durable.
pub(crate) trait Stages: Send + Sync + 'static {
    fn write(&self, items: Vec<Prepared>) -> Result<Vec<AppendReceipt>>;
    /// `write` without the commit queue's delay: the next batch is already queued behind it.
    fn write_now(&self, items: Vec<Prepared>) -> Result<Vec<AppendReceipt>>;
    fn make_durable(&self, seal: u64) -> Result<()>;
}

pub(crate) struct Pipeline {
    flight: Mutex<Flight>,
    /// Bytes in flight went down (a batch resolved).
    room: Condvar,
    max_bytes: u64,
}

impl Pipeline {
    pub(crate) fn new(max_bytes: u64) -> Arc<Pipeline> {
        Arc::new(Pipeline { flight: Mutex::new(Flight::default()), room: Condvar::new(), max_bytes: max_bytes.max(1) })
    }

    /// Hand over a checked batch: blocks while the bytes in flight are at the bound (a batch
    /// larger than the bound alone waits until nothing else is in flight), then queues it and
    /// returns its handle. `Closed` once `close` has started.
    pub(crate) fn submit<S: Stages>(self: &Arc<Self>, stages: &Arc<S>, items: Vec<Prepared>) -> Result<Pending> {
        let bytes = items.iter().map(|p| p.body_len() as u64 + RECORD_OVERHEAD).sum::<u64>();
        let mut f = lock(&self.flight);
        loop {
            if f.closed {
                return Err(WalError::Closed);
            }
            if f.batches == 0 || f.bytes + bytes <= self.max_bytes {
                break;
            }
            f = self.room.wait(f).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        if f.to_write.is_none() {
            self.start(&mut f, stages)?;
        }
        let slot = Arc::new(Slot { result: Mutex::new(None), ready: Condvar::new() });
        let job = Job { items, bytes, slot: slot.clone() };
        f.bytes += bytes;
        f.batches += 1;
        let sent = f.to_write.as_ref().is_some_and(|tx| tx.send(job).is_ok());
        if !sent {
            f.bytes -= bytes;
            f.batches -= 1;
            return Err(WalError::Closed);
        }
        Ok(Pending { slot })
    }

    fn start<S: Stages>(self: &Arc<Self>, f: &mut Flight, stages: &Arc<S>) -> Result<()> {
        let (to_write, jobs) = channel::<Job>();
        let (to_ack, written) = channel::<Written>();
        let spawn_err = |e: std::io::Error| WalError::Io { path: "<pipeline thread>".into(), source: e };
        let s = stages.clone();
        let writer = std::thread::Builder::new()
            .name("kfm-wal-submit-write".into())
            .spawn(move || write_loop(&*s, &jobs, &to_ack))
            .map_err(spawn_err)?;
        let (s, me) = (stages.clone(), self.clone());
        let acker = std::thread::Builder::new()
            .name("kfm-wal-submit-ack".into())
            .spawn(move || me.ack_loop(&*s, &written))
            .map_err(spawn_err)?;
        f.to_write = Some(to_write);
        f.threads = vec![writer, acker];
        Ok(())
    }

    fn ack_loop<S: Stages>(&self, stages: &S, written: &Receiver<Written>) {
        for w in written {
            let result = w.result.and_then(|receipts| {
                if let Some(last) = receipts.last() {
                    stages.make_durable(last.seal_seq)?;
                }
                Ok(receipts)
            });
            w.slot.resolve(result);
            let mut f = lock(&self.flight);
            f.bytes -= w.bytes;
            f.batches -= 1;
            drop(f);
            self.room.notify_all();
        }
    }

    /// Refuse new submits, let every batch in flight resolve, stop the threads. Idempotent.
    pub(crate) fn close(&self) {
        let mut f = lock(&self.flight);
        f.closed = true;
        f.to_write = None;
        let threads = std::mem::take(&mut f.threads);
        drop(f);
        self.room.notify_all();
        for t in threads {
            let _ = t.join();
        }
    }
}

fn write_loop<S: Stages>(stages: &S, jobs: &Receiver<Job>, to_ack: &Sender<Written>) {
    for job in jobs {
        let result = stages.write_now(job.items);
        // The ack thread lives until this sender is dropped: the send cannot fail.
        let _ = to_ack.send(Written { result, bytes: job.bytes, slot: job.slot });
    }
}
