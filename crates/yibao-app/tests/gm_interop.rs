//! Interoperability of the 国密 primitives with an independent
//! implementation: the pure-Python `gmssl` package (PyPI). Python computes
//! SM3 digests, HMAC-SM3 (RFC 2104 over gmssl's SM3), SM4-ECB/PKCS#7
//! ciphertext and SM2 signatures that Rust must match or verify, and verifies
//! a Rust SM2 signature.
//!
//! Skipped (with a note) when python3 with gmssl is not installed, unless
//! `YIBAO_REQUIRE_GMSSL=1` (CI), in which case its absence fails the test.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use yibao_app::gm::{self, SM2_DEFAULT_USER_ID, Sm2Secret};

const SCRIPT: &str = r#"
import json, sys
from gmssl import sm2, sm3, sm4, func

req = json.load(sys.stdin)
data = bytes.fromhex(req["data"])

def sm3_bytes(b):
    return bytes.fromhex(sm3.sm3_hash(func.bytes_to_list(b)))

def hmac_sm3(key, msg):
    if len(key) > 64:
        key = sm3_bytes(key)
    key = key.ljust(64, b"\0")
    inner = sm3_bytes(bytes(k ^ 0x36 for k in key) + msg)
    return sm3_bytes(bytes(k ^ 0x5C for k in key) + inner).hex()

enc = sm4.CryptSM4()
enc.set_key(bytes.fromhex(req["sm4_key"]), sm4.SM4_ENCRYPT)
dec = sm4.CryptSM4()
dec.set_key(bytes.fromhex(req["sm4_key"]), sm4.SM4_DECRYPT)

rust = sm2.CryptSM2(private_key="", public_key=req["rust_public"])
mine = sm2.CryptSM2(private_key=req["py_private"], public_key="")
mine.public_key = mine._kg(int(req["py_private"], 16), sm2.default_ecc_table["g"])

print(json.dumps({
    "sm3": sm3.sm3_hash(func.bytes_to_list(data)),
    "hmac_sm3": hmac_sm3(req["hmac_key"].encode(), data),
    "sm4": enc.crypt_ecb(data).hex(),
    "sm4_plain": dec.crypt_ecb(bytes.fromhex(req["rust_sm4"])).hex(),
    "rust_sig_ok": rust.verify_with_sm3(req["rust_sig"], data),
    "rust_sig_on_other_data_ok": rust.verify_with_sm3(req["rust_sig"], data + b"x"),
    "py_public": mine.public_key,
    "py_sig": mine.sign_with_sm3(data),
}))
"#;

/// A key whose public x‖y hex starts with neither 0 nor 4: gmssl strips a
/// leading "04" with `lstrip`, which would eat such digits of x.
fn gmssl_safe_key() -> Sm2Secret {
    loop {
        let k = Sm2Secret::generate().unwrap();
        let xy = &k.public_hex()[2..];
        if !xy.starts_with('0') && !xy.starts_with('4') {
            return k;
        }
    }
}

fn run_python(input: &Value) -> Option<Value> {
    let required = std::env::var("YIBAO_REQUIRE_GMSSL").is_ok_and(|v| v == "1");
    let probe = Command::new("python3").args(["-c", "import gmssl"]).output();
    if !probe.as_ref().is_ok_and(|o| o.status.success()) {
        if required {
            panic!("YIBAO_REQUIRE_GMSSL=1 but python3 with gmssl is unavailable: {probe:?}");
        }
        eprintln!("python3 with gmssl not available (pip install gmssl): gmssl interoperability test skipped");
        return None;
    }
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python3");
    child.stdin.take().unwrap().write_all(input.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
    Some(serde_json::from_slice(&out.stdout).expect("python prints JSON"))
}

#[test]
fn gm_primitives_agree_with_gmssl() {
    // A realistic message: an envelope input with Chinese text, not a block multiple.
    let data = r#"{"data":{"mdtrt_cert_type":"02","mdtrt_cert_no":"330203199001011234","psn_name":"张三"}}"#;
    let data = data.as_bytes();
    let sm4_key: [u8; 16] = *b"0123456789abcdef";
    let hmac_key = "5f2b1c0e9a8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a29180f1e2d3c4b5a697887";
    let rust_key = gmssl_safe_key();
    let py_key = gmssl_safe_key();
    let rust_sig = rust_key.sign(SM2_DEFAULT_USER_ID, data).unwrap();
    let rust_sm4 = gm::sm4_ecb_encrypt(&sm4_key, data);
    let Some(py) = run_python(&json!({
        "data": hex(data),
        "sm4_key": hex(&sm4_key),
        "hmac_key": hmac_key,
        "rust_public": &rust_key.public_hex()[2..],
        "rust_sig": hex(&rust_sig),
        "rust_sm4": hex(&rust_sm4),
        "py_private": py_key.to_hex(),
    })) else {
        return;
    };

    // (a) digests, MACs and ciphertext match byte for byte.
    assert_eq!(py["sm3"], gm::sm3_hex(data));
    assert_eq!(py["hmac_sm3"], hex(&gm::hmac_sm3(hmac_key.as_bytes(), data)));
    assert_eq!(py["sm4"], hex(&rust_sm4), "SM4-ECB/PKCS#7 ciphertext");
    assert_eq!(py["sm4_plain"], hex(data), "gmssl decrypts Rust's ciphertext");
    let py_cipher = unhex(py["sm4"].as_str().unwrap());
    assert_eq!(gm::sm4_ecb_decrypt(&sm4_key, &py_cipher).unwrap(), data);

    // (b) SM2: gmssl verifies Rust's signature (r‖s, user id 1234567812345678)…
    assert_eq!(py["rust_sig_ok"], true);
    assert_eq!(py["rust_sig_on_other_data_ok"], false);
    // … derives the same public key from the same private key, and its
    // randomized signature verifies in Rust.
    assert_eq!(py["py_public"].as_str().unwrap(), &py_key.public_hex()[2..]);
    let py_public = gm::parse_sm2_public(py["py_public"].as_str().unwrap()).unwrap();
    let py_sig = unhex(py["py_sig"].as_str().unwrap());
    assert_eq!(py_sig.len(), 64);
    assert!(gm::sm2_verify(&py_public, SM2_DEFAULT_USER_ID, data, &py_sig));
    assert!(!gm::sm2_verify(&py_public, SM2_DEFAULT_USER_ID, b"other", &py_sig));
    assert!(!gm::sm2_verify(&py_public, "another-user-id", data, &py_sig), "the user id is bound");
    // DER (as Java's SM3withSM2 produces) of the same signature verifies too.
    let der = gm::rs_to_der(&py_sig.clone().try_into().unwrap());
    assert!(gm::sm2_verify(&py_public, SM2_DEFAULT_USER_ID, data, &der));
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}
