-- wrk script for tokenmint's JSON routes: POSTs LOAD_BODY as application/json with the
-- Authorization value LOAD_AUTH, and prints the key=value summary bench.py reads (with the exact
-- count of non-200 answers).
local body = os.getenv("LOAD_BODY") or "{}"
local auth = os.getenv("LOAD_AUTH")

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
if auth ~= nil and auth ~= "" then
  wrk.headers["Authorization"] = auth
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

non200 = 0
function response(status, headers, resp_body)
  if status ~= 200 then
    non200 = non200 + 1
  end
end

function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do
    n = n + t:get("non200")
  end
  local secs = summary.duration / 1e6
  io.write(string.format("rps=%.1f\n", summary.requests / secs))
  io.write(string.format("p50_ms=%.3f\n", latency:percentile(50) / 1000))
  io.write(string.format("p99_ms=%.3f\n", latency:percentile(99) / 1000))
  io.write(string.format("non_200=%d\n", n))
end
