//! Gateway authentication of national-interface calls: a layer in
//! [`super::handle`] that runs before the envelope is parsed and after the
//! transaction answers. It knows headers and the raw body; the envelope
//! parser knows nothing of it.
//!
//! - `tif`: `x-tif-paasid`, `x-tif-timestamp` (Unix seconds), `x-tif-nonce`,
//!   `x-tif-signature` = hex SHA-256(timestamp + secret + nonce + timestamp);
//! - `hmac_sm3`: `x-ca-key`, `x-ca-signature` = `<ms>:` + UPPER-HEX(HMAC-SM3(secret, ms + "\n" + body));
//! - `sm2_sm4`: `signtype` SM2, `enctype`/`enc_type` SM4, `cainfo` =
//!   Base64(SM3withSM2 over the plain input JSON, user id = client id),
//!   `input` = Base64(SM4-ECB/PKCS#7); the answer's `output` is encrypted and
//!   signed the same way with the platform's key.
//!
//! A refused call is answered before anything runs, so it writes nothing.

use axum::body::Bytes;
use axum::http::HeaderMap;
use serde_json::Value;
use yibao_app::gateway::{self, FsiAuth, Method, TIMESTAMP_WINDOW_MS, Verifier};
use yibao_app::gm;
use yibao_app::{App, AppError, AppResult};

/// Longest gateway header value accepted.
pub const HEADER_CHARS_MAX: usize = 128;
/// Longest `x-tif-nonce`.
pub const NONCE_CHARS_MAX: usize = 64;
/// Longest `cainfo` (a DER signature is at most 72 bytes, 96 in Base64).
const CAINFO_CHARS_MAX: usize = 256;

/// What `sm2_sm4` answers need: the key to encrypt `output` and the user id to sign it.
#[derive(Clone)]
pub struct Seal {
    pub client_id: String,
    pub sm4_key: [u8; 16],
}

/// An authenticated call: the body to parse (decrypted for `sm2_sm4`) and how to seal the answer.
pub struct Authenticated {
    pub body: Bytes,
    pub seal: Option<Seal>,
    /// The credential used (none for unauthenticated calls under `fsi_auth = none`).
    pub credential_id: Option<i64>,
}

fn refuse(reason: impl Into<String>) -> AppError {
    AppError::invalid("", reason)
}

/// A gateway header: `None` when absent or blank, an error when too long or not visible ASCII.
fn header<'a>(headers: &'a HeaderMap, name: &str) -> AppResult<Option<&'a str>> {
    let Some(v) = headers.get(name) else { return Ok(None) };
    let text = v.to_str().map_err(|_| refuse(format!("请求头 {name} 含有非法字符")))?.trim();
    if text.len() > HEADER_CHARS_MAX {
        return Err(refuse(format!("请求头 {name} 过长（最多{HEADER_CHARS_MAX}个字符）")));
    }
    Ok(Some(text).filter(|t| !t.is_empty()))
}

fn required<'a>(headers: &'a HeaderMap, name: &str) -> AppResult<&'a str> {
    header(headers, name)?.ok_or_else(|| refuse(format!("缺少请求头 {name}")))
}

fn text_field(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn within_window(ts_ms: i64, now_ms: i64) -> AppResult<()> {
    if (now_ms - ts_ms).abs() > TIMESTAMP_WINDOW_MS {
        return Err(refuse(format!("时间戳超出允许范围（±{}秒）", TIMESTAMP_WINDOW_MS / 1000)));
    }
    Ok(())
}

fn same_institution(credential: &Verifier, envelope: Option<&Value>) -> AppResult<()> {
    let code = envelope.and_then(|e| text_field(e, "fixmedins_code"));
    match code {
        Some(c) if c == credential.fixmedins_code => Ok(()),
        Some(c) => {
            Err(refuse(format!("报文中的定点医药机构编码 {c} 与接口凭证所属机构 {} 不符", credential.fixmedins_code)))
        }
        None => Err(refuse("报文缺少 fixmedins_code，无法核对接口凭证所属机构")),
    }
}

/// Whether the body is an SM2/SM4 envelope: a JSON object whose `input` is
/// ciphertext (a string). Clients that send `signtype: "SM2"` with a plain
/// input (their front-end signs) are not treated as such. Read without
/// building the envelope: other values are skipped unallocated.
///
/// Asked of every call, encrypted or not, so a byte scan answers first: a
/// top-level string `input` is written `"input"`, `:` and `"` with only
/// whitespace between, and a body without that sequence is not an SM2/SM4
/// envelope. Only a body with it is parsed (walking a 2204's body cost a
/// fifth as much as parsing it; docs/performance.md, thirteenth round). A
/// key spelt with escapes (`"\u0069nput"`) is taken for plain, and then
/// refused by the envelope's parse as encrypted without a configured method.
fn input_is_string(body: &[u8]) -> bool {
    if !may_have_string_input(body) {
        return false;
    }
    use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
    struct IsString;
    impl<'de> Visitor<'de> for IsString {
        type Value = bool;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_str<E>(self, _: &str) -> Result<bool, E> {
            Ok(true)
        }
        fn visit_bool<E>(self, _: bool) -> Result<bool, E> {
            Ok(false)
        }
        fn visit_i64<E>(self, _: i64) -> Result<bool, E> {
            Ok(false)
        }
        fn visit_u64<E>(self, _: u64) -> Result<bool, E> {
            Ok(false)
        }
        fn visit_f64<E>(self, _: f64) -> Result<bool, E> {
            Ok(false)
        }
        fn visit_unit<E>(self) -> Result<bool, E> {
            Ok(false)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(false)
        }
        // Objects, and numbers (a map under serde_json's arbitrary_precision).
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(false)
        }
    }
    #[derive(serde::Deserialize)]
    struct Peek {
        #[serde(default, deserialize_with = "is_string")]
        input: bool,
    }
    fn is_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        d.deserialize_any(IsString)
    }
    serde_json::from_slice::<Peek>(body).is_ok_and(|p| p.input)
}

/// Whether `"input"` appears followed by `:` and the opening `"` of a string
/// (whitespace allowed between). A necessary condition for
/// [`input_is_string`], not a sufficient one: the key may be nested.
fn may_have_string_input(body: &[u8]) -> bool {
    const KEY: &[u8] = b"\"input\"";
    fn skip_whitespace(bytes: &[u8]) -> &[u8] {
        let start = bytes.iter().position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r')).unwrap_or(bytes.len());
        &bytes[start..]
    }
    memchr::memmem::find_iter(body, KEY).any(|at| {
        let after_key = skip_whitespace(&body[at + KEY.len()..]);
        after_key.first() == Some(&b':') && skip_whitespace(&after_key[1..]).first() == Some(&b'"')
    })
}

/// Authenticates a call under the deployment's setting. Under `none`, a
/// call that presents no credential passes unchanged, and one that does is
/// checked as under `required`. `raw` is the body as received (what an
/// HMAC signs); `json` the envelope (the same bytes, or the envelope of a
/// multipart upload), which is what the call goes on with.
///
/// `now_ms` is business time (`yibao_app::clock`): credentials are issued,
/// rotated and revoked on it. The caller's signature time and the replay
/// cache are checked against the system clock, since the caller signs with
/// real time.
pub async fn authenticate(
    app: &App,
    headers: &HeaderMap,
    raw: &Bytes,
    json: &Bytes,
    now_ms: i64,
) -> AppResult<Authenticated> {
    let body = json;
    let paasid = header(headers, "x-tif-paasid")?;
    let ca_key = header(headers, "x-ca-key")?;
    let encrypted = input_is_string(body);
    let presented = match (paasid, ca_key) {
        (Some(_), _) => Some(Method::Tif),
        (None, Some(_)) => Some(Method::HmacSm3),
        (None, None) if encrypted => Some(Method::Sm2Sm4),
        (None, None) => None,
    };
    if presented.is_none() && app.config.fsi_auth == FsiAuth::None {
        return Ok(Authenticated { body: body.clone(), seal: None, credential_id: None });
    }
    // Only now the whole envelope as a value: the path above (no
    // credential, none required) must not parse every message twice.
    let envelope: Option<Value> = serde_json::from_slice::<Value>(body).ok().filter(Value::is_object);
    let code = paasid
        .or(ca_key)
        .map(str::to_owned)
        .or_else(|| envelope.as_ref().and_then(|e| text_field(e, "fixmedins_code")))
        .ok_or_else(|| refuse("缺少接口凭证：请求头 x-tif-paasid 或 x-ca-key，或报文的 fixmedins_code"))?;
    if code.len() > 20 {
        return Err(refuse("接口凭证标识过长"));
    }
    let credentials = app.gateway.credentials(app, &code, now_ms).await?;
    let Some(first) = credentials.first() else {
        return Err(refuse(format!("机构 {code} 没有有效的接口凭证（未签发、已吊销或已过期），请联系医保经办机构")));
    };
    let Some(method) = presented else {
        return Err(refuse(match first.method {
            Method::Tif => "缺少请求头 x-tif-paasid".to_owned(),
            Method::HmacSm3 => "缺少请求头 x-ca-key".to_owned(),
            Method::Sm2Sm4 => "报文未按SM2/SM4签名加密（signtype 应为 SM2，input 应为密文）".to_owned(),
        }));
    };
    let candidates: Vec<&Verifier> = credentials.iter().filter(|c| c.method == method).collect();
    if candidates.is_empty() {
        return Err(refuse(format!("机构 {code} 的接口凭证认证方式为 {}，与请求不符", first.method.as_str())));
    }
    let wall_ms = yibao_store::now_ms();
    match method {
        Method::Tif => tif(app, headers, &candidates, envelope.as_ref(), body, wall_ms),
        Method::HmacSm3 => hmac_sm3(app, headers, &candidates, envelope.as_ref(), (raw, body), wall_ms),
        Method::Sm2Sm4 => sm2_sm4(app, &candidates, envelope.unwrap_or_default(), wall_ms),
    }
}

fn tif(
    app: &App,
    headers: &HeaderMap,
    candidates: &[&Verifier],
    envelope: Option<&Value>,
    body: &Bytes,
    wall_ms: i64,
) -> AppResult<Authenticated> {
    let timestamp = required(headers, "x-tif-timestamp")?;
    let nonce = required(headers, "x-tif-nonce")?;
    let signature = required(headers, "x-tif-signature")?;
    let ts: i64 = timestamp
        .parse()
        .ok()
        .filter(|_| timestamp.len() <= 11 && timestamp.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| refuse("请求头 x-tif-timestamp 应为Unix时间戳（秒）"))?;
    if nonce.len() > NONCE_CHARS_MAX {
        return Err(refuse(format!("请求头 x-tif-nonce 过长（最多{NONCE_CHARS_MAX}个字符）")));
    }
    within_window(ts * 1000, wall_ms)?;
    let presented = signature.to_ascii_lowercase();
    let credential = candidates
        .iter()
        .find(|c| gm::ct_eq(gateway::tif_signature(timestamp, &c.secret, nonce).as_bytes(), presented.as_bytes()))
        .ok_or_else(|| refuse("签名不正确"))?;
    same_institution(credential, envelope)?;
    app.gateway
        .remember_nonce(format!("tif:{}:{nonce}", credential.client_id), ts * 1000 + TIMESTAMP_WINDOW_MS, wall_ms)
        .map_err(refuse)?;
    Ok(Authenticated { body: body.clone(), seal: None, credential_id: Some(credential.id) })
}

fn hmac_sm3(
    app: &App,
    headers: &HeaderMap,
    candidates: &[&Verifier],
    envelope: Option<&Value>,
    (raw, body): (&Bytes, &Bytes),
    wall_ms: i64,
) -> AppResult<Authenticated> {
    let signature = required(headers, "x-ca-signature")?;
    let (timestamp, mac) = signature
        .split_once(':')
        .filter(|(t, m)| t.len() == 13 && t.bytes().all(|b| b.is_ascii_digit()) && m.len() == 64)
        .ok_or_else(|| refuse("请求头 x-ca-signature 格式应为“13位毫秒时间戳:64位十六进制签名”"))?;
    let ts: i64 = timestamp.parse().map_err(|_| refuse("请求头 x-ca-signature 的时间戳无效"))?;
    within_window(ts, wall_ms)?;
    let presented = format!("{timestamp}:{}", mac.to_ascii_uppercase());
    let credential = candidates
        .iter()
        .find(|c| gm::ct_eq(gateway::hmac_sm3_signature(&c.secret, timestamp, raw).as_bytes(), presented.as_bytes()))
        .ok_or_else(|| refuse("签名不正确"))?;
    same_institution(credential, envelope)?;
    // No nonce header here: the same (key, timestamp, signature) twice is a replay.
    app.gateway
        .remember_nonce(format!("hmac:{}:{presented}", credential.client_id), ts + TIMESTAMP_WINDOW_MS, wall_ms)
        .map_err(refuse)?;
    Ok(Authenticated { body: body.clone(), seal: None, credential_id: Some(credential.id) })
}

fn sm2_sm4(app: &App, candidates: &[&Verifier], mut envelope: Value, wall_ms: i64) -> AppResult<Authenticated> {
    let signtype = text_field(&envelope, "signtype").unwrap_or_default();
    if !signtype.eq_ignore_ascii_case("SM2") {
        return Err(AppError::invalid("signtype", "应为 SM2"));
    }
    let enctype = text_field(&envelope, "enctype").or_else(|| text_field(&envelope, "enc_type")).unwrap_or_default();
    if !enctype.eq_ignore_ascii_case("SM4") {
        return Err(AppError::invalid("enc_type", "应为 SM4"));
    }
    let cainfo = text_field(&envelope, "cainfo").ok_or_else(|| AppError::invalid("cainfo", "不能为空"))?;
    if cainfo.len() > CAINFO_CHARS_MAX {
        return Err(AppError::invalid("cainfo", "过长"));
    }
    let signature = gm::b64_decode(&cainfo).ok_or_else(|| AppError::invalid("cainfo", "应为Base64编码的SM2签名"))?;
    let inf_time = text_field(&envelope, "inf_time").ok_or_else(|| AppError::invalid("inf_time", "不能为空"))?;
    let inf_time = yibao_domain::DateTime::parse(&inf_time).map_err(|e| e.named("inf_time"))?;
    within_window(inf_time.unix_seconds() * 1000, wall_ms)?;
    let cipher_text = envelope
        .get("input")
        .and_then(Value::as_str)
        .and_then(gm::b64_decode)
        .ok_or_else(|| AppError::invalid("input", "应为Base64编码的SM4密文"))?;
    let mut decrypted = false;
    let mut found = None;
    for c in candidates {
        let Ok(plain) = gm::sm4_ecb_decrypt(&c.sm4_key, &cipher_text) else { continue };
        decrypted = true;
        if gm::sm2_verify(&c.public_key, &c.client_id, &plain, &signature) {
            found = Some((*c, plain));
            break;
        }
    }
    let Some((credential, plain)) = found else {
        return Err(if decrypted {
            refuse("签名不正确（cainfo 与解密后的 input 不符）")
        } else {
            AppError::invalid("input", "解密失败（SM4密钥不正确或密文损坏）")
        });
    };
    let input: Value =
        serde_json::from_slice(&plain).map_err(|_| AppError::invalid("input", "解密后不是有效的JSON"))?;
    same_institution(credential, Some(&envelope))?;
    // The signature is randomized by conforming SM2 signers: the same one twice is a replay.
    app.gateway
        .remember_nonce(format!("sm2:{}:{cainfo}", credential.client_id), wall_ms + 2 * TIMESTAMP_WINDOW_MS, wall_ms)
        .map_err(refuse)?;
    envelope["input"] = input;
    let body = Bytes::from(serde_json::to_vec(&envelope).map_err(|e| AppError::Internal(e.to_string()))?);
    Ok(Authenticated {
        body,
        seal: Some(Seal { client_id: credential.client_id.clone(), sm4_key: credential.sm4_key }),
        credential_id: Some(credential.id),
    })
}

/// Encrypts and signs an answer's `output` for an `sm2_sm4` institution:
/// (`output` Base64 ciphertext, `cainfo` Base64 r‖s signature of the plain output JSON).
pub fn seal_output(app: &App, seal: &Seal, output_json: &str) -> AppResult<(String, String)> {
    let sig = app.gateway.sign(&seal.client_id, output_json.as_bytes())?;
    Ok((gm::b64_encode(&gm::sm4_ecb_encrypt(&seal.sm4_key, output_json.as_bytes())), gm::b64_encode(&sig)))
}

#[cfg(test)]
mod tests {
    use super::{input_is_string, may_have_string_input};

    #[test]
    fn an_encrypted_input_is_found_and_a_plain_one_is_not_parsed_for_it() {
        // Encrypted: a top-level string input, however spaced.
        for body in [r#"{"infno":"2207","input":"BASE64=="}"#, "{\"infno\":\"2207\",\n \"input\" :\t \"x\"}"] {
            assert!(may_have_string_input(body.as_bytes()) && input_is_string(body.as_bytes()), "{body}");
        }
        // Plain: an object input; a string that mentions `"input":"` is
        // escaped in the body, so the scan alone says no.
        for body in [
            r#"{"infno":"2204","input":{"feedetail":[{"memo":"x"}]}}"#,
            r#"{"infno":"2204","input":{"data":{"memo":"\"input\":\"y"}}}"#,
            r#"{"infno":"9001","input":null}"#,
            r#"{"infno":"9001"}"#,
        ] {
            assert!(!may_have_string_input(body.as_bytes()), "{body}");
            assert!(!input_is_string(body.as_bytes()), "{body}");
        }
        // A nested `input` key passes the scan; the parse decides.
        let nested = r#"{"infno":"2204","input":{"data":{"input":"y"}}}"#;
        assert!(may_have_string_input(nested.as_bytes()));
        assert!(!input_is_string(nested.as_bytes()));
    }
}
