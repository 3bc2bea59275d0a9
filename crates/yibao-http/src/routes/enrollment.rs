//! 参保登记: persons, enrollments, households, transfers, coverage.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use yibao_app::contribution::AssessmentReport;
use yibao_app::enrollment::{
    self, EnrollmentResult, EnrollmentView, HouseholdView, NewEnrollment, NewHousehold, PersonView, Renewal,
    ResumeInput, StopInput, TransferIn, TransferOut, TransferView,
};
use yibao_domain::Date;
use yibao_domain::enrollment::Coverage;

use crate::AppState;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, Staff};

/// A person by person number or ID number, with enrollments, household and months paid.
#[utoipa::path(get, path = "/api/v1/persons/{key}", tag = "enrollment", security(("bearer" = [])),
    params(("key" = String, Path, description = "人员编号或身份证号")),
    responses((status = 200, body = PersonView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(key): Path<String>,
) -> ApiResult<Json<PersonView>> {
    Ok(Json(enrollment::get_person(&state.app, &ctx, &key).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CoverageQuery {
    /// Default: today.
    pub date: Option<Date>,
}

/// Benefit status on a date (待遇享受状态): covered or not, why, insutype, psn_type, psn_insu_stas.
#[utoipa::path(get, path = "/api/v1/persons/{key}/coverage", tag = "enrollment", security(("bearer" = [])),
    params(("key" = String, Path, description = "人员编号或身份证号"), CoverageQuery),
    responses((status = 200, body = Coverage), (status = 404, body = ErrorBody)))]
pub async fn coverage(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(key): Path<String>,
    ApiQuery(q): ApiQuery<CoverageQuery>,
) -> ApiResult<Json<Coverage>> {
    Ok(Json(enrollment::coverage_on(&state.app, &ctx, &key, q.date).await?))
}

/// Enrolls a person in 职工 (through an employer, or as a flexible worker) or 居民; refuses a second basic enrollment (重复参保).
#[utoipa::path(post, path = "/api/v1/enrollments", tag = "enrollment", security(("bearer" = [])), request_body = NewEnrollment,
    responses((status = 201, body = EnrollmentResult), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn enroll(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<NewEnrollment>,
) -> ApiResult<(StatusCode, Json<EnrollmentResult>)> {
    Ok((StatusCode::CREATED, Json(enrollment::enroll(&state.app, &ctx, input).await?)))
}

/// 停保 with a reason.
#[utoipa::path(post, path = "/api/v1/enrollments/{id}/stop", tag = "enrollment", security(("bearer" = [])),
    params(("id" = i64, Path, description = "参保记录编号")), request_body = StopInput,
    responses((status = 200, body = EnrollmentView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn stop(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<StopInput>,
) -> ApiResult<Json<EnrollmentView>> {
    Ok(Json(enrollment::stop(&state.app, &ctx, id, input).await?))
}

/// 恢复参保 on the terms of the last stopped enrollment.
#[utoipa::path(post, path = "/api/v1/persons/{psn_no}/resume", tag = "enrollment", security(("bearer" = [])),
    params(("psn_no" = String, Path, description = "人员编号")), request_body = ResumeInput,
    responses((status = 200, body = EnrollmentView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn resume(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(psn_no): Path<String>,
    ApiJson(input): ApiJson<ResumeInput>,
) -> ApiResult<Json<EnrollmentView>> {
    Ok(Json(enrollment::resume(&state.app, &ctx, &psn_no, input).await?))
}

/// Registers a resident household (exactly one head) and enrolls its members in 居民医保.
#[utoipa::path(post, path = "/api/v1/households", tag = "enrollment", security(("bearer" = [])), request_body = NewHousehold,
    responses((status = 201, body = HouseholdView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_household(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<NewHousehold>,
) -> ApiResult<(StatusCode, Json<HouseholdView>)> {
    Ok((StatusCode::CREATED, Json(enrollment::enroll_household(&state.app, &ctx, input).await?)))
}

/// A household with its members.
#[utoipa::path(get, path = "/api/v1/households/{hh_no}", tag = "enrollment", security(("bearer" = [])),
    params(("hh_no" = String, Path, description = "家庭编号")),
    responses((status = 200, body = HouseholdView), (status = 404, body = ErrorBody)))]
pub async fn household(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(hh_no): Path<String>,
) -> ApiResult<Json<HouseholdView>> {
    Ok(Json(enrollment::get_household(&state.app, &ctx, &hh_no).await?))
}

/// 续保: the next scheme year's bill of a household (or a resident person).
#[utoipa::path(post, path = "/api/v1/households/{key}/renew", tag = "enrollment", security(("bearer" = [])),
    params(("key" = String, Path, description = "家庭编号或人员编号")), request_body = Renewal,
    responses((status = 200, body = AssessmentReport), (status = 404, body = ErrorBody)))]
pub async fn renew(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(key): Path<String>,
    ApiJson(input): ApiJson<Renewal>,
) -> ApiResult<Json<AssessmentReport>> {
    Ok(Json(enrollment::renew(&state.app, &ctx, &key, input).await?))
}

/// 关系转移 out to another region; months paid and the account balance travel with the person.
#[utoipa::path(post, path = "/api/v1/persons/{psn_no}/transfer-out", tag = "enrollment", security(("bearer" = [])),
    params(("psn_no" = String, Path, description = "人员编号")), request_body = TransferOut,
    responses((status = 200, body = TransferView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn transfer_out(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(psn_no): Path<String>,
    ApiJson(input): ApiJson<TransferOut>,
) -> ApiResult<Json<TransferView>> {
    Ok(Json(enrollment::transfer_out(&state.app, &ctx, &psn_no, input).await?))
}

/// 关系接续 in the receiving region.
#[utoipa::path(post, path = "/api/v1/transfers/{id}/accept", tag = "enrollment", security(("bearer" = [])),
    params(("id" = String, Path, description = "转移编号")), request_body = TransferIn,
    responses((status = 200, body = TransferView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn transfer_in(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<TransferIn>,
) -> ApiResult<Json<TransferView>> {
    Ok(Json(enrollment::transfer_in(&state.app, &ctx, &id, input).await?))
}

/// Issues a 医保电子凭证 token for the person (经办, 管理员): valid 5 minutes,
/// shown as a QR code; institutions send it as `mdtrt_cert_no` with `mdtrt_cert_type` 01.
#[utoipa::path(post, path = "/api/v1/persons/{psn_no}/evoucher", tag = "enrollment", security(("bearer" = [])),
    params(("psn_no" = String, Path, description = "人员编号")),
    responses((status = 201, body = yibao_app::evoucher::Token), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn issue_evoucher(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(psn_no): Path<String>,
) -> ApiResult<(StatusCode, Json<yibao_app::evoucher::Token>)> {
    Ok((StatusCode::CREATED, Json(yibao_app::evoucher::issue_for_person(&state.app, &ctx, &psn_no).await?)))
}
