//! Code tables and divisions (public).

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use yibao_app::AppError;
use yibao_domain::codes::{self, CodeEntry};
use yibao_domain::division::{Division, DivisionChain};
use yibao_store::Tx;

use crate::AppState;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::ApiQuery;

#[derive(Serialize, utoipa::ToSchema)]
pub struct CodeTable {
    /// Interface field name, e.g. `insutype`.
    pub field: &'static str,
    pub label: &'static str,
    pub values: Vec<CodeEntry>,
    /// Local extension values found in the reference data (not used by the
    /// platform's rules; shown for reference).
    pub local_values: Vec<LocalCode>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LocalCode {
    pub code: String,
    pub name: String,
}

/// Every national code table the platform speaks (public).
#[utoipa::path(get, path = "/api/v1/codes", tag = "reference", responses((status = 200, body = Vec<CodeTable>)))]
pub async fn tables() -> Json<Vec<CodeTable>> {
    Json(
        codes::all_tables()
            .into_iter()
            .map(|(field, label, values)| CodeTable { field, label, values, local_values: vec![] })
            .collect(),
    )
}

/// One code table with local extension values (public).
#[utoipa::path(get, path = "/api/v1/codes/{field}", tag = "reference", params(("field" = String, Path, description = "字段名，如 insutype")),
    responses((status = 200, body = CodeTable), (status = 404, body = ErrorBody)))]
pub async fn table(State(state): State<AppState>, Path(field): Path<String>) -> ApiResult<Json<CodeTable>> {
    let Some((field, label, values)) = codes::all_tables().into_iter().find(|(f, _, _)| *f == field) else {
        return Err(AppError::not_found("编码表", field).into());
    };
    let national: Vec<&str> = values.iter().map(|v| v.code).collect();
    let local = state
        .app
        .db
        .read(move |tx: &mut dyn Tx| Ok::<_, AppError>(yibao_store::reference::code_values(tx, field)?))
        .await?
        .into_iter()
        .filter(|r| !national.contains(&r.code.as_str()))
        .map(|r| LocalCode { code: r.code, name: r.name })
        .collect();
    Ok(Json(CodeTable { field, label, values, local_values: local }))
}

/// A division with its province / prefecture / county chain (public).
#[utoipa::path(get, path = "/api/v1/divisions/{code}", tag = "reference", params(("code" = String, Path, description = "6位区划代码")),
    responses((status = 200, body = DivisionChain), (status = 400, body = ErrorBody)))]
pub async fn division(State(state): State<AppState>, Path(code): Path<String>) -> ApiResult<Json<DivisionChain>> {
    let table = state.app.divisions();
    let code = table.parse(&code).map_err(|e| e.named("code"))?;
    Ok(Json(table.chain(code)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DivisionQuery {
    /// Parent code; the provinces when absent.
    pub parent: Option<String>,
}

/// The divisions under a parent (public).
#[utoipa::path(get, path = "/api/v1/divisions", tag = "reference", params(DivisionQuery),
    responses((status = 200, body = Vec<Division>), (status = 400, body = ErrorBody)))]
pub async fn divisions(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<DivisionQuery>,
) -> ApiResult<Json<Vec<Division>>> {
    let table = state.app.divisions();
    let parent = match q.parent.as_deref().filter(|p| !p.is_empty()) {
        Some(p) => Some(table.parse(p).map_err(|e| e.named("parent"))?.code()),
        None => None,
    };
    let mut list: Vec<Division> = table.iter().filter(|d| d.parent == parent).cloned().collect();
    list.sort_by_key(|d| d.code);
    Ok(Json(list))
}
