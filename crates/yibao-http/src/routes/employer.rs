//! 参保单位.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use yibao_app::Page;
use yibao_app::employer::{self, BaseDeclaration, BaseDeclared, EmployerPatch, ListQuery, NewEmployer};
use yibao_app::enrollment::EnrollmentView;
use yibao_domain::employer::Employer;

use crate::AppState;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, Staff};

/// Employers in the caller's scope.
#[utoipa::path(get, path = "/api/v1/employers", tag = "employer", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Page<Employer>), (status = 400, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Page<Employer>>> {
    Ok(Json(employer::list(&state.app, &ctx, q).await?))
}

/// Registers an employer; the unified social credit code's check character is verified.
#[utoipa::path(post, path = "/api/v1/employers", tag = "employer", security(("bearer" = [])), request_body = NewEmployer,
    responses((status = 201, body = Employer), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<NewEmployer>,
) -> ApiResult<(StatusCode, Json<Employer>)> {
    Ok((StatusCode::CREATED, Json(employer::create(&state.app, &ctx, input).await?)))
}

#[utoipa::path(get, path = "/api/v1/employers/{emp_no}", tag = "employer", security(("bearer" = [])),
    params(("emp_no" = String, Path, description = "单位编号")),
    responses((status = 200, body = Employer), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(emp_no): Path<String>,
) -> ApiResult<Json<Employer>> {
    Ok(Json(employer::get(&state.app, &ctx, &emp_no).await?))
}

/// Changes details, suspends (暂停缴费) or cancels (注销) an employer.
#[utoipa::path(patch, path = "/api/v1/employers/{emp_no}", tag = "employer", security(("bearer" = [])),
    params(("emp_no" = String, Path, description = "单位编号")), request_body = EmployerPatch,
    responses((status = 200, body = Employer), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(emp_no): Path<String>,
    ApiJson(patch): ApiJson<EmployerPatch>,
) -> ApiResult<Json<Employer>> {
    Ok(Json(employer::update(&state.app, &ctx, &emp_no, patch).await?))
}

/// 缴费基数申报 for a year, each base within the region's floor and ceiling.
#[utoipa::path(post, path = "/api/v1/employers/{emp_no}/bases", tag = "employer", security(("bearer" = [])),
    params(("emp_no" = String, Path, description = "单位编号")), request_body = BaseDeclaration,
    responses((status = 200, body = BaseDeclared), (status = 400, body = ErrorBody)))]
pub async fn declare_bases(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(emp_no): Path<String>,
    ApiJson(input): ApiJson<BaseDeclaration>,
) -> ApiResult<Json<BaseDeclared>> {
    Ok(Json(employer::declare_bases(&state.app, &ctx, &emp_no, input).await?))
}

/// The employer's insured employees.
#[utoipa::path(get, path = "/api/v1/employers/{emp_no}/employees", tag = "employer", security(("bearer" = [])),
    params(("emp_no" = String, Path, description = "单位编号")),
    responses((status = 200, body = Vec<EnrollmentView>), (status = 404, body = ErrorBody)))]
pub async fn employees(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(emp_no): Path<String>,
) -> ApiResult<Json<Vec<EnrollmentView>>> {
    Ok(Json(employer::employees(&state.app, &ctx, &emp_no).await?))
}
