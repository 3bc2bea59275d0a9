//! Batch imports (persons, employers, deaths) from CSV or Excel.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use yibao_app::AppError;
use yibao_app::import::{self, DeathImportReport, Format, ImportReport};

use crate::AppState;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiQuery, Staff};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// `csv` or `xlsx`; default from the Content-Type.
    pub format: Option<String>,
}

fn format_of(q: &ImportQuery, headers: &HeaderMap) -> Result<Format, AppError> {
    if let Some(f) = &q.format {
        return Format::parse(f);
    }
    let ct = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if ct.starts_with("text/csv") {
        Ok(Format::Csv)
    } else if ct.contains("spreadsheetml") {
        Ok(Format::Xlsx)
    } else {
        Err(AppError::invalid("format", "请以 text/csv 或 .xlsx 的 Content-Type 上传，或指定 ?format=csv|xlsx"))
    }
}

/// Imports persons or employers; every row is validated and reported.
#[utoipa::path(post, path = "/api/v1/imports/{kind}", tag = "import", security(("bearer" = [])),
    params(("kind" = String, Path, description = "persons 或 employers"), ImportQuery),
    request_body(content = String, description = "CSV（UTF-8）或 .xlsx 文件内容"),
    responses((status = 200, body = ImportReport), (status = 400, body = ErrorBody)))]
pub async fn import(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    Path(kind): Path<String>,
    ApiQuery(q): ApiQuery<ImportQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<ImportReport>> {
    let format = format_of(&q, &headers)?;
    Ok(Json(match kind.as_str() {
        "persons" => import::persons(&state.app, &ctx, &body, format).await?,
        "employers" => import::employers(&state.app, &ctx, &body, format).await?,
        _ => return Err(AppError::invalid("kind", "导入类型应为 persons 或 employers").into()),
    }))
}

/// Imports death records (certno, death_date): insurance stops as of the date; later settlements are listed for review.
#[utoipa::path(post, path = "/api/v1/imports/deaths", tag = "import", security(("bearer" = [])), params(ImportQuery),
    request_body(content = String, description = "CSV（UTF-8）或 .xlsx：身份证号, 死亡日期"),
    responses((status = 200, body = DeathImportReport), (status = 400, body = ErrorBody)))]
pub async fn deaths(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<ImportQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<DeathImportReport>> {
    let format = format_of(&q, &headers)?;
    Ok(Json(import::deaths(&state.app, &ctx, &body, format).await?))
}
