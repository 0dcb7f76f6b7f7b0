//! The mock server's request parsing on arbitrary header sets, paths and bodies, under every
//! profile: never a panic; a header it cannot read is a 400.
#![no_main]

use arbitrary::Arbitrary;
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use ratelab_live::{MockApi, Profile};

#[derive(Arbitrary, Debug)]
struct Request {
    profile: u8,
    path: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

fuzz_target!(|r: Request| {
    let spec = serde_json::from_value(serde_json::json!({
        "limits": [
            { "kind": "token_bucket", "rate_per_s": 5.0, "burst": 2 },
            { "kind": "token_bucket", "rate_per_min": 600.0, "burst": 50, "unit": "tokens" },
        ],
        "latency": { "kind": "fixed", "ms": 0.0 },
    }))
    .unwrap();
    let profile = [
        Profile::Generic,
        Profile::OpenAi,
        Profile::Anthropic,
        Profile::Ietf,
    ][usize::from(r.profile % 4)];
    let api = MockApi::new(&spec, 1, 3).with_profile(profile);
    let mut headers = HeaderMap::new();
    for (name, value) in r.headers.iter().take(16) {
        let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value),
        ) else {
            continue;
        };
        headers.append(n, v);
    }
    let answer = api.answer_request(&r.path, &headers, &r.body);
    assert!((100..600).contains(&answer.status) || answer.status == 0);
});
