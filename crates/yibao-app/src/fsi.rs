//! The national interface's message discipline (定点医药机构接口):
//! sign-in sessions, idempotency by `msgid`, and what each message did, so
//! that 2601 (冲正) can undo it.
//!
//! Every state-changing message runs as one DB job through [`execute`]:
//! 1. a message with this `msgid` already processed: the same body gets the
//!    original answer without acting again; a different body is refused;
//! 2. a message already reversed before it arrived (2601 came first) is refused;
//! 3. the sign-in (`sign_no`) must be live and belong to this institution and
//!    operator;
//! 4. the transaction runs; its output and its effect are logged with the
//!    msgid in the same transaction.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use yibao_domain::institution::Institution;
use yibao_domain::{DateTime, FieldError};
use yibao_store::Tx;
use yibao_store::fsi::{self as repo, Message, SignIn};
use yibao_store::line_cache::{LineCache, LineCacheChange, VisitLines};

use crate::error::{AppError, AppResult};

/// How long a sign-in lasts without a sign-out (a working day and a night shift).
pub const SIGNIN_TTL_MS: i64 = 24 * 3600 * 1000;

/// The envelope facts every transaction needs.
#[derive(Clone, Debug)]
pub struct FsiCtx {
    pub infno: String,
    pub msgid: String,
    pub institution: Institution,
    pub opter: String,
    pub opter_name: String,
    pub sign_no: String,
    /// 就医地 from the envelope.
    pub mdtrtarea_admvs: String,
    /// 参保地 from the envelope (may be empty).
    pub insuplc_admdvs: String,
    /// The receiving node's region, used in `inf_refmsgid`.
    pub node_admdvs: String,
    pub now: DateTime,
    pub now_ms: i64,
    /// SHA-256 of the message's business input, for idempotency.
    pub body_sha256: String,
    /// Keys to verify 医保电子凭证 tokens.
    pub evoucher: std::sync::Arc<crate::evoucher::Keys>,
    /// Visits' active fee lines, kept from upload to settlement.
    pub lines: Arc<LineCache>,
}

impl FsiCtx {
    pub fn fixmedins_code(&self) -> &str {
        self.institution.code.as_str()
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The hash that recognises a resent message: SHA-256 of the transaction
/// code, a newline and the `input` node as compact JSON (keys sorted, so the
/// same content gives the same hash however the client ordered it; an absent
/// input counts as `{}`). Streamed into the hasher: no copy of the text.
pub fn input_sha256(infno: &str, input: &Value) -> String {
    struct Hashing(Sha256);
    impl std::io::Write for Hashing {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.update(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut h = Hashing(Sha256::new());
    h.0.update(infno.as_bytes());
    h.0.update(b"\n");
    if input.is_null() {
        h.0.update(b"{}");
    } else {
        serde_json::to_writer(&mut h, input).expect("a JSON value serializes");
    }
    hex::encode(h.0.finalize())
}

/// What a message did, for 2601 to undo.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Effect {
    /// Nothing to undo.
    None,
    /// 2201 / 2401 / 2101: a visit was opened.
    VisitOpened {
        mdtrt_id: String,
        /// A pharmacy purchase (2101) opens its visit with its lines: all of
        /// them, for the line cache once the job has committed. Not logged.
        #[serde(skip)]
        now_active: Option<Arc<VisitLines>>,
    },
    /// 2204 / 2301: lines were added.
    LinesUploaded {
        mdtrt_id: String,
        serials: Vec<String>,
        /// All of the visit's active lines after the upload, when the job
        /// knew them: for the line cache once the job has committed
        /// ([`Answer::line_cache`]). Not logged.
        #[serde(skip)]
        now_active: Option<Arc<VisitLines>>,
    },
    /// 2205 / 2302: lines were cancelled.
    LinesCancelled { mdtrt_id: String, serials: Vec<String> },
    /// 2207 / 2304 / 2102: a settlement was made.
    Settled { mdtrt_id: String, setl_id: String },
    /// 2402: discharged.
    Discharged { mdtrt_id: String },
}

/// The answer to a message: its output and the receiver's message id.
#[derive(Clone, Debug)]
pub struct Answer {
    /// The output as JSON text, written once: the same text is logged for
    /// a resend and sent in the response, so a resend gets the same bytes.
    pub output_json: String,
    pub inf_refmsgid: String,
    /// True when this is the stored answer to a repeated message.
    pub replayed: bool,
    /// What the line cache is to do once the job's commit is durable (the
    /// caller applies it: `LineCache::apply`).
    pub line_cache: LineCacheChange,
}

impl Effect {
    /// What the line cache is to do once the message's job has committed:
    /// keep the lines an upload knew in full, forget a visit whose lines
    /// changed otherwise or that was settled (it needs them no more; a
    /// cancelled settlement reads them again).
    fn line_cache_change(&self) -> LineCacheChange {
        match self {
            Effect::LinesUploaded { now_active: Some(lines), .. }
            | Effect::VisitOpened { now_active: Some(lines), .. } => LineCacheChange::Install(lines.clone()),
            Effect::LinesUploaded { mdtrt_id, now_active: None, .. }
            | Effect::LinesCancelled { mdtrt_id, .. }
            | Effect::Settled { mdtrt_id, .. } => LineCacheChange::Forget(mdtrt_id.clone()),
            Effect::None | Effect::VisitOpened { now_active: None, .. } | Effect::Discharged { .. } => {
                LineCacheChange::None
            }
        }
    }
}

/// The receiver's message id: 6-digit region + yyyyMMddHHmmss + 10-digit sequence.
pub fn new_refmsgid(node_admdvs: &str, now: DateTime) -> String {
    let seq = (yibao_store::ids::next_id() as u64) % 10_000_000_000;
    format!("{:0>6}{}{seq:010}", &node_admdvs[..node_admdvs.len().min(6)], now.compact())
}

/// Checks the sign-in of a business message, read in this transaction.
pub fn check_signin(tx: &mut dyn Tx, ctx: &FsiCtx) -> AppResult<()> {
    let record = if ctx.sign_no.trim().is_empty() { None } else { repo::signin(tx, &ctx.sign_no)? };
    check_signin_record(ctx, record.as_ref())
}

/// How long a sign-in read for the interface may be reused. A sign-out
/// through this node drops it at once and expiry is checked on the record
/// itself; the bound covers a sign-out made through another node sharing
/// the database (accepted there for at most this long).
pub const SIGNIN_CACHE_TTL_MS: i64 = 30_000;

/// Sign-ins held in a bound on memory: one entry per operator on shift.
const SIGNIN_CACHE_ENTRIES_MAX: usize = 200_000;

/// Sign-ins as the interface checks them, cached: every business message
/// names one (five per outpatient visit), and a record changes only when its
/// operator signs out.
#[derive(Clone)]
pub struct SignInCache {
    map: crate::ttl::TtlMap<SignIn>,
}

impl Default for SignInCache {
    fn default() -> SignInCache {
        SignInCache { map: crate::ttl::TtlMap::new(SIGNIN_CACHE_TTL_MS, SIGNIN_CACHE_ENTRIES_MAX) }
    }
}

impl SignInCache {
    /// The sign-in `sign_no` (None: there is none), from the cache or read.
    pub async fn get(&self, db: &yibao_store::Db, sign_no: &str, now_ms: i64) -> AppResult<Option<SignIn>> {
        let sign_no = sign_no.trim();
        if sign_no.is_empty() {
            return Ok(None);
        }
        if let Some(s) = self.map.get(sign_no, now_ms) {
            return Ok(Some(s));
        }
        let key = sign_no.to_owned();
        let found = db.read(move |tx: &mut dyn Tx| Ok::<_, AppError>(repo::signin(tx, &key)?)).await?;
        if let Some(s) = &found {
            self.map.insert(s.sign_no.clone(), s.clone(), now_ms);
        }
        Ok(found)
    }

    /// Drops a sign-in after its sign-out.
    pub fn forget(&self, sign_no: &str) {
        self.map.remove(sign_no.trim());
    }
}

/// Checks a message's sign-in against its record (None: no such sign-in).
pub fn check_signin_record(ctx: &FsiCtx, signin: Option<&SignIn>) -> AppResult<()> {
    if ctx.sign_no.trim().is_empty() {
        return Err(AppError::invalid("sign_no", "签到编号不能为空，请先签到（9001）"));
    }
    let s = signin.ok_or_else(|| AppError::invalid("sign_no", "签到编号不存在，请重新签到"))?;
    if s.fixmedins_code != ctx.fixmedins_code() {
        return Err(AppError::invalid("sign_no", "签到编号不属于本机构"));
    }
    if s.opter != ctx.opter {
        return Err(AppError::invalid(
            "sign_no",
            format!("签到编号属于操作员 {}，与本次操作员 {} 不符", s.opter, ctx.opter),
        ));
    }
    if s.signed_out_at_ms.is_some() {
        return Err(AppError::invalid("sign_no", "已签退，请重新签到"));
    }
    if s.expires_at_ms <= ctx.now_ms {
        return Err(AppError::invalid("sign_no", "签到已过期，请重新签到"));
    }
    Ok(())
}

/// How [`execute`] checks a message's sign-in.
#[derive(Clone, Debug)]
pub enum SignInCheck {
    /// 9001 / 9002 need none.
    NotNeeded,
    /// Against this record, read before the job ([`SignInCache`]); None: no
    /// such sign-in.
    Record(Option<SignIn>),
}

/// The outcome of a transaction's business step.
pub struct Outcome {
    pub output: Output,
    pub effect: Effect,
}

/// A transaction's output: a JSON value, or JSON text written straight from
/// typed values (a large answer, such as 2204's lines, skips the `Value`).
#[derive(Clone, Debug)]
pub enum Output {
    Value(Value),
    Json(String),
}

impl From<Value> for Output {
    fn from(value: Value) -> Self {
        Output::Value(value)
    }
}

impl Output {
    /// The output as JSON text, written from typed values.
    pub fn json(value: &impl Serialize) -> Output {
        Output::Json(serde_json::to_string(value).expect("an answer serializes"))
    }

    pub fn into_json(self) -> String {
        match self {
            Output::Value(v) => v.to_string(),
            Output::Json(text) => text,
        }
    }

    /// The output as a value, for a transaction that builds on another's.
    pub fn into_value(self) -> AppResult<Value> {
        match self {
            Output::Value(v) => Ok(v),
            Output::Json(text) => {
                serde_json::from_str(&text).map_err(|e| AppError::Internal(format!("an answer's JSON: {e}")))
            }
        }
    }
}

/// Looks up a logged message and decides: answer from the log, refuse, or go
/// on. Also for a message refused before its write job (lines checked
/// outside the writer): a resend is answered from the log even if it would
/// no longer pass those checks.
pub fn check_message_log(tx: &mut dyn Tx, ctx: &FsiCtx) -> AppResult<Option<Answer>> {
    let Some(m) = repo::message(tx, ctx.fixmedins_code(), &ctx.msgid)? else {
        return Ok(None);
    };
    if m.infno != ctx.infno {
        return Err(AppError::invalid("msgid", format!("报文ID {} 已用于交易 {}", ctx.msgid, m.infno)));
    }
    if let (None, Some(reversed_by)) = (&m.output, &m.reversed_by) {
        return Err(AppError::invalid("msgid", format!("报文 {} 已被冲正（{}），不再受理", ctx.msgid, reversed_by)));
    }
    if m.body_sha256 != ctx.body_sha256 {
        return Err(AppError::invalid("msgid", format!("报文ID {} 已使用，且本次报文内容与原报文不同", ctx.msgid)));
    }
    let output_json = m.output.unwrap_or_else(|| "null".to_owned());
    // Checked, not built: a damaged log entry is an error, not a reply.
    serde_json::from_str::<serde::de::IgnoredAny>(&output_json)
        .map_err(|e| AppError::Internal(format!("logged output: {e}")))?;
    Ok(Some(Answer { output_json, inf_refmsgid: m.inf_refmsgid, replayed: true, line_cache: LineCacheChange::None }))
}

/// Runs a state-changing transaction inside a write job with the message
/// discipline above. `business` must be the whole business step; `reads`
/// names the reads it makes first, sent with the message log's in one round
/// trip ([`Tx::prefetch`]). They are named only on PostgreSQL: SQLite's reads
/// cost no round trip.
pub fn execute(
    tx: &mut dyn Tx,
    ctx: &FsiCtx,
    signin: &SignInCheck,
    reads: impl FnOnce(yibao_store::Backend) -> Vec<yibao_store::Read>,
    business: impl FnOnce(&mut dyn Tx) -> AppResult<Outcome>,
) -> AppResult<Answer> {
    if tx.backend() == yibao_store::Backend::Postgres {
        let mut first = vec![repo::message_read(ctx.fixmedins_code(), &ctx.msgid)];
        first.extend(reads(yibao_store::Backend::Postgres));
        tx.prefetch(&first)?;
    }
    if let Some(answer) = check_message_log(tx, ctx)? {
        return Ok(answer);
    }
    if let SignInCheck::Record(record) = signin {
        check_signin_record(ctx, record.as_ref())?;
    }
    let outcome = business(tx)?;
    let inf_refmsgid = new_refmsgid(&ctx.node_admdvs, ctx.now);
    let output_json = outcome.output.into_json();
    // A concurrent message with the same msgid may win the race: then this
    // job fails as retryable (its work must not commit) and the rerun
    // answers from the log.
    repo::log_message(
        tx,
        &Message {
            fixmedins_code: ctx.fixmedins_code().to_owned(),
            msgid: ctx.msgid.clone(),
            infno: ctx.infno.clone(),
            body_sha256: ctx.body_sha256.clone(),
            inf_refmsgid: inf_refmsgid.clone(),
            output: Some(output_json.clone()),
            effect: Some(serde_json::to_string(&outcome.effect).expect("effect serializes")),
            reversed_by: None,
        },
        ctx.now_ms,
    )?;
    Ok(Answer { output_json, inf_refmsgid, replayed: false, line_cache: outcome.effect.line_cache_change() })
}

/// 9001 签到: opens a sign-in for an operator of the institution.
pub fn sign_in(tx: &mut dyn Tx, ctx: &FsiCtx, opter_no: &str, mac: &str, ip: &str) -> AppResult<Value> {
    if opter_no.trim().is_empty() || opter_no.len() > 30 {
        return Err(AppError::invalid("signIn.opter_no", "操作员编号不能为空且不超过30个字符"));
    }
    if opter_no != ctx.opter {
        return Err(AppError::invalid(
            "signIn.opter_no",
            format!("操作员编号 {opter_no} 与报文的 opter {} 不符", ctx.opter),
        ));
    }
    let sign_no = format!("{}", yibao_store::ids::next_id());
    repo::insert_signin(
        tx,
        &SignIn {
            sign_no: sign_no.clone(),
            fixmedins_code: ctx.fixmedins_code().to_owned(),
            opter: ctx.opter.clone(),
            opter_name: ctx.opter_name.clone(),
            mac: mac.chars().take(40).collect(),
            ip: ip.chars().take(40).collect(),
            sign_time: ctx.now.to_string(),
            expires_at_ms: ctx.now_ms + SIGNIN_TTL_MS,
            signed_out_at_ms: None,
        },
        ctx.now_ms,
    )?;
    Ok(serde_json::json!({"signinoutb": {"sign_time": ctx.now.to_string(), "sign_no": sign_no}}))
}

/// 9002 签退.
pub fn sign_out(tx: &mut dyn Tx, ctx: &FsiCtx, sign_no: &str) -> AppResult<Value> {
    let s = repo::signin(tx, sign_no)?.ok_or_else(|| AppError::invalid("signOut.sign_no", "签到编号不存在"))?;
    if s.fixmedins_code != ctx.fixmedins_code() {
        return Err(AppError::invalid("signOut.sign_no", "签到编号不属于本机构"));
    }
    if repo::sign_out(tx, sign_no, ctx.now_ms)? == 0 {
        return Err(AppError::invalid("signOut.sign_no", "该签到已签退"));
    }
    Ok(serde_json::json!({"signoutoutb": {"sign_time": ctx.now.to_string()}}))
}

/// Reads the effect a logged message had (for 2601).
pub fn logged_effect(tx: &mut dyn Tx, fixmedins_code: &str, msgid: &str) -> AppResult<Option<(Message, Effect)>> {
    let Some(m) = repo::message(tx, fixmedins_code, msgid)? else { return Ok(None) };
    let effect = match &m.effect {
        Some(e) => serde_json::from_str(e).map_err(|e| AppError::Internal(format!("logged effect: {e}")))?,
        None => Effect::None,
    };
    Ok(Some((m, effect)))
}

/// Records that `omsgid` was reversed by `ctx.msgid` before it ever arrived, so
/// that its late arrival is refused.
pub fn tombstone(tx: &mut dyn Tx, ctx: &FsiCtx, omsgid: &str, oinfno: &str) -> AppResult<()> {
    repo::insert_message(
        tx,
        &Message {
            fixmedins_code: ctx.fixmedins_code().to_owned(),
            msgid: omsgid.to_owned(),
            infno: oinfno.to_owned(),
            body_sha256: String::new(),
            inf_refmsgid: String::new(),
            output: None,
            effect: None,
            reversed_by: Some(ctx.msgid.clone()),
        },
        ctx.now_ms,
    )?;
    Ok(())
}

/// Validates an identifier field of a message (ids, serials, numbers).
pub fn parse_id(field: &str, value: &str, max_len: usize) -> Result<String, FieldError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(FieldError::new(field, "不能为空"));
    }
    if v.chars().count() > max_len {
        return Err(FieldError::new(field, format!("不能超过{max_len}个字符")));
    }
    if v.chars().any(char::is_control) {
        return Err(FieldError::new(field, "含有控制字符"));
    }
    Ok(v.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Messages logged before the hash was streamed must still be
    /// recognised when resent: the bytes hashed are the same as before.
    #[test]
    fn the_input_hash_is_that_of_the_code_and_the_compact_input() {
        let input: Value = serde_json::from_str(r#"{"data": {"psn_no": "P1", "medfee_sumamt": 12.30, "b": [1, "x"]}}"#)
            .expect("valid JSON");
        assert_eq!(input_sha256("2207", &input), sha256_hex(format!("2207\n{input}").as_bytes()));
        assert_eq!(input_sha256("1101", &Value::Null), sha256_hex(b"1101\n{}"));
        assert_eq!(input_sha256("1101", &serde_json::json!({})), input_sha256("1101", &Value::Null));
        assert_ne!(input_sha256("2207", &input), input_sha256("2206", &input));
    }

    // A cached sign-in is reused for its time to live and read again after
    // it: a sign-out made through another node (here, straight in the
    // database) is seen within the bound; one made through this node is seen
    // at once.
    crate::backend_tests! {
        async fn a_cached_sign_in_is_reread_after_its_time_to_live(app: App) {
            let signin = |sign_no: &str| SignIn {
                sign_no: sign_no.into(),
                fixmedins_code: "H33020300001".into(),
                opter: "001".into(),
                opter_name: "操作员".into(),
                mac: String::new(),
                ip: String::new(),
                sign_time: "2026-11-22 08:00:00".into(),
                expires_at_ms: 2_000_000_000_000,
                signed_out_at_ms: None,
            };
            let now_ms = 1_790_000_000_000;
            app.db
                .write(move |tx: &mut dyn Tx| {
                    repo::insert_signin(tx, &signin("S-A"), now_ms)?;
                    repo::insert_signin(tx, &signin("S-B"), now_ms)
                })
                .await
                .unwrap();
            let cache = SignInCache::default();
            assert!(cache.get(&app.db, "", now_ms).await.unwrap().is_none());
            assert!(cache.get(&app.db, "S-NONE", now_ms).await.unwrap().is_none());
            for sign_no in ["S-A", "S-B"] {
                assert_eq!(cache.get(&app.db, sign_no, now_ms).await.unwrap().unwrap().signed_out_at_ms, None);
            }
            app.db
                .write(move |tx: &mut dyn Tx| {
                    repo::sign_out(tx, "S-A", now_ms + 1)?;
                    repo::sign_out(tx, "S-B", now_ms + 1)
                })
                .await
                .unwrap();
            let within = now_ms + SIGNIN_CACHE_TTL_MS - 1;
            let a = cache.get(&app.db, "S-A", within).await.unwrap().unwrap();
            assert_eq!(a.signed_out_at_ms, None, "reused within the bound");
            let after = now_ms + SIGNIN_CACHE_TTL_MS;
            let a = cache.get(&app.db, "S-A", after).await.unwrap().unwrap();
            assert_eq!(a.signed_out_at_ms, Some(now_ms + 1), "read again after it");
            cache.forget(" S-B ");
            let b = cache.get(&app.db, "S-B", within).await.unwrap().unwrap();
            assert_eq!(b.signed_out_at_ms, Some(now_ms + 1), "a sign-out through this node is seen at once");
        }
    }
}
