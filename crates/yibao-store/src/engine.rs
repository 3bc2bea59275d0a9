//! The database engine: dedicated DB threads, group commit, one code path.
//!
//! Callers hand the engine a closure over `&mut dyn Tx` (a *job*). Write jobs
//! go to writer threads; each writer takes every job waiting in its queue (up
//! to `batch_max`), runs them in one transaction with a savepoint per job, and
//! commits once. A durable commit costs one fsync; with group commit that
//! fsync is shared by the whole batch, which is what lets SQLite settle
//! thousands of visits a second on one disk. A job that fails is rolled back
//! to its savepoint and writes nothing; the others in the batch commit.
//! Results are released only after the commit, so a caller never sees a
//! success that is not durable.
//!
//! SQLite with `synchronous=FULL` pipelines the fsync: the writer commits
//! without it (`NORMAL`) and goes on to the next batch while a sync thread
//! fdatasyncs the WAL; a batch's results, and those of every read whose
//! snapshot may hold it, are released only after that sync (`sync_loop`).
//!
//! SQLite has exactly one writer (it allows no more). PostgreSQL may have
//! several; jobs with a routing key always go to the same writer so that work
//! on one person or one visit is serialized without lock waits.
//!
//! Read jobs run on reader threads in a read-only transaction. On SQLite,
//! short reads by key ([`Db::read_short`]: the national interface's 1101,
//! 2206, 5203, …) run on the writer thread between its batches instead, from
//! the writer's page cache: SQLite empties a reader's page cache whenever it
//! begins a read transaction after any commit, which under load is every
//! time, so a reader reads every page it touches again; the writer's own
//! commits leave its cache as it is.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use tokio::sync::oneshot;

use crate::migrate;
use crate::pg::PgConn;
use crate::sql::{Backend, DbError, DbErrorKind, DbResult, Tx};
use crate::sqlite::{SqliteConn, Synchronous};

/// Jobs per transaction at most: bounds the work lost to a failed commit and
/// the time a batch holds the writer.
pub const BATCH_JOBS_MAX_DEFAULT: usize = 256;
/// Attempts for a batch that hits a lock conflict or deadlock.
const BATCH_ATTEMPTS_MAX: u32 = 5;
/// Waiting jobs per queue before callers are told the system is overloaded.
const QUEUE_JOBS_MAX: usize = 65_536;
/// SQLite memory map per connection (see `sqlite.rs`): off by default. At
/// 1M persons it was not a clear gain (within the run-to-run spread,
/// docs/performance.md, fourth round), and it turns a disk error into a
/// stopped process.
pub const SQLITE_MMAP_BYTES_DEFAULT: u64 = 0;

#[derive(Clone, Debug)]
pub enum Location {
    /// `mmap_bytes`: see `sqlite.rs` (0: no memory map).
    Sqlite {
        path: PathBuf,
        synchronous: Synchronous,
        mmap_bytes: u64,
    },
    Postgres {
        url: String,
    },
}

#[derive(Clone, Debug)]
pub struct DbConfig {
    pub location: Location,
    /// Writer threads (forced to 1 on SQLite).
    pub writers: usize,
    pub readers: usize,
    pub batch_max: usize,
    /// SQLite: WAL frames (pages) after which the writer, between batches,
    /// restarts the WAL from its beginning (see `restart_wal`).
    pub wal_frames_restart: i64,
}

impl DbConfig {
    pub fn sqlite(path: impl Into<PathBuf>, synchronous: Synchronous) -> DbConfig {
        DbConfig {
            location: Location::Sqlite { path: path.into(), synchronous, mmap_bytes: SQLITE_MMAP_BYTES_DEFAULT },
            writers: 1,
            readers: 2,
            batch_max: BATCH_JOBS_MAX_DEFAULT,
            wal_frames_restart: WAL_FRAMES_RESTART_DEFAULT,
        }
    }

    pub fn postgres(url: impl Into<String>) -> DbConfig {
        DbConfig {
            location: Location::Postgres { url: url.into() },
            writers: 2,
            readers: 2,
            batch_max: BATCH_JOBS_MAX_DEFAULT,
            wal_frames_restart: WAL_FRAMES_RESTART_DEFAULT,
        }
    }

    pub fn backend(&self) -> Backend {
        match self.location {
            Location::Sqlite { .. } => Backend::Sqlite,
            Location::Postgres { .. } => Backend::Postgres,
        }
    }
}

/// Errors that jobs return must be able to carry a database error and say
/// whether it is worth retrying the transaction.
pub trait JobError: From<DbError> + Send + 'static {
    fn is_retryable_db_error(&self) -> bool;
}

impl JobError for DbError {
    fn is_retryable_db_error(&self) -> bool {
        self.is_retryable()
    }
}

enum Outcome {
    Ok,
    Failed,
    Retry,
}

trait WriteJob: Send {
    fn run(&mut self, tx: &mut dyn Tx) -> Outcome;
    /// Replaces a success by `error` (the job swallowed a failed statement).
    fn poison(&mut self, error: DbError);
    fn finish(self: Box<Self>, commit: Result<(), DbError>);
}

/// The transaction a job sees. After a statement fails, every later
/// statement of the job fails too: PostgreSQL aborts the transaction on any
/// error and SQLite does not, and jobs must behave the same on both. Jobs
/// never catch a database error and carry on; they use `ON CONFLICT`.
struct JobTx<'a> {
    inner: &'a mut dyn Tx,
    failed: Option<DbError>,
}

impl JobTx<'_> {
    /// Runs `statement` on the connection, unless an earlier one failed;
    /// remembers its failure for the statements after it.
    fn pass<T>(&mut self, statement: impl FnOnce(&mut dyn Tx) -> DbResult<T>) -> DbResult<T> {
        if let Some(e) = &self.failed {
            return Err(DbError::new(e.kind, format!("earlier statement failed: {}", e.message)));
        }
        let r = statement(&mut *self.inner);
        if let Err(e) = &r {
            self.failed = Some(e.clone());
        }
        r
    }
}

impl Tx for JobTx<'_> {
    fn backend(&self) -> Backend {
        self.inner.backend()
    }

    fn execute(&mut self, sql: &str, params: &[crate::sql::Value]) -> DbResult<u64> {
        self.pass(|tx| tx.execute(sql, params))
    }

    fn query(&mut self, sql: &str, params: &[crate::sql::Value]) -> DbResult<Vec<crate::sql::Row>> {
        self.pass(|tx| tx.query(sql, params))
    }

    fn execute_batch(&mut self, sql: &str) -> DbResult<()> {
        self.pass(|tx| tx.execute_batch(sql))
    }

    fn execute_deferred(
        &mut self,
        sql: &str,
        params: &[crate::sql::Value],
        expected: Option<crate::sql::RowsExpected>,
    ) -> DbResult<()> {
        self.pass(|tx| tx.execute_deferred(sql, params, expected))
    }

    fn flush(&mut self) -> DbResult<()> {
        self.pass(|tx| tx.flush())
    }

    fn prefetch(&mut self, reads: &[crate::sql::Read]) -> DbResult<()> {
        self.pass(|tx| tx.prefetch(reads))
    }
}

struct TypedJob<T, E, F> {
    f: F,
    result: Option<Result<T, E>>,
    reply: oneshot::Sender<Result<T, E>>,
}

impl<T, E, F> WriteJob for TypedJob<T, E, F>
where
    T: Send + 'static,
    E: JobError,
    F: FnMut(&mut dyn Tx) -> Result<T, E> + Send + 'static,
{
    fn run(&mut self, tx: &mut dyn Tx) -> Outcome {
        let r = (self.f)(tx);
        let outcome = match &r {
            Ok(_) => Outcome::Ok,
            Err(e) if e.is_retryable_db_error() => Outcome::Retry,
            Err(_) => Outcome::Failed,
        };
        self.result = Some(r);
        outcome
    }

    fn poison(&mut self, error: DbError) {
        if matches!(self.result, Some(Ok(_))) {
            self.result = Some(Err(E::from(error)));
        }
    }

    fn finish(self: Box<Self>, commit: Result<(), DbError>) {
        let out = match (self.result, commit) {
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(v)), Ok(())) => Ok(v),
            (Some(Ok(_)), Err(e)) => Err(E::from(e)),
            (None, Err(e)) => Err(E::from(e)),
            (None, Ok(())) => unreachable!("a committed job has run"),
        };
        // The caller may have gone away (timeout, disconnect); nothing to do.
        let _ = self.reply.send(out);
    }
}

/// A read job runs its transaction and returns the release of its result,
/// which the reader may hold back until the commits it saw are on disk.
type ReadJob = Box<dyn FnOnce(&mut dyn Tx) -> Release + Send>;
type Release = Box<dyn FnOnce() + Send>;

/// The pipelined commit's sequence numbers (SQLite with `synchronous=FULL`).
#[derive(Default, Debug)]
struct CommitSeq {
    /// COMMITs the writer has begun. Counted before the statement runs, so a
    /// snapshot taken before this is read holds no commit numbered higher.
    started: AtomicU64,
    /// Every COMMIT numbered up to this one is on disk.
    synced: AtomicU64,
}

/// A batch's jobs and the result of its commit.
type Committed = (Vec<Box<dyn WriteJob>>, Result<(), DbError>);

/// What the writer and the readers hand the sync thread.
enum SyncItem {
    /// A batch whose COMMIT (numbered `seq`, or none after `seq`) returned.
    Batch { seq: u64, jobs: Vec<Box<dyn WriteJob>>, result: Result<(), DbError> },
    /// A read whose snapshot may hold commits up to `seq`.
    Read { seq: u64, release: Release },
}

/// The writer's and readers' side of the pipelined commit.
#[derive(Clone)]
struct Pipeline {
    seq: Arc<CommitSeq>,
    to_sync: Sender<SyncItem>,
}

/// Counters for /metrics.
#[derive(Default, Debug)]
pub struct EngineStats {
    pub write_batches: AtomicU64,
    pub write_jobs: AtomicU64,
    pub write_jobs_failed: AtomicU64,
    pub write_retries: AtomicU64,
    /// Batches run without savepoints in which a job failed, rerun with them.
    pub write_isolations: AtomicU64,
    pub commit_micros_total: AtomicU64,
    /// Time the writers spent running batches (jobs and commit): near the
    /// elapsed time per writer means the writer is the bottleneck.
    pub batch_micros_total: AtomicU64,
    pub read_jobs: AtomicU64,
    /// Short reads run by the SQLite writer between batches
    /// ([`Db::read_short`]), and the writer's time in them (counted in
    /// neither `write_batches` nor `batch_micros_total`).
    pub writer_reads: AtomicU64,
    pub writer_read_micros_total: AtomicU64,
    /// Reads whose answer waited for the WAL sync of a commit they saw.
    pub reads_held: AtomicU64,
    /// Reads sent ahead by jobs (`Tx::prefetch`, PostgreSQL) and how many of
    /// them answered a query: the rest were guesses that missed or were
    /// dropped.
    pub prefetched_reads: AtomicU64,
    pub prefetched_reads_used: AtomicU64,
    /// fdatasyncs of the WAL by the sync thread (SQLite FULL), and their time.
    pub wal_syncs: AtomicU64,
    pub wal_sync_micros_total: AtomicU64,
    /// SQLite WAL restarts by the writer, and the time they took.
    pub wal_restarts: AtomicU64,
    pub wal_restart_micros_total: AtomicU64,
}

struct Shared {
    backend: Backend,
    writers: Vec<Sender<Box<dyn WriteJob>>>,
    readers: Sender<ReadJob>,
    /// SQLite: the writer's queue of short reads. PostgreSQL has none: its
    /// readers run them.
    short_reads: Option<Sender<ReadJob>>,
    next_writer: AtomicUsize,
    /// Dropped to stop the SQLite checkpointer.
    checkpoint_stop: Option<Sender<()>>,
    stats: Arc<EngineStats>,
    /// Set when commits are pipelined (SQLite FULL).
    commit_seq: Option<Arc<CommitSeq>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    cleanup: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Closing the queues stops the threads; wait for them so that the
        // database is closed before cleanup (a test schema is dropped).
        self.writers.clear();
        self.checkpoint_stop = None;
        let (closed, _) = crossbeam_channel::bounded(1);
        self.readers = closed;
        self.short_reads = None;
        let me = std::thread::current().id();
        for handle in self.threads.lock().unwrap().drain(..) {
            if handle.thread().id() != me {
                let _ = handle.join();
            }
        }
        if let Some(cleanup) = self.cleanup.lock().unwrap().take() {
            cleanup();
        }
    }
}

/// A handle on the database; cheap to clone.
#[derive(Clone)]
pub struct Db {
    shared: Arc<Shared>,
}

/// A writer's connection. SQLite: the WAL is copied back by the
/// checkpointer thread, not by the writer at the commit that crosses the
/// WAL's size threshold (SQLite's default), and the writer restarts the WAL
/// when it is long (`restart_wal`); the WAL file is cut back to
/// `WAL_BYTES_KEPT` when it restarts.
fn connect_writer(location: &Location) -> DbResult<Box<dyn Tx + Send>> {
    match location {
        Location::Sqlite { path, synchronous, mmap_bytes } => {
            let mut conn = SqliteConn::open(path, *synchronous, *mmap_bytes, false)?;
            conn.track_wal_frames();
            conn.execute_batch(&format!("PRAGMA journal_size_limit={WAL_BYTES_KEPT};"))?;
            Ok(Box::new(conn))
        }
        Location::Postgres { .. } => connect(location, false),
    }
}

fn connect(location: &Location, read_only: bool) -> DbResult<Box<dyn Tx + Send>> {
    Ok(match location {
        Location::Sqlite { path, synchronous, mmap_bytes } => {
            Box::new(SqliteConn::open(path, *synchronous, *mmap_bytes, read_only)?)
        }
        Location::Postgres { url } => Box::new(PgConn::connect(url)?),
    })
}

impl Db {
    /// Opens the database, runs pending migrations and starts the DB threads.
    /// Blocks; from async code call it inside `spawn_blocking`.
    pub fn open(config: &DbConfig) -> DbResult<Db> {
        Db::open_with_cleanup(config, None)
    }

    pub(crate) fn open_with_cleanup(config: &DbConfig, cleanup: Option<Box<dyn FnOnce() + Send>>) -> DbResult<Db> {
        if let Location::Sqlite { path, .. } = &config.location
            && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| DbError::new(DbErrorKind::Unavailable, format!("cannot create {}: {e}", dir.display())))?;
        }
        let backend = config.backend();
        let writer_count = match backend {
            Backend::Sqlite => 1,
            Backend::Postgres => config.writers.clamp(1, 64),
        };
        let reader_count = config.readers.clamp(1, 64);
        let batch_max = config.batch_max.clamp(1, 10_000);
        let stats = Arc::new(EngineStats::default());
        let wal_frames_restart = config.wal_frames_restart.max(1);
        // Set by the writer while it waits to restart the WAL: the
        // checkpointer then leaves the WAL alone (a checkpoint does not wait
        // for another, so a long PASSIVE copy would make every restart
        // attempt answer busy).
        let restart_wanted = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        let mut writers = Vec::new();
        // SQLite's one writer runs the short reads (see `Db::read_short`);
        // PostgreSQL's readers do, its shared buffers being every
        // connection's cache.
        let (short_read_tx, mut short_read_rx) = match backend {
            Backend::Sqlite => {
                let (tx, rx) = crossbeam_channel::bounded::<ReadJob>(QUEUE_JOBS_MAX);
                (Some(tx), Some(rx))
            }
            Backend::Postgres => (None, None),
        };
        // SQLite FULL: the writer commits with NORMAL and the sync thread
        // makes each commit durable before anything that depends on it is
        // answered (see `sync_loop`).
        let (pipeline, sync_rx, writer_location) = match &config.location {
            Location::Sqlite { path, synchronous: Synchronous::Full, mmap_bytes } => {
                let (to_sync, sync_rx) = crossbeam_channel::unbounded::<SyncItem>();
                let pipeline = Pipeline { seq: Arc::new(CommitSeq::default()), to_sync };
                let location =
                    Location::Sqlite { path: path.clone(), synchronous: Synchronous::Normal, mmap_bytes: *mmap_bytes };
                (Some(pipeline), Some(sync_rx), location)
            }
            other => (None, None, other.clone()),
        };

        // Threads connect themselves (the PostgreSQL client starts its own
        // runtime, which must not happen on an async worker) and report back.
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<DbResult<()>>();
        for i in 0..writer_count {
            let (tx, rx) = crossbeam_channel::bounded::<Box<dyn WriteJob>>(QUEUE_JOBS_MAX);
            let location = writer_location.clone();
            let pipeline = pipeline.clone();
            let ready = ready_tx.clone();
            let stats = stats.clone();
            let restart_wanted = restart_wanted.clone();
            let short_reads = short_read_rx.take();
            let handle = std::thread::Builder::new()
                .name(format!("db-writer-{i}"))
                .spawn(move || {
                    let conn = connect_writer(&location).and_then(|mut c| {
                        if i == 0 {
                            migrate::run(&mut *c)?;
                        }
                        Ok(c)
                    });
                    match conn {
                        Ok(conn) => {
                            let _ = ready.send(Ok(()));
                            drop(ready);
                            if !set_thread_nice(WRITER_NICE) {
                                tracing::info!(
                                    nice = WRITER_NICE,
                                    "could not raise the writer's priority (needs CAP_SYS_NICE); it runs at the default"
                                );
                            }
                            writer_loop(
                                conn,
                                WriterQueues { jobs: rx, short_reads },
                                batch_max,
                                &stats,
                                wal_frames_restart,
                                &restart_wanted,
                                pipeline,
                            );
                        }
                        Err(e) => {
                            let _ = ready.send(Err(e));
                        }
                    }
                })
                .expect("spawn db writer");
            // Writer 0 migrates; the others must not start before it is done.
            if i == 0 {
                ready_rx.recv().expect("writer reports")?;
            }
            threads.push(handle);
            writers.push(tx);
        }
        // SQLite: the WAL is copied back into the database by a thread of
        // its own, not by the writer at the commit that crosses the WAL's
        // size threshold (SQLite's default). A checkpoint writes scattered
        // pages and fsyncs the database file: done on the writer it stalled
        // every job of the batch behind it (measured under `yibao sim load`:
        // 2204 p99 2.6–3.7 s with the writer checkpointing, under 0.2 s
        // with this thread).
        let mut checkpoint_stop = None;
        if let Location::Sqlite { path, synchronous, mmap_bytes } = &config.location {
            let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(1);
            let conn = SqliteConn::open(path, *synchronous, *mmap_bytes, false)?;
            // The database file, to flush what each checkpoint copied (see
            // `checkpoint_loop`); none when durability is off.
            let sync_file = match synchronous {
                Synchronous::Off => None,
                _ => Some(std::fs::File::open(path).map_err(|e| {
                    DbError::new(DbErrorKind::Unavailable, format!("open {} to sync it: {e}", path.display()))
                })?),
            };
            let restart_wanted = restart_wanted.clone();
            let handle = std::thread::Builder::new()
                .name("db-checkpoint".into())
                .spawn(move || checkpoint_loop(conn, sync_file, &restart_wanted, stop_rx))
                .expect("spawn db checkpointer");
            threads.push(handle);
            checkpoint_stop = Some(stop_tx);
        }
        let (read_tx, read_rx) = crossbeam_channel::bounded::<ReadJob>(QUEUE_JOBS_MAX);
        for i in 0..reader_count {
            let location = config.location.clone();
            let ready = ready_tx.clone();
            let rx = read_rx.clone();
            let stats = stats.clone();
            let pipeline = pipeline.clone();
            let handle = std::thread::Builder::new()
                .name(format!("db-reader-{i}"))
                .spawn(move || match connect(&location, true) {
                    Ok(conn) => {
                        let _ = ready.send(Ok(()));
                        drop(ready);
                        reader_loop(conn, rx, &stats, pipeline);
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                    }
                })
                .expect("spawn db reader");
            threads.push(handle);
        }
        drop(ready_tx);
        let commit_seq = pipeline.as_ref().map(|p| p.seq.clone());
        if let (Some(pipeline), Some(sync_rx), Location::Sqlite { path, .. }) = (pipeline, sync_rx, &config.location) {
            let seq = pipeline.seq.clone();
            // Only the writer and the readers send to the sync thread: it
            // stops when they have.
            drop(pipeline);
            let mut wal_path = path.clone().into_os_string();
            wal_path.push("-wal");
            let wal_path = PathBuf::from(wal_path);
            let stats = stats.clone();
            let handle = std::thread::Builder::new()
                .name("db-sync".into())
                .spawn(move || sync_loop(&wal_path, sync_rx, &seq, &stats))
                .expect("spawn db sync");
            threads.push(handle);
        }
        let shared = Shared {
            backend,
            writers,
            readers: read_tx,
            short_reads: short_read_tx,
            next_writer: AtomicUsize::new(0),
            checkpoint_stop,
            stats,
            commit_seq,
            threads: Mutex::new(threads),
            cleanup: Mutex::new(cleanup),
        };
        let mut first_error = None;
        for _ in 0..(writer_count - 1 + reader_count) {
            if let Err(e) = ready_rx.recv().expect("thread reports") {
                first_error.get_or_insert(e);
            }
        }
        let db = Db { shared: Arc::new(shared) };
        match first_error {
            Some(e) => Err(e),
            None => Ok(db),
        }
    }

    pub fn backend(&self) -> Backend {
        self.shared.backend
    }

    /// With pipelined commits (SQLite FULL): the number of COMMITs begun and
    /// the number known to be on disk. For tests and diagnostics.
    pub fn commit_sequence(&self) -> Option<(u64, u64)> {
        self.shared.commit_seq.as_ref().map(|s| (s.started.load(Ordering::SeqCst), s.synced.load(Ordering::SeqCst)))
    }

    pub fn stats(&self) -> &EngineStats {
        &self.shared.stats
    }

    /// Queue lengths (writers summed, readers) for /metrics.
    pub fn queue_lengths(&self) -> (usize, usize) {
        let short_reads = self.shared.short_reads.as_ref().map_or(0, Sender::len);
        (self.shared.writers.iter().map(Sender::len).sum(), self.shared.readers.len() + short_reads)
    }

    fn writer_for(&self, key: Option<u64>) -> &Sender<Box<dyn WriteJob>> {
        let n = self.shared.writers.len();
        let i = match key {
            Some(k) => (k % n as u64) as usize,
            None => self.shared.next_writer.fetch_add(1, Ordering::Relaxed) % n,
        };
        &self.shared.writers[i]
    }

    fn submit_write<T, E, F>(&self, key: Option<u64>, f: F) -> Result<oneshot::Receiver<Result<T, E>>, E>
    where
        T: Send + 'static,
        E: JobError,
        F: FnMut(&mut dyn Tx) -> Result<T, E> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let job: Box<dyn WriteJob> = Box::new(TypedJob { f, result: None, reply });
        self.writer_for(key).try_send(job).map_err(|e| {
            let reason = match e {
                crossbeam_channel::TrySendError::Full(_) => "write queue full: the database is overloaded",
                crossbeam_channel::TrySendError::Disconnected(_) => "database is shutting down",
            };
            E::from(DbError::new(DbErrorKind::Unavailable, reason))
        })?;
        Ok(rx)
    }

    /// Runs `f` in a write transaction. The closure may run more than once
    /// (after a deadlock or lock conflict), so it must not have side effects
    /// outside the transaction.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: JobError,
        F: FnMut(&mut dyn Tx) -> Result<T, E> + Send + 'static,
    {
        self.write_keyed_opt(None, f).await
    }

    /// Like [`Db::write`], always on the same writer for the same key.
    pub async fn write_keyed<T, E, F>(&self, key: u64, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: JobError,
        F: FnMut(&mut dyn Tx) -> Result<T, E> + Send + 'static,
    {
        self.write_keyed_opt(Some(key), f).await
    }

    async fn write_keyed_opt<T, E, F>(&self, key: Option<u64>, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: JobError,
        F: FnMut(&mut dyn Tx) -> Result<T, E> + Send + 'static,
    {
        let rx = self.submit_write(key, f)?;
        rx.await.unwrap_or_else(|_| Err(E::from(DbError::new(DbErrorKind::Unavailable, "database writer stopped"))))
    }

    /// Blocking form of [`Db::write`] for commands and tests outside a runtime.
    pub fn write_blocking<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: JobError,
        F: FnMut(&mut dyn Tx) -> Result<T, E> + Send + 'static,
    {
        self.write_keyed_blocking_opt(None, f)
    }

    /// Blocking form of [`Db::write_keyed`]: jobs with one key go to one writer.
    pub fn write_keyed_blocking<T, E, F>(&self, key: u64, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: JobError,
        F: FnMut(&mut dyn Tx) -> Result<T, E> + Send + 'static,
    {
        self.write_keyed_blocking_opt(Some(key), f)
    }

    fn write_keyed_blocking_opt<T, E, F>(&self, key: Option<u64>, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: JobError,
        F: FnMut(&mut dyn Tx) -> Result<T, E> + Send + 'static,
    {
        let rx = self.submit_write(key, f)?;
        rx.blocking_recv()
            .unwrap_or_else(|_| Err(E::from(DbError::new(DbErrorKind::Unavailable, "database writer stopped"))))
    }

    fn submit_read<T, E, F>(&self, queue: &Sender<ReadJob>, f: F) -> Result<oneshot::Receiver<Result<T, E>>, E>
    where
        T: Send + 'static,
        E: JobError,
        F: FnOnce(&mut dyn Tx) -> Result<T, E> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let job: ReadJob = Box::new(move |tx: &mut dyn Tx| {
            let r = read_transaction(tx, f);
            Box::new(move || {
                let _ = reply.send(r);
            })
        });
        queue.try_send(job).map_err(|_| {
            E::from(DbError::new(DbErrorKind::Unavailable, "read queue full or database shutting down"))
        })?;
        Ok(rx)
    }

    /// Runs `f` in a read-only transaction.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: JobError,
        F: FnOnce(&mut dyn Tx) -> Result<T, E> + Send + 'static,
    {
        self.read_on(&self.shared.readers, f).await
    }

    /// Blocking form of [`Db::read`] for commands and tests outside a runtime.
    pub fn read_blocking<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: JobError,
        F: FnOnce(&mut dyn Tx) -> Result<T, E> + Send + 'static,
    {
        self.read_on_blocking(&self.shared.readers, f)
    }

    /// Where short reads go: the SQLite writer's queue, else the readers'.
    fn short_read_queue(&self) -> &Sender<ReadJob> {
        self.shared.short_reads.as_ref().unwrap_or(&self.shared.readers)
    }

    async fn read_on<T, E, F>(&self, queue: &Sender<ReadJob>, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: JobError,
        F: FnOnce(&mut dyn Tx) -> Result<T, E> + Send + 'static,
    {
        let rx = self.submit_read(queue, f)?;
        rx.await.unwrap_or_else(|_| Err(E::from(DbError::new(DbErrorKind::Unavailable, "database reader stopped"))))
    }

    fn read_on_blocking<T, E, F>(&self, queue: &Sender<ReadJob>, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: JobError,
        F: FnOnce(&mut dyn Tx) -> Result<T, E> + Send + 'static,
    {
        let rx = self.submit_read(queue, f)?;
        rx.blocking_recv()
            .unwrap_or_else(|_| Err(E::from(DbError::new(DbErrorKind::Unavailable, "database reader stopped"))))
    }

    /// Runs `f` in a read-only transaction, as [`Db::read`], for a short read
    /// by key: a message of the settlement path that looks up a handful of
    /// rows (a person's coverage, a visit and its accumulators). SQLite runs
    /// it on the writer thread between batches, from the writer's page cache,
    /// which stays warm: a reader's cache is emptied whenever it begins a read
    /// transaction after a commit, so under load a reader reads every page it
    /// touches from the file again (docs/performance.md, twenty-first round:
    /// 6–15 % more settlements/s). PostgreSQL runs it on a reader.
    ///
    /// Never for a read that scans (lists, reports, reconciliation): while
    /// it runs, no write commits. The writer takes at most
    /// [`WRITER_SHORT_READS_PER_TURN_MAX`] between two batches.
    pub async fn read_short<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: JobError,
        F: FnOnce(&mut dyn Tx) -> Result<T, E> + Send + 'static,
    {
        self.read_on(self.short_read_queue(), f).await
    }

    /// [`Db::read_short`] from a thread that may block.
    pub fn read_short_blocking<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: JobError,
        F: FnOnce(&mut dyn Tx) -> Result<T, E> + Send + 'static,
    {
        self.read_on_blocking(self.short_read_queue(), f)
    }
}

/// Default of [`DbConfig::wal_frames_restart`] (64 MiB at 4 KiB pages).
pub const WAL_FRAMES_RESTART_DEFAULT: i64 = 16_384;
/// Bytes of WAL file kept when the WAL restarts (`journal_size_limit`).
const WAL_BYTES_KEPT: i64 = 64 * 1024 * 1024;

/// Restarts the SQLite WAL from its beginning. The checkpointer copies the
/// WAL back in PASSIVE mode, but under a steady stream of commits the WAL is
/// never entirely copied at the moment a transaction starts, and only then
/// does SQLite reuse it from the start: without this the WAL grows without
/// bound (measured: 270 MB in 30 s) and every read searches a longer
/// WAL index. RESTART runs on the writer between batches (so no write waits
/// on a lock); it copies the few frames the checkpointer has not, and waits
/// for the readers' short transactions to end.
///
/// Returns false when SQLite answered busy (the checkpointer was copying at
/// that moment: a checkpoint does not wait for another), so that the writer
/// tries again before its next batch rather than after another
/// `wal_frames_restart` frames.
fn restart_wal(conn: &mut dyn Tx, stats: &EngineStats) -> bool {
    let started = Instant::now();
    // The pragma answers one row (busy, frames in the WAL, frames copied).
    let busy = match conn.query_one("PRAGMA wal_checkpoint(RESTART)", &[]).and_then(|r| r.i64(0)) {
        Ok(busy) => busy != 0,
        Err(e) => {
            tracing::warn!(error = %e, "WAL restart failed; retried before the next batch");
            true
        }
    };
    if !busy {
        stats.wal_restarts.fetch_add(1, Ordering::Relaxed);
        stats.wal_restart_micros_total.fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
    }
    !busy
}

/// How often the checkpointer copies the WAL back: often enough that the
/// WAL stays a few MiB at thousands of commits a second, rarely enough that
/// a hot page is written back once for many commits.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(100);

/// Copies the WAL back into the database every `CHECKPOINT_INTERVAL`, in
/// PASSIVE mode: it never waits for or blocks the writer or the readers.
/// Stops, after a last checkpoint, when `stop` closes.
///
/// Each checkpoint is followed by an fdatasync of the database file
/// (`sync_file`). SQLite syncs the database only when a checkpoint copied the
/// whole WAL, which a passive one under steady writes never does, so every
/// page copied since the last WAL restart was flushed by the restart itself,
/// on the writer: measured at 1,000 visits/s, 39 restarts in 20 s took 23 ms
/// each, and every write queued behind them (the p99 of 2201 was 25 ms where
/// the writes' p90 was 4 ms). Flushed here, a restart finds little to sync.
fn checkpoint_loop(
    mut conn: SqliteConn,
    sync_file: Option<std::fs::File>,
    restart_wanted: &AtomicBool,
    stop: Receiver<()>,
) {
    let mut failing = false;
    loop {
        let stopping =
            matches!(stop.recv_timeout(CHECKPOINT_INTERVAL), Err(crossbeam_channel::RecvTimeoutError::Disconnected));
        if restart_wanted.load(Ordering::Relaxed) && !stopping {
            continue;
        }
        match conn.wal_checkpoint_passive().and_then(|()| match &sync_file {
            Some(file) => file
                .sync_data()
                .map_err(|e| DbError::new(DbErrorKind::Other, format!("sync of the database file: {e}"))),
            None => Ok(()),
        }) {
            Ok(()) => failing = false,
            Err(e) => {
                // One line per streak of failures, not one per tick.
                if !failing {
                    tracing::warn!(error = %e, "WAL checkpoint failed; the writer restarts the WAL past its limit");
                }
                failing = true;
            }
        }
        if stopping {
            return;
        }
    }
}

fn read_transaction<T, E: JobError>(tx: &mut dyn Tx, f: impl FnOnce(&mut dyn Tx) -> Result<T, E>) -> Result<T, E> {
    let begin = match tx.backend() {
        Backend::Sqlite => "BEGIN",
        Backend::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
    };
    tx.execute_batch(begin)?;
    let r = f(tx);
    // Nothing to keep: a read-only transaction ends the same either way.
    if let Err(e) = tx.end_read_transaction() {
        return Err(E::from(e));
    }
    r
}

fn count_prefetches(conn: &mut dyn Tx, stats: &EngineStats) {
    let counts = conn.take_prefetch_counts();
    if counts.sent > 0 {
        stats.prefetched_reads.fetch_add(counts.sent, Ordering::Relaxed);
        stats.prefetched_reads_used.fetch_add(counts.used, Ordering::Relaxed);
    }
}

/// Runs read jobs. With pipelined commits, a read's snapshot may hold a
/// commit that is not on disk yet: its answer is held until it is, so that
/// nobody is told of a settlement that a power loss could still undo (a HIS
/// that timed out on 2207 and asks with 5203 must not hear "settled" of a
/// settlement the sync has not kept).
fn reader_loop(mut conn: Box<dyn Tx + Send>, rx: Receiver<ReadJob>, stats: &EngineStats, pipeline: Option<Pipeline>) {
    while let Ok(job) = rx.recv() {
        run_read(&mut *conn, job, stats, pipeline.as_ref());
        // PostgreSQL: the job's ROLLBACK goes with the next job's first
        // statement if one is waiting; otherwise now, so that an idle
        // reader holds no snapshot (which would hold back VACUUM).
        if rx.is_empty()
            && let Err(e) = conn.flush()
        {
            tracing::warn!(error = %e, "ending a read transaction failed");
        }
    }
}

/// Runs a read job and releases its result, or has the sync thread hold it.
fn run_read(conn: &mut dyn Tx, job: ReadJob, stats: &EngineStats, pipeline: Option<&Pipeline>) {
    stats.read_jobs.fetch_add(1, Ordering::Relaxed);
    let release = job(conn);
    count_prefetches(conn, stats);
    match pipeline {
        None => release(),
        Some(p) => hold_until_synced(p, stats, release),
    }
}

/// Short reads the SQLite writer runs between two batches at most, so that
/// writes never wait behind a long queue of reads (at about 30 µs a read,
/// about 2 ms).
pub const WRITER_SHORT_READS_PER_TURN_MAX: usize = 64;

/// A short read on the writer's connection (`Db::read_short`), which refuses
/// writes while it runs.
fn run_short_read_on_writer(conn: &mut dyn Tx, job: ReadJob, stats: &EngineStats, pipeline: Option<&Pipeline>) {
    let started = Instant::now();
    conn.set_query_only(true);
    run_read(conn, job, stats, pipeline);
    conn.set_query_only(false);
    stats.writer_reads.fetch_add(1, Ordering::Relaxed);
    stats.writer_read_micros_total.fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
}

/// Releases a read's result, or hands it to the sync thread if its snapshot
/// may hold a commit that is not on disk yet.
fn hold_until_synced(p: &Pipeline, stats: &EngineStats, release: Release) {
    // Read after the transaction ended: every commit its snapshot holds
    // was begun, and counted, before.
    let seq = p.seq.started.load(Ordering::SeqCst);
    if seq <= p.seq.synced.load(Ordering::SeqCst) {
        release();
        return;
    }
    stats.reads_held.fetch_add(1, Ordering::Relaxed);
    if let Err(crossbeam_channel::SendError(SyncItem::Read { release, .. })) =
        p.to_sync.send(SyncItem::Read { seq, release })
    {
        release(); // the engine is stopping
    }
}

/// The sync thread of pipelined commits (SQLite FULL). Takes every batch the
/// writer has committed since its last sync, fdatasyncs the WAL once for all
/// of them (group commit across batches, while the writer runs the next),
/// then releases their results and the reads waiting for them.
///
/// A failed sync stops the process: after a failed fsync the kernel may have
/// dropped the dirty pages, so what is on disk is unknown, and answering
/// anything more could acknowledge a settlement that is not kept. Restarting
/// recovers from the WAL, as after a crash (PostgreSQL does the same).
fn sync_loop(wal_path: &std::path::Path, rx: Receiver<SyncItem>, seq: &CommitSeq, stats: &EngineStats) {
    let mut wal: Option<std::fs::File> = None;
    let mut held: Vec<(u64, Release)> = Vec::new();
    let mut batches: Vec<Committed> = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut synced_to = 0;
        for item in std::iter::once(first).chain(rx.try_iter()) {
            match item {
                SyncItem::Batch { seq: s, jobs, result } => {
                    synced_to = synced_to.max(s);
                    batches.push((jobs, result));
                }
                SyncItem::Read { seq: s, release } => held.push((s, release)),
            }
        }
        if !batches.is_empty() {
            let started = Instant::now();
            // Every batch taken here was sent after its COMMIT returned, so
            // its frames are in the WAL file and this sync covers them.
            if let Err(e) = sync_wal(&mut wal, wal_path) {
                tracing::error!(error = %e, path = %wal_path.display(), "WAL sync failed: stopping");
                std::process::abort();
            }
            stats.wal_syncs.fetch_add(1, Ordering::Relaxed);
            stats.wal_sync_micros_total.fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
            seq.synced.fetch_max(synced_to, Ordering::SeqCst);
            for (jobs, result) in batches.drain(..) {
                finish(jobs, &result);
            }
        }
        let synced = seq.synced.load(Ordering::SeqCst);
        for (_, release) in held.extract_if(.., |(s, _)| *s <= synced) {
            release();
        }
    }
    // The writer and the readers have stopped: nothing more will commit.
    for (_, release) in held {
        release();
    }
}

/// fdatasyncs the WAL file, opened on first use (SQLite creates it) and
/// reopened if it is no longer the file at `path`. Any descriptor of a file
/// flushes the file's pages, so SQLite's own need not be reached.
fn sync_wal(wal: &mut Option<std::fs::File>, path: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    if let Some(file) = wal.as_ref() {
        use std::os::unix::fs::MetadataExt;
        let (ours, named) = (file.metadata()?, std::fs::metadata(path)?);
        if (ours.dev(), ours.ino()) != (named.dev(), named.ino()) {
            *wal = None;
        }
    }
    if wal.is_none() {
        *wal = Some(std::fs::File::open(path)?);
    }
    wal.as_ref().expect("opened").sync_data()
}

/// The nice value writer threads ask for. Every write job waits for a
/// writer, so when the cores are contended it should run first: measured
/// under load on 2 cores, the writer spent a third of its time waiting in
/// the run queue at the default priority (docs/performance.md). Raising a
/// priority needs CAP_SYS_NICE (or root); without it the writer stays at 0.
pub const WRITER_NICE: i32 = -10;

/// Sets the calling thread's nice value (Linux: per thread; threads it
/// spawns afterwards inherit it). Returns false when not permitted or not
/// supported.
pub fn set_thread_nice(nice: i32) -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid and setpriority take plain integers and touch no
        // memory of ours; setpriority on our own thread id only changes its
        // scheduling weight.
        unsafe {
            let tid = libc::gettid();
            libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice) == 0
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = nice;
        false
    }
}

/// What a writer takes work from: its write jobs and (SQLite) the short reads.
struct WriterQueues {
    jobs: Receiver<Box<dyn WriteJob>>,
    short_reads: Option<Receiver<ReadJob>>,
}

fn writer_loop(
    mut conn: Box<dyn Tx + Send>,
    queues: WriterQueues,
    batch_max: usize,
    stats: &EngineStats,
    wal_frames_restart: i64,
    restart_wanted: &AtomicBool,
    pipeline: Option<Pipeline>,
) {
    let WriterQueues { jobs: rx, mut short_reads } = queues;
    let mut optimistic = true;
    loop {
        // Wait for a write job or (SQLite) a short read, whichever comes.
        let mut first = None;
        match &short_reads {
            None => match rx.recv() {
                Ok(job) => first = Some(job),
                Err(_) => break,
            },
            Some(reads) => crossbeam_channel::select! {
                recv(rx) -> m => match m {
                    Ok(job) => first = Some(job),
                    Err(_) => break,
                },
                recv(reads) -> m => match m {
                    Ok(job) => run_short_read_on_writer(&mut *conn, job, stats, pipeline.as_ref()),
                    Err(_) => short_reads = None, // the engine is stopping
                },
            },
        }
        // The short reads waiting now, then the write jobs waiting now.
        if let Some(reads) = &short_reads {
            for job in reads.try_iter().take(WRITER_SHORT_READS_PER_TURN_MAX) {
                run_short_read_on_writer(&mut *conn, job, stats, pipeline.as_ref());
            }
        }
        let Some(first) = first.or_else(|| rx.try_recv().ok()) else { continue };
        // Only SQLite writers track frames; elsewhere this stays 0.
        if crate::sqlite::wal_frames_committed() > wal_frames_restart {
            restart_wanted.store(true, Ordering::Relaxed);
            if restart_wal(&mut *conn, stats) {
                crate::sqlite::reset_wal_frames();
                restart_wanted.store(false, Ordering::Relaxed);
            }
        }
        let mut batch = vec![first];
        while batch.len() < batch_max {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        stats.write_batches.fetch_add(1, Ordering::Relaxed);
        stats.write_jobs.fetch_add(batch.len() as u64, Ordering::Relaxed);
        let started = Instant::now();
        // After a batch with a failed job, the next one starts with
        // savepoints: failures come in runs (a misconfigured HIS), and
        // each optimistic failure costs a rerun.
        let commit_seq = pipeline.as_ref().map(|p| &p.seq.started);
        let (jobs, result, failed) = run_batch(&mut *conn, batch, stats, optimistic, commit_seq);
        count_prefetches(&mut *conn, stats);
        optimistic = !failed;
        stats.batch_micros_total.fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        // Every result waits for the sync, failures too: a job may have
        // failed because of what an earlier batch, not yet on disk, wrote.
        match &pipeline {
            None => finish(jobs, &result),
            Some(p) => {
                let seq = p.seq.started.load(Ordering::SeqCst);
                if let Err(crossbeam_channel::SendError(SyncItem::Batch { jobs, .. })) =
                    p.to_sync.send(SyncItem::Batch { seq, jobs, result })
                {
                    let stopped = DbError::new(DbErrorKind::Unavailable, "database sync thread stopped");
                    finish(jobs, &Err(stopped));
                }
            }
        }
    }
}

/// How a batch attempt ended.
enum Attempt {
    /// Committed, or (a batch of one whose job failed) rolled back;
    /// `failed`: a job of the batch failed.
    Done { failed: bool },
    /// A lock conflict: roll back, wait, run the batch again.
    Conflict,
    /// A job failed in a batch run without savepoints: roll back and run the
    /// batch again with a savepoint per job.
    Isolate,
}

fn finish(jobs: Vec<Box<dyn WriteJob>>, result: &Result<(), DbError>) {
    for job in jobs {
        job.finish(result.clone());
    }
}

/// Runs a batch in one transaction and commits it. Returns the jobs, to be
/// finished with the commit's result, and whether a job (or the whole
/// batch) failed. `commit_seq` counts each COMMIT before it runs.
///
/// A savepoint per job lets one job fail without undoing the others, but it
/// costs: SQLite copies every page a job touches into the statement journal
/// first (about a tenth of the writer's time under load). Failures are rare
/// in steady operation, so the batch first runs without savepoints
/// (`optimistic`); a failure rolls it all back and reruns it with them.
/// Jobs may run more than once (see `Db::write`), so this is safe; a job sees
/// the same state on the rerun because the jobs before it run again in the
/// same order.
fn run_batch(
    conn: &mut dyn Tx,
    mut batch: Vec<Box<dyn WriteJob>>,
    stats: &EngineStats,
    optimistic: bool,
    commit_seq: Option<&AtomicU64>,
) -> (Vec<Box<dyn WriteJob>>, Result<(), DbError>, bool) {
    let begin = match conn.backend() {
        Backend::Sqlite => "BEGIN IMMEDIATE",
        Backend::Postgres => "BEGIN",
    };
    let jobs = batch.len();
    let mut savepoints = jobs > 1 && !optimistic;
    let mut attempt = 0;
    let (commit_result, any_failed) = loop {
        attempt += 1;
        let attempt_result = (|| -> DbResult<Attempt> {
            conn.execute_batch(begin)?;
            let mut failed = 0;
            for job in batch.iter_mut() {
                if savepoints {
                    conn.execute_batch("SAVEPOINT job")?;
                }
                let mut job_tx = JobTx { inner: &mut *conn, failed: None };
                let mut outcome = job.run(&mut job_tx);
                // The job's deferred writes (PostgreSQL) are sent now, so
                // that their errors are the job's, not the next job's.
                let _ = job_tx.flush();
                if let (Outcome::Ok, Some(e)) = (&outcome, job_tx.failed.take()) {
                    // A deferred write that found another writer first
                    // (`RowsExpected` Retryable) reruns the batch, as the
                    // job itself would have asked.
                    outcome = if e.is_retryable() { Outcome::Retry } else { Outcome::Failed };
                    job.poison(e);
                }
                match outcome {
                    Outcome::Ok => {
                        if savepoints {
                            conn.execute_batch("RELEASE SAVEPOINT job")?;
                        }
                    }
                    Outcome::Failed if !savepoints && jobs > 1 => {
                        // Its partial writes are mixed with the others':
                        // only a rollback of the whole batch removes them.
                        conn.execute_batch("ROLLBACK")?;
                        return Ok(Attempt::Isolate);
                    }
                    Outcome::Failed => {
                        failed += 1;
                        if savepoints {
                            conn.execute_batch("ROLLBACK TO SAVEPOINT job; RELEASE SAVEPOINT job")?;
                        }
                    }
                    Outcome::Retry => {
                        conn.execute_batch("ROLLBACK")?;
                        return Ok(Attempt::Conflict);
                    }
                }
            }
            stats.write_jobs_failed.fetch_add(failed, Ordering::Relaxed);
            if !savepoints && failed > 0 {
                // A batch of one whose job failed: nothing to commit.
                conn.execute_batch("ROLLBACK")?;
                return Ok(Attempt::Done { failed: true });
            }
            let started = Instant::now();
            if let Some(seq) = commit_seq {
                seq.fetch_add(1, Ordering::SeqCst);
            }
            conn.execute_batch("COMMIT")?;
            stats.commit_micros_total.fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
            Ok(Attempt::Done { failed: failed > 0 })
        })();
        match attempt_result {
            Ok(Attempt::Done { failed }) => break (Ok(()), failed),
            Ok(Attempt::Isolate) => {
                stats.write_isolations.fetch_add(1, Ordering::Relaxed);
                savepoints = true;
                // Not a conflict: the rerun does not count as an attempt.
                attempt -= 1;
            }
            Ok(Attempt::Conflict) if attempt < BATCH_ATTEMPTS_MAX => {
                stats.write_retries.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(2 * u64::from(attempt)));
            }
            Ok(Attempt::Conflict) => {
                break (Err(DbError::new(DbErrorKind::Retryable, "gave up after repeated lock conflicts")), true);
            }
            Err(e) => {
                // The transaction may or may not still be open.
                let _ = conn.execute_batch("ROLLBACK");
                if e.is_retryable() && attempt < BATCH_ATTEMPTS_MAX {
                    stats.write_retries.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(2 * u64::from(attempt)));
                    continue;
                }
                tracing::error!(error = %e, jobs = batch.len(), "write batch failed");
                break (Err(e), true);
            }
        }
    };
    (batch, commit_result, any_failed)
}
