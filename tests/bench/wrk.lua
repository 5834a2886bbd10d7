-- wrk.lua: the request of one `make bench` run, from the environment
-- (WRK_METHOD, WRK_BODY as JSON, WRK_COOKIE), and one machine-readable line
-- at the end: "RESULT requests req/s p50_ms p99_ms socket_errors non_2xx".
wrk.method = os.getenv("WRK_METHOD") or "GET"
local body = os.getenv("WRK_BODY")
if body and body ~= "" then
	wrk.body = body
	wrk.headers["Content-Type"] = "application/json"
end
local cookie = os.getenv("WRK_COOKIE")
if cookie and cookie ~= "" then
	wrk.headers["Cookie"] = cookie
end

done = function(summary, latency, requests)
	local e = summary.errors
	io.write(string.format("RESULT %d %.1f %.3f %.3f %d %d\n", summary.requests,
		summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
		latency:percentile(99) / 1000, e.connect + e.read + e.write + e.timeout, e.status))
end
