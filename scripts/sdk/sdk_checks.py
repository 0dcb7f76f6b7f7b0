"""The official OpenAI and Anthropic Python SDKs against `ratelab serve` (run by scripts/sdk/sdk.sh).

Usage:
  sdk_checks.py constants                       the installed SDKs' retry constants and Retry-After rules against ratelab's
  sdk_checks.py openai HOST:PORT WAITS.json      types, the 429, Retry-After waits (conformance.toml)
  sdk_checks.py openai-trace TRACE WAITS.json    the same waits in the server's trace
  sdk_checks.py anthropic HOST:PORT              types and the 429 (conformance.toml)
  sdk_checks.py overloaded HOST:PORT             a 529 is retried with the SDK's backoff (overloaded.toml)
  sdk_checks.py statuses TRACE S1,S2,...         the trace's statuses, in order
  sdk_checks.py tpm HOST:PORT SECONDS THREADS    SDK traffic for SECONDS against a token limit (tpm.toml)
  sdk_checks.py tpm-check TRACE RATE_PER_MIN BURST   the token bucket's promise held in the trace
  sdk_checks.py fidelity HOST:PORT N OUT.json    N chat completions at once, default retries (fidelity.toml)
  sdk_checks.py compare LIVE.json SIM.json       the fidelity table; exit 1 when they differ

Every check prints what it measured and exits 1 with the reason when it fails.
"""

import importlib.metadata
import json
import random
import sys
import threading
import time

import anthropic
import openai

# What strategies/src/retry/stainless.rs and openai_python.rs hold.
RATELAB_CONSTANTS = {
    "DEFAULT_MAX_RETRIES": 2,
    "INITIAL_RETRY_DELAY": 0.5,
    "MAX_RETRY_DELAY": 8.0,
}
RATELAB_OPENAI_MAX_RETRY_AFTER_DELAY = 120
# strategies/src/retry/anthropic_python.rs: RETRY_AFTER_LIMIT_S (a longer Retry-After is cut to it).
RATELAB_ANTHROPIC_RETRY_AFTER_LIMIT = 4_294_967

MESSAGES = [{"role": "user", "content": "Say ok."}]


def fail(msg):
    print(f"FAILED: {msg}")
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def hooks(events):
    """httpx event hooks: the SDK's retry count becomes `x-attempt` (so the trace groups a call's
    attempts as the simulator does), and every request and response is timed."""

    def on_request(request):
        retries = int(request.headers.get("x-stainless-retry-count", "0"))
        request.headers["x-attempt"] = str(retries + 1)
        events.append(("request", time.monotonic(), None, None))

    def on_response(response):
        events.append(("response", time.monotonic(), response.status_code,
                       response.headers.get("retry-after-ms") or response.headers.get("retry-after")))

    return {"request": [on_request], "response": [on_response]}


def openai_client(addr, max_retries, events=None):
    kwargs = {}
    if events is not None:
        kwargs["http_client"] = openai.DefaultHttpxClient(event_hooks=hooks(events))
    return openai.OpenAI(base_url=f"http://{addr}/v1", api_key="ratelab", max_retries=max_retries, **kwargs)


def anthropic_client(addr, max_retries, events=None):
    kwargs = {}
    if events is not None:
        kwargs["http_client"] = anthropic.DefaultHttpxClient(event_hooks=hooks(events))
    return anthropic.Anthropic(base_url=f"http://{addr}", api_key="ratelab", max_retries=max_retries, **kwargs)


def constants():
    from openai import _constants as oc
    from anthropic import _constants as ac
    print(f"openai {importlib.metadata.version('openai')}, anthropic {importlib.metadata.version('anthropic')}")
    for sdk, mod in (("openai", oc), ("anthropic", ac)):
        for name, want in RATELAB_CONSTANTS.items():
            got = getattr(mod, name)
            print(f"  {sdk}._constants.{name} = {got} (ratelab: {want})")
            check(got == want, f"{sdk}._constants.{name} is {got}, ratelab's port has {want}")
    got = oc.MAX_RETRY_AFTER_DELAY
    print(f"  openai._constants.MAX_RETRY_AFTER_DELAY = {got} (ratelab: {RATELAB_OPENAI_MAX_RETRY_AFTER_DELAY})")
    check(got == RATELAB_OPENAI_MAX_RETRY_AFTER_DELAY,
          f"openai's MAX_RETRY_AFTER_DELAY is {got}, ratelab's openai_python has {RATELAB_OPENAI_MAX_RETRY_AFTER_DELAY}")
    retry_after_rules()


def retry_after_rules():
    """The installed SDKs' own `_calculate_retry_timeout` and `_should_retry` on a 429's headers,
    against the rules of ratelab's `openai_python` and `anthropic_python` kinds
    (strategies/src/retry/stainless.rs): `retry-after-ms` before `retry-after`; OpenAI waits
    0 < Retry-After <= 120 s and does not retry a longer one; Anthropic waits any positive one,
    cut to 4 294 967 s, and retries it."""
    from anthropic._models import FinalRequestOptions as AnthropicOptions
    from openai._models import FinalRequestOptions as OpenAiOptions
    import anthropic._base_client as anthropic_base
    import openai._base_client as openai_base

    def response(module, headers):
        # The SDK's own HTTP library (httpx, or its fork), as its _base_client imports it.
        http = getattr(module, "httpx2", None) or module.httpx
        return http.Response(429, headers=headers)

    sdks = (
        ("openai", openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="ratelab"),
         OpenAiOptions.construct(method="post", url="/chat/completions"), openai_base),
        ("anthropic", anthropic.Anthropic(base_url="http://127.0.0.1:9", api_key="ratelab"),
         AnthropicOptions.construct(method="post", url="/v1/messages"), anthropic_base),
    )
    limit = RATELAB_ANTHROPIC_RETRY_AFTER_LIMIT
    # (headers, OpenAI's wait or None for "not retried", Anthropic's wait); None as a wait: the
    # exponential one (at most INITIAL_RETRY_DELAY after no retries).
    cases = (
        ({"retry-after": "5"}, 5.0, 5.0),
        ({"retry-after-ms": "4980", "retry-after": "5"}, 4.98, 4.98),
        ({"retry-after": "90"}, 90.0, 90.0),
        ({"retry-after": "121"}, "no retry", 121.0),
        ({"retry-after": "5000000"}, "no retry", float(limit)),
        ({"retry-after": "0"}, None, None),
    )
    for headers, *wants in cases:
        for (name, client, options, module), want in zip(sdks, wants):
            r = response(module, headers)
            retried = client._should_retry(r)
            wait = client._calculate_retry_timeout(2, options, r.headers)
            shown = "not retried" if not retried else f"waits {wait:g} s"
            print(f"  {name}: 429 with {headers}: {shown} (ratelab: "
                  f"{'not retried' if want == 'no retry' else 'exponential' if want is None else f'waits {want:g} s'})")
            if want == "no retry":
                check(not retried, f"{name} retries a 429 with {headers}; ratelab's kind does not")
                continue
            check(retried, f"{name} does not retry a 429 with {headers}; ratelab's kind does")
            if want is None:
                check(0 < wait <= RATELAB_CONSTANTS["INITIAL_RETRY_DELAY"],
                      f"{name} waits {wait} s after a 429 with {headers}, not its exponential wait")
            else:
                check(abs(wait - want) < 1e-9, f"{name} waits {wait} s after a 429 with {headers}, ratelab's kind {want} s")


def openai_checks(addr, waits_file):
    c = openai_client(addr, 0)
    # 1. A completion parses into the SDK's types (the bucket's burst is 2: two pass).
    r = c.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=16)
    check(isinstance(r, openai.types.chat.ChatCompletion), f"not a ChatCompletion: {type(r)}")
    content = r.choices[0].message.content
    check(isinstance(content, str), f"choices[0].message.content is {content!r}")
    u = r.usage
    check(u is not None and u.prompt_tokens > 0 and u.total_tokens == u.prompt_tokens + u.completion_tokens,
          f"usage not filled: {u}")
    print(f"openai: ChatCompletion {r.id}, content {content!r}, usage {u.prompt_tokens}+{u.completion_tokens}={u.total_tokens}")
    c.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    # 2. The exhausted limit: a RateLimitError with OpenAI's error shape.
    try:
        c.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        fail("the third call at once was not rate limited")
    except openai.RateLimitError as e:
        body = e.body if isinstance(e.body, dict) else {}
        check(e.status_code == 429, f"status {e.status_code}")
        check(e.code == "rate_limit_exceeded", f"code {e.code!r}")
        check(e.type == "requests", f"type {e.type!r}")
        check(set(body) == {"message", "type", "param", "code"} and body["param"] is None, f"body {body}")
        print(f"openai: max_retries=0 -> RateLimitError, code {e.code!r}, type {e.type!r}, body keys {sorted(body)}")
    # 3. With retries, the SDK waits what retry-after-ms says.
    events = []
    c = openai_client(addr, 2, events)
    r = c.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    check(isinstance(r.choices[0].message.content, str), "the retried call did not return a completion")
    waits = []
    for i, ev in enumerate(events):
        if ev[0] == "response" and ev[2] == 429:
            check(i + 1 < len(events) and events[i + 1][0] == "request", "no retry after a 429")
            waits.append((int(ev[3]), events[i + 1][1] - ev[1]))
    check(waits, "no 429 was retried (the bucket was not empty?)")
    for header_ms, gap in waits:
        print(f"openai: 429 with retry-after-ms {header_ms}: the SDK retried {gap * 1000:.1f} ms later (client side)")
        check(abs(gap * 1000 - header_ms) <= 50, f"the SDK waited {gap * 1000:.1f} ms, retry-after-ms said {header_ms}")
    with open(waits_file, "w") as f:
        json.dump([ms for ms, _ in waits], f)


def openai_trace(trace, waits_file):
    """The same waits on the server's side: in the trace, the retry of a 429 arrives the
    Retry-After after the 429 was answered."""
    waits = json.load(open(waits_file))
    lines = [json.loads(l) for l in open(trace)]
    server = [(a, b) for a, b in zip(lines, lines[1:]) if a["status"] == 429 and b["attempt"] == a["attempt"] + 1]
    check(len(server) == len(waits), f"the trace has {len(server)} retried 429s, the client saw {len(waits)}")
    for (a, b), ms in zip(server, waits):
        gap = b["t_s"] - (a["t_s"] + a["latency_s"])
        print(f"openai: trace: attempt {b['attempt']} arrived {gap * 1000:.1f} ms after the 429 was answered "
              f"(retry-after-ms {ms})")
        check(abs(gap * 1000 - ms) <= 50, f"the server saw a gap of {gap * 1000:.1f} ms, retry-after-ms said {ms}")


def anthropic_checks(addr):
    c = anthropic_client(addr, 0)
    m = c.messages.create(model="claude-sonnet-4-5", max_tokens=16, messages=MESSAGES)
    check(isinstance(m, anthropic.types.Message), f"not a Message: {type(m)}")
    check(m.content and m.content[0].type == "text" and isinstance(m.content[0].text, str), f"content {m.content}")
    check(m.usage.input_tokens > 0, f"usage {m.usage}")
    print(f"anthropic: Message {m.id}, text {m.content[0].text!r}, usage in {m.usage.input_tokens} out {m.usage.output_tokens}")
    c.messages.create(model="claude-sonnet-4-5", max_tokens=16, messages=MESSAGES)
    try:
        c.messages.create(model="claude-sonnet-4-5", max_tokens=16, messages=MESSAGES)
        fail("the third message at once was not rate limited")
    except anthropic.RateLimitError as e:
        check(e.status_code == 429, f"status {e.status_code}")
        check(isinstance(e.body, dict) and e.body.get("type") == "error"
              and e.body["error"]["type"] == "rate_limit_error", f"body {e.body}")
        print(f"anthropic: max_retries=0 -> RateLimitError, error type {e.body['error']['type']!r}, "
              f"retry-after {e.response.headers.get('retry-after')}")


def overloaded(addr):
    events = []
    c = anthropic_client(addr, 2, events)
    try:
        c.messages.create(model="claude-sonnet-4-5", max_tokens=16, messages=MESSAGES)
        fail("an API that is always overloaded answered")
    except anthropic.OverloadedError as e:
        check(e.status_code == 529 and e.body["error"]["type"] == "overloaded_error", f"{e.status_code} {e.body}")
    sends = [ev[1] for ev in events if ev[0] == "request"]
    got = [ev[1] for ev in events if ev[0] == "response"]
    check(len(sends) == 3, f"{len(sends)} attempts, the SDK's max_retries=2 makes 3")
    gaps = [sends[i + 1] - got[i] for i in range(2)]
    print(f"anthropic: 529 overloaded_error retried: 3 attempts, then OverloadedError; waits "
          + ", ".join(f"{g:.3f} s" for g in gaps) + " (the SDK's 75-100 % of 0.5 s, 1 s)")
    for g, ceiling in zip(gaps, (0.5, 1.0)):
        check(0.75 * ceiling - 0.02 <= g <= ceiling + 0.05, f"a wait of {g:.3f} s is not 75-100 % of {ceiling} s")


def statuses(trace, want):
    """The statuses the server answered, in order, as the trace has them."""
    got = ",".join(str(json.loads(l)["status"]) for l in open(trace))
    print(f"trace: statuses {got}")
    check(got == want, f"the trace has statuses {got}, not {want}")


PROMPT_WORDS = ("the rate limit of an API is a promise about tokens and requests over time; a client "
                "that honours it spreads its calls, and one that does not meets 429s").split()


def tpm(addr, seconds, threads):
    """`threads` workers, each calling the SDK (default retries) in a loop for `seconds`, with
    prompts of 100-400 words and max_tokens 128-512, seeded."""
    stop_at = time.monotonic() + seconds
    lock = threading.Lock()
    counts = {"calls": 0, "ok": 0, "rate_limited": 0}
    client = openai_client(addr, 2)

    def worker(k):
        rng = random.Random(k)
        while time.monotonic() < stop_at:
            prompt = " ".join(rng.choice(PROMPT_WORDS) for _ in range(rng.randint(100, 400)))
            try:
                client.chat.completions.create(
                    model="gpt-4o-mini", max_tokens=rng.randint(128, 512),
                    messages=[{"role": "system", "content": "You summarise text."},
                              {"role": "user", "content": prompt}])
                key = "ok"
            except openai.RateLimitError:
                key = "rate_limited"
            with lock:
                counts["calls"] += 1
                counts[key] += 1

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=seconds + 150)
    check(not any(t.is_alive() for t in ts), "a worker did not finish")
    print(f"tpm: {threads} threads for {seconds} s: {counts['calls']} SDK calls, {counts['ok']} answered, "
          f"{counts['rate_limited']} gave up with RateLimitError after the SDK's retries")


def tpm_check(trace, rate_per_min, burst):
    lines = [json.loads(l) for l in open(trace)]
    served = [(l["t_s"], l["tokens"]) for l in lines if l["status"] == 200]
    limited = sum(1 for l in lines if l["status"] == 429)
    check(served, "nothing was served")
    rate = rate_per_min / 60.0
    # Every window [t_i, t_j] of served arrivals: tokens ≤ burst + rate · (t_j − t_i).
    worst, worst_at = -1e18, None
    prefix = [0]
    for _, k in served:
        prefix.append(prefix[-1] + k)
    for i in range(len(served)):
        for j in range(i, len(served)):
            tokens = prefix[j + 1] - prefix[i]
            slack = tokens - (burst + rate * (served[j][0] - served[i][0]))
            if slack > worst:
                worst, worst_at = slack, (i, j, tokens)
    i, j, tokens = worst_at
    span = served[-1][0] - served[0][0]
    total = prefix[-1]
    print(f"tpm: trace: {len(lines)} attempts, {len(served)} served ({total} tokens over {span:.1f} s, "
          f"{total / max(span, 1e-9) * 60:.0f} tokens/min), {limited} answered 429")
    print(f"tpm: tightest window: {tokens} tokens in {served[j][0] - served[i][0]:.2f} s against "
          f"burst + rate·T = {burst + rate * (served[j][0] - served[i][0]):.0f} (slack {-worst:.0f} tokens)")
    # The bucket serves a window that starts full and ends empty exactly at the bound; 1e-3
    # tokens covers the float seconds of the trace (500 tokens/s · ns rounding).
    check(worst <= 1e-3, f"{tokens} tokens were served in {served[j][0] - served[i][0]:.3f} s, more than the bucket allows")
    check(limited > 0, "no 429: the limit was not exercised")


def fidelity(addr, n, out):
    """N chat completions fired at once, each from its own thread, the SDK's default retries."""
    lock = threading.Lock()
    counts = {"attempts": 0, "http_429": 0, "succeeded": 0, "dead_lettered": 0}
    finals = []
    barrier = threading.Barrier(n + 1)
    events = []
    client = openai_client(addr, openai._constants.DEFAULT_MAX_RETRIES, events)

    def call(rid):
        barrier.wait()
        try:
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES,
                                           extra_headers={"x-request-id": str(rid)})
            key = "succeeded"
        except openai.RateLimitError:
            key = "dead_lettered"
        with lock:
            counts[key] += 1
            finals.append(time.monotonic())

    threads = [threading.Thread(target=call, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    t0 = time.monotonic()
    barrier.wait()
    for t in threads:
        t.join(timeout=300)
    check(not any(t.is_alive() for t in threads), "a call did not finish")
    counts["attempts"] = sum(1 for e in events if e[0] == "request")
    counts["http_429"] = sum(1 for e in events if e[0] == "response" and e[2] == 429)
    result = dict(counts)
    result["makespan_s"] = max(finals) - t0
    result["openai"] = importlib.metadata.version("openai")
    with open(out, "w") as f:
        json.dump(result, f, indent=1)


def compare(live_file, sim_file):
    live = json.load(open(live_file))
    sim = json.load(open(sim_file))["results"][0]
    rows = [("attempts", live["attempts"], sim["attempts"]),
            ("429s", live["http_429"], sim["http_429"]),
            ("succeeded", live["succeeded"], sim["succeeded"]),
            ("dead-lettered", live["dead_lettered"], sim["dead_lettered"]),
            ("makespan (s)", round(live["makespan_s"], 3), round(sim["makespan_s"], 3))]
    print(f"openai {live['openai']} (max_retries=2) against ratelab serve --profile openai, "
          "beside the simulator's `openai_python` kind")
    print(f"{'':15}{'openai':>10}{'ratelab':>10}")
    for name, a, b in rows:
        print(f"{name:15}{a:>10}{b:>10}")
    bad = [f"{name}: {a} live, {b} simulated" for name, a, b in rows[:4] if a != b]
    if abs(live["makespan_s"] - sim["makespan_s"]) > 0.05 * sim["makespan_s"]:
        bad.append("makespan differs by more than 5 %")
    if bad:
        fail("; ".join(bad))
    print("agree: attempts, 429s and final states equal, makespan within 5 %")


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "constants":
        constants()
    elif cmd == "openai":
        openai_checks(args[0], args[1])
    elif cmd == "openai-trace":
        openai_trace(args[0], args[1])
    elif cmd == "anthropic":
        anthropic_checks(args[0])
    elif cmd == "overloaded":
        overloaded(args[0])
    elif cmd == "statuses":
        statuses(args[0], args[1])
    elif cmd == "tpm":
        tpm(args[0], float(args[1]), int(args[2]))
    elif cmd == "tpm-check":
        tpm_check(args[0], float(args[1]), float(args[2]))
    elif cmd == "fidelity":
        fidelity(args[0], int(args[1]), args[2])
    elif cmd == "compare":
        compare(args[0], args[1])
    else:
        fail(f"unknown check {cmd!r}")


if __name__ == "__main__":
    main()
