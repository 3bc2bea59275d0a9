//! The national interface end to end: a test HIS drives outpatient,
//! inpatient and pharmacy flows over real HTTP on both databases, checking
//! amounts, accumulators and the idempotency and reversal rules.

mod common;

use common::TestServer;
use common::fsi::His;
use std::sync::atomic::Ordering;

use serde_json::{Value, json};
use yibao_app::{App, backend_tests};

/// A demo insured person: (psn_no, certno) of the first 居民 adult or 职工.
async fn person(app: &App, insutype: &'static str, psn_type: &'static str) -> (String, String) {
    app.db
        .read(move |tx: &mut dyn yibao_store::Tx| {
            let r = tx.query_one(
                "SELECT p.psn_no, p.certno FROM person p JOIN enrollment e ON e.psn_no = p.psn_no \
                 WHERE e.insutype = $1 AND e.psn_type = $2 AND e.status = 'active' ORDER BY p.psn_no LIMIT 1",
                yibao_store::params![insutype, psn_type],
            )?;
            Ok::<_, yibao_store::DbError>((r.text(0)?, r.text(1)?))
        })
        .await
        .unwrap()
}

async fn count(app: &App, sql: &'static str) -> i64 {
    app.db.read(move |tx: &mut dyn yibao_store::Tx| tx.query_one(sql, yibao_store::params![])?.i64(0)).await.unwrap()
}

async fn accumulators(app: &App, psn_no: &str) -> Value {
    let psn = psn_no.to_owned();
    let state = app
        .db
        .read(move |tx: &mut dyn yibao_store::Tx| {
            tx.query_opt("SELECT state FROM accumulator WHERE psn_no = $1", yibao_store::params![psn])?
                .map(|r| r.text(0))
                .transpose()
        })
        .await
        .unwrap();
    state.map(|s| serde_json::from_str(&s).unwrap()).unwrap_or(Value::Null)
}

fn m(v: &Value) -> String {
    v.to_string()
}

fn lines(mdtrt_id: &str, batch: &str, serials: &[&str]) -> Value {
    // 甲 drug, a service item (甲 in the demo region) and a 乙 drug (10 % 先行自付 there).
    let items =
        [("YP2024-X-0632-01", "12.50", "4"), ("001102000000100", "30.00", "1"), ("YP2024-X-0006-01", "8.00", "5")];
    Value::Array(
        serials
            .iter()
            .zip(items.iter().cycle())
            .map(|(sn, (code, pric, cnt))| {
                let amount = yibao_domain::Money::price_times_quantity(
                    yibao_domain::UnitPrice::parse(pric).unwrap(),
                    yibao_domain::Quantity::parse(cnt).unwrap(),
                )
                .unwrap();
                json!({"feedetl_sn": sn, "mdtrt_id": mdtrt_id, "psn_no": "", "chrg_bchno": batch, "rx_circ_flag": "0",
                       "fee_ocur_time": "2026-11-22 09:40:00", "med_list_codg": code, "medins_list_codg": format!("HIS-{code}"),
                       "det_item_fee_sumamt": amount.to_string(), "cnt": cnt, "pric": pric, "bilg_dept_codg": "01",
                       "bilg_dept_name": "内科", "bilg_dr_codg": "D01", "bilg_dr_name": "医生甲", "hosp_appr_flag": "0"})
            })
            .collect(),
    )
}

/// The ledger's trial balance over every region: it must balance after every step.
async fn assert_ledger_balanced(app: &App, step: &str) {
    let tb = app.db.read(|tx: &mut dyn yibao_store::Tx| yibao_app::fund::trial_balance_in(tx, "", None)).await.unwrap();
    assert!(tb.balanced && tb.entries_unbalanced == 0, "ledger unbalanced after {step}: {}", tb.difference);
    assert_eq!(tb.debit_total, tb.credit_total, "after {step}");
}

/// The balance of one ledger account (region, account code, sub), on its normal side.
async fn ledger(app: &App, region: &'static str, account: &'static str, sub: String) -> String {
    let tb = app.db.read(|tx: &mut dyn yibao_store::Tx| yibao_app::fund::trial_balance_in(tx, "", None)).await.unwrap();
    let total: yibao_domain::Money = tb
        .accounts
        .iter()
        .filter(|a| a.region.as_str() == region && a.account.code() == account && a.sub == sub)
        .map(|a| a.balance)
        .sum();
    total.to_string()
}

async fn account_balance(app: &App, psn_no: &str) -> String {
    let psn = psn_no.to_owned();
    app.db.read(move |tx: &mut dyn yibao_store::Tx| yibao_app::account::balance(tx, &psn)).await.unwrap().to_string()
}

/// An employee (职工在职) of the demo region with money in the personal account.
async fn employee_with_account(app: &App) -> (String, String) {
    app.db
        .read(|tx: &mut dyn yibao_store::Tx| {
            let r = tx.query_one(
                "SELECT p.psn_no, p.certno FROM person p JOIN enrollment e ON e.psn_no = p.psn_no \
                 JOIN account a ON a.psn_no = p.psn_no \
                 WHERE e.insutype = '310' AND e.psn_type = '1101' AND e.status = 'active' AND a.balance_fen >= 10000 \
                 ORDER BY p.psn_no LIMIT 1",
                yibao_store::params![],
            )?;
            Ok::<_, yibao_store::DbError>((r.text(0)?, r.text(1)?))
        })
        .await
        .unwrap()
}

fn yuan(v: &Value) -> yibao_domain::Money {
    yibao_domain::Money::parse_yuan(&v.to_string()).unwrap()
}

/// Registers an outpatient visit, uploads three lines and returns (mdtrt_id, settle input).
async fn outpatient_visit(
    his: &His<'_>,
    psn_no: &str,
    certno: &str,
    insutype: &str,
    med_type: &str,
) -> (String, Value) {
    let reg = his.ok("2201", json!({"data": {"psn_no": psn_no, "insutype": insutype, "begntime": "2026-11-22 09:35:00",
        "mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "ipt_otp_no": format!("MZ{}", &his.msgid()[20..]), "atddr_no": "D01",
        "dr_name": "医生甲", "dept_code": "01", "dept_name": "内科", "caty": "A03"}})).await;
    let mdtrt_id = reg["data"]["mdtrt_id"].as_str().unwrap().to_owned();
    his.ok(
        "2203",
        json!({"mdtrtinfo": {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "med_type": med_type,
        "begntime": "2026-11-22 09:35:00"}, "diseinfo": []}),
    )
    .await;
    his.ok("2204", json!({"feedetail": lines(&mdtrt_id, "B1", &["1", "2", "3"])})).await;
    let settle = json!({"data": {"psn_no": psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": certno,
        "med_type": med_type, "medfee_sumamt": "120.00", "psn_setlway": "01", "mdtrt_id": mdtrt_id,
        "insutype": insutype, "acct_used_flag": "0"}});
    (mdtrt_id, settle)
}

/// Runs one statement naming a person, behind the repositories' back.
async fn exec_for(app: &App, sql: &'static str, psn_no: &str) {
    let psn = psn_no.to_owned();
    app.db
        .write(move |tx: &mut dyn yibao_store::Tx| tx.execute(sql, yibao_store::params![psn.as_str()]))
        .await
        .unwrap();
}

/// Stores a copy of the contribution policy in force for a person's open
/// enrollment, beginning on `begin` (a new version of the region's rules).
async fn new_contribution_policy_version(app: &App, psn_no: &str, begin: &'static str) {
    let psn = psn_no.to_owned();
    app.db
        .write(move |tx: &mut dyn yibao_store::Tx| {
            let r = tx.query_one(
                "SELECT insu_admdvs, insutype FROM enrollment WHERE psn_no = $1 AND end_date IS NULL",
                yibao_store::params![psn.as_str()],
            )?;
            let (region, insutype) = (r.text(0)?, yibao_domain::codes::Insutype::parse(&r.text(1)?).unwrap());
            let begin = yibao_domain::Date::parse(begin).unwrap();
            let stored =
                yibao_store::contribution::policy_on(tx, &region, insutype, begin)?.expect("a policy in force");
            let mut policy = stored.policy;
            policy.begin_date = begin;
            let id = yibao_store::ids::next_id();
            yibao_store::contribution::insert_policy(tx, id, &policy, "test", "test", yibao_store::now_ms())
        })
        .await
        .unwrap();
}

backend_tests! {
    // The fixtures' coverage and contributions are for the fixture date, so
    // the interface must stamp and settle on the app's business clock, not
    // the machine's: on any day the suite runs, messages and settlements
    // fall on 2026-11-22.
    async fn messages_and_settlements_are_on_the_business_clock(app: App) {
        let s = TestServer::start(app.clone()).await;
        let (psn_no, certno) = person(&app, "390", "1501").await;
        let mut his = His::new(&s, "H33020300001");
        his.sign_in().await;
        let reply = his.call("1101", json!({"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": certno}})).await;
        assert_eq!(reply["infcode"], 0, "{reply}");
        let today = yibao_app::testing::fixture_today().to_string().replace('-', "");
        for stamp in ["refmsg_time", "respond_time"] {
            assert!(reply[stamp].as_str().unwrap().starts_with(&today), "{stamp}: {reply}");
        }
        assert_eq!(reply["output"]["insuinfo"][0]["psn_insu_stas"], "1", "insured on the fixture date: {reply}");
        let (_mdtrt_id, settle) = outpatient_visit(&his, &psn_no, &certno, "390", "11").await;
        let out = his.ok("2207", settle).await;
        let setl_time = yibao_domain::DateTime::parse(out["setlinfo"]["setl_time"].as_str().unwrap()).unwrap();
        assert_eq!(setl_time.date(), yibao_app::testing::fixture_today());
    }

    // On PostgreSQL a visit's jobs name their first reads ahead
    // (`Tx::prefetch`). Every read named must answer a query of its job:
    // one that does not is a named text or parameter that has drifted from
    // the query the job makes, and costs a round trip again.
    async fn a_visits_prefetched_reads_answer_its_queries(app: App) {
        if app.db.backend() != yibao_store::Backend::Postgres {
            return; // SQLite's reads cost no round trip: nothing is named.
        }
        let s = TestServer::start(app.clone()).await;
        let (psn_no, certno) = person(&app, "390", "1501").await;
        let mut his = His::new(&s, "H33020300001");
        his.sign_in().await;
        let counts = || {
            let stats = app.db.stats();
            (stats.prefetched_reads.load(Ordering::Relaxed), stats.prefetched_reads_used.load(Ordering::Relaxed))
        };
        // 1101 (a read): enrollments, paid periods and contribution
        // policies, named once the person is found.
        let before = counts();
        let info = his.ok("1101", json!({"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": certno}})).await;
        assert_eq!(info["insuinfo"][0]["insutype"], "390");
        let after = counts();
        assert_eq!((after.0 - before.0, after.1 - before.1), (3, 3), "1101's reads named ahead and used");
        // 2201 (log, person, enrollments, paid periods, contribution
        // policies), 2203 (log), 2204 (log, visit),
        // 2206 (visit, person, the policy id of its coverage snapshot,
        // accumulators: the line cache holds the lines 2204 uploaded),
        // 2207 (log and those four, locked, and the
        // closed month). The closed month is read only
        // when the settlement posts to the ledger (a fund or the account
        // paid), so visits go on until one does: the deductible fills.
        let mut posted_once = false;
        for _ in 0..6 {
            let before = counts();
            let (_mdtrt_id, settle) = outpatient_visit(&his, &psn_no, &certno, "390", "11").await;
            his.ok("2206", settle.clone()).await;
            let out = his.ok("2207", settle).await;
            let after = counts();
            let (sent, used) = (after.0 - before.0, after.1 - before.1);
            assert_eq!(sent, 18, "reads named ahead");
            let info = &out["setlinfo"];
            let posted = yuan(&info["fund_pay_sumamt"]).is_positive() || yuan(&info["acct_pay"]).is_positive();
            assert_eq!(used, if posted { sent } else { sent - 1 }, "every read named answered its job: {info}");
            if posted {
                posted_once = true;
                break;
            }
        }
        assert!(posted_once, "a visit that posts to the ledger");
    }

    // The settlement path's short reads by key (1101, 2206, 5206) run on
    // SQLite's writer, from its page cache; a read that lists (1901) runs on
    // a reader, so that no write waits for it. PostgreSQL runs both on its
    // readers. Counted by the engine and shown at /metrics.
    async fn short_reads_run_on_the_sqlite_writer_and_scans_on_the_readers(app: App) {
        let s = TestServer::start(app.clone()).await;
        let (psn_no, certno) = person(&app, "390", "1501").await;
        let mut his = His::new(&s, "H33020300001");
        his.sign_in().await;
        let sqlite = app.db.backend() == yibao_store::Backend::Sqlite;
        let counts = || {
            let stats = app.db.stats();
            (stats.writer_reads.load(Ordering::Relaxed), stats.read_jobs.load(Ordering::Relaxed))
        };
        let (_mdtrt_id, settle) = outpatient_visit(&his, &psn_no, &certno, "390", "11").await;
        // The first 2206 loads the policy cache (a read of its own).
        his.ok("2206", settle.clone()).await;
        for (infno, input) in [
            ("1101", json!({"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": certno}})),
            ("2206", settle),
            ("5206", json!({"data": {"psn_no": psn_no, "cum_ym": "2026-11"}})),
        ] {
            let before = counts();
            his.ok(infno, input).await;
            let after = counts();
            assert_eq!(after.1 - before.1, 1, "{infno}: one read job");
            assert_eq!(after.0 - before.0, u64::from(sqlite), "{infno}: on the SQLite writer");
        }
        let before = counts();
        his.ok("1901", json!({"data": {"type": "insutype"}})).await;
        let after = counts();
        assert_eq!((after.0 - before.0, after.1 - before.1), (0, 1), "1901 lists: on a reader");
        let metrics = s.get("/metrics", None).await.text();
        assert!(metrics.contains(&format!("yibao_db_writer_reads_total {}\n", counts().0)), "{metrics}");
    }

    // 2206 and 2207 take the lines 2204 uploaded from the line cache (in
    // debug builds each hit is also checked against the database). After a
    // cancellation of lines they are read from the database, and a settled
    // visit is forgotten.
    async fn a_visits_lines_are_read_from_the_line_cache_after_their_upload(app: App) {
        let s = TestServer::start(app.clone()).await;
        let (psn_no, certno) = person(&app, "390", "1501").await;
        let mut his = His::new(&s, "H33020300001");
        his.sign_in().await;
        let (mdtrt_id, settle) = outpatient_visit(&his, &psn_no, &certno, "390", "11").await;
        assert!(app.lines.holds(&mdtrt_id), "installed after 2204's commit");
        let counts = || (app.lines.hits(), app.lines.misses());
        let (hits, misses) = counts();
        his.ok("2206", settle.clone()).await;
        assert_eq!(counts(), (hits + 1, misses), "2206 from the cache");
        his.ok("2207", settle).await;
        assert_eq!(counts(), (hits + 2, misses), "2207 from the cache");
        assert!(!app.lines.holds(&mdtrt_id), "forgotten once settled");

        // A second batch, cancelled: the lines are a new version, read from
        // the database, and the amounts are the first batch's alone.
        let (mdtrt_id, settle) = outpatient_visit(&his, &psn_no, &certno, "390", "11").await;
        his.ok("2204", json!({"feedetail": lines(&mdtrt_id, "B2", &["4"])})).await;
        assert!(app.lines.holds(&mdtrt_id), "a second upload merged into the first");
        his.ok("2205", json!({"data": {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "chrg_bchno": "B2"}})).await;
        assert!(!app.lines.holds(&mdtrt_id), "forgotten after a cancellation");
        let (hits, misses) = counts();
        let pre = his.ok("2206", settle.clone()).await;
        let out = his.ok("2207", settle).await;
        assert_eq!(counts(), (hits, misses + 2), "both read from the database");
        let metrics = s.get("/metrics", None).await.text();
        let (hits, misses) = counts();
        assert!(metrics.contains(&format!("yibao_line_cache_hits_total {hits}\n")), "{metrics}");
        assert!(metrics.contains(&format!("yibao_line_cache_misses_total {misses}\n")), "{metrics}");
        assert_eq!(pre["setlinfo"]["medfee_sumamt"], out["setlinfo"]["medfee_sumamt"]);
        assert_eq!(yuan(&out["setlinfo"]["medfee_sumamt"]), yibao_domain::Money::from_fen(12_000));
    }

    async fn outpatient_flow_with_idempotency_cancel_and_reversal(app: App) {
        let s = TestServer::start(app.clone()).await;
        let (psn_no, certno) = person(&app, "390", "1501").await;
        let mut his = His::new(&s, "H33020300001");
        // Business without a sign-in is refused.
        let e = his.err("2201", json!({"data": {"psn_no": psn_no, "insutype": "390", "begntime": "2026-11-22 09:35:00",
            "mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "ipt_otp_no": "MZ0001"}})).await;
        assert!(e.contains("sign_no"), "{e}");
        his.sign_in().await;

        let info = his.ok("1101", json!({"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "psn_cert_type": "01"}})).await;
        assert_eq!(info["baseinfo"]["psn_no"], psn_no);
        assert_eq!(info["insuinfo"][0]["insutype"], "390");
        assert_eq!(info["insuinfo"][0]["psn_insu_stas"], "1");

        let reg = his.ok("2201", json!({"data": {"psn_no": psn_no, "insutype": "390", "begntime": "2026-11-22 09:35:00",
            "mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "ipt_otp_no": "MZ0001", "atddr_no": "D01", "dr_name": "医生甲",
            "dept_code": "01", "dept_name": "内科", "caty": "A03"}})).await;
        let mdtrt_id = reg["data"]["mdtrt_id"].as_str().unwrap().to_owned();

        let visit_info = his.ok("2203A", json!({"mdtrtinfo": {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "med_type": "11",
            "begntime": "2026-11-22 09:35:00"}, "diseinfo": {"psn_no": psn_no, "diag_type": "1", "maindiag_flag": "1",
            "diag_srt_no": 1, "diag_code": "I10.x00x002", "diag_name": "高血压", "diag_dept": "内科",
            "dise_dor_no": "D01", "dise_dor_name": "医生甲", "diag_time": "2026-11-22 09:36:00", "vali_flag": "1"}})).await;
        assert!(visit_info.is_null());

        // 2204's lines are checked and valued before its write job; a resend
        // is still answered from the message log, and its msgid is still
        // checked before its lines.
        let upload_msgid = his.msgid();
        let upload = his.envelope("2204", &upload_msgid, json!({"feedetail": lines(&mdtrt_id, "B1", &["1", "2", "3"])}));
        let sent = his.send(&upload).await;
        assert_eq!(sent["infcode"], 0, "{sent}");
        let uploaded = sent["output"].clone();
        let resent = his.send(&upload).await;
        assert_eq!((&resent["output"], &resent["inf_refmsgid"]), (&uploaded, &sent["inf_refmsgid"]));
        let stored: &'static str =
            format!("SELECT COUNT(*) FROM fee_detail WHERE mdtrt_id = '{mdtrt_id}' AND status = 'active'").leak();
        assert_eq!(count(&app, stored).await, 3, "a resend adds no lines");
        let mut unknown_code = lines(&mdtrt_id, "B1", &["9"]);
        unknown_code[0]["med_list_codg"] = json!("XX-NO-SUCH-CODE");
        let reused = his.send(&his.envelope("2204", &upload_msgid, json!({"feedetail": unknown_code.clone()}))).await;
        assert!(reused["err_msg"].as_str().unwrap().contains("报文ID"), "{reused}");
        let fresh = his.err("2204", json!({"feedetail": unknown_code.clone()})).await;
        assert!(fresh.contains("med_list_codg"), "{fresh}");
        let mut unsigned = his.envelope("2204", &his.msgid(), json!({"feedetail": unknown_code}));
        unsigned["sign_no"] = json!("NO-SUCH-SIGN-IN");
        let unsigned = his.send(&unsigned).await;
        assert!(unsigned["err_msg"].as_str().unwrap().contains("sign_no"), "the sign-in first: {unsigned}");
        let result = uploaded["result"].as_array().unwrap();
        assert_eq!(result.len(), 3);
        assert_eq!(result[0]["chrgitm_lv"], "01");
        assert_eq!(result[2]["chrgitm_lv"], "02");
        assert_eq!(result[2]["selfpay_prop"], json!(0.1));
        assert_eq!(m(&result[2]["preselfpay_amt"]), "4.00");
        // The same serial again is refused and changes nothing.
        let e = his.err("2204", json!({"feedetail": lines(&mdtrt_id, "B1", &["2"])})).await;
        assert!(e.contains("feedetl_sn"), "{e}");

        let total = "120.00"; // 50.00 + 30.00 + 40.00
        let settle_data = json!({"data": {"psn_no": psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": certno,
            "med_type": "11", "medfee_sumamt": total, "psn_setlway": "01", "mdtrt_id": mdtrt_id, "chrg_bchno": "B1",
            "insutype": "390", "acct_used_flag": "0"}});
        let e = his.err("2207", json!({"data": {"psn_no": psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": certno,
            "medfee_sumamt": "119.99", "psn_setlway": "01", "mdtrt_id": mdtrt_id, "insutype": "390", "acct_used_flag": "0"}})).await;
        assert!(e.contains("medfee_sumamt"), "{e}");

        let write_jobs = || app.db.stats().write_jobs.load(std::sync::atomic::Ordering::Relaxed);
        let writes_before = write_jobs();
        let pre = his.ok("2206", settle_data.clone()).await;
        let info = &pre["setlinfo"];
        assert_eq!(m(&info["medfee_sumamt"]), total);
        assert!(info["setl_id"].is_null(), "a pre-settlement settles nothing: {info}");
        // It is answered by a reader: no write job, nothing logged, and a
        // repeat (a HIS resending after a timeout) gives the same figures.
        assert_eq!(write_jobs(), writes_before, "a pre-settlement writes nothing");
        assert_eq!(count(&app, "SELECT COUNT(*) FROM fsi_message WHERE infno = '2206'").await, 0);
        assert_eq!(his.ok("2206", settle_data.clone()).await["setlinfo"]["hifp_pay"], info["hifp_pay"]);

        // 2207, then the same message again: the same answer, one settlement.
        let msgid = his.msgid();
        let body = his.envelope("2207", &msgid, settle_data.clone());
        let first = his.send(&body).await;
        assert_eq!(first["infcode"], 0, "{first}");
        let setl = first["output"]["setlinfo"].clone();
        assert_eq!(setl, pre["setlinfo"].clone().as_object().map(|_| setl.clone()).unwrap());
        assert_eq!(m(&setl["hifp_pay"]), m(&info["hifp_pay"]), "pre-settlement and settlement agree");
        let setl_id = setl["setl_id"].as_str().unwrap().to_owned();
        let parts = |v: &Value| -> i64 {
            ["fund_pay_sumamt", "psn_part_amt"].iter().map(|k| yibao_domain::Money::parse_yuan(&v[k].to_string()).unwrap().fen()).sum()
        };
        assert_eq!(parts(&setl), 12_000, "parts sum to the total");
        let again = his.send(&body).await;
        assert_eq!(again["output"], first["output"]);
        assert_eq!(again["inf_refmsgid"], first["inf_refmsgid"]);
        // The logged answer is sent as it was written: byte for byte, last in the envelope.
        let output_text =
            |t: String| t.split_once(",\"output\":").and_then(|(_, o)| o.strip_suffix('}').map(str::to_owned));
        let (a, b) = (output_text(his.send_raw(&body).await.text()), output_text(his.send_raw(&body).await.text()));
        assert_eq!(a, b, "a resend gets the same output text");
        let a = a.expect("output is the envelope's last field");
        assert_eq!(serde_json::from_str::<Value>(&a).unwrap(), first["output"]);
        assert_eq!(count(&app, "SELECT COUNT(*) FROM settlement").await, 1);
        let mut altered = body.clone();
        altered["input"]["data"]["acct_used_flag"] = json!("1");
        let refused = his.send(&altered).await;
        assert_eq!(refused["infcode"], -1);
        assert!(refused["err_msg"].as_str().unwrap().contains("msgid"));
        let acc = accumulators(&app, &psn_no).await;
        assert_eq!(acc["medfee_total"].to_string(), "120.00");

        // Settled: no more lines; a second settlement is refused.
        assert!(his.err("2204", json!({"feedetail": lines(&mdtrt_id, "B1", &["9"])})).await.contains("撤销结算"));
        assert!(his.err("2207", settle_data.clone()).await.contains("已结算"));

        // 2208 reverses: negative amounts, accumulators restored exactly.
        let cancel = his.ok("2208", json!({"data": {"setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": psn_no}})).await;
        assert_eq!(m(&cancel["setlinfo"]["medfee_sumamt"]), "-120.00");
        let neg = |v: &Value| (-yibao_domain::Money::parse_yuan(&v.to_string()).unwrap()).to_string();
        assert_eq!(m(&cancel["setlinfo"]["hifp_pay"]), neg(&setl["hifp_pay"]));
        assert_eq!(m(&cancel["setlinfo"]["psn_cash_pay"]), neg(&setl["psn_cash_pay"]));
        let acc = accumulators(&app, &psn_no).await;
        assert_eq!(acc["medfee_total"].to_string(), "0.00");
        assert_eq!(acc["deductible_paid_total"].to_string(), "0.00");
        assert!(his.err("2208", json!({"data": {"setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": psn_no}})).await.contains("未结算"));
        assert_eq!(count(&app, "SELECT COUNT(*) FROM settlement WHERE reversal_of IS NOT NULL").await, 1);

        // Settle again, then the HIS times out and sends 2601: reversed as well.
        let msgid2 = his.msgid();
        let second = his.send(&his.envelope("2207", &msgid2, settle_data.clone())).await;
        assert_eq!(second["infcode"], 0, "{second}");
        let rev = his.ok("2601", json!({"data": {"psn_no": psn_no, "omsgid": msgid2, "oinfno": "2207"}})).await;
        assert_eq!(rev["data"]["result"], "冲正成功");
        assert_eq!(count(&app, "SELECT COUNT(*) FROM settlement WHERE reversal_of IS NOT NULL").await, 2);
        assert!(his.err("2601", json!({"data": {"psn_no": psn_no, "omsgid": msgid2, "oinfno": "2207"}})).await.contains("已被冲正"));
        // 2601 before the original: the late original is refused.
        let late = his.msgid();
        his.ok("2601", json!({"data": {"psn_no": psn_no, "omsgid": late, "oinfno": "2207"}})).await;
        let r = his.send(&his.envelope("2207", &late, settle_data.clone())).await;
        assert_eq!(r["infcode"], -1);
        assert!(r["err_msg"].as_str().unwrap().contains("冲正"), "{r}");

        // Undo the lines and the registration.
        his.ok("2205", json!({"data": {"mdtrt_id": mdtrt_id, "chrg_bchno": "0000", "psn_no": psn_no}})).await;
        his.ok("2202", json!({"data": {"psn_no": psn_no, "mdtrt_id": mdtrt_id, "ipt_otp_no": "MZ0001"}})).await;
        assert!(his.err("2204", json!({"feedetail": lines(&mdtrt_id, "B2", &["7"])})).await.contains("已撤销"));
        // The server counts messages by transaction code and answer.
        let metrics = s.get("/metrics", None).await.text();
        for series in ["infno=\"2207\",infcode=\"0\"", "infno=\"2204\",infcode=\"-1\"", "infno=\"1101\",infcode=\"0\""] {
            assert!(metrics.contains(&format!("yibao_fsi_message_duration_seconds_count{{{series}}}")), "{series}");
        }
        // Sign-out ends the session.
        let sign_no = his.sign_no.clone();
        his.ok("9002", json!({"signOut": {"sign_no": sign_no, "opter_no": "001"}})).await;
        assert!(his.err("1101", json!({"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": certno}})).await.contains("签退"));
    }

    async fn inpatient_flow_and_deductible_once(app: App) {
        let s = TestServer::start(app.clone()).await;
        let (psn_no, certno) = person(&app, "390", "1501").await;
        let mut his = His::new(&s, "H33020300001");
        his.sign_in().await;
        let adm = his.ok("2401", json!({"mdtrtinfo": {"psn_no": psn_no, "insutype": "390", "begntime": "2026-11-20 08:00:00",
            "mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "med_type": "21", "ipt_no": "ZY0001", "atddr_no": "D01",
            "chfpdr_name": "医生甲", "adm_diag_dscr": "肺炎", "adm_dept_codg": "03", "adm_dept_name": "呼吸科",
            "adm_bed": "12", "dscg_maindiag_code": "J18.900", "dscg_maindiag_name": "肺炎"},
            "diseinfo": [{"psn_no": psn_no, "diag_type": "1", "maindiag_flag": "1", "diag_srt_no": 1, "diag_code": "J18.900",
            "diag_name": "肺炎", "diag_dept": "呼吸科", "dise_dor_no": "D01", "dise_dor_name": "医生甲",
            "diag_time": "2026-11-20 08:10:00", "vali_flag": "1"}]})).await;
        let mdtrt_id = adm["result"]["mdtrt_id"].as_str().unwrap().to_owned();
        // A second admission at the same hospital while this one is open is refused.
        let dup = his.err("2401", json!({"mdtrtinfo": {"psn_no": psn_no, "insutype": "390", "begntime": "2026-11-21 08:00:00",
            "mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "med_type": "21", "ipt_no": "ZY0002"}})).await;
        assert!(dup.contains("重复入院"), "{dup}");
        // Two uploads (2301 is repeatable), one line cancelled.
        let big = |sn: &str| json!({"feedetl_sn": sn, "mdtrt_id": mdtrt_id, "psn_no": psn_no, "med_type": "21",
            "fee_ocur_time": "2026-11-21 10:00:00", "med_list_codg": "YP2024-X-0632-01", "medins_list_codg": "H1",
            "det_item_fee_sumamt": "5000.00", "cnt": "400", "pric": "12.50", "bilg_dept_codg": "03", "bilg_dept_name": "呼吸科",
            "bilg_dr_codg": "D01", "bilg_dr_name": "医生甲"});
        his.ok("2301", json!({"feedetail": [big("A1"), big("A2")]})).await;
        his.ok("2301", json!({"feedetail": [big("A3")]})).await;
        his.ok("2302", json!({"data": [{"feedetl_sn": "A3", "mdtrt_id": mdtrt_id, "psn_no": psn_no}]})).await;
        let settle = json!({"data": {"psn_no": psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "medfee_sumamt": "10000.00",
            "psn_setlway": "01", "mdtrt_id": mdtrt_id, "insutype": "390", "acct_used_flag": "0", "mid_setl_flag": "0"}});
        assert!(his.err("2304", settle.clone()).await.contains("出院"), "settlement needs a discharge");
        his.ok("2402", json!({"dscginfo": {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "insutype": "390",
            "endtime": "2026-11-22 09:00:00", "dscg_way": "1", "dscg_dept_codg": "03", "dscg_dept_name": "呼吸科"},
            "diseinfo": []})).await;
        let pre = his.ok("2303", settle.clone()).await;
        let out = his.ok("2304", settle.clone()).await;
        assert_eq!(out["setlinfo"]["hifp_pay"], pre["setlinfo"]["hifp_pay"]);
        // 宁波 居民 三级: yearly deductible 1200, then 70 %: (10000 − 1200) × 70 % = 6160.
        assert_eq!(m(&out["setlinfo"]["act_pay_dedc"]), "1200.00");
        assert_eq!(m(&out["setlinfo"]["hifp_pay"]), "6160.00");
        assert_eq!(out["setlinfo"]["clr_type"], "21");
        assert_eq!(out["setldetail"][0]["fund_pay_type"], "390100");
        let setl_id = out["setlinfo"]["setl_id"].as_str().unwrap().to_owned();
        let q = his.ok("5203", json!({"data": {"psn_no": psn_no, "setl_id": setl_id, "mdtrt_id": mdtrt_id}})).await;
        assert_eq!(q["setlinfo"]["hifp_pay"], out["setlinfo"]["hifp_pay"]);
        assert_eq!(q["setlinfo"]["fixmedins_code"], "H33020300001");
        let cum = his.ok("5206", json!({"data": {"psn_no": psn_no, "cum_ym": "2026-11"}})).await;
        let dedc = cum["cuminfo"].as_array().unwrap().iter().find(|r| r["cum_type_code"] == "C001").unwrap().clone();
        assert_eq!(m(&dedc["cum"]), "1200.00");
        // Cancel, un-discharge, cancel lines, cancel admission.
        his.ok("2305", json!({"data": {"mdtrt_id": mdtrt_id, "setl_id": setl_id, "psn_no": psn_no}})).await;
        his.ok("2405", json!({"data": {"mdtrt_id": mdtrt_id, "psn_no": psn_no}})).await;
        assert!(his.err("2404", json!({"data": {"mdtrt_id": mdtrt_id, "psn_no": psn_no}})).await.contains("费用明细"));
        his.ok("2302", json!({"data": [{"feedetl_sn": "0000", "mdtrt_id": mdtrt_id, "psn_no": psn_no}]})).await;
        his.ok("2404", json!({"data": {"mdtrt_id": mdtrt_id, "psn_no": psn_no}})).await;
        let acc = accumulators(&app, &psn_no).await;
        assert_eq!(acc["admissions"], 0);
        assert_eq!(acc["deductible_paid_total"].to_string(), "0.00");
    }

    async fn a_visit_reuses_its_coverage_until_an_input_changes(app: App) {
        let s = TestServer::start(app.clone()).await;
        let (psn_no, certno) = person(&app, "390", "1501").await;
        let mut his = His::new(&s, "H33020300001");
        his.sign_in().await;
        let psn_type = |out: &Value| out["setlinfo"]["psn_type"].as_str().unwrap().to_owned();

        let (_, settle) = outpatient_visit(&his, &psn_no, &certno, "390", "11").await;
        assert_eq!(psn_type(&his.ok("2206", settle.clone()).await), "1501");
        // A change no repository counted (written behind their back) is not
        // seen: the visit answers from the coverage it was opened with.
        exec_for(&app, "UPDATE enrollment SET psn_type = '1560' WHERE psn_no = $1", &psn_no).await;
        assert_eq!(psn_type(&his.ok("2206", settle.clone()).await), "1501", "the kept coverage");
        // A new version of the region's contribution rules in force on the
        // visit's day: the coverage is read again.
        new_contribution_policy_version(&app, &psn_no, "2026-11-22").await;
        assert_eq!(psn_type(&his.ok("2206", settle.clone()).await), "1560", "after a new contribution policy");

        // A second visit keeps the coverage as it now is, until the person's
        // change counter moves (every repository write of a coverage input
        // moves it; tests/coverage_seq.rs in yibao-store checks each).
        let (_, settle) = outpatient_visit(&his, &psn_no, &certno, "390", "11").await;
        exec_for(&app, "UPDATE enrollment SET psn_type = '1501' WHERE psn_no = $1", &psn_no).await;
        assert_eq!(psn_type(&his.ok("2206", settle.clone()).await), "1560", "the second visit's kept coverage");
        let psn = psn_no.clone();
        app.db
            .write(move |tx: &mut dyn yibao_store::Tx| yibao_store::enrollment::bump_coverage_seq(tx, &[psn.as_str()]))
            .await
            .unwrap();
        assert_eq!(psn_type(&his.ok("2206", settle.clone()).await), "1501", "after the counter moved");

        // A third visit, with a fresh kept coverage; then the enrollment is
        // stopped (by a clerk, through the API) from the day before the
        // visit: neither a pre-settlement nor a settlement goes through.
        let (_, settle) = outpatient_visit(&his, &psn_no, &certno, "390", "11").await;
        assert_eq!(psn_type(&his.ok("2206", settle.clone()).await), "1501");
        let clerk = s.login("clerk").await;
        let p = s.get(&format!("/api/v1/persons/{psn_no}"), Some(&clerk)).await.json();
        let id = p["enrollments"].as_array().unwrap().iter().find(|e| e["end_date"].is_null()).unwrap()["id"].clone();
        let r = s
            .post(&format!("/api/v1/enrollments/{id}/stop"), Some(&clerk), &json!({"reason": "other", "end_date": "2026-11-21"}))
            .await;
        assert_eq!(r.status, hyper::StatusCode::OK, "{}", r.text());
        for infno in ["2206", "2207"] {
            let e = his.err(infno, settle.clone()).await;
            assert!(e.contains("不能享受医保待遇"), "{infno}: {e}");
        }
        let settled = app
            .db
            .read(move |tx: &mut dyn yibao_store::Tx| {
                tx.query_one("SELECT COUNT(*) FROM settlement WHERE psn_no = $1", yibao_store::params![psn_no])?.i64(0)
            })
            .await
            .unwrap();
        assert_eq!(settled, 0);
    }

    async fn pharmacy_purchase(app: App) {
        let s = TestServer::start(app.clone()).await;
        let (psn_no, certno) = person(&app, "390", "1501").await;
        let mut his = His::new(&s, "P33020300001");
        his.sign_in().await;
        let data = json!({"psn_no": psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "insutype": "390",
            "medfee_sumamt": "50.00", "psn_setlway": "01", "acct_used_flag": "0"});
        // A pharmacy sale starts when it is settled, so its line is dated now
        // (a fixed date would fall out of the visit's window a day later).
        let sold_at = yibao_domain::DateTime::from_unix_ms(app.now_ms()).to_string();
        let lines = json!([{"feedetl_sn": "1", "fee_ocur_time": sold_at, "med_list_codg": "YP2024-X-0632-01",
            "medins_list_codg": "P-1", "det_item_fee_sumamt": "50.00", "cnt": "4", "pric": "12.5"}]);
        let pre = his.ok("2101", json!({"data": data, "feedetail": lines})).await;
        assert_eq!(pre["setlinfo"]["med_type"], "41");
        let mdtrt_id = pre["setlinfo"]["mdtrt_id"].as_str().unwrap().to_owned();
        let mut settle = data.clone();
        settle["mdtrt_id"] = json!(mdtrt_id);
        // The purchase's lines are in the line cache once 2101 committed.
        assert!(app.lines.holds(&mdtrt_id));
        let (hits, misses) = (app.lines.hits(), app.lines.misses());
        let out = his.ok("2102", json!({"data": settle})).await;
        assert_eq!((app.lines.hits(), app.lines.misses()), (hits + 1, misses), "2102 from the line cache");
        assert_eq!(out["setlinfo"]["clr_type"], "41");
        assert_eq!(m(&out["setlinfo"]["medfee_sumamt"]), "50.00");
        let setl_id = out["setlinfo"]["setl_id"].as_str().unwrap().to_owned();
        his.ok("2103", json!({"data": {"setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": psn_no}})).await;
        // A hospital cannot use pharmacy transactions.
        let mut hospital = His::new(&s, "H33020300001");
        hospital.sign_in().await;
        assert!(hospital.err("2101", json!({"data": data, "feedetail": lines})).await.contains("零售药店"));
    }

    async fn employee_account_payment_and_reversal(app: App) {
        let s = TestServer::start(app.clone()).await;
        let (psn_no, certno) = employee_with_account(&app).await;
        let mut his = His::new(&s, "H33020300001");
        his.sign_in().await;
        let info = his.ok("1101", json!({"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": certno}})).await;
        let before = account_balance(&app, &psn_no).await;
        assert_eq!(m(&info["insuinfo"][0]["balc"]), before, "1101 shows the account balance");
        assert_ledger_balanced(&app, "start").await;

        let (mdtrt_id, mut settle) = outpatient_visit(&his, &psn_no, &certno, "310", "11").await;
        settle["data"]["acct_used_flag"] = json!("1");
        let out = his.ok("2207", settle.clone()).await;
        let info = &out["setlinfo"];
        let acct_pay = yuan(&info["acct_pay"]);
        assert!(acct_pay.fen() > 0, "the account pays the personal part: {info}");
        // Parts: funds + account + cash = total, and the account paid no more than the personal part.
        assert_eq!(yuan(&info["fund_pay_sumamt"]) + acct_pay + yuan(&info["psn_cash_pay"]), yuan(&info["medfee_sumamt"]));
        assert!(acct_pay <= yuan(&info["psn_part_amt"]));
        let after = account_balance(&app, &psn_no).await;
        let expected = yibao_domain::Money::parse_yuan(&before).unwrap() - acct_pay;
        assert_eq!(after, expected.to_string(), "account debited by acct_pay");
        assert_eq!(m(&info["balc"]), after, "setlinfo.balc is the balance after settlement");
        assert_ledger_balanced(&app, "2207 with account").await;
        // The account fund owes the institution what the account paid.
        let owed = ledger(&app, "330200", "2101", "H33020300001".to_owned()).await;
        assert_eq!(yibao_domain::Money::parse_yuan(&owed).unwrap(), yuan(&info["fund_pay_sumamt"]) + acct_pay);

        // 2208 restores the account to the fen and reverses the postings.
        let setl_id = info["setl_id"].as_str().unwrap().to_owned();
        let cancel = his.ok("2208", json!({"data": {"setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": psn_no}})).await;
        assert_eq!(yuan(&cancel["setlinfo"]["acct_pay"]), -acct_pay);
        assert_eq!(account_balance(&app, &psn_no).await, before);
        assert_eq!(ledger(&app, "330200", "2101", "H33020300001".to_owned()).await, "0.00");
        assert_ledger_balanced(&app, "2208").await;
        // Settling again after the reversal debits again (a new settlement, not a replay).
        let again = his.ok("2207", settle.clone()).await;
        assert_eq!(yuan(&again["setlinfo"]["acct_pay"]), acct_pay);
        assert_eq!(account_balance(&app, &psn_no).await, after);
        // 2601 reverses it by message id as well.
        let msgid = his.msgid();
        his.ok("2208", json!({"data": {"setl_id": again["setlinfo"]["setl_id"], "mdtrt_id": mdtrt_id, "psn_no": psn_no}})).await;
        let third = his.send(&his.envelope("2207", &msgid, settle.clone())).await;
        assert_eq!(third["infcode"], 0, "{third}");
        assert_eq!(account_balance(&app, &psn_no).await, after);
        his.ok("2601", json!({"data": {"psn_no": psn_no, "omsgid": msgid, "oinfno": "2207"}})).await;
        assert_eq!(account_balance(&app, &psn_no).await, before);
        assert_ledger_balanced(&app, "2601").await;
    }

    async fn cross_region_care_applies_insured_policy_and_clears_between_regions(app: App) {
        let s = TestServer::start(app.clone()).await;
        // A designated hospital in 杭州 (another pooling region of the same node).
        let admin = s.login("admin").await;
        let r = s.post("/api/v1/institutions", Some(&admin), &json!({"name": "杭州演示人民医院", "kind": "hospital",
            "hosp_lv": "02", "admdvs": "330106", "address": "杭州市西湖区演示路1号"})).await;
        assert_eq!(r.status, hyper::StatusCode::CREATED, "{}", r.text());
        let hz = r.json()["code"].as_str().unwrap().to_owned();
        let r = s.post(&format!("/api/v1/institutions/{hz}/agreements"), Some(&admin),
            &json!({"begin_date": "2026-01-01", "end_date": "2027-12-31"})).await;
        assert_eq!(r.status, hyper::StatusCode::OK, "{}", r.text());

        let (psn_no, certno) = person(&app, "390", "1501").await;
        // The same care at home (宁波 三甲) and away (杭州 三甲, not filed, then as an emergency).
        let mut home = His::new(&s, "H33020300001");
        home.sign_in().await;
        let (_, settle_home) = outpatient_visit(&home, &psn_no, &certno, "390", "11").await;
        let at_home = home.ok("2206", settle_home).await["setlinfo"].clone();
        assert_eq!(at_home["clr_optins"], "330200");

        let mut away = His::new(&s, &hz);
        // 就医地医保区划 is the treating pooling region (杭州市), as real HIS send it.
        away.mdtrtarea_admvs = "330100".into();
        away.sign_in().await;
        let (_, settle) = outpatient_visit(&away, &psn_no, &certno, "390", "11").await;
        let pre = away.ok("2206", settle).await["setlinfo"].clone();
        assert_eq!(pre["insu_admdvs"], "330200", "the insured region is recorded");
        assert_eq!(pre["clr_optins"], "330100", "the treating region clears it");
        // 就医地目录: the service item is listed in 宁波 but not in 杭州's catalogue.
        assert_eq!(m(&at_home["fulamt_ownpay_amt"]), "0.00");
        assert_eq!(m(&pre["fulamt_ownpay_amt"]), "30.00");
        // 参保地政策, unfiled: 40 % of the in-scope cost is paid first (10 % of the 乙 drug at home).
        assert_eq!(m(&at_home["preselfpay_amt"]), "4.00");
        assert_eq!(m(&pre["preselfpay_amt"]), "36.00", "40 % of the 90.00 in scope: {pre}");

        // An admission away, large enough for the fund to pay: postings between regions.
        let adm = away.ok("2401", json!({"mdtrtinfo": {"psn_no": psn_no, "insutype": "390", "begntime": "2026-11-20 08:00:00",
            "mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "med_type": "21", "ipt_no": "ZY0001"}, "diseinfo": []})).await;
        let mdtrt_id = adm["result"]["mdtrt_id"].as_str().unwrap().to_owned();
        let big = |sn: &str| json!({"feedetl_sn": sn, "mdtrt_id": mdtrt_id, "psn_no": psn_no, "med_type": "21",
            "fee_ocur_time": "2026-11-21 10:00:00", "med_list_codg": "YP2024-X-0632-01", "medins_list_codg": "H1",
            "det_item_fee_sumamt": "5000.00", "cnt": "400", "pric": "12.50"});
        away.ok("2301", json!({"feedetail": [big("A1"), big("A2")]})).await;
        away.ok("2402", json!({"dscginfo": {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "insutype": "390",
            "endtime": "2026-11-22 09:00:00", "dscg_way": "1"}, "diseinfo": []})).await;
        let settle = json!({"data": {"psn_no": psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": certno,
            "medfee_sumamt": "10000.00", "psn_setlway": "01", "mdtrt_id": mdtrt_id, "insutype": "390", "acct_used_flag": "0"}});
        let info = away.ok("2304", settle).await["setlinfo"].clone();
        // 宁波 居民 三级, deductible 1200, 40 % unfiled 先行自付: (10000 × 60 % − 1200) × 70 % = 3360.
        assert_eq!(m(&info["preselfpay_amt"]), "4000.00", "{info}");
        assert_eq!(m(&info["hifp_pay"]), "3360.00", "{info}");
        assert_eq!(yuan(&info["fund_pay_sumamt"]) + yuan(&info["psn_part_amt"]), yuan(&info["medfee_sumamt"]));
        assert_ledger_balanced(&app, "cross-region 2304").await;
        // The insured region owes the treating region; the treating region owes its hospital.
        let fund = yuan(&info["fund_pay_sumamt"]).to_string();
        assert_eq!(ledger(&app, "330200", "2201", "330100".to_owned()).await, fund);
        assert_eq!(ledger(&app, "330100", "1201", "330200".to_owned()).await, fund);
        assert_eq!(ledger(&app, "330100", "2101", hz.clone()).await, fund);

        // An emergency away counts as filed: the filed 先行自付 (10 %) applies.
        let (_, emergency) = outpatient_visit(&away, &psn_no, &certno, "390", "13").await;
        let e = away.ok("2206", emergency).await["setlinfo"].clone();
        assert_eq!(m(&e["preselfpay_amt"]), "9.00", "10 % of the 90.00 in scope: {e}");

        // Cancelling clears the inter-region balances exactly.
        let setl_id = info["setl_id"].as_str().unwrap().to_owned();
        away.ok("2305", json!({"data": {"setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": psn_no}})).await;
        assert_eq!(ledger(&app, "330200", "2201", "330100".to_owned()).await, "0.00");
        assert_eq!(ledger(&app, "330100", "1201", "330200".to_owned()).await, "0.00");
        assert_ledger_balanced(&app, "cross-region 2208").await;
    }

    async fn reconciliation_by_3201_and_3202(app: App) {
        let s = TestServer::start(app.clone()).await;
        let (psn_no, certno) = person(&app, "390", "1501").await;
        let mut his = His::new(&s, "H33020300001");
        his.sign_in().await;
        // Two settlements, one of them cancelled: three rows on the platform.
        let mut rows = Vec::new();
        for _ in 0..2 {
            let (mdtrt_id, settle) = outpatient_visit(&his, &psn_no, &certno, "390", "11").await;
            let out = his.ok("2207", settle).await;
            rows.push((mdtrt_id, out["setlinfo"].clone()));
        }
        let (mdtrt_id, first) = rows[0].clone();
        let cancel = his.ok("2208", json!({"data": {"setl_id": first["setl_id"], "mdtrt_id": mdtrt_id, "psn_no": psn_no}})).await;
        let second = rows[1].1.clone();
        let records = [(&first, false), (&second, false), (&cancel["setlinfo"], true)];
        // The statement period is the month the settlements were made in.
        let setl_date = yibao_domain::DateTime::parse(first["setl_time"].as_str().unwrap()).unwrap().date();
        let month = yibao_domain::fund::Month::of(setl_date);
        let (begndate, enddate) = (month.first_day().to_string(), month.last_day().to_string());
        let sum = |k: &str| records.iter().map(|(r, _)| yuan(&r[k])).sum::<yibao_domain::Money>();
        let totals = |medfee: yibao_domain::Money, cnt: usize| json!({"data": {"insutype": "390", "clr_type": "11",
            "setl_optins": "330200", "stmt_begndate": begndate, "stmt_enddate": enddate,
            "medfee_sumamt": medfee.to_string(), "fund_pay_sumamt": sum("fund_pay_sumamt").to_string(),
            "acct_pay": sum("acct_pay").to_string(), "fixmedins_setl_cnt": cnt, "refd_setl_flag": "0"}});
        // 3201: the institution's totals match; a wrong count does not.
        let ok = his.ok("3201", totals(sum("medfee_sumamt"), 3)).await;
        assert_eq!(ok["stmtinfo"]["stmt_rslt"], "0", "{ok}");
        assert_eq!(ok["stmtinfo"]["setl_optins"], "330200");
        let bad = his.ok("3201", totals(sum("medfee_sumamt"), 2)).await;
        assert_eq!(bad["stmtinfo"]["stmt_rslt"], "1");
        assert!(bad["stmtinfo"]["stmt_rslt_dscr"].as_str().unwrap().contains("不符"), "{bad}");
        assert!(his.err("3201", json!({"data": {"insutype": "390", "clr_type": "11", "setl_optins": "330200",
            "stmt_begndate": "2026-11-30", "stmt_enddate": "2026-11-01", "medfee_sumamt": "0", "fund_pay_sumamt": "0",
            "acct_pay": "0", "fixmedins_setl_cnt": 0}})).await.contains("stmt_enddate"));

        // 3202: the detail file goes up with 9101 (multipart, as clients send it) …
        let mut file = String::from("setl_id\tmdtrt_id\tpsn_no\tmedfee_sumamt\tfund_pay_sumamt\tacct_pay\trefd_setl_flag\n");
        for (r, reversal) in &records {
            file.push_str(&format!("{}\t{}\t{}\t{}\t{}\t{}\t{}\n", r["setl_id"].as_str().unwrap(), r["mdtrt_id"].as_str().unwrap(),
                psn_no, yuan(&r["medfee_sumamt"]), yuan(&r["fund_pay_sumamt"]), yuan(&r["acct_pay"]), if *reversal { 1 } else { 0 }));
        }
        let upload = |content: &str| {
            let envelope = his.envelope("9101", &his.msgid(), json!({"fsUploadIn": {"filename": "dz.txt",
                "fixmedins_code": "H33020300001"}}));
            let boundary = "----yibaoTestBoundary";
            let body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"jsonStr\"\r\n\r\n{envelope}\r\n\
                --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"dz.txt\"\r\n\
                Content-Type: application/octet-stream\r\n\r\n{content}\r\n--{boundary}--\r\n");
            (format!("multipart/form-data; boundary={boundary}"), body.into_bytes())
        };
        let (ct, body) = upload(&file);
        let up = s.request(hyper::Method::POST, common::fsi::PATH, None, Some((ct.as_str(), body))).await.json();
        assert_eq!(up["infcode"], 0, "{up}");
        let file_no = up["output"]["file_qury_no"].as_str().unwrap().to_owned();
        let details = |file_no: &str, medfee: yibao_domain::Money, cnt: usize| json!({"data": {"setl_optins": "330200",
            "file_qury_no": file_no, "stmt_begndate": begndate, "stmt_enddate": enddate,
            "medfee_sumamt": medfee.to_string(), "fund_pay_sumamt": sum("fund_pay_sumamt").to_string(),
            "cash_payamt": sum("psn_cash_pay").to_string(), "fixmedins_setl_cnt": cnt, "refd_setl_flag": "1"}});
        // … and matches; the result file is fetched with 9102.
        let r = his.ok("3202", details(&file_no, sum("medfee_sumamt"), 3)).await;
        assert_eq!(r["stmtinfo"]["stmt_rslt"], "0", "{r}");
        let result_no = r["fileinfo"]["file_qury_no"].as_str().unwrap().to_owned();
        assert!(r["fileinfo"]["dld_endtime"].as_str().unwrap().starts_with("2026-") || r["fileinfo"]["dld_endtime"].is_string());
        let dl = his.envelope("9102", &his.msgid(), json!({"fsDownloadIn": {"file_qury_no": result_no, "filename": "x",
            "fixmedins_code": "H33020300001"}}));
        let got = his.send_raw(&dl).await;
        assert!(got.text().contains("对账相符"), "{}", got.text());
        // The message's totals must agree with its own file.
        let e = his.err("3202", details(&file_no, sum("medfee_sumamt"), 2)).await;
        assert!(e.contains("fixmedins_setl_cnt"), "{e}");
        // A file missing the reversal row: one difference, listed in the result file.
        let short: String = file.lines().take(3).map(|l| format!("{l}\n")).collect();
        let short_medfee = yuan(&first["medfee_sumamt"]) + yuan(&second["medfee_sumamt"]);
        let (ct, body) = upload(&short);
        let up = s.request(hyper::Method::POST, common::fsi::PATH, None, Some((ct.as_str(), body))).await.json();
        let short_no = up["output"]["file_qury_no"].as_str().unwrap().to_owned();
        let mut input = details(&short_no, short_medfee, 2);
        input["data"]["fund_pay_sumamt"] = json!((yuan(&first["fund_pay_sumamt"]) + yuan(&second["fund_pay_sumamt"])).to_string());
        let r = his.ok("3202", input).await;
        assert_eq!(r["stmtinfo"]["stmt_rslt"], "1", "{r}");
        let dl = his.envelope("9102", &his.msgid(), json!({"fsDownloadIn": {"file_qury_no": r["fileinfo"]["file_qury_no"],
            "filename": "x", "fixmedins_code": "H33020300001"}}));
        let text = his.send_raw(&dl).await.text();
        assert!(text.contains(cancel["setlinfo"]["setl_id"].as_str().unwrap()), "{text}");
        // A malformed file is refused with the line named; another institution cannot use the file.
        let (ct, body) = upload("S1\tM1\tP1\t1.234\t0\t0\t0\n");
        let up = s.request(hyper::Method::POST, common::fsi::PATH, None, Some((ct.as_str(), body))).await.json();
        let bad_no = up["output"]["file_qury_no"].as_str().unwrap().to_owned();
        let e = his.err("3202", details(&bad_no, sum("medfee_sumamt"), 1)).await;
        assert!(e.contains("第1行") && e.contains("medfee_sumamt"), "{e}");
        let mut other = His::new(&s, "H33020300002");
        other.sign_in().await;
        assert!(other.err("3202", details(&file_no, sum("medfee_sumamt"), 3)).await.contains("不属于本机构"));
    }

    async fn envelope_errors_are_precise_and_change_nothing(app: App) {
        let s = TestServer::start(app.clone()).await;
        let mut his = His::new(&s, "H33020300001");
        his.sign_in().await;
        let visits_before = count(&app, "SELECT COUNT(*) FROM visit").await;
        // Unknown transaction, unknown institution, bad JSON, missing fields, path mismatch.
        assert!(his.err("9999", json!({})).await.contains("infno"));
        let mut bad = his.envelope("1101", &his.msgid(), json!({"data": {}}));
        bad["fixmedins_code"] = json!("H33020399999");
        let r = his.send(&bad).await;
        assert!(r["err_msg"].as_str().unwrap().contains("fixmedins_code"), "{r}");
        let r = s.request(hyper::Method::POST, common::fsi::PATH, None, Some(("application/json", b"{not json".to_vec()))).await;
        assert_eq!(r.status, hyper::StatusCode::OK);
        assert_eq!(r.json()["infcode"], -1);
        assert!(r.json()["err_msg"].as_str().unwrap().contains("JSON"));
        let mut missing = his.envelope("1101", &his.msgid(), json!({}));
        missing.as_object_mut().unwrap().remove("msgid");
        assert!(his.send(&missing).await["err_msg"].as_str().unwrap().starts_with("msgid"));
        let body = his.envelope("1101", &his.msgid(), json!({"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": "110105194912310021"}}));
        let r = s.post(&format!("{}/2201", common::fsi::PATH), None, &body).await.json();
        assert!(r["err_msg"].as_str().unwrap().contains("infno"), "{r}");
        // text/plain is accepted; opter_type as a number is accepted.
        let mut plain = his.envelope("1101", &his.msgid(), json!({"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": "110105194912310021"}}));
        plain["opter_type"] = json!(1);
        let r = s.request(hyper::Method::POST, common::fsi::PATH, None, Some(("text/plain", plain.to_string().into_bytes()))).await.json();
        assert_eq!(r["infcode"], -1);
        assert!(r["err_msg"].as_str().unwrap().contains("校验位"), "the body was parsed and the ID checked: {r}");
        // Field-level errors name the path in the input.
        let e = his.err("2201", json!({"data": {"psn_no": "x", "insutype": "999", "begntime": "2026-11-22 09:00:00",
            "mdtrt_cert_type": "02", "mdtrt_cert_no": "1", "ipt_otp_no": "1"}})).await;
        assert!(e.starts_with("input.data.insutype"), "{e}");
        let e = his.err("2204", json!({"feedetail": [{"feedetl_sn": "1", "mdtrt_id": "1", "fee_ocur_time": "2026-11-22 09:00:00",
            "med_list_codg": "X", "det_item_fee_sumamt": "1.234", "cnt": 1, "pric": 1}]})).await;
        assert!(e.starts_with("input.feedetail[0].det_item_fee_sumamt"), "{e}");
        assert_eq!(count(&app, "SELECT COUNT(*) FROM visit").await, visits_before);
        // A suspended institution cannot register visits.
        let admin = s.login("admin").await;
        s.post("/api/v1/institutions/H33020300001/status", Some(&admin), &json!({"status": "suspended", "reason": "测试"})).await;
        let (psn_no, certno) = person(&app, "390", "1501").await;
        let e = his.err("2201", json!({"data": {"psn_no": psn_no, "insutype": "390", "begntime": "2026-11-22 09:35:00",
            "mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "ipt_otp_no": "MZ0009"}})).await;
        assert!(e.contains("暂停"), "{e}");
    }
}
