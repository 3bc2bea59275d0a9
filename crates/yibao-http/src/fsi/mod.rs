//! The national interface for designated institutions (定点医药机构接口):
//! `POST /fsi/api/rsfComIfsService/callService[/{infno}]`.
//!
//! One endpoint, the transaction chosen by `infno` in the envelope. HTTP 200
//! always; success and failure are `infcode` 0 and -1. Each transaction
//! parses its `input` node into the application's typed input (naming the
//! offending field on error) and runs one use case; state-changing ones run
//! under the message discipline of `yibao_app::fsi` (idempotency by msgid,
//! sign-in, effects for 冲正).
//!
//! Gateway authentication (`gateway`) is a layer around all of this: it
//! checks the caller's credential (and decrypts an SM4 `input`) before the
//! envelope is parsed, and encrypts and signs the answer after. The envelope
//! parser never sees credentials; a refused call writes nothing.

pub mod echo;
pub mod envelope;
pub mod gateway;
mod reconcile;
mod transactions;
mod transactions_query;

pub use transactions::{Message, SUPPORTED};

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::Value;
use yibao_app::fsi::Output;
use yibao_app::{AppError, Clock};
use yibao_domain::FieldError;

use crate::AppState;
use envelope::{Request, base_infno, infver_ok, stamp};

/// What a transaction answers: JSON output, or a file (9102).
pub enum Reply {
    /// A logged answer's output is JSON text already (see
    /// `yibao_app::fsi::Answer`) and is sent as is.
    Output {
        output: Output,
        inf_refmsgid: String,
    },
    File {
        filename: String,
        bytes: Vec<u8>,
    },
}

/// Parses `input.<node>` (or the whole input for an empty node) into `T`,
/// naming the field on error. Decimals stay exact: with serde_json's
/// `arbitrary_precision` a `Value` keeps each number's text.
pub fn node<T: DeserializeOwned>(input: &Value, node: &str) -> Result<T, AppError> {
    let part = if node.is_empty() { input } else { input.get(node).unwrap_or(&Value::Null) };
    let prefix = if node.is_empty() { "input".to_owned() } else { format!("input.{node}") };
    if part.is_null() {
        return Err(AppError::invalid(prefix, "不能为空"));
    }
    // Tracking the path costs on every field; only a failed parse needs it,
    // so it is run again with tracking to name the field.
    if let Ok(parsed) = T::deserialize(part) {
        return Ok(parsed);
    }
    serde_path_to_error::deserialize(part).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.inner().to_string();
        let mut field = if path == "." {
            prefix.clone()
        } else if path.starts_with('[') {
            format!("{prefix}{path}")
        } else {
            format!("{prefix}.{path}")
        };
        if let Some(name) = inner.strip_prefix("missing field `").and_then(|r| r.split('`').next()) {
            field = format!("{field}.{name}");
            return AppError::Invalid(vec![FieldError::new(field, "不能为空")]);
        }
        let reason = inner.split(" at line ").next().unwrap_or(&inner).to_owned();
        AppError::Invalid(vec![FieldError::new(field, reason)])
    })
}

/// The Chinese error message of a failed transaction: the field and the reason.
pub fn err_msg(e: &AppError) -> String {
    let msg = match e {
        AppError::Invalid(fields) => fields
            .iter()
            .take(3)
            .map(|f| if f.field.is_empty() { f.reason.clone() } else { format!("{}：{}", f.field, f.reason) })
            .collect::<Vec<_>>()
            .join("；"),
        AppError::Internal(detail) => {
            tracing::error!(detail, "internal error on the national interface");
            format!("系统内部错误，请联系医保经办机构（请求编号 {}）", crate::error::current_request_id())
        }
        other => other.to_string(),
    };
    // err_msg is str(200) in the spec: cut on a character boundary.
    msg.chars().take(200).collect()
}

/// An envelope as the HTTP response (`application/json`, as `axum::Json`).
fn respond(head: &envelope::ResponseHead, output_json: &str) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], head.with_output(output_json)).into_response()
}

/// An unsealed response head (no cainfo, signtype or enctype), answered now.
fn head(
    clock: Clock,
    infcode: i32,
    inf_refmsgid: String,
    received_ms: i64,
    err_msg: Option<String>,
) -> envelope::ResponseHead {
    envelope::ResponseHead {
        infcode,
        inf_refmsgid,
        refmsg_time: stamp(received_ms),
        respond_time: stamp(clock.now_ms()),
        err_msg,
        warn_msg: None,
        cainfo: String::new(),
        signtype: String::new(),
        enctype: String::new(),
    }
}

/// A receiver message id of this node for a message received at `received_ms`.
fn refmsgid(node_admdvs: &str, received_ms: i64) -> String {
    yibao_app::fsi::new_refmsgid(node_admdvs, yibao_domain::DateTime::from_unix_ms(received_ms))
}

fn failure(clock: Clock, received_ms: i64, node_admdvs: &str, e: &AppError) -> Response {
    respond(&head(clock, -1, refmsgid(node_admdvs, received_ms), received_ms, Some(err_msg(e))), "null")
}

fn success(
    state: &AppState,
    received_ms: i64,
    output_json: String,
    inf_refmsgid: String,
    seal: Option<&gateway::Seal>,
) -> Response {
    let (output_json, cainfo, signtype, enctype) = match seal {
        None => (output_json, String::new(), String::new(), String::new()),
        Some(seal) => match gateway::seal_output(&state.app, seal, &output_json) {
            Ok((cipher, cainfo)) => (Value::String(cipher).to_string(), cainfo, "SM2".to_owned(), "SM4".to_owned()),
            Err(e) => return failure(state.app.config.clock, received_ms, NODE_ADMDVS_DEFAULT, &e),
        },
    };
    let head = envelope::ResponseHead {
        cainfo,
        signtype,
        enctype,
        ..head(state.app.config.clock, 0, inf_refmsgid, received_ms, None)
    };
    respond(&head, &output_json)
}

/// The region named in receiver message ids when the request names none.
const NODE_ADMDVS_DEFAULT: &str = "000000";

/// `POST /fsi/api/rsfComIfsService/callService`
pub async fn call_service(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(state, None, peer, headers, body).await
}

/// `POST /fsi/api/rsfComIfsService/callService/{infno}`
pub async fn call_service_with_infno(
    State(state): State<AppState>,
    Path(infno): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(state, Some(infno), peer, headers, body).await
}

async fn handle(
    state: AppState,
    path_infno: Option<String>,
    peer: SocketAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Business time (the settlement's, the message log's): the app's clock
    // (`yibao_app::clock`).
    let clock = state.app.config.clock;
    let received_ms = clock.now_ms();
    // The envelope as JSON: the body itself, or for a multipart 9101 upload
    // the envelope rebuilt from its parts. Authentication signs the raw body
    // and checks the institution named in this envelope.
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let json = if mime == "multipart/form-data" {
        multipart_envelope(content_type, body.clone()).await
    } else if mime.is_empty() || mime == "application/json" || mime == "text/plain" {
        Ok(body.clone()) // cheap: a reference count
    } else {
        Err(AppError::invalid(
            "Content-Type",
            format!("应为 application/json、text/plain 或 multipart/form-data（9101），收到 {mime}"),
        ))
    };
    let json = match json {
        Ok(json) => json,
        Err(e) => return failure(clock, received_ms, &node_of(&body), &e),
    };
    let (body, seal) = match gateway::authenticate(&state.app, &headers, &body, &json, received_ms).await {
        Ok(auth) => (auth.body, auth.seal),
        Err(e) => {
            let reason = err_msg(&e);
            tracing::warn!(peer = %peer.ip(), reason, "national interface call refused by gateway authentication");
            return failure(clock, received_ms, &node_of(&json), &e);
        }
    };
    let started = std::time::Instant::now();
    let mut code = "other";
    let result = async {
        let (envelope, infno, message) = parse_request(&body, path_infno.as_deref())?;
        code = SUPPORTED.iter().copied().find(|c| *c == infno).unwrap_or("other");
        tracing::debug!(infno, msgid = %envelope.msgid, peer = %peer.ip(), "national interface message");
        transactions::execute(&state, &infno, envelope, message, received_ms).await
    }
    .await;
    let micros = started.elapsed().as_micros() as u64;
    state.metrics.observe_fsi(code, if result.is_ok() { 0 } else { -1 }, micros);
    match result {
        Ok(Reply::Output { output, inf_refmsgid }) => {
            success(&state, received_ms, output.into_json(), inf_refmsgid, seal.as_ref())
        }
        Ok(Reply::File { filename, bytes }) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
                (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => failure(clock, received_ms, &node_of(&body), &e),
    }
}

/// A 9101 upload sent as `multipart/form-data`: the part `jsonStr` holds the
/// envelope and the part `file` the bytes, which are put into the envelope
/// as `input.fsUploadIn.in` (Base64), the form JSON clients send. So one
/// parser serves both forms.
async fn multipart_envelope(content_type: &str, body: Bytes) -> Result<Bytes, AppError> {
    use base64::Engine as _;
    let boundary = multer::parse_boundary(content_type)
        .map_err(|_| AppError::invalid("Content-Type", "multipart/form-data 缺少 boundary"))?;
    let stream = futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let mut form = multer::Multipart::new(stream, boundary);
    let (mut json, mut file) = (None, None);
    while let Some(field) =
        form.next_field().await.map_err(|e| AppError::invalid("", format!("multipart 报文无法解析：{e}")))?
    {
        let name = field.name().unwrap_or("").to_owned();
        let bytes = field.bytes().await.map_err(|e| AppError::invalid(&name, format!("无法读取：{e}")))?;
        match name.as_str() {
            "jsonStr" => json = Some(bytes),
            "file" => file = Some(bytes),
            _ => {} // unknown parts are ignored, like unknown keys
        }
    }
    let json = json.ok_or_else(|| AppError::invalid("jsonStr", "multipart 报文缺少 jsonStr 部分"))?;
    let Some(file) = file else { return Ok(json) };
    let mut envelope: Value = serde_json::from_slice(&json)
        .map_err(|e| AppError::invalid("jsonStr", format!("不是有效的JSON：第{}行第{}列", e.line(), e.column())))?;
    let Some(input) = envelope.get_mut("input").and_then(Value::as_object_mut) else {
        return Err(AppError::invalid("input", "不能为空"));
    };
    let upload = input.entry("fsUploadIn").or_insert_with(|| serde_json::json!({}));
    let Some(upload) = upload.as_object_mut() else {
        return Err(AppError::invalid("input.fsUploadIn", "应为对象"));
    };
    upload.insert("in".to_owned(), Value::String(base64::engine::general_purpose::STANDARD.encode(&file)));
    Ok(Bytes::from(envelope.to_string()))
}

/// The receiver's id names the region of the request when it can be read.
fn node_of(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("mdtrtarea_admvs").and_then(Value::as_str).map(str::to_owned))
        .filter(|r| yibao_domain::DivisionCode::parse(r).is_ok())
        .unwrap_or_else(|| NODE_ADMDVS_DEFAULT.to_owned())
}

/// Parses a whole request: the envelope and the transaction's input. Pure
/// (no database): what a message means is decided here, what it does later.
/// Every malformed request is an error naming the field; no input panics.
pub fn parse_request(body: &[u8], path_infno: Option<&str>) -> Result<(Request, String, Message), AppError> {
    let envelope = parse_envelope(body)?;
    let infno = base_infno(&envelope.infno);
    if let Some(p) = path_infno
        && base_infno(p) != infno
    {
        return Err(AppError::invalid("infno", format!("报文中的交易编号 {} 与地址中的 {p} 不符", envelope.infno)));
    }
    if !infver_ok(&envelope.infver) {
        return Err(AppError::invalid("infver", format!("接口版本号“{}”无效，应为 V1.0", envelope.infver)));
    }
    let empty = Value::Object(serde_json::Map::new());
    let input = if envelope.input.is_null() { &empty } else { &envelope.input };
    let message = transactions::parse(&infno, input)?;
    Ok((envelope, infno, message))
}

/// Parses the envelope; a missing or malformed required field is named.
fn parse_envelope(body: &[u8]) -> Result<Request, AppError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(AppError::invalid("", "报文不能为空"));
    }
    // As in `node`: the path is tracked only to explain a failure.
    let req: Request = match serde_json::from_slice(body) {
        Ok(req) => Ok(req),
        Err(_) => serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(body)),
    }
    .map_err(|e| {
        let inner = e.inner();
        if inner.is_syntax() || inner.is_eof() {
            return AppError::invalid("", format!("报文不是有效的JSON：第{}行第{}列", inner.line(), inner.column()));
        }
        let message = inner.to_string();
        if let Some(name) = message.strip_prefix("missing field `").and_then(|r| r.split('`').next()) {
            return AppError::invalid(name, "不能为空");
        }
        let path = e.path().to_string();
        AppError::invalid(
            if path == "." { String::new() } else { path },
            message.split(" at line ").next().unwrap_or(""),
        )
    })?;
    for (field, value, max) in [
        ("infno", &req.infno, 10),
        ("msgid", &req.msgid, envelope::MSGID_CHARS_MAX),
        ("opter", &req.opter, 30),
        ("opter_name", &req.opter_name, 50),
        ("opter_type", &req.opter_type, 3),
    ] {
        yibao_app::fsi::parse_id(field, value, max)?;
    }
    yibao_domain::codes::OpterType::parse(&req.opter_type)?;
    yibao_domain::DivisionCode::parse(&req.mdtrtarea_admvs).map_err(|e| e.named("mdtrtarea_admvs"))?;
    if let Some(i) = req.insuplc_admdvs.as_deref().filter(|s| !s.trim().is_empty()) {
        yibao_domain::DivisionCode::parse(i).map_err(|e| e.named("insuplc_admdvs"))?;
    }
    if !req.input.is_object() && !req.input.is_null() {
        return Err(AppError::invalid(
            "input",
            if req.input.is_string() { "报文已加密，但本机构未配置加密方式" } else { "应为对象" },
        ));
    }
    Ok(req)
}
