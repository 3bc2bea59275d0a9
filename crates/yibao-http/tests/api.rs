//! The management API over real HTTP, on SQLite and PostgreSQL.

mod common;

use common::{TestServer, enc};
use hyper::StatusCode;
use serde_json::{Value, json};
use yibao_app::{App, backend_tests};

async fn audit_count(app: &App, action: &str) -> i64 {
    let action = action.to_owned();
    app.db
        .read(move |tx: &mut dyn yibao_store::Tx| {
            tx.query_one("SELECT COUNT(*) FROM audit_log WHERE action = $1", yibao_store::params![action])?.i64(0)
        })
        .await
        .unwrap()
}

async fn institution_count(app: &App) -> i64 {
    app.db
        .read(|tx: &mut dyn yibao_store::Tx| {
            tx.query_one("SELECT COUNT(*) FROM institution", yibao_store::params![])?.i64(0)
        })
        .await
        .unwrap()
}

backend_tests! {
    async fn health_metrics_and_documents(app: App) {
        let s = TestServer::start(app).await;
        let r = s.get("/health", None).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.json()["status"], "ok");
        assert_eq!(r.json()["database"], "ok");
        let r = s.get("/api/v1/openapi.json", None).await;
        assert_eq!(r.status, StatusCode::OK);
        let doc = r.json();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        for path in ["/api/v1/catalog/search", "/api/v1/institutions", "/api/v1/auth/login", "/health"] {
            assert!(doc["paths"].get(path).is_some(), "{path} documented");
        }
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
        let r = s.get("/api/v1/docs", None).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.text().contains("openapi.json"));
        // A request id is echoed, and a sane client id is kept.
        let r = s.request(hyper::Method::GET, "/health", None, None).await;
        assert!(r.headers.get("x-request-id").is_some());
        let r = s.get("/nowhere", None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(r.json()["code"], "not_found");
        let m = s.get("/metrics", None).await;
        assert_eq!(m.status, StatusCode::OK);
        let text = m.text();
        assert!(text.contains("yibao_http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"}"), "{text}");
        assert!(text.contains("yibao_http_request_duration_seconds_bucket"));
        assert!(text.contains("route=\"unmatched\",status=\"404\""));
        assert!(text.contains("yibao_db_read_jobs_total"));
    }

    async fn public_catalog_search(app: App) {
        let s = TestServer::start(app).await;
        let r = s.get(&format!("/api/v1/catalog/search?q={}", enc("阿莫西林")), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let page = r.json();
        assert!(page["total"].as_i64().unwrap() >= 3);
        let first = &page["items"][0];
        assert_eq!(first["name"], "阿莫西林");
        assert_eq!(first["kind"], "drug");
        assert_eq!(first["class"], "01");
        assert_eq!(first["class_name"], "甲类");
        assert!(first["dosage_form"].as_str().unwrap().contains("口服"));
        // Pinyin initials find the same drug.
        let r = s.get("/api/v1/catalog/search?q=AMXL&kind=drug", None).await;
        assert!(r.json()["items"].as_array().unwrap().iter().any(|i| i["name"] == "阿莫西林"));
        // A 乙 drug shows the demo region's 先行自付 only when resolved for that region.
        let r = s.get(&format!("/api/v1/catalog/search?q={}&class=02&limit=1", enc("头孢")), None).await;
        let code = r.json()["items"][0]["code"].as_str().unwrap().to_owned();
        assert_eq!(r.json()["items"][0]["selfpay_prop"], Value::Null);
        let r = s.get(&format!("/api/v1/catalog/items/{code}?region=330203&date=2026-06-01"), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert_eq!(r.json()["selfpay_prop"], json!(0.1));
        assert_eq!(r.json()["applied_overrides"], json!([1]));
        // Bad parameters are refused with the field named.
        let r = s.get("/api/v1/catalog/search?q=", None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.json()["fields"][0]["field"], "q");
        let r = s.get("/api/v1/catalog/search?q=a&region=999999", None).await;
        assert_eq!(r.json()["fields"][0]["field"], "region");
        let r = s.get("/api/v1/catalog/search?q=a&limit=5000", None).await;
        assert_eq!(r.json()["fields"][0]["field"], "limit");
        let r = s.get("/api/v1/catalog/search?q=a&bogus=1", None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.json()["fields"][0]["field"], "bogus");
        let r = s.get("/api/v1/catalog/items/NOPE123", None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let r = s.get(&format!("/api/v1/catalog/diagnoses?q={}", enc("高血压")), None).await;
        assert!(r.json().as_array().unwrap().iter().any(|d| d["code"] == "I10.x00x002"));
        let r = s.get("/api/v1/divisions/330203", None).await;
        assert_eq!(r.json()["full_name"], "浙江省宁波市海曙区");
        let r = s.get("/api/v1/codes/insutype", None).await;
        assert!(r.json()["values"].as_array().unwrap().iter().any(|v| v["code"] == "310"));
    }

    async fn login_tokens_and_protection(app: App) {
        let s = TestServer::start(app.clone()).await;
        let r = s.get("/api/v1/institutions", None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.json()["code"], "unauthorized");
        assert_eq!(r.headers.get("www-authenticate").unwrap(), "Bearer");
        let r = s.get("/api/v1/institutions", Some("ybs_not-a-token")).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        let bad = s.post("/api/v1/auth/login", None, &json!({"username": "admin", "password": "wrong-password"})).await;
        assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
        let unknown = s.post("/api/v1/auth/login", None, &json!({"username": "nobody", "password": "wrong-password"})).await;
        assert_eq!(unknown.json()["message"], bad.json()["message"], "same answer for unknown users");
        assert!(audit_count(&app, "auth.login").await >= 2, "refused logins are audited");
        let token = s.login("admin").await;
        let r = s.get("/api/v1/institutions?limit=5", Some(&token)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert_eq!(r.json()["total"], 21);
        let me = s.get("/api/v1/auth/me", Some(&token)).await.json();
        assert_eq!(me["username"], "admin");
        let r = s.post("/api/v1/auth/logout", Some(&token), &json!({})).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        let r = s.get("/api/v1/institutions", Some(&token)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "logged-out token is dead");
    }

    async fn region_scope_and_roles(app: App) {
        let s = TestServer::start(app).await;
        let admin = s.login("admin").await;
        // An institution in 杭州 (3301), outside the 宁波 staff's scope.
        let r = s
            .post(
                "/api/v1/institutions",
                Some(&admin),
                &json!({"name": "杭州演示医院", "kind": "hospital", "hosp_lv": "02", "admdvs": "330102",
                        "agreement": {"begin_date": "2026-01-01", "end_date": "2026-12-31"}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let hz = r.json()["code"].as_str().unwrap().to_owned();
        assert_eq!(hz, "H33010200001");
        let clerk = s.login("clerk").await;
        let r = s.get(&format!("/api/v1/institutions/{hz}"), Some(&clerk)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
        let r = s.get("/api/v1/institutions?limit=200", Some(&clerk)).await;
        assert_eq!(r.json()["total"], 21, "the clerk sees 宁波 only");
        let r = s.get("/api/v1/institutions?admdvs=3301", Some(&clerk)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        // A clerk may not register institutions (role), a reviewer may, in scope only.
        let new = json!({"name": "宁波新医院", "kind": "hospital", "hosp_lv": "05", "admdvs": "330212"});
        assert_eq!(s.post("/api/v1/institutions", Some(&clerk), &new).await.status, StatusCode::FORBIDDEN);
        let reviewer = s.login("reviewer").await;
        assert_eq!(s.post("/api/v1/institutions", Some(&reviewer), &new).await.status, StatusCode::CREATED);
        let outside = json!({"name": "杭州新医院", "kind": "hospital", "hosp_lv": "05", "admdvs": "330102"});
        assert_eq!(s.post("/api/v1/institutions", Some(&reviewer), &outside).await.status, StatusCode::FORBIDDEN);
        // Staff management: only admins, only inside their scope.
        let staff = json!({"username": "nb2", "display_name": "新经办", "password": "Pass-word-123",
                           "roles": ["clerk"], "region_scope": "330203"});
        assert_eq!(s.post("/api/v1/staff", Some(&clerk), &staff).await.status, StatusCode::FORBIDDEN);
        let r = s.post("/api/v1/staff", Some(&admin), &staff).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        assert!(r.json().get("password_hash").is_none());
        assert_eq!(s.post("/api/v1/staff", Some(&admin), &staff).await.status, StatusCode::CONFLICT);
        let weak = json!({"username": "nb3", "display_name": "x", "password": "short", "roles": ["clerk"], "region_scope": "3302"});
        let r = s.post("/api/v1/staff", Some(&admin), &weak).await;
        assert_eq!(r.json()["fields"][0]["field"], "password");
    }

    async fn bad_input_is_refused_and_writes_nothing(app: App) {
        let s = TestServer::start(app.clone()).await;
        let token = s.login("admin").await;
        let before = institution_count(&app).await;
        let audits = audit_count(&app, "institution.create").await;
        let cases: Vec<(Value, &str)> = vec![
            (json!({"name": "x", "kind": "hospital", "hosp_lv": "02", "admdvs": "330204"}), "admdvs"),
            (json!({"name": "x", "kind": "hospital", "hosp_lv": "02", "admdvs": "33020"}), "admdvs"),
            (json!({"name": "x", "kind": "clinic", "hosp_lv": "02", "admdvs": "330203"}), "kind"),
            (json!({"name": "x", "kind": "hospital", "admdvs": "330203"}), "hosp_lv"),
            (json!({"name": "x", "kind": "pharmacy", "hosp_lv": "02", "admdvs": "330203"}), "hosp_lv"),
            (json!({"name": "x", "kind": "hospital", "hosp_lv": "99", "admdvs": "330203"}), "hosp_lv"),
            (json!({"name": "", "kind": "hospital", "hosp_lv": "02", "admdvs": "330203"}), "name"),
            (json!({"name": "x", "kind": "hospital", "hosp_lv": "02", "admdvs": "330203", "extra": 1}), "extra"),
            (json!({"name": 7, "kind": "hospital", "hosp_lv": "02", "admdvs": "330203"}), "name"),
            (json!({"kind": "hospital", "hosp_lv": "02", "admdvs": "330203"}), "name"),
            (json!({"code": "P33020399999", "name": "x", "kind": "hospital", "hosp_lv": "02", "admdvs": "330203"}), "code"),
            (json!({"code": "H33020599999", "name": "x", "kind": "hospital", "hosp_lv": "02", "admdvs": "330203"}), "code"),
            (json!({"name": "x", "kind": "hospital", "hosp_lv": "02", "admdvs": "330203",
                    "agreement": {"begin_date": "2026-12-31", "end_date": "2026-01-01"}}), "agreement.end_date"),
            (json!({"name": "x", "kind": "hospital", "hosp_lv": "02", "admdvs": "330203",
                    "agreement": {"begin_date": "2026-02-30", "end_date": "2026-12-31"}}), "agreement.begin_date"),
        ];
        for (body, field) in cases {
            let r = s.post("/api/v1/institutions", Some(&token), &body).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text());
            let e = r.json();
            assert_eq!(e["code"], "invalid_input");
            assert_eq!(e["fields"][0]["field"], field, "{body}: {e}");
            assert!(!e["fields"][0]["reason"].as_str().unwrap().is_empty());
            assert!(!e["request_id"].as_str().unwrap().is_empty());
        }
        let r = s.request(hyper::Method::POST, "/api/v1/institutions", Some(&token), Some(("application/json", b"{\"name\": ".to_vec()))).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(r.json()["message"].as_str().unwrap().contains("JSON格式错误"));
        let r = s.request(hyper::Method::POST, "/api/v1/institutions", Some(&token), Some(("text/plain", b"{}".to_vec()))).await;
        assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(institution_count(&app).await, before, "nothing written");
        assert_eq!(audit_count(&app, "institution.create").await, audits);
        // Persons: a bad check digit is named, an unknown person is 404.
        let r = s.get("/api/v1/persons/110105194912310021", Some(&token)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.json()["fields"][0]["field"], "certno");
        let r = s.get("/api/v1/persons/11010519491231002X", Some(&token)).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert!(!r.text().contains("11010519491231002X"), "ID numbers are masked in messages");
    }

    async fn institution_lifecycle_is_audited(app: App) {
        let s = TestServer::start(app.clone()).await;
        let token = s.login("admin").await;
        let r = s.post("/api/v1/institutions", Some(&token),
            &json!({"name": "鄞州演示康复医院", "kind": "hospital", "hosp_lv": "06", "admdvs": "330212", "address": "鄞州区演示路9号"})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let code = r.json()["code"].as_str().unwrap().to_owned();
        assert!(code.starts_with("H330212"));
        let r = s.post(&format!("/api/v1/institutions/{code}/agreements"), Some(&token),
            &json!({"begin_date": "2026-01-01", "end_date": "2027-12-31"})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let no = r.json()["agreements"][0]["agreement_no"].as_str().unwrap().to_owned();
        let r = s.post(&format!("/api/v1/institutions/{code}/agreements"), Some(&token),
            &json!({"begin_date": "2027-06-01", "end_date": "2028-12-31"})).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "overlapping agreement refused");
        let r = s.patch(&format!("/api/v1/institutions/{code}"), Some(&token), &json!({"hosp_lv": "05"})).await;
        assert_eq!(r.json()["hosp_lv"], "05");
        let r = s.post(&format!("/api/v1/institutions/{code}/status"), Some(&token),
            &json!({"status": "suspended", "reason": "飞行检查发现问题"})).await;
        assert_eq!(r.json()["status"], "suspended");
        let r = s.post(&format!("/api/v1/institutions/{code}/agreements/{no}/status"), Some(&token),
            &json!({"status": "terminated", "reason": "协议解除"})).await;
        assert_eq!(r.json()["agreements"][0]["status"], "terminated");
        let r = s.get(&format!("/api/v1/audit?target_kind=institution&target_id={code}"), Some(&token)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let entries = r.json();
        let actions: Vec<&str> = entries.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["institution.agreement.status", "institution.status", "institution.update",
                             "institution.agreement.create", "institution.create"]);
        let status_change = &entries[1];
        assert_eq!(status_change["before"]["status"], "active");
        assert_eq!(status_change["after"]["status"], "suspended");
        assert_eq!(status_change["actor_name"], "admin");
        assert!(!status_change["request_id"].as_str().unwrap().is_empty());
        // A clerk cannot read the audit trail.
        let clerk = s.login("clerk").await;
        assert_eq!(s.get("/api/v1/audit", Some(&clerk)).await.status, StatusCode::FORBIDDEN);
    }

    async fn catalog_overrides_change_resolution(app: App) {
        let s = TestServer::start(app).await;
        let token = s.login("admin").await;
        let code = "YP2024-X-0632-01"; // 阿莫西林 (甲)
        let r = s.post("/api/v1/catalog/overrides", Some(&token), &json!({
            "region_prefix": "3302", "code": code, "begin_date": "2026-07-01",
            "class": "02", "selfpay_prop": 0.05, "price_cap": "1.20", "note": "测试"})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let id = r.json()["id"].as_i64().unwrap();
        let before = s.get(&format!("/api/v1/catalog/items/{code}?region=330203&date=2026-06-30"), None).await.json();
        assert_eq!(before["class"], "01");
        let after = s.get(&format!("/api/v1/catalog/items/{code}?region=330203&date=2026-07-01"), None).await.json();
        assert_eq!(after["class"], "02");
        assert_eq!(after["selfpay_prop"], json!(0.05));
        assert_eq!(after["price_cap"].to_string(), "1.20");
        let elsewhere = s.get(&format!("/api/v1/catalog/items/{code}?region=330102&date=2026-07-01"), None).await.json();
        assert_eq!(elsewhere["class"], "01", "杭州 unaffected");
        let r = s.post(&format!("/api/v1/catalog/overrides/{id}/end"), Some(&token), &json!({"end_date": "2026-09-30"})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let ended = s.get(&format!("/api/v1/catalog/items/{code}?region=330203&date=2026-10-01"), None).await.json();
        assert_eq!(ended["class"], "01");
        for (body, field) in [
            (json!({"region_prefix": "3302", "code": code, "begin_date": "2026-07-01", "selfpay_prop": 1.2}), "selfpay_prop"),
            (json!({"region_prefix": "3302", "code": code, "begin_date": "2026-07-01"}), "class"),
            (json!({"region_prefix": "3302", "code": "NOPE", "begin_date": "2026-07-01", "class": "01"}), "code"),
            (json!({"region_prefix": "3302", "code": code, "begin_date": "2026-07-01", "price_cap": 1.234}), "price_cap"),
        ] {
            let r = s.post("/api/v1/catalog/overrides", Some(&token), &body).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(r.json()["fields"][0]["field"], field, "{}", r.text());
        }
        let clerk = s.login("clerk").await;
        let r = s.post("/api/v1/catalog/overrides", Some(&clerk),
            &json!({"region_prefix": "3302", "code": code, "begin_date": "2026-07-01", "class": "01"})).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }

    async fn persons_are_found_by_number_or_id(app: App) {
        let s = TestServer::start(app).await;
        let token = s.login("clerk").await;
        let r = s.get("/api/v1/persons/33020000000000000001", Some(&token)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let p = r.json();
        let certno = p["certificate"]["certno"].as_str().unwrap().to_owned();
        assert_eq!(p["enrollments"][0]["insu_admdvs"], "330200");
        let r = s.get(&format!("/api/v1/persons/{certno}"), Some(&token)).await;
        assert_eq!(r.json()["psn_no"], "33020000000000000001");
    }
}
