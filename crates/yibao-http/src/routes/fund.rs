//! 基金核算与财务监管: balances, statements, clearing, reconciliation (财务, 监管).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use yibao_app::AppError;
use yibao_app::fund::clearing::{
    self, ClearingInput, ClearingQuery, ClearingView, PaymentInput, RegionClearingInput, RegionClearingQuery,
    RegionClearingView,
};
use yibao_app::fund::reconcile::{self, DetailsInput, Reconciliation, TotalsInput};
use yibao_app::fund::{
    self, BalanceQuery, BalanceReport, CloseInput, EntryQuery, EntryView, FundSettings, InstitutionPayable, MonthClose,
    MovementQuery, MovementReport, OpeningInput, SettingsInput, Statement, StatementQuery, SustainabilityQuery,
    SustainabilityReport, TransferInput, TrialBalance, TrialQuery, export,
};

use crate::AppState;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, Staff};

fn file(name: &str, content_type: &'static str, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        bytes,
    )
        .into_response()
}

const CSV: &str = "text/csv; charset=utf-8";
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

fn id_of(text: &str) -> Result<i64, AppError> {
    let digits = text.trim().trim_start_matches("QS");
    digits.parse::<i64>().map_err(|_| AppError::invalid("id", "清算编号无效"))
}

/// Account balances and fund positions as of a day (科目余额表).
#[utoipa::path(get, path = "/api/v1/fund/balances", tag = "fund", security(("bearer" = [])), params(BalanceQuery),
    responses((status = 200, body = BalanceReport), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn balances(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<BalanceQuery>,
) -> ApiResult<Json<BalanceReport>> {
    Ok(Json(fund::balances(&state.app, &ctx, q).await?))
}

/// The same balances as a CSV file.
#[utoipa::path(get, path = "/api/v1/fund/balances.csv", tag = "fund", security(("bearer" = [])), params(BalanceQuery),
    responses((status = 200, description = "CSV (UTF-8)", content_type = "text/csv"), (status = 400, body = ErrorBody)))]
pub async fn balances_csv(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<BalanceQuery>,
) -> ApiResult<Response> {
    let (name, bytes) = export::balances_file(&state.app, &ctx, q).await?;
    Ok(file(&name, CSV, bytes))
}

/// 试算平衡表: every account in scope; debits equal credits in a sound ledger.
#[utoipa::path(get, path = "/api/v1/fund/trial-balance", tag = "fund", security(("bearer" = [])), params(TrialQuery),
    responses((status = 200, body = TrialBalance), (status = 400, body = ErrorBody)))]
pub async fn trial_balance(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<TrialQuery>,
) -> ApiResult<Json<TrialBalance>> {
    Ok(Json(fund::trial_balance(&state.app, &ctx, q).await?))
}

/// Opening balance, debits, credits and closing balance per account over a period.
#[utoipa::path(get, path = "/api/v1/fund/movements", tag = "fund", security(("bearer" = [])), params(MovementQuery),
    responses((status = 200, body = MovementReport), (status = 400, body = ErrorBody)))]
pub async fn movements(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<MovementQuery>,
) -> ApiResult<Json<MovementReport>> {
    Ok(Json(fund::movements(&state.app, &ctx, q).await?))
}

/// Income and expense by month, fund, account and med_type (收支表).
#[utoipa::path(get, path = "/api/v1/fund/statements", tag = "fund", security(("bearer" = [])), params(StatementQuery),
    responses((status = 200, body = Statement), (status = 400, body = ErrorBody)))]
pub async fn statements(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<StatementQuery>,
) -> ApiResult<Json<Statement>> {
    Ok(Json(fund::statement(&state.app, &ctx, q).await?))
}

/// The income and expense statement as a CSV file.
#[utoipa::path(get, path = "/api/v1/fund/statements.csv", tag = "fund", security(("bearer" = [])), params(StatementQuery),
    responses((status = 200, description = "CSV (UTF-8)", content_type = "text/csv"), (status = 400, body = ErrorBody)))]
pub async fn statements_csv(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<StatementQuery>,
) -> ApiResult<Response> {
    let (name, bytes) = export::statement_file(&state.app, &ctx, q, false).await?;
    Ok(file(&name, CSV, bytes))
}

/// The income and expense statement as an Excel workbook (.xlsx).
#[utoipa::path(get, path = "/api/v1/fund/statements.xlsx", tag = "fund", security(("bearer" = [])), params(StatementQuery),
    responses((status = 200, description = "Excel workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 400, body = ErrorBody)))]
pub async fn statements_xlsx(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<StatementQuery>,
) -> ApiResult<Response> {
    let (name, bytes) = export::statement_file(&state.app, &ctx, q, true).await?;
    Ok(file(&name, XLSX, bytes))
}

/// 可支付月数 per fund, with the region's alert threshold.
#[utoipa::path(get, path = "/api/v1/fund/sustainability", tag = "fund", security(("bearer" = [])),
    params(SustainabilityQuery),
    responses((status = 200, body = SustainabilityReport), (status = 400, body = ErrorBody)))]
pub async fn sustainability(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<SustainabilityQuery>,
) -> ApiResult<Json<SustainabilityReport>> {
    Ok(Json(fund::sustainability(&state.app, &ctx, q).await?))
}

#[derive(utoipa::IntoParams, Deserialize)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AsOf {
    pub as_of: Option<String>,
}

/// What the funds owe an institution (2101) and hold back from it (2102).
#[utoipa::path(get, path = "/api/v1/fund/institutions/{code}/payable", tag = "fund", security(("bearer" = [])),
    params(("code" = String, Path, description = "定点医药机构编码"), AsOf),
    responses((status = 200, body = InstitutionPayable), (status = 400, body = ErrorBody)))]
pub async fn institution_payable(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(code): Path<String>,
    ApiQuery(q): ApiQuery<AsOf>,
) -> ApiResult<Json<InstitutionPayable>> {
    Ok(Json(fund::institution_payable(&state.app, &ctx, &code, q.as_of).await?))
}

/// Journal entries (记账凭证) touching regions in scope, newest first.
#[utoipa::path(get, path = "/api/v1/fund/entries", tag = "fund", security(("bearer" = [])), params(EntryQuery),
    responses((status = 200, body = Vec<EntryView>), (status = 400, body = ErrorBody)))]
pub async fn entries(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<EntryQuery>,
) -> ApiResult<Json<Vec<EntryView>>> {
    Ok(Json(fund::entries(&state.app, &ctx, q).await?))
}

/// 划拨 between two bank accounts of a fund (财务).
#[utoipa::path(post, path = "/api/v1/fund/transfers", tag = "fund", security(("bearer" = [])), request_body = TransferInput,
    responses((status = 201, body = EntryView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn transfer(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<TransferInput>,
) -> ApiResult<(StatusCode, Json<EntryView>)> {
    Ok((StatusCode::CREATED, Json(fund::transfer(&state.app, &ctx, input).await?)))
}

/// 期初余额 of a fund (财务).
#[utoipa::path(post, path = "/api/v1/fund/openings", tag = "fund", security(("bearer" = [])), request_body = OpeningInput,
    responses((status = 201, body = EntryView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn opening(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<OpeningInput>,
) -> ApiResult<(StatusCode, Json<EntryView>)> {
    Ok((StatusCode::CREATED, Json(fund::opening(&state.app, &ctx, input).await?)))
}

/// Month close (月结) of every open month up to `through` (national scope):
/// later reads use the months' snapshots; late events are dated after them.
#[utoipa::path(post, path = "/api/v1/fund/closes", tag = "fund", security(("bearer" = [])), request_body = CloseInput,
    responses((status = 201, body = Vec<MonthClose>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn close_months(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<CloseInput>,
) -> ApiResult<(StatusCode, Json<Vec<MonthClose>>)> {
    Ok((StatusCode::CREATED, Json(fund::close_months(&state.app, &ctx, input).await?)))
}

/// A region's withholding share and sustainability alert threshold.
#[utoipa::path(get, path = "/api/v1/fund/settings/{region}", tag = "fund", security(("bearer" = [])),
    params(("region" = String, Path, description = "统筹区代码")),
    responses((status = 200, body = FundSettings), (status = 400, body = ErrorBody)))]
pub async fn get_settings(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(region): Path<String>,
) -> ApiResult<Json<FundSettings>> {
    Ok(Json(fund::get_settings(&state.app, &ctx, &region).await?))
}

/// Changes a region's settings (财务), audited.
#[utoipa::path(put, path = "/api/v1/fund/settings/{region}", tag = "fund", security(("bearer" = [])),
    params(("region" = String, Path, description = "统筹区代码")), request_body = SettingsInput,
    responses((status = 200, body = FundSettings), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn put_settings(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(region): Path<String>,
    ApiJson(input): ApiJson<SettingsInput>,
) -> ApiResult<Json<FundSettings>> {
    Ok(Json(fund::put_settings(&state.app, &ctx, &region, input).await?))
}

/// Runs the monthly clearing of one institution or of every institution in scope (财务).
#[utoipa::path(post, path = "/api/v1/fund/clearings", tag = "fund", security(("bearer" = [])), request_body = ClearingInput,
    responses((status = 201, body = Vec<ClearingView>), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_clearing(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<ClearingInput>,
) -> ApiResult<(StatusCode, Json<Vec<ClearingView>>)> {
    Ok((StatusCode::CREATED, Json(clearing::create(&state.app, &ctx, input).await?)))
}

/// Clearing runs in scope.
#[utoipa::path(get, path = "/api/v1/fund/clearings", tag = "fund", security(("bearer" = [])), params(ClearingQuery),
    responses((status = 200, body = Vec<ClearingView>), (status = 400, body = ErrorBody)))]
pub async fn list_clearings(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<ClearingQuery>,
) -> ApiResult<Json<Vec<ClearingView>>> {
    Ok(Json(clearing::list(&state.app, &ctx, q).await?))
}

/// One clearing run.
#[utoipa::path(get, path = "/api/v1/fund/clearings/{id}", tag = "fund", security(("bearer" = [])),
    params(("id" = String, Path, description = "清算编号")),
    responses((status = 200, body = ClearingView), (status = 404, body = ErrorBody)))]
pub async fn get_clearing(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(id): Path<String>,
) -> ApiResult<Json<ClearingView>> {
    Ok(Json(clearing::get(&state.app, &ctx, id_of(&id)?).await?))
}

/// The journal entries of a clearing run (withholding, payment).
#[utoipa::path(get, path = "/api/v1/fund/clearings/{id}/entries", tag = "fund", security(("bearer" = [])),
    params(("id" = String, Path, description = "清算编号")),
    responses((status = 200, body = Vec<EntryView>), (status = 404, body = ErrorBody)))]
pub async fn clearing_entries(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<EntryView>>> {
    Ok(Json(clearing::clearing_entries(&state.app, &ctx, id_of(&id)?).await?))
}

/// The payment instruction file (拨付指令) of a clearing run, CSV.
#[utoipa::path(get, path = "/api/v1/fund/clearings/{id}/instruction.csv", tag = "fund", security(("bearer" = [])),
    params(("id" = String, Path, description = "清算编号")),
    responses((status = 200, description = "CSV (UTF-8)", content_type = "text/csv"), (status = 404, body = ErrorBody)))]
pub async fn clearing_instruction(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let c = clearing::get(&state.app, &ctx, id_of(&id)?).await?;
    let bytes = clearing::instruction_csv(&c)?;
    Ok(file(&format!("payment-instruction-{}.csv", c.clearing_no), CSV, bytes))
}

/// Posts the payment of a clearing run once the bank confirms it (财务).
#[utoipa::path(post, path = "/api/v1/fund/clearings/{id}/payment", tag = "fund", security(("bearer" = [])),
    params(("id" = String, Path, description = "清算编号")), request_body = PaymentInput,
    responses((status = 200, body = ClearingView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn confirm_payment(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<PaymentInput>,
) -> ApiResult<Json<ClearingView>> {
    Ok(Json(clearing::confirm_payment(&state.app, &ctx, id_of(&id)?, input).await?))
}

/// Runs the cross-region clearing of a month between regions in scope (财务).
#[utoipa::path(post, path = "/api/v1/fund/region-clearings", tag = "fund", security(("bearer" = [])),
    request_body = RegionClearingInput,
    responses((status = 201, body = Vec<RegionClearingView>), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_region_clearing(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<RegionClearingInput>,
) -> ApiResult<(StatusCode, Json<Vec<RegionClearingView>>)> {
    Ok((StatusCode::CREATED, Json(clearing::clear_regions(&state.app, &ctx, input).await?)))
}

/// Cross-region clearing results.
#[utoipa::path(get, path = "/api/v1/fund/region-clearings", tag = "fund", security(("bearer" = [])),
    params(RegionClearingQuery),
    responses((status = 200, body = Vec<RegionClearingView>), (status = 400, body = ErrorBody)))]
pub async fn list_region_clearings(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<RegionClearingQuery>,
) -> ApiResult<Json<Vec<RegionClearingView>>> {
    Ok(Json(clearing::region_clearings(&state.app, &ctx, q).await?))
}

/// 对总账: an institution's totals per insutype and clr_type against the platform's.
#[utoipa::path(post, path = "/api/v1/fund/reconciliations/totals", tag = "fund", security(("bearer" = [])),
    request_body = TotalsInput,
    responses((status = 200, body = Reconciliation), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn reconcile_totals(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<TotalsInput>,
) -> ApiResult<Json<Reconciliation>> {
    Ok(Json(reconcile::totals(&state.app, &ctx, input).await?))
}

/// 对明细账: an institution's detail list against the platform's settlements.
#[utoipa::path(post, path = "/api/v1/fund/reconciliations/details", tag = "fund", security(("bearer" = [])),
    request_body = DetailsInput,
    responses((status = 200, body = Reconciliation), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn reconcile_details(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<DetailsInput>,
) -> ApiResult<Json<Reconciliation>> {
    Ok(Json(reconcile::details(&state.app, &ctx, input).await?))
}
