//! `yibao sim`: populate, load over real HTTP, verify; verification fails on
//! a corrupted database; acknowledged settlements survive `kill -9`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_yibao");

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("yibao-sim-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(data_dir: &std::path::Path) -> (Server, String) {
    let child = Command::new(BIN)
        // The simulated HIS clients hold no gateway credentials (docs/performance.md).
        .args(["serve", "--listen", "127.0.0.1:0", "--sqlite-synchronous", "full", "--fsi-auth", "none", "--data-dir"])
        .arg(data_dir)
        .env("YIBAO_LOG", "warn")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Server(child);
    let stderr = server.0.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200))
            && let Some(rest) = line.strip_prefix("yibao listening on http://")
        {
            return (server, rest.split_whitespace().next().unwrap().to_owned());
        }
    }
    panic!("server did not start");
}

fn yibao(args: &[&str], dir: &std::path::Path) -> Output {
    Command::new(BIN).args(args).arg("--data-dir").arg(dir).env("YIBAO_LOG", "warn").output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn populate_load_verify_and_corruption_is_caught() {
    let dir = temp_dir("run");
    let out = yibao(&["sim", "populate", "--persons", "3000", "--seed", "5", "--sqlite-synchronous", "off"], &dir);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("3000 人"), "{}", text(&out));
    // Deterministic and refuses a second load.
    let again = yibao(&["sim", "populate", "--persons", "3000", "--seed", "5"], &dir);
    assert!(!again.status.success());

    let (server, addr) = start(&dir);
    let results = dir.join("run.json");
    let out = yibao(
        &[
            "sim",
            "load",
            "--url",
            &format!("http://{addr}"),
            "--clients",
            "4",
            "--duration",
            "3",
            "--baseline-seconds",
            "1",
            "--cancel-share",
            "0.2",
            "--reversal-share",
            "0.1",
            "--inpatient-share",
            "0.1",
            "--pharmacy-share",
            "0.25",
            "--server-pid",
            &server.0.id().to_string(),
            "--out",
            results.to_str().unwrap(),
            "--record-outputs",
            dir.join("outputs.json").to_str().unwrap(),
        ],
        &dir,
    );
    assert!(out.status.success(), "{}", text(&out));
    // One real output per transaction code, as `sim echo --outputs` reads them.
    let outputs: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("outputs.json")).unwrap()).unwrap();
    for code in ["9001", "1101", "2201", "2204", "2206", "2207", "2101", "2102"] {
        assert!(outputs[code].is_object(), "no output recorded for {code}: {outputs}");
    }
    assert!(outputs["2207"]["setlinfo"]["setl_id"].is_string(), "{outputs}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&results).unwrap()).unwrap();
    assert!(report["throughput"]["outpatient_settlements_per_s"].as_f64().unwrap() > 0.0, "{report}");
    assert!(report["acks"]["settled"].as_u64().unwrap() > 0);
    assert!(report["acks"]["cancelled"].as_u64().unwrap() > 0, "{report}");
    assert!(report["acks"]["reversed"].as_u64().unwrap() > 0, "{report}");
    assert!(report["latency"]["2207"]["p99_ms"].as_f64().unwrap() > 0.0);
    assert!(report["baseline"]["serial_commits_per_s"].as_f64().unwrap() > 0.0);
    assert_eq!(report["verification"]["report"]["ok"], true);
    // Every check looked at something: a check over nothing would pass
    // whatever the database held.
    for check in report["verification"]["report"]["checks"].as_array().unwrap() {
        let detail = check["detail"].as_str().unwrap();
        let count: u64 = detail.strip_suffix(" checked").and_then(|n| n.parse().ok()).unwrap_or(0);
        assert!(count > 0, "{} reports {detail:?}", check["name"]);
    }
    drop(server);

    let acks = dir.join("run.acks.json");
    let ok = yibao(&["sim", "verify", "--acks", acks.to_str().unwrap()], &dir);
    assert!(ok.status.success(), "{}", text(&ok));

    // A settlement reversed without an acknowledged cancellation fails…
    let mut edited: serde_json::Value = serde_json::from_slice(&std::fs::read(&acks).unwrap()).unwrap();
    let cancelled = edited["cancelled"].as_array_mut().unwrap().pop().unwrap();
    let forgotten = dir.join("forgotten.acks.json");
    std::fs::write(&forgotten, edited.to_string()).unwrap();
    let t = text(&yibao(&["sim", "verify", "--acks", forgotten.to_str().unwrap()], &dir));
    assert!(t.contains("✗ acknowledged settlements not reversed unless cancelled"), "{t}");
    // …unless its cancellation was sent and never answered (the server died
    // first): then either outcome is correct.
    edited["cancel_unanswered"] = serde_json::json!([cancelled]);
    let unanswered = dir.join("unanswered.acks.json");
    std::fs::write(&unanswered, edited.to_string()).unwrap();
    let ok = yibao(&["sim", "verify", "--acks", unanswered.to_str().unwrap()], &dir);
    assert!(ok.status.success(), "{}", text(&ok));

    // Corrupt an account balance: verification must fail and say why.
    let db =
        yibao_store::Db::open(&yibao_store::DbConfig::sqlite(dir.join("yibao.db"), yibao_store::Synchronous::Full))
            .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(db.write(|tx: &mut dyn yibao_store::Tx| {
        tx.execute(
            "UPDATE account SET balance_fen = balance_fen + 1 WHERE psn_no = (SELECT MIN(psn_no) FROM account)",
            yibao_store::params![],
        )
    }))
    .unwrap();
    let bad = yibao(&["sim", "verify"], &dir);
    assert!(!bad.status.success());
    let t = text(&bad);
    assert!(t.contains("✗ account balances equal their movements") && t.contains("verification FAILED"), "{t}");

    // Delete a ledger line of a settlement: the trial balance fails too.
    rt.block_on(db.write(|tx: &mut dyn yibao_store::Tx| {
        tx.execute(
            "DELETE FROM fund_line WHERE entry_id = (SELECT MAX(id) FROM fund_entry WHERE kind = 'settlement') \
             AND line_no = 1",
            yibao_store::params![],
        )
    }))
    .unwrap();
    let t = text(&yibao(&["sim", "verify"], &dir));
    assert!(t.contains("✗ ledger trial balance is zero"), "{t}");
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `sim echo` answers every transaction the load generator sends, parsed as
/// the real server parses it, and a load run against it is marked as the
/// unverified floor rather than passed off as a verified run.
#[test]
fn the_echo_floor_answers_every_transaction_of_the_load_and_is_marked_unverified() {
    let dir = temp_dir("echo");
    let out = yibao(&["sim", "populate", "--persons", "2000", "--seed", "3", "--sqlite-synchronous", "off"], &dir);
    assert!(out.status.success(), "{}", text(&out));
    let mut echo = Server(
        Command::new(BIN)
            .args(["sim", "echo", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(echo.0.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr =
        line.strip_prefix("yibao sim echo listening on http://").expect(&line).split_whitespace().next().unwrap();
    let results = dir.join("echo.json");
    let out = yibao(
        &[
            "sim",
            "load",
            "--echo",
            "--url",
            &format!("http://{addr}"),
            "--clients",
            "4",
            "--duration",
            "2",
            "--baseline-seconds",
            "0",
            "--cancel-share",
            "0.2",
            "--reversal-share",
            "0.1",
            "--inpatient-share",
            "0.2",
            "--pharmacy-share",
            "0.25",
            "--out",
            results.to_str().unwrap(),
        ],
        &dir,
    );
    assert!(out.status.success(), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&results).unwrap()).unwrap();
    assert_eq!(report["errors"], serde_json::json!({}), "every code has a recorded output: {report}");
    for code in ["9001", "1101", "2201", "2204", "2206", "2207", "2401", "2301", "2304", "2101", "2102", "2601"] {
        assert!(report["latency"][code]["count"].as_u64().unwrap_or(0) > 0, "{code} not sent: {report}");
    }
    assert!(report["throughput"]["outpatient_settlements_per_s"].as_f64().unwrap() > 0.0);
    assert_eq!(report["verification"], "not run: the echo server stores nothing");
    assert!(report["server"].as_str().unwrap().starts_with("yibao sim echo"), "{report}");
    drop(echo);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn acknowledged_settlements_survive_kill_9() {
    let dir = temp_dir("kill");
    let out = yibao(&["sim", "populate", "--persons", "1000", "--seed", "9", "--sqlite-synchronous", "off"], &dir);
    assert!(out.status.success(), "{}", text(&out));
    let (mut server, addr) = start(&dir);
    let results = dir.join("kill.json");
    let mut load = Command::new(BIN)
        .args(["sim", "load", "--url", &format!("http://{addr}"), "--clients", "4", "--duration", "4"])
        .args(["--baseline-seconds", "0", "--out", results.to_str().unwrap(), "--data-dir"])
        .arg(&dir)
        .env("YIBAO_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The load starts after its calibration (seconds of its own); its
    // "load:" line says the clients are about to run. The rest of its
    // output is read to the end so that it never blocks on a full pipe.
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let stderr = BufReader::new(load.stderr.take().unwrap());
    let drain = std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if line.starts_with("load:") {
                let _ = started_tx.send(());
            }
        }
    });
    started_rx.recv_timeout(Duration::from_secs(60)).expect("the load starts");
    std::thread::sleep(Duration::from_millis(2000));
    // SIGKILL in the middle of the run: no shutdown, no flush.
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    let status = load.wait().unwrap();
    drain.join().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&results).unwrap()).unwrap();
    let settled = report["acks"]["settled"].as_u64().unwrap();
    assert!(settled > 0, "{report}");
    assert!(status.success(), "every acknowledged settlement is stored: {}", report["verification"]);
    // Restart the server on the same data; the acknowledgements still hold.
    let (_server, _) = start(&dir);
    let acks = dir.join("kill.acks.json");
    let ok = yibao(&["sim", "verify", "--acks", acks.to_str().unwrap()], &dir);
    assert!(ok.status.success(), "{}", text(&ok));
    let _ = std::fs::remove_dir_all(&dir);
}
