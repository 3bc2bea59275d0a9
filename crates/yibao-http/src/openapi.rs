//! The API document (`/api/v1/openapi.json`) and a self-contained page to
//! browse and try it (`/api/v1/docs`). The page loads nothing from the
//! internet: 医保 systems run on closed government networks.

use axum::Json;
use axum::response::{Html, IntoResponse};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "yibao 医保管理平台 API",
        description = "管理端 REST API：目录、定点医药机构、参保登记与缴费、个人账户、基金核算、账号与审计。除登录、公开目录查询、编码与区划、支付渠道回调（以渠道签名认证）外，所有接口需要 Bearer 令牌（POST /api/v1/auth/login 获取）。错误统一为 {code, message, fields[], request_id}。",
        version = "1"
    ),
    modifiers(&BearerAuth),
    paths(
        routes::system::health,
        routes::system::metrics,
        routes::auth::login,
        routes::auth::logout,
        routes::auth::me,
        routes::auth::list_staff,
        routes::auth::create_staff,
        routes::auth::disable_staff,
        routes::auth::enable_staff,
        routes::auth::set_password,
        routes::catalog::search,
        routes::catalog::item,
        routes::catalog::diagnoses,
        routes::catalog::procedures,
        routes::catalog::list_overrides,
        routes::catalog::create_override,
        routes::catalog::end_override,
        routes::reference::tables,
        routes::reference::table,
        routes::reference::divisions,
        routes::reference::division,
        routes::institution::list,
        routes::institution::create,
        routes::institution::get,
        routes::institution::update,
        routes::institution::set_status,
        routes::institution::add_agreement,
        routes::institution::set_agreement_status,
        routes::institution::issue_credential,
        routes::institution::list_credentials,
        routes::institution::rotate_credential,
        routes::institution::revoke_credential,
        routes::enrollment::get,
        routes::enrollment::coverage,
        routes::enrollment::enroll,
        routes::enrollment::stop,
        routes::enrollment::resume,
        routes::enrollment::create_household,
        routes::enrollment::household,
        routes::enrollment::renew,
        routes::enrollment::transfer_out,
        routes::enrollment::transfer_in,
        routes::enrollment::issue_evoucher,
        routes::employer::list,
        routes::employer::create,
        routes::employer::get,
        routes::employer::update,
        routes::employer::declare_bases,
        routes::employer::employees,
        routes::contribution::list_policies,
        routes::contribution::create_policy,
        routes::contribution::assess,
        routes::contribution::list_bills,
        routes::contribution::get_bill,
        routes::contribution::counter_payment,
        routes::contribution::create_order,
        routes::contribution::bank_batch,
        routes::contribution::notify,
        routes::contribution::close_expired,
        routes::contribution::reconcile,
        routes::contribution::simulate_pay,
        routes::contribution::simulated_statement,
        routes::account::statement,
        routes::account::authorizations,
        routes::account::authorize,
        routes::account::revoke,
        routes::account::allocate,
        routes::import::import,
        routes::import::deaths,
        routes::policy::list,
        routes::policy::create,
        routes::policy::get,
        routes::policy::end,
        routes::policy::retire,
        routes::settlement::simulate,
        routes::audit::list,
        routes::fund::balances,
        routes::fund::balances_csv,
        routes::fund::trial_balance,
        routes::fund::movements,
        routes::fund::statements,
        routes::fund::statements_csv,
        routes::fund::statements_xlsx,
        routes::fund::sustainability,
        routes::fund::institution_payable,
        routes::fund::entries,
        routes::fund::transfer,
        routes::fund::opening,
        routes::fund::close_months,
        routes::fund::get_settings,
        routes::fund::put_settings,
        routes::fund::create_clearing,
        routes::fund::list_clearings,
        routes::fund::get_clearing,
        routes::fund::clearing_entries,
        routes::fund::clearing_instruction,
        routes::fund::confirm_payment,
        routes::fund::create_region_clearing,
        routes::fund::list_region_clearings,
        routes::fund::reconcile_totals,
        routes::fund::reconcile_details,
    ),
    tags(
        (name = "system", description = "健康检查与监控指标"),
        (name = "auth", description = "登录与账号"),
        (name = "catalog", description = "医保目录与地方调整"),
        (name = "reference", description = "编码表与区划"),
        (name = "institution", description = "定点医药机构"),
        (name = "enrollment", description = "参保登记：人员、参保、家庭、停保与恢复、关系转移接续、待遇享受状态"),
        (name = "employer", description = "参保单位与缴费基数申报"),
        (name = "contribution", description = "缴费政策、核定与账单"),
        (name = "payment", description = "缴费渠道（微信、支付宝、银行代扣、柜台）、回调、关单与对账"),
        (name = "account", description = "个人账户与家庭共济"),
        (name = "import", description = "批量导入（人员、单位、死亡数据）"),
        (name = "policy", description = "待遇政策（政策即数据，按生效日期分版本）"),
        (name = "settlement", description = "待遇结算与费用试算"),
        (name = "audit", description = "审计日志"),
        (name = "fund", description = "基金核算与财务监管：余额、收支表、清算、对账"),
    )
)]
pub struct ApiDoc;

/// The OpenAPI 3.1 document.
pub async fn document() -> impl IntoResponse {
    Json(ApiDoc::openapi())
}

/// A page that lists every operation and lets you call it.
pub async fn page() -> impl IntoResponse {
    Html(include_str!("docs.html"))
}
