-- Rotates through the session cookies in $COOKIES (one "name=value" a line)
-- and prints the run's figures as one JSON line.
local cookies = {}
local path = os.getenv("COOKIES")
if path and path ~= "" then
  for line in io.lines(path) do
    if line ~= "" then cookies[#cookies + 1] = line end
  end
end
local counter = 0

function setup(thread)
  thread:set("offset", math.random(1, 1000))
end

request = function()
  counter = counter + 1
  if #cookies == 0 then
    return wrk.format("GET", wrk.path)
  end
  local cookie = cookies[((counter + (offset or 0)) % #cookies) + 1]
  return wrk.format("GET", wrk.path, { ["Cookie"] = cookie })
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"non2xx":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean))
end
