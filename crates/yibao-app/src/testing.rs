//! Test fixtures: a running [`App`] with reference data and the demo region,
//! on SQLite (always) and PostgreSQL (when `YIBAO_TEST_DATABASE_URL` is set).
//!
//! Loading reference data takes a moment, so on SQLite a template database is
//! built once per test process and copied for each test. On PostgreSQL each
//! test gets a fresh schema and loads the data itself.

use std::sync::OnceLock;

use yibao_domain::Date;
use yibao_store::{Backend, Db, DbConfig, Synchronous};

use crate::{App, AppConfig, Clock};

/// The fixed "today" of fixtures, so that demo agreements and ages are stable.
pub fn fixture_today() -> Date {
    Date::parse("2026-11-22").unwrap()
}

/// The business clock of fixture apps: 10:00 China time on
/// [`fixture_today`] when the test process first asks, running on from there.
/// So a test means the same on any day it runs: the demo's coverage,
/// contributions and agreements, made for that day, are current.
pub fn fixture_clock() -> Clock {
    static CLOCK: OnceLock<Clock> = OnceLock::new();
    *CLOCK.get_or_init(|| Clock::starting_on(fixture_today(), 10))
}

/// The app configuration of fixtures: defaults on the fixture clock.
pub fn fixture_config() -> AppConfig {
    AppConfig { clock: fixture_clock(), ..AppConfig::default() }
}

pub const FIXTURE_SEED: u64 = 7;
pub const FIXTURE_PERSONS: usize = 300;

async fn populate(db: Db) -> App {
    let app = App::start(db, fixture_config()).await.expect("start app");
    crate::demo::load(&app, FIXTURE_SEED, FIXTURE_PERSONS, fixture_today()).await.expect("demo");
    app
}

/// The bytes of a fully loaded SQLite database and of its write-ahead log,
/// built once per process and kept in memory (the files are removed at once,
/// so nothing is left behind in the temporary directory).
///
/// The log is kept too: when the last connection to close is a read-only
/// one, SQLite leaves committed pages in the log rather than checkpointing
/// them into the main file, and a copy of the main file alone would miss them.
fn sqlite_template() -> &'static (Vec<u8>, Option<Vec<u8>>) {
    static TEMPLATE: OnceLock<(Vec<u8>, Option<Vec<u8>>)> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let path =
            std::env::temp_dir().join(format!("yibao-template-{}-{}.db", std::process::id(), yibao_store::now_ms()));
        let build = path.clone();
        // A runtime of its own: the caller may be inside a test's runtime.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let db = Db::open(&DbConfig::sqlite(&build, Synchronous::Off)).expect("open template");
                let app = populate(db).await;
                drop(app);
            });
        })
        .join()
        .expect("template built");
        let bytes = std::fs::read(&path).expect("read template");
        let wal = std::fs::read(with_suffix(&path, "-wal")).ok().filter(|w| !w.is_empty());
        for suffix in ["", "-wal", "-shm"] {
            let mut p = path.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
        (bytes, wal)
    })
}

fn with_suffix(path: &std::path::Path, suffix: &str) -> std::path::PathBuf {
    let mut p = path.to_owned().into_os_string();
    p.push(suffix);
    p.into()
}

/// A copy of the SQLite template, removed when dropped.
pub fn sqlite_db() -> Db {
    let template = sqlite_template();
    let path = std::env::temp_dir().join(format!(
        "yibao-test-app-{}-{}-{}.db",
        std::process::id(),
        yibao_store::now_ms(),
        yibao_store::ids::next_id()
    ));
    std::fs::write(&path, &template.0).expect("write template copy");
    if let Some(wal) = &template.1 {
        std::fs::write(with_suffix(&path, "-wal"), wal).expect("write template log copy");
    }
    yibao_store::testing::sqlite_at(path)
}

/// An app on a fresh database of `backend` with reference data and the demo
/// region, or `None` for PostgreSQL when it is not configured.
pub async fn demo_app(backend: Backend) -> Option<App> {
    match backend {
        Backend::Sqlite => {
            let db = tokio::task::spawn_blocking(sqlite_db).await.unwrap();
            Some(
                App::open(db, fixture_config())
                    .await
                    .expect("open app")
                    .with_payments(crate::payment::Payments::simulated()),
            )
        }
        Backend::Postgres => {
            let db = tokio::task::spawn_blocking(yibao_store::testing::postgres).await.unwrap();
            match db {
                Some(db) => Some(populate(db).await.with_payments(crate::payment::Payments::simulated())),
                None => {
                    eprintln!("{} not set: PostgreSQL test skipped", yibao_store::testing::TEST_DATABASE_URL_ENV);
                    None
                }
            }
        }
    }
}

/// Declares one test per backend: `backend_tests! { async fn name(app: App) { … } }`
/// expands to `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! backend_tests {
    ($(async fn $name:ident($app:ident : App) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn run($app: $crate::App) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let app = $crate::testing::demo_app(yibao_store::Backend::Sqlite).await.unwrap();
                    run(app).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(app) = $crate::testing::demo_app(yibao_store::Backend::Postgres).await {
                        run(app).await;
                    }
                }
            }
        )*
    };
}

/// A minimal .xlsx workbook (one sheet, inline strings, stored without
/// compression) with these rows: fixtures for import tests.
pub fn xlsx(rows: &[Vec<String>]) -> Vec<u8> {
    use std::io::Write;
    fn esc(s: &str) -> String {
        s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
    }
    let mut sheet = String::from(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#,
    );
    for (r, row) in rows.iter().enumerate() {
        sheet.push_str(&format!(r#"<row r="{}">"#, r + 1));
        for (c, value) in row.iter().enumerate() {
            let col = (b'A' + c as u8) as char;
            sheet.push_str(&format!(r#"<c r="{col}{}" t="inlineStr"><is><t>{}</t></is></c>"#, r + 1, esc(value)));
        }
        sheet.push_str("</row>");
    }
    sheet.push_str("</sheetData></worksheet>");
    let files: [(&str, String); 5] = [
        (
            "[Content_Types].xml",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#.into(),
        ),
        (
            "_rels/.rels",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.into(),
        ),
        (
            "xl/workbook.xml",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"#.into(),
        ),
        (
            "xl/_rels/workbook.xml.rels",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#.into(),
        ),
        ("xl/worksheets/sheet1.xml", sheet),
    ];
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, content) in files {
        zip.start_file(name, options).expect("zip entry");
        zip.write_all(content.as_bytes()).expect("zip write");
    }
    zip.finish().expect("zip finish").into_inner()
}
