//! Policies as data (管理员 writes; staff in scope read).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use yibao_app::policy::{self, NewPolicy, PolicyVersion};
use yibao_domain::Date;

use crate::AppState;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, Staff};
use crate::routes::catalog::PageQuery;

/// Policy versions of regions within the caller's scope.
#[utoipa::path(get, path = "/api/v1/policies", tag = "policy", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Vec<PolicyVersion>), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Vec<PolicyVersion>>> {
    Ok(Json(policy::list(&state.app, &ctx, q.limit, q.offset).await?))
}

/// Creates a policy version (validated: ratios 0–100%, bands ordered and
/// contiguous, thresholds non-negative, no overlap with another version of
/// the same region and insurance type unless it supersedes it).
#[utoipa::path(post, path = "/api/v1/policies", tag = "policy", security(("bearer" = [])), request_body = NewPolicy,
    responses((status = 201, body = PolicyVersion), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<NewPolicy>,
) -> ApiResult<(StatusCode, Json<PolicyVersion>)> {
    Ok((StatusCode::CREATED, Json(policy::create(&state.app, &ctx, input).await?)))
}

/// One policy version with its document.
#[utoipa::path(get, path = "/api/v1/policies/{id}", tag = "policy", security(("bearer" = [])),
    params(("id" = i64, Path, description = "政策版本编号")),
    responses((status = 200, body = PolicyVersion), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(id): Path<i64>,
) -> ApiResult<Json<PolicyVersion>> {
    Ok(Json(policy::get(&state.app, &ctx, id).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndPolicy {
    /// Last day the version applies (inclusive).
    pub end_date: Date,
}

/// Ends a version on a date (refused if later settlements used it).
#[utoipa::path(post, path = "/api/v1/policies/{id}/end", tag = "policy", security(("bearer" = [])),
    params(("id" = i64, Path, description = "政策版本编号")), request_body = EndPolicy,
    responses((status = 200, body = PolicyVersion), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn end(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<EndPolicy>,
) -> ApiResult<Json<PolicyVersion>> {
    Ok(Json(policy::end(&state.app, &ctx, id, input.end_date).await?))
}

/// Withdraws a version that was never used.
#[utoipa::path(post, path = "/api/v1/policies/{id}/retire", tag = "policy", security(("bearer" = [])),
    params(("id" = i64, Path, description = "政策版本编号")),
    responses((status = 200, body = PolicyVersion), (status = 409, body = ErrorBody)))]
pub async fn retire(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(id): Path<i64>,
) -> ApiResult<Json<PolicyVersion>> {
    Ok(Json(policy::retire(&state.app, &ctx, id).await?))
}
