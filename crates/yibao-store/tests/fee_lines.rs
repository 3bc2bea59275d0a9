//! A visit's active fee lines come back in upload order (upload time, then
//! serial byte by byte) on every backend. `active_lines` sorts them itself
//! instead of asking the database to, so this pins the order it promises:
//! the settlement and its details follow it.

use yibao_domain::codes::ListType;
use yibao_domain::{DateTime, Money, Quantity, Ratio, UnitPrice};
use yibao_store::visit::{FeeLineRow, active_lines, cancel_lines, upsert_lines};
use yibao_store::{DbError, Tx, testing};

fn line(feedetl_sn: &str, chrg_bchno: &str) -> FeeLineRow {
    FeeLineRow {
        mdtrt_id: "M1".to_owned(),
        feedetl_sn: feedetl_sn.to_owned(),
        chrg_bchno: chrg_bchno.to_owned(),
        psn_no: "P1".to_owned(),
        med_list_codg: "XA01AAA000A001010100001".to_owned(),
        medins_list_codg: "H1".to_owned(),
        list_type: ListType::WesternAndPatentDrug,
        item_name: "药".to_owned(),
        fee_ocur_time: DateTime::parse("2026-11-24 09:00:00").unwrap(),
        cnt: Quantity::units(1),
        pric: UnitPrice::from_money(Money::from_fen(100)),
        amount: Money::from_fen(100),
        chrgitm_lv: None,
        selfpay_prop: Ratio::ZERO,
        price_cap: None,
        fulamt_ownpay_amt: Money::ZERO,
        overlmt_amt: Money::ZERO,
        preselfpay_amt: Money::ZERO,
        inscp_scp_amt: Money::from_fen(100),
        active: true,
        extra: "{}".to_owned(),
    }
}

fn serials(lines: &[FeeLineRow]) -> Vec<&str> {
    lines.iter().map(|l| l.feedetl_sn.as_str()).collect()
}

#[test]
fn active_lines_come_in_upload_time_then_serial_order_on_every_backend() {
    for db in testing::backends() {
        let backend = db.backend();
        // Uploaded later but stamped earlier: time decides before serial.
        // "a10" sorts before "a9" byte by byte.
        db.write_blocking(|tx: &mut dyn Tx| {
            upsert_lines(tx, "M1", "P1", &[line("b", "B1"), line("a9", "B1"), line("a10", "B1")], 2_000)?;
            upsert_lines(tx, "M1", "P1", &[line("z", "B2"), line("c", "B2")], 1_000)?;
            upsert_lines(tx, "M1", "P1", &[line("d", "B3")], 3_000)?;
            cancel_lines(tx, "M1", Some("B3"), &[])?;
            Ok::<_, DbError>(())
        })
        .unwrap();
        let (all, batch) = db
            .read_blocking(|tx: &mut dyn Tx| {
                Ok::<_, DbError>((active_lines(tx, "M1", None)?, active_lines(tx, "M1", Some("B1"))?))
            })
            .unwrap();
        assert_eq!(serials(&all), ["c", "z", "a10", "a9", "b"], "{backend:?}: every active line");
        assert_eq!(serials(&batch), ["a10", "a9", "b"], "{backend:?}: one charge batch");
        // In a write job too (on PostgreSQL, its reads may be answered from
        // a prefetch; the order must not depend on it).
        let written = db
            .write_blocking(|tx: &mut dyn Tx| {
                tx.prefetch(&[yibao_store::visit::active_lines_read("M1", None)])?;
                active_lines(tx, "M1", None)
            })
            .unwrap();
        assert_eq!(serials(&written), ["c", "z", "a10", "a9", "b"], "{backend:?}: in a write job");
    }
}
