//! The national interface's envelopes (spec §2–§4), parsed tolerantly:
//! `opter_type` as a number or a string, `infver` in its variants, both
//! datetime formats, province suffixes on `infno` (`2203A`), unknown keys
//! ignored. Answers always carry `infcode` 0 or -1 and an `err_msg` in
//! Chinese that names the field and the reason.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use yibao_domain::DateTime;
use yibao_domain::codes::deserialize_code_text;

/// Longest msgid accepted (the spec's 30, with room for clients that pad).
pub const MSGID_CHARS_MAX: usize = 40;

/// The request envelope.
#[derive(Clone, Debug, Deserialize)]
pub struct Request {
    #[serde(deserialize_with = "deserialize_code_text")]
    pub infno: String,
    #[serde(deserialize_with = "deserialize_code_text")]
    pub msgid: String,
    #[serde(deserialize_with = "deserialize_code_text")]
    pub mdtrtarea_admvs: String,
    #[serde(default, deserialize_with = "opt_text")]
    pub insuplc_admdvs: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub recer_sys_code: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub cainfo: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub signtype: Option<String>,
    #[serde(deserialize_with = "deserialize_code_text")]
    pub infver: String,
    #[serde(deserialize_with = "deserialize_code_text")]
    pub opter_type: String,
    #[serde(deserialize_with = "deserialize_code_text")]
    pub opter: String,
    #[serde(deserialize_with = "deserialize_code_text")]
    pub opter_name: String,
    pub inf_time: DateTime,
    #[serde(deserialize_with = "deserialize_code_text")]
    pub fixmedins_code: String,
    #[serde(default, deserialize_with = "opt_text")]
    pub fixmedins_name: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub sign_no: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub enc_type: Option<String>,
    pub input: Value,
}

/// An optional scalar sent as text, a number, `null`, or absent.
fn opt_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    Ok(match v {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Bool(b)) => Some(if b { "1".into() } else { "0".into() }),
        Some(other) => return Err(serde::de::Error::custom(format!("应为字符串，收到 {other}"))),
    })
}

/// The national transaction a (possibly provincial) code stands for:
/// `2203A` → `2203`, `2206A` → `2206`; unknown suffixed codes are kept.
pub fn base_infno(infno: &str) -> String {
    let t = infno.trim();
    let digits: String = t.chars().take_while(char::is_ascii_digit).collect();
    if digits.len() == 4 && t.len() > 4 && t[4..].chars().all(|c| c.is_ascii_alphabetic()) {
        digits
    } else {
        t.to_owned()
    }
}

/// Interface versions clients are known to send.
pub fn infver_ok(v: &str) -> bool {
    matches!(v.trim(), "V1.0" | "v1.0" | "1" | "1.0" | "1.0.0" | "V1.0.0" | "V1")
}

/// The response envelope (spec §3) without its `output`, which
/// [`ResponseHead::with_output`] appends as JSON text.
#[derive(Clone, Debug, Serialize)]
pub struct ResponseHead {
    pub infcode: i32,
    pub inf_refmsgid: String,
    pub refmsg_time: String,
    pub respond_time: String,
    pub err_msg: Option<String>,
    pub warn_msg: Option<String>,
    pub cainfo: String,
    pub signtype: String,
    pub enctype: String,
}

impl ResponseHead {
    /// The whole envelope as JSON: this head's fields, then `"output"` with
    /// `output_json`, which must be one JSON value. An answer is written to
    /// text once (and logged as that text), not rebuilt for the response.
    pub fn with_output(&self, output_json: &str) -> Vec<u8> {
        let mut body = serde_json::to_vec(self).expect("the envelope head serializes");
        assert_eq!(body.pop(), Some(b'}'), "a struct serializes as a JSON object");
        body.reserve(output_json.len() + 12);
        body.extend_from_slice(b",\"output\":");
        body.extend_from_slice(output_json.as_bytes());
        body.push(b'}');
        body
    }
}

/// `yyyyMMddHHmmssSSS` in China time.
pub fn stamp(ms: i64) -> String {
    let dt = DateTime::from_unix_ms(ms);
    format!("{}{:03}", dt.compact(), ms.rem_euclid(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn province_suffixes_map_to_national_codes() {
        assert_eq!(base_infno("2203A"), "2203");
        assert_eq!(base_infno("2206A"), "2206");
        assert_eq!(base_infno("2207"), "2207");
        assert_eq!(base_infno(" 4201A "), "4201");
        assert_eq!(base_infno("90100"), "90100");
    }

    #[test]
    fn tolerant_envelope() {
        let r: Request = serde_json::from_str(
            r#"{"infno":"1301","msgid":"H33020300001202611220930000001","mdtrtarea_admvs":"330200",
               "infver":"V1.0","opter_type":1,"opter":"001","opter_name":"张三","inf_time":"20261122093000",
               "fixmedins_code":"H33020300001","input":{"data":{"ver":"0"}},"unknown_key":{"x":1},
               "insuplc_admdvs":null,"sign_no":12345}"#,
        )
        .unwrap();
        assert_eq!(r.opter_type, "1");
        assert_eq!(r.inf_time.to_string(), "2026-11-22 09:30:00");
        assert_eq!(r.sign_no.as_deref(), Some("12345"));
        assert_eq!(r.insuplc_admdvs, None);
    }

    #[test]
    fn the_envelope_carries_the_output_text_as_its_output() {
        let head = ResponseHead {
            infcode: 0,
            inf_refmsgid: "330200202611221200000000000001".into(),
            refmsg_time: "20261122120000000".into(),
            respond_time: "20261122120000001".into(),
            err_msg: None,
            warn_msg: None,
            cainfo: String::new(),
            signtype: String::new(),
            enctype: String::new(),
        };
        let output = r#"{"setlinfo":{"setl_id":"S1","medfee_sumamt":"12.30"}}"#;
        let v: Value = serde_json::from_slice(&head.with_output(output)).expect("valid JSON");
        assert_eq!(v["infcode"], 0);
        assert_eq!(v["err_msg"], Value::Null);
        assert_eq!(v["output"]["setlinfo"]["setl_id"], "S1");
        assert_eq!(v["output"]["setlinfo"]["medfee_sumamt"], "12.30");
        assert_eq!(v.as_object().map(|o| o.len()), Some(10), "the nine head fields and output");
        let v: Value = serde_json::from_slice(&head.with_output("null")).expect("valid JSON");
        assert_eq!(v["output"], Value::Null);
    }

    #[test]
    fn stamps_have_millis() {
        assert_eq!(stamp(1_638_180_592_297), "20211129180952297");
    }
}
