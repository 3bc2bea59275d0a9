//! Gateway authentication of the national interface over real HTTP, on both
//! databases: each method accepts a correct call and refuses a wrong
//! signature, a stale timestamp, a replay, another institution's message and
//! a revoked credential, writing nothing when it refuses; rotation; the
//! SM2/SM4 round trip; 医保电子凭证 tokens in 1101.

mod common;

use common::TestServer;
use common::fsi::{His, PATH};
use serde_json::{Value, json};
use yibao_app::gateway::FsiAuth;
use yibao_app::gm::{self, Sm2Secret};
use yibao_app::{App, backend_tests};

const H1: &str = "H33020300001";

async fn count(app: &App, sql: &'static str) -> i64 {
    app.db.read(move |tx: &mut dyn yibao_store::Tx| tx.query_one(sql, yibao_store::params![])?.i64(0)).await.unwrap()
}

/// Rows that any accepted call to 9001 or any staff action would add.
async fn written(app: &App) -> (i64, i64, i64) {
    (
        count(app, "SELECT COUNT(*) FROM fsi_signin").await,
        count(app, "SELECT COUNT(*) FROM fsi_message").await,
        count(app, "SELECT COUNT(*) FROM audit_log").await,
    )
}

async fn second_hospital(app: &App) -> String {
    app.db
        .read(|tx: &mut dyn yibao_store::Tx| {
            tx.query_one(
                "SELECT code FROM institution WHERE kind = 'hospital' AND code <> $1 ORDER BY code LIMIT 1",
                yibao_store::params![H1],
            )?
            .text(0)
        })
        .await
        .unwrap()
}

async fn required(app: App) -> (TestServer, String) {
    let mut app = app;
    app.config.fsi_auth = FsiAuth::Required;
    let s = TestServer::start(app).await;
    let admin = s.login("admin").await;
    (s, admin)
}

async fn issue(s: &TestServer, admin: &str, code: &str, body: Value) -> Value {
    let r = s.post(&format!("/api/v1/institutions/{code}/credentials"), Some(admin), &body).await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

fn now_s() -> i64 {
    yibao_store::now_ms() / 1000
}

fn sign_in_body(his: &His<'_>, mac: &str) -> Vec<u8> {
    his.envelope("9001", &his.msgid(), json!({"signIn": {"opter_no": "001", "mac": mac, "ip": "10.0.0.1"}}))
        .to_string()
        .into_bytes()
}

fn tif_headers(paasid: &str, secret: &str, ts: i64, nonce: &str) -> Vec<(&'static str, String)> {
    let sig = yibao_app::fsi::sha256_hex(format!("{ts}{secret}{nonce}{ts}").as_bytes());
    vec![
        ("x-tif-paasid", paasid.to_owned()),
        ("x-tif-timestamp", ts.to_string()),
        ("x-tif-nonce", nonce.to_owned()),
        ("x-tif-signature", sig),
    ]
}

async fn call(s: &TestServer, headers: &[(&str, String)], body: Vec<u8>) -> Value {
    let r = s.post_with_headers(PATH, headers, body).await;
    assert_eq!(r.status, 200, "HTTP 200 always: {}", r.text());
    r.json()
}

async fn refused(s: &TestServer, headers: &[(&str, String)], body: Vec<u8>, reason: &str) {
    let r = call(s, headers, body).await;
    assert_eq!(r["infcode"], -1, "should be refused ({reason}): {r}");
    let msg = r["err_msg"].as_str().unwrap();
    assert!(msg.contains(reason), "expected “{reason}” in “{msg}”");
    assert!(r["output"].is_null());
}

fn upper_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn hmac_headers(key: &str, secret: &str, ts_ms: i64, body: &[u8]) -> Vec<(&'static str, String)> {
    let mut data = format!("{ts_ms}\n").into_bytes();
    data.extend_from_slice(body);
    let mac = upper_hex(&gm::hmac_sm3(secret.as_bytes(), &data));
    vec![("x-ca-key", key.to_owned()), ("x-ca-signature", format!("{ts_ms}:{mac}"))]
}

fn inf_time(ms: i64) -> String {
    yibao_domain::DateTime::from_unix_ms(ms).to_string()
}

/// An SM2/SM4 envelope: `input` encrypted with the SM4 key, `cainfo` signed by the institution.
fn sealed(his: &His<'_>, infno: &str, input: &Value, key: &[u8; 16], signer: &Sm2Secret, at_ms: i64) -> Value {
    let plain = input.to_string();
    let mut env = his.envelope(infno, &his.msgid(), Value::Null);
    env["input"] = Value::String(gm::b64_encode(&gm::sm4_ecb_encrypt(key, plain.as_bytes())));
    env["cainfo"] = Value::String(gm::b64_encode(&signer.sign(&his.fixmedins_code, plain.as_bytes()).unwrap()));
    env["signtype"] = json!("SM2");
    env["enctype"] = json!("SM4");
    env["inf_time"] = json!(inf_time(at_ms));
    env
}

fn key16(hex_text: &str) -> [u8; 16] {
    let bytes: Vec<u8> =
        (0..hex_text.len()).step_by(2).map(|i| u8::from_str_radix(&hex_text[i..i + 2], 16).unwrap()).collect();
    bytes.try_into().unwrap()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

backend_tests! {
    async fn tif_headers_are_checked_and_refusals_write_nothing(app: App) {
        let (s, admin) = required(app.clone()).await;
        let h2 = second_hospital(&app).await;
        let his = His::new(&s, H1);
        // No credential yet: refused, naming the reason.
        refused(&s, &[], sign_in_body(&his, "m0"), "没有有效的接口凭证").await;
        let issued = issue(&s, &admin, H1, json!({"method": "tif"})).await;
        let secret = issued["secret"].as_str().unwrap().to_owned();
        assert_eq!(secret.len(), 64);
        assert_eq!(issued["client_id"], H1);
        assert_eq!(issued["status"], "active");
        // The list never shows the secret.
        let list = s.get(&format!("/api/v1/institutions/{H1}/credentials"), Some(&admin)).await;
        assert_eq!(list.status, 200);
        assert!(!list.text().contains(&secret));
        assert_eq!(list.json()["items"][0]["method"], "tif");
        assert_eq!(list.json()["platform_public_key"].as_str().unwrap().len(), 130);
        // Nor does the audit trail.
        let audit = s.get("/api/v1/audit?target_kind=fsi_credential", Some(&admin)).await;
        assert_eq!(audit.json().as_array().unwrap().len(), 1, "{}", audit.text());
        assert!(!audit.text().contains(&secret));

        let before = written(&app).await;
        let ts = now_s();
        refused(&s, &[], sign_in_body(&his, "m1"), "缺少请求头 x-tif-paasid").await;
        let mut no_sig = tif_headers(H1, &secret, ts, "n-1");
        no_sig.pop();
        refused(&s, &no_sig, sign_in_body(&his, "m1"), "缺少请求头 x-tif-signature").await;
        refused(&s, &tif_headers(H1, "not-the-secret", ts, "n-2"), sign_in_body(&his, "m1"), "签名不正确").await;
        refused(&s, &tif_headers(H1, &secret, ts - 400, "n-3"), sign_in_body(&his, "m1"), "时间戳超出允许范围（±300秒）").await;
        refused(&s, &tif_headers(H1, &secret, ts + 400, "n-3b"), sign_in_body(&his, "m1"), "时间戳超出允许范围").await;
        // H1's credential on a message of another institution.
        let other = His::new(&s, &h2);
        refused(&s, &tif_headers(H1, &secret, ts, "n-4"), sign_in_body(&other, "m1"), "不符").await;
        let mut long = tif_headers(H1, &secret, ts, "n-5");
        long[2].1 = "x".repeat(200);
        refused(&s, &long, sign_in_body(&his, "m1"), "过长").await;
        assert_eq!(written(&app).await, before, "refused calls write nothing");

        // A correct call is accepted; the same nonce again is a replay.
        let good = tif_headers(H1, &secret, ts, "n-ok");
        let r = call(&s, &good, sign_in_body(&his, "m2")).await;
        assert_eq!(r["infcode"], 0, "{r}");
        assert!(r["output"]["signinoutb"]["sign_no"].is_string());
        let after_ok = written(&app).await;
        assert_eq!(after_ok.0, before.0 + 1);
        refused(&s, &good, sign_in_body(&his, "m3"), "随机数已使用（重放）").await;
        assert_eq!(written(&app).await, after_ok);

        // Rotation: the new secret works at once, the old one during the grace period.
        let id = issued["id"].as_str().unwrap().to_owned();
        let rotated = s.post(&format!("/api/v1/institutions/{H1}/credentials/{id}/rotate"), Some(&admin), &json!({})).await;
        assert_eq!(rotated.status, 200, "{}", rotated.text());
        let rotated = rotated.json();
        let new_secret = rotated["secret"].as_str().unwrap().to_owned();
        assert_ne!(new_secret, secret);
        let ok = call(&s, &tif_headers(H1, &new_secret, now_s(), "n-new"), sign_in_body(&his, "m4")).await;
        assert_eq!(ok["infcode"], 0, "{ok}");
        let ok = call(&s, &tif_headers(H1, &secret, now_s(), "n-old"), sign_in_body(&his, "m5")).await;
        assert_eq!(ok["infcode"], 0, "old secret within the grace period: {ok}");
        let list = s.get(&format!("/api/v1/institutions/{H1}/credentials"), Some(&admin)).await.json();
        let statuses: Vec<&str> = list["items"].as_array().unwrap().iter().map(|c| c["status"].as_str().unwrap()).collect();
        assert_eq!(statuses, ["active", "rotated"]);
        // A second active credential is refused: rotate instead.
        let dup = s.post(&format!("/api/v1/institutions/{H1}/credentials"), Some(&admin), &json!({"method": "tif"})).await;
        assert_eq!(dup.status, 409, "{}", dup.text());

        // Revoking ends the old one at once; then the new one.
        let r = s.post(&format!("/api/v1/institutions/{H1}/credentials/{id}/revoke"), Some(&admin), &json!({})).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["status"], "revoked");
        refused(&s, &tif_headers(H1, &secret, now_s(), "n-old2"), sign_in_body(&his, "m6"), "签名不正确").await;
        let new_id = rotated["id"].as_str().unwrap();
        let r = s.post(&format!("/api/v1/institutions/{H1}/credentials/{new_id}/revoke"), Some(&admin), &json!({})).await;
        assert_eq!(r.status, 200);
        let before = written(&app).await;
        refused(&s, &tif_headers(H1, &new_secret, now_s(), "n-new2"), sign_in_body(&his, "m7"), "没有有效的接口凭证").await;
        assert_eq!(written(&app).await, before);

        // A clerk (no institution permission) cannot issue; scope and permission as elsewhere.
        let clerk = s.login("clerk").await;
        let r = s.post(&format!("/api/v1/institutions/{H1}/credentials"), Some(&clerk), &json!({"method": "tif"})).await;
        assert_eq!(r.status, 403, "{}", r.text());
        let r = s.post(&format!("/api/v1/institutions/{H1}/credentials"), Some(&admin), &json!({"method": "md5"})).await;
        assert_eq!(r.status, 400, "{}", r.text());
    }

    async fn hmac_sm3_headers_are_checked(app: App) {
        let (s, admin) = required(app.clone()).await;
        let h2 = second_hospital(&app).await;
        let issued = issue(&s, &admin, H1, json!({"method": "hmac_sm3"})).await;
        let secret = issued["secret"].as_str().unwrap().to_owned();
        let his = His::new(&s, H1);
        let before = written(&app).await;
        let body = sign_in_body(&his, "h1");
        let now = yibao_store::now_ms();
        refused(&s, &[], body.clone(), "缺少请求头 x-ca-key").await;
        refused(&s, &hmac_headers(H1, &secret, now, &body)[..1], body.clone(), "缺少请求头 x-ca-signature").await;
        refused(&s, &hmac_headers(H1, "wrong", now, &body), body.clone(), "签名不正确").await;
        // The body is signed: a changed body does not verify.
        refused(&s, &hmac_headers(H1, &secret, now, &body), sign_in_body(&his, "h2"), "签名不正确").await;
        refused(&s, &hmac_headers(H1, &secret, now - 301_000, &body), body.clone(), "时间戳超出允许范围（±300秒）").await;
        let other = sign_in_body(&His::new(&s, &h2), "h1");
        refused(&s, &hmac_headers(H1, &secret, now, &other), other.clone(), "不符").await;
        let mut malformed = hmac_headers(H1, &secret, now, &body);
        malformed[1].1 = "abc".into();
        refused(&s, &malformed, body.clone(), "x-ca-signature 格式").await;
        // TIF headers for an HMAC-SM3 institution: the method must match.
        refused(&s, &tif_headers(H1, &secret, now / 1000, "n"), body.clone(), "认证方式为 hmac_sm3").await;
        assert_eq!(written(&app).await, before, "refused calls write nothing");

        let good = hmac_headers(H1, &secret, now, &body);
        let r = call(&s, &good, body.clone()).await;
        assert_eq!(r["infcode"], 0, "{r}");
        refused(&s, &good, body.clone(), "随机数已使用（重放）").await;
        assert_eq!(written(&app).await.0, before.0 + 1);

        // A multipart 9101 upload: the HMAC covers the raw multipart body and
        // the institution is checked against the envelope inside it.
        let mut up = His::new(&s, H1);
        up.sign_no = r["output"]["signinoutb"]["sign_no"].as_str().unwrap().to_owned();
        let envelope = up.envelope("9101", &up.msgid(), json!({"fsUploadIn": {"filename": "dz.txt"}}));
        let boundary = "yibaoBoundary";
        let multipart = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"jsonStr\"\r\n\r\n{envelope}\r\n--{boundary}\r\n\
             Content-Disposition: form-data; name=\"file\"; filename=\"dz.txt\"\r\n\r\nS1\tM1\tP1\t1.00\t0.00\t0.00\t0\n\r\n\
             --{boundary}--\r\n"
        )
        .into_bytes();
        let mut headers = hmac_headers(H1, &secret, yibao_store::now_ms(), &multipart);
        headers.push(("content-type", format!("multipart/form-data; boundary={boundary}")));
        let r = call(&s, &headers, multipart.clone()).await;
        assert_eq!(r["infcode"], 0, "{r}");
        assert!(r["output"]["file_qury_no"].is_string(), "{r}");
        // The file's bytes are signed too: a changed settlement id does not verify.
        let tampered = String::from_utf8(multipart).unwrap().replace("S1\tM1", "S2\tM1").into_bytes();
        refused(&s, &headers, tampered, "签名不正确").await;

        let id = issued["id"].as_str().unwrap();
        let r = s.post(&format!("/api/v1/institutions/{H1}/credentials/{id}/revoke"), Some(&admin), &json!({})).await;
        assert_eq!(r.status, 200);
        let body = sign_in_body(&his, "h3");
        refused(&s, &hmac_headers(H1, &secret, yibao_store::now_ms(), &body), body, "没有有效的接口凭证").await;
    }

    async fn sm2_sm4_round_trip_through_the_endpoint(app: App) {
        let (s, admin) = required(app.clone()).await;
        let inst_key = Sm2Secret::generate().unwrap();
        // A public key without a point on the curve is refused.
        let r = s.post(&format!("/api/v1/institutions/{H1}/credentials"), Some(&admin),
            &json!({"method": "sm2_sm4", "public_key": format!("04{}", "11".repeat(64))})).await;
        assert_eq!(r.status, 400, "{}", r.text());
        let issued = issue(&s, &admin, H1, json!({"method": "sm2_sm4", "public_key": inst_key.public_hex()})).await;
        let sm4_key = key16(issued["secret"].as_str().unwrap());
        let platform_public = unhex(issued["platform_public_key"].as_str().unwrap());
        let mut his = His::new(&s, H1);
        let now = yibao_store::now_ms();

        // Sign in, encrypted both ways.
        let input = json!({"signIn": {"opter_no": "001", "mac": "00-11-22-33-44-55", "ip": "10.0.0.1"}});
        let r = call(&s, &[], sealed(&his, "9001", &input, &sm4_key, &inst_key, now).to_string().into_bytes()).await;
        assert_eq!(r["infcode"], 0, "{r}");
        assert_eq!(r["signtype"], "SM2");
        assert_eq!(r["enctype"], "SM4");
        let cipher = gm::b64_decode(r["output"].as_str().expect("output is ciphertext")).unwrap();
        let plain = gm::sm4_ecb_decrypt(&sm4_key, &cipher).unwrap();
        let cainfo = gm::b64_decode(r["cainfo"].as_str().unwrap()).unwrap();
        assert!(gm::sm2_verify(&platform_public, H1, &plain, &cainfo), "response signed by the platform");
        let output: Value = serde_json::from_slice(&plain).unwrap();
        his.sign_no = output["signinoutb"]["sign_no"].as_str().unwrap().to_owned();

        // 1101 with an encrypted query.
        let certno = insured_person(&app).await;
        let query = json!({"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": certno.1, "psn_cert_type": "01"}});
        let env = sealed(&his, "1101", &query, &sm4_key, &inst_key, now);
        let r = call(&s, &[], env.to_string().into_bytes()).await;
        assert_eq!(r["infcode"], 0, "{r}");
        let plain = gm::sm4_ecb_decrypt(&sm4_key, &gm::b64_decode(r["output"].as_str().unwrap()).unwrap()).unwrap();
        let out: Value = serde_json::from_slice(&plain).unwrap();
        assert_eq!(out["baseinfo"]["psn_no"], certno.0.as_str());

        let before = written(&app).await;
        let sign_in2 = json!({"signIn": {"opter_no": "001", "mac": "other", "ip": "10.0.0.2"}});
        // Replay of the same sealed message.
        refused(&s, &[], env.to_string().into_bytes(), "随机数已使用（重放）").await;
        // Stale inf_time.
        let stale = sealed(&his, "9001", &sign_in2, &sm4_key, &inst_key, now - 400_000);
        refused(&s, &[], stale.to_string().into_bytes(), "时间戳超出允许范围（±300秒）").await;
        // Signed by another key.
        let intruder = Sm2Secret::generate().unwrap();
        let forged = sealed(&his, "9001", &sign_in2, &sm4_key, &intruder, now);
        refused(&s, &[], forged.to_string().into_bytes(), "签名不正确").await;
        // cainfo of other content.
        let mut swapped = sealed(&his, "9001", &sign_in2, &sm4_key, &inst_key, now);
        swapped["cainfo"] = sealed(&his, "9001", &input, &sm4_key, &inst_key, now)["cainfo"].clone();
        refused(&s, &[], swapped.to_string().into_bytes(), "签名不正确").await;
        // Encrypted with another key.
        let wrong_key = sealed(&his, "9001", &sign_in2, &[7u8; 16], &inst_key, now);
        refused(&s, &[], wrong_key.to_string().into_bytes(), "解密失败").await;
        // Plain input from an sm2_sm4 institution under `required`.
        refused(&s, &[], sign_in_body(&his, "plain"), "SM2/SM4").await;
        // Another institution's envelope sealed with H1's keys: H2 has no credential.
        let h2 = second_hospital(&app).await;
        let other = sealed(&His::new(&s, &h2), "9001", &sign_in2, &sm4_key, &inst_key, now);
        refused(&s, &[], other.to_string().into_bytes(), "没有有效的接口凭证").await;
        assert_eq!(written(&app).await, before, "refused calls write nothing");

        // Revoked.
        let id = issued["id"].as_str().unwrap();
        let r = s.post(&format!("/api/v1/institutions/{H1}/credentials/{id}/revoke"), Some(&admin), &json!({})).await;
        assert_eq!(r.status, 200);
        let after = sealed(&his, "9001", &sign_in2, &sm4_key, &inst_key, now);
        refused(&s, &[], after.to_string().into_bytes(), "没有有效的接口凭证").await;
    }

    async fn evoucher_tokens_identify_the_person_in_1101(app: App) {
        let s = TestServer::start(app.clone()).await;
        let clerk = s.login("clerk").await;
        let (psn_no, _certno) = insured_person(&app).await;
        let r = s.post(&format!("/api/v1/persons/{psn_no}/evoucher"), Some(&clerk), &json!({})).await;
        assert_eq!(r.status, 201, "{}", r.text());
        let token = r.json()["token"].as_str().unwrap().to_owned();
        assert!(token.starts_with("EV1."), "{token}");
        let audit = s.get("/api/v1/audit?action=evoucher.issue", Some(&s.login("admin").await)).await;
        assert!(!audit.text().contains(&token), "the token is never recorded");
        let missing = s.post("/api/v1/persons/NOSUCHPERSON/evoucher", Some(&clerk), &json!({})).await;
        assert_eq!(missing.status, 404, "{}", missing.text());

        let mut his = His::new(&s, H1);
        his.sign_in().await;
        let out = his.ok("1101", json!({"data": {"mdtrt_cert_type": "01", "mdtrt_cert_no": token}})).await;
        assert_eq!(out["baseinfo"]["psn_no"], psn_no.as_str());

        // Tampered: another person's number under the same signature.
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[1] = "33020000000000000099".into();
        let e = his.err("1101", json!({"data": {"mdtrt_cert_type": "01", "mdtrt_cert_no": parts.join(".")}})).await;
        assert!(e.contains("签名无效"), "{e}");
        // Expired: issued 10 minutes ago with the platform key.
        let old = yibao_app::evoucher::issue(&app.evoucher, &psn_no, app.now_ms() - 600_000).unwrap();
        let e = his.err("1101", json!({"data": {"mdtrt_cert_type": "01", "mdtrt_cert_no": old.token}})).await;
        assert!(e.contains("已过期"), "{e}");
        let e = his.err("1101", json!({"data": {"mdtrt_cert_type": "01", "mdtrt_cert_no": "not-a-token"}})).await;
        assert!(e.contains("格式"), "{e}");
    }
}

/// A demo insured person with an active basic enrollment: (psn_no, certno).
async fn insured_person(app: &App) -> (String, String) {
    app.db
        .read(move |tx: &mut dyn yibao_store::Tx| {
            let r = tx.query_one(
                "SELECT p.psn_no, p.certno FROM person p JOIN enrollment e ON e.psn_no = p.psn_no \
                 WHERE e.insutype = '390' AND e.status = 'active' AND p.admdvs LIKE '3302%' ORDER BY p.psn_no LIMIT 1",
                yibao_store::params![],
            )?;
            Ok::<_, yibao_store::DbError>((r.text(0)?, r.text(1)?))
        })
        .await
        .unwrap()
}
