#![recursion_limit = "256"]
//! yibao's HTTP layer (axum).
//!
//! - `/health`, `/metrics`: operations;
//! - `/api/v1/...`: the management REST API, one module per business module
//!   under `routes/`, documented in `/api/v1/openapi.json` and browsable at
//!   `/api/v1/docs`;
//! - the national interface for institutions (`/fsi/...`) joins in its own module.
//!
//! Handlers are thin: they extract input and an acting [`yibao_app::Ctx`],
//! call one application use case, and map its result. Every `/api/v1` route
//! needs a staff token except login, the public catalog and reference data,
//! and the API document.

pub mod error;
pub mod extract;
pub mod fsi;
pub mod observe;
pub mod openapi;
pub mod routes;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use yibao_app::App;

use crate::error::error_response;

/// Largest request body accepted (a national-interface fee upload with a
/// few thousand lines fits comfortably).
pub const REQUEST_BODY_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Largest national-interface body: a 9101 upload of the largest detail file,
/// Base64-encoded, with room for the envelope.
pub const FSI_BODY_BYTES_MAX: usize = 12 * 1024 * 1024;
/// A request that takes longer than this is cut off.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct AppState {
    pub app: App,
    pub metrics: Arc<observe::Metrics>,
    pub started: Instant,
}

pub fn router(app: App) -> Router {
    let state = AppState { app, metrics: Arc::new(observe::Metrics::default()), started: Instant::now() };
    use routes::*;
    let api = Router::new()
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route("/auth/me", get(auth::me))
        .route("/staff", get(auth::list_staff).post(auth::create_staff))
        .route("/staff/{id}/disable", post(auth::disable_staff))
        .route("/staff/{id}/enable", post(auth::enable_staff))
        .route("/staff/{id}/password", post(auth::set_password))
        .route("/catalog/search", get(catalog::search))
        .route("/catalog/items/{code}", get(catalog::item))
        .route("/catalog/diagnoses", get(catalog::diagnoses))
        .route("/catalog/procedures", get(catalog::procedures))
        .route("/catalog/overrides", get(catalog::list_overrides).post(catalog::create_override))
        .route("/catalog/overrides/{id}/end", post(catalog::end_override))
        .route("/codes", get(reference::tables))
        .route("/codes/{field}", get(reference::table))
        .route("/divisions", get(reference::divisions))
        .route("/divisions/{code}", get(reference::division))
        .route("/institutions", get(institution::list).post(institution::create))
        .route("/institutions/{code}", get(institution::get).patch(institution::update))
        .route("/institutions/{code}/status", post(institution::set_status))
        .route("/institutions/{code}/agreements", post(institution::add_agreement))
        .route("/institutions/{code}/agreements/{agreement_no}/status", post(institution::set_agreement_status))
        .route(
            "/institutions/{code}/credentials",
            get(institution::list_credentials).post(institution::issue_credential),
        )
        .route("/institutions/{code}/credentials/{id}/rotate", post(institution::rotate_credential))
        .route("/institutions/{code}/credentials/{id}/revoke", post(institution::revoke_credential))
        .route("/persons/{key}", get(enrollment::get))
        .route("/persons/{key}/coverage", get(enrollment::coverage))
        .route("/persons/{psn_no}/resume", post(enrollment::resume))
        .route("/persons/{psn_no}/evoucher", post(enrollment::issue_evoucher))
        .route("/persons/{psn_no}/transfer-out", post(enrollment::transfer_out))
        .route("/transfers/{id}/accept", post(enrollment::transfer_in))
        .route("/enrollments", post(enrollment::enroll))
        .route("/enrollments/{id}/stop", post(enrollment::stop))
        .route("/households", post(enrollment::create_household))
        .route("/households/{hh_no}", get(enrollment::household))
        .route("/households/{key}/renew", post(enrollment::renew))
        .route("/employers", get(employer::list).post(employer::create))
        .route("/employers/{emp_no}", get(employer::get).patch(employer::update))
        .route("/employers/{emp_no}/bases", post(employer::declare_bases))
        .route("/employers/{emp_no}/employees", get(employer::employees))
        .route("/contribution-policies", get(contribution::list_policies).post(contribution::create_policy))
        .route("/assessments", post(contribution::assess))
        .route("/bills", get(contribution::list_bills))
        .route("/bills/{bill_id}", get(contribution::get_bill))
        .route("/bills/{bill_id}/counter-payment", post(contribution::counter_payment))
        .route("/payments/orders", post(contribution::create_order))
        .route("/payments/bank-debit-batches", post(contribution::bank_batch))
        .route("/payments/notify/{channel}", post(contribution::notify))
        .route("/payments/close-expired", post(contribution::close_expired))
        .route("/payments/reconciliations", post(contribution::reconcile))
        .route("/payments/simulator/orders/{order_no}/pay", post(contribution::simulate_pay))
        .route("/payments/simulator/{channel}/statement", get(contribution::simulated_statement))
        .route("/accounts/retiree-allocations", post(account::allocate))
        .route("/accounts/{psn_no}", get(account::statement))
        .route("/accounts/{psn_no}/authorizations", get(account::authorizations).post(account::authorize))
        .route("/account-authorizations/{id}/revoke", post(account::revoke))
        .route("/imports/deaths", post(import::deaths))
        .route("/imports/{kind}", post(import::import))
        .route("/policies", get(policy::list).post(policy::create))
        .route("/policies/{id}", get(policy::get))
        .route("/policies/{id}/end", post(policy::end))
        .route("/policies/{id}/retire", post(policy::retire))
        .route("/settlements/simulate", post(settlement::simulate))
        .route("/fund/balances", get(fund::balances))
        .route("/fund/balances.csv", get(fund::balances_csv))
        .route("/fund/trial-balance", get(fund::trial_balance))
        .route("/fund/movements", get(fund::movements))
        .route("/fund/statements", get(fund::statements))
        .route("/fund/statements.csv", get(fund::statements_csv))
        .route("/fund/statements.xlsx", get(fund::statements_xlsx))
        .route("/fund/sustainability", get(fund::sustainability))
        .route("/fund/institutions/{code}/payable", get(fund::institution_payable))
        .route("/fund/entries", get(fund::entries))
        .route("/fund/transfers", post(fund::transfer))
        .route("/fund/openings", post(fund::opening))
        .route("/fund/closes", post(fund::close_months))
        .route("/fund/settings/{region}", get(fund::get_settings).put(fund::put_settings))
        .route("/fund/clearings", get(fund::list_clearings).post(fund::create_clearing))
        .route("/fund/clearings/{id}", get(fund::get_clearing))
        .route("/fund/clearings/{id}/entries", get(fund::clearing_entries))
        .route("/fund/clearings/{id}/instruction.csv", get(fund::clearing_instruction))
        .route("/fund/clearings/{id}/payment", post(fund::confirm_payment))
        .route("/fund/region-clearings", get(fund::list_region_clearings).post(fund::create_region_clearing))
        .route("/fund/reconciliations/totals", post(fund::reconcile_totals))
        .route("/fund/reconciliations/details", post(fund::reconcile_details))
        .route("/audit", get(audit::list))
        .route("/openapi.json", get(openapi::document))
        .route("/docs", get(openapi::page));
    Router::new()
        .route("/", get(index))
        .route("/health", get(system::health))
        .route("/metrics", get(system::metrics))
        .nest("/api/v1", api)
        // 9101 carries a detail file: a larger body than other calls.
        .route(
            "/fsi/api/rsfComIfsService/callService",
            post(fsi::call_service).layer(DefaultBodyLimit::max(FSI_BODY_BYTES_MAX)),
        )
        .route(
            "/fsi/api/rsfComIfsService/callService/{infno}",
            post(fsi::call_service_with_infno).layer(DefaultBodyLimit::max(FSI_BODY_BYTES_MAX)),
        )
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe::middleware))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, REQUEST_TIMEOUT))
        .layer(DefaultBodyLimit::max(REQUEST_BODY_BYTES_MAX))
        .with_state(state)
}

async fn not_found() -> Response {
    error_response(StatusCode::NOT_FOUND, "not_found", "没有这个接口，请查看 /api/v1/docs".into(), vec![])
}

async fn index() -> impl IntoResponse {
    Html(include_str!("index.html"))
}

/// Serves until `shutdown` completes; in-flight requests finish first.
pub async fn serve(
    app: App,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = router(app);
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}
