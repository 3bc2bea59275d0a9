//! yibao's application layer.
//!
//! One module per business module (`catalog`, `institution`, `enrollment`,
//! `auth`, `audit`, …). A use case validates its input into domain types,
//! checks the actor's permission and region scope, and then runs one database
//! job that reads, applies domain rules, writes, and records the audit entry:
//! all or nothing. Use cases are async; the work inside a job is synchronous
//! and runs on a DB thread.

pub mod account;
pub mod audit;
pub mod auth;
pub mod catalog;
pub mod clock;
pub mod contribution;
pub mod coverage;
pub mod ctx;
pub mod demo;
pub mod employer;
pub mod enrollment;
pub mod error;
pub mod evoucher;
pub mod fsi;
pub mod fund;
pub mod gateway;
pub mod gm;
pub mod import;
pub mod institution;
pub mod payment;
pub mod policy;
pub mod postings;
pub mod reference;
pub mod risk;
pub mod settlement;
pub mod sim;
pub mod testing;
pub mod ttl;
pub mod visit;

use std::sync::{Arc, RwLock};

use yibao_domain::Divisions;
use yibao_store::{Db, Tx};

pub use clock::Clock;
pub use ctx::{Actor, ActorKind, Ctx};
pub use error::{AppError, AppResult};

#[derive(Clone, Debug)]
pub struct AppConfig {
    /// How long a staff login lasts.
    pub session_ttl_ms: i64,
    /// Whether national-interface calls must authenticate (`docs/gateway-auth.md`).
    pub fsi_auth: gateway::FsiAuth,
    /// The business clock (`clock.rs`): the system clock unless a test or a
    /// training environment starts it on a chosen date.
    pub clock: Clock,
}

impl Default for AppConfig {
    fn default() -> AppConfig {
        AppConfig { session_ttl_ms: 8 * 3600 * 1000, fsi_auth: gateway::FsiAuth::None, clock: Clock::system() }
    }
}

/// The running application: the database and the in-memory views of
/// reference data. Cheap to clone.
#[derive(Clone)]
pub struct App {
    pub db: Db,
    pub config: AppConfig,
    divisions: Arc<RwLock<Divisions>>,
    pub catalog: catalog::CatalogCache,
    pub policies: policy::PolicyCache,
    pub institutions: institution::InstitutionCache,
    /// Interface sign-ins (9001), checked on every business message.
    pub signins: fsi::SignInCache,
    pub evoucher: Arc<evoucher::Keys>,
    /// The platform's SM2 key and the replay cache of gateway authentication.
    pub gateway: gateway::Gateway,
    pub risk: risk::RiskCache,
    /// The payment channels (none unless configured; simulators in the demo).
    pub payments: payment::Payments,
    /// Visits' active fee lines from upload to settlement
    /// (`yibao_store::line_cache`).
    pub lines: Arc<yibao_store::line_cache::LineCache>,
}

impl App {
    /// Loads reference data if needed and builds the in-memory views.
    pub async fn start(db: Db, config: AppConfig) -> AppResult<App> {
        reference::load(&db, None, false).await?;
        App::open(db, config).await
    }

    /// Builds the in-memory views without loading reference data (it must
    /// already be loaded).
    pub async fn open(db: Db, config: AppConfig) -> AppResult<App> {
        let platform_key = gateway::load_platform_key(&db).await?;
        let app = App {
            db,
            config,
            divisions: Arc::new(RwLock::new(Divisions::default())),
            catalog: catalog::CatalogCache::default(),
            policies: policy::PolicyCache::default(),
            institutions: institution::InstitutionCache::default(),
            signins: fsi::SignInCache::default(),
            evoucher: Arc::new(evoucher::Keys::new(platform_key.clone())),
            gateway: gateway::Gateway::new(platform_key),
            risk: risk::RiskCache::default(),
            payments: payment::Payments::none(),
            lines: Arc::default(),
        };
        app.reload_divisions().await?;
        Ok(app)
    }

    /// The same app with these payment channels.
    pub fn with_payments(mut self, payments: payment::Payments) -> App {
        self.payments = payments;
        self
    }

    pub async fn reload_divisions(&self) -> AppResult<()> {
        let rows =
            self.db.read(|tx: &mut dyn Tx| Ok::<_, AppError>(yibao_store::reference::all_divisions(tx)?)).await?;
        let table = Divisions::new(rows)?;
        *self.divisions.write().unwrap() = table;
        Ok(())
    }

    /// Now, on the business clock, in milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        self.config.clock.now_ms()
    }

    /// The platform acting on its own behalf (start-up, scheduled jobs,
    /// commands), at the business clock's now.
    pub fn system_ctx(&self, what: &str) -> Ctx {
        Ctx::system_at(what, self.now_ms())
    }

    /// The division table (shared, cheap to clone).
    pub fn divisions(&self) -> Divisions {
        self.divisions.read().unwrap().clone()
    }

    /// Re-imports reference data from a directory and refreshes the views.
    pub async fn import(&self, dir: &std::path::Path, force: bool) -> AppResult<Vec<reference::DatasetReport>> {
        let files = reference::Files::from_dir(dir)?;
        let report = reference::load(&self.db, Some(files), force).await?;
        self.reload_divisions().await?;
        self.catalog.invalidate();
        Ok(report)
    }

    /// Liveness of the database: a trivial read.
    pub async fn check_database(&self) -> AppResult<()> {
        self.db
            .read(|tx: &mut dyn Tx| {
                tx.query_one("SELECT 1", yibao_store::params![])?;
                Ok::<_, AppError>(())
            })
            .await
    }
}

/// A page of results with the total count.
#[derive(utoipa::ToSchema, Clone, Debug, serde::Serialize)]
pub struct Page<T> {
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
    pub items: Vec<T>,
}

/// Bounds of listing pages.
pub const PAGE_LIMIT_DEFAULT: i64 = 20;
pub const PAGE_LIMIT_MAX: i64 = 200;

/// Clamps paging parameters; a limit of 0 means the default.
pub fn paging(limit: Option<i64>, offset: Option<i64>) -> AppResult<(i64, i64)> {
    let limit = match limit {
        None | Some(0) => PAGE_LIMIT_DEFAULT,
        Some(l) if (1..=PAGE_LIMIT_MAX).contains(&l) => l,
        Some(_) => return Err(AppError::invalid("limit", format!("每页条数应在1到{PAGE_LIMIT_MAX}之间"))),
    };
    let offset = match offset {
        None => 0,
        Some(o) if (0..=1_000_000).contains(&o) => o,
        Some(_) => return Err(AppError::invalid("offset", "偏移量应在0到1000000之间")),
    };
    Ok((limit, offset))
}
