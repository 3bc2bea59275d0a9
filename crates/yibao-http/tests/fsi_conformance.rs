//! Conformance with real client messages: every sample request parses, and
//! for every transaction with a sample answer, yibao's answer has the same
//! keys with compatible JSON types in the same nesting. Also: no input
//! panics the parser (property test).

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use common::TestServer;
use common::fsi::His;
use proptest::prelude::*;
use serde_json::{Value, json};
use yibao_app::{App, backend_tests};

fn samples() -> Vec<(String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/samples");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let value: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            out.push((name, value));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn every_sample_request_parses() {
    let requests: Vec<_> = samples().into_iter().filter(|(n, _)| n.contains("-request-")).collect();
    assert!(requests.len() >= 8, "the sample requests are present");
    for (name, body) in requests {
        let bytes = serde_json::to_vec(&body).unwrap();
        match yibao_http::fsi::parse_request(&bytes, None) {
            Ok((_, infno, _)) => assert!(name.starts_with(&infno[..4]), "{name} parsed as {infno}"),
            Err(e) => panic!("{name} does not parse: {}", yibao_http::fsi::err_msg(&e)),
        }
        // Sent as text/plain, as some clients do, it parses the same.
        let text = String::from_utf8(bytes).unwrap();
        assert!(yibao_http::fsi::parse_request(text.as_bytes(), None).is_ok());
    }
}

/// Key paths of a JSON document with their type; arrays by their first element.
fn shape(v: &Value, prefix: &str, out: &mut BTreeMap<String, &'static str>) {
    let kind = |v: &Value| match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    match v {
        Value::Object(map) => {
            for (k, x) in map {
                let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                out.insert(p.clone(), kind(x));
                shape(x, &p, out);
            }
        }
        Value::Array(items) => {
            if let Some(first) = items.first() {
                shape(first, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

/// Differences of `ours` from `sample`: keys missing, or types that differ
/// (a `null` in the sample matches anything).
fn differences(sample: &Value, ours: &Value) -> Vec<String> {
    let (mut s, mut o) = (BTreeMap::new(), BTreeMap::new());
    shape(sample, "", &mut s);
    shape(ours, "", &mut o);
    let mut diffs = Vec::new();
    for (path, kind) in &s {
        match o.get(path) {
            None => diffs.push(format!("missing {path} ({kind})")),
            Some(mine) if *kind != "null" && mine != kind && *mine != "null" => {
                diffs.push(format!("{path}: sample {kind}, ours {mine}"))
            }
            _ => {}
        }
    }
    diffs
}

async fn person(app: &App) -> (String, String) {
    app.db
        .read(|tx: &mut dyn yibao_store::Tx| {
            let r = tx.query_one(
                "SELECT p.psn_no, p.certno FROM person p JOIN enrollment e ON e.psn_no = p.psn_no \
                 WHERE e.insutype = '390' AND e.psn_type = '1501' AND e.status = 'active' ORDER BY p.psn_no LIMIT 1",
                yibao_store::params![],
            )?;
            Ok::<_, yibao_store::DbError>((r.text(0)?, r.text(1)?))
        })
        .await
        .unwrap()
}

backend_tests! {
    async fn answers_have_the_shapes_of_real_answers(app: App) {
        let s = TestServer::start(app.clone()).await;
        let (psn_no, certno) = person(&app).await;
        let mut his = His::new(&s, "H33020300001");
        let mut ours: BTreeMap<&str, Value> = BTreeMap::new();
        let sign_in = his.call("9001", json!({"signIn": {"opter_no": "001", "mac": "m", "ip": "1.2.3.4"}})).await;
        his.sign_no = sign_in["output"]["signinoutb"]["sign_no"].as_str().unwrap().to_owned();
        ours.insert("9001", sign_in);
        ours.insert("1101", his.call("1101", json!({"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": certno}})).await);
        let reg = his.call("2201", json!({"data": {"psn_no": psn_no, "insutype": "390", "begntime": "2026-11-22 09:35:00",
            "mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "ipt_otp_no": "MZ1"}})).await;
        let mdtrt_id = reg["output"]["data"]["mdtrt_id"].as_str().unwrap().to_owned();
        ours.insert("2201", reg);
        ours.insert("2203A", his.call("2203A", json!({"mdtrtinfo": {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "med_type": "11",
            "begntime": "2026-11-22 09:35:00"}, "diseinfo": []})).await);
        let line = json!({"feedetl_sn": "1", "mdtrt_id": mdtrt_id, "psn_no": psn_no, "chrg_bchno": "B1",
            "fee_ocur_time": "2026-11-22 09:40:00", "med_list_codg": "YP2024-X-0632-01", "medins_list_codg": "H1",
            "det_item_fee_sumamt": "50.00", "cnt": "4", "pric": "12.5"});
        ours.insert("2204", his.call("2204", json!({"feedetail": [line]})).await);
        let settle = json!({"data": {"psn_no": psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "med_type": "11",
            "medfee_sumamt": "50.00", "psn_setlway": "01", "mdtrt_id": mdtrt_id, "chrg_bchno": "B1", "insutype": "390",
            "acct_used_flag": "0"}});
        ours.insert("2206", his.call("2206", settle.clone()).await);
        let settled = his.call("2207", settle.clone()).await;
        let setl_id = settled["output"]["setlinfo"]["setl_id"].as_str().unwrap().to_owned();
        ours.insert("2207", settled);
        ours.insert("5203like", his.call("5203", json!({"data": {"psn_no": psn_no, "setl_id": setl_id, "mdtrt_id": mdtrt_id}})).await);
        ours.insert("2208", his.call("2208", json!({"data": {"setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": psn_no}})).await);
        let adm = his.call("2401", json!({"mdtrtinfo": {"psn_no": psn_no, "insutype": "390", "begntime": "2026-11-20 08:00:00",
            "mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "med_type": "21", "ipt_no": "ZY1"}, "diseinfo": []})).await;
        let ipt = adm["output"]["result"]["mdtrt_id"].as_str().unwrap().to_owned();
        ours.insert("2401", adm);
        let iline = json!({"feedetl_sn": "1", "mdtrt_id": ipt, "psn_no": psn_no, "med_type": "21",
            "fee_ocur_time": "2026-11-21 09:40:00", "med_list_codg": "YP2024-X-0632-01", "medins_list_codg": "H1",
            "det_item_fee_sumamt": "50.00", "cnt": "4", "pric": "12.5"});
        ours.insert("2301", his.call("2301", json!({"feedetail": [iline]})).await);
        ours.insert("2402", his.call("2402", json!({"dscginfo": {"mdtrt_id": ipt, "psn_no": psn_no, "insutype": "390",
            "endtime": "2026-11-22 09:00:00"}, "diseinfo": []})).await);
        let isettle = json!({"data": {"psn_no": psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "medfee_sumamt": "50.00",
            "psn_setlway": "01", "mdtrt_id": ipt, "insutype": "390", "acct_used_flag": "0", "mid_setl_flag": "0"}});
        ours.insert("2303", his.call("2303", isettle.clone()).await);
        let isettled = his.call("2304", isettle.clone()).await;
        let isetl = isettled["output"]["setlinfo"]["setl_id"].as_str().unwrap().to_owned();
        ours.insert("2304", isettled);
        ours.insert("2305", his.call("2305", json!({"data": {"mdtrt_id": ipt, "setl_id": isetl, "psn_no": psn_no}})).await);
        let sign_no = his.sign_no.clone();
        ours.insert("9002", his.call("9002", json!({"signOut": {"sign_no": sign_no, "opter_no": "001"}})).await);
        for (key, answer) in &ours {
            assert_eq!(answer["infcode"], 0, "{key}: {answer}");
        }

        let mut compared = 0;
        let mut all_diffs = Vec::new();
        for (name, sample) in samples().into_iter().filter(|(n, _)| n.contains("-response-")) {
            let infno = name.split('-').next().unwrap();
            let succeeded = sample["infcode"] == json!(0) || sample["infcode"] == json!("0");
            let Some(answer) = ours.get(infno) else { continue };
            if !succeeded {
                continue;
            }
            // The envelope keys every answer carries.
            for key in ["infcode", "inf_refmsgid", "refmsg_time", "respond_time", "err_msg", "output"] {
                if sample.get(key).is_some() {
                    assert!(answer.get(key).is_some(), "{name}: envelope key {key} missing");
                }
            }
            let mut diffs = differences(&sample["output"], &answer["output"]);
            if infno == "5203like" {
                // A Hunan local variant that writes some amounts as strings:
                // keys must match; types follow the national spec (numbers).
                diffs.retain(|d| d.starts_with("missing"));
            }
            if !diffs.is_empty() {
                all_diffs.push(format!("{name} vs our {infno}: {diffs:?}"));
            }
            compared += 1;
        }
        assert!(all_diffs.is_empty(), "{all_diffs:#?}");
        assert!(compared >= 18, "compared {compared} sample answers");
    }
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[0-9]{1,20}(\\.[0-9]{1,8})?".prop_map(|s| serde_json::from_str(&s).unwrap_or(Value::Null)),
        "\\PC{0,30}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    "[a-z_]{1,12}",
                    Just("infno".to_owned()),
                    Just("input".to_owned()),
                    Just("data".to_owned()),
                    Just("feedetail".to_owned())
                ],
                inner,
                0..8
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Arbitrary bytes never panic the parser.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = yibao_http::fsi::parse_request(&bytes, None);
    }

    /// Envelopes of valid shape with arbitrary input for every transaction
    /// never panic, and a refusal always names a reason.
    #[test]
    fn arbitrary_inputs_never_panic(infno in prop::sample::select(yibao_http::fsi::SUPPORTED.to_vec()), input in arbitrary_json()) {
        let body = json!({"infno": infno, "msgid": "H33020300001202611220930000001", "mdtrtarea_admvs": "330200",
            "infver": "V1.0", "opter_type": "1", "opter": "001", "opter_name": "x", "inf_time": "2026-11-22 09:30:00",
            "fixmedins_code": "H33020300001", "sign_no": "1", "input": input});
        if let Err(e) = yibao_http::fsi::parse_request(&serde_json::to_vec(&body).unwrap(), None) {
            prop_assert!(!yibao_http::fsi::err_msg(&e).is_empty());
        }
    }

    /// Mutating a real message field by field never panics.
    #[test]
    fn mutated_samples_never_panic(which in 0usize..8, key in "[a-z_]{1,10}", value in arbitrary_json()) {
        let requests: Vec<_> = samples().into_iter().filter(|(n, _)| n.contains("-request-")).collect();
        let (_, mut body) = requests[which % requests.len()].clone();
        if let Some(input) = body.get_mut("input").and_then(Value::as_object_mut) {
            for node in input.values_mut() {
                if let Some(obj) = node.as_object_mut() {
                    obj.insert(key.clone(), value.clone());
                }
            }
        }
        body[key.as_str()] = value;
        let _ = yibao_http::fsi::parse_request(&serde_json::to_vec(&body).unwrap(), None);
    }
}
