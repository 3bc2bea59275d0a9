//! The audit trail's rules: what a record holds and how personal data in it
//! is masked. Records are append-only; storage never updates or deletes them.

use serde_json::Value;

use crate::resident_id::{looks_like_resident_id, mask};

/// Keys whose values are always masked, whatever they look like.
const SENSITIVE_KEYS: [&str; 8] =
    ["certno", "id_no", "idcard", "mdtrt_cert_no", "card_sn", "tel", "mobile", "password"];

/// Masks personal data inside a JSON document in place: every string that is
/// a well-formed resident ID, and every value under a sensitive key. Password
/// fields are removed entirely.
pub fn mask_json(value: &mut Value) {
    match value {
        Value::String(s) if looks_like_resident_id(s) => {
            *s = mask(s);
        }
        Value::Array(items) => items.iter_mut().for_each(mask_json),
        Value::Object(map) => {
            map.remove("password");
            map.remove("password_hash");
            for (key, v) in map.iter_mut() {
                if SENSITIVE_KEYS.contains(&key.as_str())
                    && let Value::String(s) = v
                {
                    *s = mask(s);
                    continue;
                }
                mask_json(v);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_ids_anywhere_and_sensitive_keys() {
        let mut v = json!({
            "person": {"certno": "11010519491231002X", "name": "张三", "tel": "13800001234"},
            "note": "11010519491231002X",
            "list": ["440524188001010014", "plain"],
            "password": "secret",
            "amount": 12.5
        });
        mask_json(&mut v);
        assert_eq!(v["person"]["certno"], "110105********002X");
        assert_eq!(v["person"]["tel"], "13*******34");
        assert_eq!(v["note"], "110105********002X");
        assert_eq!(v["list"][0], "440524********0014");
        assert_eq!(v["list"][1], "plain");
        assert!(v.get("password").is_none());
        assert_eq!(v["person"]["name"], "张三");
    }
}
