//! 定点医药机构 registry.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use yibao_app::Page;
use yibao_app::gateway::{self, CredentialList, CredentialView, IssuedCredential, NewCredential, RotateCredential};
use yibao_app::institution::{self, InstitutionPatch, ListQuery, NewAgreement, NewInstitution, StatusChange};
use yibao_domain::institution::Institution;

use crate::AppState;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, Staff};

/// Institutions within the caller's region scope.
#[utoipa::path(get, path = "/api/v1/institutions", tag = "institution", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Page<Institution>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Page<Institution>>> {
    Ok(Json(institution::list(&state.app, &ctx, q).await?))
}

/// Registers a hospital or pharmacy, optionally with its first agreement (审核, 管理员).
#[utoipa::path(post, path = "/api/v1/institutions", tag = "institution", security(("bearer" = [])), request_body = NewInstitution,
    responses((status = 201, body = Institution), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<NewInstitution>,
) -> ApiResult<(StatusCode, Json<Institution>)> {
    Ok((StatusCode::CREATED, Json(institution::create(&state.app, &ctx, input).await?)))
}

/// One institution with its agreements.
#[utoipa::path(get, path = "/api/v1/institutions/{code}", tag = "institution", security(("bearer" = [])),
    params(("code" = String, Path, description = "定点医药机构编码")),
    responses((status = 200, body = Institution), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(code): Path<String>,
) -> ApiResult<Json<Institution>> {
    Ok(Json(institution::get(&state.app, &ctx, &code).await?))
}

/// Changes name, level or address.
#[utoipa::path(patch, path = "/api/v1/institutions/{code}", tag = "institution", security(("bearer" = [])),
    params(("code" = String, Path, description = "定点医药机构编码")), request_body = InstitutionPatch,
    responses((status = 200, body = Institution), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(code): Path<String>,
    ApiJson(patch): ApiJson<InstitutionPatch>,
) -> ApiResult<Json<Institution>> {
    Ok(Json(institution::update(&state.app, &ctx, &code, patch).await?))
}

/// Suspends, reactivates or terminates an institution; a suspended one cannot settle.
#[utoipa::path(post, path = "/api/v1/institutions/{code}/status", tag = "institution", security(("bearer" = [])),
    params(("code" = String, Path, description = "定点医药机构编码")), request_body = StatusChange,
    responses((status = 200, body = Institution), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn set_status(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(code): Path<String>,
    ApiJson(change): ApiJson<StatusChange>,
) -> ApiResult<Json<Institution>> {
    Ok(Json(institution::set_status(&state.app, &ctx, &code, change).await?))
}

/// Adds a service agreement period (no overlap with an active one).
#[utoipa::path(post, path = "/api/v1/institutions/{code}/agreements", tag = "institution", security(("bearer" = [])),
    params(("code" = String, Path, description = "定点医药机构编码")), request_body = NewAgreement,
    responses((status = 200, body = Institution), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn add_agreement(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(code): Path<String>,
    ApiJson(input): ApiJson<NewAgreement>,
) -> ApiResult<Json<Institution>> {
    Ok(Json(institution::add_agreement(&state.app, &ctx, &code, input).await?))
}

/// Suspends, reactivates or terminates an agreement.
#[utoipa::path(post, path = "/api/v1/institutions/{code}/agreements/{agreement_no}/status", tag = "institution",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "定点医药机构编码"), ("agreement_no" = String, Path, description = "协议编号")),
    request_body = StatusChange,
    responses((status = 200, body = Institution), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set_agreement_status(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path((code, agreement_no)): Path<(String, String)>,
    ApiJson(change): ApiJson<StatusChange>,
) -> ApiResult<Json<Institution>> {
    Ok(Json(institution::set_agreement_status(&state.app, &ctx, &code, &agreement_no, change).await?))
}

/// Issues the institution's national-interface credential (审核, 管理员). The
/// secret (or SM4 key) is in this response only; it is never shown again.
#[utoipa::path(post, path = "/api/v1/institutions/{code}/credentials", tag = "institution", security(("bearer" = [])),
    params(("code" = String, Path, description = "定点医药机构编码")), request_body = NewCredential,
    responses((status = 201, body = IssuedCredential), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn issue_credential(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(code): Path<String>,
    ApiJson(input): ApiJson<NewCredential>,
) -> ApiResult<(StatusCode, Json<IssuedCredential>)> {
    Ok((StatusCode::CREATED, Json(gateway::issue(&state.app, &ctx, &code, input).await?)))
}

/// The institution's credentials (no secrets) and the platform's SM2 public key.
#[utoipa::path(get, path = "/api/v1/institutions/{code}/credentials", tag = "institution", security(("bearer" = [])),
    params(("code" = String, Path, description = "定点医药机构编码")),
    responses((status = 200, body = CredentialList), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_credentials(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(code): Path<String>,
) -> ApiResult<Json<CredentialList>> {
    Ok(Json(gateway::list(&state.app, &ctx, &code).await?))
}

/// Rotates a credential: a new secret now; the old one stays valid for 10 minutes.
#[utoipa::path(post, path = "/api/v1/institutions/{code}/credentials/{id}/rotate", tag = "institution",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "定点医药机构编码"), ("id" = String, Path, description = "凭证编号")),
    request_body = RotateCredential,
    responses((status = 200, body = IssuedCredential), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn rotate_credential(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path((code, id)): Path<(String, String)>,
    ApiJson(input): ApiJson<RotateCredential>,
) -> ApiResult<Json<IssuedCredential>> {
    Ok(Json(gateway::rotate(&state.app, &ctx, &code, &id, input).await?))
}

/// Revokes a credential at once.
#[utoipa::path(post, path = "/api/v1/institutions/{code}/credentials/{id}/revoke", tag = "institution",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "定点医药机构编码"), ("id" = String, Path, description = "凭证编号")),
    responses((status = 200, body = CredentialView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn revoke_credential(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path((code, id)): Path<(String, String)>,
) -> ApiResult<Json<CredentialView>> {
    Ok(Json(gateway::revoke(&state.app, &ctx, &code, &id).await?))
}
