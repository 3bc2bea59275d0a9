//! A test HIS: builds national-interface envelopes and sends them.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

use super::{Reply, TestServer};

pub const PATH: &str = "/fsi/api/rsfComIfsService/callService";

static SEQ: AtomicU64 = AtomicU64::new(1);

pub struct His<'a> {
    pub server: &'a TestServer,
    pub fixmedins_code: String,
    pub opter: String,
    pub sign_no: String,
    pub mdtrtarea_admvs: String,
}

impl<'a> His<'a> {
    pub fn new(server: &'a TestServer, fixmedins_code: &str) -> His<'a> {
        His {
            server,
            fixmedins_code: fixmedins_code.into(),
            opter: "001".into(),
            sign_no: String::new(),
            mdtrtarea_admvs: "330200".into(),
        }
    }

    pub fn msgid(&self) -> String {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        format!("{}20261122093000{:04}", self.fixmedins_code, n % 10_000)
    }

    pub fn envelope(&self, infno: &str, msgid: &str, input: Value) -> Value {
        json!({
            "infno": infno, "msgid": msgid, "mdtrtarea_admvs": self.mdtrtarea_admvs, "insuplc_admdvs": "",
            "recer_sys_code": "YBXT", "dev_no": "", "dev_safe_info": "", "cainfo": "", "signtype": "",
            "infver": "V1.0", "opter_type": "1", "opter": self.opter, "opter_name": "测试操作员",
            "inf_time": "2026-11-22 09:30:00", "fixmedins_code": self.fixmedins_code, "fixmedins_name": "测试机构",
            "sign_no": self.sign_no, "input": input
        })
    }

    pub async fn send_raw(&self, body: &Value) -> Reply {
        self.server.post(PATH, None, body).await
    }

    /// Sends a transaction with a fresh msgid; returns the response envelope.
    pub async fn call(&self, infno: &str, input: Value) -> Value {
        let body = self.envelope(infno, &self.msgid(), input);
        self.send(&body).await
    }

    pub async fn send(&self, body: &Value) -> Value {
        let r = self.send_raw(body).await;
        assert_eq!(r.status, hyper::StatusCode::OK, "HTTP 200 always: {}", r.text());
        r.json()
    }

    /// Calls and asserts success; returns `output`.
    pub async fn ok(&self, infno: &str, input: Value) -> Value {
        let r = self.call(infno, input).await;
        assert_eq!(r["infcode"], 0, "{infno} failed: {r}");
        r["output"].clone()
    }

    /// Calls and asserts failure; returns `err_msg`.
    pub async fn err(&self, infno: &str, input: Value) -> String {
        let r = self.call(infno, input).await;
        assert_eq!(r["infcode"], -1, "{infno} should fail: {r}");
        assert!(r["output"].is_null());
        r["err_msg"].as_str().unwrap().to_owned()
    }

    pub async fn sign_in(&mut self) {
        let out = self
            .ok("9001", json!({"signIn": {"opter_no": self.opter, "mac": "00-11-22-33-44-55", "ip": "10.0.0.1"}}))
            .await;
        self.sign_no = out["signinoutb"]["sign_no"].as_str().unwrap().to_owned();
    }
}
