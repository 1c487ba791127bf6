-- POST /v2/snaps/refresh with a 40-snap context, refreshing all 40, over many bodies.
package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local report = require("report")
local next_body
local headers = {
  ["Content-Type"] = "application/json",
  ["Snap-Device-Series"] = "16",
  ["Snap-Device-Architecture"] = "amd64",
  ["Snap-Refresh-Reason"] = "scheduled",
}
init = function(args)
  report.seed()
  local dir = os.getenv("BENCH_DIR") .. "/refresh/"
  local bodies = {}
  local n = tonumber(os.getenv("BENCH_BODIES") or "200")
  for i = 0, n - 1 do
    local f = assert(io.open(dir .. i .. ".json", "r"))
    bodies[#bodies + 1] = f:read("*a")
    f:close()
  end
  next_body = report.cycle(bodies)
end
request = function()
  return wrk.format("POST", "/v2/snaps/refresh", headers, next_body())
end
done = report.done
