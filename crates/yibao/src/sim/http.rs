//! A small blocking HTTP/1.1 client with keep-alive: all the load generator
//! needs (POST of JSON, answers with Content-Length or chunked), without a
//! client library to compile.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Largest answer body accepted.
const BODY_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Longest header line accepted.
const HEADER_LINE_BYTES_MAX: usize = 16 * 1024;
const HEADERS_MAX: usize = 100;

pub struct Conn {
    addr: String,
    timeout: Duration,
    stream: Option<BufReader<TcpStream>>,
}

#[derive(Debug)]
pub enum HttpError {
    /// Connecting, sending or reading failed (or timed out).
    Io(String),
    /// The answer was not HTTP as expected.
    Protocol(String),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Io(m) => write!(f, "io: {m}"),
            HttpError::Protocol(m) => write!(f, "protocol: {m}"),
        }
    }
}

fn io(e: std::io::Error) -> HttpError {
    HttpError::Io(e.kind().to_string())
}

impl Conn {
    /// `addr` is host:port.
    pub fn new(addr: &str, timeout: Duration) -> Conn {
        Conn { addr: addr.to_owned(), timeout, stream: None }
    }

    fn connect(&mut self) -> Result<&mut BufReader<TcpStream>, HttpError> {
        if self.stream.is_none() {
            let s = TcpStream::connect(&self.addr).map_err(io)?;
            s.set_nodelay(true).map_err(io)?;
            s.set_read_timeout(Some(self.timeout)).map_err(io)?;
            s.set_write_timeout(Some(self.timeout)).map_err(io)?;
            self.stream = Some(BufReader::with_capacity(64 * 1024, s));
        }
        Ok(self.stream.as_mut().expect("connected"))
    }

    /// POSTs a JSON body; returns (status, body). A failed exchange drops
    /// the connection; the next call opens a new one.
    pub fn post_json(&mut self, path: &str, body: &[u8]) -> Result<(u16, Vec<u8>), HttpError> {
        let r = self.exchange(path, body);
        if r.is_err() {
            self.stream = None;
        }
        r
    }

    fn exchange(&mut self, path: &str, body: &[u8]) -> Result<(u16, Vec<u8>), HttpError> {
        let addr = self.addr.clone();
        let s = self.connect()?;
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let mut request = Vec::with_capacity(head.len() + body.len());
        request.extend_from_slice(head.as_bytes());
        request.extend_from_slice(body);
        s.get_mut().write_all(&request).map_err(io)?;
        let mut line = String::new();
        read_line(s, &mut line)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| HttpError::Protocol(format!("bad status line {line:?}")))?;
        let mut length = None;
        let mut chunked = false;
        let mut close = false;
        for _ in 0..HEADERS_MAX {
            line.clear();
            read_line(s, &mut line)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let Some((name, value)) = l.split_once(':') else { continue };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            } else if name.eq_ignore_ascii_case("connection") {
                close = value.eq_ignore_ascii_case("close");
            }
        }
        let mut out = Vec::new();
        if chunked {
            loop {
                line.clear();
                read_line(s, &mut line)?;
                let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                    .map_err(|_| HttpError::Protocol("bad chunk size".into()))?;
                if out.len() + size > BODY_BYTES_MAX {
                    return Err(HttpError::Protocol("answer too large".into()));
                }
                let start = out.len();
                out.resize(start + size, 0);
                s.read_exact(&mut out[start..]).map_err(io)?;
                line.clear();
                read_line(s, &mut line)?;
                if size == 0 {
                    break;
                }
            }
        } else {
            let n = length.ok_or_else(|| HttpError::Protocol("answer without Content-Length".into()))?;
            if n > BODY_BYTES_MAX {
                return Err(HttpError::Protocol("answer too large".into()));
            }
            out.resize(n, 0);
            s.read_exact(&mut out).map_err(io)?;
        }
        if close {
            self.stream = None;
        }
        Ok((status, out))
    }
}

fn read_line(s: &mut BufReader<TcpStream>, line: &mut String) -> Result<(), HttpError> {
    let n = s.by_ref().take(HEADER_LINE_BYTES_MAX as u64).read_line(line).map_err(io)?;
    if n == 0 {
        return Err(HttpError::Io("connection closed".into()));
    }
    Ok(())
}
