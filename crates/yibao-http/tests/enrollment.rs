//! Enrollment, contributions, payments and accounts over real HTTP, on
//! SQLite and PostgreSQL.

mod common;

use common::TestServer;
use hyper::{Method, StatusCode};
use serde_json::{Value, json};
use yibao_app::{App, Ctx, backend_tests};
use yibao_domain::auth::{RegionScope, Role};
use yibao_domain::payment::Channel;
use yibao_domain::{Date, ResidentId};

fn id(address: &str, birth: &str, seq: u16) -> String {
    ResidentId::compose(address, Date::parse(birth).unwrap(), seq).unwrap().as_str().to_owned()
}

/// A staff context acting at noon (China time) of `date`: tests pass "now".
fn ctx_at(date: &str) -> Ctx {
    let now_ms = i64::from(Date::parse(date).unwrap().days_since_epoch()) * 86_400_000 + 4 * 3_600_000;
    let mut ctx = Ctx::system_at("test", now_ms);
    ctx.actor.roles = vec![Role::Admin];
    ctx.actor.scope = RegionScope::national();
    ctx
}

async fn count(app: &App, sql: &'static str, param: String) -> i64 {
    app.db
        .read(move |tx: &mut dyn yibao_store::Tx| tx.query_one(sql, yibao_store::params![param])?.i64(0))
        .await
        .unwrap()
}

async fn raw(s: &TestServer, path: &str, content_type: &str, body: Vec<u8>) -> common::Reply {
    s.request(Method::POST, path, None, Some((content_type, body))).await
}

async fn new_employer(s: &TestServer, token: &str, n: usize) -> String {
    let uscc = yibao_domain::employer::CreditCode::compose(&format!("91330203MA3{n:06}")).unwrap();
    let r = s
        .post(
            "/api/v1/employers",
            Some(token),
            &json!({"uscc": uscc.as_str(), "emp_name": format!("测试单位{n}"),
            "insu_admdvs": "330200", "admdvs": "330203"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    r.json()["emp_no"].as_str().unwrap().to_owned()
}

async fn bill_of(s: &TestServer, token: &str, query: &str) -> Vec<Value> {
    let r = s.get(&format!("/api/v1/bills?{query}"), Some(token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()["items"].as_array().unwrap().clone()
}

backend_tests! {
    async fn employee_assessed_and_paid_through_every_channel(app: App) {
        let s = TestServer::start(app.clone()).await;
        let clerk = s.login("clerk").await;
        let finance = s.login("finance").await;
        // A bad credit code is refused with the field named, nothing written.
        let r = s.post("/api/v1/employers", Some(&clerk), &json!({"uscc": "91350100M000100Y44", "emp_name": "x",
            "insu_admdvs": "330200", "admdvs": "330203"})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.json()["fields"][0]["field"], "uscc");
        let emp = new_employer(&s, &clerk, 1).await;
        // A base outside the bounds (60 %–300 % of 8000) is refused.
        let certno = id("330203", "1990-05-04", 11);
        // Four months up to this one, each paid in its own month: a month
        // paid after it ended would be a back payment (补缴) with a waiting
        // period, so the months follow the clock.
        let today = app.config.clock.today();
        let months: Vec<String> =
            (0..4).rev().map(|k| yibao_domain::fund::Month::of(today).add_months(-k).to_string()).collect();
        let begin_date = format!("{}-01", months[0]);
        let enroll = |base: &str| json!({"person": {"certno": certno, "psn_name": "王小明", "admdvs": "330203"},
            "insutype": "310", "psn_type": "1101", "insu_admdvs": "330200", "begin_date": begin_date,
            "emp_no": emp, "base": base});
        let r = s.post("/api/v1/enrollments", Some(&clerk), &enroll("4799.99")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
        assert_eq!(r.json()["fields"][0]["field"], "base");
        assert_eq!(count(&app, "SELECT COUNT(*) FROM person WHERE certno = $1", certno.clone()).await, 0, "nothing written");
        let r = s.post("/api/v1/enrollments", Some(&clerk), &enroll("6000.00")).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let psn_no = r.json()["psn_no"].as_str().unwrap().to_owned();
        // Assessed monthly, one employer bill each (the demo's employers
        // too, for a month after the fixture's day); assessing a month again
        // bills nobody twice.
        for month in &months {
            let r = s.post("/api/v1/assessments", Some(&clerk), &json!({"region": "330200", "period": month})).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text());
            assert!(r.json()["bills"].as_u64().unwrap() >= 1, "{}", r.text());
            let again = s.post("/api/v1/assessments", Some(&clerk), &json!({"region": "330200", "period": month})).await;
            assert_eq!(again.json()["bills"], 0, "{}", again.text());
            assert!(again.json()["already_assessed"].as_u64().unwrap() >= 1, "{}", again.text());
        }
        let bills = bill_of(&s, &clerk, &format!("emp_no={emp}")).await;
        assert_eq!(bills.len(), 4);
        let by_period = |p: &str| bills.iter().find(|b| b["period"] == p).unwrap()["bill_id"].as_str().unwrap().to_owned();
        // 6000 × 7.5 % + 6000 × 2 %.
        assert_eq!(bills[0]["amount_due"].to_string(), "570.00");
        assert_eq!(bills[0]["to_accounts"].to_string(), "120.00");

        // WeChat Pay: order, signed notification, the same notification again.
        let bill = by_period(&months[0]);
        let r = s.post("/api/v1/payments/orders", Some(&clerk), &json!({"bill_id": bill, "channel": "wechat"})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let order = r.json()["order_no"].as_str().unwrap().to_owned();
        assert!(r.json()["channel_ref"].as_str().unwrap().contains("code_url=weixin://"));
        let wechat = app.payments.simulator(Channel::Wechat).unwrap();
        let body = wechat.pay(&order, app.now_ms()).unwrap();
        // A tampered amount fails the signature: refused, audited, nothing paid.
        let tampered = String::from_utf8(body.clone()).unwrap().replace("<![CDATA[57000]]>", "<![CDATA[1]]>");
        let rejected_before = count(&app, "SELECT COUNT(*) FROM audit_log WHERE action = $1 AND outcome = 'rejected'", "payment.notify".into()).await;
        let r = raw(&s, "/api/v1/payments/notify/wechat", "application/xml", tampered.into_bytes()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(r.text().contains("FAIL"));
        assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_log WHERE action = $1 AND outcome = 'rejected'", "payment.notify".into()).await, rejected_before + 1);
        assert_eq!(s.get(&format!("/api/v1/bills/{bill}"), Some(&clerk)).await.json()["status"], "unpaid");
        let r = raw(&s, "/api/v1/payments/notify/wechat", "application/xml", body.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert!(r.text().contains("SUCCESS"));
        let r = raw(&s, "/api/v1/payments/notify/wechat", "application/xml", body).await;
        assert_eq!(r.status, StatusCode::OK, "a duplicate is acknowledged");
        let view = s.get(&format!("/api/v1/bills/{bill}"), Some(&clerk)).await.json();
        assert_eq!(view["status"], "paid");
        assert_eq!(view["orders"][0]["status"], "paid");

        // Alipay: the order times out and is closed; the payment arrives late and is accepted once.
        let bill = by_period(&months[1]);
        let r = s.post("/api/v1/payments/orders", Some(&clerk), &json!({"bill_id": bill, "channel": "alipay"})).await;
        let order = r.json()["order_no"].as_str().unwrap().to_owned();
        let later = app.now_ms() + 3 * 3_600_000;
        let r = s.post("/api/v1/payments/close-expired", Some(&clerk), &json!({"now_ms": later})).await;
        assert!(r.json()["closed"].as_array().unwrap().iter().any(|o| o == &json!(order)), "{}", r.text());
        let alipay = app.payments.simulator(Channel::Alipay).unwrap();
        let body = alipay.pay(&order, app.now_ms()).unwrap();
        let r = raw(&s, "/api/v1/payments/notify/alipay", "application/x-www-form-urlencoded", body.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert_eq!(r.text(), "success");
        let r = raw(&s, "/api/v1/payments/notify/alipay", "application/x-www-form-urlencoded", body).await;
        assert_eq!(r.text(), "success");
        let view = s.get(&format!("/api/v1/bills/{bill}"), Some(&clerk)).await.json();
        assert_eq!(view["status"], "paid");
        assert_eq!(view["orders"][0]["late"], true);

        // Bank debit: a batch, a per-record signed result.
        let bill = by_period(&months[2]);
        let r = s.post("/api/v1/payments/bank-debit-batches", Some(&clerk), &json!({"bill_ids": [bill]})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let order = r.json()["orders"][0]["order_no"].as_str().unwrap().to_owned();
        let body = app.payments.simulator(Channel::BankDebit).unwrap().pay(&order, app.now_ms()).unwrap();
        let r = raw(&s, "/api/v1/payments/notify/bank_debit", "application/json", body).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());

        // Counter: staff record it; a wrong amount is refused.
        let bill = by_period(&months[3]);
        let r = s.post(&format!("/api/v1/bills/{bill}/counter-payment"), Some(&clerk), &json!({"amount": "500.00", "receipt_no": "NB0001"})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.json()["fields"][0]["field"], "amount");
        let r = s.post(&format!("/api/v1/bills/{bill}/counter-payment"), Some(&clerk), &json!({"amount": "570.00", "receipt_no": "NB0001"})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());

        // The account was credited once per month: 4 × 120.00, and the balance is the sum of the movements.
        let st = s.get(&format!("/api/v1/accounts/{psn_no}"), Some(&clerk)).await.json();
        assert_eq!(st["balance"].to_string(), "480.00", "{st}");
        assert_eq!(st["movements"]["total"], 4);
        let sum = app.db.read({ let p = psn_no.clone(); move |tx: &mut dyn yibao_store::Tx| yibao_store::account::movements_sum(tx, &p) }).await.unwrap();
        assert_eq!(sum.fen(), 48_000);
        let c = s.get(&format!("/api/v1/persons/{psn_no}/coverage?date={today}"), Some(&clerk)).await.json();
        assert_eq!(c["covered"], true, "{c}");
        assert_eq!(c["insutype"], "310");
        assert_eq!(c["psn_insu_stas"], "1");
        assert_eq!(c["has_account"], true);

        // Reconciliation of today's WeChat statement: balanced, then an extra line is reported.
        let statement = wechat.statement(today);
        let r = s.post("/api/v1/payments/reconciliations", Some(&finance), &json!({"channel": "wechat", "day": today, "statement": statement})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert_eq!(r.json()["balanced"], true, "{}", r.text());
        let extra = statement.replace("总交易单数", "`2026-11-22 10:00:00,`x,`x,`4200X,`WX999,`SUCCESS,`10.00\n总交易单数");
        let r = s.post("/api/v1/payments/reconciliations", Some(&finance), &json!({"channel": "wechat", "day": today, "statement": extra})).await;
        assert_eq!(r.json()["extra"][0]["order_no"], "WX999", "{}", r.text());
    }

    async fn resident_household_enrolled_and_paid_for_the_year(app: App) {
        let s = TestServer::start(app.clone()).await;
        let clerk = s.login("clerk").await;
        let head = id("330212", "1958-03-02", 21);
        let child = id("330212", "2016-07-09", 22);
        let member = |certno: &str, name: &str, relation: &str| json!({"person": {"certno": certno, "psn_name": name, "admdvs": "330212"}, "relation": relation});
        // A household without a head is refused, nothing written.
        let r = s.post("/api/v1/households", Some(&clerk), &json!({"insu_admdvs": "330200", "address": "鄞州区演示路1号",
            "begin_date": "2027-01-01", "members": [member(&head, "李奶奶", "spouse"), member(&child, "李小宝", "child")]})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.json()["fields"][0]["field"], "members");
        assert_eq!(count(&app, "SELECT COUNT(*) FROM person WHERE certno = $1", head.clone()).await, 0);
        let r = s.post("/api/v1/households", Some(&clerk), &json!({"insu_admdvs": "330200", "address": "鄞州区演示路1号",
            "begin_date": "2027-01-01", "members": [member(&head, "李奶奶", "head"), member(&child, "李小宝", "child")]})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let hh = r.json()["hh_no"].as_str().unwrap().to_owned();
        let grandma = r.json()["members"][0]["psn_no"].as_str().unwrap().to_owned();
        // 续保 for 2027: one bill for the household, elderly 560 + child 400, subsidies recorded apart.
        let r = s.post(&format!("/api/v1/households/{hh}/renew"), Some(&clerk), &json!({"year": 2027})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert_eq!(r.json()["bills"], 1);
        let bills = bill_of(&s, &clerk, &format!("hh_no={hh}")).await;
        assert_eq!(bills[0]["amount_due"].to_string(), "960.00");
        assert_eq!(bills[0]["government_subsidy"].to_string(), "1400.00");
        let bill = bills[0]["bill_id"].as_str().unwrap().to_owned();
        // Paid in the collection window (December), covered from 1 January.
        let paid = yibao_app::payment::counter_payment(&app, &ctx_at("2026-12-10"), &bill,
            yibao_app::payment::CounterPayment { amount: yibao_domain::Money::from_yuan(960), receipt_no: "R1".into() }).await.unwrap();
        assert_eq!(paid.status, yibao_domain::payment::OrderStatus::Paid);
        let c = s.get(&format!("/api/v1/persons/{grandma}/coverage?date=2027-01-01"), Some(&clerk)).await.json();
        assert_eq!(c["covered"], true, "{c}");
        assert_eq!(c["insutype"], "390");
        assert_eq!(c["has_account"], false);
        let c = s.get(&format!("/api/v1/persons/{grandma}/coverage?date=2026-12-31"), Some(&clerk)).await.json();
        assert_eq!(c["covered"], false);
        assert_eq!(c["reason"], "未参保");
        let h = s.get(&format!("/api/v1/households/{hh}"), Some(&clerk)).await.json();
        assert_eq!(h["members"].as_array().unwrap().len(), 2);
    }

    async fn lapsed_person_refused_then_covered_after_waiting(app: App) {
        let s = TestServer::start(app.clone()).await;
        let clerk = s.login("clerk").await;
        let certno = id("330205", "1985-10-10", 31);
        let r = s.post("/api/v1/enrollments", Some(&clerk), &json!({"person": {"certno": certno, "psn_name": "赵灵活", "admdvs": "330205"},
            "insutype": "310", "psn_type": "1103", "insu_admdvs": "330200", "begin_date": "2026-01-01", "base": "5000"})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let psn = r.json()["psn_no"].as_str().unwrap().to_owned();
        let pay_month = |month: &'static str, on: &'static str| {
            let app = app.clone();
            let psn = psn.clone();
            async move {
                let ctx = ctx_at(on);
                yibao_app::contribution::assess(&app, &ctx, yibao_app::contribution::AssessmentRun { region: "330200".into(), period: month.into() }).await.unwrap();
                let page = yibao_app::contribution::list_bills(&app, &ctx, yibao_app::contribution::BillQuery { psn_no: Some(psn.clone()), period: Some(month.into()), ..Default::default() }).await.unwrap();
                let b = &page.items[0];
                yibao_app::payment::counter_payment(&app, &ctx, &b.bill_id, yibao_app::payment::CounterPayment { amount: b.amount_due, receipt_no: format!("R{month}") }).await.unwrap();
            }
        };
        pay_month("2026-01", "2026-01-15").await;
        pay_month("2026-02", "2026-02-15").await;
        let cov = |date: &'static str| {
            let s = &s;
            let clerk = clerk.clone();
            let psn = psn.clone();
            async move { s.get(&format!("/api/v1/persons/{psn}/coverage?date={date}"), Some(&clerk)).await.json() }
        };
        assert_eq!(cov("2026-03-20").await["covered"], true, "grace month");
        let c = cov("2026-05-10").await;
        assert_eq!(c["covered"], false);
        assert_eq!(c["state"], "arrears");
        let c = cov("2026-07-01").await;
        assert_eq!(c["covered"], false, "refused after the arrears limit");
        assert_eq!(c["psn_insu_stas"], "2");
        assert!(c["reason"].as_str().unwrap().contains("欠费暂停"), "{c}");
        // Paying again in August starts a 3-month waiting period.
        pay_month("2026-08", "2026-08-05").await;
        pay_month("2026-09", "2026-09-05").await;
        pay_month("2026-10", "2026-10-05").await;
        pay_month("2026-11", "2026-11-05").await;
        let c = cov("2026-10-01").await;
        assert_eq!(c["covered"], false);
        assert_eq!(c["state"], "waiting");
        assert_eq!(c["benefit_start"], "2026-11-05");
        assert_eq!(cov("2026-11-05").await["covered"], true, "covered again after the waiting period");
        assert_eq!(cov("2026-02-10").await["covered"], true, "the paid past stays covered");
    }

    async fn transfer_keeps_years_and_duplicates_are_refused(app: App) {
        let s = TestServer::start(app.clone()).await;
        let admin = s.login("admin").await;
        let clerk = s.login("clerk").await;
        // A demo employee with years paid since 2015 or later.
        let psn = "33020000000000000001";
        let before = s.get(&format!("/api/v1/persons/{psn}"), Some(&clerk)).await.json();
        let months = before["contributions"]["employee_months"].as_i64().unwrap();
        let insutype = before["enrollments"][0]["insutype"].as_str().unwrap().to_owned();
        // A second enrollment anywhere is refused, naming the existing one.
        let r = s.post("/api/v1/enrollments", Some(&admin), &json!({"psn_no": psn, "insutype": "390", "psn_type": "1501",
            "insu_admdvs": "330100", "begin_date": "2026-12-01"})).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
        assert!(r.json()["message"].as_str().unwrap().contains("重复参保"));
        assert!(r.json()["message"].as_str().unwrap().contains("330200"));
        // A transfer to an unknown region is refused.
        let r = s.post(&format!("/api/v1/persons/{psn}/transfer-out"), Some(&clerk), &json!({"to_admdvs": "339999", "out_date": "2026-11-30"})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.json()["fields"][0]["field"], "to_admdvs");
        if insutype != "310" {
            return;
        }
        let balance = s.get(&format!("/api/v1/accounts/{psn}"), Some(&clerk)).await.json()["balance"].clone();
        let r = s.post(&format!("/api/v1/persons/{psn}/transfer-out"), Some(&clerk), &json!({"to_admdvs": "330100", "out_date": "2026-11-30"})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let t = r.json();
        assert_eq!(t["contribution_months"].as_i64().unwrap(), months);
        assert_eq!(t["account_balance"], balance);
        // 杭州 (3301) needs its own contribution policy; the 宁波 clerk cannot accept there.
        let toml = yibao_app::demo::POLICY_310.replace("330200", "330100").replace("宁波", "杭州");
        let r = s.post("/api/v1/contribution-policies", Some(&admin), &json!({"toml": toml})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let tid = t["transfer_id"].as_str().unwrap();
        let r = s.post(&format!("/api/v1/transfers/{tid}/accept"), Some(&clerk), &json!({"begin_date": "2026-12-01"})).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = s.post(&format!("/api/v1/transfers/{tid}/accept"), Some(&admin), &json!({"begin_date": "2026-12-01"})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let after = s.get(&format!("/api/v1/persons/{psn}"), Some(&admin)).await.json();
        assert_eq!(after["contributions"]["employee_months"].as_i64().unwrap(), months, "continuous years kept");
        let last = after["enrollments"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["insu_admdvs"], "330100");
        assert_eq!(last["waiting_exempt"], true);
        let st = s.get(&format!("/api/v1/accounts/{psn}"), Some(&admin)).await.json();
        assert_eq!(st["balance"], balance, "the balance moved with the person");
        assert_eq!(st["insu_admdvs"], "330100");
    }

    async fn death_import_stops_insurance_and_excel_rows_are_reported(app: App) {
        let s = TestServer::start(app.clone()).await;
        let clerk = s.login("clerk").await;
        let person = s.get("/api/v1/persons/33020000000000000002", Some(&clerk)).await.json();
        let certno = person["certificate"]["certno"].as_str().unwrap().to_owned();
        let csv = format!("身份证号,死亡日期\n{certno},2026-10-01\n110105194912310021,2026-10-01\n");
        let r = s.request(Method::POST, "/api/v1/imports/deaths", Some(&clerk), Some(("text/csv", csv.into_bytes()))).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let rep = r.json();
        assert_eq!(rep["accepted"], 1);
        assert_eq!(rep["rejected"], 1);
        assert_eq!(rep["rows"][1]["errors"][0]["field"], "certno");
        let c = s.get("/api/v1/persons/33020000000000000002/coverage?date=2026-10-02", Some(&clerk)).await.json();
        assert_eq!(c["covered"], false);
        assert!(c["reason"].as_str().unwrap().contains("已死亡"), "{c}");
        let p = s.get("/api/v1/persons/33020000000000000002", Some(&clerk)).await.json();
        assert_eq!(p["death_date"], "2026-10-01");
        assert!(p["enrollments"].as_array().unwrap().iter().any(|e| e["stop_reason"] == "death"));

        // An Excel file with good and bad rows: the good go in, the bad are reported.
        let good = id("330281", "1992-02-02", 41);
        let bad = format!("{}{}", &good[..17], if good.ends_with('0') { '1' } else { '0' });
        let rows: Vec<Vec<String>> = vec![
            vec!["姓名".into(), "身份证号".into(), "居住区划".into(), "险种".into(), "人员类别".into(), "参保日期".into()],
            vec!["钱一".into(), good.clone(), "330281".into(), "390".into(), "1501".into(), "2026-12-01".into()],
            vec!["孙二".into(), bad.clone(), "330281".into(), "390".into(), "1501".into(), "2026-12-01".into()],
            vec!["李三".into(), id("330281", "1993-03-03", 43), "339999".into(), "390".into(), "1501".into(), "2026-12-01".into()],
            vec!["周四".into(), good.clone(), "330281".into(), "390".into(), "1501".into(), "2026-12-01".into()],
            vec!["".into(), id("330281", "1994-04-04", 45), "330281".into(), "390".into(), "1501".into(), "2026-12-01".into()],
            vec!["吴五".into(), certno.clone(), "330281".into(), "".into(), "".into(), "".into()],
        ];
        let xlsx = yibao_app::testing::xlsx(&rows);
        let r = s.request(Method::POST, "/api/v1/imports/persons?format=xlsx", Some(&clerk), Some(("application/octet-stream", xlsx))).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let rep = r.json();
        assert_eq!(rep["total"], 6, "{rep}");
        assert_eq!(rep["accepted"], 1, "{rep}");
        assert_eq!(rep["rejected"], 5);
        assert_eq!(rep["rejected_share"].to_string(), "0.833333");
        let reason = |i: usize| rep["rows"][i]["errors"][0].clone();
        assert!(reason(1)["reason"].as_str().unwrap().contains("校验位"), "{rep}");
        assert_eq!(reason(2)["field"], "admdvs");
        assert!(reason(3)["reason"].as_str().unwrap().contains("重复"));
        assert_eq!(reason(4)["field"], "psn_name");
        assert!(reason(5)["reason"].as_str().unwrap().contains("重复"), "already registered");
        let psn = rep["rows"][0]["assigned"].as_str().unwrap().to_owned();
        let p = s.get(&format!("/api/v1/persons/{psn}"), Some(&clerk)).await.json();
        assert_eq!(p["enrollments"][0]["insutype"], "390");
    }

    async fn account_contract_debits_reversals_and_family_use(app: App) {
        let s = TestServer::start(app.clone()).await;
        let clerk = s.login("clerk").await;
        // A demo authorization: owner lets a relative use the account, 2000 a year.
        let (owner, user, auth_id) = app.db.read(|tx: &mut dyn yibao_store::Tx| {
            let r = tx.query_one("SELECT owner_psn_no, user_psn_no, id FROM family_authorization ORDER BY id LIMIT 1", yibao_store::params![])?;
            Ok::<_, yibao_store::DbError>((r.text(0)?, r.text(1)?, r.i64(2)?))
        }).await.unwrap();
        let today = Date::parse("2026-11-20").unwrap();
        let (o, u) = (owner.clone(), user.clone());
        let result = app.db.write(move |tx: &mut dyn yibao_store::Tx| {
            let before = yibao_app::account::balance(tx, &o)?;
            let after = yibao_app::account::debit_for_settlement(tx, &o, &o, yibao_domain::Money::from_yuan(100), "S1", today, 1)?;
            assert_eq!(before - after, yibao_domain::Money::from_yuan(100));
            let dup = yibao_app::account::debit_for_settlement(tx, &o, &o, yibao_domain::Money::from_yuan(1), "S1", today, 1);
            assert!(matches!(dup, Err(yibao_app::AppError::Conflict(_))));
            let too_much = yibao_app::account::debit_for_settlement(tx, &o, &o, after + yibao_domain::Money::from_fen(1), "S2", today, 1);
            assert!(matches!(too_much, Err(yibao_app::AppError::Conflict(_))), "never negative");
            let fam = yibao_app::account::debit_for_settlement(tx, &o, &u, yibao_domain::Money::from_yuan(50), "S3", today, 1)?;
            let over = yibao_app::account::debit_for_settlement(tx, &o, &u, yibao_domain::Money::from_yuan(1951), "S4", today, 1);
            assert!(matches!(over, Err(yibao_app::AppError::Conflict(_))), "yearly limit");
            let stranger = yibao_app::account::debit_for_settlement(tx, &o, "33020000000000000003", yibao_domain::Money::from_yuan(1), "S5", today, 1);
            assert!(matches!(stranger, Err(yibao_app::AppError::Conflict(_))) || o == "33020000000000000003");
            let restored = yibao_app::account::reverse_settlement_debit(tx, "S1", "S1R", 1)?;
            assert_eq!(restored, fam + yibao_domain::Money::from_yuan(100));
            let again = yibao_app::account::reverse_settlement_debit(tx, "S1", "S1R2", 1);
            assert!(matches!(again, Err(yibao_app::AppError::Conflict(_))));
            Ok::<_, yibao_app::AppError>((before, yibao_app::account::balance(tx, &o)?, yibao_store::account::movements_sum(tx, &o)?))
        }).await.unwrap();
        assert_eq!(result.1, result.0 - yibao_domain::Money::from_yuan(50));
        assert_eq!(result.1, result.2, "balance = sum of movements");
        let auths = s.get(&format!("/api/v1/accounts/{owner}/authorizations"), Some(&clerk)).await.json();
        let a = auths.as_array().unwrap().iter().find(|a| a["id"] == auth_id).unwrap().clone();
        assert_eq!(a["used_this_year"].to_string(), "50.00");
        let st = s.get(&format!("/api/v1/accounts/{owner}?limit=200"), Some(&clerk)).await.json();
        let items = st["movements"]["items"].as_array().unwrap();
        assert!(items.iter().any(|m| m["kind"] == "settlement_debit" && m["user_psn_no"] == json!(user)));
    }
}
