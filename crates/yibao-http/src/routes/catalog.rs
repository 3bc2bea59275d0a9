//! The catalog: public search and lookup; regional overrides for staff.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use yibao_app::Page;
use yibao_app::catalog::{self, CodeName, Detail, Entry, NewOverride, SearchQuery};
use yibao_domain::Date;
use yibao_domain::catalog::CatalogOverride;

use crate::AppState;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, Public, Staff};

/// Searches the catalog by Chinese name, pinyin initials or code (public).
///
/// Each entry shows its class (甲/乙/丙), 先行自付比例, 最高支付标准 and
/// restriction, resolved for `region` on `date` when given.
#[utoipa::path(get, path = "/api/v1/catalog/search", tag = "catalog", params(SearchQuery),
    responses((status = 200, body = Page<Entry>), (status = 400, body = ErrorBody)))]
pub async fn search(
    State(state): State<AppState>,
    Public(ctx): Public,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> ApiResult<Json<Page<Entry>>> {
    Ok(Json(catalog::search(&state.app, q, ctx.today()).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ResolveQuery {
    /// Region (6-digit admdvs) to resolve for; national rules only if absent.
    pub region: Option<String>,
    /// Date to resolve on; today if absent.
    pub date: Option<String>,
}

/// One catalog item with its rules, linked products and applicable overrides (public).
#[utoipa::path(get, path = "/api/v1/catalog/items/{code}", tag = "catalog",
    params(("code" = String, Path, description = "目录编码"), ResolveQuery),
    responses((status = 200, body = Detail), (status = 404, body = ErrorBody)))]
pub async fn item(
    State(state): State<AppState>,
    Public(ctx): Public,
    Path(code): Path<String>,
    ApiQuery(q): ApiQuery<ResolveQuery>,
) -> ApiResult<Json<Detail>> {
    Ok(Json(catalog::get(&state.app, &code, q.region.as_deref(), q.date.as_deref(), ctx.today()).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CodeQuery {
    /// Name substring, pinyin initials or code prefix.
    pub q: String,
    pub limit: Option<i64>,
}

/// Searches ICD-10 医保版 diagnoses (public).
#[utoipa::path(get, path = "/api/v1/catalog/diagnoses", tag = "catalog", params(CodeQuery),
    responses((status = 200, body = Vec<CodeName>), (status = 400, body = ErrorBody)))]
pub async fn diagnoses(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<CodeQuery>,
) -> ApiResult<Json<Vec<CodeName>>> {
    Ok(Json(catalog::search_codes(&state.app, true, &q.q, q.limit).await?))
}

/// Searches ICD-9-CM-3 医保版 procedures (public).
#[utoipa::path(get, path = "/api/v1/catalog/procedures", tag = "catalog", params(CodeQuery),
    responses((status = 200, body = Vec<CodeName>), (status = 400, body = ErrorBody)))]
pub async fn procedures(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<CodeQuery>,
) -> ApiResult<Json<Vec<CodeName>>> {
    Ok(Json(catalog::search_codes(&state.app, false, &q.q, q.limit).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// Regional catalog overrides within the caller's scope.
#[utoipa::path(get, path = "/api/v1/catalog/overrides", tag = "catalog", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Vec<CatalogOverride>), (status = 401, body = ErrorBody)))]
pub async fn list_overrides(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Vec<CatalogOverride>>> {
    Ok(Json(catalog::list_overrides(&state.app, &ctx, q.limit, q.offset).await?))
}

/// Sets a region's class, 先行自付比例, price cap or restriction for an item
/// or a kind of item, from a date (管理员).
#[utoipa::path(post, path = "/api/v1/catalog/overrides", tag = "catalog", security(("bearer" = [])), request_body = NewOverride,
    responses((status = 201, body = CatalogOverride), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create_override(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<NewOverride>,
) -> ApiResult<(axum::http::StatusCode, Json<CatalogOverride>)> {
    Ok((axum::http::StatusCode::CREATED, Json(catalog::create_override(&state.app, &ctx, input).await?)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndOverride {
    /// Last day the override applies (inclusive).
    pub end_date: Date,
}

/// Ends an override (overrides are never deleted).
#[utoipa::path(post, path = "/api/v1/catalog/overrides/{id}/end", tag = "catalog", security(("bearer" = [])),
    params(("id" = i64, Path, description = "调整编号")), request_body = EndOverride,
    responses((status = 200, body = CatalogOverride), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn end_override(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<EndOverride>,
) -> ApiResult<Json<CatalogOverride>> {
    Ok(Json(catalog::end_override(&state.app, &ctx, id, input.end_date).await?))
}
