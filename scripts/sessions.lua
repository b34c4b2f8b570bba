-- Makes sessions as fast as the app answers: every response's session
-- cookie is appended to $OUT.<thread> (one "name=value" a line). The
-- caller runs it for as long as it needs sessions.
local out = nil
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

function init(args)
  out = io.open(os.getenv("OUT") .. "." .. tostring(id or 0), "a")
end

response = function(status, headers, body)
  local cookie = headers["Set-Cookie"] or headers["set-cookie"]
  if cookie then
    out:write(cookie:match("^[^;]*"), "\n")
  end
end

done = function(summary, latency, requests)
  io.write(string.format('WRK_JSON {"requests":%d}\n', summary.requests))
end
