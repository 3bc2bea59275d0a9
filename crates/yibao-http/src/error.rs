//! The one error shape of the management API:
//!
//! ```json
//! {"code": "invalid_input", "message": "输入有误：certno：身份证号码校验位错误",
//!  "fields": [{"field": "certno", "reason": "身份证号码校验位错误"}],
//!  "request_id": "01HX…"}
//! ```
//!
//! `code` is stable and machine-readable; `message` is for people.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use yibao_app::AppError;
use yibao_domain::FieldError;

tokio::task_local! {
    /// The id of the request being served, for error bodies and logs.
    pub static REQUEST_ID: String;
}

pub fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

#[derive(Debug)]
pub struct ApiError(pub AppError);

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable machine code: invalid_input, not_found, conflict, unauthorized,
    /// forbidden, unsupported_media_type, payload_too_large, unavailable, internal.
    pub code: String,
    pub message: String,
    pub fields: Vec<FieldError>,
    pub request_id: String,
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> ApiError {
        ApiError(e)
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> ApiError {
        ApiError(AppError::from(e))
    }
}

pub fn status_of(e: &AppError) -> StatusCode {
    match e {
        AppError::Invalid(_) => StatusCode::BAD_REQUEST,
        AppError::NotFound { .. } => StatusCode::NOT_FOUND,
        AppError::Conflict(_) => StatusCode::CONFLICT,
        AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        AppError::Forbidden(_) => StatusCode::FORBIDDEN,
        AppError::Unavailable(_) | AppError::Retryable(_) => StatusCode::SERVICE_UNAVAILABLE,
        AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

pub fn error_response(status: StatusCode, code: &str, message: String, fields: Vec<FieldError>) -> Response {
    let body = ErrorBody { code: code.to_owned(), message, fields, request_id: current_request_id() };
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = status_of(&self.0);
        // Internal details stay in the log, not in the answer.
        let message = match &self.0 {
            AppError::Internal(detail) => {
                tracing::error!(detail, "internal error");
                "内部错误，请联系运维人员并提供请求编号".to_owned()
            }
            other => other.to_string(),
        };
        error_response(status, self.0.code(), message, self.0.fields().to_vec())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
