//! Login, logout, the current account, and staff management.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use yibao_app::auth::{self, Login, NewStaff, Session, StaffView};

use crate::AppState;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiJson, BearerToken, Public, Staff};

/// Logs in with username and password; answers a bearer token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = Login,
    responses((status = 200, body = Session), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    Public(ctx): Public,
    ApiJson(input): ApiJson<Login>,
) -> ApiResult<Json<Session>> {
    Ok(Json(auth::login(&state.app, &ctx, input).await?))
}

/// Ends the current session.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    BearerToken(token): BearerToken,
) -> ApiResult<axum::http::StatusCode> {
    auth::logout(&state.app, &ctx, &token).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Me {
    pub id: String,
    pub username: String,
    pub roles: Vec<yibao_domain::auth::Role>,
    pub region_scope: yibao_domain::auth::RegionScope,
}

/// The account behind the token.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
pub async fn me(Staff(ctx): Staff) -> Json<Me> {
    Json(Me { id: ctx.actor.id, username: ctx.actor.name, roles: ctx.actor.roles, region_scope: ctx.actor.scope })
}

/// Staff accounts within the caller's scope (管理员).
#[utoipa::path(get, path = "/api/v1/staff", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Vec<StaffView>), (status = 403, body = ErrorBody)))]
pub async fn list_staff(State(state): State<AppState>, Staff(ctx): Staff) -> ApiResult<Json<Vec<StaffView>>> {
    Ok(Json(auth::list_staff(&state.app, &ctx).await?))
}

/// Creates a staff account inside the caller's scope (管理员).
#[utoipa::path(post, path = "/api/v1/staff", tag = "auth", security(("bearer" = [])), request_body = NewStaff,
    responses((status = 201, body = StaffView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_staff(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<NewStaff>,
) -> ApiResult<(axum::http::StatusCode, Json<StaffView>)> {
    Ok((axum::http::StatusCode::CREATED, Json(auth::create_staff(&state.app, &ctx, input).await?)))
}

/// Disables an account and ends its sessions.
#[utoipa::path(post, path = "/api/v1/staff/{id}/disable", tag = "auth", security(("bearer" = [])),
    params(("id" = i64, Path, description = "账号编号")),
    responses((status = 200, body = StaffView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn disable_staff(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(id): Path<i64>,
) -> ApiResult<Json<StaffView>> {
    Ok(Json(auth::set_active(&state.app, &ctx, id, false).await?))
}

/// Enables an account again.
#[utoipa::path(post, path = "/api/v1/staff/{id}/enable", tag = "auth", security(("bearer" = [])),
    params(("id" = i64, Path, description = "账号编号")),
    responses((status = 200, body = StaffView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn enable_staff(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(id): Path<i64>,
) -> ApiResult<Json<StaffView>> {
    Ok(Json(auth::set_active(&state.app, &ctx, id, true).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPassword {
    pub password: String,
}

/// Sets a new password (own account, or any in scope for 管理员); ends the account's sessions.
#[utoipa::path(post, path = "/api/v1/staff/{id}/password", tag = "auth", security(("bearer" = [])), request_body = NewPassword,
    params(("id" = i64, Path, description = "账号编号")),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn set_password(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<NewPassword>,
) -> ApiResult<axum::http::StatusCode> {
    auth::set_password(&state.app, &ctx, id, &input.password).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
