-- Zipf-like popularity over the session cookies in $COOKIES (one
-- "name=value" a line): the cookie of rank r (1 = most popular) is sent
-- with probability about proportional to 1/r (rank = floor(n^u), u uniform
-- in [0, 1)), as a few users are far more active than most. Prints the
-- run's figures as one JSON line.
local cookies = {}
for line in io.lines(os.getenv("COOKIES")) do
  if line ~= "" then cookies[#cookies + 1] = line end
end
local n = #cookies

function setup(thread)
  thread:set("seed", math.random(1, 1000000))
end

function init(args)
  math.randomseed(seed or 1)
end

request = function()
  local rank = math.floor(n ^ math.random())
  if rank < 1 then rank = 1 elseif rank > n then rank = n end
  return wrk.format("GET", wrk.path, { ["Cookie"] = cookies[rank] })
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"non2xx":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean))
end
