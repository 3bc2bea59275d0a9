//! Every repository function that writes a coverage input (an enrollment, a
//! paid period, the opening of a personal account, a death date) counts the
//! change on the person (`person.coverage_seq`), on every backend. A visit
//! reuses the coverage it was opened with only while that counter stands
//! still, so a write that forgot to count would let a stopped or dead
//! person settle.

use yibao_domain::codes::{Gend, Insutype, PsnCertType, PsnType};
use yibao_domain::division::DivisionCode;
use yibao_domain::enrollment::{Certificate, Enrollment, EnrollmentStatus, PaidPeriod, Person, StopReason};
use yibao_domain::{Date, Money};
use yibao_store::contribution::{PaidRow, insert_paid};
use yibao_store::enrollment::{self as repo, EnrollmentDetail};
use yibao_store::sim::{OpenedAccount, insert_accounts};
use yibao_store::{Db, DbError, Tx, testing};

const NOW_MS: i64 = 1_795_000_000_000;

fn date(s: &str) -> Date {
    Date::parse(s).unwrap()
}

fn region() -> DivisionCode {
    DivisionCode::parse("330200").unwrap()
}

fn person(psn_no: &str, certno: &str) -> Person {
    Person {
        psn_no: psn_no.to_owned(),
        certificate: Certificate { psn_cert_type: PsnCertType::ResidentIdCard, certno: certno.to_owned() },
        name: "张三".to_owned(),
        gend: Gend::Male,
        brdy: date("1980-01-01"),
        naty: "01".to_owned(),
        admdvs: region(),
        tel: String::new(),
        address: String::new(),
        death_date: None,
    }
}

fn enrollment(id: i64, psn_no: &str) -> Enrollment {
    Enrollment {
        id,
        psn_no: psn_no.to_owned(),
        insutype: Insutype::EmployeeBasic,
        psn_type: PsnType::EmployeeActive,
        insu_admdvs: region(),
        begin_date: date("2020-01-01"),
        end_date: None,
        status: EnrollmentStatus::Active,
        cvlserv_flag: false,
        assistance_category: None,
    }
}

fn seq(db: &Db, psn_no: &'static str) -> i64 {
    db.read_blocking(move |tx: &mut dyn Tx| {
        let p = repo::person_for_visit(tx, psn_no)?.expect("stored");
        Ok::<_, DbError>(p.coverage_seq)
    })
    .unwrap()
}

fn write(db: &Db, job: impl FnMut(&mut dyn Tx) -> Result<(), DbError> + Send + 'static) {
    db.write_blocking(job).unwrap();
}

#[test]
fn every_write_to_a_coverage_input_counts_on_the_person() {
    for db in testing::backends() {
        let backend = db.backend();
        write(&db, |tx| {
            repo::insert_persons(
                tx,
                &[person("P1", "330203198001010011"), person("P2", "330203198001010038")],
                NOW_MS,
            )?;
            Ok(())
        });
        assert_eq!((seq(&db, "P1"), seq(&db, "P2")), (0, 0), "{backend:?}: a new person starts at 0");

        // Bulk enrollments (population loads, the demo): one per person named.
        write(&db, |tx| repo::insert_enrollments(tx, &[enrollment(1, "P1"), enrollment(2, "P2")], NOW_MS).map(drop));
        assert_eq!((seq(&db, "P1"), seq(&db, "P2")), (1, 1), "{backend:?}: insert_enrollments");

        write(&db, |tx| repo::stop_enrollment(tx, 1, date("2026-06-30"), StopReason::Other, NOW_MS).map(drop));
        assert_eq!((seq(&db, "P1"), seq(&db, "P2")), (2, 1), "{backend:?}: stop_enrollment, P1 only");

        // An enrollment through the enrollment module.
        let mut renewed = enrollment(3, "P1");
        renewed.begin_date = date("2026-07-01");
        let detail = EnrollmentDetail { enrollment: renewed, emp_no: None, stop_reason: None, waiting_exempt: false };
        write(&db, move |tx| repo::insert_enrollment_detail(tx, &detail, NOW_MS).map(drop));
        assert_eq!((seq(&db, "P1"), seq(&db, "P2")), (3, 1), "{backend:?}: insert_enrollment_detail");

        // Paid periods: counted once per person and statement, and not at
        // all when the rows were already there (nothing changed).
        let paid = |psn_no: &str, enrollment_id: i64, start: &str, end: &str| PaidRow {
            psn_no: psn_no.to_owned(),
            enrollment_id,
            insutype: Insutype::EmployeeBasic,
            period: PaidPeriod { start: date(start), end: date(end), paid_on: date(start) },
            source: "history",
            source_ref: "T".to_owned(),
        };
        let rows = vec![
            paid("P1", 1, "2026-01-01", "2026-01-31"),
            paid("P1", 1, "2026-02-01", "2026-02-28"),
            paid("P2", 2, "2026-01-01", "2026-01-31"),
        ];
        let again = rows.clone();
        write(&db, move |tx| insert_paid(tx, &rows, NOW_MS).map(drop));
        assert_eq!((seq(&db, "P1"), seq(&db, "P2")), (4, 2), "{backend:?}: insert_paid");
        write(&db, move |tx| insert_paid(tx, &again, NOW_MS).map(drop));
        assert_eq!((seq(&db, "P1"), seq(&db, "P2")), (4, 2), "{backend:?}: insert_paid of rows already stored");

        // Opening an account counts; opening one that exists changes nothing.
        write(&db, |tx| yibao_store::account::open(tx, "P1", region(), NOW_MS));
        assert_eq!(seq(&db, "P1"), 5, "{backend:?}: account::open");
        write(&db, |tx| yibao_store::account::open(tx, "P1", region(), NOW_MS));
        assert_eq!(seq(&db, "P1"), 5, "{backend:?}: account::open of an open account");
        let opened = vec![OpenedAccount {
            psn_no: "P2".into(),
            region: region(),
            opening: Money::ZERO,
            date: date("2026-01-01"),
        }];
        write(&db, move |tx| insert_accounts(tx, &opened, 900, NOW_MS).map(drop));
        assert_eq!(seq(&db, "P2"), 3, "{backend:?}: sim insert_accounts");

        write(&db, |tx| repo::set_death_date(tx, "P2", date("2026-10-01"), NOW_MS).map(drop));
        assert_eq!((seq(&db, "P1"), seq(&db, "P2")), (5, 4), "{backend:?}: set_death_date");

        // The person as a visit reads them: the account's balance with them.
        let (p1, p2) = db
            .read_blocking(|tx: &mut dyn Tx| {
                Ok::<_, DbError>((
                    repo::person_for_visit(tx, "P1")?.unwrap(),
                    repo::person_for_visit(tx, "P2")?.unwrap(),
                ))
            })
            .unwrap();
        assert_eq!(p1.account_balance, Some(Money::ZERO));
        assert_eq!(p2.person.death_date, Some(date("2026-10-01")));
        let none = db.read_blocking(|tx: &mut dyn Tx| repo::person_for_visit(tx, "P3")).unwrap();
        assert_eq!(none, None);
    }
}
