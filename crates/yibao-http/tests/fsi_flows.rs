//! The national interface end to end: a test HIS drives outpatient,
//! inpatient and pharmacy flows over real HTTP on both databases, checking
//! amounts, accumulators and the idempotency and reversal rules.

mod common;

use common::TestServer;
use common::fsi::His;
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

backend_tests! {
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

        let uploaded = his.ok("2204", json!({"feedetail": lines(&mdtrt_id, "B1", &["1", "2", "3"])})).await;
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

        let pre = his.ok("2206", settle_data.clone()).await;
        let info = &pre["setlinfo"];
        assert_eq!(m(&info["medfee_sumamt"]), total);
        assert!(info["setl_id"].is_null(), "a pre-settlement settles nothing: {info}");

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

    async fn pharmacy_purchase(app: App) {
        let s = TestServer::start(app.clone()).await;
        let (psn_no, certno) = person(&app, "390", "1501").await;
        let mut his = His::new(&s, "P33020300001");
        his.sign_in().await;
        let data = json!({"psn_no": psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "insutype": "390",
            "medfee_sumamt": "50.00", "psn_setlway": "01", "acct_used_flag": "0"});
        let lines = json!([{"feedetl_sn": "1", "fee_ocur_time": "2026-11-22 09:40:00", "med_list_codg": "YP2024-X-0632-01",
            "medins_list_codg": "P-1", "det_item_fee_sumamt": "50.00", "cnt": "4", "pric": "12.5"}]);
        let pre = his.ok("2101", json!({"data": data, "feedetail": lines})).await;
        assert_eq!(pre["setlinfo"]["med_type"], "41");
        let mdtrt_id = pre["setlinfo"]["mdtrt_id"].as_str().unwrap().to_owned();
        let mut settle = data.clone();
        settle["mdtrt_id"] = json!(mdtrt_id);
        let out = his.ok("2102", json!({"data": settle})).await;
        assert_eq!(out["setlinfo"]["clr_type"], "41");
        assert_eq!(m(&out["setlinfo"]["medfee_sumamt"]), "50.00");
        let setl_id = out["setlinfo"]["setl_id"].as_str().unwrap().to_owned();
        his.ok("2103", json!({"data": {"setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": psn_no}})).await;
        // A hospital cannot use pharmacy transactions.
        let mut hospital = His::new(&s, "H33020300001");
        hospital.sign_in().await;
        assert!(hospital.err("2101", json!({"data": data, "feedetail": lines})).await.contains("零售药店"));
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
