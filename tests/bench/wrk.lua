-- wrk.lua: the request of one `make bench` run, from the environment
-- (WRK_METHOD, WRK_BODY as JSON, WRK_COOKIE; WRK_PATHS, a file of paths,
-- one a line: each request the next of them, every thread from its own
-- place in the list), and one machine-readable line at the end:
-- "RESULT requests req/s p50_ms p99_ms socket_errors non_2xx".
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

local paths_file = os.getenv("WRK_PATHS")
if paths_file and paths_file ~= "" then
	local threads = 0
	setup = function(thread)
		thread:set("offset", threads * 7919)
		threads = threads + 1
	end
	local paths, n, i = {}, 0, 0
	for line in io.lines(paths_file) do
		n = n + 1
		paths[n] = line
	end
	request = function()
		i = i + 1
		return wrk.format(nil, paths[(i + (offset or 0)) % n + 1])
	end
end

done = function(summary, latency, requests)
	local e = summary.errors
	io.write(string.format("RESULT %d %.1f %.3f %.3f %d %d\n", summary.requests,
		summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
		latency:percentile(99) / 1000, e.connect + e.read + e.write + e.timeout, e.status))
end
