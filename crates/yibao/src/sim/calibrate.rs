//! How fast this machine is, at the time of a run, at the kinds of work a
//! visit is made of. The machines these benchmarks run on change between
//! sittings: the same binary settled 1,527–1,734 visits/s in one sitting
//! and 714–950 in the next (docs/performance.md, twentieth round). The
//! storage baseline says what the disk allows; this says what the cores
//! allow, so that results of different sittings can be told apart from a
//! change of the code.
//!
//! Each figure is the best of [`TRIALS`] trials of a fixed amount of work on
//! one thread (interference only ever slows a trial), measured before the
//! load starts, with nothing else of ours running. It tells sittings apart,
//! not runs: within one sitting, runs moved ±20 % with the calibration
//! unchanged. What the whole machine did during a run ([`MachineTicks`]:
//! busy, idle, waiting for the disk, taken by the hypervisor) is reported
//! beside the server's own CPU.

use std::hint::black_box;
use std::time::Instant;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const TRIALS: u32 = 5;

/// The work of one trial of each kind.
struct Rounds {
    /// Parses and writes of the sample message.
    json: u32,
    /// SHA-256 digests of 4 KiB.
    sha: u32,
    /// Round trips between two threads.
    handoff: u32,
}

/// 0.05–0.25 s per trial of each kind on this machine, 2–3 s in all.
const ROUNDS: Rounds = Rounds { json: 2_000, sha: 20_000, handoff: 20_000 };

/// The calibration section of a result file; `message_2204` is a 2204 as
/// the load sends it (`load::sample_2204`).
pub fn calibrate(message_2204: &[u8]) -> Value {
    calibrate_with(&ROUNDS, message_2204)
}

fn calibrate_with(rounds: &Rounds, body: &[u8]) -> Value {
    let lines =
        serde_json::from_slice::<Value>(body).ok().and_then(|v| v["input"]["feedetail"].as_array().map(Vec::len));
    let json_us = best_us_per_round(rounds.json, || {
        let v: Value = serde_json::from_slice(black_box(body)).expect("the sample parses");
        black_box(serde_json::to_vec(&v).expect("a Value serializes"));
    });
    let page = vec![0x5a_u8; 4096];
    let sha_us = best_us_per_round(rounds.sha, || {
        black_box(Sha256::digest(black_box(&page)));
    });
    let handoff_us = handoff_round_trip_us(rounds.handoff);
    json!({
        "method": format!(
            "best of {TRIALS} trials on one thread, before the load: a 2204 message of {} fee lines as the load \
             sends it ({} bytes) parsed into a serde_json Value and written back; SHA-256 of 4 KiB; a round trip between \
             two threads over channels (a request's wake-ups between a tokio worker and a database thread)",
            lines.unwrap_or(0),
            body.len()
        ),
        "json_2204_parse_and_write_us": json_us,
        "sha256_4kib_us": sha_us,
        "thread_round_trip_us": handoff_us,
    })
}

/// The machine's CPU time by kind, from the first line of `/proc/stat`, in
/// clock ticks summed over all cores. `None` off Linux.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MachineTicks {
    user: u64,
    system: u64,
    idle: u64,
    iowait: u64,
    irq: u64,
    steal: u64,
}

impl MachineTicks {
    pub fn now() -> Option<MachineTicks> {
        Self::parse(&std::fs::read_to_string("/proc/stat").ok()?)
    }

    /// `cpu  user nice system idle iowait irq softirq steal …`
    fn parse(stat: &str) -> Option<MachineTicks> {
        let mut f = stat.lines().next()?.strip_prefix("cpu ")?.split_whitespace().map(|x| x.parse::<u64>().ok());
        let mut next = || f.next().flatten();
        let (user, nice, system, idle, iowait, irq, softirq, steal) =
            (next()?, next()?, next()?, next()?, next()?, next()?, next()?, next()?);
        Some(MachineTicks { user: user + nice, system, idle, iowait, irq: irq + softirq, steal })
    }

    /// Shares of the machine's CPU time between `self` (earlier) and `end`:
    /// where the cores went during a run, the other tenants of the host
    /// included (`steal`: time the hypervisor gave to someone else).
    pub fn shares_until(&self, end: &MachineTicks) -> Value {
        let d = |a: u64, b: u64| b.saturating_sub(a);
        let parts = [
            ("user", d(self.user, end.user)),
            ("system", d(self.system, end.system)),
            ("irq", d(self.irq, end.irq)),
            ("idle", d(self.idle, end.idle)),
            ("iowait", d(self.iowait, end.iowait)),
            ("steal", d(self.steal, end.steal)),
        ];
        let total: u64 = parts.iter().map(|(_, t)| t).sum();
        if total == 0 {
            return Value::Null;
        }
        let mut out = serde_json::Map::new();
        for (name, ticks) in parts {
            // Per mille, rounded down: enough to see a few per cent of steal.
            out.insert(format!("{name}_permille"), json!(ticks * 1000 / total));
        }
        Value::Object(out)
    }
}

/// Microseconds per call of `f`, the best of [`TRIALS`] trials of `rounds` calls.
fn best_us_per_round(rounds: u32, mut f: impl FnMut()) -> f64 {
    assert!(rounds > 0);
    (0..TRIALS)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..rounds {
                f();
            }
            started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds)
        })
        .fold(f64::INFINITY, f64::min)
}

/// A message goes to another thread and its answer comes back, as a request
/// goes from a tokio worker to a database thread and back.
fn handoff_round_trip_us(rounds: u32) -> f64 {
    let (to_peer, from_us) = std::sync::mpsc::sync_channel::<u32>(1);
    let (to_us, from_peer) = std::sync::mpsc::sync_channel::<u32>(1);
    let peer = std::thread::spawn(move || {
        while let Ok(n) = from_us.recv() {
            if to_us.send(n).is_err() {
                break;
            }
        }
    });
    let us = best_us_per_round(rounds, || {
        to_peer.send(1).expect("the peer thread runs");
        black_box(from_peer.recv().expect("the peer thread answers"));
    });
    drop(to_peer);
    peer.join().expect("the peer thread ends");
    us
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibration_reports_positive_times_for_each_kind_of_work() {
        let body = br#"{"infno":"2204","input":{"feedetail":[{"feedetl_sn":"1","cnt":"2","pric":"37.45"},{"feedetl_sn":"2"}]}}"#;
        let c = calibrate_with(&Rounds { json: 20, sha: 200, handoff: 200 }, body);
        for key in ["json_2204_parse_and_write_us", "sha256_4kib_us", "thread_round_trip_us"] {
            let us = c[key].as_f64().unwrap_or_else(|| panic!("{key} in {c}"));
            assert!(us > 0.0 && us < 100_000.0, "{key}: {us}");
        }
        let method = c["method"].as_str().unwrap();
        assert!(method.contains(&format!("2 fee lines as the load sends it ({} bytes)", body.len())), "{method}");
    }

    #[test]
    fn machine_shares_are_the_differences_of_proc_stat() {
        let start = MachineTicks::parse("cpu  100 0 50 1000 10 0 5 0 0 0\ncpu0 1 2 3\n").unwrap();
        // 400 user (nice 100 of it), 100 system, 250 idle, 0 iowait,
        // 50 irq (softirq), 200 steal: 1,000 ticks.
        let end = MachineTicks::parse("cpu  400 100 150 1250 10 0 55 200 0 0\n").unwrap();
        assert_eq!(
            start.shares_until(&end),
            json!({"user_permille": 400, "system_permille": 100, "irq_permille": 50, "idle_permille": 250,
                   "iowait_permille": 0, "steal_permille": 200})
        );
        assert_eq!(start.shares_until(&start), Value::Null);
        assert_eq!(MachineTicks::parse("cpu0 1 2 3 4 5 6 7 8"), None);
        assert_eq!(MachineTicks::parse("cpu  1 2 3"), None);
        assert!(MachineTicks::now().is_some(), "this test runs on Linux");
    }
}
