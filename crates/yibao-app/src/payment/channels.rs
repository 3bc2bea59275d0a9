//! Channel adapters: how each channel signs its notifications, what it
//! expects as an acknowledgement, and the format of its daily statement.
//!
//! - WeChat Pay (APIv2 style): notifications are XML; the signature is
//!   HMAC-SHA256 keyed with the merchant API key over the non-empty
//!   parameters sorted by name, `k=v` joined by `&`, with `&key=API_KEY`
//!   appended, in upper-case hex. Amounts are integer fen (`total_fee`).
//! - Alipay: notifications are form-encoded; the signature (`sign`,
//!   `sign_type=RSA2`) is SHA256withRSA over the parameters except `sign`
//!   and `sign_type`, sorted, `k=v` joined by `&`, base64; verified with
//!   Alipay's public key. Amounts are yuan with two decimals.
//! - Bank debit (银行代扣): per-record result callbacks as JSON with an
//!   HMAC-SHA256 `sign` over the other fields sorted `k=v&…`, hex.
//!
//! The statement parsers read the channel's own CSV shapes (WeChat's
//! back-quoted values with a summary trailer, Alipay's `#`-commented
//! export, the bank's `H|D|T` pipe file).

use hmac::{KeyInit, Mac};
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use yibao_domain::payment::{Channel, Notice, StatementLine};
use yibao_domain::{FieldError, Money};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Largest notification body accepted.
pub const NOTIFICATION_BYTES_MAX: usize = 16 * 1024;
/// Most lines read from one statement.
pub const STATEMENT_LINES_MAX: usize = 100_000;

/// `k=v&…` over sorted, non-empty parameters, skipping the given keys.
pub fn canonical(params: &[(String, String)], skip: &[&str]) -> String {
    let mut p: Vec<&(String, String)> =
        params.iter().filter(|(k, v)| !v.is_empty() && !skip.contains(&k.as_str())).collect();
    p.sort_by(|a, b| a.0.cmp(&b.0));
    p.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

pub fn hmac_hex(key: &[u8], text: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(text.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn hmac_verify(key: &[u8], text: &str, signature_hex: &str) -> bool {
    let Ok(sig) = hex::decode(signature_hex.trim()) else { return false };
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(text.as_bytes());
    mac.verify_slice(&sig).is_ok()
}

/// Flat `<xml><k>v</k>…</xml>` (WeChat's format), with CDATA.
pub fn parse_flat_xml(body: &str) -> Result<Vec<(String, String)>, String> {
    let inner =
        body.trim().strip_prefix("<xml>").and_then(|s| s.strip_suffix("</xml>")).ok_or("通知不是 <xml> 文档")?;
    let mut out = Vec::new();
    let mut rest = inner.trim();
    while !rest.is_empty() {
        let open_end = rest.find('>').ok_or("XML 格式错误")?;
        if !rest.starts_with('<') {
            return Err("XML 格式错误".into());
        }
        let tag = &rest[1..open_end];
        if tag.is_empty() || !tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err("XML 标签无效".into());
        }
        let close = format!("</{tag}>");
        let after_open = &rest[open_end + 1..];
        let close_at = after_open.find(&close).ok_or("XML 缺少结束标签")?;
        let raw = &after_open[..close_at];
        let value = raw.strip_prefix("<![CDATA[").and_then(|v| v.strip_suffix("]]>")).unwrap_or(raw);
        out.push((tag.to_owned(), value.to_owned()));
        rest = after_open[close_at + close.len()..].trim_start();
        if out.len() > 64 {
            return Err("XML 字段过多".into());
        }
    }
    Ok(out)
}

pub fn to_flat_xml(params: &[(String, String)]) -> String {
    let mut s = String::from("<xml>");
    for (k, v) in params {
        s.push_str(&format!("<{k}><![CDATA[{v}]]></{k}>"));
    }
    s.push_str("</xml>");
    s
}

fn get<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Why a notification was refused, with the order it claims to be about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    pub reason: String,
    pub claimed_order_no: Option<String>,
}

fn refused(reason: impl Into<String>, params: &[(String, String)], order_key: &str) -> Refused {
    Refused { reason: reason.into(), claimed_order_no: get(params, order_key).map(str::to_owned) }
}

/// The verification side of a channel, as the platform holds it.
pub trait ChannelAdapter: Send + Sync {
    fn channel(&self) -> Channel;
    /// Verifies a notification's signature and reads it.
    fn verify(&self, body: &[u8]) -> Result<Notice, Refused>;
    /// The acknowledgement the channel expects: (content type, body).
    fn ack(&self, ok: bool, message: &str) -> (&'static str, String);
    /// Reads the channel's daily statement (successful payments).
    fn parse_statement(&self, text: &str) -> Result<Vec<StatementLine>, FieldError>;
}

fn body_text(body: &[u8]) -> Result<&str, Refused> {
    if body.len() > NOTIFICATION_BYTES_MAX {
        return Err(Refused { reason: "通知过大".into(), claimed_order_no: None });
    }
    std::str::from_utf8(body)
        .map_err(|_| Refused { reason: "通知不是 UTF-8 文本".into(), claimed_order_no: None })
}

// ---------------------------------------------------------------- WeChat Pay

pub struct WechatAdapter {
    pub api_key: String,
    pub mch_id: String,
}

impl WechatAdapter {
    pub fn sign(api_key: &str, params: &[(String, String)]) -> String {
        let text = format!("{}&key={api_key}", canonical(params, &["sign"]));
        hmac_hex(api_key.as_bytes(), &text).to_uppercase()
    }
}

impl ChannelAdapter for WechatAdapter {
    fn channel(&self) -> Channel {
        Channel::Wechat
    }

    fn verify(&self, body: &[u8]) -> Result<Notice, Refused> {
        let text = body_text(body)?;
        let params = parse_flat_xml(text).map_err(|r| Refused { reason: r, claimed_order_no: None })?;
        let sign = get(&params, "sign").ok_or_else(|| refused("缺少签名 sign", &params, "out_trade_no"))?;
        let signed = format!("{}&key={}", canonical(&params, &["sign"]), self.api_key);
        if !hmac_verify(self.api_key.as_bytes(), &signed, sign) {
            return Err(refused("微信支付通知签名验证失败", &params, "out_trade_no"));
        }
        if get(&params, "mch_id") != Some(self.mch_id.as_str()) {
            return Err(refused("商户号不符", &params, "out_trade_no"));
        }
        let order_no =
            get(&params, "out_trade_no").ok_or_else(|| refused("缺少 out_trade_no", &params, "out_trade_no"))?;
        let fen: i64 = get(&params, "total_fee")
            .and_then(|f| f.parse().ok())
            .filter(|f| *f >= 0)
            .ok_or_else(|| refused("total_fee 无效", &params, "out_trade_no"))?;
        let paid = get(&params, "return_code") == Some("SUCCESS") && get(&params, "result_code") == Some("SUCCESS");
        Ok(Notice {
            order_no: order_no.to_owned(),
            channel_txn_id: get(&params, "transaction_id").unwrap_or("").to_owned(),
            amount: Money::from_fen(fen),
            paid,
        })
    }

    fn ack(&self, ok: bool, message: &str) -> (&'static str, String) {
        let code = if ok { "SUCCESS" } else { "FAIL" };
        ("application/xml", to_flat_xml(&[("return_code".into(), code.into()), ("return_msg".into(), message.into())]))
    }

    fn parse_statement(&self, text: &str) -> Result<Vec<StatementLine>, FieldError> {
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let header: Vec<&str> =
            lines.next().ok_or_else(|| FieldError::new("statement", "对账单为空"))?.split(',').collect();
        let col = |name: &str| {
            header
                .iter()
                .position(|h| h.trim() == name)
                .ok_or_else(|| FieldError::new("statement", format!("对账单缺少“{name}”列")))
        };
        let (c_txn, c_order, c_status, c_amount) =
            (col("微信订单号")?, col("商户订单号")?, col("交易状态")?, col("应结订单金额")?);
        let mut out = Vec::new();
        for (i, line) in lines.enumerate() {
            if line.starts_with("总交易单数") {
                break;
            }
            if i >= STATEMENT_LINES_MAX {
                return Err(FieldError::new("statement", format!("对账单不能超过{STATEMENT_LINES_MAX}行")));
            }
            let cells: Vec<&str> = line.split(',').map(|c| c.trim().trim_start_matches('`')).collect();
            let cell = |c: usize| {
                cells.get(c).copied().ok_or_else(|| FieldError::new(format!("statement[{}]", i + 1), "列数不足"))
            };
            if cell(c_status)? != "SUCCESS" {
                continue;
            }
            out.push(StatementLine {
                order_no: cell(c_order)?.to_owned(),
                channel_txn_id: cell(c_txn)?.to_owned(),
                amount: Money::parse_yuan(cell(c_amount)?).map_err(|e| e.named(&format!("statement[{}]", i + 1)))?,
            });
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------- Alipay

pub struct AlipayAdapter {
    pub app_id: String,
    pub public_key: rsa::RsaPublicKey,
}

impl AlipayAdapter {
    pub fn from_pem(app_id: &str, public_key_pem: &str) -> Result<AlipayAdapter, String> {
        let public_key = rsa::RsaPublicKey::from_public_key_pem(public_key_pem).map_err(|e| e.to_string())?;
        Ok(AlipayAdapter { app_id: app_id.to_owned(), public_key })
    }

    /// Signs as Alipay does (used by the simulator, which holds the private key).
    pub fn sign(private_key: &rsa::RsaPrivateKey, params: &[(String, String)]) -> String {
        let key = SigningKey::<rsa::sha2::Sha256>::new(private_key.clone());
        let sig = key.sign(canonical(params, &["sign", "sign_type"]).as_bytes());
        <base64ct::Base64 as base64ct::Encoding>::encode_string(&sig.to_bytes())
    }

    pub fn private_key_from_pem(pem: &str) -> Result<rsa::RsaPrivateKey, String> {
        rsa::RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| e.to_string())
    }
}

fn b64_decode(text: &str) -> Option<Vec<u8>> {
    <base64ct::Base64 as base64ct::Encoding>::decode_vec(text.trim()).ok()
}

impl ChannelAdapter for AlipayAdapter {
    fn channel(&self) -> Channel {
        Channel::Alipay
    }

    fn verify(&self, body: &[u8]) -> Result<Notice, Refused> {
        let text = body_text(body)?;
        let params: Vec<(String, String)> = form_urlencoded::parse(text.as_bytes()).into_owned().collect();
        if params.len() > 64 {
            return Err(Refused { reason: "通知字段过多".into(), claimed_order_no: None });
        }
        let sign = get(&params, "sign").ok_or_else(|| refused("缺少签名 sign", &params, "out_trade_no"))?;
        if get(&params, "sign_type") != Some("RSA2") {
            return Err(refused("sign_type 应为 RSA2", &params, "out_trade_no"));
        }
        let verified = b64_decode(sign)
            .and_then(|bytes| Signature::try_from(bytes.as_slice()).ok())
            .map(|sig| {
                VerifyingKey::<rsa::sha2::Sha256>::new(self.public_key.clone())
                    .verify(canonical(&params, &["sign", "sign_type"]).as_bytes(), &sig)
                    .is_ok()
            })
            .unwrap_or(false);
        if !verified {
            return Err(refused("支付宝通知验签失败（RSA2）", &params, "out_trade_no"));
        }
        if get(&params, "app_id") != Some(self.app_id.as_str()) {
            return Err(refused("app_id 不符", &params, "out_trade_no"));
        }
        let order_no =
            get(&params, "out_trade_no").ok_or_else(|| refused("缺少 out_trade_no", &params, "out_trade_no"))?;
        let amount = get(&params, "total_amount")
            .and_then(|a| Money::parse_yuan(a).ok())
            .ok_or_else(|| refused("total_amount 无效", &params, "out_trade_no"))?;
        let status = get(&params, "trade_status").unwrap_or("");
        Ok(Notice {
            order_no: order_no.to_owned(),
            channel_txn_id: get(&params, "trade_no").unwrap_or("").to_owned(),
            amount,
            paid: matches!(status, "TRADE_SUCCESS" | "TRADE_FINISHED"),
        })
    }

    fn ack(&self, ok: bool, _message: &str) -> (&'static str, String) {
        ("text/plain", if ok { "success" } else { "fail" }.to_owned())
    }

    fn parse_statement(&self, text: &str) -> Result<Vec<StatementLine>, FieldError> {
        let mut lines = text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#'));
        let header: Vec<&str> =
            lines.next().ok_or_else(|| FieldError::new("statement", "对账单为空"))?.split(',').collect();
        let col = |name: &str| {
            header
                .iter()
                .position(|h| h.trim() == name)
                .ok_or_else(|| FieldError::new("statement", format!("对账单缺少“{name}”列")))
        };
        let (c_txn, c_order, c_amount) = (col("支付宝交易号")?, col("商户订单号")?, col("订单金额（元）")?);
        let mut out = Vec::new();
        for (i, line) in lines.enumerate() {
            if i >= STATEMENT_LINES_MAX {
                return Err(FieldError::new("statement", format!("对账单不能超过{STATEMENT_LINES_MAX}行")));
            }
            let cells: Vec<&str> = line.split(',').map(str::trim).collect();
            let cell = |c: usize| {
                cells.get(c).copied().ok_or_else(|| FieldError::new(format!("statement[{}]", i + 1), "列数不足"))
            };
            out.push(StatementLine {
                order_no: cell(c_order)?.to_owned(),
                channel_txn_id: cell(c_txn)?.to_owned(),
                amount: Money::parse_yuan(cell(c_amount)?).map_err(|e| e.named(&format!("statement[{}]", i + 1)))?,
            });
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------- bank debit

pub struct BankAdapter {
    pub hmac_key: String,
    pub merchant_no: String,
}

impl BankAdapter {
    pub fn sign(key: &str, params: &[(String, String)]) -> String {
        hmac_hex(key.as_bytes(), &canonical(params, &["sign"]))
    }
}

impl ChannelAdapter for BankAdapter {
    fn channel(&self) -> Channel {
        Channel::BankDebit
    }

    fn verify(&self, body: &[u8]) -> Result<Notice, Refused> {
        let text = body_text(body)?;
        let value: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text)
            .map_err(|_| Refused { reason: "代扣结果不是 JSON 对象".into(), claimed_order_no: None })?;
        let params: Vec<(String, String)> = value
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())))
            .collect();
        let sign = get(&params, "sign").ok_or_else(|| refused("缺少签名 sign", &params, "order_no"))?;
        if !hmac_verify(self.hmac_key.as_bytes(), &canonical(&params, &["sign"]), sign) {
            return Err(refused("银行代扣结果签名验证失败", &params, "order_no"));
        }
        if get(&params, "merchant_no") != Some(self.merchant_no.as_str()) {
            return Err(refused("商户号不符", &params, "order_no"));
        }
        let order_no = get(&params, "order_no").ok_or_else(|| refused("缺少 order_no", &params, "order_no"))?;
        let amount = get(&params, "amount")
            .and_then(|a| Money::parse_yuan(a).ok())
            .ok_or_else(|| refused("amount 无效", &params, "order_no"))?;
        Ok(Notice {
            order_no: order_no.to_owned(),
            channel_txn_id: get(&params, "bank_serial").unwrap_or("").to_owned(),
            amount,
            paid: get(&params, "result") == Some("SUCCESS"),
        })
    }

    fn ack(&self, ok: bool, message: &str) -> (&'static str, String) {
        (
            "application/json",
            serde_json::json!({"code": if ok { "0000" } else { "9999" }, "message": message}).to_string(),
        )
    }

    fn parse_statement(&self, text: &str) -> Result<Vec<StatementLine>, FieldError> {
        let mut out = Vec::new();
        for (i, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
            if i >= STATEMENT_LINES_MAX {
                return Err(FieldError::new("statement", format!("对账单不能超过{STATEMENT_LINES_MAX}行")));
            }
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            match cells.first() {
                Some(&"D") if cells.len() >= 5 => {
                    if cells[4] != "SUCCESS" {
                        continue;
                    }
                    out.push(StatementLine {
                        order_no: cells[2].to_owned(),
                        channel_txn_id: cells[1].to_owned(),
                        amount: Money::parse_yuan(cells[3]).map_err(|e| e.named(&format!("statement[{}]", i + 1)))?,
                    });
                }
                Some(&"H") | Some(&"T") => {}
                _ => {
                    return Err(FieldError::new(
                        format!("statement[{}]", i + 1),
                        "代扣对账文件行格式应为 H|…、D|流水号|订单号|金额|状态 或 T|…",
                    ));
                }
            }
        }
        Ok(out)
    }
}
