//! 医保电子凭证: short-lived tokens the platform issues to an insured person
//! (shown as a QR code) and institutions present with `mdtrt_cert_type` 01.
//!
//! A token is compact ASCII, fit for a QR code:
//!
//! ```text
//! EV1.<psn_no>.<expiry, Unix seconds>.<nonce, 16 hex>.<signature, Base64url r‖s>
//! ```
//!
//! The signature is SM3withSM2 by the platform key (see [`crate::gateway`])
//! over everything before the last dot, with the SM2 user id
//! [`TOKEN_USER_ID`] (so a token signature can never be confused with a
//! gateway response signature made with the same key). Tokens are valid for
//! [`TOKEN_TTL_MS`]; they are not stored: issuing one is audited.

use serde::Serialize;

use crate::gm::{self, Sm2Secret};

pub const TOKEN_PREFIX: &str = "EV1";
/// SM2 user id of token signatures.
pub const TOKEN_USER_ID: &str = "yibao-evoucher";
/// How long a token is valid.
pub const TOKEN_TTL_MS: i64 = 5 * 60 * 1000;
/// Longest token accepted (a real one is about 140 characters).
pub const TOKEN_CHARS_MAX: usize = 256;
/// Clock difference tolerated between nodes when judging expiry.
const CLOCK_SKEW_MS: i64 = 30_000;

/// The platform's keys for e-voucher tokens. The default has none and
/// refuses every token.
#[derive(Default, Debug, Clone)]
pub struct Keys {
    secret: Option<Sm2Secret>,
    public: Vec<u8>,
}

impl Keys {
    pub fn new(secret: Sm2Secret) -> Keys {
        let public = hex::decode(secret.public_hex()).expect("hex");
        Keys { secret: Some(secret), public }
    }
}

/// An issued token.
#[derive(utoipa::ToSchema, Clone, Debug, Serialize)]
pub struct Token {
    /// The text to encode as a QR code and to send as `mdtrt_cert_no` with `mdtrt_cert_type` 01.
    pub token: String,
    pub psn_no: String,
    pub expires_at: yibao_domain::DateTime,
    pub expires_at_ms: i64,
}

fn psn_no_ok(psn_no: &str) -> bool {
    !psn_no.is_empty() && psn_no.len() <= 40 && psn_no.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Signs a token for `psn_no` valid until `now_ms` + [`TOKEN_TTL_MS`].
pub fn issue(keys: &Keys, psn_no: &str, now_ms: i64) -> Result<Token, String> {
    let secret = keys.secret.as_ref().ok_or("本平台未配置电子凭证签名密钥")?;
    if !psn_no_ok(psn_no) {
        return Err(format!("人员编号“{psn_no}”不能用于电子凭证"));
    }
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).map_err(|e| format!("no randomness: {e}"))?;
    // Whole seconds, rounded down: the token never outlives the TTL.
    let expires_at_ms = (now_ms + TOKEN_TTL_MS) / 1000 * 1000;
    let body = format!("{TOKEN_PREFIX}.{psn_no}.{}.{}", expires_at_ms / 1000, hex::encode(nonce));
    let sig = secret.sign(TOKEN_USER_ID, body.as_bytes())?;
    Ok(Token {
        token: format!("{body}.{}", gm::b64url_encode(&sig)),
        psn_no: psn_no.to_owned(),
        expires_at: yibao_domain::DateTime::from_unix_ms(expires_at_ms),
        expires_at_ms,
    })
}

/// The person number a token was issued to, or why it is refused (Chinese).
pub fn verify_token(keys: &Keys, token: &str, now_ms: i64) -> Result<String, String> {
    let token = token.trim();
    if token.is_empty() {
        return Err("电子凭证令牌不能为空".into());
    }
    if keys.secret.is_none() {
        return Err("本平台尚未启用医保电子凭证校验，请使用身份证（02）或社会保障卡（03）".into());
    }
    if token.len() > TOKEN_CHARS_MAX {
        return Err(format!("电子凭证令牌过长（最多{TOKEN_CHARS_MAX}个字符）"));
    }
    let malformed = || "电子凭证令牌格式不正确".to_owned();
    let (body, sig) = token.rsplit_once('.').ok_or_else(malformed)?;
    let parts: Vec<&str> = body.split('.').collect();
    let [prefix, psn_no, expiry, nonce] = parts[..] else { return Err(malformed()) };
    if prefix != TOKEN_PREFIX {
        return Err("电子凭证令牌版本不受支持".into());
    }
    let expiry_s: i64 = expiry.parse().map_err(|_| malformed())?;
    if !psn_no_ok(psn_no) || nonce.len() != 16 || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(malformed());
    }
    let sig = gm::b64url_decode(sig).filter(|s| s.len() == 64).ok_or_else(malformed)?;
    if !gm::sm2_verify(&keys.public, TOKEN_USER_ID, body.as_bytes(), &sig) {
        return Err("电子凭证令牌签名无效（已被篡改或非本平台签发）".into());
    }
    let expires_at_ms = expiry_s.saturating_mul(1000);
    if expires_at_ms > now_ms + TOKEN_TTL_MS + CLOCK_SKEW_MS {
        return Err("电子凭证令牌有效期无效".into());
    }
    if now_ms > expires_at_ms {
        return Err("电子凭证令牌已过期（有效期5分钟），请参保人重新出示电子凭证二维码".into());
    }
    Ok(psn_no.to_owned())
}

/// Issues a token for an insured person (经办 and above, within scope; the
/// public portal will call the same with the person's own session). The
/// issuing is audited; the token itself is never recorded or logged.
pub async fn issue_for_person(app: &crate::App, ctx: &crate::Ctx, psn_no: &str) -> crate::AppResult<Token> {
    use crate::AppError;
    ctx.require(yibao_domain::auth::Permission::WriteEnrollment)?;
    let psn_no = psn_no.trim().to_owned();
    if !psn_no_ok(&psn_no) {
        return Err(AppError::invalid("psn_no", "人员编号应为不超过40位的字母或数字"));
    }
    let keys = app.evoucher.clone();
    let ctx2 = ctx.clone();
    app.db
        .write(move |tx: &mut dyn yibao_store::Tx| {
            let person = yibao_store::enrollment::person(tx, &psn_no)?
                .ok_or_else(|| AppError::not_found("参保人员", psn_no.clone()))?;
            let insured_regions: Vec<String> = yibao_store::enrollment::enrollment_details_of(tx, &psn_no)?
                .into_iter()
                .map(|d| d.enrollment.insu_admdvs.as_str().to_owned())
                .collect();
            let visible = ctx2.actor.scope.covers(person.admdvs.as_str())
                || insured_regions.iter().any(|r| ctx2.actor.scope.covers(r));
            if !visible {
                return Err(AppError::Forbidden("该人员不在当前账号的管辖范围内".into()));
            }
            if person.death_date.is_some() {
                return Err(AppError::Conflict("该人员已死亡，不能签发电子凭证".into()));
            }
            let token = issue(&keys, &psn_no, ctx2.now_ms).map_err(AppError::Internal)?;
            crate::audit::record(
                tx,
                &ctx2,
                crate::audit::Change {
                    action: "evoucher.issue",
                    target_kind: "person",
                    target_id: &psn_no,
                    region: insured_regions.first().map(String::as_str).unwrap_or(person.admdvs.as_str()),
                    before: None,
                    after: Some(serde_json::json!({"expires_at_ms": token.expires_at_ms}).to_string()),
                },
            )?;
            Ok(token)
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_until_they_expire_and_refuse_tampering() {
        let keys = Keys::new(Sm2Secret::generate().unwrap());
        let now = 1_795_000_000_000;
        let t = issue(&keys, "33020000000000000001", now).unwrap();
        assert!(t.token.starts_with("EV1.33020000000000000001."), "{}", t.token);
        assert!(t.token.len() < 160, "{}", t.token.len());
        assert_eq!(verify_token(&keys, &t.token, now).unwrap(), "33020000000000000001");
        assert_eq!(verify_token(&keys, &t.token, now + TOKEN_TTL_MS - 1000).unwrap(), "33020000000000000001");
        assert!(verify_token(&keys, &t.token, now + TOKEN_TTL_MS + 1).unwrap_err().contains("已过期"));
        let forged = t.token.replacen("EV1.33020000000000000001", "EV1.33020000000000000002", 1);
        assert!(verify_token(&keys, &forged, now).unwrap_err().contains("签名无效"));
        let other = Keys::new(Sm2Secret::generate().unwrap());
        assert!(verify_token(&other, &t.token, now).unwrap_err().contains("签名无效"));
        assert!(verify_token(&keys, "garbage", now).unwrap_err().contains("格式"));
        assert!(verify_token(&keys, "", now).unwrap_err().contains("不能为空"));
        assert!(verify_token(&Keys::default(), &t.token, now).is_err());
    }
}
