//! The application's error: one shape for every use case, mapped to HTTP by
//! the HTTP layer and to `infcode -1` by the national interface.

use yibao_domain::FieldError;
use yibao_store::{DbError, DbErrorKind, JobError};

#[derive(Debug, Clone, thiserror::Error)]
pub enum AppError {
    /// Bad input: which fields and why. Nothing was written.
    #[error("输入有误：{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("；"))]
    Invalid(Vec<FieldError>),
    #[error("{what}“{key}”不存在")]
    NotFound { what: &'static str, key: String },
    /// The request conflicts with the current state (duplicate, wrong state).
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    /// The database is unreachable or overloaded; retry later.
    #[error("服务暂不可用：{0}")]
    Unavailable(String),
    #[error("内部错误：{0}")]
    Internal(String),
    /// A database error that may succeed on retry (kept distinct so the
    /// engine can retry the transaction).
    #[error("数据库繁忙，请重试")]
    Retryable(String),
}

impl AppError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Invalid(_) => "invalid_input",
            AppError::NotFound { .. } => "not_found",
            AppError::Conflict(_) => "conflict",
            AppError::Unauthorized(_) => "unauthorized",
            AppError::Forbidden(_) => "forbidden",
            AppError::Unavailable(_) | AppError::Retryable(_) => "unavailable",
            AppError::Internal(_) => "internal",
        }
    }

    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> AppError {
        AppError::Invalid(vec![FieldError::new(field, reason)])
    }

    pub fn not_found(what: &'static str, key: impl Into<String>) -> AppError {
        AppError::NotFound { what, key: key.into() }
    }

    pub fn fields(&self) -> &[FieldError] {
        match self {
            AppError::Invalid(f) => f,
            _ => &[],
        }
    }
}

impl From<FieldError> for AppError {
    fn from(e: FieldError) -> AppError {
        AppError::Invalid(vec![e])
    }
}

impl From<DbError> for AppError {
    fn from(e: DbError) -> AppError {
        match e.kind {
            DbErrorKind::Retryable => AppError::Retryable(e.message),
            DbErrorKind::Unavailable => AppError::Unavailable(e.message),
            DbErrorKind::Unique => AppError::Conflict(format!("记录已存在（{}）", e.message)),
            _ => {
                tracing::error!(error = %e, "database error");
                AppError::Internal(e.message)
            }
        }
    }
}

impl JobError for AppError {
    fn is_retryable_db_error(&self) -> bool {
        matches!(self, AppError::Retryable(_))
    }
}

pub type AppResult<T> = Result<T, AppError>;
