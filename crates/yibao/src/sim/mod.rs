//! `yibao sim`: population generator, load generator, verification,
//! history loader and the storage baseline. See docs/performance.md.

mod calibrate;
mod http;
mod load;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Subcommand;
use serde_json::json;
use yibao_app::sim::{Acks, VerifyReport};
use yibao_app::{App, AppConfig, AppError};
use yibao_store::{Db, Tx};

use crate::config::{DbArgs, FileConfig};

/// Outputs of a real run (`sim load --record-outputs`), one per transaction
/// code, answered by `sim echo`.
const ECHO_OUTPUTS: &str = include_str!("echo_outputs.json");

/// Parses an outputs file: a JSON object from transaction code to output.
fn echo_outputs(text: &str) -> Result<yibao_http::fsi::echo::Outputs, String> {
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|e| format!("outputs: not a JSON object of outputs by code: {e}"))?;
    if map.is_empty() {
        return Err("outputs: no transaction code".into());
    }
    Ok(map.into_iter().map(|(code, output)| (code, output.to_string())).collect())
}

/// Persons the load generator reads from the database at most.
const LOAD_PERSONS_MAX: i64 = 200_000;
const DURATION_SECS_MAX: u64 = 3_600;

#[derive(Subcommand, Debug)]
pub enum SimCommand {
    /// Bulk-load a simulated pooling region (宁波 330200 rules) into an
    /// empty database: persons with an age pyramid, in-service / retired /
    /// resident mix, employers, households, personal accounts, hospitals of
    /// every level and pharmacies. Deterministic for a seed.
    #[command(after_help = "Examples:\n  yibao sim populate --data-dir /tmp/sim --persons 1000000 --seed 1\n  \
                            yibao sim populate --database-url postgres://postgres@127.0.0.1:5432/sim --persons 100000")]
    Populate {
        #[arg(long, default_value_t = 100_000)]
        persons: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Run simulated HIS clients against a running `yibao serve` over the
    /// national interface, report throughput and latency per transaction
    /// code, then verify the database. Exits 1 if verification fails.
    #[command(
        after_help = "Examples:\n  yibao sim load --url http://127.0.0.1:8080 --data-dir /tmp/sim --clients 32 --duration 30\n  \
                            yibao sim load --url http://127.0.0.1:8080 --data-dir /tmp/sim --rate 1000 --out results/run.json"
    )]
    Load {
        /// The server's base URL (http://host:port).
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        /// Concurrent simulated HIS clients (each one connection).
        #[arg(long, default_value_t = 32)]
        clients: usize,
        /// Seconds to run.
        #[arg(long, default_value_t = 30)]
        duration: u64,
        /// Visits per second over all clients (open loop); closed loop at maximum when absent.
        #[arg(long)]
        rate: Option<f64>,
        #[arg(long, default_value_t = 0.02)]
        cancel_share: f64,
        /// Share of settlements whose answer is treated as lost and reversed with 2601.
        #[arg(long, default_value_t = 0.01)]
        reversal_share: f64,
        /// Share of hospital visits that are admissions (2401 … 2304).
        #[arg(long, default_value_t = 0.03)]
        inpatient_share: f64,
        /// Share of clients that are pharmacies (2101/2102).
        #[arg(long, default_value_t = 0.0)]
        pharmacy_share: f64,
        /// Fee lines per outpatient visit.
        #[arg(long, default_value_t = 10)]
        lines: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Seconds of the storage baseline measured before the run (0: none).
        #[arg(long, default_value_t = 5)]
        baseline_seconds: u64,
        /// The server's process id, to report its peak memory.
        #[arg(long)]
        server_pid: Option<u32>,
        /// Write the results as JSON to this file.
        #[arg(long)]
        out: Option<PathBuf>,
        /// A label for the results.
        #[arg(long, default_value = "")]
        label: String,
        /// The server is `yibao sim echo`, which stores nothing: the run
        /// measures the floor (HTTP, the envelope, this load generator) and
        /// is not verified; its results say so.
        #[arg(long)]
        echo: bool,
        /// Write the first successful output of each transaction code to
        /// this file, as `yibao sim echo --outputs` reads it.
        #[arg(long)]
        record_outputs: Option<PathBuf>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Serve the national interface without the platform: every message is
    /// parsed as `yibao serve` parses it and answered with a recorded output
    /// of its transaction code; nothing is stored. `yibao sim load --echo`
    /// against it measures the floor under any settlement rate.
    #[command(after_help = "Example:\n  yibao sim echo --listen 127.0.0.1:18190 &\n  \
                            yibao sim load --url http://127.0.0.1:18190 --data-dir /tmp/sim --echo --clients 64")]
    Echo {
        #[arg(long, default_value = "127.0.0.1:18190")]
        listen: String,
        /// Outputs by transaction code (JSON object), as `sim load
        /// --record-outputs` writes them; the ones recorded in the repository
        /// (`crates/yibao/src/sim/echo_outputs.json`) when absent.
        #[arg(long)]
        outputs: Option<PathBuf>,
    },
    /// Verify a database: ledger, accumulators, accounts, reversals (and the
    /// acknowledgements of a run with --acks). Exits 1 if any check fails.
    #[command(after_help = "Example:\n  yibao sim verify --data-dir /tmp/sim")]
    Verify {
        /// JSON file of acknowledgements written by `sim load --out`.
        #[arg(long)]
        acks: Option<PathBuf>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Bulk-load settlement history (marked as history) to measure throughput on a full table.
    #[command(after_help = "Example:\n  yibao sim history --data-dir /tmp/sim --count 10000000")]
    History {
        #[arg(long)]
        count: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[command(flatten)]
        db: DbArgs,
    },
}

async fn open(db: &DbArgs) -> Result<(Db, String), String> {
    let file = FileConfig::load(db.config.as_ref())?;
    crate::open_db(db, &file).await
}

fn verify_output(report: &VerifyReport) {
    for c in &report.checks {
        println!("  {} {:<56} {}", if c.ok { "✓" } else { "✗" }, c.name, c.detail);
    }
    println!(
        "  settlements {}  reversals {}  history rows {}  accumulators {}",
        report.settlements, report.reversals, report.history_rows, report.accumulators_checked
    );
    println!("{}", if report.ok { "校验通过 verification passed" } else { "校验失败 verification FAILED" });
}

async fn verify(db: &Db, acks: Acks) -> Result<VerifyReport, String> {
    db.read(move |tx: &mut dyn Tx| yibao_app::sim::verify_in(tx, &acks)).await.map_err(|e: AppError| e.to_string())
}

/// The storage baseline: one-row insert-and-commit transactions through the
/// same engine and settings, one at a time and with 64 concurrent callers
/// (group commit).
async fn baseline(db: &Db, seconds: u64) -> Result<serde_json::Value, String> {
    db.write(|tx: &mut dyn Tx| yibao_store::sim::baseline_prepare(tx)).await.map_err(|e| e.to_string())?;
    let span = Duration::from_secs(seconds);
    let started = Instant::now();
    let mut lat = Vec::new();
    while started.elapsed() < span {
        let t = Instant::now();
        let id = yibao_store::ids::next_id();
        db.write(move |tx: &mut dyn Tx| yibao_store::sim::baseline_insert(tx, id, yibao_store::now_ms()))
            .await
            .map_err(|e| e.to_string())?;
        lat.push(t.elapsed().as_micros() as u32);
    }
    let serial_secs = started.elapsed().as_secs_f64();
    let serial = load::latency(lat, serial_secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while started.elapsed() < span {
                let id = yibao_store::ids::next_id();
                if db
                    .write(move |tx: &mut dyn Tx| yibao_store::sim::baseline_insert(tx, id, yibao_store::now_ms()))
                    .await
                    .is_err()
                {
                    break;
                }
                n += 1;
            }
            n
        }));
    }
    let mut grouped = 0;
    for t in tasks {
        grouped += t.await.map_err(|e| e.to_string())?;
    }
    let grouped_secs = started.elapsed().as_secs_f64();
    db.write(|tx: &mut dyn Tx| yibao_store::sim::baseline_drop(tx)).await.map_err(|e| e.to_string())?;
    Ok(json!({
        "method": "one-row INSERT + COMMIT through the engine, same database and settings",
        "serial_commits_per_s": serial.per_s,
        "serial_p50_ms": serial.p50_ms,
        "serial_p99_ms": serial.p99_ms,
        "grouped_64_callers_commits_per_s": grouped as f64 / grouped_secs,
    }))
}

/// The database's durability settings, as the server runs with them.
async fn settings(db: &Db, description: &str) -> serde_json::Value {
    let pg = db.backend() == yibao_store::Backend::Postgres;
    let shown = db
        .read(move |tx: &mut dyn Tx| {
            let mut out = serde_json::Map::new();
            let names: &[&str] = if pg {
                &["fsync", "synchronous_commit", "wal_sync_method", "full_page_writes", "server_version"]
            } else {
                &["journal_mode", "synchronous"]
            };
            for name in names {
                let sql = if pg { format!("SHOW {name}") } else { format!("PRAGMA {name}") };
                let r = tx.query_one(&sql, yibao_store::params![])?;
                let v = match r.value(0) {
                    yibao_store::Value::Text(s) => s.clone(),
                    other => format!("{other:?}"),
                };
                out.insert((*name).to_owned(), json!(v));
            }
            Ok::<_, yibao_store::DbError>(out)
        })
        .await
        .unwrap_or_default();
    json!({"database": description, "settings": shown})
}

fn machine() -> serde_json::Value {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().next().map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_owned()))
        .and_then(|k| k.parse::<u64>().ok())
        .unwrap_or(0);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    json!({"cores": cores, "memory_gib": mem / 1024 / 1024, "loadavg_at_end": load.trim(), "os": std::env::consts::OS})
}

/// CPU time (user + system) a process has used so far, in seconds, from
/// `/proc/<pid>/stat` (fields 14 and 15, in clock ticks). `None` off Linux.
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count fields after its ')'.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    // SAFETY: sysconf only reads a constant of the running system.
    let ticks_per_s = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (ticks_per_s > 0).then(|| (utime + stime) as f64 / ticks_per_s as f64)
}

/// A field of a `/proc/<pid>/status` text in KiB (`VmHWM`, `RssAnon`, `RssFile`).
fn status_kib(status: &str, field: &str) -> Option<u64> {
    status
        .lines()
        .find(|l| l.strip_prefix(field).is_some_and(|rest| rest.starts_with(':')))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

async fn load_inputs(db: &Db) -> Result<(Vec<load::SimPerson>, Vec<load::Institution>, load::Catalog), String> {
    let today = load::today();
    db.read(move |tx: &mut dyn Tx| {
        let mut persons = Vec::new();
        let mut after = String::new();
        while (persons.len() as i64) < LOAD_PERSONS_MAX {
            let page = yibao_store::sim::persons_page(tx, yibao_app::sim::SIM_REGION, &after, 10_000)?;
            let Some(last) = page.last() else { break };
            after = last.psn_no.clone();
            for p in page {
                let age = yibao_domain::ResidentId::parse(&p.certno).map(|id| id.age_on(today)).unwrap_or(40);
                let weight = yibao_app::sim::profile(&p.psn_no, age).visits_per_year;
                persons.push(load::SimPerson {
                    psn_no: p.psn_no,
                    certno: p.certno,
                    insutype: p.insutype,
                    has_account: p.has_account,
                    weight,
                });
            }
        }
        let institutions = yibao_store::sim::institutions(tx, "3302")?
            .into_iter()
            .map(|(code, kind, _)| load::Institution { code, pharmacy: kind == "pharmacy" })
            .collect();
        let class_c: std::collections::HashSet<String> = tx
            .query("SELECT code FROM catalog_override WHERE code IS NOT NULL AND class = '03'", yibao_store::params![])?
            .iter()
            .map(|r| r.text(0))
            .collect::<Result<_, _>>()?;
        let mut catalog = load::Catalog::default();
        for list_type in ["101", "201", "301"] {
            for item in yibao_store::sim::billable_items(tx, list_type, today, 5_000)? {
                if item.class.is_none() && list_type == "101" {
                    continue;
                }
                let (pric, max_cnt) = load::price_of(&item.code, list_type);
                let entry = load::Item { code: item.code.clone(), pric, max_cnt };
                match list_type {
                    "201" => catalog.services.push(entry),
                    "301" => catalog.consumables.push(entry),
                    _ if class_c.contains(&item.code) => catalog.drugs_c.push(entry),
                    _ if item.class.as_deref() == Some("01") => catalog.drugs_a.push(entry),
                    _ => catalog.drugs_b.push(entry),
                }
            }
        }
        Ok::<_, yibao_store::DbError>((persons, institutions, catalog))
    })
    .await
    .map_err(|e| e.to_string())
}

pub async fn run(command: SimCommand) -> Result<(), String> {
    match command {
        SimCommand::Populate { persons, seed, db } => {
            let (database, description) = open(&db).await?;
            let app = App::start(database, AppConfig::default()).await.map_err(|e| e.to_string())?;
            let today = load::today();
            let r = yibao_app::sim::populate(&app, seed, persons, today).await.map_err(|e| e.to_string())?;
            println!("{description}");
            println!(
                "模拟统筹区 {} seed {}: {} 人（在职 {}，退休 {}，居民 {}；慢病 {}），{} 户，{} 个单位，{} 个个人账户，\
                 医院 {:?}，药店 {}，丙类药品 {} 种，用时 {:.1} s",
                r.region,
                r.seed,
                r.persons,
                r.employees_active,
                r.employees_retired,
                r.residents,
                r.chronic,
                r.households,
                r.employers,
                r.accounts,
                r.hospitals_by_level,
                r.pharmacies,
                r.catalog_class_c_items,
                r.elapsed_ms as f64 / 1000.0
            );
            Ok(())
        }
        SimCommand::Verify { acks, db } => {
            let acks: Acks = match acks {
                Some(path) => {
                    let text =
                        std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
                    serde_json::from_value(v.get("acks").cloned().unwrap_or(v)).map_err(|e| e.to_string())?
                }
                None => Acks::default(),
            };
            let (database, description) = open(&db).await?;
            println!("{description}");
            let report = verify(&database, acks).await?;
            verify_output(&report);
            if report.ok { Ok(()) } else { Err("校验失败 (verification failed)".into()) }
        }
        SimCommand::History { count, seed, db } => {
            let (database, description) = open(&db).await?;
            let app = App::open(database, AppConfig::default()).await.map_err(|e| e.to_string())?;
            let started = Instant::now();
            let n = yibao_app::sim::history(&app, seed, count, load::today()).await.map_err(|e| e.to_string())?;
            println!("{description}: {n} 条历史结算（标记为 history），用时 {:.1} s", started.elapsed().as_secs_f64());
            Ok(())
        }
        SimCommand::Load {
            url,
            clients,
            duration,
            rate,
            cancel_share,
            reversal_share,
            inpatient_share,
            pharmacy_share,
            lines,
            seed,
            baseline_seconds,
            server_pid,
            out,
            label,
            echo,
            record_outputs,
            db,
        } => {
            let addr =
                url.strip_prefix("http://").ok_or("--url must start with http://")?.trim_end_matches('/').to_owned();
            if clients == 0 || clients > load::CLIENTS_MAX {
                return Err(format!("--clients must be between 1 and {}", load::CLIENTS_MAX));
            }
            if duration == 0 || duration > DURATION_SECS_MAX {
                return Err(format!("--duration must be between 1 and {DURATION_SECS_MAX} seconds"));
            }
            if lines == 0 || lines > yibao_app::visit::LINES_PER_MESSAGE_MAX {
                return Err("--lines must be between 1 and 2000".into());
            }
            for (name, v) in [
                ("cancel-share", cancel_share),
                ("reversal-share", reversal_share),
                ("inpatient-share", inpatient_share),
                ("pharmacy-share", pharmacy_share),
            ] {
                if !(0.0..=1.0).contains(&v) {
                    return Err(format!("--{name} must be between 0 and 1"));
                }
            }
            if rate.is_some_and(|r| !(r > 0.0 && r <= 1_000_000.0)) {
                return Err("--rate must be above 0".into());
            }
            let (database, description) = open(&db).await?;
            let settings = settings(&database, &description).await;
            let (before, _, history_before) = database
                .read(|tx: &mut dyn Tx| yibao_store::sim::settlement_counts(tx))
                .await
                .map_err(|e| e.to_string())?;
            let baseline = if baseline_seconds > 0 {
                eprintln!("baseline: {baseline_seconds} s of one-row durable transactions …");
                Some(baseline(&database, baseline_seconds.min(60)).await?)
            } else {
                None
            };
            let (persons, institutions, catalog) = load_inputs(&database).await?;
            if persons.is_empty() || institutions.is_empty() {
                return Err("no simulated persons or institutions: run yibao sim populate first".into());
            }
            let cfg = load::LoadConfig {
                addr,
                clients,
                duration: Duration::from_secs(duration),
                rate,
                cancel_share,
                reversal_share,
                inpatient_share,
                pharmacy_share,
                lines,
                seed,
                timeout: Duration::from_secs(10),
                record_outputs: record_outputs.is_some(),
            };
            eprintln!("calibration: this machine's speed at a visit's kinds of work …");
            let message_2204 = load::sample_2204(&cfg, &catalog, &institutions[0].code);
            let calibration = tokio::task::spawn_blocking(move || calibrate::calibrate(&message_2204))
                .await
                .map_err(|e| e.to_string())?;
            eprintln!(
                "load: {clients} clients, {duration} s, {}, {} persons, {} institutions …",
                rate.map(|r| format!("open loop at {r}/s")).unwrap_or_else(|| "closed loop".into()),
                persons.len(),
                institutions.len()
            );
            // CPU of the server and of this load generator over the run: on
            // one machine they share the cores, so throughput alone does not
            // say what a settlement costs the server.
            let server_pid_text = server_pid.map(|p| p.to_string());
            let server_cpu_before = server_pid_text.as_deref().and_then(cpu_seconds);
            let self_cpu_before = cpu_seconds("self");
            let machine_before = calibrate::MachineTicks::now();
            let (results, elapsed) =
                tokio::task::spawn_blocking(move || load::run(&cfg, &persons, &institutions, &catalog))
                    .await
                    .map_err(|e| e.to_string())?;
            let server_cpu_s =
                server_pid_text.as_deref().and_then(cpu_seconds).zip(server_cpu_before).map(|(end, start)| end - start);
            let self_cpu_s = cpu_seconds("self").zip(self_cpu_before).map(|(end, start)| end - start);
            let machine_during_run =
                machine_before.zip(calibrate::MachineTicks::now()).map(|(a, b)| a.shares_until(&b));
            let secs = elapsed.as_secs_f64();
            let mut samples: HashMap<&'static str, Vec<u32>> = HashMap::new();
            let mut errors: HashMap<String, u64> = HashMap::new();
            let mut visits: HashMap<&'static str, u64> = HashMap::new();
            let mut acks = Acks::default();
            let (mut outpatient, mut settled, mut lag) = (0u64, 0u64, 0u64);
            let mut outputs: std::collections::BTreeMap<&'static str, serde_json::Value> = Default::default();
            for r in results {
                for (k, v) in r.outputs {
                    if let Ok(v) = serde_json::from_str(&v) {
                        outputs.entry(k).or_insert(v);
                    }
                }
                for (k, v) in r.latencies_us {
                    samples.entry(k).or_default().extend(v);
                }
                for (k, v) in r.errors {
                    *errors.entry(k).or_default() += v;
                }
                for (k, v) in r.visits {
                    *visits.entry(k).or_default() += v;
                }
                acks.merge(r.acks);
                outpatient += r.outpatient_settled;
                settled += r.settled;
                lag = lag.max(r.lag_us_max);
            }
            let requests: usize = samples.values().map(Vec::len).sum();
            let mut codes: Vec<&&str> = samples.keys().collect();
            codes.sort();
            let mut latency = serde_json::Map::new();
            for code in codes.iter().map(|c| **c).collect::<Vec<_>>() {
                let l = load::latency(samples.remove(code).unwrap_or_default(), secs);
                latency.insert(code.to_owned(), serde_json::to_value(&l).map_err(|e| e.to_string())?);
            }
            // The peak counts SQLite's mapped file pages (the kernel's page
            // cache, see sqlite.rs): the end-of-run split tells them apart
            // from the memory the server allocated.
            let status = server_pid.and_then(|p| std::fs::read_to_string(format!("/proc/{p}/status")).ok());
            let status = status.as_deref().unwrap_or("");
            let rss = status_kib(status, "VmHWM");
            let rss_anon = status_kib(status, "RssAnon");
            let rss_file = status_kib(status, "RssFile");
            if let Some(path) = &record_outputs {
                let text = serde_json::to_string_pretty(&outputs).map_err(|e| e.to_string())?;
                std::fs::write(path, text + "\n").map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                eprintln!("outputs of {} transaction codes written to {}", outputs.len(), path.display());
            }
            let verify_started = Instant::now();
            let report = if echo {
                None // nothing was stored: there is nothing to verify
            } else {
                eprintln!("verification …");
                Some(verify(&database, acks.clone()).await?)
            };
            let verify_secs = verify_started.elapsed().as_secs_f64();
            let outpatient_per_s = outpatient as f64 / secs;
            let serial_baseline = baseline.as_ref().and_then(|b| b["serial_commits_per_s"].as_f64());
            let grouped_baseline = baseline.as_ref().and_then(|b| b["grouped_64_callers_commits_per_s"].as_f64());
            let result = json!({
                "label": label,
                "date": yibao_domain::DateTime::from_unix_ms(yibao_store::now_ms()).to_string(),
                "machine": machine(),
                "calibration": calibration,
                "database": settings,
                "database_note": "settings of the load generator's own connection (the baseline and the verification); \
                                  the server's are in its start-up log line `yibao listening`",
                "run": {"clients": clients, "duration_s": duration, "rate": rate, "cancel_share": cancel_share,
                        "reversal_share": reversal_share, "inpatient_share": inpatient_share,
                        "pharmacy_share": pharmacy_share, "lines_per_outpatient_visit": lines, "seed": seed,
                        "stored_settlements_before": before, "history_rows_before": history_before},
                "throughput": {"elapsed_s": secs, "visits": visits, "requests_per_s": requests as f64 / secs,
                               "outpatient_settlements_per_s": outpatient_per_s,
                               "settlements_per_s": settled as f64 / secs, "open_loop_lag_max_ms": lag as f64 / 1000.0},
                "baseline": baseline,
                "ratio_to_baseline": {
                    "outpatient_settlements_per_serial_commit": serial_baseline.map(|b| outpatient_per_s / b),
                    "outpatient_settlements_per_grouped_commit": grouped_baseline.map(|b| outpatient_per_s / b),
                },
                "latency": latency,
                "errors": errors,
                "server_peak_rss_mib": rss.map(|k| k / 1024),
                "server_rss_at_end_mib": {"allocated": rss_anon.map(|k| k / 1024), "mapped_files": rss_file.map(|k| k / 1024)},
                "cpu": {
                    "server_s": server_cpu_s,
                    "server_cores": server_cpu_s.map(|c| c / secs),
                    // All of the server's work (inpatient, pharmacy,
                    // cancellations included) per outpatient settlement.
                    "server_ms_per_outpatient_settlement":
                        server_cpu_s.filter(|_| outpatient > 0).map(|c| c * 1000.0 / outpatient as f64),
                    "load_generator_s": self_cpu_s,
                    // The whole machine over the run, other tenants of the
                    // host included (steal).
                    "machine_during_run": machine_during_run,
                    "load_generator_cores": self_cpu_s.map(|c| c / secs),
                },
                "server": if echo { "yibao sim echo: parses and answers, stores nothing (the floor)" } else { "yibao serve" },
                "verification": match &report {
                    None => json!("not run: the echo server stores nothing"),
                    Some(report) => json!({"seconds": verify_secs, "report": report}),
                },
                "acks": {"settled": acks.settled.len(), "cancelled": acks.cancelled.len(), "reversed": acks.reversed.len(),
                         "cancel_unanswered": acks.cancel_unanswered.len()},
            });
            println!("{}", serde_json::to_string_pretty(&result).map_err(|e| e.to_string())?);
            if let Some(path) = out {
                let mut with_acks = result.clone();
                with_acks["acks"] = serde_json::to_value(&acks).map_err(|e| e.to_string())?;
                let acks_path = path.with_extension("acks.json");
                std::fs::write(&acks_path, serde_json::to_vec(&with_acks["acks"]).map_err(|e| e.to_string())?)
                    .map_err(|e| format!("cannot write {}: {e}", acks_path.display()))?;
                std::fs::write(&path, serde_json::to_string_pretty(&result).map_err(|e| e.to_string())?)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            }
            let Some(report) = report else {
                eprintln!("回声服务器：未存储，不校验 (echo server: nothing stored, nothing verified)");
                return Ok(());
            };
            verify_output(&report);
            if report.ok {
                Ok(())
            } else {
                Err("校验失败：本次运行无效 (verification failed: the run is invalid)".into())
            }
        }
        SimCommand::Echo { listen, outputs } => {
            let text = match outputs {
                Some(path) => {
                    std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?
                }
                None => ECHO_OUTPUTS.to_owned(),
            };
            let outputs = echo_outputs(&text)?;
            let listener =
                tokio::net::TcpListener::bind(&listen).await.map_err(|e| format!("cannot listen on {listen}: {e}"))?;
            let addr = listener.local_addr().map_err(|e| e.to_string())?;
            println!(
                "yibao sim echo listening on http://{addr} ({} transaction codes; nothing is stored)",
                outputs.len()
            );
            let shutdown = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            yibao_http::fsi::echo::serve(outputs, listener, shutdown).await.map_err(|e| e.to_string())
        }
    }
}
