//! Extractors that turn a request into validated input and an acting
//! [`Ctx`], answering bad input in the API's error shape.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use yibao_app::{Actor, ActorKind, AppError, Ctx};
use yibao_domain::FieldError;
use yibao_domain::auth::RegionScope;

use crate::AppState;
use crate::error::{ApiError, current_request_id, error_response};

/// Describes a serde failure in Chinese, keeping serde's own detail.
fn reason_of(message: &str) -> String {
    let detail = message.split(" at line ").next().unwrap_or(message);
    if detail.starts_with("unknown field") {
        format!("不允许的字段（{detail}）")
    } else if detail.starts_with("missing field") {
        format!("缺少必填字段（{detail}）")
    } else if detail.starts_with("invalid type") {
        format!("类型错误（{detail}）")
    } else if detail.starts_with("invalid value") || detail.starts_with("unknown variant") {
        format!("取值无效（{detail}）")
    } else {
        detail.to_owned()
    }
}

/// The field named in a serde message ("missing field `name`").
fn field_in(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    Some(message[start..end].to_owned())
}

/// Parses a JSON document into `T`, naming the offending field on failure.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(AppError::invalid("", "请求体不能为空"));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let inner = e.inner();
        if inner.is_syntax() || inner.is_eof() {
            return AppError::invalid("", format!("JSON格式错误：第{}行第{}列", inner.line(), inner.column()));
        }
        let path = e.path().to_string();
        let message = inner.to_string();
        let mut field = if path == "." { String::new() } else { path };
        // serde_path_to_error's path ends at an unknown field but stops at
        // the parent of a missing one.
        if message.starts_with("missing field")
            && let Some(name) = field_in(&message)
        {
            field = if field.is_empty() { name } else { format!("{field}.{name}") };
        }
        AppError::Invalid(vec![FieldError::new(field, reason_of(&message))])
    })?;
    de.end().map_err(|_| AppError::invalid("", "JSON文档之后有多余内容"))?;
    Ok(value)
}

/// A JSON body, parsed with field-level errors. Requires `application/json`.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json =
            req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|ct| {
                ct.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
            });
        if !is_json {
            return Err(error_response(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "请求体应为 JSON（Content-Type: application/json）".into(),
                vec![],
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                error_response(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "请求体过大".into(), vec![])
            } else {
                ApiError(AppError::invalid("", format!("请求体无法读取：{e}"))).into_response()
            }
        })?;
        parse_json(&bytes).map(ApiJson).map_err(|e| ApiError(e).into_response())
    }
}

/// Query-string parameters, with field-level errors.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        serde_urlencoded_parse(query).map(ApiQuery).map_err(|e| ApiError(e).into_response())
    }
}

fn serde_urlencoded_parse<T: DeserializeOwned>(query: &str) -> Result<T, AppError> {
    axum::extract::Query::<T>::try_from_uri(&format!("/?{query}").parse().expect("valid uri")).map(|q| q.0).map_err(
        |e| {
            let message = e.body_text();
            let detail = message.trim_start_matches("Failed to deserialize query string: ");
            AppError::Invalid(vec![FieldError::new(field_in(detail).unwrap_or_default(), reason_of(detail))])
        },
    )
}

/// The client's address as seen by the server.
fn client_ip(parts: &Parts) -> String {
    parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string()).unwrap_or_default()
}

/// An authenticated staff member: a valid `Authorization: Bearer` token.
pub struct Staff(pub Ctx);

impl FromRequestParts<AppState> for Staff {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let Some(token) = header.and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer "))) else {
            return Err(ApiError(AppError::Unauthorized("需要登录：请在 Authorization 头中提供 Bearer 令牌".into())));
        };
        let now_ms = state.app.now_ms();
        let (actor, _expires) = yibao_app::auth::authenticate(&state.app, token.trim(), now_ms).await?;
        Ok(Staff(Ctx { actor, ip: client_ip(parts), request_id: current_request_id(), now_ms }))
    }
}

/// The bearer token itself (for logout).
pub struct BearerToken(pub String);

impl<S: Send + Sync> FromRequestParts<S> for BearerToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(|t| BearerToken(t.trim().to_owned()))
            .ok_or_else(|| ApiError(AppError::Unauthorized("需要登录".into())))
    }
}

/// An anonymous caller (public routes): no permissions, national scope for reading public data.
pub struct Public(pub Ctx);

impl FromRequestParts<AppState> for Public {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Public(Ctx {
            actor: Actor {
                kind: ActorKind::Public,
                id: "anonymous".into(),
                name: "anonymous".into(),
                roles: vec![],
                scope: RegionScope::national(),
            },
            ip: client_ip(parts),
            request_id: current_request_id(),
            now_ms: state.app.now_ms(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Input {
        name: String,
        amount: yibao_domain::Money,
        inner: Option<Inner>,
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        certno: yibao_domain::ResidentId,
    }

    fn err(json: &str) -> FieldError {
        parse_json::<Input>(json.as_bytes()).unwrap_err().fields()[0].clone()
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(err(r#"{"name": "a"}"#).field, "amount");
        assert!(err(r#"{"name": "a"}"#).reason.contains("缺少必填字段"));
        assert_eq!(err(r#"{"name": "a", "amount": 1, "extra": 1}"#).field, "extra");
        assert_eq!(err(r#"{"name": 5, "amount": 1}"#).field, "name");
        let e = err(r#"{"name": "a", "amount": 1.234}"#);
        assert_eq!(e.field, "amount");
        assert!(e.reason.contains("最多2位小数"), "{}", e.reason);
        let e = err(r#"{"name": "a", "amount": 1, "inner": {"certno": "110105194912310021"}}"#);
        assert_eq!(e.field, "inner.certno");
        assert!(e.reason.contains("校验位"), "{}", e.reason);
        assert!(err("{").reason.contains("JSON格式错误"));
        assert!(err("").reason.contains("不能为空"));
    }
}
