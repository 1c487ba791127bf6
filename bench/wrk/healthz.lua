-- GET /healthz on depot: no handler work, so every request layer and nothing else (request id,
-- trace span, access log line, metrics, rate limits, timeout) — depot's own ceiling.
package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local report = require("report")
request = function() return wrk.format("GET", "/healthz") end
done = report.done
