//! The `yibao` command.

mod config;
mod sim;

use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use yibao_app::gateway::FsiAuth;
use yibao_app::{App, AppConfig};

/// mimalloc instead of the system allocator: profiling the settlement load
/// showed glibc malloc (`malloc_consolidate`, `unlink_chunk`, `_int_free`)
/// taking about a fifth of the server's CPU on many small short-lived
/// allocations (JSON values, rows), spread over threads. See docs/performance.md.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use yibao_store::Db;

use crate::config::{DEFAULT_LISTEN, DbArgs, FileConfig};

#[derive(Parser, Debug)]
#[command(
    name = "yibao",
    version,
    about = "yibao 医保管理平台 — open-source medical-insurance platform",
    long_about = "yibao 医保管理平台: enrollment, fund accounting, designated institutions, \
                  settlement, risk control and public service for a pooling region.\n\n\
                  Data lives in SQLite under ./yibao-data by default; pass --database-url for PostgreSQL.",
    after_help = "Examples:\n  yibao serve --demo                       # demo region 宁波 on http://127.0.0.1:8080\n  \
                  yibao serve --database-url postgres://postgres@127.0.0.1:5432/yibao\n  \
                  yibao import --dir ./data                 # refresh reference data from CSV files\n  \
                  yibao fund trial-balance                  # 试算平衡表 of the fund ledger\n  \
                  yibao fund clear --period 2026-10         # monthly clearing with institutions\n  \
                  yibao staff create --username admin --display-name 管理员 --roles admin --region-scope ''"
)]
struct Cli {
    /// Log format: json (default, one object per line) or text.
    #[arg(long, env = "YIBAO_LOG_FORMAT", global = true)]
    log_format: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Start the platform: management API, health, metrics.
    #[command(
        after_help = "Examples:\n  yibao serve --demo\n  yibao serve --listen 0.0.0.0:8080 --data-dir /var/lib/yibao\n  \
                            YIBAO_DATABASE_URL=postgres://postgres@127.0.0.1:5432/yibao yibao serve"
    )]
    Serve {
        /// Address to listen on.
        #[arg(long, env = "YIBAO_LISTEN")]
        listen: Option<String>,
        /// Load the demo pooling region (宁波市 330200) with institutions,
        /// about 1,000 insured persons and staff accounts (password
        /// yibao-demo-2026). Loaded once; later starts keep the data.
        #[arg(long)]
        demo: bool,
        /// Seed of the demo data (same seed, same data).
        #[arg(long, default_value_t = 20261122)]
        seed: u64,
        /// Number of demo insured persons.
        #[arg(long, default_value_t = yibao_app::demo::DEMO_PERSONS_DEFAULT)]
        demo_persons: usize,
        /// This process's node number (0–1023) when several share one PostgreSQL database.
        #[arg(long, env = "YIBAO_NODE_ID")]
        node_id: Option<u16>,
        /// Gateway authentication of the national interface (/fsi): required
        /// (every call carries a valid institution credential; the default)
        /// or none (credentials optional; the default with --demo). See
        /// docs/gateway-auth.md.
        #[arg(long, env = "YIBAO_FSI_AUTH")]
        fsi_auth: Option<String>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Load reference data (divisions, ICD-10, procedures, drug catalog,
    /// service items, consumables, code tables) into the database. Unchanged
    /// datasets are skipped unless --force.
    ///
    /// With a subcommand, imports business data from a file instead: persons,
    /// employers (CSV or .xlsx) or death records, printing the validation
    /// report of every row.
    #[command(
        args_conflicts_with_subcommands = true,
        after_help = "Examples:\n  yibao import                 # the data built into this binary\n  \
                            yibao import --dir ./data     # CSV files in the layout of data/ (see data/SOURCES.md)\n  \
                            yibao import persons persons.xlsx\n  \
                            yibao import employers employers.csv\n  \
                            yibao import deaths deaths-2026-11.csv"
    )]
    Import {
        #[command(subcommand)]
        what: Option<ImportWhat>,
        /// Directory with the CSV files; the built-in data if absent.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Reload even if unchanged.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Payment housekeeping.
    Payments {
        #[command(subcommand)]
        command: PaymentsCommand,
    },
    /// Apply pending schema migrations and exit.
    #[command(after_help = "Example:\n  yibao migrate --database-url postgres://postgres@127.0.0.1:5432/yibao")]
    Migrate {
        #[command(flatten)]
        db: DbArgs,
    },
    /// 费用试算 offline: compute a settlement from a policy file and a case
    /// file and print the breakdown as JSON. Needs no database. Lines give
    /// their class inline (chrgitm_lv, selfpay_prop, price_cap) or a national
    /// catalog code (classified by the built-in 2024 catalogue, national rules
    /// only).
    #[command(
        after_help = "Example:\n  yibao simulate --policy policies/ningbo-390.toml --case docs/examples/e2-case.json"
    )]
    Simulate {
        /// Policy as TOML or JSON (see docs/policy.md).
        #[arg(long)]
        policy: PathBuf,
        /// The case as JSON or TOML: person, visit and fee lines (the body of
        /// POST /api/v1/settlements/simulate).
        #[arg(long)]
        case: PathBuf,
    },
    /// Manage staff accounts from the command line.
    Staff {
        #[command(subcommand)]
        command: StaffCommand,
    },
    /// Simulation and performance: population and load generators,
    /// verification, history, storage baseline (docs/performance.md).
    Sim {
        #[command(subcommand)]
        command: sim::SimCommand,
    },
    /// Fund accounting: trial balance and monthly clearing (基金核算).
    Fund {
        #[command(subcommand)]
        command: FundCommand,
    },
}

#[derive(Subcommand, Debug)]
enum FundCommand {
    /// Print the trial balance (试算平衡表) of the ledger: every account with
    /// its debits, credits and balance, each fund's position, and the totals.
    /// Exits with status 1 if debits and credits differ.
    #[command(after_help = "Examples:\n  yibao fund trial-balance\n  \
                            yibao fund trial-balance --region 330200 --as-of 2026-10-31\n  \
                            yibao fund trial-balance --json --database-url postgres://postgres@127.0.0.1:5432/yibao")]
    TrialBalance {
        /// Region code or prefix ('' for every region).
        #[arg(long, default_value = "")]
        region: String,
        /// Balances at the end of this day (yyyy-MM-dd); every entry when absent.
        #[arg(long)]
        as_of: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Run the monthly clearing (清算) with institutions: withhold the quality
    /// deposit, post it, and print each run with its payable amount.
    #[command(after_help = "Examples:\n  yibao fund clear --period 2026-10\n  \
                            yibao fund clear --period 2026-10 --institution H33020300001\n  \
                            yibao fund clear --period 2026-10 --regions   # cross-region clearing (异地就医) as well")]
    Clear {
        /// The month to clear, yyyy-MM (must be over).
        #[arg(long)]
        period: String,
        /// One institution; every institution with uncleared settlements when absent.
        #[arg(long)]
        institution: Option<String>,
        /// Also run the cross-region clearing of the month.
        #[arg(long)]
        regions: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Close every open month up to --through (月结): later reads use each
    /// closed month's snapshot, and entries dated in a closed month are
    /// booked on the first open day.
    #[command(after_help = "Examples:\n  yibao fund close --through 2026-10\n  \
                            yibao fund close --through 2026-10 --database-url postgres://postgres@127.0.0.1:5432/yibao")]
    Close {
        /// The last month to close, yyyy-MM (must have ended at least a day ago).
        #[arg(long)]
        through: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand, Debug)]
enum ImportWhat {
    /// Reference data (the same as `yibao import` without a subcommand).
    #[command(after_help = "Example:\n  yibao import reference --dir ./data")]
    Reference {
        #[arg(long)]
        dir: Option<PathBuf>,
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Persons (and their enrollment) from CSV or .xlsx: 姓名, 身份证号, 居住区划,
    /// and optionally 参保地, 险种, 人员类别, 参保日期, 单位编号, 缴费基数, 电话, 地址.
    #[command(after_help = "Example:\n  yibao import persons persons.xlsx")]
    Persons {
        file: PathBuf,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Employers from CSV or .xlsx: 统一社会信用代码, 单位名称, 参保地, 所在区划, 地址, 联系人, 电话.
    #[command(after_help = "Example:\n  yibao import employers employers.csv")]
    Employers {
        file: PathBuf,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Death records (身份证号, 死亡日期) as the civil registry provides them.
    #[command(after_help = "Example:\n  yibao import deaths deaths-2026-11.csv")]
    Deaths {
        file: PathBuf,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand, Debug)]
enum PaymentsCommand {
    /// Close unpaid online orders past their timeout (`yibao serve` also does it every minute).
    #[command(after_help = "Example:\n  yibao payments close-expired")]
    CloseExpired {
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand, Debug)]
enum StaffCommand {
    /// Create a staff account. The password is read from the environment
    /// variable named by --password-env, or from standard input.
    #[command(
        after_help = "Examples:\n  printf '%s' 'S3cure-pass!' | yibao staff create --username admin --display-name 管理员 --roles admin --region-scope ''\n  \
                            YIBAO_NEW_PASSWORD=... yibao staff create --username nb-clerk --display-name 经办员 --roles clerk --region-scope 3302 --password-env YIBAO_NEW_PASSWORD"
    )]
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        display_name: String,
        /// Comma-separated: clerk, reviewer, finance, supervisor, admin.
        #[arg(long)]
        roles: String,
        /// Division-code prefix: '' national, '33' province, '3302' city, '330203' county.
        #[arg(long)]
        region_scope: String,
        /// Read the password from this environment variable instead of standard input.
        #[arg(long)]
        password_env: Option<String>,
        #[command(flatten)]
        db: DbArgs,
    },
}

/// Without `YIBAO_LOG`: our own lines from info up. The PostgreSQL client
/// logs each server NOTICE at info (one at every start: the migrations'
/// `CREATE TABLE IF NOT EXISTS`), which tells an operator nothing; its
/// warnings and errors still show.
const DEFAULT_LOG_FILTER: &str = "info,tokio_postgres=warn";

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("YIBAO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if format == "text" {
        builder.init();
    } else {
        builder.json().flatten_event(true).with_current_span(true).with_span_list(false).init();
    }
}

pub(crate) async fn open_db(args: &DbArgs, file: &FileConfig) -> Result<(Db, String), String> {
    let resolved = args.resolve(file)?;
    let config = resolved.db.clone();
    let db = tokio::task::spawn_blocking(move || Db::open(&config))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("cannot open the database ({}): {}", resolved.description, e.message))?;
    Ok((db, resolved.description))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Serve { listen, demo, seed, demo_persons, node_id, fsi_auth, db } => {
            let file = FileConfig::load(db.config.as_ref())?;
            if let Some(node) = node_id.or(file.node_id) {
                if node >= 1024 {
                    return Err("--node-id must be below 1024".into());
                }
                yibao_store::ids::set_node(node);
            }
            let listen = listen.or(file.listen.clone()).unwrap_or_else(|| DEFAULT_LISTEN.into());
            let (database, description) = open_db(&db, &file).await?;
            let mut app_config = AppConfig::default();
            if let Some(minutes) = file.session_ttl_minutes {
                app_config.session_ttl_ms = minutes.clamp(5, 7 * 24 * 60) * 60_000;
            }
            app_config.fsi_auth = match fsi_auth.or(file.fsi_auth.clone()) {
                Some(text) => FsiAuth::parse(&text).map_err(|e| format!("--fsi-auth: {e}"))?,
                None if demo => FsiAuth::None,
                None => FsiAuth::Required,
            };
            if app_config.fsi_auth == FsiAuth::None {
                tracing::warn!(
                    "national interface gateway authentication is OFF (fsi_auth = none): any client can call /fsi \
                     as any institution; use --fsi-auth required outside demos"
                );
            }
            let app_config_fsi_auth = app_config.fsi_auth;
            let mut app = App::start(database, app_config).await.map_err(|e| e.to_string())?;
            if demo {
                // Demo only: the channel simulators with their TEST-ONLY keys.
                app = app.with_payments(yibao_app::payment::Payments::simulated());
                if demo_persons == 0 || demo_persons > 1_000_000 {
                    return Err("--demo-persons must be between 1 and 1000000".into());
                }
                let today = app.config.clock.today();
                let report = yibao_app::demo::load(&app, seed, demo_persons, today).await.map_err(|e| e.to_string())?;
                if report.loaded {
                    tracing::info!(
                        region = report.region,
                        persons = report.persons,
                        institutions = report.institutions,
                        "demo region loaded"
                    );
                }
            }
            // Load what the settlement path keeps in memory before the first
            // request, so that the first uploads and settlements do not wait
            // for it.
            let warm_started = std::time::Instant::now();
            app.catalog.view(&app).await.map_err(|e| e.to_string())?;
            app.policies.snapshot(&app).await.map_err(|e| e.to_string())?;
            tracing::info!(millis = warm_started.elapsed().as_millis() as u64, "catalog and policies loaded");
            // Close unpaid payment orders past their timeout, every minute.
            let sweeper = app.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
                loop {
                    tick.tick().await;
                    let ctx = sweeper.system_ctx("payment order timeout");
                    match yibao_app::payment::close_expired(&sweeper, &ctx, ctx.now_ms).await {
                        Ok(r) if !r.closed.is_empty() => {
                            tracing::info!(closed = r.closed.len(), "closed expired payment orders")
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "closing expired payment orders failed"),
                    }
                }
            });
            let listener =
                tokio::net::TcpListener::bind(&listen).await.map_err(|e| format!("cannot listen on {listen}: {e}"))?;
            let addr = listener.local_addr().map_err(|e| e.to_string())?;
            tracing::info!(%addr, database = %description, "yibao listening");
            eprintln!("yibao listening on http://{addr}  ({description})");
            eprintln!("  API docs: http://{addr}/api/v1/docs");
            if app_config_fsi_auth == FsiAuth::None {
                eprintln!("  WARNING: /fsi gateway authentication is off (fsi_auth = none); see docs/gateway-auth.md");
            }
            if demo {
                eprintln!(
                    "  demo region 宁波市 330200 · log in: curl -s -X POST http://{addr}/api/v1/auth/login \
                     -H 'Content-Type: application/json' -d '{{\"username\":\"admin\",\"password\":\"{}\"}}'",
                    yibao_app::demo::DEMO_PASSWORD
                );
            }
            yibao_http::serve(app, listener, shutdown_signal()).await.map_err(|e| e.to_string())
        }
        Command::Import { what: Some(ImportWhat::Reference { dir, force, db }), .. }
        | Command::Import { what: None, dir, force, db } => {
            let file = FileConfig::load(db.config.as_ref())?;
            let (database, description) = open_db(&db, &file).await?;
            let reports = match dir {
                Some(dir) => {
                    let app = App::start(database, AppConfig::default()).await.map_err(|e| e.to_string())?;
                    app.import(&dir, force).await.map_err(|e| e.to_string())?
                }
                None => yibao_app::reference::load(&database, None, force).await.map_err(|e| e.to_string())?,
            };
            println!("{description}");
            for r in reports {
                println!("{:<12} {:>7} rows  {}", r.name, r.rows, if r.loaded { "loaded" } else { "unchanged" });
            }
            Ok(())
        }
        Command::Simulate { policy, case } => {
            let result = simulate_offline(&policy, &case)?;
            println!("{}", serde_json::to_string_pretty(&result).map_err(|e| e.to_string())?);
            Ok(())
        }
        Command::Import { what: Some(what), .. } => {
            let (kind, path, db) = match what {
                ImportWhat::Persons { file, db } => ("persons", file, db),
                ImportWhat::Employers { file, db } => ("employers", file, db),
                ImportWhat::Deaths { file, db } => ("deaths", file, db),
                ImportWhat::Reference { .. } => unreachable!("matched above"),
            };
            let format = yibao_app::import::Format::of_name(&path.to_string_lossy()).map_err(|e| e.to_string())?;
            let meta = std::fs::metadata(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            if meta.len() > yibao_app::import::FILE_BYTES_MAX as u64 {
                return Err(format!(
                    "{} is larger than {} MB",
                    path.display(),
                    yibao_app::import::FILE_BYTES_MAX / 1024 / 1024
                ));
            }
            let bytes = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let file = FileConfig::load(db.config.as_ref())?;
            let (database, _) = open_db(&db, &file).await?;
            let app = App::start(database, AppConfig::default()).await.map_err(|e| e.to_string())?;
            let ctx = app.system_ctx(&format!("yibao import {kind}"));
            let (report, review) = match kind {
                "persons" => {
                    (yibao_app::import::persons(&app, &ctx, &bytes, format).await.map_err(|e| e.to_string())?, vec![])
                }
                "employers" => {
                    (yibao_app::import::employers(&app, &ctx, &bytes, format).await.map_err(|e| e.to_string())?, vec![])
                }
                _ => {
                    let r = yibao_app::import::deaths(&app, &ctx, &bytes, format).await.map_err(|e| e.to_string())?;
                    (r.rows, r.settlements_to_review)
                }
            };
            println!(
                "{kind}: {} rows, {} accepted, {} rejected ({} rejected)",
                report.total,
                report.accepted,
                report.rejected,
                report.rejected_share.to_percent_string()
            );
            for r in &report.rows {
                if r.accepted {
                    println!("row {:>5}  ok        {}  {}", r.row, r.key, r.assigned.as_deref().unwrap_or(""));
                } else {
                    let reasons: Vec<String> = r.errors.iter().map(ToString::to_string).collect();
                    println!("row {:>5}  rejected  {}  {}", r.row, r.key, reasons.join("；"));
                }
            }
            for s in review {
                println!(
                    "review: settlement {} of {} on {} at {} ({} yuan) is dated after the death",
                    s.setl_id, s.psn_no, s.setl_date, s.fixmedins_code, s.medfee_sumamt
                );
            }
            Ok(())
        }
        Command::Payments { command: PaymentsCommand::CloseExpired { db } } => {
            let file = FileConfig::load(db.config.as_ref())?;
            let (database, _) = open_db(&db, &file).await?;
            let app = App::start(database, AppConfig::default()).await.map_err(|e| e.to_string())?;
            let ctx = app.system_ctx("yibao payments close-expired");
            let report = yibao_app::payment::close_expired(&app, &ctx, ctx.now_ms).await.map_err(|e| e.to_string())?;
            println!("closed {} expired orders", report.closed.len());
            for no in report.closed {
                println!("{no}");
            }
            Ok(())
        }
        Command::Migrate { db } => {
            let file = FileConfig::load(db.config.as_ref())?;
            let (_db, description) = open_db(&db, &file).await?;
            println!("schema up to date: {description}");
            Ok(())
        }
        Command::Staff {
            command: StaffCommand::Create { username, display_name, roles, region_scope, password_env, db },
        } => {
            let password = match password_env {
                Some(var) => std::env::var(&var).map_err(|_| format!("environment variable {var} is not set"))?,
                None => {
                    let mut s = String::new();
                    std::io::stdin().read_to_string(&mut s).map_err(|e| e.to_string())?;
                    s.trim_end_matches(['\n', '\r']).to_owned()
                }
            };
            let file = FileConfig::load(db.config.as_ref())?;
            let (database, _) = open_db(&db, &file).await?;
            let app = App::start(database, AppConfig::default()).await.map_err(|e| e.to_string())?;
            let input = yibao_app::auth::NewStaff {
                username,
                display_name,
                password,
                roles: roles.split(',').map(|r| r.trim().to_owned()).filter(|r| !r.is_empty()).collect(),
                region_scope,
            };
            let view = yibao_app::auth::create_staff(&app, &app.system_ctx("yibao staff create"), input)
                .await
                .map_err(|e| e.to_string())?;
            println!("{}", serde_json::to_string_pretty(&view).map_err(|e| e.to_string())?);
            Ok(())
        }
        Command::Sim { command } => sim::run(command).await,
        Command::Fund { command } => {
            if fund_command(command).await? {
                Ok(())
            } else {
                Err("试算不平衡 (trial balance does not balance)".into())
            }
        }
    }
}

async fn fund_command(command: FundCommand) -> Result<bool, String> {
    match command {
        FundCommand::TrialBalance { region, as_of, json, db } => {
            let file = FileConfig::load(db.config.as_ref())?;
            let (database, description) = open_db(&db, &file).await?;
            let app = App::start(database, AppConfig::default()).await.map_err(|e| e.to_string())?;
            let ctx = app.system_ctx("yibao fund trial-balance");
            let q = yibao_app::fund::TrialQuery { region: Some(region), as_of };
            let t = yibao_app::fund::trial_balance(&app, &ctx, q).await.map_err(|e| e.to_string())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&t).map_err(|e| e.to_string())?);
            } else {
                println!(
                    "试算平衡表 {description}  截至 {}",
                    t.as_of.map(|d| d.to_string()).unwrap_or_else(|| "当前".into())
                );
                println!(
                    "{:<8} {:<8} {:<6} {:<20} {:<14} {:>20} {:>20} {:>4} {:>20}",
                    "统筹区", "基金", "科目", "科目名称", "明细", "借方", "贷方", "方向", "余额"
                );
                for a in &t.accounts {
                    println!(
                        "{:<8} {:<8} {:<6} {:<20} {:<14} {:>20} {:>20} {:>4} {:>20}",
                        a.region.as_str(),
                        a.fund.code(),
                        a.account.code(),
                        a.account_name,
                        a.sub,
                        a.debit.to_string(),
                        a.credit.to_string(),
                        a.side.name(),
                        a.balance.to_string()
                    );
                }
                println!();
                for f in &t.funds {
                    println!(
                        "{} {}: 资产 {} 负债 {} 基金结余 {}（期初 {} + 收入 {} − 支出 {}）",
                        f.region, f.fund_name, f.assets, f.liabilities, f.balance, f.opening, f.income, f.expense
                    );
                }
                println!();
                println!(
                    "借方合计 {}  贷方合计 {}  差额 {}  {}",
                    t.debit_total,
                    t.credit_total,
                    t.difference,
                    if t.balanced { "试算平衡" } else { "试算不平衡！" }
                );
            }
            Ok(t.balanced)
        }
        FundCommand::Clear { period, institution, regions, db } => {
            let file = FileConfig::load(db.config.as_ref())?;
            let (database, _) = open_db(&db, &file).await?;
            let app = App::start(database, AppConfig::default()).await.map_err(|e| e.to_string())?;
            let ctx = app.system_ctx("yibao fund clear");
            let input =
                yibao_app::fund::clearing::ClearingInput { period: period.clone(), fixmedins_code: institution };
            match yibao_app::fund::clearing::create(&app, &ctx, input).await {
                Ok(runs) => {
                    for c in &runs {
                        println!(
                            "{} {} {} {} 结算 {} 笔 {}，冲正 {} 笔 {}，净额 {}，预留质量保证金 {}，应拨付 {}",
                            c.clearing_no,
                            c.period,
                            c.region,
                            c.fixmedins_code,
                            c.settled_count,
                            c.settled,
                            c.reversed_count,
                            c.reversed,
                            c.net,
                            c.withheld,
                            c.payable
                        );
                    }
                    println!("{} 个清算已完成，待拨付确认", runs.len());
                }
                Err(yibao_app::AppError::Conflict(m)) if regions => println!("{m}"),
                Err(e) => return Err(e.to_string()),
            }
            if regions {
                let input = yibao_app::fund::clearing::RegionClearingInput { period };
                let rows =
                    yibao_app::fund::clearing::clear_regions(&app, &ctx, input).await.map_err(|e| e.to_string())?;
                for r in &rows {
                    println!(
                        "异地就医 {} {} ↔ {} {}：{} 应付 {} {}，{} 应付 {} {}，净额 {}",
                        r.period,
                        r.region_a,
                        r.region_b,
                        r.fund_name,
                        r.region_a,
                        r.region_b,
                        r.a_owes_b,
                        r.region_b,
                        r.region_a,
                        r.b_owes_a,
                        r.net
                    );
                }
            }
            Ok(true)
        }
        FundCommand::Close { through, db } => {
            let file = FileConfig::load(db.config.as_ref())?;
            let (database, _) = open_db(&db, &file).await?;
            let app = App::start(database, AppConfig::default()).await.map_err(|e| e.to_string())?;
            let ctx = app.system_ctx("yibao fund close");
            let input = yibao_app::fund::CloseInput { through };
            let closes = yibao_app::fund::close_months(&app, &ctx, input).await.map_err(|e| e.to_string())?;
            for c in &closes {
                println!("{} 已结账：{} 条分录，借方 {} 贷方 {}", c.month, c.lines, c.debit_total, c.credit_total);
            }
            Ok(true)
        }
    }
}

fn read_document<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Result<T, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let is_toml = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("toml"));
    if is_toml {
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    } else {
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

fn simulate_offline(
    policy_path: &std::path::Path,
    case_path: &std::path::Path,
) -> Result<yibao_app::settlement::SimulateResult, String> {
    let policy: yibao_domain::policy::Policy = read_document(policy_path)?;
    let policy =
        yibao_domain::policy::ValidPolicy::new(policy).map_err(|e| format!("{}: {e}", policy_path.display()))?;
    let case: yibao_app::settlement::SimulateRequest = read_document(case_path)?;
    let needs_catalog = case.fee_lines.iter().any(|l| l.chrgitm_lv.is_none());
    let catalog: std::collections::HashMap<String, yibao_domain::catalog::CatalogItem> = if needs_catalog {
        yibao_app::reference::parse_catalog(&yibao_app::reference::Files::embedded())
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|i| (i.code.clone(), i))
            .collect()
    } else {
        Default::default()
    };
    let items: Vec<_> =
        case.fee_lines
            .iter()
            .map(|l| {
                if l.chrgitm_lv.is_some() {
                    None
                } else {
                    l.med_list_codg.as_ref().and_then(|c| catalog.get(c).cloned())
                }
            })
            .collect();
    let today = yibao_domain::DateTime::from_unix_ms(yibao_store::now_ms()).date();
    yibao_app::settlement::compute(&policy, 0, &case, &items, &|_| Vec::new(), today).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format.as_deref().unwrap_or("json"));
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
