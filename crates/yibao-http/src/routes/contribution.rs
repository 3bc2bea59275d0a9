//! 缴费: policies, assessment, bills, payments, reconciliation.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use yibao_app::Page;
use yibao_app::contribution::{
    self, AssessmentReport, AssessmentRun, BillQuery, BillView, OrderView, PolicyUpload, PolicyView,
};
use yibao_app::payment::{
    self, BankBatch, BankBatchResult, CloseReport, CounterPayment, NewOrder, ReconResult, ReconcileInput,
    SimulatedPayment,
};
use yibao_domain::Date;
use yibao_domain::contribution::Bill;
use yibao_domain::payment::Channel;

use crate::AppState;
use crate::error::{ApiResult, ErrorBody, current_request_id};
use crate::extract::{ApiJson, ApiQuery, Staff};

/// Contribution policy versions in scope.
#[utoipa::path(get, path = "/api/v1/contribution-policies", tag = "contribution", security(("bearer" = [])),
    responses((status = 200, body = Vec<PolicyView>)))]
pub async fn list_policies(State(state): State<AppState>, Staff(ctx): Staff) -> ApiResult<Json<Vec<PolicyView>>> {
    Ok(Json(contribution::list_policies(&state.app, &ctx).await?))
}

/// Adds a contribution policy version (TOML, validated field by field).
#[utoipa::path(post, path = "/api/v1/contribution-policies", tag = "contribution", security(("bearer" = [])), request_body = PolicyUpload,
    responses((status = 201, body = PolicyView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_policy(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<PolicyUpload>,
) -> ApiResult<(StatusCode, Json<PolicyView>)> {
    Ok((StatusCode::CREATED, Json(contribution::create_policy(&state.app, &ctx, input).await?)))
}

/// 核定: employees and flexible workers for a month (`yyyy-MM`), residents for a year (`yyyy`). Repeatable.
#[utoipa::path(post, path = "/api/v1/assessments", tag = "contribution", security(("bearer" = [])), request_body = AssessmentRun,
    responses((status = 200, body = AssessmentReport), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn assess(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<AssessmentRun>,
) -> ApiResult<Json<AssessmentReport>> {
    Ok(Json(contribution::assess(&state.app, &ctx, input).await?))
}

/// Bills by employer, person, household, period or status.
#[utoipa::path(get, path = "/api/v1/bills", tag = "contribution", security(("bearer" = [])), params(BillQuery),
    responses((status = 200, body = Page<Bill>), (status = 400, body = ErrorBody)))]
pub async fn list_bills(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<BillQuery>,
) -> ApiResult<Json<Page<Bill>>> {
    Ok(Json(contribution::list_bills(&state.app, &ctx, q).await?))
}

/// One bill with its lines and payment orders.
#[utoipa::path(get, path = "/api/v1/bills/{bill_id}", tag = "contribution", security(("bearer" = [])),
    params(("bill_id" = String, Path, description = "账单编号")),
    responses((status = 200, body = BillView), (status = 404, body = ErrorBody)))]
pub async fn get_bill(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(id): Path<String>,
) -> ApiResult<Json<BillView>> {
    Ok(Json(contribution::get_bill(&state.app, &ctx, &id).await?))
}

/// 柜台缴费: staff record a payment received at the counter.
#[utoipa::path(post, path = "/api/v1/bills/{bill_id}/counter-payment", tag = "payment", security(("bearer" = [])),
    params(("bill_id" = String, Path, description = "账单编号")), request_body = CounterPayment,
    responses((status = 200, body = OrderView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn counter_payment(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<CounterPayment>,
) -> ApiResult<Json<OrderView>> {
    Ok(Json(payment::counter_payment(&state.app, &ctx, &id, input).await?))
}

/// Creates a payment order on WeChat Pay, Alipay or bank debit for a bill.
#[utoipa::path(post, path = "/api/v1/payments/orders", tag = "payment", security(("bearer" = [])), request_body = NewOrder,
    responses((status = 201, body = OrderView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn create_order(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<NewOrder>,
) -> ApiResult<(StatusCode, Json<OrderView>)> {
    Ok((StatusCode::CREATED, Json(payment::create_order(&state.app, &ctx, input).await?)))
}

/// 银行批量代扣: one batch of bills; each record's result comes back as a signed callback.
#[utoipa::path(post, path = "/api/v1/payments/bank-debit-batches", tag = "payment", security(("bearer" = [])), request_body = BankBatch,
    responses((status = 201, body = BankBatchResult), (status = 400, body = ErrorBody)))]
pub async fn bank_batch(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<BankBatch>,
) -> ApiResult<(StatusCode, Json<BankBatchResult>)> {
    Ok((StatusCode::CREATED, Json(payment::bank_batch(&state.app, &ctx, input).await?)))
}

/// A channel's payment notification. Public (called by the channel) but
/// authenticated by the channel's signature; refused notifications are
/// audited and answered with the channel's failure acknowledgement.
#[utoipa::path(post, path = "/api/v1/payments/notify/{channel}", tag = "payment",
    params(("channel" = String, Path, description = "wechat（XML，HMAC-SHA256）、alipay（表单，RSA2）或 bank_debit（JSON，HMAC-SHA256）")),
    request_body(content = String, description = "渠道原始通知报文"),
    responses((status = 200, description = "已受理（渠道要求的成功应答）"), (status = 400, description = "拒绝（验签失败、订单不存在、金额不符），渠道要求的失败应答")))]
pub async fn notify(
    State(state): State<AppState>,
    Path(channel): Path<String>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    body: Bytes,
) -> ApiResult<Response> {
    let channel = Channel::parse(&channel)?;
    if !channel.is_online() {
        return Err(yibao_app::AppError::invalid("channel", "该渠道没有回调").into());
    }
    let ctx = payment::channel_ctx(channel, peer.ip().to_string(), current_request_id(), state.app.now_ms());
    let outcome = payment::notify(&state.app, &ctx, channel, body.to_vec()).await?;
    let status = if outcome.accepted { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    Ok((status, [(header::CONTENT_TYPE, outcome.content_type)], outcome.body).into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseRun {
    /// Close orders expired before this instant (Unix ms); default now.
    pub now_ms: Option<i64>,
}

/// Closes unpaid orders past their timeout (also run every minute by `yibao serve`).
#[utoipa::path(post, path = "/api/v1/payments/close-expired", tag = "payment", security(("bearer" = [])), request_body = CloseRun,
    responses((status = 200, body = CloseReport)))]
pub async fn close_expired(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<CloseRun>,
) -> ApiResult<Json<CloseReport>> {
    let now = input.now_ms.unwrap_or(ctx.now_ms);
    Ok(Json(payment::close_expired(&state.app, &ctx, now).await?))
}

/// 对账: a channel's daily statement against the payments recorded that day.
#[utoipa::path(post, path = "/api/v1/payments/reconciliations", tag = "payment", security(("bearer" = [])), request_body = ReconcileInput,
    responses((status = 200, body = ReconResult), (status = 400, body = ErrorBody)))]
pub async fn reconcile(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<ReconcileInput>,
) -> ApiResult<Json<ReconResult>> {
    Ok(Json(payment::reconcile(&state.app, &ctx, input).await?))
}

/// Demo: the channel simulator pays (or fails) an order and calls back.
#[utoipa::path(post, path = "/api/v1/payments/simulator/orders/{order_no}/pay", tag = "payment", security(("bearer" = [])),
    params(("order_no" = String, Path, description = "订单号")), request_body = SimulatedPayment,
    responses((status = 200, description = "模拟渠道回调的处理结果"), (status = 503, body = ErrorBody)))]
pub async fn simulate_pay(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(order_no): Path<String>,
    ApiJson(input): ApiJson<SimulatedPayment>,
) -> ApiResult<Json<serde_json::Value>> {
    let o = payment::simulate(&state.app, &ctx, &order_no, input).await?;
    Ok(Json(serde_json::json!({"accepted": o.accepted, "message": o.message, "channel_ack": o.body})))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StatementQuery {
    pub day: Date,
}

/// Demo: the channel simulator's statement of a day, in the channel's format.
#[utoipa::path(get, path = "/api/v1/payments/simulator/{channel}/statement", tag = "payment", security(("bearer" = [])),
    params(("channel" = String, Path, description = "wechat、alipay 或 bank_debit"), StatementQuery),
    responses((status = 200, body = String, content_type = "text/csv")))]
pub async fn simulated_statement(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(channel): Path<String>,
    ApiQuery(q): ApiQuery<StatementQuery>,
) -> ApiResult<Response> {
    ctx.require(yibao_domain::auth::Permission::ReadFund)?;
    let channel = Channel::parse(&channel)?;
    let text = payment::simulated_statement(&state.app, channel, q.day)?;
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], text).into_response())
}
