-- wrk script for bench/run.py.
-- BENCH_POST_BYTES=<n> in the environment turns every request into a POST of n bytes
-- (Content-Type: application/octet-stream) to the URL's path; otherwise wrk's plain GET.
-- done() prints one machine-readable line: WRKJSON {...}; latencies are in microseconds.

local post_bytes = tonumber(os.getenv("BENCH_POST_BYTES") or "")
if post_bytes then
  wrk.method = "POST"
  wrk.body = string.rep("x", post_bytes)
  wrk.headers["Content-Type"] = "application/octet-stream"
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"mean": %.1f, "p50": %d, "p90": %d, "p99": %d, "max": %d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
