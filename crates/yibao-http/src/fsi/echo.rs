//! The interface without the platform, for the benchmark's floor
//! (`yibao sim echo`, docs/performance.md): a server that receives, parses
//! and answers national-interface messages as [`super::handle`] does up to
//! the use case (the envelope, the transaction's typed input, the input's
//! hash, the answer's head), and answers every transaction code with a
//! fixed output recorded from a real run. It stores nothing and reads
//! nothing, so a load run against it measures what HTTP, the JSON and the
//! load generator cost on their own: no settlement rate on the same
//! machine can be higher.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use yibao_app::{AppError, Clock};

use super::{NODE_ADMDVS_DEFAULT, failure, head, parse_request, refmsgid, respond};

/// Outputs by transaction code (`2207` → the JSON text of an `output`).
pub type Outputs = HashMap<String, String>;

/// The echo server's routes: the interface's path, the real body limit, no
/// other layer (the real server's metrics and request-id middleware are
/// left out, which only lowers the floor).
pub fn router(outputs: Outputs) -> Router {
    for (infno, output) in &outputs {
        debug_assert!(serde_json::from_str::<serde_json::Value>(output).is_ok(), "output of {infno} is JSON");
    }
    Router::new()
        .route(
            "/fsi/api/rsfComIfsService/callService",
            post(echo).layer(DefaultBodyLimit::max(crate::FSI_BODY_BYTES_MAX)),
        )
        .with_state(Arc::new(outputs))
}

async fn echo(
    State(outputs): State<Arc<Outputs>>,
    ConnectInfo(_peer): ConnectInfo<SocketAddr>,
    _headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received_ms = yibao_store::now_ms();
    let (envelope, infno, message) = match parse_request(&body, None) {
        Ok(parsed) => parsed,
        Err(e) => return failure(Clock::system(), received_ms, NODE_ADMDVS_DEFAULT, &e),
    };
    // What the real server computes for every message before its use case.
    std::hint::black_box(yibao_app::fsi::input_sha256(&infno, &envelope.input));
    std::hint::black_box(message);
    let Some(output) = outputs.get(&infno) else {
        let e = AppError::invalid("infno", format!("回声服务器没有交易 {infno} 的记录答复"));
        return failure(Clock::system(), received_ms, &envelope.mdtrtarea_admvs, &e);
    };
    respond(&head(Clock::system(), 0, refmsgid(&envelope.mdtrtarea_admvs, received_ms), received_ms, None), output)
}

/// Serves the echo router until `shutdown` completes.
pub async fn serve(
    outputs: Outputs,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(outputs).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    fn request(body: &str) -> axum::http::Request<axum::body::Body> {
        let mut r = axum::http::Request::post("/fsi/api/rsfComIfsService/callService")
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body.to_owned()))
            .unwrap();
        r.extensions_mut().insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 9))));
        r
    }

    async fn answer(router: Router, body: &str) -> serde_json::Value {
        let response = router.oneshot(request(body)).await.unwrap();
        assert_eq!(response.status(), 200);
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    const ENVELOPE: &str = r#"{"infno":"2207","msgid":"H33020300001202611220930000001","mdtrtarea_admvs":"330200",
        "infver":"V1.0","opter_type":"1","opter":"001","opter_name":"张三","inf_time":"2026-11-22 09:30:00",
        "fixmedins_code":"H33020300001","sign_no":"1",
        "input":{"data":{"psn_no":"P1","mdtrt_cert_type":"02","mdtrt_cert_no":"330203199001011234",
        "med_type":"11","medfee_sumamt":"12.30","psn_setlway":"01","mdtrt_id":"M1","chrg_bchno":"B1",
        "insutype":"310","acct_used_flag":"0"}}}"#;

    #[tokio::test]
    async fn answers_a_parsed_message_with_its_recorded_output_and_refuses_what_the_real_server_refuses() {
        let outputs = Outputs::from([("2207".to_owned(), r#"{"setlinfo":{"setl_id":"S1"}}"#.to_owned())]);
        let router = router(outputs);
        let ok = answer(router.clone(), ENVELOPE).await;
        assert_eq!(ok["infcode"], 0, "{ok}");
        assert_eq!(ok["output"]["setlinfo"]["setl_id"], "S1");
        assert!(ok["inf_refmsgid"].as_str().unwrap().starts_with("330200"), "{ok}");
        // The real parser runs: a malformed input is refused with its field.
        let bad =
            answer(router.clone(), &ENVELOPE.replace(r#""medfee_sumamt":"12.30""#, r#""medfee_sumamt":"x""#)).await;
        assert_eq!(bad["infcode"], -1, "{bad}");
        assert!(bad["err_msg"].as_str().unwrap().contains("medfee_sumamt"), "{bad}");
        // A code without a recorded output is refused, not answered with nothing.
        let other = answer(router, &ENVELOPE.replace(r#""infno":"2207""#, r#""infno":"2206""#)).await;
        assert_eq!(other["infcode"], -1, "{other}");
        assert!(other["err_msg"].as_str().unwrap().contains("2206"), "{other}");
    }
}
