-- GET /v2/snaps/info/{name}, over 1,000 names.
package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local report = require("report")
local next_name
local headers = { ["Snap-Device-Series"] = "16", ["Snap-Device-Architecture"] = "amd64" }
init = function(args)
  report.seed()
  next_name = report.cycle(report.lines(os.getenv("BENCH_DIR") .. "/names.txt"))
end
request = function()
  return wrk.format("GET", "/v2/snaps/info/" .. next_name(), headers)
end
done = report.done
