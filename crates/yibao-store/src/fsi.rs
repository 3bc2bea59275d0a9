//! The national interface's own records: sign-ins, the message log and
//! files for download.

use crate::params;
use crate::sql::{DbErrorKind, DbResult, Read, RowsExpected, Tx, Value};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignIn {
    pub sign_no: String,
    pub fixmedins_code: String,
    pub opter: String,
    pub opter_name: String,
    pub mac: String,
    pub ip: String,
    pub sign_time: String,
    pub expires_at_ms: i64,
    pub signed_out_at_ms: Option<i64>,
}

pub fn insert_signin(tx: &mut dyn Tx, s: &SignIn, now_ms: i64) -> DbResult<()> {
    tx.execute(
        "INSERT INTO fsi_signin (sign_no, fixmedins_code, opter, opter_name, mac, ip, sign_time, expires_at_ms, \
         signed_out_at_ms, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        params![
            s.sign_no.as_str(),
            s.fixmedins_code.as_str(),
            s.opter.as_str(),
            s.opter_name.as_str(),
            s.mac.as_str(),
            s.ip.as_str(),
            s.sign_time.as_str(),
            s.expires_at_ms,
            s.signed_out_at_ms,
            now_ms
        ],
    )?;
    Ok(())
}

pub fn signin(tx: &mut dyn Tx, sign_no: &str) -> DbResult<Option<SignIn>> {
    tx.query_opt(
        "SELECT sign_no, fixmedins_code, opter, opter_name, mac, ip, sign_time, expires_at_ms, signed_out_at_ms \
         FROM fsi_signin WHERE sign_no = $1",
        params![sign_no],
    )?
    .map(|r| {
        Ok(SignIn {
            sign_no: r.text(0)?,
            fixmedins_code: r.text(1)?,
            opter: r.text(2)?,
            opter_name: r.text(3)?,
            mac: r.text(4)?,
            ip: r.text(5)?,
            sign_time: r.text(6)?,
            expires_at_ms: r.i64(7)?,
            signed_out_at_ms: r.get(8)?,
        })
    })
    .transpose()
}

pub fn sign_out(tx: &mut dyn Tx, sign_no: &str, now_ms: i64) -> DbResult<u64> {
    tx.execute(
        "UPDATE fsi_signin SET signed_out_at_ms = $1 WHERE sign_no = $2 AND signed_out_at_ms IS NULL",
        params![now_ms, sign_no],
    )
}

/// A logged message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub fixmedins_code: String,
    pub msgid: String,
    pub infno: String,
    pub body_sha256: String,
    pub inf_refmsgid: String,
    pub output: Option<String>,
    pub effect: Option<String>,
    pub reversed_by: Option<String>,
}

/// The read of [`message`], to prefetch ([`Tx::prefetch`]).
pub fn message_read(fixmedins_code: &str, msgid: &str) -> Read {
    Read::new(
        "SELECT fixmedins_code, msgid, infno, body_sha256, inf_refmsgid, output, effect, reversed_by FROM fsi_message \
         WHERE fixmedins_code = $1 AND msgid = $2",
        params![fixmedins_code, msgid],
    )
}

pub fn message(tx: &mut dyn Tx, fixmedins_code: &str, msgid: &str) -> DbResult<Option<Message>> {
    message_read(fixmedins_code, msgid)
        .query_opt(tx)?
        .map(|r| {
            Ok(Message {
                fixmedins_code: r.text(0)?,
                msgid: r.text(1)?,
                infno: r.text(2)?,
                body_sha256: r.text(3)?,
                inf_refmsgid: r.text(4)?,
                output: r.get(5)?,
                effect: r.get(6)?,
                reversed_by: r.get(7)?,
            })
        })
        .transpose()
}

/// Records a message; `false` if the msgid was already taken (a concurrent retry).
pub fn insert_message(tx: &mut dyn Tx, m: &Message, now_ms: i64) -> DbResult<bool> {
    let n = tx.execute(INSERT_MESSAGE, &message_values(m, now_ms))?;
    Ok(n == 1)
}

/// Records an answered message, deferred ([`Tx::execute_deferred`]): the
/// last write of every state-changing message. If the msgid was taken
/// meanwhile (a concurrent retry), the job fails as retryable, and its rerun
/// answers from the log.
pub fn log_message(tx: &mut dyn Tx, m: &Message, now_ms: i64) -> DbResult<()> {
    let expected =
        RowsExpected { rows: 1, kind: DbErrorKind::Retryable, what: "the msgid was logged by a concurrent request" };
    tx.execute_deferred(INSERT_MESSAGE, &message_values(m, now_ms), Some(expected))
}

const INSERT_MESSAGE: &str = "INSERT INTO fsi_message (fixmedins_code, msgid, infno, body_sha256, inf_refmsgid, output, \
     effect, reversed_by, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
     ON CONFLICT (fixmedins_code, msgid) DO NOTHING";

fn message_values(m: &Message, now_ms: i64) -> Vec<Value> {
    vec![
        m.fixmedins_code.as_str().into(),
        m.msgid.as_str().into(),
        m.infno.as_str().into(),
        m.body_sha256.as_str().into(),
        m.inf_refmsgid.as_str().into(),
        m.output.clone().into(),
        m.effect.clone().into(),
        m.reversed_by.clone().into(),
        now_ms.into(),
    ]
}

pub fn mark_message_reversed(tx: &mut dyn Tx, fixmedins_code: &str, msgid: &str, by_msgid: &str) -> DbResult<bool> {
    let n = tx.execute(
        "UPDATE fsi_message SET reversed_by = $1 WHERE fixmedins_code = $2 AND msgid = $3 AND reversed_by IS NULL",
        params![by_msgid, fixmedins_code, msgid],
    )?;
    Ok(n == 1)
}

/// A file prepared for download with 9102.
pub struct FsiFile {
    pub file_qury_no: String,
    pub fixmedins_code: String,
    pub filename: String,
    pub content: Vec<u8>,
    pub data_cnt: i64,
    pub expires_at_ms: i64,
}

pub fn insert_file(tx: &mut dyn Tx, f: &FsiFile, now_ms: i64) -> DbResult<()> {
    let FsiFile { file_qury_no, fixmedins_code, filename, content, data_cnt, expires_at_ms } = f;
    let (file_qury_no, fixmedins_code, filename, data_cnt, expires_at_ms) =
        (file_qury_no.as_str(), fixmedins_code.as_str(), filename.as_str(), *data_cnt, *expires_at_ms);
    tx.execute(
        "INSERT INTO fsi_file (file_qury_no, fixmedins_code, filename, content, data_cnt, expires_at_ms, created_at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        params![file_qury_no, fixmedins_code, filename, content.clone(), data_cnt, expires_at_ms, now_ms],
    )?;
    Ok(())
}

pub fn file(tx: &mut dyn Tx, file_qury_no: &str) -> DbResult<Option<FsiFile>> {
    tx.query_opt(
        "SELECT fixmedins_code, filename, content, data_cnt, expires_at_ms FROM fsi_file WHERE file_qury_no = $1",
        params![file_qury_no],
    )?
    .map(|r| {
        Ok(FsiFile {
            file_qury_no: file_qury_no.to_owned(),
            fixmedins_code: r.text(0)?,
            filename: r.text(1)?,
            content: r.get(2)?,
            data_cnt: r.i64(3)?,
            expires_at_ms: r.i64(4)?,
        })
    })
    .transpose()
}
