//! National code tables (医保字典) as enums.
//!
//! Each table knows its interface field name (`insutype`), its Chinese label,
//! every code with its Chinese name, and the legacy spellings real clients
//! still send (`chrgitm_lv` "1" for "01", `opter_type` as a number). Parsing
//! accepts the aliases; output always uses the national code. The 1901
//! dictionary query and the code-table API list these tables.
//!
//! Sources: `../shared/data/code_values.csv` (national two-digit values) and
//! the interface notes (§9) in `../shared/spec/interface-spec.md`.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{FieldError, Parsed};

/// One row of a code table, for listings.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CodeEntry {
    pub code: &'static str,
    pub name: &'static str,
}

macro_rules! code_table {
    (
        $(#[$meta:meta])*
        $name:ident, field = $field:literal, label = $label:literal,
        { $( $variant:ident = $code:literal $(| $alias:literal)* => $cn:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
        pub enum $name { $( $variant ),+ }

        impl $name {
            /// The field name in the national interface.
            pub const FIELD: &'static str = $field;
            /// The table's Chinese label.
            pub const LABEL: &'static str = $label;
            pub const ALL: &'static [$name] = &[ $( $name::$variant ),+ ];

            pub fn code(self) -> &'static str {
                match self { $( $name::$variant => $code ),+ }
            }

            pub fn name(self) -> &'static str {
                match self { $( $name::$variant => $cn ),+ }
            }

            /// Looks a code up, accepting legacy aliases.
            pub fn from_code(code: &str) -> Option<$name> {
                match code.trim() {
                    $( $code $(| $alias)* => Some($name::$variant), )+
                    _ => None,
                }
            }

            pub fn parse(code: &str) -> Parsed<$name> {
                $name::from_code(code).ok_or_else(|| {
                    FieldError::new($field, format!("{}“{}”不在编码表中", $label, code.trim()))
                })
            }

            pub fn entries() -> Vec<CodeEntry> {
                $name::ALL.iter().map(|v| CodeEntry { code: v.code(), name: v.name() }).collect()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                let entries: Vec<(&'static str, &'static str)> = $name::ALL.iter().map(|v| (v.code(), v.name())).collect();
                crate::openapi::code_table($label, &entries)
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.code())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.code())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<$name, D::Error> {
                let text = d.deserialize_any(CodeText)?;
                $name::parse(&text).map_err(|e| de::Error::custom(e.reason))
            }
        }
    };
}

/// Accepts a code sent as a string or as a bare number (`"opter_type": 1`).
struct CodeText;

impl<'de> Visitor<'de> for CodeText {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a code as a string or number")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<String, A::Error> {
        // serde_json's arbitrary-precision number, buffered.
        match map.next_key::<String>()? {
            Some(_) => map.next_value::<String>(),
            None => Err(de::Error::custom("expected a code")),
        }
    }
}

/// Deserializes any scalar (string or number) as its text. For fields such as
/// `opter_type` that real clients send either way.
pub fn deserialize_code_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_any(CodeText)
}

code_table! {
    /// 险种类型
    Insutype, field = "insutype", label = "险种类型", {
        EmployeeBasic = "310" => "职工基本医疗保险",
        CivilServantSubsidy = "320" => "公务员医疗补助",
        LargeAmountSubsidy = "330" => "大额医疗费用补助",
        RetiredCadre = "340" => "离休人员医疗保障",
        DisabledServicemen = "350" => "一至六级残废军人医疗补助",
        RedArmyVeteran = "360" => "老红军医疗保障",
        EnterpriseSupplementary = "370" => "企业补充医疗保险",
        RuralCooperative = "380" => "新型农村合作医疗",
        ResidentBasic = "390" => "城乡居民基本医疗保险",
        UrbanResidentBasic = "391" => "城镇居民基本医疗保险",
        ResidentSeriousIllness = "392" => "城乡居民大病医疗保险",
        OtherSpecial = "399" => "其他特殊人员医疗保障",
        LongTermCare = "410" => "长期照护保险",
        Maternity = "510" => "生育保险",
    }
}

impl Insutype {
    /// The two basic schemes a person can be enrolled in; a person has at most
    /// one active at a time.
    pub fn is_basic(self) -> bool {
        matches!(self, Insutype::EmployeeBasic | Insutype::ResidentBasic | Insutype::UrbanResidentBasic)
    }

    pub fn is_resident(self) -> bool {
        matches!(self, Insutype::ResidentBasic | Insutype::UrbanResidentBasic | Insutype::RuralCooperative)
    }
}

code_table! {
    /// 医疗类别
    MedType, field = "med_type", label = "医疗类别", {
        GeneralOutpatient = "11" => "普通门诊",
        OutpatientRegistration = "12" => "门诊挂号",
        Emergency = "13" => "急诊",
        ChronicSpecialOutpatient = "14" => "门诊慢特病",
        SpecialDrug = "15" => "特药",
        TcmOutpatient = "16" => "中医特色门诊",
        InjuryOutpatient = "19" => "意外伤害门诊",
        GeneralInpatient = "21" => "普通住院",
        TraumaInpatient = "22" => "外伤住院",
        ReferredOutInpatient = "23" => "转外诊治住院",
        EmergencyToInpatient = "24" => "急诊转住院",
        DaySurgery = "28" => "日间手术",
        PharmacyPurchase = "41" => "定点药店购药",
        MaternityOutpatient = "51" => "生育门诊",
        MaternityInpatient = "52" => "生育住院",
        FamilyPlanningSurgery = "53" => "计划生育手术费",
        HomeWard = "71" => "家庭病床",
        OtherOutpatient = "91" => "其他门诊",
        OtherInpatient = "92" => "其他住院",
        OtherPurchase = "93" => "其他购药",
    }
}

/// Where care happens, which decides which part of a policy applies.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum CareSetting {
    /// 门诊 (including emergency)
    Outpatient,
    /// 门诊慢特病
    ChronicOutpatient,
    /// 住院 (including day surgery and home wards)
    Inpatient,
    /// 定点药店
    Pharmacy,
}

impl MedType {
    pub fn setting(self) -> CareSetting {
        use MedType::*;
        match self {
            GeneralOutpatient
            | OutpatientRegistration
            | Emergency
            | SpecialDrug
            | TcmOutpatient
            | InjuryOutpatient
            | MaternityOutpatient
            | FamilyPlanningSurgery
            | OtherOutpatient => CareSetting::Outpatient,
            ChronicSpecialOutpatient => CareSetting::ChronicOutpatient,
            GeneralInpatient | TraumaInpatient | ReferredOutInpatient | EmergencyToInpatient | DaySurgery
            | MaternityInpatient | HomeWard | OtherInpatient => CareSetting::Inpatient,
            PharmacyPurchase | OtherPurchase => CareSetting::Pharmacy,
        }
    }

    /// 清算类别 of a settlement with this med_type.
    pub fn clr_type(self) -> ClrType {
        match self.setting() {
            CareSetting::Outpatient | CareSetting::ChronicOutpatient => ClrType::Outpatient,
            CareSetting::Inpatient => ClrType::Inpatient,
            CareSetting::Pharmacy => ClrType::Pharmacy,
        }
    }
}

code_table! {
    /// 人员类别
    PsnType, field = "psn_type", label = "人员类别", {
        EmployeeActive = "1101" | "11" => "职工在职",
        CivilServantActive = "1102" => "公务员在职",
        FlexibleActive = "1103" => "灵活就业人员在职",
        LocalActiveExt = "1160" => "地方其他扩展人员",
        EmployeeRetired = "1201" | "12" => "职工退休",
        CivilServantRetired = "1202" => "公务员退休",
        FlexibleRetired = "1203" => "灵活就业人员退休",
        LocalRetiredExt = "1260" => "地方扩展退休人员",
        RetiredCadre = "1300" | "13" => "离休人员",
        LocalCadreExt = "1360" => "地方扩展离休人员",
        Newborn = "1401" => "新生儿",
        Preschool = "1402" => "学龄前儿童",
        PupilStudent = "1403" => "中小学生",
        CollegeStudent = "1404" => "大学生",
        MinorNotEnrolled = "1405" | "14" => "未成年（未入学）",
        LocalMinorExt = "1460" => "地方扩展未成年人",
        ResidentAdult = "1501" | "15" => "普通居民（成年）",
        LocalResidentExt = "1560" => "地方其他扩展身份",
    }
}

/// The person groups policies distinguish for ratios and deductibles.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum PersonCategory {
    /// 在职
    Active,
    /// 退休
    Retired,
    /// 离休
    RetiredCadre,
    /// 居民（成年）
    ResidentAdult,
    /// 居民（未成年、学生）
    ResidentMinor,
}

impl PsnType {
    pub fn category(self) -> PersonCategory {
        use PsnType::*;
        match self {
            EmployeeActive | CivilServantActive | FlexibleActive | LocalActiveExt => PersonCategory::Active,
            EmployeeRetired | CivilServantRetired | FlexibleRetired | LocalRetiredExt => PersonCategory::Retired,
            RetiredCadre | LocalCadreExt => PersonCategory::RetiredCadre,
            Newborn | Preschool | PupilStudent | CollegeStudent | MinorNotEnrolled | LocalMinorExt => {
                PersonCategory::ResidentMinor
            }
            ResidentAdult | LocalResidentExt => PersonCategory::ResidentAdult,
        }
    }

    pub fn is_civil_servant(self) -> bool {
        matches!(self, PsnType::CivilServantActive | PsnType::CivilServantRetired)
    }
}

code_table! {
    /// 医院等级 (hosp_lv)
    HospLv, field = "hosp_lv", label = "医院等级", {
        ThreeSpecial = "01" => "三级特等",
        ThreeA = "02" => "三级甲等",
        ThreeB = "03" => "三级乙等",
        ThreeC = "04" => "三级丙等",
        TwoA = "05" => "二级甲等",
        TwoB = "06" => "二级乙等",
        TwoC = "07" => "二级丙等",
        OneA = "08" => "一级甲等",
        OneB = "09" => "一级乙等",
        OneC = "10" => "一级丙等",
        Unrated = "11" => "无等级",
        ThreeUngraded = "12" => "三级无等",
        TwoUngraded = "13" => "二级无等",
        OneUngraded = "14" => "一级无等",
    }
}

/// The hospital tier (级) that policies key deductibles and ratios on.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum HospitalTier {
    /// 一级及以下 (also unrated clinics and pharmacies)
    One,
    /// 二级
    Two,
    /// 三级
    Three,
}

impl HospitalTier {
    pub fn name(self) -> &'static str {
        match self {
            HospitalTier::One => "一级",
            HospitalTier::Two => "二级",
            HospitalTier::Three => "三级",
        }
    }
}

impl HospLv {
    pub fn tier(self) -> HospitalTier {
        use HospLv::*;
        match self {
            ThreeSpecial | ThreeA | ThreeB | ThreeC | ThreeUngraded => HospitalTier::Three,
            TwoA | TwoB | TwoC | TwoUngraded => HospitalTier::Two,
            OneA | OneB | OneC | OneUngraded | Unrated => HospitalTier::One,
        }
    }
}

code_table! {
    /// 收费项目等级 甲/乙/丙
    ChrgitmLv, field = "chrgitm_lv", label = "收费项目等级", {
        ClassA = "01" | "1" | "甲" | "甲类" => "甲类",
        ClassB = "02" | "2" | "乙" | "乙类" => "乙类",
        ClassC = "03" | "3" | "丙" | "丙类" => "丙类",
        ClassCReimbursable = "04" | "4" => "可报丙类",
    }
}

impl ChrgitmLv {
    /// 甲 / 乙 / 丙 as one character.
    pub fn short_name(self) -> &'static str {
        match self {
            ChrgitmLv::ClassA => "甲",
            ChrgitmLv::ClassB => "乙",
            ChrgitmLv::ClassC | ChrgitmLv::ClassCReimbursable => "丙",
        }
    }
}

code_table! {
    /// 就诊凭证类型
    MdtrtCertType, field = "mdtrt_cert_type", label = "就诊凭证类型", {
        EVoucher = "01" | "1" => "医保电子凭证",
        IdCard = "02" | "2" => "居民身份证",
        SocialSecurityCard = "03" | "3" => "社会保障卡",
    }
}

code_table! {
    /// 人员证件类型
    PsnCertType, field = "psn_cert_type", label = "人员证件类型", {
        ResidentIdCard = "01" | "1" => "居民身份证（户口簿）",
        MilitaryOfficer = "02" | "2" => "中国人民解放军军官证",
        ArmedPoliceOfficer = "03" | "3" => "中国人民武装警察警官证",
        HongKongPass = "04" | "4" => "香港特区护照/港澳居民来往内地通行证",
        MacaoPass = "05" | "5" => "澳门特区护照/港澳居民来往内地通行证",
        TaiwanPass = "06" | "6" => "台湾居民来往大陆通行证",
        ForeignerPermanent = "07" | "7" => "外国人永久居留证",
        ForeignPassport = "08" | "8" => "外国人护照",
        Disability = "09" | "9" => "残疾人证",
        MartyrFamily = "10" => "军烈属证明",
        ForeignerEmployment = "11" => "外国人就业证",
        ForeignExpert = "12" => "外国专家证",
        ForeignJournalist = "13" => "外国人常驻记者证",
        HkMoTwEmployment = "14" => "台港澳人员就业证",
        ReturnedExpert = "15" => "回国（来华）定居专家证",
        ChinesePassport = "16" => "中国护照",
        HkMoTwResidence = "17" => "港澳台居民居住证",
        SocialSecurityCard = "90" => "社会保障卡",
        Other = "99" => "其他身份证件",
    }
}

code_table! {
    /// 医疗收费项目类别
    MedChrgitmType, field = "med_chrgitm_type", label = "医疗收费项目类别", {
        Bed = "01" => "床位费",
        Consultation = "02" => "诊察费",
        Examination = "03" => "检查费",
        LabTest = "04" => "化验费",
        Treatment = "05" => "治疗费",
        Surgery = "06" => "手术费",
        Nursing = "07" => "护理费",
        Materials = "08" => "卫生材料费",
        WesternDrug = "09" => "西药费",
        HerbalPieces = "10" => "中药饮片费",
        PatentDrug = "11" => "中成药费",
        GeneralConsultation = "12" => "一般诊疗费",
        Registration = "13" => "挂号费",
        Other = "14" => "其他费",
    }
}

code_table! {
    /// 性别
    Gend, field = "gend", label = "性别", {
        Unknown = "0" => "未知的性别",
        Male = "1" => "男",
        Female = "2" => "女",
        Unspecified = "9" => "未说明性别",
    }
}

code_table! {
    /// 诊断类别
    DiagType, field = "diag_type", label = "诊断类别", {
        Western = "1" => "西医诊断",
        TcmDisease = "2" => "中医主病诊断",
        TcmSyndrome = "3" => "中医主证诊断",
    }
}

code_table! {
    /// 清算类别
    ClrType, field = "clr_type", label = "清算类别", {
        Outpatient = "11" => "门诊",
        Inpatient = "21" => "住院",
        Pharmacy = "41" => "药店购药",
        Other = "99" => "其他",
    }
}

code_table! {
    /// 清算方式
    ClrWay, field = "clr_way", label = "清算方式", {
        FeeForService = "01" | "1" => "按项目",
        SingleDisease = "02" | "2" => "单病种",
        PerBedDay = "03" | "3" => "按床日",
        PerCapita = "04" | "4" => "按人头",
        DrgPoints = "05" | "5" => "DRGs点数法",
        Other = "99" => "其他",
    }
}

code_table! {
    /// 个人结算方式
    PsnSetlway, field = "psn_setlway", label = "个人结算方式", {
        Itemised = "01" | "1" => "按项目结算",
        FixedQuota = "02" | "2" => "按定额结算",
    }
}

code_table! {
    /// 目录类别
    ListType, field = "list_type", label = "目录类别", {
        WesternAndPatentDrug = "101" => "西药中成药",
        HerbalPieces = "102" => "中药饮片",
        HospitalPreparation = "103" => "自制剂",
        EthnicDrug = "104" => "民族药",
        MedicalService = "201" => "医疗服务项目",
        MedicalConsumable = "301" => "医用耗材",
    }
}

code_table! {
    /// 基金支付类型 (setldetail.fund_pay_type)
    FundPayType, field = "fund_pay_type", label = "基金支付类型", {
        EmployeePool = "310100" => "城镇职工基本医疗保险统筹基金",
        EmployeeAccount = "310200" => "城镇职工基本医疗保险个人账户基金",
        CivilServant = "320100" => "公务员医疗补助基金",
        LargeAmount = "330100" => "大额医疗费用补助基金",
        RetiredCadre = "340100" => "离休人员医疗保障基金",
        DisabledServicemen = "350100" => "一至六级残疾军人医疗补助基金",
        EnterpriseSupplementary = "370100" => "企业补充医疗保险基金",
        ResidentPool = "390100" => "城乡居民基本医疗保险基金",
        ResidentSeriousIllness = "390200" => "城乡居民大病医疗保险基金",
        ResidentSeriousIllnessSupplement = "390300" => "城乡居民大病补充保险基金",
        Maternity = "510100" => "生育基金",
        MedicalAssistance = "610100" => "医疗救助基金",
        HospitalAdvance = "999996" | "999900" => "医院垫付",
        Other = "999997" => "其他基金",
    }
}

code_table! {
    /// 经办人类别
    OpterType, field = "opter_type", label = "经办人类别", {
        Staff = "1" | "01" => "经办人",
        SelfServiceTerminal = "2" | "02" => "自助终端",
        MobileTerminal = "3" | "03" => "移动终端",
    }
}

code_table! {
    /// 参保状态
    PsnInsuStas, field = "psn_insu_stas", label = "参保状态", {
        Normal = "1" => "正常参保",
        Suspended = "2" => "暂停参保",
        Terminated = "4" => "终止参保",
    }
}

code_table! {
    /// 定点医药机构类型
    FixmedinsType, field = "fixmedins_type", label = "定点医药机构类型", {
        MedicalInstitution = "1" => "定点医疗机构",
        RetailPharmacy = "2" => "定点零售药店",
        InjuryRehabilitation = "3" => "工伤定点康复机构",
        AssistiveDevice = "4" => "辅助器具配置机构",
        FamilyPlanning = "5" => "计划生育服务机构",
    }
}

code_table! {
    /// 险种参保人员的医疗救助类别（救助对象）
    AssistanceCategory, field = "assistance_category", label = "医疗救助类别", {
        Destitute = "01" => "特困供养人员",
        Orphan = "02" => "孤儿、事实无人抚养儿童",
        Dibao = "03" => "最低生活保障对象",
        DibaoMarginal = "04" => "低保边缘家庭成员",
        PovertyMonitoring = "05" => "防止返贫监测对象",
        IllnessHardship = "06" => "因病致贫重病患者",
        Other = "99" => "其他救助对象",
    }
}

/// Every table, for the dictionary API and transaction 1901.
pub fn all_tables() -> Vec<(&'static str, &'static str, Vec<CodeEntry>)> {
    vec![
        (Insutype::FIELD, Insutype::LABEL, Insutype::entries()),
        (MedType::FIELD, MedType::LABEL, MedType::entries()),
        (PsnType::FIELD, PsnType::LABEL, PsnType::entries()),
        (HospLv::FIELD, HospLv::LABEL, HospLv::entries()),
        (ChrgitmLv::FIELD, ChrgitmLv::LABEL, ChrgitmLv::entries()),
        (MdtrtCertType::FIELD, MdtrtCertType::LABEL, MdtrtCertType::entries()),
        (PsnCertType::FIELD, PsnCertType::LABEL, PsnCertType::entries()),
        (MedChrgitmType::FIELD, MedChrgitmType::LABEL, MedChrgitmType::entries()),
        (Gend::FIELD, Gend::LABEL, Gend::entries()),
        (DiagType::FIELD, DiagType::LABEL, DiagType::entries()),
        (ClrType::FIELD, ClrType::LABEL, ClrType::entries()),
        (ClrWay::FIELD, ClrWay::LABEL, ClrWay::entries()),
        (PsnSetlway::FIELD, PsnSetlway::LABEL, PsnSetlway::entries()),
        (ListType::FIELD, ListType::LABEL, ListType::entries()),
        (FundPayType::FIELD, FundPayType::LABEL, FundPayType::entries()),
        (OpterType::FIELD, OpterType::LABEL, OpterType::entries()),
        (PsnInsuStas::FIELD, PsnInsuStas::LABEL, PsnInsuStas::entries()),
        (FixmedinsType::FIELD, FixmedinsType::LABEL, FixmedinsType::entries()),
        (AssistanceCategory::FIELD, AssistanceCategory::LABEL, AssistanceCategory::entries()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_aliases_normalise() {
        for t in Insutype::ALL {
            assert_eq!(Insutype::parse(t.code()).unwrap(), *t);
        }
        assert_eq!(ChrgitmLv::parse("1").unwrap(), ChrgitmLv::ClassA);
        assert_eq!(ChrgitmLv::parse("乙").unwrap().code(), "02");
        assert_eq!(PsnType::parse("11").unwrap(), PsnType::EmployeeActive);
        assert_eq!(OpterType::parse("01").unwrap(), OpterType::Staff);
    }

    #[test]
    fn unknown_code_names_field_and_value() {
        let e = MedType::parse("77").unwrap_err();
        assert_eq!(e.field, "med_type");
        assert_eq!(e.reason, "医疗类别“77”不在编码表中");
    }

    #[test]
    fn serde_accepts_numbers_and_strings() {
        let t: OpterType = serde_json::from_str("1").unwrap();
        assert_eq!(t, OpterType::Staff);
        let t: OpterType = serde_json::from_str("\"2\"").unwrap();
        assert_eq!(t, OpterType::SelfServiceTerminal);
        assert_eq!(serde_json::to_string(&Insutype::EmployeeBasic).unwrap(), "\"310\"");
        assert!(serde_json::from_str::<Insutype>("\"311\"").is_err());
    }

    #[test]
    fn derived_groupings() {
        assert_eq!(HospLv::ThreeA.tier(), HospitalTier::Three);
        assert_eq!(HospLv::Unrated.tier(), HospitalTier::One);
        assert_eq!(MedType::GeneralInpatient.setting(), CareSetting::Inpatient);
        assert_eq!(MedType::PharmacyPurchase.clr_type(), ClrType::Pharmacy);
        assert_eq!(PsnType::CollegeStudent.category(), PersonCategory::ResidentMinor);
        assert_eq!(PsnType::CivilServantRetired.category(), PersonCategory::Retired);
    }
}
