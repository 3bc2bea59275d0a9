//! Settlements: cost simulation (public).

use axum::Json;
use axum::extract::State;
use yibao_app::settlement::{self, SimulateRequest, SimulateResult};

use crate::AppState;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiJson, Public};

/// 费用试算: what a visit would cost the patient and each fund under the
/// insured region's policy, classified with the treating region's catalog.
/// Computes exactly as a real settlement and writes nothing (public).
#[utoipa::path(post, path = "/api/v1/settlements/simulate", tag = "settlement", request_body = SimulateRequest,
    responses((status = 200, body = SimulateResult), (status = 400, body = ErrorBody)))]
pub async fn simulate(
    State(state): State<AppState>,
    Public(ctx): Public,
    ApiJson(req): ApiJson<SimulateRequest>,
) -> ApiResult<Json<SimulateResult>> {
    Ok(Json(settlement::simulate(&state.app, req, ctx.today()).await?))
}
