-- GET /v2/snaps/find?q=..., over the query mix (every query distinct).
package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local report = require("report")
local next_query
local headers = { ["Snap-Device-Series"] = "16", ["Snap-Device-Architecture"] = "amd64" }
init = function(args)
  report.seed()
  local queries = report.lines(os.getenv("BENCH_DIR") .. "/queries.txt")
  for i, q in ipairs(queries) do queries[i] = report.urlencode(q) end
  next_query = report.cycle(queries)
end
request = function()
  return wrk.format("GET", "/v2/snaps/find?q=" .. next_query(), headers)
end
done = report.done
