"""The real tenacity against `ratelab serve`: N calls fired at once, each wrapped in the second
article's decorator. Usage: tenacity_client.py HOST:PORT N OUT.json

Writes {"tenacity": version, "waits_s": [...], "attempts", "http_429", "succeeded",
"dead_lettered", "makespan_s"} to OUT.json.
"""

import http.client
import importlib.metadata
import json
import sys
import threading
import time

import tenacity
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential


class RateLimited(Exception):
    pass


WAIT = wait_exponential(multiplier=1, min=2, max=60)


def main():
    addr, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    host, port = addr.rsplit(":", 1)
    lock = threading.Lock()
    counts = {"attempts": 0, "http_429": 0, "succeeded": 0, "dead_lettered": 0}
    finals = []
    barrier = threading.Barrier(n + 1)
    t0 = [0.0]

    def post(rid, attempt):
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        conn.request("POST", "/", body=b"{}", headers={
            "x-ratelimit-client": "0", "x-request-id": str(rid), "x-attempt": str(attempt)})
        resp = conn.getresponse()
        resp.read()
        conn.close()
        return resp.status

    def call(rid):
        barrier.wait()
        try:
            for attempt in Retrying(stop=stop_after_attempt(5), wait=WAIT,
                                    retry=retry_if_exception_type(RateLimited), reraise=True):
                with attempt:
                    n_attempt = attempt.retry_state.attempt_number
                    status = post(rid, n_attempt)
                    with lock:
                        counts["attempts"] += 1
                        if status == 429:
                            counts["http_429"] += 1
                    if status == 429:
                        raise RateLimited()
            with lock:
                counts["succeeded"] += 1
                finals.append(time.monotonic())
        except RateLimited:
            with lock:
                counts["dead_lettered"] += 1
                finals.append(time.monotonic())

    threads = [threading.Thread(target=call, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    t0[0] = time.monotonic()
    barrier.wait()
    for t in threads:
        t.join()

    # The installed constants: what tenacity's wait_exponential answers after attempts 1..5.
    class State:
        def __init__(self, n):
            self.attempt_number = n
    waits = [WAIT(State(k)) for k in range(1, 6)]
    result = dict(counts)
    result["makespan_s"] = max(finals) - t0[0]
    result["tenacity"] = importlib.metadata.version("tenacity")
    result["waits_s"] = waits
    with open(out, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
