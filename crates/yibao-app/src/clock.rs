//! The business clock: the time the platform settles, enrolls and posts at.
//!
//! In production it is the system clock. A test, a training environment or a
//! replay can start it at a chosen instant; it then runs at the system clock's
//! pace from there, so that time still moves forward within a run (message
//! times, settlement times and ledger postings keep their order) while the
//! business date stays the one the fixtures were made for.
//!
//! A clock starts in the past or at the present, never in the future: the
//! ledger's month-close guard (`fund::open_date`) and the rows' written-at
//! stamps read the system clock, and a business date behind it only makes
//! the guard apply more often, which is safe.
//!
//! What the clock does not govern: checks against times chosen by a party
//! outside the platform, such as the signature timestamps of the national
//! interface gateway and its replay window. Those use the system clock,
//! because the outside party signs with real time and a replay window must
//! never be opened or closed by moving the business date.

use yibao_domain::{Date, DateTime};

/// Wall time plus a fixed offset, in milliseconds. Cheap to copy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Clock {
    offset_ms: i64,
}

impl Clock {
    /// The system clock itself.
    pub const fn system() -> Clock {
        Clock { offset_ms: 0 }
    }

    /// A clock that reads `start_ms` (milliseconds since the Unix epoch) now
    /// and runs on from there.
    pub fn starting_at(start_ms: i64) -> Clock {
        let offset_ms = start_ms - yibao_store::now_ms();
        assert!(offset_ms <= 0, "a business clock starts in the past or now, not {offset_ms} ms ahead");
        Clock { offset_ms }
    }

    /// A clock that reads `date` at `hour` o'clock China time now.
    pub fn starting_on(date: Date, hour: u32) -> Clock {
        assert!(hour < 24, "hour {hour} out of range");
        let start = DateTime::from_date(date).add_seconds(i64::from(hour) * 3600);
        Clock::starting_at(start.unix_seconds() * 1000)
    }

    /// Milliseconds since the Unix epoch, on this clock.
    pub fn now_ms(self) -> i64 {
        yibao_store::now_ms() + self.offset_ms
    }

    /// Today's date in China, on this clock.
    pub fn today(self) -> Date {
        DateTime::from_unix_ms(self.now_ms()).date()
    }

    /// Whether this is the system clock.
    pub fn is_system(self) -> bool {
        self.offset_ms == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_started_clock_reads_its_start_and_runs_on() {
        let date = Date::parse("2026-11-22").unwrap();
        let clock = Clock::starting_on(date, 10);
        let start = DateTime::parse("2026-11-22 10:00:00").unwrap().unix_seconds() * 1000;
        let first = clock.now_ms();
        // Allow for a very slow machine between the two reads of the system clock.
        assert!((start..start + 60_000).contains(&first), "{first} not just after {start}");
        assert_eq!(clock.today(), date);
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(clock.now_ms() >= first + 5, "the clock runs on");
        assert!(!clock.is_system());
    }

    #[test]
    fn the_system_clock_is_the_system_time() {
        let before = yibao_store::now_ms();
        let now = Clock::system().now_ms();
        assert!(now >= before && now < before + 60_000);
        assert!(Clock::system().is_system());
        assert_eq!(Clock::default(), Clock::system());
    }
}
