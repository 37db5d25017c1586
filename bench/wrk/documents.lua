-- wrk script of bench/api.py: 4 KiB document PUTs, GETs and a read-back of every acknowledged PUT.
--
--   wrk -t8 -c8 -s documents.lua URL -- MODE PREFIX DIR TAG
--
-- MODE: put  (a fresh name TAG-w<thread>-<n> per request; each 200 is appended to
--             DIR/acked-<thread>.txt)
--       get  (random names from DIR/acked-<thread>.txt, every body checked)
-- One connection per thread (run with -t N -c N), so a response always answers the thread's
-- last request and can be checked against the name it asked for. The body of a name is
-- its name padded to 64 bytes followed by DIR/filler (4032 random bytes): a mixed-up
-- document is caught, not only a missing one. The token comes from BYOK_BENCH_TOKEN
-- (never on a command line). done() prints one JSON line for bench/api.py, which reads
-- every acknowledged name back afterwards (wrk always runs for its whole duration, so the
-- read-back of a known list is done there).

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

local function body_of(name)
  return string.format("%-64s", name):sub(1, 64) .. filler
end

function init(args)
  mode, prefix, dir, tag = args[1], args[2], args[3], args[4] or "doc"
  http_errors, bad_bodies, position = 0, 0, 0
  statuses = ""  -- the first few unexpected statuses, for the report
  local file = assert(io.open(dir .. "/filler", "rb"))
  filler = file:read("*a")
  file:close()
  local token = os.getenv("BYOK_BENCH_TOKEN")
  if token and token ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. token
  end
  local acked = dir .. "/acked-" .. id .. ".txt"
  if mode == "put" then
    out = assert(io.open(acked, "a"))
    out:setvbuf("line")
  else
    names = {}
    local list = io.open(acked, "r")
    if list then
      for line in list:lines() do names[#names + 1] = line end
      list:close()
    end
  end
end

function request()
  if mode == "put" then
    position = position + 1
    current = string.format("%s-w%d-%07d", tag, id, position)
    return wrk.format("PUT", prefix .. "/" .. current, nil, body_of(current))
  end
  if #names == 0 then
    wrk.thread:stop()
    current = nil
    return wrk.format("GET", prefix .. "/none")
  end
  current = names[math.random(#names)]
  return wrk.format("GET", prefix .. "/" .. current)
end

function response(status, headers, body)
  if current == nil then return end
  if status ~= 200 and http_errors < 5 then
    statuses = statuses .. status .. ":" .. string.gsub(body:sub(1, 120), '[^%w%s:_-]', ' ') .. ";"
  end
  if mode == "put" then
    if status == 200 then out:write(current, "\n") else http_errors = http_errors + 1 end
    return
  end
  if status ~= 200 then
    http_errors = http_errors + 1
  elseif body ~= body_of(current) then
    bad_bodies = bad_bodies + 1
  end
end

function done(summary, latency, requests)
  local errors, bad, seen = 0, 0, ""
  for _, thread in ipairs(threads) do
    errors = errors + thread:get("http_errors")
    bad = bad + thread:get("bad_bodies")
    seen = seen .. thread:get("statuses")
  end
  local e = summary.errors
  io.write(string.format(
    '\n{"requests":%d,"seconds":%.6f,"p50_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,'
      .. '"socket_errors":%d,"http_errors":%d,"bad_bodies":%d,"statuses":"%s"}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    e.connect + e.read + e.write + e.timeout, errors, bad, seen:sub(1, 600)))
end
