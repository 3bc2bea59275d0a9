//! National-interface transactions in two phases: [`parse`] turns a
//! transaction's `input` into a typed [`Message`] (pure: no database, so it
//! can be tested against real client messages and fuzzed), and [`execute`]
//! runs the message's use case.

use serde::Deserialize;
use serde_json::{Value, json};
use yibao_app::fsi::{self as fsi_app, Effect, FsiCtx, Outcome, Output, SignInCheck};
use yibao_app::risk::RiskRequest;
use yibao_app::settlement::SettleInput;
use yibao_app::visit::{self, Admission, Diagnosis, Discharge, FeeLineInput, Registration, VisitInfo};
use yibao_app::{App, AppError, AppResult};
use yibao_domain::DateTime;
use yibao_domain::codes::deserialize_code_text;
use yibao_domain::visit::VisitKind;
use yibao_store::Backend;
use yibao_store::Tx;

use super::envelope::Request;
use super::transactions_query::{self as q, CatalogQuery, CumQuery, DictQuery, PersonQuery, Pharmacy, SettlementQuery};
use super::{Reply, node};
use crate::AppState;

/// Transactions this server speaks, for documentation and tests.
pub const SUPPORTED: &[&str] = &[
    "9001", "9002", "1101", "2201", "2202", "2203", "2204", "2205", "2206", "2207", "2208", "2401", "2402", "2403",
    "2404", "2405", "2301", "2302", "2303", "2304", "2305", "2101", "2102", "2103", "2601", "5203", "5206", "1301",
    "1302", "1303", "1304", "1305", "1306", "1307", "1308", "1309", "1310", "1311", "1312", "1313", "1314", "1315",
    "1316", "1317", "1318", "1319", "1320", "1321", "1901", "9101", "9102", "3101", "3102", "3103", "3201", "3202",
];

#[derive(Clone, Debug, Deserialize)]
pub struct VisitRef {
    #[serde(deserialize_with = "deserialize_code_text")]
    mdtrt_id: String,
    #[serde(default)]
    psn_no: Option<String>,
    #[serde(default)]
    chrg_bchno: Option<String>,
    #[serde(default)]
    setl_id: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
struct LineRef {
    #[serde(deserialize_with = "deserialize_code_text")]
    feedetl_sn: String,
    #[serde(deserialize_with = "deserialize_code_text")]
    mdtrt_id: String,
    #[serde(default)]
    psn_no: Option<String>,
}

/// A transaction's input, parsed.
#[derive(Clone, Debug)]
pub enum Message {
    SignIn {
        opter_no: String,
        mac: String,
        ip: String,
    },
    SignOut {
        sign_no: String,
    },
    PersonInfo(PersonQuery),
    Register {
        data: Registration,
        /// `data` as JSON text, kept as the visit's information.
        info_json: String,
    },
    CancelVisit {
        visit: VisitRef,
        kind: VisitKind,
    },
    VisitInfo {
        info: VisitInfo,
        diagnoses: Vec<Diagnosis>,
        info_json: String,
    },
    Upload {
        lines: Vec<FeeLineInput>,
        /// Each line's other fields ([`visit::extra_fields`]), written from
        /// the parsed input rather than a copy of it.
        extras: Vec<String>,
    },
    CancelBatch(VisitRef),
    CancelLines {
        mdtrt_id: String,
        psn_no: Option<String>,
        serials: Vec<String>,
    },
    Settle {
        input: SettleInput,
        kind: VisitKind,
        commit: bool,
    },
    CancelSettlement {
        visit: VisitRef,
        setl_id: String,
    },
    Admit {
        admission: Admission,
        diagnoses: Vec<Diagnosis>,
        info_json: String,
    },
    Discharge {
        discharge: Discharge,
        diagnoses: Vec<Diagnosis>,
        info_json: String,
    },
    CancelDischarge(VisitRef),
    Pharmacy(Pharmacy),
    Reverse {
        omsgid: String,
        oinfno: String,
        psn_no: Option<String>,
    },
    SettlementQuery(SettlementQuery),
    Cumulative(CumQuery),
    CatalogQuery(CatalogQuery),
    Dictionary(DictQuery),
    Download {
        file_qury_no: String,
    },
    CatalogDownload {
        ver: String,
    },
    RiskCheck(RiskRequest),
    /// 3201 对总账.
    ReconcileTotals(super::reconcile::TotalsIn),
    /// 3202 对明细账.
    ReconcileDetails(super::reconcile::DetailsIn),
    /// 9101 文件上传.
    UploadFile(super::reconcile::UploadIn),
    /// 3103: the HIS reports how it handled warnings; acknowledged.
    Feedback,
}

fn diagnoses(input: &Value) -> AppResult<Vec<Diagnosis>> {
    #[derive(Deserialize)]
    struct Holder {
        #[serde(default, deserialize_with = "visit::one_or_many")]
        diseinfo: Vec<Diagnosis>,
    }
    let h: Holder = node(input, "")?;
    Ok(h.diseinfo)
}

/// The other fields of each line of `input.feedetail` ([`visit::extra_fields`]);
/// none when it is not an array (the typed parse refuses it then).
pub(super) fn extras_of(input: &Value) -> Vec<String> {
    input["feedetail"].as_array().map(|lines| lines.iter().map(visit::extra_fields).collect()).unwrap_or_default()
}

fn opt_code<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    Ok(match v {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(other) => return Err(serde::de::Error::custom(format!("应为字符串，收到 {other}"))),
    })
}

/// Parses a transaction's input. `infno` is the national code (suffixes removed).
pub fn parse(infno: &str, input: &Value) -> AppResult<Message> {
    if !SUPPORTED.contains(&infno) {
        return Err(AppError::invalid("infno", format!("不支持的交易编号“{infno}”")));
    }
    Ok(match infno {
        "9001" => {
            #[derive(Deserialize)]
            struct SignIn {
                #[serde(deserialize_with = "deserialize_code_text")]
                opter_no: String,
                #[serde(default, deserialize_with = "opt_code")]
                mac: Option<String>,
                #[serde(default, deserialize_with = "opt_code")]
                ip: Option<String>,
            }
            let s: SignIn = node(input, "signIn")?;
            Message::SignIn { opter_no: s.opter_no, mac: s.mac.unwrap_or_default(), ip: s.ip.unwrap_or_default() }
        }
        "9002" => {
            #[derive(Deserialize)]
            struct SignOut {
                #[serde(deserialize_with = "deserialize_code_text")]
                sign_no: String,
            }
            // Both the wrapped and the flat forms are in use.
            let s: SignOut =
                if input.get("signOut").is_some() { node(input, "signOut")? } else { node(input, "data")? };
            Message::SignOut { sign_no: s.sign_no }
        }
        "1101" => Message::PersonInfo(node(input, "data")?),
        "2201" => Message::Register { data: node(input, "data")?, info_json: input["data"].to_string() },
        "2202" => Message::CancelVisit { visit: node(input, "data")?, kind: VisitKind::Outpatient },
        "2404" => Message::CancelVisit { visit: node(input, "data")?, kind: VisitKind::Inpatient },
        "2203" | "2403" => {
            let info_node = if infno == "2203" { "mdtrtinfo" } else { "adminfo" };
            Message::VisitInfo {
                info: node(input, info_node)?,
                diagnoses: diagnoses(input)?,
                info_json: input[info_node].to_string(),
            }
        }
        "2204" | "2301" => Message::Upload { lines: node(input, "feedetail")?, extras: extras_of(input) },
        "2205" => Message::CancelBatch(node(input, "data")?),
        "2302" => {
            let refs: Vec<LineRef> =
                if input["data"].is_array() { node(input, "data")? } else { vec![node(input, "data")?] };
            let Some(first) = refs.first() else { return Err(AppError::invalid("input.data", "不能为空")) };
            if refs.iter().any(|r| r.mdtrt_id != first.mdtrt_id) {
                return Err(AppError::invalid("input.data", "同一报文中撤销的明细应属于同一就诊"));
            }
            Message::CancelLines {
                mdtrt_id: first.mdtrt_id.clone(),
                psn_no: first.psn_no.clone(),
                serials: refs.iter().map(|r| r.feedetl_sn.clone()).collect(),
            }
        }
        "2206" | "2207" | "2303" | "2304" => Message::Settle {
            input: node(input, "data")?,
            kind: if infno.starts_with("22") { VisitKind::Outpatient } else { VisitKind::Inpatient },
            commit: infno == "2207" || infno == "2304",
        },
        "2208" | "2305" | "2103" => {
            let visit: VisitRef = node(input, "data")?;
            let setl_id = visit.setl_id.clone().ok_or_else(|| AppError::invalid("input.data.setl_id", "不能为空"))?;
            Message::CancelSettlement { visit, setl_id }
        }
        "2401" => Message::Admit {
            admission: node(input, "mdtrtinfo")?,
            diagnoses: diagnoses(input)?,
            info_json: input["mdtrtinfo"].to_string(),
        },
        "2402" => Message::Discharge {
            discharge: node(input, "dscginfo")?,
            diagnoses: diagnoses(input)?,
            info_json: input["dscginfo"].to_string(),
        },
        "2405" => Message::CancelDischarge(node(input, "data")?),
        "2101" | "2102" => Message::Pharmacy(q::parse_pharmacy(input, infno == "2102")?),
        "2601" => {
            #[derive(Deserialize)]
            struct Reversal {
                #[serde(deserialize_with = "deserialize_code_text")]
                omsgid: String,
                #[serde(deserialize_with = "deserialize_code_text")]
                oinfno: String,
                #[serde(default)]
                psn_no: Option<String>,
            }
            let r: Reversal = node(input, "data")?;
            Message::Reverse { omsgid: r.omsgid, oinfno: r.oinfno, psn_no: r.psn_no }
        }
        "5203" => Message::SettlementQuery(node(input, "data")?),
        "5206" => Message::Cumulative(node(input, "data")?),
        "1312" => Message::CatalogQuery(node(input, "data")?),
        "1901" => Message::Dictionary(node(input, "data")?),
        "9102" => {
            #[derive(Deserialize)]
            struct Download {
                #[serde(deserialize_with = "deserialize_code_text")]
                file_qury_no: String,
            }
            let d: Download = node(input, "fsDownloadIn")?;
            Message::Download { file_qury_no: d.file_qury_no }
        }
        "3101" | "3102" => Message::RiskCheck(node(input, "data")?),
        "3201" => Message::ReconcileTotals(node(input, "data")?),
        "3202" => Message::ReconcileDetails(node(input, "data")?),
        "9101" => Message::UploadFile(node(input, "fsUploadIn")?),
        "3103" => {
            if !input.get("data").is_some_and(Value::is_object) {
                return Err(AppError::invalid("input.data", "不能为空"));
            }
            Message::Feedback
        }
        code if code.starts_with("13") => {
            #[derive(Deserialize)]
            struct Ver {
                #[serde(default, deserialize_with = "opt_code")]
                ver: Option<String>,
            }
            let v: Ver = if input.get("data").is_some() { node(input, "data")? } else { Ver { ver: None } };
            Message::CatalogDownload { ver: v.ver.unwrap_or_else(|| "0".into()) }
        }
        _ => return Err(AppError::invalid("infno", format!("不支持的交易编号“{infno}”"))),
    })
}

/// Runs a state-changing transaction under the message discipline.
pub(super) async fn write<F>(app: &App, ctx: FsiCtx, signin: bool, business: F) -> AppResult<Reply>
where
    F: Fn(&mut dyn Tx, &FsiCtx) -> AppResult<Outcome> + Send + 'static,
{
    write_prefetching(app, ctx, signin, |_, _| Vec::new(), business).await
}

/// [`write`] for a business step that names the reads it makes first
/// (`fsi_app::execute`).
async fn write_prefetching<R, F>(app: &App, ctx: FsiCtx, signin: bool, reads: R, business: F) -> AppResult<Reply>
where
    R: Fn(Backend, &FsiCtx) -> Vec<yibao_store::Read> + Send + 'static,
    F: Fn(&mut dyn Tx, &FsiCtx) -> AppResult<Outcome> + Send + 'static,
{
    let signin = signin_check(app, &ctx, signin).await?;
    let key = writer_key(&ctx);
    let answer = app
        .db
        .write_keyed(key, move |tx: &mut dyn Tx| {
            fsi_app::execute(tx, &ctx, &signin, |backend| reads(backend, &ctx), |tx| business(tx, &ctx))
        })
        .await?;
    // The result was released: the commit is durable.
    app.lines.apply(answer.line_cache);
    Ok(Reply::Output { output: Output::Json(answer.output_json), inf_refmsgid: answer.inf_refmsgid })
}

/// The routing key of an institution's write jobs: one writer per
/// institution, so its messages are serialized without lock waits.
pub(super) fn writer_key(ctx: &FsiCtx) -> u64 {
    ctx.fixmedins_code().bytes().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
}

/// The sign-in a write job checks (after its message-log lookup, so that a
/// resend is answered even after a sign-out), read before the job from the
/// cache: the single writer does not read it again for every message.
pub(super) async fn signin_check(app: &App, ctx: &FsiCtx, needed: bool) -> AppResult<SignInCheck> {
    if !needed {
        return Ok(SignInCheck::NotNeeded);
    }
    Ok(SignInCheck::Record(app.signins.get(&app.db, &ctx.sign_no, ctx.now_ms).await?))
}

/// A business message refused before its write job, answered in the order
/// its job would have: from the message log if it was processed before (a
/// resend), else with the sign-in's error, else with `error`.
pub(super) async fn replay_or(app: &App, ctx: FsiCtx, error: AppError) -> AppResult<Reply> {
    let signin = app.signins.get(&app.db, &ctx.sign_no, ctx.now_ms).await?;
    let log_ctx = ctx.clone();
    match app.db.read_short(move |tx: &mut dyn Tx| fsi_app::check_message_log(tx, &log_ctx)).await? {
        Some(answer) => {
            Ok(Reply::Output { output: Output::Json(answer.output_json), inf_refmsgid: answer.inf_refmsgid })
        }
        None => {
            fsi_app::check_signin_record(&ctx, signin.as_ref())?;
            Err(error)
        }
    }
}

/// How much a read-only message reads, which decides where it runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Reads {
    /// A handful of rows by key (1101, 2206, 5203, …): `Db::read_short`,
    /// which SQLite runs on its writer, from a page cache that stays warm.
    ByKey,
    /// A range or a list (catalogues, dictionaries, a day's reconciliation):
    /// a reader thread, so that no write waits for it.
    Scan,
}

/// Runs a read-only message. Its output is a `Value`, or an
/// [`Output`] already written as JSON text (2206), which is sent as is.
async fn read<F, O>(app: &App, ctx: FsiCtx, reads: Reads, business: F) -> AppResult<Reply>
where
    F: FnOnce(&mut dyn Tx, &FsiCtx) -> AppResult<O> + Send + 'static,
    O: Into<Output> + Send + 'static,
{
    let node_admdvs = ctx.node_admdvs.clone();
    let now = ctx.now;
    let signin = app.signins.get(&app.db, &ctx.sign_no, ctx.now_ms).await?;
    fsi_app::check_signin_record(&ctx, signin.as_ref())?;
    let job = move |tx: &mut dyn Tx| business(tx, &ctx);
    let output = match reads {
        Reads::ByKey => app.db.read_short(job).await?,
        Reads::Scan => app.db.read(job).await?,
    };
    Ok(Reply::Output { output: output.into(), inf_refmsgid: fsi_app::new_refmsgid(&node_admdvs, now) })
}

/// Runs a parsed message for the institution named in the envelope.
pub async fn execute(
    state: &AppState,
    infno: &str,
    env: Request,
    message: Message,
    received_ms: i64,
) -> AppResult<Reply> {
    let app = &state.app;
    let institution = app.institutions.get(app, &env.fixmedins_code, received_ms).await?;
    let ctx = FsiCtx {
        infno: infno.to_owned(),
        msgid: env.msgid.trim().to_owned(),
        institution,
        opter: env.opter.trim().to_owned(),
        opter_name: env.opter_name.trim().to_owned(),
        sign_no: env.sign_no.clone().unwrap_or_default().trim().to_owned(),
        mdtrtarea_admvs: env.mdtrtarea_admvs.trim().to_owned(),
        insuplc_admdvs: env.insuplc_admdvs.clone().unwrap_or_default().trim().to_owned(),
        node_admdvs: env.mdtrtarea_admvs.trim().to_owned(),
        now: DateTime::from_unix_ms(received_ms),
        now_ms: received_ms,
        body_sha256: fsi_app::input_sha256(infno, &env.input),
        evoucher: app.evoucher.clone(),
        lines: app.lines.clone(),
    };
    match message {
        Message::SignIn { opter_no, mac, ip } => {
            write(app, ctx, false, move |tx, ctx| {
                Ok(Outcome { output: fsi_app::sign_in(tx, ctx, &opter_no, &mac, &ip)?.into(), effect: Effect::None })
            })
            .await
        }
        Message::SignOut { sign_no } => {
            let signed_out = sign_no.clone();
            let reply = write(app, ctx, false, move |tx, ctx| {
                Ok(Outcome { output: fsi_app::sign_out(tx, ctx, &sign_no)?.into(), effect: Effect::None })
            })
            .await;
            // After the commit: until then the sign-in was live.
            app.signins.forget(&signed_out);
            reply
        }
        Message::PersonInfo(query) => {
            read(app, ctx, Reads::ByKey, move |tx, ctx| q::person_info(tx, ctx, &query)).await
        }
        Message::Register { data, info_json } => {
            let reads = visit::register_reads(&data);
            write_prefetching(
                app,
                ctx,
                true,
                move |_, _| reads.clone(),
                move |tx, ctx| visit::register(tx, ctx, &data, &info_json),
            )
            .await
        }
        Message::CancelVisit { visit: v, kind } => {
            write(app, ctx, true, move |tx, ctx| visit::cancel_visit(tx, ctx, &v.mdtrt_id, v.psn_no.as_deref(), kind))
                .await
        }
        Message::VisitInfo { info, diagnoses, info_json } => {
            write(app, ctx, true, move |tx, ctx| visit::update_info(tx, ctx, &info, &diagnoses, &info_json)).await
        }
        Message::Upload { lines, extras } => {
            // Checked and valued here, outside the single writer.
            let catalog = app.catalog.view(app).await?;
            let lines = match visit::prepare_lines(&ctx, &catalog, &lines, extras) {
                Ok(lines) => lines,
                Err(e) => return replay_or(app, ctx, e).await,
            };
            let output_json = lines.output_json();
            let lines = std::sync::Arc::new(lines);
            let of = lines.clone();
            write_prefetching(
                app,
                ctx,
                true,
                move |backend, _| visit::upload_reads(backend, &of),
                move |tx, ctx| visit::upload_lines(tx, ctx, &lines, &output_json),
            )
            .await
        }
        Message::CancelBatch(v) => {
            write(app, ctx, true, move |tx, ctx| {
                visit::cancel_lines(tx, ctx, &v.mdtrt_id, v.psn_no.as_deref(), v.chrg_bchno.as_deref(), &[])
            })
            .await
        }
        Message::CancelLines { mdtrt_id, psn_no, serials } => {
            write(app, ctx, true, move |tx, ctx| {
                visit::cancel_lines(tx, ctx, &mdtrt_id, psn_no.as_deref(), None, &serials)
            })
            .await
        }
        Message::Settle { input: s, kind, commit: true } => {
            let policies = app.policies.snapshot(app).await?;
            let s = std::sync::Arc::new(s);
            let of = s.clone();
            write_prefetching(
                app,
                ctx,
                true,
                move |backend, ctx| yibao_app::settlement::settle_reads(backend, ctx, &of, true),
                move |tx, ctx| yibao_app::settlement::settle_visit(tx, ctx, &policies, &s, kind),
            )
            .await
        }
        Message::Settle { input: s, kind, commit: false } => {
            // 2206 / 2303 change nothing, so they run on a reader: no write
            // job, no commit, and a repeat simply calculates again.
            let policies = app.policies.snapshot(app).await?;
            read(app, ctx, Reads::ByKey, move |tx, ctx| {
                if tx.backend() == Backend::Postgres {
                    tx.prefetch(&yibao_app::settlement::settle_reads(Backend::Postgres, ctx, &s, false))?;
                }
                Ok(yibao_app::settlement::pre_settle(tx, ctx, &policies, &s, kind)?.output)
            })
            .await
        }
        Message::CancelSettlement { visit: v, setl_id } => {
            write(app, ctx, true, move |tx, ctx| {
                yibao_app::settlement::cancel_settlement(tx, ctx, &v.mdtrt_id, &setl_id, v.psn_no.as_deref())
            })
            .await
        }
        Message::Admit { admission, diagnoses, info_json } => {
            write(app, ctx, true, move |tx, ctx| visit::admit(tx, ctx, &admission, &diagnoses, &info_json)).await
        }
        Message::Discharge { discharge, diagnoses, info_json } => {
            write(app, ctx, true, move |tx, ctx| visit::discharge(tx, ctx, &discharge, &diagnoses, &info_json)).await
        }
        Message::CancelDischarge(v) => {
            write(app, ctx, true, move |tx, ctx| visit::cancel_discharge(tx, ctx, &v.mdtrt_id, v.psn_no.as_deref()))
                .await
        }
        Message::Pharmacy(p) => q::pharmacy(app, ctx, p).await,
        Message::Reverse { omsgid, oinfno, psn_no } => {
            write(app, ctx, true, move |tx, ctx| q::reverse(tx, ctx, &omsgid, &oinfno, psn_no.as_deref())).await
        }
        Message::SettlementQuery(query) => {
            read(app, ctx, Reads::ByKey, move |tx, ctx| q::settlement_info(tx, ctx, &query)).await
        }
        Message::Cumulative(query) => read(app, ctx, Reads::ByKey, move |tx, ctx| q::cumulative(tx, ctx, &query)).await,
        Message::CatalogQuery(query) => {
            let catalog = app.catalog.view(app).await?;
            read(app, ctx, Reads::Scan, move |tx, ctx| q::catalog_query(tx, ctx, &catalog, &query)).await
        }
        Message::Dictionary(query) => read(app, ctx, Reads::Scan, move |tx, _ctx| q::dictionary(tx, &query)).await,
        Message::Download { file_qury_no } => q::download(app, ctx, &file_qury_no).await,
        Message::CatalogDownload { ver } => q::catalog_download(app, ctx, infno, &ver).await,
        Message::RiskCheck(request) => {
            let rules = app.risk.rules(app).await?;
            let catalog = app.catalog.view(app).await?;
            read(app, ctx, Reads::Scan, move |tx, ctx| yibao_app::risk::check(tx, ctx, &rules, &catalog, &request))
                .await
        }
        Message::ReconcileTotals(d) => {
            read(app, ctx, Reads::Scan, move |tx, ctx| super::reconcile::totals(tx, ctx, &d)).await
        }
        Message::ReconcileDetails(d) => super::reconcile::details(app, ctx, d).await,
        Message::UploadFile(u) => super::reconcile::upload(app, ctx, u).await,
        Message::Feedback => read(app, ctx, Reads::ByKey, |_tx, _ctx| Ok(json!({"data": {"result": "已接收"}}))).await,
    }
}
