-- Shared by depot's wrk scripts (make bench): reading a request mix, and writing a run's
-- figures as JSON to $BENCH_OUT when wrk is done.
local M = {}

function M.lines(path)
  local out = {}
  local f = assert(io.open(path, "r"), "cannot read " .. path)
  for line in f:lines() do
    if line ~= "" then out[#out + 1] = line end
  end
  f:close()
  assert(#out > 0, path .. " is empty")
  return out
end

function M.urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

-- Each thread walks the whole mix from its own starting point, so every entry is asked for.
function M.cycle(list)
  local i = math.random(#list)
  return function()
    i = i % #list + 1
    return list[i]
  end
end

function M.seed()
  -- wrk calls init once per thread, each in its own Lua state.
  math.randomseed(os.time() + os.clock() * 1e6 + tonumber(tostring({}):match("0x(%x+)") or "0", 16))
end

function M.done(summary, latency, requests)
  local e = summary.errors
  local json = string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"stdev":%.1f,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d}}',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.stdev, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max)
  local path = os.getenv("BENCH_OUT")
  local f = assert(io.open(path, "w"), "cannot write " .. path)
  f:write(json, "\n")
  f:close()
end

return M
