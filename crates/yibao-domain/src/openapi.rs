//! OpenAPI schemas of the domain's value types (feature `openapi`), so that
//! the HTTP layer's API document describes money as a decimal number, codes
//! as their code lists, and so on. Metadata only: no behaviour.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::{PartialSchema, ToSchema};

fn string(description: &str, pattern: Option<&str>, example: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .pattern(pattern)
        .examples([example])
        .into()
}

fn number(description: &str, example: &str) -> RefOr<Schema> {
    let example: serde_json::Value = serde_json::from_str(example).expect("example number");
    ObjectBuilder::new().schema_type(Type::Number).description(Some(description)).examples([example]).into()
}

macro_rules! schema {
    ($t:ty, $body:expr) => {
        impl PartialSchema for $t {
            fn schema() -> RefOr<Schema> {
                $body
            }
        }
        impl ToSchema for $t {}
    };
}

schema!(crate::Money, number("金额（元），最多两位小数，按十进制精确传输", "123.45"));
schema!(crate::Ratio, number("比例，0到1之间的小数（0.1 即 10%），最多六位小数", "0.1"));
schema!(crate::Quantity, number("数量，最多四位小数", "2"));
schema!(crate::UnitPrice, number("单价（元），最多六位小数", "12.5"));
schema!(
    crate::Date,
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
        .description(Some("日期 yyyy-MM-dd（也接受 yyyyMMdd）"))
        .examples(["2026-11-22"])
        .into()
);
schema!(crate::DateTime, string("时间 yyyy-MM-dd HH:mm:ss（也接受 yyyyMMddHHmmss）", None, "2026-11-22 09:30:00"));
schema!(
    crate::ResidentId,
    string("18位公民身份号码（GB 11643），校验位可为X", Some("^[0-9]{17}[0-9X]$"), "11010519491231002X")
);
schema!(crate::DivisionCode, string("6位医保区划代码", Some("^[0-9]{6}$"), "330203"));
schema!(crate::AdmDvs, string("6位医保区划代码（须存在于区划表）", Some("^[0-9]{6}$"), "330200"));
schema!(
    crate::institution::InstitutionCode,
    string("定点医药机构编码：H或P + 6位区划 + 5位顺序号", Some("^[HP][0-9]{11}$"), "H33020300001")
);
schema!(
    crate::auth::RegionScope,
    string("管辖区划前缀：空为全国，2位省，4位市，6位县", Some("^([0-9]{2}){0,3}$"), "3302")
);

/// Schema of a national code table: a string with the list of codes.
pub fn code_table(label: &str, entries: &[(&'static str, &'static str)]) -> RefOr<Schema> {
    let listing = entries.iter().map(|(c, n)| format!("{c} {n}")).collect::<Vec<_>>().join("；");
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(format!("{label}：{listing}")))
        .enum_values(Some(entries.iter().map(|(c, _)| *c)))
        .into()
}
