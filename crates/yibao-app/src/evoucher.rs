//! 医保电子凭证: short-lived tokens the platform issues to an insured person
//! (shown as a QR code) and institutions present with mdtrt_cert_type 01.
//!
//! Interim: verification is not configured yet, so every token is refused
//! with a clear reason; the SM2-signed token format replaces this.

/// The platform's keys for e-voucher tokens.
#[derive(Default, Debug)]
pub struct Keys {}

/// The person number a token was issued to, or why it is refused.
pub fn verify_token(_keys: &Keys, token: &str, _now_ms: i64) -> Result<String, String> {
    if token.trim().is_empty() {
        return Err("电子凭证令牌不能为空".into());
    }
    Err("本平台尚未启用医保电子凭证校验，请使用身份证（02）或社会保障卡（03）".into())
}
