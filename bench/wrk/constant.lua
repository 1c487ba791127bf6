-- The ceiling: GET / on the bare axum server.
package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local report = require("report")
request = function() return wrk.format("GET", "/") end
done = report.done
