//! A real client nobody here wrote — the Rust `async-openai` crate — against `serve --profile
//! openai` on loopback: its completions parse into the SDK's types, its 429s are retried by the
//! SDK's own backoff, and the raw replies carry OpenAI's headers and error shape.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::types::{ChatCompletionRequestUserMessageArgs, CreateChatCompletionRequestArgs};
use ratelab_live::{MockApi, Profile, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn openai_mock(limits: &str) -> Server {
    let spec = toml::from_str(&format!(
        "limits = [{limits}]\nlatency = {{ kind = \"fixed\", ms = 5 }}"
    ))
    .unwrap();
    Server::bind(
        ([127, 0, 0, 1], 0).into(),
        Arc::new(MockApi::new(&spec, 1, 1).with_profile(Profile::OpenAi)),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_openai_parses_completions_and_retries_429s() {
    // 5 at once, then 20/s: 20 concurrent requests meet 429s, which the SDK retries.
    let server = openai_mock("{ kind = \"token_bucket\", rate_per_s = 20, burst = 5 }").await;
    let client = Client::with_config(
        OpenAIConfig::new()
            .with_api_base(format!("http://{}/v1", server.addr()))
            .with_api_key("sk-test"),
    );
    let started = Instant::now();
    let mut calls = Vec::new();
    for i in 0..20 {
        let client = client.clone();
        calls.push(tokio::spawn(async move {
            let request = CreateChatCompletionRequestArgs::default()
                .model("gpt-4o-mini")
                .max_tokens(10u32)
                .messages([ChatCompletionRequestUserMessageArgs::default()
                    .content(format!("hello {i:02}"))
                    .build()
                    .unwrap()
                    .into()])
                .build()
                .unwrap();
            client.chat().create(request).await
        }));
    }
    for call in calls {
        let response = call
            .await
            .unwrap()
            .expect("the SDK parses the mock's reply");
        assert_eq!(response.object, "chat.completion");
        assert_eq!(response.model, "gpt-4o-mini");
        assert_eq!(response.choices[0].message.content.as_deref(), Some("ok"));
        let usage = response.usage.expect("usage is filled");
        // "hello 07": 8 characters = 2 tokens, plus max_tokens 10.
        assert_eq!(usage.prompt_tokens, 12);
        assert_eq!(usage.total_tokens, 13);
    }
    // 15 of the 20 had to wait for the bucket (0.75 s at 20/s) through the SDK's retries.
    assert!(
        started.elapsed() >= Duration::from_millis(700),
        "{:?}",
        started.elapsed()
    );
    server.shutdown().await;
}

async fn raw(addr: std::net::SocketAddr, path: &str, body: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!(
            "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    (head.to_ascii_lowercase(), body.to_string())
}

#[tokio::test]
async fn replies_carry_openais_headers_and_error_shape() {
    let server = openai_mock(
        "{ kind = \"token_bucket\", rate_per_s = 1, burst = 1 }, \
         { kind = \"token_bucket\", rate_per_min = 6000, burst = 100, unit = \"tokens\" }",
    )
    .await;
    let addr = server.addr();
    let chat = r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#;
    let (head, body) = raw(addr, "/v1/chat/completions", chat).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    for h in [
        "x-request-id: req_0_0_1",
        "x-ratelimit-limit-requests: 1",
        "x-ratelimit-limit-tokens: 100",
        "x-ratelimit-remaining-requests: 0",
        "x-ratelimit-remaining-tokens: 99",
    ] {
        assert!(head.contains(h), "{h} in {head}");
    }
    // OpenAI's duration format: under a second in ms, else seconds (6m0s style).
    let reset = head
        .lines()
        .find_map(|l| l.strip_prefix("x-ratelimit-reset-requests: "))
        .unwrap();
    assert!(reset.ends_with("ms") || reset.ends_with('s'), "{reset}");
    assert!(!reset.contains("000000"), "{reset}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "ok");

    let (head, body) = raw(addr, "/v1/chat/completions", chat).await;
    assert!(head.starts_with("http/1.1 429"), "{head}");
    assert!(head.contains("retry-after: 1"), "{head}");
    let ms: u64 = head
        .lines()
        .find_map(|l| l.strip_prefix("retry-after-ms: "))
        .expect("retry-after-ms on a 429")
        .trim()
        .parse()
        .unwrap();
    assert!((1..=1000).contains(&ms), "{ms}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], "rate_limit_exceeded");
    assert_eq!(v["error"]["type"], "requests");
    let e: async_openai::error::ApiError = serde_json::from_value(v["error"].clone()).unwrap();
    assert_eq!(e.code.as_deref(), Some("rate_limit_exceeded"));

    let (head, body) = raw(addr, "/v1/unknown", "{}").await;
    assert!(head.starts_with("http/1.1 404"), "{head}");
    assert!(body.contains("unknown_url"), "{body}");
    server.shutdown().await;
}
