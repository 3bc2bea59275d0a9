//! Gateway authentication of the national interface: the deployment
//! setting, institutions' credentials (issued, rotated and revoked by staff),
//! the platform's SM2 key, and the replay cache. The HTTP layer
//! (`yibao-http/src/fsi/gateway.rs`) applies them to each call before the
//! envelope is parsed. See `docs/gateway-auth.md`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use yibao_domain::DateTime;
use yibao_domain::auth::Permission;
use yibao_domain::institution::InstitutionCode;
use yibao_store::gateway::{self as repo, Credential};
use yibao_store::{Db, Tx};

use crate::App;
use crate::audit::{self, Change};
use crate::ctx::Ctx;
use crate::error::{AppError, AppResult};
use crate::gm::{self, Sm2Secret};

/// Timestamps (TIF, HMAC-SM3 headers; `inf_time` of SM2/SM4 messages) may
/// differ from the platform's clock by at most this much.
pub const TIMESTAMP_WINDOW_MS: i64 = 300_000;
/// How long a rotated credential stays valid next to its replacement, so
/// that an institution can deploy the new secret without downtime.
pub const ROTATION_GRACE_MS: i64 = 10 * 60 * 1000;
/// Entries of the replay cache. A single node holds at most this many nonces
/// of the last window; when full of live entries new calls are refused
/// (fail closed) rather than forgetting nonces.
pub const REPLAY_CACHE_MAX: usize = 200_000;
/// Name of the platform's SM2 key in `platform_key`.
pub const PLATFORM_KEY_NAME: &str = "platform-sm2";

/// Whether the national interface requires institutions to authenticate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FsiAuth {
    /// Credentials are optional; when a call presents them they are checked.
    /// For demos and closed test networks only.
    #[default]
    None,
    /// Every call must carry a valid credential of its institution.
    Required,
}

impl FsiAuth {
    pub fn parse(text: &str) -> Result<FsiAuth, String> {
        match text.trim() {
            "none" => Ok(FsiAuth::None),
            "required" => Ok(FsiAuth::Required),
            other => Err(format!("fsi_auth must be none or required (got {other:?})")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FsiAuth::None => "none",
            FsiAuth::Required => "required",
        }
    }
}

/// How an institution authenticates.
#[derive(utoipa::ToSchema, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// `x-tif-*` headers, SHA-256 signature.
    Tif,
    /// `x-ca-key` / `x-ca-signature` headers, HMAC-SM3 over timestamp and body (浙江).
    HmacSm3,
    /// SM2-signed (`cainfo`) and SM4-encrypted `input` / `output` (吉林).
    Sm2Sm4,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Tif => "tif",
            Method::HmacSm3 => "hmac_sm3",
            Method::Sm2Sm4 => "sm2_sm4",
        }
    }

    pub fn parse(text: &str) -> Result<Method, AppError> {
        match text {
            "tif" => Ok(Method::Tif),
            "hmac_sm3" => Ok(Method::HmacSm3),
            "sm2_sm4" => Ok(Method::Sm2Sm4),
            other => Err(AppError::invalid("method", format!("认证方式“{other}”无效，应为 tif、hmac_sm3 或 sm2_sm4"))),
        }
    }
}

/// A credential the verifier may use (secrets decoded).
#[derive(Clone)]
pub struct Verifier {
    pub id: i64,
    pub fixmedins_code: String,
    pub method: Method,
    pub client_id: String,
    /// TIF / HMAC-SM3 secret text.
    pub secret: String,
    /// SM4 key of `sm2_sm4`.
    pub sm4_key: [u8; 16],
    /// The institution's SM2 public key (SEC1 bytes) of `sm2_sm4`.
    pub public_key: Vec<u8>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Verifier({} {} {})", self.id, self.fixmedins_code, self.method.as_str())
    }
}

fn verifier(c: &Credential) -> AppResult<Verifier> {
    let method = Method::parse(&c.method).map_err(|_| AppError::Internal(format!("credential {} method", c.id)))?;
    let (sm4_key, public_key) = match method {
        Method::Sm2Sm4 => {
            let key: [u8; 16] = hex::decode(&c.secret)
                .ok()
                .and_then(|k| k.try_into().ok())
                .ok_or_else(|| AppError::Internal(format!("credential {} key", c.id)))?;
            let public = gm::parse_sm2_public(c.public_key.as_deref().unwrap_or(""))
                .map_err(|_| AppError::Internal(format!("credential {} public key", c.id)))?;
            (key, public)
        }
        _ => ([0; 16], Vec::new()),
    };
    Ok(Verifier {
        id: c.id,
        fixmedins_code: c.fixmedins_code.clone(),
        method,
        client_id: c.client_id.clone(),
        secret: if method == Method::Sm2Sm4 { String::new() } else { c.secret.clone() },
        sm4_key,
        public_key,
    })
}

/// The platform's gateway state: its SM2 key and the replay cache.
#[derive(Clone, Default)]
pub struct Gateway {
    platform: Option<Sm2Secret>,
    replay: Arc<Mutex<HashMap<String, i64>>>,
}

impl Gateway {
    pub fn new(platform: Sm2Secret) -> Gateway {
        Gateway { platform: Some(platform), replay: Default::default() }
    }

    /// The platform's SM2 public key (uncompressed SEC1 hex), published to institutions.
    pub fn platform_public_hex(&self) -> String {
        self.platform.as_ref().map(Sm2Secret::public_hex).unwrap_or_default()
    }

    /// Signs a response with the platform key (SM2 user id = the institution's client id).
    pub fn sign(&self, user_id: &str, msg: &[u8]) -> AppResult<[u8; 64]> {
        let key = self.platform.as_ref().ok_or_else(|| AppError::Internal("platform key not loaded".into()))?;
        key.sign(user_id, msg).map_err(AppError::Internal)
    }

    /// Records a nonce seen until `expires_ms`; `Err` with the Chinese reason
    /// when it was already seen (a replay) or the cache is full.
    ///
    /// A bounded in-memory cache: correct for a single node. Several nodes
    /// behind a load balancer each keep their own, so a replay sent to another
    /// node within the window would pass; such deployments need sticky
    /// routing per institution or a shared store.
    pub fn remember_nonce(&self, key: String, expires_ms: i64, now_ms: i64) -> Result<(), String> {
        let mut map = self.replay.lock().unwrap();
        if map.get(&key).is_some_and(|&exp| exp >= now_ms) {
            return Err("随机数已使用（重放）".into());
        }
        if map.len() >= REPLAY_CACHE_MAX {
            map.retain(|_, exp| *exp >= now_ms);
            if map.len() >= REPLAY_CACHE_MAX {
                tracing::warn!(entries = map.len(), "gateway replay cache full: refusing calls");
                return Err("系统繁忙（防重放缓存已满），请稍后重试".into());
            }
        }
        map.insert(key, expires_ms);
        Ok(())
    }

    /// The credentials of an institution accepted now (at most a few).
    pub async fn credentials(&self, app: &App, code: &str, now_ms: i64) -> AppResult<Vec<Verifier>> {
        let code = code.to_owned();
        let rows = app.db.read(move |tx: &mut dyn Tx| Ok::<_, AppError>(repo::valid(tx, &code, now_ms)?)).await?;
        rows.iter().map(verifier).collect()
    }
}

/// Loads the platform's SM2 key, generating and storing it on first start.
pub async fn load_platform_key(db: &Db) -> AppResult<Sm2Secret> {
    let existing = db.read(|tx: &mut dyn Tx| Ok::<_, AppError>(repo::platform_key(tx, PLATFORM_KEY_NAME)?)).await?;
    let (secret_hex, _) = match existing {
        Some(pair) => pair,
        None => {
            let fresh = Sm2Secret::generate().map_err(AppError::Internal)?;
            db.write(move |tx: &mut dyn Tx| {
                repo::insert_platform_key(
                    tx,
                    PLATFORM_KEY_NAME,
                    "SM2",
                    &fresh.to_hex(),
                    &fresh.public_hex(),
                    yibao_store::now_ms(),
                )?;
                // Another node may have stored its key first: keep that one.
                repo::platform_key(tx, PLATFORM_KEY_NAME)?
                    .ok_or_else(|| AppError::Internal("platform key not stored".into()))
            })
            .await?
        }
    };
    Sm2Secret::from_hex(&secret_hex).map_err(AppError::Internal)
}

// ------------------------------------------------------------- signatures

/// TIF: lowercase hex SHA-256 of timestamp + secret + nonce + timestamp.
pub fn tif_signature(timestamp: &str, secret: &str, nonce: &str) -> String {
    crate::fsi::sha256_hex(format!("{timestamp}{secret}{nonce}{timestamp}").as_bytes())
}

/// HMAC-SM3 (浙江): `"<ms timestamp>:" + UPPER-HEX(HMAC-SM3(secret, timestamp + "\n" + body))`.
pub fn hmac_sm3_signature(secret: &str, timestamp_ms: &str, body: &[u8]) -> String {
    let mut data = Vec::with_capacity(timestamp_ms.len() + 1 + body.len());
    data.extend_from_slice(timestamp_ms.as_bytes());
    data.push(b'\n');
    data.extend_from_slice(body);
    format!("{timestamp_ms}:{}", hex::encode_upper(gm::hmac_sm3(secret.as_bytes(), &data)))
}

// ------------------------------------------------------------- management

/// A credential as staff see it: never the secret.
#[derive(utoipa::ToSchema, Clone, Debug, Serialize)]
pub struct CredentialView {
    pub id: String,
    pub fixmedins_code: String,
    pub method: Method,
    /// `x-tif-paasid` / `x-ca-key` / SM2 user id: the institution code.
    pub client_id: String,
    /// `sm2_sm4`: the institution's SM2 public key (hex).
    pub public_key: Option<String>,
    /// `active`, `rotated` (valid until `valid_until`) or `revoked`.
    pub status: String,
    pub valid_until: Option<DateTime>,
    pub replaced_by: Option<String>,
    pub created_at: DateTime,
    pub revoked_at: Option<DateTime>,
}

impl From<&Credential> for CredentialView {
    fn from(c: &Credential) -> CredentialView {
        CredentialView {
            id: c.id.to_string(),
            fixmedins_code: c.fixmedins_code.clone(),
            method: Method::parse(&c.method).unwrap_or(Method::Tif),
            client_id: c.client_id.clone(),
            public_key: c.public_key.clone(),
            status: c.status.clone(),
            valid_until: c.valid_until_ms.map(DateTime::from_unix_ms),
            replaced_by: c.replaced_by.map(|r| r.to_string()),
            created_at: DateTime::from_unix_ms(c.created_at_ms),
            revoked_at: c.revoked_at_ms.map(DateTime::from_unix_ms),
        }
    }
}

/// A newly issued credential: the secret is shown this once.
#[derive(utoipa::ToSchema, Clone, Debug, Serialize)]
pub struct IssuedCredential {
    #[serde(flatten)]
    pub credential: CredentialView,
    /// `tif` / `hmac_sm3`: the secret text (64 hex digits, used as text).
    /// `sm2_sm4`: the SM4 key (32 hex digits = 16 bytes). Shown only once.
    pub secret: String,
    /// The platform's SM2 public key (hex) that signs `sm2_sm4` responses.
    pub platform_public_key: String,
}

/// The credentials of an institution.
#[derive(utoipa::ToSchema, Clone, Debug, Serialize)]
pub struct CredentialList {
    /// The platform's SM2 public key (uncompressed, hex), verifying `cainfo` of responses.
    pub platform_public_key: String,
    pub items: Vec<CredentialView>,
}

#[derive(utoipa::ToSchema, Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCredential {
    /// `tif`, `hmac_sm3` or `sm2_sm4`.
    pub method: String,
    /// `sm2_sm4` only: the institution's SM2 public key, hex (`04`‖x‖y, or x‖y, or compressed).
    pub public_key: Option<String>,
}

#[derive(utoipa::ToSchema, Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateCredential {
    /// `sm2_sm4` only: a new SM2 public key of the institution (the old one is kept when absent).
    pub public_key: Option<String>,
}

fn new_secret(method: Method) -> AppResult<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AppError::Internal(format!("no randomness: {e}")))?;
    Ok(match method {
        Method::Sm2Sm4 => hex::encode(&bytes[..16]),
        _ => hex::encode(bytes),
    })
}

fn public_key_for(method: Method, given: Option<&str>) -> AppResult<Option<String>> {
    match (method, given.map(str::trim).filter(|k| !k.is_empty())) {
        (Method::Sm2Sm4, Some(k)) => {
            let bytes = gm::parse_sm2_public(k).map_err(|r| AppError::invalid("public_key", r))?;
            Ok(Some(hex::encode(bytes)))
        }
        (Method::Sm2Sm4, None) => Err(AppError::invalid("public_key", "SM2/SM4 方式必须提供机构的SM2公钥")),
        (_, Some(_)) => Err(AppError::invalid("public_key", "只有 sm2_sm4 方式需要公钥")),
        (_, None) => Ok(None),
    }
}

/// The institution (in the actor's scope) a credential belongs to.
fn institution_in_scope(tx: &mut dyn Tx, ctx: &Ctx, code: &InstitutionCode) -> AppResult<String> {
    let inst = yibao_store::institution::get(tx, code.as_str())?
        .ok_or_else(|| AppError::not_found("定点医药机构", code.as_str()))?;
    ctx.require_region(inst.admdvs.as_str())?;
    Ok(inst.admdvs.as_str().to_owned())
}

fn audit_change(tx: &mut dyn Tx, ctx: &Ctx, action: &str, region: &str, c: &Credential) -> AppResult<()> {
    audit::record(
        tx,
        ctx,
        Change {
            action,
            target_kind: "fsi_credential",
            target_id: &c.id.to_string(),
            region,
            before: None,
            // The view has no secret.
            after: audit::image(&CredentialView::from(c)),
        },
    )
}

/// Issues an institution's credential (审核, 管理员); refused when it already has an active one.
pub async fn issue(app: &App, ctx: &Ctx, code: &str, input: NewCredential) -> AppResult<IssuedCredential> {
    ctx.require(Permission::WriteInstitution)?;
    let code = InstitutionCode::parse(code).map_err(|e| e.named("code"))?;
    let method = Method::parse(input.method.trim())?;
    let public_key = public_key_for(method, input.public_key.as_deref())?;
    let secret = new_secret(method)?;
    let ctx2 = ctx.clone();
    let credential = app
        .db
        .write(move |tx: &mut dyn Tx| {
            let region = institution_in_scope(tx, &ctx2, &code)?;
            if repo::valid(tx, code.as_str(), ctx2.now_ms)?.iter().any(|c| c.status == "active") {
                return Err(AppError::Conflict(format!("机构 {code} 已有有效凭证，请轮换（rotate）或先吊销")));
            }
            let c = Credential {
                id: yibao_store::ids::next_id(),
                fixmedins_code: code.as_str().to_owned(),
                method: method.as_str().to_owned(),
                client_id: code.as_str().to_owned(),
                secret: secret.clone(),
                public_key: public_key.clone(),
                status: "active".into(),
                valid_until_ms: None,
                replaced_by: None,
                created_at_ms: ctx2.now_ms,
                revoked_at_ms: None,
            };
            repo::insert(tx, &c)?;
            audit_change(tx, &ctx2, "institution.credential.issue", &region, &c)?;
            Ok(c)
        })
        .await?;
    tracing::info!(id = credential.id, fixmedins_code = %credential.fixmedins_code, method = %credential.method,
        "gateway credential issued");
    Ok(IssuedCredential {
        credential: CredentialView::from(&credential),
        secret: credential.secret,
        platform_public_key: app.gateway.platform_public_hex(),
    })
}

/// The credentials of an institution, without secrets.
pub async fn list(app: &App, ctx: &Ctx, code: &str) -> AppResult<CredentialList> {
    ctx.require(Permission::ReadBusiness)?;
    let code = InstitutionCode::parse(code).map_err(|e| e.named("code"))?;
    let ctx2 = ctx.clone();
    let rows = app
        .db
        .read(move |tx: &mut dyn Tx| {
            institution_in_scope(tx, &ctx2, &code)?;
            Ok::<_, AppError>(repo::of_institution(tx, code.as_str())?)
        })
        .await?;
    Ok(CredentialList {
        platform_public_key: app.gateway.platform_public_hex(),
        items: rows.iter().map(CredentialView::from).collect(),
    })
}

fn parse_id(id: &str) -> AppResult<i64> {
    id.trim().parse::<i64>().ok().filter(|i| *i > 0).ok_or_else(|| AppError::invalid("id", "凭证编号应为正整数"))
}

fn load_own(tx: &mut dyn Tx, ctx: &Ctx, code: &InstitutionCode, id: i64) -> AppResult<(Credential, String)> {
    let region = institution_in_scope(tx, ctx, code)?;
    let c = repo::get(tx, id)?
        .filter(|c| c.fixmedins_code == code.as_str())
        .ok_or_else(|| AppError::not_found("接口凭证", id.to_string()))?;
    Ok((c, region))
}

/// Replaces an active credential with a new secret (same method). The old
/// one stays valid for [`ROTATION_GRACE_MS`] so the institution can switch
/// without downtime; revoke it to end it at once.
pub async fn rotate(
    app: &App,
    ctx: &Ctx,
    code: &str,
    id: &str,
    input: RotateCredential,
) -> AppResult<IssuedCredential> {
    ctx.require(Permission::WriteInstitution)?;
    let code = InstitutionCode::parse(code).map_err(|e| e.named("code"))?;
    let id = parse_id(id)?;
    let ctx2 = ctx.clone();
    let credential = app
        .db
        .write(move |tx: &mut dyn Tx| {
            let (old, region) = load_own(tx, &ctx2, &code, id)?;
            if old.status != "active" {
                return Err(AppError::Conflict(format!("凭证 {id} 状态为 {}，只有有效凭证可以轮换", old.status)));
            }
            let method = Method::parse(&old.method)?;
            let public_key = match input.public_key.as_deref() {
                Some(k) => public_key_for(method, Some(k))?,
                None => old.public_key.clone(),
            };
            let new = Credential {
                id: yibao_store::ids::next_id(),
                secret: new_secret(method)?,
                public_key,
                status: "active".into(),
                valid_until_ms: None,
                replaced_by: None,
                created_at_ms: ctx2.now_ms,
                revoked_at_ms: None,
                ..old.clone()
            };
            // The old one leaves "active" before the new one enters it (one active per institution).
            repo::mark_rotated(tx, old.id, ctx2.now_ms + ROTATION_GRACE_MS, new.id)?;
            repo::insert(tx, &new)?;
            audit_change(tx, &ctx2, "institution.credential.rotate", &region, &new)?;
            Ok(new)
        })
        .await?;
    tracing::info!(id = credential.id, fixmedins_code = %credential.fixmedins_code, "gateway credential rotated");
    Ok(IssuedCredential {
        credential: CredentialView::from(&credential),
        secret: credential.secret,
        platform_public_key: app.gateway.platform_public_hex(),
    })
}

/// Revokes a credential at once (active or in its rotation grace period).
pub async fn revoke(app: &App, ctx: &Ctx, code: &str, id: &str) -> AppResult<CredentialView> {
    ctx.require(Permission::WriteInstitution)?;
    let code = InstitutionCode::parse(code).map_err(|e| e.named("code"))?;
    let id = parse_id(id)?;
    let ctx2 = ctx.clone();
    let c = app
        .db
        .write(move |tx: &mut dyn Tx| {
            let (old, region) = load_own(tx, &ctx2, &code, id)?;
            if old.status == "revoked" {
                return Err(AppError::Conflict(format!("凭证 {id} 已吊销")));
            }
            repo::revoke(tx, id, ctx2.now_ms)?;
            let c = repo::get(tx, id)?.ok_or_else(|| AppError::not_found("接口凭证", id.to_string()))?;
            audit_change(tx, &ctx2, "institution.credential.revoke", &region, &c)?;
            Ok(c)
        })
        .await?;
    tracing::info!(id = c.id, fixmedins_code = %c.fixmedins_code, "gateway credential revoked");
    Ok(CredentialView::from(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tif_signature_is_sha256_of_the_documented_text() {
        // echo -n "1700000000s3cretabc1700000000" | sha256sum
        assert_eq!(
            tif_signature("1700000000", "s3cret", "abc"),
            crate::fsi::sha256_hex(b"1700000000s3cretabc1700000000")
        );
    }

    #[test]
    fn hmac_sm3_signature_has_timestamp_and_upper_hex() {
        let s = hmac_sm3_signature("k", "1700000000000", b"{}");
        let (ts, mac) = s.split_once(':').unwrap();
        assert_eq!(ts, "1700000000000");
        assert_eq!(mac.len(), 64);
        assert_eq!(mac, mac.to_ascii_uppercase());
        assert_eq!(mac, hex::encode_upper(gm::hmac_sm3(b"k", b"1700000000000\n{}")));
    }

    #[test]
    fn the_setting_parses_its_two_values_only() {
        assert_eq!(FsiAuth::parse("required").unwrap(), FsiAuth::Required);
        assert_eq!(FsiAuth::parse(" none ").unwrap(), FsiAuth::None);
        assert!(FsiAuth::parse("off").is_err());
        assert_eq!(FsiAuth::default(), FsiAuth::None, "library default; `serve` defaults to required");
    }

    #[test]
    fn replay_cache_refuses_a_nonce_twice_and_forgets_expired_ones() {
        let g = Gateway::default();
        g.remember_nonce("a".into(), 1_000, 0).unwrap();
        assert!(g.remember_nonce("a".into(), 1_000, 500).unwrap_err().contains("重放"));
        g.remember_nonce("a".into(), 3_000, 2_000).unwrap();
    }
}
