//! Persons and enrollments.

use yibao_domain::Parsed;
use yibao_domain::codes::{AssistanceCategory, Gend, Insutype, PsnCertType, PsnType};
use yibao_domain::division::DivisionCode;
use yibao_domain::enrollment::{Certificate, Enrollment, EnrollmentStatus, Person};

use crate::params;
use crate::sql::{DbError, DbResult, Read, Row, Tx, Value, insert_many, placeholders};

fn decode<T>(r: Parsed<T>) -> DbResult<T> {
    r.map_err(|e| DbError::decode(format!("{}: {}", e.field, e.reason)))
}

const PERSON_COLUMNS: &str = "psn_no, psn_cert_type, certno, name, gend, brdy, naty, admdvs, tel, address, death_date";

fn person_from_row(r: &Row) -> DbResult<Person> {
    Ok(Person {
        psn_no: r.text(0)?,
        certificate: Certificate { psn_cert_type: decode(PsnCertType::parse(&r.text(1)?))?, certno: r.text(2)? },
        name: r.text(3)?,
        gend: decode(Gend::parse(&r.text(4)?))?,
        brdy: r.date(5)?,
        naty: r.text(6)?,
        admdvs: decode(DivisionCode::parse(&r.text(7)?))?,
        tel: r.text(8)?,
        address: r.text(9)?,
        death_date: r.get(10)?,
    })
}

fn person_values(p: &Person, now_ms: i64) -> Vec<Value> {
    vec![
        p.psn_no.as_str().into(),
        p.certificate.psn_cert_type.code().into(),
        p.certificate.certno.as_str().into(),
        p.name.as_str().into(),
        p.gend.code().into(),
        p.brdy.into(),
        p.naty.as_str().into(),
        p.admdvs.as_str().into(),
        p.tel.as_str().into(),
        p.address.as_str().into(),
        p.death_date.into(),
        now_ms.into(),
        now_ms.into(),
    ]
}

pub fn insert_persons(tx: &mut dyn Tx, persons: &[Person], now_ms: i64) -> DbResult<u64> {
    let rows: Vec<Vec<Value>> = persons.iter().map(|p| person_values(p, now_ms)).collect();
    insert_many(tx, &format!("INSERT INTO person ({PERSON_COLUMNS}, created_at_ms, updated_at_ms)"), 13, rows, "")
}

pub fn person(tx: &mut dyn Tx, psn_no: &str) -> DbResult<Option<Person>> {
    tx.query_opt(&format!("SELECT {PERSON_COLUMNS} FROM person WHERE psn_no = $1"), params![psn_no])?
        .map(|r| person_from_row(&r))
        .transpose()
}

/// A person as a visit's message reads them: with the change counter of
/// their coverage inputs and their personal account's balance (`None`
/// without an account), in one statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonForVisit {
    pub person: Person,
    /// See [`bump_coverage_seq`].
    pub coverage_seq: i64,
    pub account_balance: Option<yibao_domain::Money>,
}

pub fn person_for_visit(tx: &mut dyn Tx, psn_no: &str) -> DbResult<Option<PersonForVisit>> {
    person_for_visit_where(tx, "psn_no", psn_no)
}

/// [`person_for_visit`] by ID number (1101 with an ID card or a social
/// security card).
pub fn person_for_visit_by_certno(tx: &mut dyn Tx, certno: &str) -> DbResult<Option<PersonForVisit>> {
    person_for_visit_where(tx, "certno", certno)
}

/// The read of [`person_for_visit`], to prefetch ([`Tx::prefetch`]).
pub fn person_for_visit_read(psn_no: &str) -> Read {
    person_for_visit_where_read("psn_no", psn_no)
}

fn person_for_visit_where_read(column: &'static str, key: &str) -> Read {
    Read::new(
        format!(
            "SELECT {PERSON_COLUMNS}, coverage_seq, \
             (SELECT balance_fen FROM account WHERE account.psn_no = person.psn_no) \
             FROM person WHERE {column} = $1"
        ),
        params![key],
    )
}

fn person_for_visit_where(tx: &mut dyn Tx, column: &'static str, key: &str) -> DbResult<Option<PersonForVisit>> {
    person_for_visit_where_read(column, key)
        .query_opt(tx)?
        .map(|r| {
            Ok(PersonForVisit { person: person_from_row(&r)?, coverage_seq: r.i64(11)?, account_balance: r.get(12)? })
        })
        .transpose()
}

/// Most persons one bump statement names (the placeholders of one statement
/// stay far below both databases' limits).
const BUMP_PSN_MAX: usize = 500;

/// Records that the coverage inputs of these persons changed: their
/// enrollments, paid periods, whether they have a personal account, or
/// their death date. Every repository function that writes one of these
/// calls it in the same transaction, so that a visit holding a coverage
/// read earlier (`visit.coverage`) sees a different counter and reads the
/// coverage again. Persons not (yet) stored are skipped.
pub fn bump_coverage_seq(tx: &mut dyn Tx, psn_nos: &[&str]) -> DbResult<()> {
    let mut distinct: Vec<&str> = psn_nos.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    for chunk in distinct.chunks(BUMP_PSN_MAX) {
        let params: Vec<Value> = chunk.iter().map(|p| (*p).into()).collect();
        tx.execute(
            &format!(
                "UPDATE person SET coverage_seq = coverage_seq + 1 WHERE psn_no IN ({})",
                placeholders(1, chunk.len())
            ),
            &params,
        )?;
    }
    Ok(())
}

pub fn person_by_certno(tx: &mut dyn Tx, certno: &str) -> DbResult<Option<Person>> {
    tx.query_opt(&format!("SELECT {PERSON_COLUMNS} FROM person WHERE certno = $1"), params![certno])?
        .map(|r| person_from_row(&r))
        .transpose()
}

pub fn count_persons(tx: &mut dyn Tx, region_prefix: &str) -> DbResult<i64> {
    tx.query_one(
        "SELECT COUNT(*) FROM person WHERE admdvs LIKE $1",
        params![format!("{}%", crate::catalog::escape_like(region_prefix))],
    )?
    .i64(0)
}

const ENROLLMENT_COLUMNS: &str =
    "id, psn_no, insutype, psn_type, insu_admdvs, begin_date, end_date, status, cvlserv_flag, assistance_category";

fn enrollment_from_row(r: &Row) -> DbResult<Enrollment> {
    Ok(Enrollment {
        id: r.i64(0)?,
        psn_no: r.text(1)?,
        insutype: decode(Insutype::parse(&r.text(2)?))?,
        psn_type: decode(PsnType::parse(&r.text(3)?))?,
        insu_admdvs: decode(DivisionCode::parse(&r.text(4)?))?,
        begin_date: r.date(5)?,
        end_date: r.get(6)?,
        status: decode(EnrollmentStatus::parse(&r.text(7)?))?,
        cvlserv_flag: r.bool(8)?,
        assistance_category: r.opt_text(9)?.map(|c| decode(AssistanceCategory::parse(&c))).transpose()?,
    })
}

pub fn insert_enrollments(tx: &mut dyn Tx, enrollments: &[Enrollment], now_ms: i64) -> DbResult<u64> {
    let rows: Vec<Vec<Value>> = enrollments
        .iter()
        .map(|e| {
            vec![
                e.id.into(),
                e.psn_no.as_str().into(),
                e.insutype.code().into(),
                e.psn_type.code().into(),
                e.insu_admdvs.as_str().into(),
                e.begin_date.into(),
                e.end_date.into(),
                e.status.as_str().into(),
                e.cvlserv_flag.into(),
                e.assistance_category.map(|a| a.code()).into(),
                now_ms.into(),
                now_ms.into(),
            ]
        })
        .collect();
    let inserted = insert_many(
        tx,
        &format!("INSERT INTO enrollment ({ENROLLMENT_COLUMNS}, created_at_ms, updated_at_ms)"),
        12,
        rows,
        "",
    )?;
    let psn_nos: Vec<&str> = enrollments.iter().map(|e| e.psn_no.as_str()).collect();
    bump_coverage_seq(tx, &psn_nos)?;
    Ok(inserted)
}

pub fn enrollments_of(tx: &mut dyn Tx, psn_no: &str) -> DbResult<Vec<Enrollment>> {
    tx.query(
        &format!("SELECT {ENROLLMENT_COLUMNS} FROM enrollment WHERE psn_no = $1 ORDER BY begin_date, id"),
        params![psn_no],
    )?
    .iter()
    .map(enrollment_from_row)
    .collect()
}

/// A page of persons in a region, for listings and demo checks.
pub fn list_persons(tx: &mut dyn Tx, region_prefix: &str, limit: i64, offset: i64) -> DbResult<Vec<Person>> {
    tx.query(
        &format!("SELECT {PERSON_COLUMNS} FROM person WHERE admdvs LIKE $1 ORDER BY psn_no LIMIT $2 OFFSET $3"),
        params![format!("{}%", crate::catalog::escape_like(region_prefix)), limit, offset],
    )?
    .iter()
    .map(person_from_row)
    .collect()
}

/// An enrollment with the columns added by the enrollment module (0003).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct EnrollmentDetail {
    #[serde(flatten)]
    pub enrollment: Enrollment,
    /// The employer, for employees enrolled through one.
    pub emp_no: Option<String>,
    pub stop_reason: Option<yibao_domain::enrollment::StopReason>,
    /// Exempt from the new-enrollee waiting period.
    pub waiting_exempt: bool,
}

const DETAIL_COLUMNS: &str = "id, psn_no, insutype, psn_type, insu_admdvs, begin_date, end_date, status, cvlserv_flag, \
    assistance_category, emp_no, stop_reason, waiting_exempt";

fn detail_from_row(r: &Row) -> DbResult<EnrollmentDetail> {
    Ok(EnrollmentDetail {
        enrollment: enrollment_from_row(r)?,
        emp_no: r.opt_text(10)?,
        stop_reason: r.opt_text(11)?.map(|s| decode(yibao_domain::enrollment::StopReason::parse(&s))).transpose()?,
        waiting_exempt: r.bool(12)?,
    })
}

pub fn insert_enrollment_detail(tx: &mut dyn Tx, d: &EnrollmentDetail, now_ms: i64) -> DbResult<()> {
    let e = &d.enrollment;
    tx.execute(
        &format!(
            "INSERT INTO enrollment ({DETAIL_COLUMNS}, created_at_ms, updated_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)"
        ),
        params![
            e.id,
            e.psn_no.as_str(),
            e.insutype.code(),
            e.psn_type.code(),
            e.insu_admdvs.as_str(),
            e.begin_date,
            e.end_date,
            e.status.as_str(),
            e.cvlserv_flag,
            e.assistance_category.map(|a| a.code()),
            d.emp_no.clone(),
            d.stop_reason.map(|r| r.as_str()),
            d.waiting_exempt,
            now_ms
        ],
    )?;
    bump_coverage_seq(tx, &[e.psn_no.as_str()])
}

pub fn enrollment_details_of(tx: &mut dyn Tx, psn_no: &str) -> DbResult<Vec<EnrollmentDetail>> {
    enrollment_details_read(psn_no).query(tx)?.iter().map(detail_from_row).collect()
}

/// The read of [`enrollment_details_of`], to prefetch ([`Tx::prefetch`]).
pub fn enrollment_details_read(psn_no: &str) -> Read {
    Read::new(
        format!("SELECT {DETAIL_COLUMNS} FROM enrollment WHERE psn_no = $1 ORDER BY begin_date, id"),
        params![psn_no],
    )
}

pub fn enrollment_detail(tx: &mut dyn Tx, id: i64) -> DbResult<Option<EnrollmentDetail>> {
    tx.query_opt(&format!("SELECT {DETAIL_COLUMNS} FROM enrollment WHERE id = $1"), params![id])?
        .map(|r| detail_from_row(&r))
        .transpose()
}

/// The person's open basic enrollment (no end date), if any, locked for update.
pub fn open_basic_enrollment(tx: &mut dyn Tx, psn_no: &str) -> DbResult<Option<EnrollmentDetail>> {
    let lock = tx.for_update();
    tx.query_opt(
        &format!(
            "SELECT {DETAIL_COLUMNS} FROM enrollment WHERE psn_no = $1 AND end_date IS NULL \
             AND insutype IN ('310', '390', '391'){lock}"
        ),
        params![psn_no],
    )?
    .map(|r| detail_from_row(&r))
    .transpose()
}

/// Ends an enrollment on `end_date` (inclusive) for `reason`.
pub fn stop_enrollment(
    tx: &mut dyn Tx,
    id: i64,
    end_date: yibao_domain::Date,
    reason: yibao_domain::enrollment::StopReason,
    now_ms: i64,
) -> DbResult<u64> {
    let n = tx.execute(
        "UPDATE enrollment SET end_date = $1, status = 'stopped', stop_reason = $2, updated_at_ms = $3 WHERE id = $4",
        params![end_date, reason.as_str(), now_ms, id],
    )?;
    tx.execute(
        "UPDATE person SET coverage_seq = coverage_seq + 1 WHERE psn_no = (SELECT psn_no FROM enrollment WHERE id = $1)",
        params![id],
    )?;
    Ok(n)
}

/// Enrollments of `insutype` in `region` open on any day of [first, last],
/// optionally only those of one employer (`Some("")`: no employer).
pub fn enrollments_in_period(
    tx: &mut dyn Tx,
    region: &str,
    insutype: Insutype,
    first: yibao_domain::Date,
    last: yibao_domain::Date,
    emp_no: Option<&str>,
) -> DbResult<Vec<EnrollmentDetail>> {
    let (filter, key) = match emp_no {
        None => ("", String::new()),
        Some("") => (" AND emp_no IS NULL", String::new()),
        Some(e) => (" AND emp_no = $5", e.to_owned()),
    };
    let sql = format!(
        "SELECT {DETAIL_COLUMNS} FROM enrollment WHERE insu_admdvs = $1 AND insutype = $2 AND begin_date <= $3 \
         AND (end_date IS NULL OR end_date >= $4){filter} ORDER BY psn_no, id"
    );
    let rows = if key.is_empty() {
        tx.query(&sql, params![region, insutype.code(), last, first])?
    } else {
        tx.query(&sql, params![region, insutype.code(), last, first, key])?
    };
    rows.iter().map(detail_from_row).collect()
}

pub fn set_death_date(tx: &mut dyn Tx, psn_no: &str, date: yibao_domain::Date, now_ms: i64) -> DbResult<u64> {
    tx.execute(
        "UPDATE person SET death_date = $1, coverage_seq = coverage_seq + 1, updated_at_ms = $2 WHERE psn_no = $3",
        params![date, now_ms, psn_no],
    )
}

/// The highest person number with a prefix (a region's 6 digits).
pub fn max_psn_no(tx: &mut dyn Tx, prefix: &str) -> DbResult<Option<String>> {
    tx.query_one("SELECT MAX(psn_no) FROM person WHERE psn_no LIKE $1", params![format!("{prefix}%")])?.opt_text(0)
}

/// Which of these certificate numbers are already registered.
pub fn existing_certnos(tx: &mut dyn Tx, certnos: &[String]) -> DbResult<std::collections::HashSet<String>> {
    let mut found = std::collections::HashSet::new();
    for chunk in certnos.chunks(200) {
        let params: Vec<Value> = chunk.iter().map(|c| c.as_str().into()).collect();
        for r in
            tx.query(&format!("SELECT certno FROM person WHERE certno IN ({})", placeholders(1, chunk.len())), &params)?
        {
            found.insert(r.text(0)?);
        }
    }
    Ok(found)
}

// ---------------------------------------------------------------- households

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct HouseholdMember {
    pub psn_no: String,
    pub relation: yibao_domain::enrollment::Relation,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Household {
    pub hh_no: String,
    pub head_psn_no: String,
    pub admdvs: DivisionCode,
    pub address: String,
    pub members: Vec<HouseholdMember>,
}

pub fn insert_household(tx: &mut dyn Tx, h: &Household, now_ms: i64) -> DbResult<()> {
    tx.execute(
        "INSERT INTO household (hh_no, head_psn_no, admdvs, address, created_at_ms) VALUES ($1, $2, $3, $4, $5)",
        params![h.hh_no.as_str(), h.head_psn_no.as_str(), h.admdvs.as_str(), h.address.as_str(), now_ms],
    )?;
    let rows: Vec<Vec<Value>> = h
        .members
        .iter()
        .map(|m| vec![m.psn_no.as_str().into(), h.hh_no.as_str().into(), m.relation.as_str().into()])
        .collect();
    insert_many(tx, "INSERT INTO household_member (psn_no, hh_no, relation)", 3, rows, "")?;
    Ok(())
}

pub fn household(tx: &mut dyn Tx, hh_no: &str) -> DbResult<Option<Household>> {
    let Some(r) =
        tx.query_opt("SELECT hh_no, head_psn_no, admdvs, address FROM household WHERE hh_no = $1", params![hh_no])?
    else {
        return Ok(None);
    };
    let members = tx
        .query("SELECT psn_no, relation FROM household_member WHERE hh_no = $1 ORDER BY psn_no", params![hh_no])?
        .iter()
        .map(|m| {
            Ok(HouseholdMember {
                psn_no: m.text(0)?,
                relation: decode(yibao_domain::enrollment::Relation::parse(&m.text(1)?))?,
            })
        })
        .collect::<DbResult<Vec<_>>>()?;
    Ok(Some(Household {
        hh_no: r.text(0)?,
        head_psn_no: r.text(1)?,
        admdvs: decode(DivisionCode::parse(&r.text(2)?))?,
        address: r.text(3)?,
        members,
    }))
}

pub fn household_of(tx: &mut dyn Tx, psn_no: &str) -> DbResult<Option<String>> {
    tx.query_opt("SELECT hh_no FROM household_member WHERE psn_no = $1", params![psn_no])?
        .map(|r| r.text(0))
        .transpose()
}

// ---------------------------------------------------------------- transfers

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Transfer {
    pub transfer_id: String,
    pub psn_no: String,
    pub insutype: Insutype,
    pub from_admdvs: DivisionCode,
    pub to_admdvs: DivisionCode,
    pub from_enrollment_id: i64,
    pub out_date: yibao_domain::Date,
    /// 缴费月数 carried (all paid months of the scheme, in every region).
    pub contribution_months: i64,
    pub account_balance: yibao_domain::Money,
    /// `pending` until the receiving region accepts it, then `completed`.
    pub status: String,
    pub to_enrollment_id: Option<i64>,
    pub in_date: Option<yibao_domain::Date>,
}

const TRANSFER_COLUMNS: &str = "transfer_id, psn_no, insutype, from_admdvs, to_admdvs, from_enrollment_id, out_date, \
    contribution_months, account_balance_fen, status, to_enrollment_id, in_date";

pub fn insert_transfer(tx: &mut dyn Tx, t: &Transfer, now_ms: i64) -> DbResult<()> {
    tx.execute(
        &format!(
            "INSERT INTO transfer ({TRANSFER_COLUMNS}, created_at_ms, updated_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)"
        ),
        params![
            t.transfer_id.as_str(),
            t.psn_no.as_str(),
            t.insutype.code(),
            t.from_admdvs.as_str(),
            t.to_admdvs.as_str(),
            t.from_enrollment_id,
            t.out_date,
            t.contribution_months,
            t.account_balance,
            t.status.as_str(),
            t.to_enrollment_id,
            t.in_date,
            now_ms
        ],
    )?;
    Ok(())
}

pub fn transfer(tx: &mut dyn Tx, id: &str) -> DbResult<Option<Transfer>> {
    let lock = tx.for_update();
    tx.query_opt(&format!("SELECT {TRANSFER_COLUMNS} FROM transfer WHERE transfer_id = $1{lock}"), params![id])?
        .map(|r| {
            Ok(Transfer {
                transfer_id: r.text(0)?,
                psn_no: r.text(1)?,
                insutype: decode(Insutype::parse(&r.text(2)?))?,
                from_admdvs: decode(DivisionCode::parse(&r.text(3)?))?,
                to_admdvs: decode(DivisionCode::parse(&r.text(4)?))?,
                from_enrollment_id: r.i64(5)?,
                out_date: r.date(6)?,
                contribution_months: r.i64(7)?,
                account_balance: r.money(8)?,
                status: r.text(9)?,
                to_enrollment_id: r.get(10)?,
                in_date: r.get(11)?,
            })
        })
        .transpose()
}

pub fn complete_transfer(
    tx: &mut dyn Tx,
    id: &str,
    to_enrollment_id: i64,
    in_date: yibao_domain::Date,
    now_ms: i64,
) -> DbResult<u64> {
    tx.execute(
        "UPDATE transfer SET status = 'completed', to_enrollment_id = $1, in_date = $2, updated_at_ms = $3 \
         WHERE transfer_id = $4 AND status = 'pending'",
        params![to_enrollment_id, in_date, now_ms, id],
    )
}

/// Sets the employer of enrollments (demo loading, employer changes).
pub fn set_employer(tx: &mut dyn Tx, enrollment_ids: &[i64], emp_no: &str, now_ms: i64) -> DbResult<u64> {
    let mut changed = 0;
    for chunk in enrollment_ids.chunks(200) {
        let mut p: Vec<Value> = vec![emp_no.into(), now_ms.into()];
        p.extend(chunk.iter().map(|id| Value::from(*id)));
        changed += tx.execute(
            &format!(
                "UPDATE enrollment SET emp_no = $1, updated_at_ms = $2 WHERE id IN ({})",
                placeholders(3, chunk.len())
            ),
            &p,
        )?;
    }
    Ok(changed)
}
