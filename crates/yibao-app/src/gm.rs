//! 国密 (GM/T) primitives used by gateway authentication and e-voucher
//! tokens, over the RustCrypto `sm2`, `sm3` and `sm4` crates: SM3 digests and
//! HMAC-SM3, SM4-ECB with PKCS#7 padding, and SM2 signatures (SM3withSM2,
//! with a distinguishing user id, as fixed-size r‖s).
//!
//! Interoperability with an independent implementation (PyPI `gmssl`) is
//! checked by `tests/gm_interop.rs`.

use hmac::{KeyInit, Mac};
use sm2::dsa::signature::{Signer, Verifier};
use sm2::dsa::{Signature, SigningKey, VerifyingKey};
use sm3::{Digest, Sm3};
use sm4::Sm4;
use sm4::cipher::{BlockCipherDecrypt, BlockCipherEncrypt};

/// The user id GM/T 0009 recommends and most SDKs (gmssl, BouncyCastle) default to.
pub const SM2_DEFAULT_USER_ID: &str = "1234567812345678";

const SM4_BLOCK: usize = 16;

/// Lowercase hex SM3 digest.
pub fn sm3_hex(data: &[u8]) -> String {
    hex::encode(Sm3::digest(data))
}

/// HMAC-SM3 (RFC 2104 over SM3).
pub fn hmac_sm3(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = hmac::Hmac::<Sm3>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// SM4-ECB encryption with PKCS#7 padding (always at least one byte of padding).
pub fn sm4_ecb_encrypt(key: &[u8; 16], plain: &[u8]) -> Vec<u8> {
    let cipher = Sm4::new(key.into());
    let pad = SM4_BLOCK - plain.len() % SM4_BLOCK;
    let mut data = Vec::with_capacity(plain.len() + pad);
    data.extend_from_slice(plain);
    data.resize(plain.len() + pad, pad as u8);
    for block in data.chunks_exact_mut(SM4_BLOCK) {
        cipher.encrypt_block(block.try_into().expect("16-byte block"));
    }
    data
}

/// SM4-ECB decryption; refuses a length that is not whole blocks or bad padding.
pub fn sm4_ecb_decrypt(key: &[u8; 16], cipher_text: &[u8]) -> Result<Vec<u8>, &'static str> {
    if cipher_text.is_empty() || !cipher_text.len().is_multiple_of(SM4_BLOCK) {
        return Err("密文长度应为16字节的整数倍");
    }
    let cipher = Sm4::new(key.into());
    let mut data = cipher_text.to_vec();
    for block in data.chunks_exact_mut(SM4_BLOCK) {
        cipher.decrypt_block(block.try_into().expect("16-byte block"));
    }
    let pad = *data.last().expect("not empty") as usize;
    if pad == 0 || pad > SM4_BLOCK || !data[data.len() - pad..].iter().all(|&b| b as usize == pad) {
        return Err("解密失败（密钥不正确或密文损坏）");
    }
    data.truncate(data.len() - pad);
    Ok(data)
}

/// An SM2 private key (32 bytes). Debug never shows it.
#[derive(Clone)]
pub struct Sm2Secret([u8; 32]);

impl std::fmt::Debug for Sm2Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sm2Secret(***)")
    }
}

impl Sm2Secret {
    /// A fresh random key.
    pub fn generate() -> Result<Sm2Secret, String> {
        for _ in 0..16 {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
            // Rejects 0 and values ≥ n (probability ~2^-32 each try).
            if SigningKey::from_slice(SM2_DEFAULT_USER_ID, &bytes).is_ok() {
                return Ok(Sm2Secret(bytes));
            }
        }
        Err("cannot generate an SM2 key".into())
    }

    pub fn from_hex(text: &str) -> Result<Sm2Secret, String> {
        let bytes: [u8; 32] = hex::decode(text.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or("SM2 private key must be 64 hex digits")?;
        SigningKey::from_slice(SM2_DEFAULT_USER_ID, &bytes).map_err(|_| "invalid SM2 private key")?;
        Ok(Sm2Secret(bytes))
    }

    /// The private key as hex, for storage only.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The public key as uncompressed SEC1 hex (`04` ‖ x ‖ y, 130 digits).
    pub fn public_hex(&self) -> String {
        let key = SigningKey::from_slice(SM2_DEFAULT_USER_ID, &self.0).expect("validated key");
        hex::encode(key.verifying_key().to_sec1_bytes())
    }

    /// SM3withSM2 signature of `msg` with user id `user_id`, as r‖s (64 bytes).
    /// Deterministic (RFC 6979 nonce), so equal inputs sign equally.
    pub fn sign(&self, user_id: &str, msg: &[u8]) -> Result<[u8; 64], String> {
        let key = SigningKey::from_slice(user_id, &self.0).map_err(|_| "SM2 用户标识无效".to_owned())?;
        let sig: Signature = key.try_sign(msg).map_err(|e| format!("SM2 签名失败：{e}"))?;
        Ok(sig.to_bytes().into())
    }
}

/// Parses an SM2 public key given as hex: uncompressed (`04…`, 130 digits),
/// compressed (`02…`/`03…`, 66 digits) or bare x‖y (128 digits, as gmssl prints it).
pub fn parse_sm2_public(text: &str) -> Result<Vec<u8>, String> {
    let t = text.trim();
    if t.len() > 200 {
        return Err("SM2公钥过长".into());
    }
    let mut bytes = hex::decode(t).map_err(|_| "SM2公钥应为十六进制".to_owned())?;
    if bytes.len() == 64 {
        bytes.insert(0, 0x04);
    }
    VerifyingKey::from_sec1_bytes(SM2_DEFAULT_USER_ID, &bytes).map_err(|_| "SM2公钥不是曲线上的有效点".to_owned())?;
    Ok(bytes)
}

/// Verifies an SM3withSM2 signature given as r‖s (64 bytes) or DER.
pub fn sm2_verify(public_sec1: &[u8], user_id: &str, msg: &[u8], signature: &[u8]) -> bool {
    let Ok(key) = VerifyingKey::from_sec1_bytes(user_id, public_sec1) else { return false };
    let rs = match signature.len() {
        64 => signature.try_into().ok(),
        _ => der_to_rs(signature),
    };
    rs.and_then(|rs: [u8; 64]| Signature::from_slice(&rs).ok()).is_some_and(|sig| key.verify(msg, &sig).is_ok())
}

/// r‖s of a DER `SEQUENCE { INTEGER r, INTEGER s }` (what Java's
/// BouncyCastle `SM3withSM2` produces), or `None` when malformed.
pub fn der_to_rs(der: &[u8]) -> Option<[u8; 64]> {
    fn int(input: &[u8]) -> Option<(&[u8], &[u8])> {
        let (&tag, rest) = input.split_first()?;
        let (&len, rest) = rest.split_first()?;
        let len = len as usize;
        if tag != 0x02 || len == 0 || len > 33 || rest.len() < len {
            return None;
        }
        let (value, rest) = rest.split_at(len);
        let value = if value.len() == 33 && value[0] == 0 { &value[1..] } else { value };
        (value.len() <= 32).then_some((value, rest))
    }
    let (&tag, rest) = der.split_first()?;
    let (&len, body) = rest.split_first()?;
    if tag != 0x30 || len as usize != body.len() {
        return None;
    }
    let (r, rest) = int(body)?;
    let (s, rest) = int(rest)?;
    if !rest.is_empty() {
        return None;
    }
    let mut out = [0u8; 64];
    out[32 - r.len()..32].copy_from_slice(r);
    out[64 - s.len()..].copy_from_slice(s);
    Some(out)
}

/// DER `SEQUENCE { INTEGER r, INTEGER s }` of an r‖s signature.
pub fn rs_to_der(rs: &[u8; 64]) -> Vec<u8> {
    fn int(v: &[u8]) -> Vec<u8> {
        let start = v.iter().position(|&b| b != 0).unwrap_or(v.len() - 1);
        let v = &v[start..];
        let mut out = vec![0x02];
        if v[0] & 0x80 != 0 {
            out.push(v.len() as u8 + 1);
            out.push(0);
        } else {
            out.push(v.len() as u8);
        }
        out.extend_from_slice(v);
        out
    }
    let body = [int(&rs[..32]), int(&rs[32..])].concat();
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

/// Standard Base64 (with padding).
pub fn b64_encode(bytes: &[u8]) -> String {
    <base64ct::Base64 as base64ct::Encoding>::encode_string(bytes)
}

pub fn b64_decode(text: &str) -> Option<Vec<u8>> {
    <base64ct::Base64 as base64ct::Encoding>::decode_vec(text.trim()).ok()
}

/// URL-safe Base64 without padding (QR-code friendly tokens).
pub fn b64url_encode(bytes: &[u8]) -> String {
    <base64ct::Base64UrlUnpadded as base64ct::Encoding>::encode_string(bytes)
}

pub fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    <base64ct::Base64UrlUnpadded as base64ct::Encoding>::decode_vec(text).ok()
}

/// Constant-time equality of two byte strings (signatures, MACs).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sm3_matches_the_standard_vector() {
        // GM/T 0004-2012 example 1.
        assert_eq!(sm3_hex(b"abc"), "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
    }

    #[test]
    fn sm4_matches_the_standard_vector_and_round_trips() {
        // GM/T 0002-2012 example: key = plaintext = 0123456789abcdeffedcba9876543210.
        let key: [u8; 16] = hex::decode("0123456789abcdeffedcba9876543210").unwrap().try_into().unwrap();
        let ct = sm4_ecb_encrypt(&key, &key);
        assert_eq!(hex::encode(&ct[..16]), "681edf34d206965e86b3e94f536e4246");
        assert_eq!(ct.len(), 32, "a whole block of padding after a whole block");
        for len in [0, 1, 15, 16, 17, 100] {
            let plain = vec![b'x'; len];
            assert_eq!(sm4_ecb_decrypt(&key, &sm4_ecb_encrypt(&key, &plain)).unwrap(), plain);
        }
        let mut other = key;
        other[0] ^= 1;
        assert!(sm4_ecb_decrypt(&other, &sm4_ecb_encrypt(&key, b"{\"a\":1}")).is_err());
        assert!(sm4_ecb_decrypt(&key, b"short").is_err());
    }

    #[test]
    fn sm2_signs_and_verifies_with_user_ids() {
        let secret = Sm2Secret::generate().unwrap();
        let public = parse_sm2_public(&secret.public_hex()).unwrap();
        let sig = secret.sign("H33020300001", b"hello").unwrap();
        assert!(sm2_verify(&public, "H33020300001", b"hello", &sig));
        assert!(!sm2_verify(&public, "H33020300002", b"hello", &sig), "user id is bound");
        assert!(!sm2_verify(&public, "H33020300001", b"hellO", &sig));
        let bare = &secret.public_hex()[2..];
        assert_eq!(parse_sm2_public(bare).unwrap(), public);
        assert!(parse_sm2_public("04abcd").is_err());
        assert_eq!(Sm2Secret::from_hex(&secret.to_hex()).unwrap().public_hex(), secret.public_hex());
        assert_eq!(format!("{secret:?}"), "Sm2Secret(***)");
        let der = rs_to_der(&sig);
        assert_eq!(der_to_rs(&der).unwrap(), sig);
        assert!(sm2_verify(&public, "H33020300001", b"hello", &der), "DER accepted too");
        assert!(der_to_rs(&der[..der.len() - 1]).is_none());
    }
}
