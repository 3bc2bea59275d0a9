//! 个人账户.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use yibao_app::account::{
    self, AllocationReport, AllocationRun, AuthorizationView, NewAuthorization, PageQuery, Revocation, Statement,
};
use yibao_domain::account::FamilyAuthorization;

use crate::AppState;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, Staff};

/// Balance and every movement with its running balance.
#[utoipa::path(get, path = "/api/v1/accounts/{psn_no}", tag = "account", security(("bearer" = [])),
    params(("psn_no" = String, Path, description = "人员编号"), PageQuery),
    responses((status = 200, body = Statement), (status = 404, body = ErrorBody)))]
pub async fn statement(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(psn_no): Path<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Statement>> {
    Ok(Json(account::statement(&state.app, &ctx, &psn_no, q).await?))
}

/// 家庭共济 authorizations granted by the account's owner, with this year's use.
#[utoipa::path(get, path = "/api/v1/accounts/{psn_no}/authorizations", tag = "account", security(("bearer" = [])),
    params(("psn_no" = String, Path, description = "人员编号")),
    responses((status = 200, body = Vec<AuthorizationView>), (status = 404, body = ErrorBody)))]
pub async fn authorizations(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(psn_no): Path<String>,
) -> ApiResult<Json<Vec<AuthorizationView>>> {
    Ok(Json(account::authorizations(&state.app, &ctx, &psn_no).await?))
}

/// Authorizes a spouse, parent or child to use the account, with a yearly limit.
#[utoipa::path(post, path = "/api/v1/accounts/{psn_no}/authorizations", tag = "account", security(("bearer" = [])),
    params(("psn_no" = String, Path, description = "人员编号")), request_body = NewAuthorization,
    responses((status = 201, body = FamilyAuthorization), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn authorize(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(psn_no): Path<String>,
    ApiJson(input): ApiJson<NewAuthorization>,
) -> ApiResult<(StatusCode, Json<FamilyAuthorization>)> {
    Ok((StatusCode::CREATED, Json(account::authorize(&state.app, &ctx, &psn_no, input).await?)))
}

/// Ends a 家庭共济 authorization.
#[utoipa::path(post, path = "/api/v1/account-authorizations/{id}/revoke", tag = "account", security(("bearer" = [])),
    params(("id" = i64, Path, description = "授权编号")), request_body = Revocation,
    responses((status = 200, body = FamilyAuthorization), (status = 404, body = ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<Revocation>,
) -> ApiResult<Json<FamilyAuthorization>> {
    Ok(Json(account::revoke(&state.app, &ctx, id, input).await?))
}

/// 退休人员定额划入 for a month (repeatable: a month is credited once).
#[utoipa::path(post, path = "/api/v1/accounts/retiree-allocations", tag = "account", security(("bearer" = [])), request_body = AllocationRun,
    responses((status = 200, body = AllocationReport), (status = 400, body = ErrorBody)))]
pub async fn allocate(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<AllocationRun>,
) -> ApiResult<Json<AllocationReport>> {
    Ok(Json(account::allocate_retirees(&state.app, &ctx, input).await?))
}
