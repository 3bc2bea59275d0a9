//! Liveness, readiness and metrics.

use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` when the database answers, `degraded` otherwise.
    pub status: &'static str,
    pub database: String,
    pub backend: &'static str,
    pub version: &'static str,
    pub uptime_seconds: u64,
}

/// Liveness and database readiness: 200 when the database answers, 503 when not.
#[utoipa::path(get, path = "/health", tag = "system",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn health(State(state): State<AppState>) -> Response {
    let db = state.app.check_database().await;
    let body = Health {
        status: if db.is_ok() { "ok" } else { "degraded" },
        database: match &db {
            Ok(()) => "ok".into(),
            Err(e) => e.to_string(),
        },
        backend: state.app.db.backend().name(),
        version: env!("CARGO_PKG_VERSION"),
        uptime_seconds: state.started.elapsed().as_secs(),
    };
    let status = if db.is_ok() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(body)).into_response()
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "system", responses((status = 200, body = String, content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let stats = state.app.db.stats();
    let (write_queue, read_queue) = state.app.db.queue_lengths();
    let lines = &state.app.lines;
    let (cached_visits, cached_lines) = lines.size();
    let extra = format!(
        "# HELP yibao_db_write_batches_total Write transactions committed or attempted.\n\
         # TYPE yibao_db_write_batches_total counter\nyibao_db_write_batches_total {}\n\
         # HELP yibao_db_write_jobs_total Write jobs (business transactions) run.\n\
         # TYPE yibao_db_write_jobs_total counter\nyibao_db_write_jobs_total {}\n\
         # HELP yibao_db_write_jobs_failed_total Write jobs rolled back.\n\
         # TYPE yibao_db_write_jobs_failed_total counter\nyibao_db_write_jobs_failed_total {}\n\
         # HELP yibao_db_write_retries_total Batches retried after a lock conflict.\n\
         # TYPE yibao_db_write_retries_total counter\nyibao_db_write_retries_total {}\n\
         # HELP yibao_db_write_isolations_total Batches rerun with a savepoint per job after a job failed.\n\
         # TYPE yibao_db_write_isolations_total counter\nyibao_db_write_isolations_total {}\n\
         # HELP yibao_db_commit_seconds_total Time spent committing.\n\
         # TYPE yibao_db_commit_seconds_total counter\nyibao_db_commit_seconds_total {}\n\
         # HELP yibao_db_write_busy_seconds_total Time writers spent running batches, commits included.\n\
         # TYPE yibao_db_write_busy_seconds_total counter\nyibao_db_write_busy_seconds_total {}\n\
         # HELP yibao_db_wal_restarts_total SQLite WAL restarts by the writer.\n\
         # TYPE yibao_db_wal_restarts_total counter\nyibao_db_wal_restarts_total {}\n\
         # HELP yibao_db_wal_restart_seconds_total Time the writer spent restarting the WAL.\n\
         # TYPE yibao_db_wal_restart_seconds_total counter\nyibao_db_wal_restart_seconds_total {}\n\
         # HELP yibao_db_wal_syncs_total SQLite FULL: fdatasyncs of the WAL by the sync thread (pipelined commit).\n\
         # TYPE yibao_db_wal_syncs_total counter\nyibao_db_wal_syncs_total {}\n\
         # HELP yibao_db_wal_sync_seconds_total Time the sync thread spent in those fdatasyncs.\n\
         # TYPE yibao_db_wal_sync_seconds_total counter\nyibao_db_wal_sync_seconds_total {}\n\
         # HELP yibao_db_read_jobs_total Read jobs run.\n\
         # TYPE yibao_db_read_jobs_total counter\nyibao_db_read_jobs_total {}\n\
         # HELP yibao_db_writer_reads_total SQLite: short reads by key run by the writer between batches.\n\
         # TYPE yibao_db_writer_reads_total counter\nyibao_db_writer_reads_total {}\n\
         # HELP yibao_db_writer_read_seconds_total Time the writer spent in those reads.\n\
         # TYPE yibao_db_writer_read_seconds_total counter\nyibao_db_writer_read_seconds_total {}\n\
         # HELP yibao_db_reads_held_total Reads whose answer waited for the WAL sync of a commit they saw.\n\
         # TYPE yibao_db_reads_held_total counter\nyibao_db_reads_held_total {}\n\
         # HELP yibao_db_prefetched_reads_total PostgreSQL: reads sent ahead by jobs in one round trip.\n\
         # TYPE yibao_db_prefetched_reads_total counter\nyibao_db_prefetched_reads_total {}\n\
         # HELP yibao_db_prefetched_reads_used_total Of those, the reads that answered a query of the job.\n\
         # TYPE yibao_db_prefetched_reads_used_total counter\nyibao_db_prefetched_reads_used_total {}\n\
         # HELP yibao_db_queue_jobs Jobs waiting for a DB thread.\n\
         # TYPE yibao_db_queue_jobs gauge\nyibao_db_queue_jobs{{kind=\"write\"}} {write_queue}\n\
         yibao_db_queue_jobs{{kind=\"read\"}} {read_queue}\n\
         # HELP yibao_line_cache_hits_total Visits' fee lines answered from the line cache (2206/2207, 2303/2304).\n\
         # TYPE yibao_line_cache_hits_total counter\nyibao_line_cache_hits_total {}\n\
         # HELP yibao_line_cache_misses_total Visits' fee lines read from the database instead.\n\
         # TYPE yibao_line_cache_misses_total counter\nyibao_line_cache_misses_total {}\n\
         # HELP yibao_line_cache_visits Visits whose lines the cache holds.\n\
         # TYPE yibao_line_cache_visits gauge\nyibao_line_cache_visits {cached_visits}\n\
         # HELP yibao_line_cache_lines Fee lines the cache holds.\n\
         # TYPE yibao_line_cache_lines gauge\nyibao_line_cache_lines {cached_lines}\n",
        stats.write_batches.load(Ordering::Relaxed),
        stats.write_jobs.load(Ordering::Relaxed),
        stats.write_jobs_failed.load(Ordering::Relaxed),
        stats.write_retries.load(Ordering::Relaxed),
        stats.write_isolations.load(Ordering::Relaxed),
        stats.commit_micros_total.load(Ordering::Relaxed) as f64 / 1e6,
        stats.batch_micros_total.load(Ordering::Relaxed) as f64 / 1e6,
        stats.wal_restarts.load(Ordering::Relaxed),
        stats.wal_restart_micros_total.load(Ordering::Relaxed) as f64 / 1e6,
        stats.wal_syncs.load(Ordering::Relaxed),
        stats.wal_sync_micros_total.load(Ordering::Relaxed) as f64 / 1e6,
        stats.read_jobs.load(Ordering::Relaxed),
        stats.writer_reads.load(Ordering::Relaxed),
        stats.writer_read_micros_total.load(Ordering::Relaxed) as f64 / 1e6,
        stats.reads_held.load(Ordering::Relaxed),
        stats.prefetched_reads.load(Ordering::Relaxed),
        stats.prefetched_reads_used.load(Ordering::Relaxed),
        lines.hits(),
        lines.misses(),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render(&extra)).into_response()
}
