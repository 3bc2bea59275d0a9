//! The `yibao` binary as a newcomer runs it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_yibao");

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("yibao-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A minimal HTTP/1.1 exchange over a fresh connection.
fn http(addr: &str, method: &str, path: &str, body: Option<&str>, token: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let body = body.unwrap_or("");
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(data_dir: &std::path::Path, extra: &[&str]) -> (Server, String) {
    let child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .env("YIBAO_LOG", "warn")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // Owned by the guard at once, so that a failed start still kills it.
    let mut server = Server(child);
    let stderr = server.0.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            if let Some(rest) = line.strip_prefix("yibao listening on http://") {
                let addr = rest.split_whitespace().next().unwrap().to_owned();
                return (server, addr);
            }
            seen.push(line);
        }
    }
    panic!("server did not start: {seen:?}");
}

#[test]
fn every_command_has_help_with_examples() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["import", "--help"],
        vec!["migrate", "--help"],
        vec!["staff", "create", "--help"],
        vec!["fund", "trial-balance", "--help"],
        vec!["fund", "clear", "--help"],
        vec!["fund", "close", "--help"],
    ] {
        let out = Command::new(BIN).args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Example"), "{args:?} has examples: {text}");
    }
    let out = Command::new(BIN).args(["serve", "--database-url", "mysql://x"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("postgres://"));
}

#[test]
fn serve_demo_answers_health_catalog_and_login() {
    let dir = temp_dir("demo");
    let (_server, addr) = start(&dir, &["--demo", "--sqlite-synchronous", "normal"]);
    let (status, body) = http(&addr, "GET", "/health", None, None);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"status\":\"ok\""));
    let (status, body) =
        http(&addr, "GET", "/api/v1/catalog/search?q=%E9%98%BF%E8%8E%AB%E8%A5%BF%E6%9E%97", None, None);
    assert_eq!(status, 200);
    assert!(
        body.contains("\"name\":\"阿莫西林\"") && body.contains("\"class\":\"01\"") && body.contains("dosage_form")
    );
    let (status, _) = http(&addr, "GET", "/api/v1/institutions", None, None);
    assert_eq!(status, 401);
    let (status, body) =
        http(&addr, "POST", "/api/v1/auth/login", Some(r#"{"username":"admin","password":"yibao-demo-2026"}"#), None);
    assert_eq!(status, 200, "{body}");
    let token = body.split("\"token\":\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let (status, body) = http(&addr, "GET", "/api/v1/institutions?limit=1", None, Some(&token));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"total\":21"));
    drop(_server);
    // A second start keeps the data and does not load the demo twice.
    let (_server, addr) = start(&dir, &["--demo"]);
    let (_, body) =
        http(&addr, "POST", "/api/v1/auth/login", Some(r#"{"username":"admin","password":"yibao-demo-2026"}"#), None);
    let token = body.split("\"token\":\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let (_, body) = http(&addr, "GET", "/api/v1/institutions?limit=1", None, Some(&token));
    assert!(body.contains("\"total\":21"), "{body}");
    drop(_server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn import_is_idempotent_and_staff_can_be_created() {
    let dir = temp_dir("import");
    let run = |args: &[&str], stdin: Option<&str>| {
        let mut child = Command::new(BIN)
            .args(args)
            .arg("--data-dir")
            .arg(&dir)
            .env("YIBAO_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(input) = stdin {
            child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        } else {
            drop(child.stdin.take());
        }
        child.wait_with_output().unwrap()
    };
    let first = run(&["import"], None);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let text = String::from_utf8_lossy(&first.stdout);
    assert!(text.contains("divisions") && text.contains("3348 rows  loaded"), "{text}");
    let second = run(&["import"], None);
    let text = String::from_utf8_lossy(&second.stdout);
    assert!(text.contains("3348 rows  unchanged") && !text.contains(" loaded"), "{text}");
    let repo_data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data");
    let from_dir = run(&["import", "--dir", repo_data.to_str().unwrap()], None);
    assert!(String::from_utf8_lossy(&from_dir.stdout).contains("unchanged"), "same files, same hashes");
    let missing = run(&["import", "--dir", "/nonexistent"], None);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("admdvs.csv"));
    let args =
        ["staff", "create", "--username", "root", "--display-name", "管理员", "--roles", "admin", "--region-scope", ""];
    let created = run(&args, Some("Very-secret-2026\n"));
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    assert!(String::from_utf8_lossy(&created.stdout).contains("\"username\": \"root\""));
    let again = run(&args, Some("Very-secret-2026\n"));
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("已存在"));
    let weak = run(
        &["staff", "create", "--username", "x", "--display-name", "x", "--roles", "admin", "--region-scope", ""],
        Some("123"),
    );
    assert!(!weak.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn simulate_prints_the_worked_examples_to_the_fen() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for (policy, case, fund, person) in [
        ("policies/heilongjiang-310-e1.toml", "docs/examples/e1-case.json", "6560.00", "3440.00"),
        ("policies/ningbo-390.toml", "docs/examples/e2-case.json", "13160.00", "8840.00"),
    ] {
        let out = Command::new(BIN)
            .args(["simulate", "--policy"])
            .arg(root.join(policy))
            .arg("--case")
            .arg(root.join(case))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(&format!("\"hifp_pay\": {fund}")), "{policy}: {text}");
        assert!(text.contains(&format!("\"psn_part_amt\": {person}")), "{policy}: {text}");
    }
    let bad = Command::new(BIN)
        .args(["simulate", "--policy"])
        .arg(root.join("policies/ningbo-390.toml"))
        .arg("--case")
        .arg(root.join("docs/examples/e1-case.json"))
        .output()
        .unwrap();
    assert!(!bad.status.success(), "a 职工 case against a 居民 policy is refused");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("insutype"));
}

#[test]
fn fund_trial_balance_and_clear_on_a_fresh_database() {
    let dir = temp_dir("fund");
    let run = |args: &[&str]| {
        Command::new(BIN).args(args).arg("--data-dir").arg(&dir).env("YIBAO_LOG", "warn").output().unwrap()
    };
    let out = run(&["fund", "trial-balance"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("试算平衡") && text.contains("借方合计 0.00"), "{text}");
    let out = run(&["fund", "trial-balance", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["balanced"], true);
    let out = run(&["fund", "clear", "--period", "2026-10"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("没有待清算"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(&["fund", "close", "--through", "2026-10"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("2026-10 已结账"));
    let out = run(&["fund", "clear", "--period", "2026-13"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("period"));
    let _ = std::fs::remove_dir_all(&dir);
}
