//! A bounded load generator for `ratelab serve` on loopback (scripts/load/serve_load.sh drives
//! it): hand-written HTTP/1.1 over tokio's `TcpStream`, nothing else.
//!
//! ```sh
//! serve_load hammer ADDR SECONDS CONNECTIONS          # keep-alive connections, request after request
//! serve_load ids ADDR FROM TO CONNECTIONS             # one request per x-ratelimit-client in FROM..TO
//! serve_load slowloris ADDR CONNECTIONS SECONDS BYTE_EVERY_MS PROBE_EVERY_MS
//! serve_load check-trace TRACE.jsonl RATE_PER_S BURST # the limit in any window of the 200s
//! ```
//!
//! Each prints one JSON object on stdout. `slowloris` holds CONNECTIONS connections that send
//! a request's head one byte every BYTE_EVERY_MS (one closed by the server is reopened
//! BYTE_EVERY_MS later) and,
//! meanwhile, opens a fresh connection every PROBE_EVERY_MS for `GET /_ratelab/health`,
//! timing each probe from connect to the end of its answer (unanswered after 20 s: failed).
//! `check-trace` exits 1 when some window holds more successes than burst + rate·T.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

// The crate's tokio has no `io-util`: reads and writes on readiness.
async fn read(s: &TcpStream, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        s.readable().await?;
        match s.try_read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            r => return r,
        }
    }
}

async fn write_all(s: &TcpStream, mut buf: &[u8]) -> std::io::Result<()> {
    while !buf.is_empty() {
        s.writable().await?;
        match s.try_write(buf) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A keep-alive connection with its read buffer.
struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    async fn open(addr: SocketAddr) -> std::io::Result<Conn> {
        let s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        Ok(Conn {
            s,
            buf: Vec::with_capacity(4096),
        })
    }

    /// Sends `request` and reads one response; its status.
    async fn call(&mut self, request: &[u8]) -> std::io::Result<u16> {
        write_all(&self.s, request).await?;
        self.read_response().await
    }

    async fn read_response(&mut self) -> std::io::Result<u16> {
        let eof = || std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "closed");
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 4096];
            let n = read(&self.s, &mut chunk).await?;
            if n == 0 {
                return Err(eof());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        };
        let head = std::str::from_utf8(&self.buf[..head_end]).map_err(|_| eof())?;
        let status: u16 = head
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .ok_or_else(eof)?;
        let len: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .unwrap_or(0);
        while self.buf.len() < head_end + len {
            let mut chunk = [0u8; 4096];
            let n = read(&self.s, &mut chunk).await?;
            if n == 0 {
                return Err(eof());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
        self.buf.drain(..head_end + len);
        Ok(status)
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[derive(Default)]
struct Counts {
    requests: AtomicU64,
    ok: AtomicU64,
    limited: AtomicU64,
    bad: AtomicU64,
    other: AtomicU64,
    errors: AtomicU64,
}

impl Counts {
    fn add(&self, status: std::io::Result<u16>) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        match status {
            Ok(200) => &self.ok,
            Ok(429) => &self.limited,
            Ok(400) => &self.bad,
            Ok(_) => &self.other,
            Err(_) => &self.errors,
        }
        .fetch_add(1, Ordering::Relaxed);
    }
    fn json(&self, secs: f64) -> serde_json::Value {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        serde_json::json!({
            "seconds": secs,
            "requests": g(&self.requests), "ok": g(&self.ok), "limited": g(&self.limited),
            "bad_request": g(&self.bad), "other_status": g(&self.other),
            "transport_errors": g(&self.errors),
            "requests_per_s": g(&self.requests) as f64 / secs,
            "ok_per_s": g(&self.ok) as f64 / secs,
            "limited_per_s": g(&self.limited) as f64 / secs,
        })
    }
}

/// `hammer`: CONNECTIONS keep-alive connections, each sending request after request for SECONDS
/// (client `i % 100` on connection `i`).
async fn hammer(addr: SocketAddr, secs: f64, conns: usize) -> serde_json::Value {
    let counts = Arc::new(Counts::default());
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(secs);
    let mut tasks = Vec::new();
    for i in 0..conns {
        let counts = Arc::clone(&counts);
        tasks.push(tokio::spawn(async move {
            let request = format!(
                "GET /load HTTP/1.1\r\nhost: load\r\nx-ratelimit-client: {}\r\n\r\n",
                i % 100
            );
            let mut conn = None;
            while Instant::now() < end {
                if conn.is_none() {
                    match Conn::open(addr).await {
                        Ok(c) => conn = Some(c),
                        Err(e) => {
                            counts.add(Err(e));
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        }
                    }
                }
                let Some(c) = conn.as_mut() else { continue };
                let status = c.call(request.as_bytes()).await;
                if status.is_err() {
                    conn = None;
                }
                counts.add(status);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    counts.json(start.elapsed().as_secs_f64())
}

/// `ids`: one request per client id in `from..to` (and a distinct `x-request-id` each), spread
/// over CONNECTIONS keep-alive connections.
async fn ids(addr: SocketAddr, from: u64, to: u64, conns: u64) -> serde_json::Value {
    let counts = Arc::new(Counts::default());
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..conns {
        let counts = Arc::clone(&counts);
        tasks.push(tokio::spawn(async move {
            let mut conn: Option<Conn> = None;
            let mut id = from + i;
            while id < to {
                if conn.is_none() {
                    match Conn::open(addr).await {
                        Ok(c) => conn = Some(c),
                        Err(e) => {
                            counts.add(Err(e));
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        }
                    }
                }
                let Some(c) = conn.as_mut() else { continue };
                let request = format!(
                    "GET /ids HTTP/1.1\r\nhost: load\r\nx-ratelimit-client: {id}\r\nx-request-id: {id}\r\n\r\n"
                );
                let status = c.call(request.as_bytes()).await;
                if status.is_err() {
                    conn = None;
                }
                counts.add(status);
                id += conns;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    counts.json(start.elapsed().as_secs_f64())
}

/// One health probe on a fresh connection: its latency from connect to the end of the answer.
async fn probe(addr: SocketAddr) -> Result<(Duration, u16), String> {
    let t0 = Instant::now();
    let mut c = Conn::open(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let status = c
        .call(b"GET /_ratelab/health HTTP/1.1\r\nhost: probe\r\nconnection: close\r\n\r\n")
        .await
        .map_err(|e| format!("answer: {e}"))?;
    Ok((t0.elapsed(), status))
}

const REQUEST_HEAD: &[u8] = b"GET /slow HTTP/1.1\r\nhost: slow\r\nx-padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";

/// `slowloris`: see the file's comment.
async fn slowloris(
    addr: SocketAddr,
    conns: usize,
    secs: f64,
    byte_every: Duration,
    probe_every: Duration,
) -> serde_json::Value {
    let stop = Arc::new(AtomicBool::new(false));
    let opened = Arc::new(AtomicU64::new(0));
    let closed_by_server = Arc::new(AtomicU64::new(0));
    let connect_errors = Arc::new(AtomicU64::new(0));
    let open_now = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for i in 0..conns {
        let (stop, opened, closed, errors, open_now) = (
            Arc::clone(&stop),
            Arc::clone(&opened),
            Arc::clone(&closed_by_server),
            Arc::clone(&connect_errors),
            Arc::clone(&open_now),
        );
        tasks.push(tokio::spawn(async move {
            // Spread the first bytes over one interval.
            tokio::time::sleep(byte_every.mul_f64(i as f64 / conns as f64)).await;
            while !stop.load(Ordering::Relaxed) {
                let s = match TcpStream::connect(addr).await {
                    Ok(s) => s,
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                opened.fetch_add(1, Ordering::Relaxed);
                open_now.fetch_add(1, Ordering::Relaxed);
                // One byte, then another every `byte_every`, never the whole head; a read of
                // 0 bytes (or an error) means the server closed it.
                let mut at = 0usize;
                let mut sink = [0u8; 1024];
                loop {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    if write_all(&s, &REQUEST_HEAD[at..at + 1]).await.is_err() {
                        closed.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    at = (at + 1).min(REQUEST_HEAD.len() - 5);
                    match tokio::time::timeout(byte_every, read(&s, &mut sink)).await {
                        Err(_) => {}             // silence: the server still holds it
                        Ok(Ok(n)) if n > 0 => {} // an answer (a 408?): keep reading
                        Ok(_) => {
                            closed.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                    }
                }
                open_now.fetch_sub(1, Ordering::Relaxed);
                // A closed connection is reopened at the next tick, as slowloris tools do.
                tokio::time::sleep(byte_every).await;
            }
        }));
    }
    // Let them connect before the first probe.
    tokio::time::sleep(byte_every.min(Duration::from_secs(2))).await;
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(secs);
    let mut probes = Vec::new();
    let mut open_at_probe = Vec::new();
    while Instant::now() < end {
        open_at_probe.push(open_now.load(Ordering::Relaxed));
        probes.push(tokio::spawn(tokio::time::timeout(
            Duration::from_secs(20),
            probe(addr),
        )));
        tokio::time::sleep(probe_every).await;
    }
    let mut latencies = Vec::new();
    let mut failures = Vec::new();
    for p in probes {
        match p.await {
            Ok(Ok(Ok((d, 200)))) => latencies.push(d.as_secs_f64() * 1e3),
            Ok(Ok(Ok((_, status)))) => failures.push(format!("status {status}")),
            Ok(Ok(Err(e))) => failures.push(e),
            Ok(Err(_)) => failures.push("no answer within 20 s".into()),
            Err(e) => failures.push(format!("task: {e}")),
        }
    }
    stop.store(true, Ordering::Relaxed);
    // A connection may still be waiting for a full backlog: no need to wait for it.
    for t in tasks {
        t.abort();
    }
    latencies.sort_by(f64::total_cmp);
    let pct = |q: f64| {
        (!latencies.is_empty())
            .then(|| latencies[((latencies.len() - 1) as f64 * q).round() as usize])
    };
    failures.sort();
    failures.dedup_by(|a, b| a == b);
    open_at_probe.sort_unstable();
    serde_json::json!({
        "seconds": secs,
        "slow_connections": conns,
        "probes": latencies.len() + failures.len(),
        "probes_answered": latencies.len(),
        "probe_failures": failures,
        "probe_ms_median": pct(0.5),
        "probe_ms_p90": pct(0.9),
        "probe_ms_max": pct(1.0),
        "slow_connections_open_median": open_at_probe.get(open_at_probe.len() / 2),
        "slow_opened": opened.load(Ordering::Relaxed),
        "slow_closed_by_server": closed_by_server.load(Ordering::Relaxed),
        "slow_connect_errors": connect_errors.load(Ordering::Relaxed),
    })
}

/// `check-trace`: the 200s' server times from `serve --trace`, and the limit checked in every
/// window. Returns the JSON and whether the limit held.
fn check_trace(path: &str, rate: f64, burst: f64) -> Result<(serde_json::Value, bool), String> {
    use std::io::BufRead as _;
    let file = std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?;
    let mut ok = Vec::new();
    let (mut total, mut load_ok, mut limited) = (0u64, 0u64, 0u64);
    let (mut first, mut last) = (f64::INFINITY, f64::NEG_INFINITY);
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| format!("{path}: {e}"))?;
        let v: serde_json::Value =
            serde_json::from_str(&line).map_err(|e| format!("{path}:{}: {e}", n + 1))?;
        let t = v["t_s"]
            .as_f64()
            .ok_or_else(|| format!("{path}:{}: no t_s", n + 1))?;
        let status = v["status"].as_u64().unwrap_or(0);
        // Every 200 took from the bucket, on any path; the throughput is the hammer's.
        if status == 200 {
            ok.push(t);
        }
        if v["path"] != "/load" {
            continue;
        }
        total += 1;
        first = first.min(t);
        last = last.max(t);
        match status {
            200 => load_ok += 1,
            429 => limited += 1,
            _ => {}
        }
    }
    ok.sort_by(f64::total_cmp);
    // The sup over every window: the window [t_i, t_j] holds j - i + 1 successes, the tightest
    // for them; the largest excess (j - i + 1) - rate·(t_j - t_i) over i <= j, in one pass.
    let mut best_start = f64::NEG_INFINITY; // max over i <= j of rate·t_i - i
    let mut sup_excess = f64::NEG_INFINITY;
    let mut sup_at = (0.0, 0.0);
    let mut start_t = 0.0;
    for (j, &t) in ok.iter().enumerate() {
        let start = rate * t - j as f64;
        if start > best_start {
            best_start = start;
            start_t = t;
        }
        let excess = best_start - (rate * t - j as f64) + 1.0;
        if excess > sup_excess {
            sup_excess = excess;
            sup_at = (start_t, t);
        }
    }
    // And the most successes in any window of length T, for a few T (two pointers).
    let mut windows = Vec::new();
    let mut held = sup_excess <= burst + 1e-6;
    for window in [0.001, 0.01, 0.1, 1.0, 5.0, 10.0] {
        let mut i = 0;
        let mut most = 0usize;
        for j in 0..ok.len() {
            while ok[j] - ok[i] > window {
                i += 1;
            }
            most = most.max(j - i + 1);
        }
        let bound = burst + rate * window;
        held &= most as f64 <= bound + 1e-6;
        windows.push(serde_json::json!({ "t_s": window, "most_200s": most, "bound": bound }));
    }
    let span = last - first;
    Ok((
        serde_json::json!({
            "trace_requests": total, "trace_200s": load_ok, "trace_429s": limited,
            "all_200s_checked": ok.len(),
            "trace_span_s": span,
            "server_requests_per_s": total as f64 / span,
            "server_200s_per_s": load_ok as f64 / span,
            "server_429s_per_s": limited as f64 / span,
            "rate_per_s": rate, "burst": burst,
            "sup_excess_over_rate_t": sup_excess,
            "sup_window_s": [sup_at.0, sup_at.1],
            "windows": windows,
            "limit_held": held,
        }),
        held,
    ))
}

fn usage() -> ! {
    eprintln!(
        "usage: serve_load hammer ADDR SECONDS CONNECTIONS | ids ADDR FROM TO CONNECTIONS | \
         slowloris ADDR CONNECTIONS SECONDS BYTE_EVERY_MS PROBE_EVERY_MS | \
         check-trace TRACE.jsonl RATE_PER_S BURST"
    );
    std::process::exit(2)
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize) -> T {
    args.get(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| usage())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = match args.first().map(String::as_str) {
        Some("hammer") => hammer(arg(&args, 1), arg(&args, 2), arg(&args, 3)).await,
        Some("ids") => ids(arg(&args, 1), arg(&args, 2), arg(&args, 3), arg(&args, 4)).await,
        Some("slowloris") => {
            slowloris(
                arg(&args, 1),
                arg(&args, 2),
                arg(&args, 3),
                Duration::from_millis(arg(&args, 4)),
                Duration::from_millis(arg(&args, 5)),
            )
            .await
        }
        Some("check-trace") => {
            let path: String = arg(&args, 1);
            match check_trace(&path, arg(&args, 2), arg(&args, 3)) {
                Ok((v, held)) => {
                    println!("{v}");
                    std::process::exit(if held { 0 } else { 1 });
                }
                Err(e) => {
                    eprintln!("check-trace: {e}");
                    std::process::exit(2);
                }
            }
        }
        _ => usage(),
    };
    println!("{out}");
}
