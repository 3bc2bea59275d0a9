//! Fund accounting over real HTTP, on SQLite and PostgreSQL: balances after a
//! month of events, the trial balance after every step, clearing with an
//! institution, reconciliation, and cross-region clearing.

mod common;

use common::TestServer;
use hyper::StatusCode;
use serde_json::{Value, json};
use yibao_app::fund::fixtures::{self, Bill, Visit};
use yibao_app::{App, AppError, backend_tests};
use yibao_domain::codes::{Insutype, MedType};
use yibao_domain::division::DivisionCode;
use yibao_domain::{Date, Money};
use yibao_store::Tx;

const HOSPITAL: &str = "H33020300001"; // 宁波演示第一医院 (demo)
const OTHER: &str = "H33020500001"; // 宁波演示第二医院 (demo)

fn yuan(v: &Value) -> String {
    v.to_string().trim_matches('"').to_owned()
}

async fn settle(app: &App, v: Visit) {
    app.db.write(move |tx: &mut dyn Tx| fixtures::settle_in(tx, &v).map(|_| ())).await.unwrap();
}

async fn reverse(app: &App, original: &str, reversal: &str, date: &str) -> Result<(), AppError> {
    let (o, r, d) = (original.to_owned(), reversal.to_owned(), Date::parse(date).unwrap());
    app.db.write(move |tx: &mut dyn Tx| fixtures::reverse_in(tx, &o, &r, d).map(|_| ())).await
}

async fn contribute(app: &App, bill: Bill) -> Result<(), AppError> {
    app.db.write(move |tx: &mut dyn Tx| fixtures::contribute_in(tx, &bill)).await
}

#[allow(clippy::too_many_arguments)]
fn bill(
    id: &str,
    insutype: Insutype,
    date: &str,
    employer: i64,
    personal: i64,
    subsidy: i64,
    assistance: i64,
    to_accounts: i64,
) -> Bill {
    Bill {
        bill_id: id.into(),
        region: DivisionCode::parse("330200").unwrap(),
        insutype,
        paid_date: Date::parse(date).unwrap(),
        employer_share: Money::from_yuan(employer),
        personal_share: Money::from_yuan(personal),
        government_subsidy: Money::from_yuan(subsidy),
        assistance_paid: Money::from_yuan(assistance),
        to_personal_accounts: Money::from_yuan(to_accounts),
    }
}

/// The trial balance over HTTP must balance, and the raw ledger too.
async fn assert_trial_zero(s: &TestServer, token: &str) {
    let r = s.get("/api/v1/fund/trial-balance", Some(token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let t = r.json();
    assert_eq!(t["balanced"], true, "{t}");
    assert_eq!(yuan(&t["difference"]), "0.00");
    assert_eq!(t["debit_total"], t["credit_total"]);
    let (d, c, bad) =
        s.app.db.read(|tx: &mut dyn Tx| Ok::<_, AppError>(yibao_store::fund::grand_totals(tx)?)).await.unwrap();
    assert_eq!((d, bad), (c, 0));
}

/// Fund balances (基金结余) of 宁波 by fund code.
async fn fund_balances(s: &TestServer, token: &str) -> std::collections::BTreeMap<String, i64> {
    let r = s.get("/api/v1/fund/balances?region=330200", Some(token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()["funds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["fund"].as_str().unwrap().to_owned(), Money::parse_yuan(&yuan(&f["balance"])).unwrap().fen()))
        .collect()
}

async fn account_balance(s: &TestServer, token: &str, query: &str) -> String {
    let r = s.get(&format!("/api/v1/fund/balances?{query}"), Some(token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let accounts = r.json()["accounts"].as_array().unwrap().clone();
    let total: i64 = accounts.iter().map(|a| Money::parse_yuan(&yuan(&a["balance"])).unwrap().fen()).sum();
    Money::from_fen(total).to_string()
}

/// The current month by the fixture apps' business clock, which the server also reads.
fn this_month() -> String {
    yibao_domain::fund::Month::of(yibao_app::testing::fixture_clock().today()).to_string()
}

/// October's statement of 宁波: (fund, account, sub) → amount.
async fn statement_lines(s: &TestServer, token: &str) -> std::collections::BTreeMap<(String, String, String), Money> {
    let r = s.get("/api/v1/fund/statements?region=330200&from_month=2026-10&to_month=2026-10", Some(token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let key = (
                l["fund"].as_str().unwrap().to_owned(),
                l["account"].as_str().unwrap().to_owned(),
                l["sub"].as_str().unwrap().to_owned(),
            );
            (key, Money::parse_yuan(&yuan(&l["amount"])).unwrap())
        })
        .collect()
}

fn visit(id: &str, date: &str, inst: &str, insutype: Insutype, med_type: MedType, medfee: i64) -> Visit {
    let mut v = Visit::local(id, date, inst, medfee, 0);
    v.insutype = insutype;
    v.med_type = med_type;
    v
}

backend_tests! {
    async fn a_month_of_events_gives_the_expected_balances(app: App) {
        let s = TestServer::start(app.clone()).await;
        let finance = s.login("finance").await;
        assert_trial_zero(&s, &finance).await;
        let before = fund_balances(&s, &finance).await;
        let before_statement = statement_lines(&s, &finance).await;
        assert!(before["310100"] > 0, "the demo has an opening balance: {before:?}");

        // Contributions: an employer's bill (200 to personal accounts) and a
        // resident's with subsidy and 医疗救助 paying part.
        contribute(&app, bill("B1", Insutype::EmployeeBasic, "2026-10-05", 800, 200, 0, 0, 200)).await.unwrap();
        assert_trial_zero(&s, &finance).await;
        contribute(&app, bill("B2", Insutype::ResidentBasic, "2026-10-06", 0, 380, 670, 100, 0)).await.unwrap();
        assert_trial_zero(&s, &finance).await;
        let dup = contribute(&app, bill("B1", Insutype::EmployeeBasic, "2026-10-05", 800, 200, 0, 0, 200)).await;
        assert!(matches!(dup, Err(AppError::Conflict(_))), "a bill is booked once: {dup:?}");
        let bad = contribute(&app, bill("B3", Insutype::ResidentBasic, "2026-10-06", 0, 380, 0, 0, 10)).await;
        assert!(matches!(&bad, Err(AppError::Invalid(f)) if f[0].field == "to_personal_accounts"), "{bad:?}");

        // Settlements at 宁波演示第一医院 and a reversal.
        let mut s1 = visit("S1", "2026-10-08", HOSPITAL, Insutype::EmployeeBasic, MedType::GeneralInpatient, 10_000);
        s1.pays.hifp_pay = Money::from_yuan(7_000);
        s1.pays.hifob_pay = Money::from_yuan(500);
        s1.pays.acct_pay = Money::from_yuan(300);
        settle(&app, s1).await;
        assert_trial_zero(&s, &finance).await;
        let mut s2 = visit("S2", "2026-10-09", HOSPITAL, Insutype::ResidentBasic, MedType::GeneralOutpatient, 300);
        s2.pays.hifp_pay = Money::from_yuan(150);
        settle(&app, s2).await;
        let mut s3 = visit("S3", "2026-10-10", OTHER, Insutype::EmployeeBasic, MedType::PharmacyPurchase, 200);
        s3.pays.acct_pay = Money::from_yuan(200);
        settle(&app, s3).await;
        assert_trial_zero(&s, &finance).await;
        reverse(&app, "S2", "R2", "2026-10-12").await.unwrap();
        assert_trial_zero(&s, &finance).await;
        // The reversal's entry is the original's with negated amounts.
        let r = s.get("/api/v1/fund/entries?reference=R2", Some(&finance)).await.json();
        assert_eq!(r[0]["kind"], "reversal");
        assert_eq!(r[0]["reverses"], "S2");
        let o = s.get("/api/v1/fund/entries?reference=S2", Some(&finance)).await.json();
        for (a, b) in o[0]["lines"].as_array().unwrap().iter().zip(r[0]["lines"].as_array().unwrap()) {
            assert_eq!((&a["account"], &a["side"], &a["sub"]), (&b["account"], &b["side"], &b["sub"]));
            assert_eq!(format!("-{}", yuan(&a["amount"])), yuan(&b["amount"]));
        }

        // Expected changes of each fund's balance (income − expense), in fen.
        let after = fund_balances(&s, &finance).await;
        let delta = |code: &str| after.get(code).copied().unwrap_or(0) - before.get(code).copied().unwrap_or(0);
        assert_eq!(delta("310100"), (800 - 7_000) * 100, "职工统筹: +800 contribution −7000 inpatient");
        assert_eq!(delta("310200"), (200 - 300 - 200) * 100, "个人账户: +200 −300 −200");
        assert_eq!(delta("330100"), -500 * 100, "大额: −500");
        assert_eq!(delta("390100"), (380 + 670 + 100) * 100, "居民: +1150, settlement reversed");
        assert_eq!(delta("610100"), -100 * 100, "医疗救助 paid 100 of a contribution");
        // Payables to the institutions, by account.
        assert_eq!(account_balance(&s, &finance, &format!("account=2101&sub={HOSPITAL}")).await, "7800.00");
        assert_eq!(account_balance(&s, &finance, &format!("account=2101&sub={OTHER}")).await, "200.00");
        let p = s.get(&format!("/api/v1/fund/institutions/{HOSPITAL}/payable"), Some(&finance)).await.json();
        assert_eq!(yuan(&p["payable_total"]), "7800.00");
        // As of a past date: before S1, nothing was owed.
        assert_eq!(account_balance(&s, &finance, &format!("account=2101&sub={HOSPITAL}&as_of=2026-10-07")).await, "0.00");
        assert_eq!(account_balance(&s, &finance, &format!("account=2101&sub={HOSPITAL}&as_of=2026-10-09")).await, "7950.00");

        // Movements over the month of the hospital's payable.
        let m = s.get(&format!("/api/v1/fund/movements?from=2026-10-01&to=2026-10-31&account=2101&sub={HOSPITAL}&fund=390100"), Some(&finance)).await;
        assert_eq!(m.status, StatusCode::OK, "{}", m.text());
        let m = &m.json()["accounts"][0];
        assert_eq!((yuan(&m["opening"]), yuan(&m["credit"]), yuan(&m["closing"])), ("0.00".into(), "0.00".into(), "0.00".into()),
            "credit 150 and red credit −150 net to zero: {m}");

        // The statement of October (on top of the demo's October history):
        // benefit expense by med_type.
        let after_statement = statement_lines(&s, &finance).await;
        let line = |fund: &str, account: &str, sub: &str| -> String {
            let key = (fund.to_owned(), account.to_owned(), sub.to_owned());
            let a = after_statement.get(&key).copied().unwrap_or(Money::ZERO);
            let b = before_statement.get(&key).copied().unwrap_or(Money::ZERO);
            (a - b).to_string()
        };
        assert_eq!(line("310100", "5001", "21"), "7000.00");
        assert_eq!(line("310200", "5001", "41"), "200.00");
        assert_eq!(line("390100", "5001", "11"), "0.00", "settled and reversed in the month");
        assert!(after_statement.contains_key(&("390100".into(), "5001".into(), "11".into())));
        assert_eq!(line("390100", "4002", ""), "670.00");
        assert_eq!(line("610100", "5002", ""), "100.00");
        let csv = s.get("/api/v1/fund/statements.csv?region=330200&from_month=2026-10&to_month=2026-10", Some(&finance)).await;
        assert_eq!(csv.status, StatusCode::OK);
        assert!(csv.headers["content-type"].to_str().unwrap().starts_with("text/csv"));
        let text = csv.text();
        assert!(text.starts_with('\u{feff}') && text.contains("月份,统筹区,基金编码") && text.contains("7000.00"), "{text}");

        let x = s.get("/api/v1/fund/statements.xlsx?region=330200&from_month=2026-10&to_month=2026-10", Some(&finance)).await;
        assert_eq!(x.status, StatusCode::OK, "{}", x.text());
        assert!(x.headers["content-disposition"].to_str().unwrap().ends_with(".xlsx\""));
        assert_eq!(&x.body[..2], b"PK", "an .xlsx file is a zip archive");

        // Sustainability uses the demo's 12 months of history.
        let su = s.get("/api/v1/fund/sustainability?region=330200&as_of=2026-11-22", Some(&finance)).await;
        assert_eq!(su.status, StatusCode::OK, "{}", su.text());
        let su = su.json();
        assert_eq!(su["from_month"], "2025-11");
        assert_eq!(su["to_month"], "2026-10");
        let pool = su["funds"].as_array().unwrap().iter().find(|f| f["fund"] == "310100").unwrap();
        let months: i64 = yuan(&pool["payable_months"]).split('.').next().unwrap().parse().unwrap();
        assert!((10..40).contains(&months), "{pool}");
        assert_eq!(pool["alert"], false);
        // A threshold above it raises the alert (configurable, audited).
        let r = s.put("/api/v1/fund/settings/330200", Some(&finance), &json!({"withhold_share": 0.05, "alert_months": "60"})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let su = s.get("/api/v1/fund/sustainability?region=330200&as_of=2026-11-22", Some(&finance)).await.json();
        let pool = su["funds"].as_array().unwrap().iter().find(|f| f["fund"] == "310100").unwrap().clone();
        assert_eq!(pool["alert"], true);
        let r = s.put("/api/v1/fund/settings/330200", Some(&finance), &json!({"withhold_share": 0.5, "alert_months": "6"})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.json()["fields"][0]["field"], "withhold_share");

        // Scope and roles: a clerk may not read the ledger; 宁波 finance not 杭州's.
        let clerk = s.login("clerk").await;
        assert_eq!(s.get("/api/v1/fund/balances", Some(&clerk)).await.status, StatusCode::FORBIDDEN);
        assert_eq!(s.get("/api/v1/fund/balances?region=3301", Some(&finance)).await.status, StatusCode::FORBIDDEN);
        let r = s.get("/api/v1/fund/balances?as_of=2026-13-01", Some(&finance)).await;
        assert_eq!(r.json()["fields"][0]["field"], "as_of");
        assert_trial_zero(&s, &finance).await;
    }

    async fn clearing_withholds_and_pays_the_institution(app: App) {
        let s = TestServer::start(app.clone()).await;
        let finance = s.login("finance").await;
        let mut s1 = visit("C1", "2026-10-08", HOSPITAL, Insutype::EmployeeBasic, MedType::GeneralInpatient, 10_000);
        s1.pays.hifp_pay = Money::from_yuan(7_000);
        s1.pays.hifob_pay = Money::from_yuan(500);
        s1.pays.acct_pay = Money::from_yuan(300);
        settle(&app, s1).await;
        let mut s2 = visit("C2", "2026-10-09", HOSPITAL, Insutype::ResidentBasic, MedType::GeneralOutpatient, 300);
        s2.pays.hifp_pay = Money::from_yuan(150);
        settle(&app, s2).await;
        reverse(&app, "C2", "CR2", "2026-10-20").await.unwrap();
        let mut s3 = visit("C3", "2026-10-21", HOSPITAL, Insutype::EmployeeBasic, MedType::GeneralOutpatient, 1_000);
        s3.pays.hifp_pay = Money::from_yuan(333);
        s3.pays.hifp_pay += Money::from_fen(33);
        settle(&app, s3).await;
        // November: not part of October's clearing.
        let mut s4 = visit("C4", "2026-11-02", HOSPITAL, Insutype::EmployeeBasic, MedType::GeneralOutpatient, 100);
        s4.pays.hifp_pay = Money::from_yuan(60);
        settle(&app, s4).await;
        let bank_before = account_balance(&s, &finance, "region=330200&account=1002&fund=310100").await;

        let clerk = s.login("clerk").await;
        let body = json!({"period": "2026-10", "fixmedins_code": HOSPITAL});
        assert_eq!(s.post("/api/v1/fund/clearings", Some(&clerk), &body).await.status, StatusCode::FORBIDDEN);
        let r = s.post("/api/v1/fund/clearings", Some(&finance), &json!({"period": this_month(), "fixmedins_code": HOSPITAL})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "this month is not over: {}", r.text());
        assert_eq!(r.json()["fields"][0]["field"], "period");
        let r = s.post("/api/v1/fund/clearings", Some(&finance), &body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let c = r.json()[0].clone();
        assert_eq!(c["region"], "330200");
        assert_eq!((c["settled_count"].as_i64(), c["reversed_count"].as_i64()), (Some(3), Some(1)));
        // Settled 7800 + 150 + 333.33; reversed −150; net 8133.33.
        assert_eq!(yuan(&c["settled"]), "8283.33");
        assert_eq!(yuan(&c["reversed"]), "-150.00");
        assert_eq!(yuan(&c["net"]), "8133.33");
        // 5% per fund, half-up: 统筹 7333.33 → 366.67; 大额 500 → 25; 个人账户 300 → 15.
        assert_eq!(yuan(&c["withheld"]), "406.67");
        assert_eq!(yuan(&c["payable"]), "7726.66");
        let pool = c["funds"].as_array().unwrap().iter().find(|f| f["fund"] == "310100").unwrap();
        assert_eq!((yuan(&pool["net"]), yuan(&pool["withheld"]), yuan(&pool["payable"])),
            ("7333.33".into(), "366.67".into(), "6966.66".into()));
        assert_eq!(c["status"], "cleared");
        let id = c["clearing_no"].as_str().unwrap().to_owned();
        assert_trial_zero(&s, &finance).await;
        // The ledger: withheld moved from payable to the deposit account.
        assert_eq!(account_balance(&s, &finance, &format!("account=2102&sub={HOSPITAL}")).await, "406.67");
        assert_eq!(account_balance(&s, &finance, &format!("account=2101&sub={HOSPITAL}")).await, "7786.66", "7726.66 + November's 60");
        // Cleared once only.
        assert_eq!(s.post("/api/v1/fund/clearings", Some(&finance), &body).await.status, StatusCode::CONFLICT);
        // The payment instruction file.
        let f = s.get(&format!("/api/v1/fund/clearings/{id}/instruction.csv"), Some(&finance)).await;
        assert_eq!(f.status, StatusCode::OK);
        let text = f.text();
        assert!(text.contains("6966.66") && text.contains("合计") && text.contains("7726.66") && text.contains("宁波演示第一医院"), "{text}");
        // The bank confirms: the payment is posted and the run is paid.
        let pay = json!({"payment_ref": "BANK-20261110-001", "paid_date": "2026-11-10"});
        let r = s.post(&format!("/api/v1/fund/clearings/{id}/payment"), Some(&finance), &pay).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert_eq!(r.json()["status"], "paid");
        assert_eq!(s.post(&format!("/api/v1/fund/clearings/{id}/payment"), Some(&finance), &pay).await.status, StatusCode::CONFLICT);
        assert_eq!(account_balance(&s, &finance, &format!("account=2101&sub={HOSPITAL}")).await, "60.00", "only November is owed");
        let bank_after = account_balance(&s, &finance, "region=330200&account=1002&fund=310100").await;
        assert_eq!(Money::parse_yuan(&bank_before).unwrap() - Money::parse_yuan(&bank_after).unwrap(), Money::parse_yuan("6966.66").unwrap());
        let e = s.get(&format!("/api/v1/fund/clearings/{id}/entries"), Some(&finance)).await.json();
        let kinds: Vec<&str> = e.as_array().unwrap().iter().map(|x| x["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["withholding", "payment"]);
        assert_trial_zero(&s, &finance).await;
        // Audited in the same transactions.
        let audit = s.get("/api/v1/audit?target_kind=fund_clearing", Some(&s.login("admin").await)).await.json();
        let actions: Vec<&str> = audit.as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["fund.clearing.pay", "fund.clearing.create"]);
        // Every settlement row of October is traceable to the run.
        let n = app.db.read(|tx: &mut dyn Tx| {
            tx.query_one("SELECT COUNT(*) FROM fund_clearing_item WHERE kind = 'institution'", yibao_store::params![])?.i64(0)
        }).await.unwrap();
        assert_eq!(n, 4);
        let list = s.get("/api/v1/fund/clearings?period=2026-10", Some(&finance)).await.json();
        assert_eq!(list.as_array().unwrap().len(), 1);
    }

    async fn reconciliation_reports_exactly_the_planted_differences(app: App) {
        let s = TestServer::start(app.clone()).await;
        let finance = s.login("finance").await;
        for (i, medfee) in [1_000, 2_000, 3_000, 4_000].iter().enumerate() {
            let mut v = visit(&format!("D{i}"), &format!("2026-10-1{i}"), HOSPITAL, Insutype::EmployeeBasic, MedType::GeneralOutpatient, *medfee);
            v.pays.hifp_pay = Money::from_yuan(medfee / 2);
            v.pays.acct_pay = Money::from_yuan(medfee / 10);
            settle(&app, v).await;
        }
        reverse(&app, "D3", "DR3", "2026-10-25").await.unwrap();
        // The institution's own records: the platform's, less D1, with D2's total altered.
        let ours: Vec<Value> = vec![
            json!({"setl_id": "D0", "medfee_sumamt": "1000.00", "fund_pay_sumamt": "500.00", "acct_pay": "100.00", "reversal": false}),
            json!({"setl_id": "D2", "medfee_sumamt": "3000.01", "fund_pay_sumamt": "1500.00", "acct_pay": "300.00", "reversal": false}),
            json!({"setl_id": "D3", "medfee_sumamt": "4000.00", "fund_pay_sumamt": "2000.00", "acct_pay": "400.00", "reversal": false}),
            json!({"setl_id": "DR3", "medfee_sumamt": "-4000.00", "fund_pay_sumamt": "-2000.00", "acct_pay": "-400.00", "reversal": true}),
        ];
        let body = json!({"fixmedins_code": HOSPITAL, "begin_date": "2026-10-01", "end_date": "2026-10-31", "details": ours});
        let r = s.post("/api/v1/fund/reconciliations/details", Some(&finance), &body).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let rec = r.json();
        assert_eq!(rec["matched"], false);
        assert_eq!(rec["differences_total"], 2, "{rec}");
        let diffs = rec["differences"].as_array().unwrap();
        let missing = diffs.iter().find(|d| d["kind"] == "missing_at_institution").unwrap();
        assert_eq!(missing["key"], "D1");
        let altered = diffs.iter().find(|d| d["kind"] == "amount_differs").unwrap();
        assert_eq!((altered["key"].as_str(), altered["field"].as_str()), (Some("D2"), Some("medfee_sumamt")));
        assert_eq!((yuan(&altered["platform"]), yuan(&altered["institution"])), ("3000.00".into(), "3000.01".into()));
        assert!(altered["description"].as_str().unwrap().contains("医疗费总额不符"));
        assert_eq!(rec["platform_count"], 5);
        // The same list, corrected, matches.
        let mut fixed = ours.clone();
        fixed[1]["medfee_sumamt"] = json!("3000.00");
        fixed.push(json!({"setl_id": "D1", "medfee_sumamt": "2000.00", "fund_pay_sumamt": "1000.00", "acct_pay": "200.00", "reversal": false}));
        let body = json!({"fixmedins_code": HOSPITAL, "begin_date": "2026-10-01", "end_date": "2026-10-31", "details": fixed});
        let rec = s.post("/api/v1/fund/reconciliations/details", Some(&finance), &body).await.json();
        assert_eq!(rec["matched"], true, "{rec}");
        assert!(rec["summary"].as_str().unwrap().contains("相符"));

        // Totals (3201): 5 rows; medfee 1000+2000+3000+4000−4000.
        let totals = json!([{"insutype": "310", "clr_type": "11", "count": 5, "medfee_sumamt": 6000, "fund_pay_sumamt": 3000, "acct_pay": 600}]);
        let body = json!({"fixmedins_code": HOSPITAL, "begin_date": "2026-10-01", "end_date": "2026-10-31", "totals": totals});
        let rec = s.post("/api/v1/fund/reconciliations/totals", Some(&finance), &body).await.json();
        assert_eq!(rec["matched"], true, "{rec}");
        let totals = json!([{"insutype": "310", "clr_type": "11", "count": 4, "medfee_sumamt": 6000, "fund_pay_sumamt": 3000, "acct_pay": 600}]);
        let body = json!({"fixmedins_code": HOSPITAL, "begin_date": "2026-10-01", "end_date": "2026-10-31", "totals": totals});
        let rec = s.post("/api/v1/fund/reconciliations/totals", Some(&finance), &body).await.json();
        assert_eq!(rec["matched"], false);
        assert_eq!(rec["differences"].as_array().unwrap().len(), 1);
        assert_eq!(rec["differences"][0]["field"], "count");

        // The synchronous contract the national interface (3201/3202) calls in a read job.
        let scope = yibao_app::fund::reconcile::ReconcileScope {
            fixmedins_code: yibao_domain::institution::InstitutionCode::parse(HOSPITAL).unwrap(),
            begin_date: Date::parse("2026-10-01").unwrap(),
            end_date: Date::parse("2026-10-31").unwrap(),
            insutype: None,
            clr_type: None,
        };
        let rec = app.db.read(move |tx: &mut dyn Tx| yibao_app::fund::reconcile::reconcile_details(tx, &scope, &[])).await.unwrap();
        assert_eq!(rec.differences_total, 5, "every platform row is missing at the institution");

        // Bad input: named field, nothing else.
        let body = json!({"fixmedins_code": HOSPITAL, "begin_date": "2026-10-31", "end_date": "2026-10-01", "details": []});
        let r = s.post("/api/v1/fund/reconciliations/details", Some(&finance), &body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.json()["fields"][0]["field"], "end_date");
        let body = json!({"fixmedins_code": "H3302", "begin_date": "2026-10-01", "end_date": "2026-10-31", "details": []});
        assert_eq!(s.post("/api/v1/fund/reconciliations/details", Some(&finance), &body).await.json()["fields"][0]["field"], "fixmedins_code");
        let body = json!({"fixmedins_code": "H33010200001", "begin_date": "2026-10-01", "end_date": "2026-10-31", "details": []});
        assert_eq!(s.post("/api/v1/fund/reconciliations/details", Some(&finance), &body).await.status, StatusCode::FORBIDDEN, "杭州 is outside 宁波's scope");
    }

    async fn cross_region_clearing_nets_between_regions(app: App) {
        let s = TestServer::start(app.clone()).await;
        let admin = s.login("admin").await;
        let finance = s.login("finance").await;
        let r = s.post("/api/v1/institutions", Some(&admin), &json!({"name": "杭州演示医院", "kind": "hospital", "hosp_lv": "02",
            "admdvs": "330102", "agreement": {"begin_date": "2026-01-01", "end_date": "2026-12-31"}})).await;
        let hz = r.json()["code"].as_str().unwrap().to_owned();
        let (nb, hzr) = (DivisionCode::parse("330200").unwrap(), DivisionCode::parse("330100").unwrap());
        // A 杭州 insured treated in 宁波 (1000 from the pool), twice, one reversed;
        // a 宁波 insured treated in 杭州 (300).
        for id in ["X1", "X2"] {
            let mut v = visit(id, "2026-10-03", HOSPITAL, Insutype::EmployeeBasic, MedType::GeneralInpatient, 1_500);
            v.insu_admdvs = hzr;
            v.pays.hifp_pay = Money::from_yuan(1_000);
            settle(&app, v).await;
        }
        reverse(&app, "X2", "XR2", "2026-10-04").await.unwrap();
        let mut v = visit("X3", "2026-10-05", &hz, Insutype::EmployeeBasic, MedType::GeneralOutpatient, 500);
        v.mdtrtarea_admvs = hzr;
        v.insu_admdvs = nb;
        v.pays.hifp_pay = Money::from_yuan(300);
        settle(&app, v).await;
        assert_trial_zero(&s, &admin).await;
        // Each side's books: 宁波 advanced 1000 and owes 300; 杭州 the mirror.
        assert_eq!(account_balance(&s, &admin, "region=330200&account=1201&sub=330100").await, "1000.00");
        assert_eq!(account_balance(&s, &admin, "region=330200&account=2201&sub=330100").await, "300.00");
        assert_eq!(account_balance(&s, &admin, "region=330100&account=2201&sub=330200").await, "1000.00");
        assert_eq!(account_balance(&s, &admin, "region=330100&account=1201&sub=330200").await, "300.00");
        assert_eq!(account_balance(&s, &admin, &format!("region=330200&account=2101&sub={HOSPITAL}")).await, "1000.00");
        assert_eq!(account_balance(&s, &admin, "region=330100&account=5001").await, "1000.00", "杭州's fund bears the expense");

        // 宁波's finance cannot clear with 杭州 (outside its scope): nothing to clear.
        let body = json!({"period": "2026-10"});
        assert_eq!(s.post("/api/v1/fund/region-clearings", Some(&finance), &body).await.status, StatusCode::CONFLICT);
        let hz_bank = account_balance(&s, &admin, "region=330100&account=1002").await;
        let nb_bank = account_balance(&s, &admin, "region=330200&account=1001").await;
        let r = s.post("/api/v1/fund/region-clearings", Some(&admin), &body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let rows = r.json();
        assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
        let row = &rows[0];
        assert_eq!((row["region_a"].as_str(), row["region_b"].as_str(), row["fund"].as_str()), (Some("330100"), Some("330200"), Some("310100")));
        assert_eq!((yuan(&row["a_owes_b"]), yuan(&row["b_owes_a"]), yuan(&row["net"])), ("1000.00".into(), "300.00".into(), "700.00".into()));
        // Only the net moved: 杭州 paid 700, 宁波 received 700; the debts are gone.
        let paid = Money::parse_yuan(&hz_bank).unwrap() - Money::parse_yuan(&account_balance(&s, &admin, "region=330100&account=1002").await).unwrap();
        assert_eq!(paid.to_string(), "700.00");
        let got = Money::parse_yuan(&account_balance(&s, &admin, "region=330200&account=1001").await).unwrap() - Money::parse_yuan(&nb_bank).unwrap();
        assert_eq!(got.to_string(), "700.00");
        for q in ["region=330200&account=1201", "region=330200&account=2201", "region=330100&account=1201", "region=330100&account=2201"] {
            assert_eq!(account_balance(&s, &admin, q).await, "0.00", "{q}");
        }
        assert_eq!(s.post("/api/v1/fund/region-clearings", Some(&admin), &body).await.status, StatusCode::CONFLICT, "cleared once");
        let list = s.get("/api/v1/fund/region-clearings?period=2026-10", Some(&finance)).await.json();
        assert_eq!(list.as_array().unwrap().len(), 1, "宁波 sees its own clearing");
        assert_trial_zero(&s, &admin).await;
    }

    async fn fund_operations_refuse_bad_input_and_write_nothing(app: App) {
        let s = TestServer::start(app.clone()).await;
        let finance = s.login("finance").await;
        let count = || async {
            app.db.read(|tx: &mut dyn Tx| {
                tx.query_one("SELECT COUNT(*) FROM fund_entry", yibao_store::params![])?.i64(0)
            }).await.unwrap()
        };
        let entries = count().await;
        let cases: Vec<(Value, &str)> = vec![
            (json!({"region": "330200", "fund": "310100", "from_account": "1001", "to_account": "1001", "amount": 10, "date": "2026-10-01", "reference": "T1"}), "to_account"),
            (json!({"region": "330200", "fund": "310100", "from_account": "1001", "to_account": "2101", "amount": 10, "date": "2026-10-01", "reference": "T1"}), "to_account"),
            (json!({"region": "330200", "fund": "999", "from_account": "1001", "to_account": "1002", "amount": 10, "date": "2026-10-01", "reference": "T1"}), "fund"),
            (json!({"region": "330200", "fund": "310100", "from_account": "1001", "to_account": "1002", "amount": 0, "date": "2026-10-01", "reference": "T1"}), "amount"),
            (json!({"region": "330200", "fund": "310100", "from_account": "1001", "to_account": "1002", "amount": 10.001, "date": "2026-10-01", "reference": "T1"}), "amount"),
            (json!({"region": "3302", "fund": "310100", "from_account": "1001", "to_account": "1002", "amount": 10, "date": "2026-10-01", "reference": "T1"}), "region"),
            (json!({"region": "330200", "fund": "310100", "from_account": "1001", "to_account": "1002", "amount": 10, "date": "2026-10-01", "reference": ""}), "reference"),
        ];
        for (body, field) in cases {
            let r = s.post("/api/v1/fund/transfers", Some(&finance), &body).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text());
            assert_eq!(r.json()["fields"][0]["field"], field, "{body}: {}", r.text());
        }
        assert_eq!(count().await, entries, "nothing written");
        let ok = json!({"region": "330200", "fund": "310100", "from_account": "1001", "to_account": "1002", "amount": "1000000.00", "date": "2026-10-01", "reference": "HB-001"});
        let r = s.post("/api/v1/fund/transfers", Some(&finance), &ok).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        assert_eq!(r.json()["lines"].as_array().unwrap().len(), 2);
        assert_eq!(s.post("/api/v1/fund/transfers", Some(&finance), &ok).await.status, StatusCode::CONFLICT);
        let outside = json!({"region": "330100", "fund": "310100", "from_account": "1001", "to_account": "1002", "amount": 1, "date": "2026-10-01", "reference": "HB-002"});
        assert_eq!(s.post("/api/v1/fund/transfers", Some(&finance), &outside).await.status, StatusCode::FORBIDDEN);
        assert_eq!(count().await, entries + 1);
        let r = s.get("/api/v1/fund/statements?from_month=2026-10&to_month=2023-01", Some(&finance)).await;
        assert_eq!(r.json()["fields"][0]["field"], "to_month");
        let r = s.get("/api/v1/fund/balances?bogus=1", Some(&finance)).await;
        assert_eq!(r.json()["fields"][0]["field"], "bogus");
        // Month close: national scope only; balances read the same afterwards.
        let before = fund_balances(&s, &finance).await;
        let statement = statement_lines(&s, &finance).await;
        assert_eq!(s.post("/api/v1/fund/closes", Some(&finance), &json!({"through": "2026-10"})).await.status, StatusCode::FORBIDDEN);
        let admin = s.login("admin").await;
        let r = s.post("/api/v1/fund/closes", Some(&admin), &json!({"through": "2026-10"})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let closes = r.json();
        assert_eq!(closes.as_array().unwrap().len(), 12, "the demo's 12 months of history: {closes}");
        assert_eq!(closes[0]["month"], "2025-11");
        assert_eq!(fund_balances(&s, &finance).await, before);
        assert_eq!(statement_lines(&s, &finance).await, statement);
        assert_eq!(s.post("/api/v1/fund/closes", Some(&admin), &json!({"through": "2026-10"})).await.status, StatusCode::CONFLICT);
        // A late transfer dated in a closed month is booked on the first open day.
        let late = json!({"region": "330200", "fund": "310100", "from_account": "1003", "to_account": "1002", "amount": 1, "date": "2026-09-30", "reference": "HB-LATE"});
        let r = s.post("/api/v1/fund/transfers", Some(&finance), &late).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        assert_eq!(r.json()["entry_date"], "2026-11-01", "the day after the last closed month");
        assert!(r.json()["memo"].as_str().unwrap().contains("业务日期 2026-09-30"));
        let r = s.post("/api/v1/fund/closes", Some(&admin), &json!({"through": this_month()})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "this month is not over");
        assert_eq!(r.json()["fields"][0]["field"], "month");
        assert_trial_zero(&s, &finance).await;
        let doc = s.get("/api/v1/openapi.json", None).await.json();
        for path in ["/api/v1/fund/balances", "/api/v1/fund/clearings", "/api/v1/fund/reconciliations/details", "/api/v1/fund/trial-balance"] {
            assert!(doc["paths"].get(path).is_some(), "{path} documented");
        }
    }
}
