//! What `ratelab serve --profile` makes the mock look like: ratelab's own (`generic`: any path,
//! small JSON bodies, its `x-*` request headers), or the OpenAI API (`openai`): its endpoints,
//! bodies the official SDKs parse into their types, its error shape and its rate-limit headers in
//! its formats. The model behind both is the same `ApiModel`.

use std::fmt::Write as _;
use std::str::FromStr;

use http::{HeaderMap, HeaderValue};
use ratelab_strategies::time::{Nanos, SECOND};
use serde_json::{Value, json};

/// How the mock presents itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Profile {
    /// ratelab's own: any path, `{"ok": …}` bodies.
    #[default]
    Generic,
    /// The OpenAI API: `POST /v1/chat/completions`, `/v1/completions`, `/v1/embeddings`,
    /// `/v1/responses`.
    OpenAi,
    /// The Anthropic API: `POST /v1/messages`.
    Anthropic,
    /// ratelab's own bodies and paths, with the IETF draft's `RateLimit-Policy` and `RateLimit`
    /// fields instead of `x-ratelimit-*`.
    Ietf,
}

impl FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Profile, String> {
        match s {
            "generic" => Ok(Profile::Generic),
            "openai" => Ok(Profile::OpenAi),
            "anthropic" => Ok(Profile::Anthropic),
            "ietf" => Ok(Profile::Ietf),
            _ => Err(format!(
                "unknown profile {s:?}; profiles: generic, openai, anthropic, ietf"
            )),
        }
    }
}

/// The OpenAI endpoints the `openai` profile answers.
pub const OPENAI_PATHS: [&str; 4] = [
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/embeddings",
    "/v1/responses",
];

/// A duration as OpenAI writes its `x-ratelimit-reset-*` headers (Go's `time.Duration` format):
/// `120ms`, `1s`, `1.5s`, `6m0s`, `1h2m3s`.
pub fn go_duration(ns: Nanos) -> String {
    if ns < SECOND {
        let ms = ns as f64 / 1e6;
        return format!("{}ms", trim(ms));
    }
    let total_ms = ns / 1_000_000;
    let (h, rest) = (total_ms / 3_600_000, total_ms % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    let s = trim(rest as f64 / 1000.0);
    let mut out = String::new();
    if h > 0 {
        let _ = write!(out, "{h}h{m}m");
    } else if m > 0 {
        let _ = write!(out, "{m}m");
    }
    let _ = write!(out, "{s}s");
    out
}

fn trim(x: f64) -> String {
    let s = format!("{x:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The token weight of an OpenAI request without `x-tokens`, from its JSON body, by one rule:
/// every string in `messages[].content` (or its `text` parts), `prompt`, `input`,
/// `instructions` and `system` counts `ceil(chars / 4)` tokens (OpenAI's rule of thumb), plus
/// `max_completion_tokens`, `max_tokens` or `max_output_tokens` when given (OpenAI's limiter
/// counts the completion allowance against the token limit); at least 1. A body that is not
/// JSON weighs 1.
pub fn tokens_of_body(body: &[u8]) -> u64 {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return 1;
    };
    let mut chars = 0usize;
    let mut count = |v: &Value| text_chars(v, &mut chars);
    if let Some(messages) = v.get("messages").and_then(Value::as_array) {
        for m in messages {
            if let Some(c) = m.get("content") {
                count(c);
            }
        }
    }
    for key in ["prompt", "input", "instructions", "system"] {
        if let Some(p) = v.get(key) {
            count(p);
        }
    }
    let prompt = chars.div_ceil(4) as u64;
    let completion = ["max_completion_tokens", "max_tokens", "max_output_tokens"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_u64))
        .unwrap_or(0);
    prompt.saturating_add(completion).clamp(1, 1_000_000_000)
}

/// Characters of the text in a content value: a string, a list of strings, or parts with a
/// `text` (or `content`) string.
fn text_chars(v: &Value, chars: &mut usize) {
    match v {
        Value::String(s) => *chars += s.chars().count(),
        Value::Array(items) => items.iter().for_each(|i| text_chars(i, chars)),
        Value::Object(o) => {
            for k in ["text", "content"] {
                if let Some(t) = o.get(k) {
                    text_chars(t, chars);
                }
            }
        }
        _ => {}
    }
}

/// What the `openai` profile needs to write one answer.
pub struct OpenAiReply<'a> {
    /// The endpoint.
    pub path: &'a str,
    /// The status the model answered.
    pub status: u16,
    /// The model named in the request (`"ratelab-mock"` when none).
    pub model: &'a str,
    /// The request's token weight.
    pub tokens: u64,
    /// A 429 from the token limit rather than the request limit (its error `type`).
    pub tokens_limited: bool,
    /// A request id for `x-request-id` and the body's ids.
    pub request_id: &'a str,
    /// Seconds since the server started, for `created`.
    pub created: u64,
}

/// The body of an OpenAI answer: the endpoint's object for a 200, OpenAI's error shape
/// otherwise.
pub fn openai_body(r: &OpenAiReply<'_>) -> String {
    let id = r.request_id;
    if r.status != 200 {
        let (message, kind, code) = match r.status {
            429 if r.tokens_limited => (
                "Rate limit reached for tokens per min (TPM) on the ratelab mock. Please try again later.",
                "tokens",
                "rate_limit_exceeded",
            ),
            429 => (
                "Rate limit reached for requests per min (RPM) on the ratelab mock. Please try again later.",
                "requests",
                "rate_limit_exceeded",
            ),
            413 => (
                "Request too large for the token limit of the ratelab mock.",
                "tokens",
                "rate_limit_exceeded",
            ),
            404 => (
                "Unknown endpoint: the openai profile answers POST /v1/chat/completions, /v1/completions, /v1/embeddings and /v1/responses.",
                "invalid_request_error",
                "unknown_url",
            ),
            400 => (
                "Invalid request.",
                "invalid_request_error",
                "invalid_request",
            ),
            _ => (
                "The server had an error while processing your request.",
                "server_error",
                "server_error",
            ),
        };
        return json!({ "error": { "message": message, "type": kind, "param": null, "code": code } })
            .to_string();
    }
    let (model, created) = (r.model, r.created);
    // The whole weight counts as the prompt; the completion is one token ("ok").
    let (prompt, completion) = (r.tokens, 1u64);
    let total = prompt + completion;
    let body = match r.path {
        "/v1/completions" => json!({
            "id": format!("cmpl-{id}"), "object": "text_completion", "created": created,
            "model": model,
            "choices": [{ "text": "ok", "index": 0, "logprobs": null, "finish_reason": "stop" }],
            "usage": { "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total },
        }),
        "/v1/embeddings" => json!({
            "object": "list", "model": model,
            "data": [{ "object": "embedding", "index": 0, "embedding": [0.0, 0.0, 0.0, 0.0] }],
            "usage": { "prompt_tokens": prompt, "total_tokens": prompt },
        }),
        "/v1/responses" => json!({
            "id": format!("resp_{id}"), "object": "response", "created_at": created,
            "status": "completed", "model": model, "error": null, "incomplete_details": null,
            "instructions": null, "metadata": {}, "parallel_tool_calls": true,
            "temperature": 1.0, "top_p": 1.0, "tool_choice": "auto", "tools": [],
            "output": [{
                "type": "message", "id": format!("msg_{id}"), "status": "completed",
                "role": "assistant",
                "content": [{ "type": "output_text", "text": "ok", "annotations": [] }],
            }],
            "usage": {
                "input_tokens": prompt, "output_tokens": completion, "total_tokens": total,
                "input_tokens_details": { "cached_tokens": 0 },
                "output_tokens_details": { "reasoning_tokens": 0 },
            },
        }),
        _ => json!({
            "id": format!("chatcmpl-{id}"), "object": "chat.completion", "created": created,
            "model": model, "system_fingerprint": null,
            "choices": [{
                "index": 0,
                "message": { "role": "assistant", "content": "ok", "refusal": null },
                "logprobs": null, "finish_reason": "stop",
            }],
            "usage": { "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total },
        }),
    };
    body.to_string()
}

/// The Anthropic endpoint the `anthropic` profile answers.
pub const ANTHROPIC_PATH: &str = "/v1/messages";

/// The body of an Anthropic answer: a `message` for a 200, Anthropic's error shape otherwise
/// (`rate_limit_error` for a 429, `overloaded_error` for a 529).
pub fn anthropic_body(status: u16, model: &str, tokens: u64, request_id: &str) -> String {
    let error = |kind: &str, message: &str| {
        json!({ "type": "error", "error": { "type": kind, "message": message } }).to_string()
    };
    match status {
        200 => json!({
            "id": format!("msg_{request_id}"), "type": "message", "role": "assistant",
            "model": model, "content": [{ "type": "text", "text": "ok" }],
            "stop_reason": "end_turn", "stop_sequence": null,
            "usage": { "input_tokens": tokens, "output_tokens": 1 },
        })
        .to_string(),
        429 => error(
            "rate_limit_error",
            "Number of requests or tokens has exceeded your rate limit on the ratelab mock.",
        ),
        529 => error("overloaded_error", "Overloaded"),
        413 => error(
            "request_too_large",
            "Request exceeds the maximum allowed size.",
        ),
        404 => error(
            "not_found_error",
            "Unknown endpoint: the anthropic profile answers POST /v1/messages.",
        ),
        400 => error("invalid_request_error", "Invalid request."),
        _ => error("api_error", "Internal server error."),
    }
}

/// The IETF draft's fields (draft-ietf-httpapi-ratelimit-headers-10) for the request limit:
/// `RateLimit-Policy: "requests";q=QUOTA;w=WINDOW` and `RateLimit: "requests";r=REMAINING;t=RESET`
/// (whole seconds, rounded up), in place of the `x-ratelimit-*` request headers. `window_s` is
/// the time the quota takes to come back at the API's sustained rate.
pub fn ietf_headers(
    headers: &mut HeaderMap,
    limit: Option<u64>,
    remaining: Option<u64>,
    reset: Option<Nanos>,
    window_s: Option<u64>,
) {
    let (Some(q), Some(r)) = (limit, remaining) else {
        return;
    };
    let t = reset.map_or(0, |ns| ns.div_ceil(SECOND));
    let mut policy = format!("\"requests\";q={q}");
    if let Some(w) = window_s {
        let _ = write!(policy, ";w={}", w.max(1));
    }
    if let Ok(v) = HeaderValue::from_str(&policy) {
        headers.insert("ratelimit-policy", v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("\"requests\";r={r};t={t}")) {
        headers.insert("ratelimit", v);
    }
}

/// `retry-after-ms`: the model's `Retry-After` in whole milliseconds (rounded up), when it sent
/// one. With `[api] retry_after_precision = "s"` that is the whole-second wait in ms; with `"ms"`
/// the exact wait rounded up to 1 ms (the header `Retry-After` beside it stays whole seconds).
pub fn retry_after_ms_header(headers: &mut HeaderMap, retry_after: Option<Nanos>) {
    if let Some(ra) = retry_after {
        headers.insert("retry-after-ms", HeaderValue::from(ra.div_ceil(1_000_000)));
    }
}

/// OpenAI's headers on top of the model's: `retry-after-ms` beside `retry-after` on a 429 (the
/// exact wait), `x-request-id`, and the resets in Go's duration format.
pub fn openai_headers(headers: &mut HeaderMap, retry_after: Option<Nanos>, request_id: &str) {
    retry_after_ms_header(headers, retry_after);
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-request-id", v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_openais_format() {
        assert_eq!(go_duration(120_000_000), "120ms");
        assert_eq!(go_duration(1_500_000), "1.5ms");
        assert_eq!(go_duration(SECOND), "1s");
        assert_eq!(go_duration(1_500_000_000), "1.5s");
        assert_eq!(go_duration(360 * SECOND), "6m0s");
        assert_eq!(go_duration(3723 * SECOND), "1h2m3s");
    }

    #[test]
    fn a_body_weighs_its_text_and_its_completion_allowance() {
        let chat = br#"{"model":"m","messages":[{"role":"user","content":"12345678"},
            {"role":"user","content":[{"type":"text","text":"1234"}]}],"max_tokens":100}"#;
        assert_eq!(tokens_of_body(chat), 3 + 100);
        assert_eq!(tokens_of_body(br#"{"input":"hello world"}"#), 3);
        assert_eq!(tokens_of_body(b"not json"), 1);
        assert_eq!(tokens_of_body(b"{}"), 1);
    }

    #[test]
    fn errors_have_openais_shape() {
        let body = openai_body(&OpenAiReply {
            path: "/v1/chat/completions",
            status: 429,
            model: "m",
            tokens: 1,
            tokens_limited: false,
            request_id: "req_1",
            created: 0,
        });
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error"]["code"], "rate_limit_exceeded");
        assert_eq!(v["error"]["type"], "requests");
        assert!(v["error"]["param"].is_null());
    }
}
