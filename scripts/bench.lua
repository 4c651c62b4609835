-- wrk script driven by scripts/bench.py.
--
-- The request shape comes from environment variables so one script serves
-- every endpoint without building command lines full of quoted headers:
--   BENCH_METHOD     HTTP method (default GET)
--   BENCH_BODY_FILE  path of a file whose bytes are sent as the body
--   BENCH_HEADERS    "Name: value" lines separated by newlines
--   BENCH_BODIES_FILE, BENCH_BODY_START, BENCH_WRK_THREADS: see below
--
-- done() prints one line "@@BENCH_RESULT@@ {json}" after wrk's own report,
-- so bench.py does not depend on wrk's human-readable, unit-suffixed output.
-- No response() hook is defined: with one, wrk parses every body and calls
-- into Lua per response, which would slow down the very thing measured.
-- Non-2xx detection therefore relies on wrk's own status error count.

wrk.method = os.getenv("BENCH_METHOD") or "GET"

local body_file = os.getenv("BENCH_BODY_FILE")
if body_file and body_file ~= "" then
  local f = assert(io.open(body_file, "rb"))
  wrk.body = f:read("*a")
  f:close()
end

-- BENCH_BODIES_FILE: one body per line, sent in turn; each wrk thread takes every
-- BENCH_WRK_THREADS-th line from its own offset, starting after BENCH_BODY_START
-- lines already used (by the probe and the warm-up), so no body is sent twice.
local bodies_file = os.getenv("BENCH_BODIES_FILE")
local bodies = nil
if bodies_file and bodies_file ~= "" then
  bodies = {}
  for line in io.lines(bodies_file) do
    if line ~= "" then
      bodies[#bodies + 1] = line
    end
  end
end

local thread_count = 0
setup = function(thread)
  thread:set("thread_index", thread_count)
  thread_count = thread_count + 1
end

if bodies then
  local sent = 0
  local start = tonumber(os.getenv("BENCH_BODY_START") or "0")
  local stride = tonumber(os.getenv("BENCH_WRK_THREADS") or "1")
  request = function()
    local index = (start + (thread_index or 0) + sent * stride) % #bodies + 1
    sent = sent + 1
    return wrk.format(nil, nil, nil, bodies[index])
  end
end

local header_lines = os.getenv("BENCH_HEADERS")
if header_lines then
  for line in header_lines:gmatch("[^\r\n]+") do
    local name, value = line:match("^%s*([^:]-)%s*:%s*(.-)%s*$")
    if name and name ~= "" then
      wrk.headers[name] = value
    end
  end
end

local PERCENTILES = { 50, 75, 90, 99, 99.9 }

-- wrk's stdev is NaN with a single sample and min is a sentinel with none;
-- JSON has no NaN, so such values become null instead of breaking the parse.
local function num(x, fmt)
  if x ~= x or x == math.huge or x == -math.huge then
    return "null"
  end
  return string.format(fmt or "%.0f", x)
end

done = function(summary, latency, requests)
  local e = summary.errors
  local pct = {}
  for _, p in ipairs(PERCENTILES) do
    pct[#pct + 1] = string.format('"%s":%s', tostring(p), num(latency:percentile(p)))
  end
  local min = summary.requests > 0 and latency.min or 0 / 0
  io.write(string.format(
    '@@BENCH_RESULT@@ {"duration_us":%s,"requests":%s,"bytes":%s,'
      .. '"errors":{"connect":%s,"read":%s,"write":%s,"status":%s,"timeout":%s},'
      .. '"latency_us":{"min":%s,"max":%s,"mean":%s,"stdev":%s,'
      .. '"percentiles":{%s}}}\n',
    num(summary.duration), num(summary.requests), num(summary.bytes),
    num(e.connect), num(e.read), num(e.write), num(e.status), num(e.timeout),
    num(min), num(latency.max), num(latency.mean, "%.3f"),
    num(latency.stdev, "%.3f"), table.concat(pct, ",")
  ))
end
