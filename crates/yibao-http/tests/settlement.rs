//! Policies as data and cost simulation over real HTTP, on SQLite and PostgreSQL.

mod common;

use common::TestServer;
use hyper::StatusCode;
use serde_json::{Value, json};
use yibao_app::{App, backend_tests};

async fn one_code(app: &App, sql: &'static str) -> String {
    app.db.read(move |tx: &mut dyn yibao_store::Tx| tx.query_one(sql, yibao_store::params![])?.text(0)).await.unwrap()
}

fn money(v: &Value) -> String {
    v.to_string()
}

/// The 宁波 居民 policy of the demo, E2 (赵大伯): 22 000 total, 1 500 自费,
/// 5 000 乙类 with 10 % 先行自付, the rest 甲; 三级, first admission.
async fn e2_lines(app: &App) -> Value {
    let uncovered =
        one_code(app, "SELECT code FROM catalog_item WHERE class IS NULL AND list_type = '101' ORDER BY code LIMIT 1")
            .await;
    let class_b = one_code(
        app,
        "SELECT code FROM catalog_item WHERE class = '02' AND code LIKE 'YP2024-X-%' ORDER BY code LIMIT 1",
    )
    .await;
    json!([
        {"med_list_codg": uncovered, "cnt": 1, "pric": "1500.00"},
        {"med_list_codg": class_b, "cnt": 2, "pric": "2500.00", "det_item_fee_sumamt": "5000.00"},
        {"med_list_codg": "YP2024-X-0632-01", "cnt": 100, "pric": "155.00"}
    ])
}

backend_tests! {
    async fn simulation_reproduces_e2_through_the_catalog(app: App) {
        let s = TestServer::start(app.clone()).await;
        let body = json!({
            "insuplc_admdvs": "330200", "insutype": "390", "psn_type": "1501", "age": 59,
            "med_type": "21", "hosp_lv": "02", "date": "2026-03-01",
            "fee_lines": e2_lines(&app).await
        });
        let r = s.post("/api/v1/settlements/simulate", None, &body).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let out = r.json();
        let info = &out["setlinfo"];
        assert_eq!(money(&info["medfee_sumamt"]), "22000.00");
        assert_eq!(money(&info["fulamt_ownpay_amt"]), "1500.00");
        assert_eq!(money(&info["preselfpay_amt"]), "500.00");
        assert_eq!(money(&info["act_pay_dedc"]), "1200.00");
        assert_eq!(money(&info["hifp_pay"]), "13160.00");
        assert_eq!(money(&info["psn_part_amt"]), "8840.00");
        assert_eq!(money(&info["psn_cash_pay"]), "8840.00");
        assert_eq!(out["setldetail"][0]["fund_pay_type"], "390100");
        assert_eq!(out["setldetail"][0]["setl_proc_info"], "起付线 1200.00 元；(20000.00−1200.00)×70% = 13160.00 元");
        assert_eq!(out["lines"][0]["chrgitm_lv"], Value::Null);
        assert_eq!(out["lines"][1]["chrgitm_lv"], "02");
        assert_eq!(out["lines"][1]["selfpay_prop"], json!(0.1));
        assert_eq!(out["scheme_year"], 2026);
        assert_eq!(out["ytd_after"]["deductible_paid_total"].to_string(), "1200.00");
        // A second admission in the same year with these accumulators: the
        // yearly deductible is already paid.
        let mut again = body.clone();
        again["ytd"] = out["ytd_after"].clone();
        let r2 = s.post("/api/v1/settlements/simulate", None, &again).await.json();
        assert_eq!(money(&r2["setlinfo"]["act_pay_dedc"]), "0.00");
        assert_eq!(money(&r2["setlinfo"]["hifp_pay"]), "14000.00");
        // Simulation writes nothing.
        let n = app.db.read(|tx: &mut dyn yibao_store::Tx| tx.query_one("SELECT COUNT(*) FROM accumulator", yibao_store::params![])?.i64(0)).await.unwrap();
        assert_eq!(n, 0);
    }

    async fn a_new_city_is_configuration_e1(app: App) {
        let s = TestServer::start(app.clone()).await;
        let admin = s.login("admin").await;
        let text = include_str!("../../../policies/heilongjiang-310-e1.toml");
        let policy: toml::Value = toml::from_str(text).unwrap();
        let r = s.post("/api/v1/policies", Some(&admin), &json!({"policy": policy})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        assert_eq!(r.json()["region"], "230100");
        // 黑龙江's catalogue settings: 乙类 drugs 10 % 先行自付, service items 甲.
        for o in [
            json!({"region_prefix": "23", "list_type": "101", "class_filter": "02", "begin_date": "2020-01-01", "selfpay_prop": "10%"}),
            json!({"region_prefix": "23", "list_type": "201", "begin_date": "2020-01-01", "class": "01"}),
        ] {
            let r = s.post("/api/v1/catalog/overrides", Some(&admin), &o).await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        }
        let service = one_code(&app, "SELECT code FROM catalog_item WHERE list_type = '201' ORDER BY code LIMIT 1").await;
        let class_b = one_code(&app, "SELECT code FROM catalog_item WHERE class = '02' AND code LIKE 'YP2024-X-%' ORDER BY code LIMIT 1").await;
        let body = json!({
            "insuplc_admdvs": "230100", "insutype": "310", "psn_type": "1101", "age": 50,
            "med_type": "21", "hosp_lv": "05", "date": "2026-06-05",
            "fee_lines": [
                {"med_list_codg": service, "cnt": 1, "pric": "2000.00"},
                {"med_list_codg": "YP2024-X-0632-01", "cnt": 1, "pric": "3000.00"},
                {"med_list_codg": class_b, "cnt": 1, "pric": "5000.00"}
            ]
        });
        let out = s.post("/api/v1/settlements/simulate", None, &body).await;
        assert_eq!(out.status, StatusCode::OK, "{}", out.text());
        let info = &out.json()["setlinfo"];
        assert_eq!(money(&info["preselfpay_amt"]), "500.00");
        assert_eq!(money(&info["inscp_scp_amt"]), "9500.00");
        assert_eq!(money(&info["hifp_pay"]), "6560.00");
        assert_eq!(money(&info["psn_part_amt"]), "3440.00");
        assert_eq!(out.json()["setldetail"][0]["fund_pay_type"], "310100");
    }

    async fn policy_versions_by_date_and_validation(app: App) {
        let s = TestServer::start(app.clone()).await;
        let admin = s.login("admin").await;
        let list = s.get("/api/v1/policies", Some(&admin)).await.json();
        let current = list.as_array().unwrap().iter().find(|p| p["insutype"] == "390").unwrap().clone();
        let id = current["id"].as_i64().unwrap();
        // A change of rules from 2027: 三级 居民 75 % instead of 70 %.
        let mut doc = current["document"].clone();
        doc["begin_date"] = json!("2027-01-01");
        doc["name"] = json!("宁波市城乡居民基本医疗保险待遇（2027）");
        for row in doc["inpatient"]["ratios"].as_array_mut().unwrap() {
            if row["tiers"] == json!(["three"]) && row["categories"] == json!(["resident_adult"]) {
                row["bands"][0]["ratio"] = json!("0.75");
            }
        }
        let overlap = s.post("/api/v1/policies", Some(&admin), &json!({"policy": doc})).await;
        assert_eq!(overlap.status, StatusCode::BAD_REQUEST, "{}", overlap.text());
        assert_eq!(overlap.json()["fields"][0]["field"], "policy.begin_date");
        let r = s.post("/api/v1/policies", Some(&admin), &json!({"policy": doc, "supersedes": id})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let new_id = r.json()["id"].as_i64().unwrap();
        let old = s.get(&format!("/api/v1/policies/{id}"), Some(&admin)).await.json();
        assert_eq!(old["end_date"], "2026-12-31");
        assert_eq!(old["document"]["end_date"], "2026-12-31");
        let sim = |date: &str| json!({
            "insuplc_admdvs": "330200", "insutype": "390", "psn_type": "1501", "age": 40,
            "med_type": "21", "hosp_lv": "02", "date": date,
            "fee_lines": [{"med_list_codg": "YP2024-X-0632-01", "cnt": 1, "pric": "11200.00"}]
        });
        let before = s.post("/api/v1/settlements/simulate", None, &sim("2026-12-31")).await.json();
        assert_eq!(money(&before["setlinfo"]["hifp_pay"]), "7000.00");
        assert_eq!(before["policy"]["id"], id);
        let after = s.post("/api/v1/settlements/simulate", None, &sim("2027-01-01")).await.json();
        assert_eq!(money(&after["setlinfo"]["hifp_pay"]), "7500.00");
        assert_eq!(after["policy"]["id"], new_id);
        // Malformed policies are refused with the field path.
        let mut bad = doc.clone();
        bad["begin_date"] = json!("2030-01-01");
        bad["inpatient"]["ratios"][0]["bands"][0]["ratio"] = json!("1.2");
        let r = s.post("/api/v1/policies", Some(&admin), &json!({"policy": bad})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.json()["fields"][0]["field"], "policy.inpatient.ratios[0].bands[0].ratio", "{}", r.text());
        let mut bad = doc.clone();
        bad["begin_date"] = json!("2030-01-01");
        bad["surprise"] = json!(1);
        let r = s.post("/api/v1/policies", Some(&admin), &json!({"policy": bad})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
        assert!(r.json()["fields"][0]["reason"].as_str().unwrap().contains("surprise"));
        let mut bad = doc.clone();
        bad["begin_date"] = json!("2030-01-01");
        bad["region"] = json!("999999");
        let r = s.post("/api/v1/policies", Some(&admin), &json!({"policy": bad})).await;
        assert_eq!(r.json()["fields"][0]["field"], "policy.region");
        // Only administrators write policies, within their scope.
        let clerk = s.login("clerk").await;
        let r = s.post("/api/v1/policies", Some(&clerk), &json!({"policy": doc})).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        // The unused 2027 version can be retired; the audit trail has it all.
        let r = s.post(&format!("/api/v1/policies/{new_id}/retire"), Some(&admin), &json!({})).await;
        assert_eq!(r.json()["status"], "retired");
        let audit = s.get("/api/v1/audit?target_kind=policy", Some(&admin)).await.json();
        let actions: Vec<&str> = audit.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["policy.retire", "policy.create", "policy.end"]);
    }

    async fn simulation_refuses_bad_input(app: App) {
        let s = TestServer::start(app).await;
        let base = json!({
            "insuplc_admdvs": "330200", "insutype": "390", "psn_type": "1501", "age": 40,
            "med_type": "11", "hosp_lv": "08", "date": "2026-05-01",
            "fee_lines": [{"med_list_codg": "YP2024-X-0632-01", "cnt": 1, "pric": "10.00"}]
        });
        let ok = s.post("/api/v1/settlements/simulate", None, &base).await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
        type Mutation = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(Mutation, &str)> = vec![
            (Box::new(|b| b["fee_lines"][0]["med_list_codg"] = json!("NOPE999")), "fee_lines[0].med_list_codg"),
            (Box::new(|b| b["fee_lines"][0]["cnt"] = json!(-1)), "fee_lines[0].cnt"),
            (Box::new(|b| b["fee_lines"][0]["pric"] = json!("1.2345678")), "fee_lines[0].pric"),
            (Box::new(|b| b["fee_lines"][0]["det_item_fee_sumamt"] = json!("12.00")), "fee_lines[0].det_item_fee_sumamt"),
            (Box::new(|b| b["fee_lines"][0]["chrgitm_lv"] = json!("01")), "fee_lines[0].chrgitm_lv"),
            (Box::new(|b| b["fee_lines"] = json!([])), "fee_lines"),
            (Box::new(|b| b["insuplc_admdvs"] = json!("110100")), "insuplc_admdvs"),
            (Box::new(|b| b["insuplc_admdvs"] = json!("12345")), "insuplc_admdvs"),
            (Box::new(|b| b["med_type"] = json!("77")), "med_type"),
            (Box::new(|b| b["age"] = json!(200)), "age"),
            (Box::new(|b| { b["age"] = Value::Null; }), "age"),
            (Box::new(|b| b["insuplc_admdvs"] = json!("330100")), "insuplc_admdvs"),
        ];
        for (mutate, field) in cases {
            let mut body = base.clone();
            mutate(&mut body);
            let r = s.post("/api/v1/settlements/simulate", None, &body).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text());
            assert_eq!(r.json()["fields"][0]["field"], field, "{body}: {}", r.text());
        }
    }
}
