//! `serve` over a real loopback socket and a small `live` run against it (real time, short).

use std::sync::Arc;

use ratelab_live::{Endpoint, MockApi, Server, run_scenario_live};
use ratelab_sim::Scenario;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn raw(addr: std::net::SocketAddr, request: &str) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn bad_requests_get_400_with_a_reason_and_the_server_keeps_serving() {
    let spec = toml::from_str(
        r#"limits = [{ kind = "token_bucket", rate_per_s = 1, burst = 1 }]
           latency = { kind = "fixed", ms = 5 }"#,
    )
    .unwrap();
    let server = Server::bind(
        ([127, 0, 0, 1], 0).into(),
        Arc::new(MockApi::new(&spec, 1, 2)),
    )
    .await
    .unwrap();
    let addr = server.addr();
    let get = |headers: &str| {
        format!(
            "POST /v1/analyze HTTP/1.1\r\nhost: x\r\n{headers}content-length: 0\r\nconnection: close\r\n\r\n"
        )
    };
    let r = raw(addr, &get("x-attempt: zero\r\n")).await;
    assert!(r.starts_with("HTTP/1.1 400"), "{r}");
    assert!(
        r.contains("x-attempt: must be an integer in 1..=65535"),
        "{r}"
    );
    let r = raw(addr, &get("x-ratelimit-client: 2\r\n")).await;
    assert!(r.starts_with("HTTP/1.1 400") && r.contains("0..=1"), "{r}");
    let r = raw(addr, "NOT HTTP AT ALL\r\n\r\n").await;
    assert!(r.starts_with("HTTP/1.1 400"), "garbage gets a 400: {r}");
    let r = raw(addr, &get("x-request-id: 7\r\n")).await;
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert!(r.contains("x-ratelimit-remaining-requests: 0"), "{r}");
    let r = raw(addr, &get("")).await;
    assert!(r.starts_with("HTTP/1.1 429"), "{r}");
    assert!(r.contains("retry-after: 1"), "{r}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_live_run_has_the_simulator_result_shape() {
    let scenario = Scenario::parse(
        r#"
        name = "small"
        seed = 3
        horizon_s = 20
        [workload]
        requests = 30
        [api]
        limits = [{ kind = "token_bucket", rate_per_s = 40, burst = 5 }]
        latency = { kind = "fixed", ms = 10 }
        [[strategy]]
        name = "paced"
        admission = [{ kind = "token_bucket", rate_per_s = 30, burst = 5 }]
        retry = { kind = "fixed", delay_ms = 50, max_attempts = 20 }
        [[strategy]]
        name = "unpaced"
        retry = { kind = "fixed", delay_ms = 50, max_attempts = 20 }
        "#,
        "small.toml".as_ref(),
    )
    .unwrap();
    let mut reports = 0;
    let out = run_scenario_live(
        &scenario,
        3,
        &Endpoint::InProcess,
        std::time::Duration::from_micros(1000),
        &mut |_, _| reports += 1,
    )
    .await
    .unwrap();
    assert_eq!(out.mode, "live");
    assert_eq!(out.results.len(), 2);
    for r in &out.results {
        assert!(r.finished, "{}", r.strategy);
        assert_eq!(r.succeeded, 30, "{}", r.strategy);
        assert_eq!(r.attempts, r.succeeded + r.http_429, "{}", r.strategy);
        assert_eq!(r.attempts_histogram.succeeded.iter().sum::<u64>(), 30);
        assert_eq!(r.series.sends.iter().sum::<u64>(), r.attempts);
        assert!(r.latency_s.p50 > 0.0 && r.makespan_s > 0.5, "{r:?}");
    }
    assert!(out.results[1].http_429 > 0, "unpaced meets the limit");
    assert!(reports > 0);
    let json = serde_json::to_string(&out).unwrap();
    let back: ratelab_sim::RunOutput = serde_json::from_str(&json).unwrap();
    assert_eq!(back.mode, "live");
}

/// The headers of a raw HTTP response, read as the driver reads a reply's.
fn read_back(response: &str) -> ratelab_strategies::Response {
    let mut headers = http::HeaderMap::new();
    let head = response.split("\r\n\r\n").next().unwrap_or("");
    for line in head.lines().skip(1) {
        if let Some((k, v)) = line.split_once(": ") {
            headers.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                http::HeaderValue::from_str(v).unwrap(),
            );
        }
    }
    let req = ratelab_strategies::RequestInfo {
        client: 0,
        id: 0,
        attempt: 1,
        tokens: 1,
    };
    ratelab_live::headers::response_from_parts(req, 0, 1, 200, &headers)
}

async fn hardened(limits: ratelab_live::ServeLimits) -> Server {
    let spec = toml::from_str(r#"latency = { kind = "fixed", ms = 1 }"#).unwrap();
    Server::bind_with(
        ([127, 0, 0, 1], 0).into(),
        Arc::new(MockApi::new(&spec, 1, 1)),
        limits,
    )
    .await
    .unwrap()
}

/// Reads one HTTP/1.1 response (headers and a content-length body) from `s`.
async fn one_response(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).await.unwrap(), 1, "closed: {buf:?}");
        buf.push(byte[0]);
    }
    let head = String::from_utf8(buf).unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .map_or(0, |v| v.trim().parse().unwrap());
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).await.unwrap();
    head + &String::from_utf8(body).unwrap()
}

/// A keep-alive connection is reused: its request bodies are read, and neither reply closes it.
#[tokio::test]
async fn a_keep_alive_connection_serves_request_after_request() {
    let server = hardened(ratelab_live::ServeLimits::default()).await;
    let mut s = TcpStream::connect(server.addr()).await.unwrap();
    for _ in 0..3 {
        let body = r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#;
        s.write_all(
            format!(
                "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
        let r = one_response(&mut s).await;
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        assert!(!r.to_ascii_lowercase().contains("connection: close"), "{r}");
    }
    server.shutdown().await;
}

/// A body over the limit gets a 413; a connection that sends its headers too slowly is closed.
#[tokio::test]
async fn long_bodies_and_slow_headers_are_refused() {
    let server = hardened(ratelab_live::ServeLimits {
        header_read_timeout: std::time::Duration::from_millis(300),
        max_body_bytes: 16,
        ..Default::default()
    })
    .await;
    let r = raw(
        server.addr(),
        "POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 17\r\nconnection: close\r\n\r\n12345678901234567",
    )
    .await;
    assert!(r.starts_with("HTTP/1.1 413"), "{r}");
    // Half a request line, then silence: closed within the timeout (plus slack), not held.
    let mut s = TcpStream::connect(server.addr()).await.unwrap();
    s.write_all(b"POST / HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let t0 = std::time::Instant::now();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut rest))
        .await
        .expect("the server closes a slow connection");
    assert!(read.is_ok());
    assert!(
        t0.elapsed() >= std::time::Duration::from_millis(250),
        "{:?}",
        t0.elapsed()
    );
    server.shutdown().await;
}

/// With a cap of one connection, a second waits (in the kernel's backlog) until the first
/// closes, then is served.
#[tokio::test]
async fn open_connections_are_capped() {
    let server = hardened(ratelab_live::ServeLimits {
        max_connections: 1,
        ..Default::default()
    })
    .await;
    let first = TcpStream::connect(server.addr()).await.unwrap();
    // Let the server accept the first before the second arrives.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let mut second = TcpStream::connect(server.addr()).await.unwrap();
    second
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n")
        .await
        .unwrap();
    let waited = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        one_response(&mut second),
    )
    .await;
    assert!(
        waited.is_err(),
        "served while the first connection was open"
    );
    drop(first);
    let r = tokio::time::timeout(std::time::Duration::from_secs(5), one_response(&mut second))
        .await
        .expect("served once the first closed");
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    server.shutdown().await;
}

/// `--profile anthropic`: `/v1/messages` answers a message, a 429 Anthropic's
/// `rate_limit_error` with `retry-after`, a configured 529 `overloaded_error`, and every reply
/// the `anthropic-ratelimit-*` headers with RFC 3339 resets, which the driver reads back.
#[tokio::test]
async fn the_anthropic_profile_speaks_anthropic() {
    let spec = toml::from_str(
        r#"limits = [{ kind = "token_bucket", rate_per_s = 1, burst = 1 }]
           latency = { kind = "fixed", ms = 1 }"#,
    )
    .unwrap();
    let server = Server::bind(
        ([127, 0, 0, 1], 0).into(),
        Arc::new(MockApi::new(&spec, 1, 1).with_profile(ratelab_live::Profile::Anthropic)),
    )
    .await
    .unwrap();
    let body =
        r#"{"model":"claude-x","max_tokens":16,"messages":[{"role":"user","content":"hello"}]}"#;
    let post = |path: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let ok = raw(server.addr(), &post("/v1/messages")).await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    let (head, json) = ok.split_once("\r\n\r\n").unwrap();
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(v["type"], "message");
    assert_eq!(v["content"][0]["text"], "ok");
    // "hello" is 2 tokens, plus max_tokens 16.
    assert_eq!(v["usage"]["input_tokens"], 18);
    let lower = head.to_ascii_lowercase();
    assert!(
        lower.contains("anthropic-ratelimit-requests-remaining: 0"),
        "{head}"
    );
    assert!(lower.contains("request-id: req_0_0_1"), "{head}");
    // The driver reads the RFC 3339 reset back as a wait of about a second.
    let r = read_back(head);
    assert_eq!(r.remaining_requests, Some(0));
    let reset = r.reset_requests.expect("an RFC 3339 reset read back");
    assert!(reset <= 1_100_000_000, "{reset}");

    let limited = raw(server.addr(), &post("/v1/messages")).await;
    assert!(limited.starts_with("HTTP/1.1 429"), "{limited}");
    assert!(limited.contains("retry-after: 1"), "{limited}");
    assert!(limited.contains("\"rate_limit_error\""), "{limited}");
    let missing = raw(server.addr(), &post("/v1/complete")).await;
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    assert!(missing.contains("not_found_error"), "{missing}");
    server.shutdown().await;

    // A configured 529 is Anthropic's overload.
    let spec = toml::from_str(
        r#"latency = { kind = "fixed", ms = 1 }
           errors = { probability = 1.0, status = 529 }"#,
    )
    .unwrap();
    let server = Server::bind(
        ([127, 0, 0, 1], 0).into(),
        Arc::new(MockApi::new(&spec, 1, 1).with_profile(ratelab_live::Profile::Anthropic)),
    )
    .await
    .unwrap();
    let overloaded = raw(server.addr(), &post("/v1/messages")).await;
    assert!(overloaded.starts_with("HTTP/1.1 529"), "{overloaded}");
    assert!(overloaded.contains("\"overloaded_error\""), "{overloaded}");
    server.shutdown().await;
}

/// `serve --trace`: one JSON line per request, in arrival order, with what a fidelity check
/// needs (time, client, tokens, status, latency, path).
#[tokio::test]
async fn the_trace_has_a_line_per_request() {
    let spec = toml::from_str(
        r#"limits = [{ kind = "token_bucket", rate_per_s = 1, burst = 2 }]
           latency = { kind = "fixed", ms = 3 }"#,
    )
    .unwrap();
    let file = std::env::temp_dir().join(format!("ratelab-trace-{}.jsonl", std::process::id()));
    let api =
        MockApi::new(&spec, 1, 2).with_trace(ratelab_live::server::Trace::create(&file).unwrap());
    let server = Server::bind(([127, 0, 0, 1], 0).into(), Arc::new(api))
        .await
        .unwrap();
    for client in [0, 1, 0] {
        let r = raw(
            server.addr(),
            &format!(
                "POST /v1/x HTTP/1.1\r\nhost: x\r\nx-ratelimit-client: {client}\r\nx-tokens: 7\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            ),
        )
        .await;
        assert!(r.starts_with("HTTP/1.1 "), "{r}");
    }
    server.api().flush_trace();
    server.shutdown().await;
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let _ = std::fs::remove_file(&file);
    assert_eq!(lines.len(), 3);
    let statuses: Vec<u64> = lines
        .iter()
        .map(|l| l["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [200, 200, 429]);
    let clients: Vec<u64> = lines
        .iter()
        .map(|l| l["client"].as_u64().unwrap())
        .collect();
    assert_eq!(clients, [0, 1, 0]);
    for (l, id) in lines.iter().zip([0, 0, 1]) {
        assert_eq!(l["id"], id);
        assert_eq!(l["tokens"], 7);
        assert_eq!(l["path"], "/v1/x");
        assert!(l["t_s"].as_f64().unwrap() >= 0.0);
    }
    assert_eq!(lines[0]["latency_s"], 0.003);
}

/// `--profile ietf`: the request limit as the IETF draft's `RateLimit-Policy` and `RateLimit`
/// fields (and no `x-ratelimit-*`), which the driver reads back.
#[tokio::test]
async fn the_ietf_profile_sends_the_drafts_fields() {
    let spec = toml::from_str(
        r#"limits = [{ kind = "token_bucket", rate_per_s = 2, burst = 10 }]
           latency = { kind = "fixed", ms = 1 }"#,
    )
    .unwrap();
    let server = Server::bind(
        ([127, 0, 0, 1], 0).into(),
        Arc::new(MockApi::new(&spec, 1, 1).with_profile(ratelab_live::Profile::Ietf)),
    )
    .await
    .unwrap();
    let r = raw(
        server.addr(),
        "POST /v1/x HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
    )
    .await;
    server.shutdown().await;
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    let lower = r.to_ascii_lowercase();
    // A bucket of 10 refilled at 2/s: the quota comes back in 5 s; one used, back in 0.5 s.
    assert!(
        lower.contains("ratelimit-policy: \"requests\";q=10;w=5"),
        "{r}"
    );
    assert!(lower.contains("ratelimit: \"requests\";r=9;t=1"), "{r}");
    assert!(!lower.contains("x-ratelimit-remaining-requests"), "{r}");
    let read = read_back(&r);
    assert_eq!(
        (
            read.remaining_requests,
            read.limit_requests,
            read.reset_requests
        ),
        (Some(9), Some(10), Some(1_000_000_000))
    );
}

/// The mock runs the changing API on real time: an outage's three modes and a server queue.
#[tokio::test]
async fn serve_runs_outages_and_servers_on_real_time() {
    let get = "POST /v1/x HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
    for (mode, expect) in [("503", "HTTP/1.1 503"), ("refuse", ""), ("hang", "hang")] {
        let spec = toml::from_str(&format!(
            r#"latency = {{ kind = "fixed", ms = 1 }}
               outages = [{{ at_s = 0, for_s = 3600, mode = "{mode}" }}]"#
        ))
        .unwrap();
        let server = Server::bind(
            ([127, 0, 0, 1], 0).into(),
            Arc::new(MockApi::new(&spec, 1, 1)),
        )
        .await
        .unwrap();
        let answer = tokio::time::timeout(
            std::time::Duration::from_millis(500),
            raw(server.addr(), get),
        )
        .await;
        match expect {
            "hang" => assert!(answer.is_err(), "hang: no answer within 500 ms"),
            "" => assert_eq!(answer.unwrap(), "", "refuse: closed without an answer"),
            status => assert!(answer.unwrap().starts_with(status), "{mode}"),
        }
        server.shutdown().await;
    }
    // One server of 200 ms: the second of two concurrent requests waits for the first.
    let spec = toml::from_str(
        r#"latency = { kind = "fixed", ms = 200 }
           servers = 1"#,
    )
    .unwrap();
    let server = Server::bind(
        ([127, 0, 0, 1], 0).into(),
        Arc::new(MockApi::new(&spec, 1, 1)),
    )
    .await
    .unwrap();
    let start = std::time::Instant::now();
    let (a, b) = tokio::join!(raw(server.addr(), get), raw(server.addr(), get));
    assert!(a.starts_with("HTTP/1.1 200") && b.starts_with("HTTP/1.1 200"));
    let both = start.elapsed();
    assert!(
        both >= std::time::Duration::from_millis(390),
        "{both:?}: the second waited"
    );
    server.shutdown().await;
}

/// `[api] retry_after_precision`: with `"ms"` every profile's 429 carries `retry-after-ms`, the
/// exact wait rounded up to 1 ms (and `retry-after`, whole seconds, beside it), which the
/// driver reads back; with `"s"` (the default) only the `openai` profile sends it, as the
/// whole-second wait in ms. On a paused clock the wait is known: 6 requests/min, burst 1, the
/// second request 1.2344 s after the first: the next token is 8.7656 s away.
#[tokio::test(start_paused = true)]
async fn retry_after_ms_says_the_exact_wait_with_ms_precision() {
    use ratelab_live::Profile;
    let path_of = |p: Profile| match p {
        Profile::OpenAi => "/v1/chat/completions",
        Profile::Anthropic => "/v1/messages",
        Profile::Generic | Profile::Ietf => "/",
    };
    let body = br#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"hi"}]}"#;
    for precision in ["s", "ms"] {
        let spec = toml::from_str(&format!(
            r#"limits = [{{ kind = "token_bucket", rate_per_min = 6, burst = 1 }}]
               latency = {{ kind = "fixed", ms = 1 }}
               retry_after_precision = "{precision}""#
        ))
        .unwrap();
        for profile in [
            Profile::Generic,
            Profile::OpenAi,
            Profile::Anthropic,
            Profile::Ietf,
        ] {
            let api = MockApi::new(&spec, 1, 1).with_profile(profile);
            let headers = http::HeaderMap::new();
            let path = path_of(profile);
            assert_eq!(api.answer_request(path, &headers, body).status, 200);
            tokio::time::advance(std::time::Duration::from_micros(1_234_400)).await;
            let a = api.answer_request(path, &headers, body);
            let what = format!("{profile:?}, \"{precision}\"");
            assert_eq!(a.status, 429, "{what}");
            let header = |name: &str| a.headers.get(name).map(|v| v.to_str().unwrap().to_owned());
            assert_eq!(header("retry-after").as_deref(), Some("9"), "{what}");
            let (ms, read_back_ns) = match (precision, profile) {
                ("ms", _) => (Some("8766"), 8_766_000_000),
                (_, Profile::OpenAi) => (Some("9000"), 9_000_000_000),
                _ => (None, 9_000_000_000),
            };
            assert_eq!(header("retry-after-ms").as_deref(), ms, "{what}");
            let req = ratelab_strategies::RequestInfo {
                client: 0,
                id: 1,
                attempt: 1,
                tokens: 1,
            };
            let r = ratelab_live::headers::response_from_parts(req, 0, 1, 429, &a.headers);
            assert_eq!(r.retry_after, Some(read_back_ns), "{what}");
        }
    }
}

/// The same over a socket, on real time: a `"ms"` scenario's 429 carries `retry-after-ms`
/// within the wait, and a `"s"` one's (generic profile) does not.
#[tokio::test]
async fn serve_sends_retry_after_ms_over_the_wire() {
    for precision in ["s", "ms"] {
        let spec = toml::from_str(&format!(
            r#"limits = [{{ kind = "token_bucket", rate_per_min = 6, burst = 1 }}]
               latency = {{ kind = "fixed", ms = 1 }}
               retry_after_precision = "{precision}""#
        ))
        .unwrap();
        let server = Server::bind(
            ([127, 0, 0, 1], 0).into(),
            Arc::new(MockApi::new(&spec, 1, 1)),
        )
        .await
        .unwrap();
        let get = "GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n";
        assert!(raw(server.addr(), get).await.starts_with("HTTP/1.1 200"));
        let limited = raw(server.addr(), get).await;
        assert!(limited.starts_with("HTTP/1.1 429"), "{limited}");
        assert!(limited.contains("retry-after: 10\r\n"), "{limited}");
        let ms = limited
            .lines()
            .find_map(|l| l.strip_prefix("retry-after-ms: "))
            .map(|v| v.trim().parse::<u64>().unwrap());
        match precision {
            "ms" => {
                let ms = ms.expect("retry-after-ms with \"ms\"");
                assert!((9_000..=10_000).contains(&ms), "{ms}");
                assert_eq!(read_back(&limited).retry_after, Some(ms * 1_000_000));
            }
            _ => assert_eq!(ms, None, "{limited}"),
        }
        server.shutdown().await;
    }
}

/// `/_ratelab/health` is answered outside the model: 200 with the open connections and the cap.
#[tokio::test]
async fn the_health_probe_reports_the_connections() {
    let server = hardened(ratelab_live::ServeLimits {
        max_connections: 8,
        ..Default::default()
    })
    .await;
    let _idle = TcpStream::connect(server.addr()).await.unwrap();
    let r = raw(
        server.addr(),
        "GET /_ratelab/health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    let body: serde_json::Value =
        serde_json::from_str(r.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["ok"], true, "{r}");
    assert_eq!(
        body["max_connections"],
        server.max_connections() as u64,
        "{r}"
    );
    assert_eq!(server.max_connections(), 8);
    // The idle connection and the probe's own.
    assert_eq!(body["connections"], 2, "{r}");
    server.shutdown().await;
}

/// With every slot taken (here by silent connections), a health probe is still answered at
/// once, and a connection that trickles its head is closed instead of waiting.
#[tokio::test]
async fn over_the_cap_a_probe_is_answered_and_slow_connections_are_closed() {
    let server = hardened(ratelab_live::ServeLimits {
        max_connections: 2,
        ..Default::default()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(TcpStream::connect(server.addr()).await.unwrap());
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    for _ in 0..3 {
        let t0 = std::time::Instant::now();
        let r = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            raw(
                server.addr(),
                "GET /_ratelab/health HTTP/1.1\r\nhost: x\r\n\r\n",
            ),
        )
        .await
        .expect("the probe is answered over the cap");
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        // The two held and the probe's own.
        assert!(r.contains("\"connections\":3"), "{r}");
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(1),
            "{:?}",
            t0.elapsed()
        );
    }
    // Half a head, then silence: closed long before the 10 s header timeout.
    let mut slow = TcpStream::connect(server.addr()).await.unwrap();
    slow.write_all(b"GET / HT").await.unwrap();
    let t0 = std::time::Instant::now();
    let mut rest = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(2),
        slow.read_to_end(&mut rest),
    )
    .await
    .expect("a slow connection over the cap is closed")
    .ok();
    assert!(rest.is_empty(), "{rest:?}");
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(1),
        "{:?}",
        t0.elapsed()
    );
    // Once a slot frees, connections are served as usual.
    drop(held);
    let r = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        raw(
            server.addr(),
            "GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        ),
    )
    .await
    .unwrap();
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    server.shutdown().await;
}
