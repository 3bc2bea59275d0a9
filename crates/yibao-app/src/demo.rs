//! The demo pooling region: 宁波市 (330200), with designated hospitals of
//! every level and pharmacies, about a thousand synthetic insured persons
//! with valid ID numbers, catalog settings and staff accounts, so that every
//! API has something real to act on. Deterministic for a given seed and
//! year. Every name, number and rule marked "演示" is synthetic.

use yibao_domain::auth::{RegionScope, Role};
use yibao_domain::catalog::CatalogOverride;
use yibao_domain::codes::MedType;
use yibao_domain::codes::{AssistanceCategory, ChrgitmLv, Gend, HospLv, Insutype, ListType, PsnCertType, PsnType};
use yibao_domain::division::DivisionCode;
use yibao_domain::enrollment::{Certificate, Enrollment, EnrollmentStatus, Person};
use yibao_domain::fund::{self as fund_rules, Account, AccountKey, Entry, EntryKind, Fund, Line, Month};
use yibao_domain::institution::{Agreement, Institution, InstitutionCode, InstitutionKind, InstitutionStatus};
use yibao_domain::{Date, Money, Ratio, ResidentId};
use yibao_store::Tx;

use crate::App;
use crate::ctx::Ctx;
use crate::error::{AppError, AppResult};

/// The demo pooling region: 宁波市.
pub const DEMO_REGION: &str = "330200";
pub const DEMO_ADMIN_USERNAME: &str = "admin";
/// Demo only: outside `--demo` there is no built-in password.
pub const DEMO_PASSWORD: &str = "yibao-demo-2026";
pub const DEMO_PERSONS_DEFAULT: usize = 1000;

pub(crate) const COUNTIES: [(&str, &str); 10] = [
    ("330203", "海曙"),
    ("330205", "江北"),
    ("330206", "北仑"),
    ("330211", "镇海"),
    ("330212", "鄞州"),
    ("330213", "奉化"),
    ("330225", "象山"),
    ("330226", "宁海"),
    ("330281", "余姚"),
    ("330282", "慈溪"),
];

const SURNAMES: &str = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴莫孔汤";
const GIVEN: &str =
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建国志文斌宇浩凯俊峰晨阳雪婷琳欣怡子涵梓轩宁波海";

/// SplitMix64: small, fast, and the same on every platform.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0);
        self.next_u64() % n
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn pick_char(rng: &mut Rng, chars: &str) -> char {
    let v: Vec<char> = chars.chars().collect();
    *rng.pick(&v)
}

pub fn synthetic_name(rng: &mut Rng) -> String {
    let mut name = String::new();
    name.push(pick_char(rng, SURNAMES));
    name.push(pick_char(rng, GIVEN));
    if rng.chance(70) {
        name.push(pick_char(rng, GIVEN));
    }
    name
}

/// The demo institutions: hospitals of levels 一/二/三 and pharmacies.
pub fn institutions(year: i32) -> Vec<Institution> {
    let agreement = |code: &InstitutionCode| Agreement {
        agreement_no: format!("XY{}{}", code.as_str(), year - 1),
        begin_date: Date::from_ymd(year - 1, 1, 1).unwrap(),
        end_date: Date::from_ymd(year + 1, 12, 31).unwrap(),
        status: InstitutionStatus::Active,
    };
    let hospitals: [(usize, &str, HospLv); 13] = [
        (0, "宁波演示第一医院", HospLv::ThreeA),
        (4, "宁波演示医疗中心", HospLv::ThreeA),
        (1, "宁波演示第二医院", HospLv::ThreeB),
        (2, "北仑演示人民医院", HospLv::TwoA),
        (3, "镇海演示人民医院", HospLv::TwoA),
        (8, "余姚演示中医医院", HospLv::TwoB),
        (9, "慈溪演示妇幼保健院", HospLv::TwoA),
        (0, "海曙演示社区卫生服务中心", HospLv::OneA),
        (1, "江北演示社区卫生服务中心", HospLv::OneA),
        (4, "鄞州演示社区卫生服务中心", HospLv::OneB),
        (5, "奉化演示乡镇卫生院", HospLv::OneUngraded),
        (6, "象山演示乡镇卫生院", HospLv::OneUngraded),
        (7, "宁海演示社区卫生服务中心", HospLv::OneA),
    ];
    let mut out = Vec::new();
    let mut seq = [0u32; COUNTIES.len()];
    for (county, name, lv) in hospitals {
        seq[county] += 1;
        let division = DivisionCode::parse(COUNTIES[county].0).unwrap();
        let code = InstitutionCode::compose(InstitutionKind::Hospital, division, seq[county]);
        out.push(Institution {
            agreements: vec![agreement(&code)],
            code,
            name: name.into(),
            kind: InstitutionKind::Hospital,
            hosp_lv: Some(lv),
            admdvs: division,
            address: format!("浙江省宁波市{}区演示路{}号", COUNTIES[county].1, 100 + seq[county]),
            status: InstitutionStatus::Active,
        });
    }
    let mut pseq = [0u32; COUNTIES.len()];
    for (i, name) in [
        "演示大药房海曙店",
        "演示大药房江北店",
        "演示大药房北仑店",
        "演示医药连锁鄞州店",
        "演示医药连锁余姚店",
        "演示医药连锁慈溪店",
        "演示平价药房象山店",
        "演示平价药房宁海店",
    ]
    .iter()
    .enumerate()
    {
        let county = [0, 1, 2, 4, 8, 9, 6, 7][i];
        pseq[county] += 1;
        let division = DivisionCode::parse(COUNTIES[county].0).unwrap();
        let code = InstitutionCode::compose(InstitutionKind::Pharmacy, division, pseq[county]);
        out.push(Institution {
            agreements: vec![agreement(&code)],
            code,
            name: (*name).into(),
            kind: InstitutionKind::Pharmacy,
            hosp_lv: None,
            admdvs: division,
            address: format!("浙江省宁波市{}演示街{}号", COUNTIES[county].1, 10 + pseq[county]),
            status: InstitutionStatus::Active,
        });
    }
    out
}

/// Synthetic insured persons of the demo region with their enrollments:
/// about 45 % employees in service, 20 % retired employees, 35 % residents.
pub fn persons(seed: u64, count: usize, today: Date) -> (Vec<Person>, Vec<Enrollment>) {
    let mut rng = Rng::new(seed);
    let mut persons = Vec::with_capacity(count);
    let mut enrollments = Vec::with_capacity(count);
    let mut seen = std::collections::HashSet::new();
    let region = DivisionCode::parse(DEMO_REGION).unwrap();
    let mut i = 0;
    while persons.len() < count {
        i += 1;
        assert!(i < count * 10, "cannot draw enough distinct ID numbers");
        let group = rng.below(100);
        let (insutype, age) = match group {
            0..=44 => (Insutype::EmployeeBasic, 20 + rng.below(40) as i32),
            45..=64 => (Insutype::EmployeeBasic, 60 + rng.below(31) as i32),
            _ => (Insutype::ResidentBasic, rng.below(86) as i32),
        };
        let birth = today.add_days(-(age * 365 + rng.below(365) as i32) - 1);
        let county = rng.pick(&COUNTIES);
        let id = ResidentId::compose(county.0, birth, rng.below(1000) as u16).expect("valid parts");
        if !seen.insert(id.as_str().to_owned()) {
            continue;
        }
        let psn_no = format!("{DEMO_REGION}{:014}", persons.len() + 1);
        let age = id.age_on(today);
        let psn_type = match (insutype, age) {
            (Insutype::EmployeeBasic, a) if a >= 60 => {
                if rng.chance(10) {
                    PsnType::CivilServantRetired
                } else {
                    PsnType::EmployeeRetired
                }
            }
            (Insutype::EmployeeBasic, _) => {
                if rng.chance(10) {
                    PsnType::CivilServantActive
                } else if rng.chance(10) {
                    PsnType::FlexibleActive
                } else {
                    PsnType::EmployeeActive
                }
            }
            (_, a) if a < 1 => PsnType::Newborn,
            (_, a) if a < 6 => PsnType::Preschool,
            (_, a) if a < 18 => PsnType::PupilStudent,
            _ => PsnType::ResidentAdult,
        };
        let assistance = if insutype == Insutype::ResidentBasic && rng.chance(6) {
            Some(*rng.pick(&[
                AssistanceCategory::Destitute,
                AssistanceCategory::Dibao,
                AssistanceCategory::Dibao,
                AssistanceCategory::DibaoMarginal,
                AssistanceCategory::PovertyMonitoring,
            ]))
        } else {
            None
        };
        let first_day = Date::from_ymd(2015.max(birth.year()), 1, 1).unwrap().max(birth);
        persons.push(Person {
            psn_no: psn_no.clone(),
            certificate: Certificate { psn_cert_type: PsnCertType::ResidentIdCard, certno: id.as_str().to_owned() },
            name: synthetic_name(&mut rng),
            gend: if id.sex() == yibao_domain::resident_id::Sex::Male { Gend::Male } else { Gend::Female },
            brdy: birth,
            naty: "01".into(),
            admdvs: DivisionCode::parse(county.0).unwrap(),
            tel: format!("13{}{:08}", rng.below(10), rng.below(100_000_000)),
            address: format!("浙江省宁波市{}演示小区{}幢{}室", county.1, 1 + rng.below(30), 101 + rng.below(20)),
            death_date: None,
        });
        enrollments.push(Enrollment {
            id: 1_000_000 + persons.len() as i64,
            psn_no,
            insutype,
            psn_type,
            insu_admdvs: region,
            begin_date: first_day,
            end_date: None,
            status: EnrollmentStatus::Active,
            cvlserv_flag: psn_type.is_civil_servant(),
            assistance_category: assistance,
        });
    }
    (persons, enrollments)
}

/// The demo region's catalog settings. Real regions publish these; the
/// values here follow common practice and are marked 演示.
pub fn catalog_overrides(today: Date) -> Vec<CatalogOverride> {
    let begin = Date::from_ymd(today.year() - 1, 1, 1).unwrap();
    let o = |id: i64, list_type: ListType, class_filter, class, selfpay: Option<u32>, note: &str| CatalogOverride {
        id,
        region_prefix: "3302".into(),
        code: None,
        list_type: Some(list_type),
        class_filter,
        begin_date: begin,
        end_date: None,
        class,
        selfpay_prop: selfpay.map(Ratio::percent),
        price_cap: None,
        restriction: None,
        note: note.into(),
    };
    vec![
        o(1, ListType::WesternAndPatentDrug, Some(ChrgitmLv::ClassB), None, Some(10), "演示：乙类药品先行自付10%"),
        o(2, ListType::HerbalPieces, None, Some(ChrgitmLv::ClassB), Some(5), "演示：中药饮片按乙类，先行自付5%"),
        o(3, ListType::MedicalService, None, Some(ChrgitmLv::ClassA), None, "演示：医疗服务项目按甲类"),
        o(4, ListType::MedicalConsumable, None, Some(ChrgitmLv::ClassB), Some(10), "演示：医用耗材按乙类，先行自付10%"),
    ]
}

/// The demo region's benefit policies (宁波 居民 and 职工), from `policies/`.
pub fn demo_policies() -> AppResult<Vec<yibao_domain::policy::ValidPolicy>> {
    [include_str!("../../../policies/ningbo-390.toml"), include_str!("../../../policies/ningbo-310.toml")]
        .into_iter()
        .map(|text| yibao_domain::policy::ValidPolicy::from_toml_str(text).map_err(AppError::from))
        .collect()
}

/// The demo funds of 宁波: (fund, opening balance, monthly income, monthly
/// expense) in yuan, at the scale of a large city (演示数据, not real figures).
const DEMO_FUNDS: [(Fund, i64, i64, i64); 7] = [
    (Fund::EmployeePool, 5_200_000_000, 300_000_000, 255_000_000),
    (Fund::EmployeeAccount, 3_100_000_000, 120_000_000, 104_000_000),
    (Fund::ResidentPool, 1_150_000_000, 150_000_000, 142_000_000),
    (Fund::SeriousIllness, 210_000_000, 11_000_000, 9_500_000),
    (Fund::LargeAmount, 320_000_000, 15_000_000, 12_500_000),
    (Fund::CivilServant, 150_000_000, 10_000_000, 8_200_000),
    (Fund::MedicalAssistance, 95_000_000, 5_000_000, 4_700_000),
];

/// The demo region's ledger history: an opening balance of each fund on the
/// first day of the month a year before `today`'s, then one entry per fund
/// and month for the 12 complete months before `today`'s month: income into
/// 收入户 (contributions; subsidies for residents and assistance), transfer
/// to 支出户, and benefit expense by med_type, each amount varying ±5 %
/// with the seed. Marked 演示 in every memo; deterministic for (seed, today).
pub fn fund_history(seed: u64, today: Date) -> Vec<Entry> {
    let region = DivisionCode::parse(DEMO_REGION).unwrap();
    let mut rng = Rng::new(seed ^ 0xF0D);
    let this = Month::of(today);
    let first = this.add_months(-12);
    let mut out = Vec::new();
    for (fund, opening, _, _) in DEMO_FUNDS {
        out.push(Entry {
            kind: EntryKind::Opening,
            reference: format!("DEMO-OPEN-{}", fund.code()),
            reverses: None,
            entry_date: first.first_day(),
            memo: format!("演示：{}期初余额", fund.name()),
            lines: fund_rules::opening_lines(region, fund, Money::from_yuan(opening)).expect("positive"),
        });
    }
    for m in 0..12 {
        let month = first.add_months(m);
        for (fund, _, income, expense) in DEMO_FUNDS {
            let vary = |rng: &mut Rng, yuan: i64| Money::from_yuan(yuan / 100 * (95 + rng.below(11) as i64));
            let income = vary(&mut rng, income);
            let expense = vary(&mut rng, expense);
            let k = |account| AccountKey::plain(region, fund, account);
            let mut lines = Vec::new();
            let income_accounts: &[(Account, u32)] = match fund {
                Fund::ResidentPool => &[(Account::IncomeContribution, 35), (Account::IncomeSubsidy, 65)],
                Fund::MedicalAssistance => &[(Account::IncomeSubsidy, 100)],
                _ => &[(Account::IncomeContribution, 100)],
            };
            let mut rest = income;
            for (i, (account, percent)) in income_accounts.iter().enumerate() {
                let part =
                    if i + 1 == income_accounts.len() { rest } else { income.mul_ratio(Ratio::percent(*percent)) };
                rest -= part;
                lines.push(Line::credit(k(*account), part));
            }
            lines.push(Line::debit(k(Account::BankIncome), income));
            lines.push(Line::debit(k(Account::BankExpense), expense));
            lines.push(Line::credit(k(Account::BankIncome), expense));
            let med_types: &[(MedType, u32)] = match fund {
                Fund::EmployeeAccount => &[(MedType::GeneralOutpatient, 45), (MedType::PharmacyPurchase, 55)],
                Fund::MedicalAssistance | Fund::SeriousIllness | Fund::LargeAmount => {
                    &[(MedType::GeneralInpatient, 85), (MedType::ChronicSpecialOutpatient, 15)]
                }
                _ => &[
                    (MedType::GeneralOutpatient, 25),
                    (MedType::ChronicSpecialOutpatient, 10),
                    (MedType::GeneralInpatient, 55),
                    (MedType::PharmacyPurchase, 10),
                ],
            };
            let mut rest = expense;
            for (i, (med_type, percent)) in med_types.iter().enumerate() {
                let part = if i + 1 == med_types.len() { rest } else { expense.mul_ratio(Ratio::percent(*percent)) };
                rest -= part;
                lines.push(Line::debit(AccountKey::new(region, fund, Account::ExpenseBenefit, med_type.code()), part));
            }
            lines.push(Line::credit(k(Account::BankExpense), expense));
            out.push(Entry {
                kind: EntryKind::DemoHistory,
                reference: format!("DEMO-{month}-{}", fund.code()),
                reverses: None,
                entry_date: month.last_day(),
                memo: format!("演示：{month} {}收支汇总", fund.name()),
                lines,
            });
        }
    }
    out
}

#[derive(utoipa::ToSchema, Clone, Debug, serde::Serialize)]
pub struct DemoReport {
    pub loaded: bool,
    pub region: &'static str,
    pub institutions: usize,
    pub persons: usize,
    pub admin_username: &'static str,
}

/// Loads the demo region once; a second call (same or another seed) leaves
/// the data as it is.
pub async fn load(app: &App, seed: u64, persons_count: usize, today: Date) -> AppResult<DemoReport> {
    let password_hash = crate::auth::hash_password(DEMO_PASSWORD).await?;
    let institutions = institutions(today.year());
    let (persons, enrollments) = persons(seed, persons_count, today);
    let overrides = catalog_overrides(today);
    let policies = demo_policies()?;
    let ledger = fund_history(seed, today);
    let report = DemoReport {
        loaded: true,
        region: DEMO_REGION,
        institutions: institutions.len(),
        persons: persons.len(),
        admin_username: DEMO_ADMIN_USERNAME,
    };
    let marker = format!("seed={seed};persons={persons_count}");
    let loaded = app
        .db
        .write(move |tx: &mut dyn Tx| {
            if yibao_store::reference::dataset_hash(tx, "demo")?.is_some() {
                return Ok(false);
            }
            let now = yibao_store::now_ms();
            for inst in &institutions {
                yibao_store::institution::insert(tx, inst, now)?;
            }
            yibao_store::enrollment::insert_persons(tx, &persons, now)?;
            yibao_store::enrollment::insert_enrollments(tx, &enrollments, now)?;
            for o in &overrides {
                yibao_store::catalog::insert_override(tx, o, "demo", now)?;
            }

            let staff = [
                ("admin", "演示管理员", vec![Role::Admin], ""),
                ("clerk", "演示经办员", vec![Role::Clerk], "3302"),
                ("reviewer", "演示审核员", vec![Role::Reviewer], "3302"),
                ("finance", "演示财务", vec![Role::Finance], "3302"),
                ("supervisor", "演示监管员", vec![Role::Supervisor], "3302"),
            ];
            for (i, (username, display, roles, scope)) in staff.into_iter().enumerate() {
                let s = yibao_store::auth::Staff {
                    id: 1 + i as i64,
                    username: username.into(),
                    display_name: display.into(),
                    password_hash: password_hash.clone(),
                    roles,
                    region_scope: RegionScope::parse(scope).unwrap(),
                    active: true,
                };
                yibao_store::auth::insert(tx, &s, now)?;
            }
            contributions(tx, seed, today, &persons, &enrollments)?;
            for entry in &ledger {
                crate::fund::post(tx, entry, "demo", now)?;
            }
            yibao_store::reference::record_dataset(tx, "demo", &marker, persons.len() as i64, now)?;
            Ok::<_, AppError>(true)
        })
        .await?;
    // Policies are loaded on their own, so that a demo database from an
    // older version gains them; an identical version is skipped, and one
    // that staff have since superseded is left alone.
    for policy in policies {
        let stored = app
            .db
            .write(move |tx: &mut dyn Tx| crate::policy::store_trusted(tx, &policy, "demo", yibao_store::now_ms()))
            .await;
        match stored {
            Ok(_) => {}
            Err(AppError::Conflict(reason)) => tracing::warn!(reason, "demo policy not loaded"),
            Err(e) => return Err(e),
        }
    }
    app.catalog.invalidate();
    app.policies.invalidate();
    Ok(DemoReport { loaded, ..report })
}

/// The demo region's contribution policies (宁波 310 and 390).
pub const POLICY_310: &str = include_str!("../../../policies/ningbo-contribution-310.toml");
pub const POLICY_390: &str = include_str!("../../../policies/ningbo-contribution-390.toml");

/// Demo employers: names and county.
const EMPLOYERS: [(&str, usize); 12] = [
    ("宁波演示港口物流有限公司", 2),
    ("宁波演示电器制造有限公司", 4),
    ("宁波演示服装有限公司", 0),
    ("宁波演示软件科技有限公司", 1),
    ("宁波演示化工有限公司", 3),
    ("宁波演示模具有限公司", 8),
    ("宁波演示家电有限公司", 9),
    ("宁波演示水产有限公司", 6),
    ("宁波演示文具有限公司", 7),
    ("宁波演示汽车零部件有限公司", 4),
    ("宁波演示商贸有限公司", 0),
    ("宁波演示建设工程有限公司", 5),
];

fn demo_ctx(date: Date) -> Ctx {
    // Noon China time of `date`: the demo's business happens on that day.
    Ctx::system_at("demo", i64::from(date.days_since_epoch()) * 86_400_000 + 4 * 3_600_000)
}

/// Employers, declared bases, contributions paid month by month this year
/// (employees) and for the year (resident households), accounts with
/// realistic balances, a few persons in arrears or lapsed, and family
/// authorizations. Runs inside the demo's job, through the same use-case
/// functions as live business (assessment, bill settlement, allocation).
fn contributions(
    tx: &mut dyn Tx,
    seed: u64,
    today: Date,
    persons: &[Person],
    enrollments: &[Enrollment],
) -> AppResult<()> {
    use yibao_domain::account::MovementKind;
    use yibao_domain::codes::PersonCategory;
    use yibao_domain::contribution::{ContributionPolicy, Period};
    use yibao_domain::employer::{CreditCode, Employer, EmployerStatus, compose_emp_no};
    use yibao_domain::enrollment::{PaidPeriod, Relation};
    use yibao_domain::payment::Channel;
    use yibao_store::contribution as bills;

    let mut rng = Rng::new(seed ^ 0xC0_7718);
    let region = DivisionCode::parse(DEMO_REGION).unwrap();
    let setup = demo_ctx(Date::from_ymd(today.year() - 1, 1, 1).unwrap());
    let p310 = ContributionPolicy::from_toml_str(POLICY_310)?;
    let p390 = ContributionPolicy::from_toml_str(POLICY_390)?;
    crate::contribution::store_policy(tx, &setup, &p310)?;
    crate::contribution::store_policy(tx, &setup, &p390)?;
    let rules = p310.employee()?;
    let bounds = rules.bounds();

    // Employers with valid unified social credit codes.
    let employers: Vec<Employer> = EMPLOYERS
        .iter()
        .enumerate()
        .map(|(i, (name, county))| {
            let code = CreditCode::compose(&format!("91{}MA2{:06}", COUNTIES[*county].0, 1000 + i)).expect("valid");
            Employer {
                emp_no: compose_emp_no(region, i as u32 + 1),
                uscc: code,
                emp_name: (*name).into(),
                insu_admdvs: region,
                admdvs: DivisionCode::parse(COUNTIES[*county].0).unwrap(),
                address: format!("浙江省宁波市{}演示工业区{}号", COUNTIES[*county].1, 10 + i),
                contact: synthetic_name(&mut rng),
                tel: format!("0574{:08}", rng.below(100_000_000)),
                status: EmployerStatus::Active,
            }
        })
        .collect();
    yibao_store::employer::insert_many_employers(tx, &employers, setup.now_ms)?;

    // Employees to employers; bases for everyone in service; accounts.
    let year = today.year();
    let mut by_employer: Vec<Vec<i64>> = vec![Vec::new(); employers.len()];
    let mut bases = Vec::new();
    let mut flexible = Vec::new();
    let mut history = Vec::new();
    let last_year_end = Date::from_ymd(year - 1, 12, 31).unwrap();
    for e in enrollments {
        if e.begin_date <= last_year_end {
            history.push(bills::PaidRow {
                psn_no: e.psn_no.clone(),
                enrollment_id: e.id,
                insutype: e.insutype,
                period: PaidPeriod { start: e.begin_date, end: last_year_end, paid_on: e.begin_date },
                source: "history",
                source_ref: "demo".into(),
            });
        }
        if e.insutype != Insutype::EmployeeBasic {
            continue;
        }
        yibao_store::account::open(tx, &e.psn_no, region, setup.now_ms)?;
        let opening = Money::from_yuan(200 + rng.below(15_000) as i64);
        crate::account::post(
            tx,
            crate::account::Post {
                psn_no: &e.psn_no,
                kind: MovementKind::OpeningBalance,
                amount: opening,
                reference: &format!("opening:{year}"),
                related_ref: None,
                user_psn_no: None,
                authorization_id: None,
                date: Date::from_ymd(year, 1, 1).unwrap(),
            },
            setup.now_ms,
        )?;
        if e.psn_type.category() != PersonCategory::Active {
            continue;
        }
        let emp_no = if e.psn_type == PsnType::FlexibleActive {
            flexible.push(e.psn_no.clone());
            String::new()
        } else {
            let i = rng.below(employers.len() as u64) as usize;
            by_employer[i].push(e.id);
            employers[i].emp_no.clone()
        };
        let span = (bounds.ceiling - bounds.floor).fen() / 100;
        let base = Money::from_yuan(bounds.floor.fen() / 100 + 1 + rng.below((span as u64 / 3).max(1)) as i64);
        bases.push(yibao_store::employer::DeclaredBase { psn_no: e.psn_no.clone(), year, emp_no, base });
    }
    for (i, ids) in by_employer.iter().enumerate() {
        yibao_store::enrollment::set_employer(tx, ids, &employers[i].emp_no, setup.now_ms)?;
    }
    yibao_store::employer::upsert_bases(tx, &bases, "demo", setup.now_ms)?;
    bills::insert_paid(tx, &history, setup.now_ms)?;

    // A few flexible workers in arrears (last two months unpaid) and lapsed
    // (last five months unpaid): taken from the end so the first persons stay covered.
    flexible.sort();
    let lapsed: Vec<String> = flexible.iter().rev().take(2).cloned().collect();
    let arrears: Vec<String> = flexible.iter().rev().skip(2).take(2).cloned().collect();

    // Residents: households of up to four, paid during last year's
    // collection window; two residents without a household did not renew.
    let residents: Vec<&Enrollment> = enrollments.iter().filter(|e| e.insutype == Insutype::ResidentBasic).collect();
    let mut not_renewed = Vec::new();
    let mut i = 0;
    while i < residents.len() {
        if i + 2 >= residents.len() && not_renewed.len() < 2 {
            not_renewed.push(residents[i].psn_no.clone());
            i += 1;
            continue;
        }
        let size = (1 + rng.below(4) as usize).min(residents.len() - i);
        let group = &residents[i..i + size];
        let person_of = |psn: &str| persons.iter().find(|p| p.psn_no == psn).expect("demo person");
        let head = group.iter().max_by_key(|e| person_of(&e.psn_no).age_on(today)).expect("non-empty");
        let members = group
            .iter()
            .map(|e| yibao_store::enrollment::HouseholdMember {
                psn_no: e.psn_no.clone(),
                relation: if e.psn_no == head.psn_no {
                    Relation::Head
                } else if person_of(&e.psn_no).age_on(today) < 18 {
                    Relation::Child
                } else {
                    Relation::Spouse
                },
            })
            .collect();
        let p = person_of(&head.psn_no);
        yibao_store::enrollment::insert_household(
            tx,
            &yibao_store::enrollment::Household {
                hh_no: format!("H{DEMO_REGION}{:08}", i + 1),
                head_psn_no: head.psn_no.clone(),
                admdvs: p.admdvs,
                address: p.address.clone(),
                members,
            },
            setup.now_ms,
        )?;
        i += size;
    }
    let window = demo_ctx(Date::from_ymd(year - 1, 12, 10).unwrap());
    let (_, resident_bills) = crate::contribution::assess_in_job(tx, &window, region, Period::Year(year))?;
    for mut b in resident_bills {
        if b.status != yibao_domain::contribution::BillStatus::Unpaid
            || b.psn_no.as_ref().is_some_and(|p| not_renewed.contains(p))
        {
            continue;
        }
        let channel = if rng.chance(50) { Channel::Wechat } else { Channel::Alipay };
        pay(tx, &window, &mut b, channel)?;
    }

    // Employees month by month, up to the current month.
    for month in 1..=today.month() {
        let first = Date::from_ymd(year, month, 1).unwrap();
        let paid_on = Date::from_ymd(year, month, 15).unwrap().min(today);
        let ctx = demo_ctx(paid_on);
        let (_, month_bills) = crate::contribution::assess_in_job(tx, &ctx, region, Period::Month { year, month })?;
        let months_left = u32::from(today.month() - month);
        for mut b in month_bills {
            let owner = b.psn_no.clone().unwrap_or_default();
            if (lapsed.contains(&owner) && months_left < 5) || (arrears.contains(&owner) && months_left < 2) {
                continue;
            }
            let channel = if b.emp_no.is_some() { Channel::BankDebit } else { Channel::Wechat };
            pay(tx, &ctx, &mut b, channel)?;
        }
        crate::contribution::allocate_retirees_in_job(tx, &demo_ctx(first), region, Period::Month { year, month })?;
    }

    // 家庭共济: a few employees let a relative use their account.
    let owners: Vec<&Enrollment> =
        enrollments.iter().filter(|e| e.psn_type == PsnType::EmployeeActive).take(4).collect();
    for (k, owner) in owners.iter().enumerate() {
        let Some(user) = residents.get(k * 3) else { break };
        let auth = yibao_domain::account::FamilyAuthorization {
            id: 9_000_000 + k as i64,
            owner_psn_no: owner.psn_no.clone(),
            user_psn_no: user.psn_no.clone(),
            relation: if k % 2 == 0 { Relation::Parent } else { Relation::Child },
            yearly_limit: Money::from_yuan(2_000),
            begin_date: Date::from_ymd(year, 1, 1).unwrap(),
            end_date: None,
        };
        yibao_store::account::insert_authorization(tx, &auth, "demo", setup.now_ms)?;
    }
    Ok(())
}

/// Records a demo payment of a bill on a channel and settles it.
fn pay(
    tx: &mut dyn Tx,
    ctx: &Ctx,
    bill: &mut yibao_domain::contribution::Bill,
    channel: yibao_domain::payment::Channel,
) -> AppResult<()> {
    let order_no = format!("D{}", yibao_store::ids::next_id());
    let today = ctx.today();
    let order = yibao_store::contribution::Order {
        order_no: order_no.clone(),
        bill_id: bill.bill_id.clone(),
        channel,
        amount: bill.amount_due,
        status: yibao_domain::payment::OrderStatus::Paid,
        channel_ref: "demo".into(),
        channel_txn_id: Some(format!("DEMO{order_no}")),
        late: false,
        paid_date: Some(today),
        created_at_ms: ctx.now_ms,
        expires_at_ms: ctx.now_ms,
    };
    yibao_store::contribution::insert_order(tx, &order, "demo", ctx.now_ms)?;
    crate::contribution::settle_bill(tx, ctx, bill, &order_no, channel, today)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persons_are_deterministic_valid_and_mixed() {
        let today = Date::parse("2026-11-22").unwrap();
        let (a, ea) = persons(42, 1000, today);
        let (b, _) = persons(42, 1000, today);
        assert_eq!(a, b);
        assert_eq!(a.len(), 1000);
        for p in &a {
            let id = ResidentId::parse(&p.certificate.certno).unwrap();
            assert_eq!(id.birth_date(), p.brdy);
            assert!(COUNTIES.iter().any(|c| c.0 == id.address_code()));
        }
        let employees = ea.iter().filter(|e| e.insutype == Insutype::EmployeeBasic).count();
        let retired =
            ea.iter().filter(|e| e.psn_type.category() == yibao_domain::codes::PersonCategory::Retired).count();
        assert!((550..=750).contains(&employees), "{employees}");
        assert!((120..=280).contains(&retired), "{retired}");
        let (c, _) = persons(43, 1000, today);
        assert_ne!(a, c, "another seed, other people");
    }

    #[test]
    fn fund_history_balances_and_is_deterministic() {
        let today = Date::parse("2026-11-22").unwrap();
        let a = fund_history(7, today);
        assert_eq!(a, fund_history(7, today));
        assert_ne!(a, fund_history(8, today));
        assert_eq!(a.len(), DEMO_FUNDS.len() * 13);
        for e in &a {
            e.check().unwrap();
            assert!(e.memo.starts_with("演示"));
            assert!(e.entry_date < Date::parse("2026-11-01").unwrap());
        }
        assert_eq!(a[0].entry_date.to_string(), "2025-11-01");
    }

    #[test]
    fn institutions_cover_every_level_with_valid_codes() {
        let list = institutions(2026);
        use yibao_domain::codes::HospitalTier;
        for tier in [HospitalTier::One, HospitalTier::Two, HospitalTier::Three] {
            assert!(list.iter().any(|i| i.hosp_lv.map(|l| l.tier()) == Some(tier)));
        }
        assert!(list.iter().any(|i| i.kind == InstitutionKind::Pharmacy));
        let today = Date::parse("2026-11-22").unwrap();
        for i in &list {
            assert_eq!(InstitutionCode::parse(i.code.as_str()).unwrap().division(), i.admdvs);
            assert!(i.check_can_settle(today).is_ok());
        }
        let codes: std::collections::HashSet<_> = list.iter().map(|i| i.code).collect();
        assert_eq!(codes.len(), list.len());
    }
}
