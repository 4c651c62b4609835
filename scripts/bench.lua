-- wrk script driven by scripts/bench.py.
--
-- The request shape comes from environment variables so one script serves
-- every endpoint without building command lines full of quoted headers:
--   BENCH_METHOD     HTTP method (default GET)
--   BENCH_BODY_FILE  path of a file whose bytes are sent as the body
--   BENCH_HEADERS    "Name: value" lines separated by newlines
--   BENCH_BODIES_FILE, BENCH_SEQUENCE_FILE, BENCH_START, BENCH_WRK_THREADS: see below
--
-- done() prints one line "@@BENCH_RESULT@@ {json}" after wrk's own report,
-- so bench.py does not depend on wrk's human-readable, unit-suffixed output.
-- The response() hook counts every answer by status: wrk itself only counts
-- ">= 400", and a mix with redirects and 404s on purpose needs each status
-- against the one expected. It costs the client a Lua call per answer, the
-- same for the app and the baseline.

wrk.method = os.getenv("BENCH_METHOD") or "GET"

local body_file = os.getenv("BENCH_BODY_FILE")
if body_file and body_file ~= "" then
  local f = assert(io.open(body_file, "rb"))
  wrk.body = f:read("*a")
  f:close()
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

local start = tonumber(os.getenv("BENCH_START") or "0")
local stride = tonumber(os.getenv("BENCH_WRK_THREADS") or "1")
local bodies_file = os.getenv("BENCH_BODIES_FILE") or ""
local sequence_file = os.getenv("BENCH_SEQUENCE_FILE") or ""

local threads = {}
local thread_count = 0
setup = function(thread)
  thread:set("thread_index", thread_count)
  thread_count = thread_count + 1
  threads[#threads + 1] = thread
end

-- Per thread (each wrk thread runs this file in a Lua state of its own).
sent = 0
statuses = {}
mismatches = {}
local expected = {}  -- sequence line -> expected status

-- BENCH_BODIES_FILE: one body per line, sent in turn; each wrk thread takes every
-- BENCH_WRK_THREADS-th line from its own offset, starting after BENCH_START
-- lines already used (by the probe and the warm-up), so no body is sent twice.
local function load_bodies(index)
  local bodies = {}
  for line in io.lines(bodies_file) do
    if line ~= "" then
      bodies[#bodies + 1] = line
    end
  end
  request = function()
    local at = (start + index + sent * stride) % #bodies + 1
    sent = sent + 1
    return wrk.format(nil, nil, nil, bodies[at])
  end
end

-- BENCH_SEQUENCE_FILE: this thread's slice of a request sequence (scripts/bench_sequence.py), written by
-- bench.py as records "<line> <expected status> <bytes>\n<the request, ready to send>"; the file named is
-- suffixed with ".<thread index>". Read one record per request: nothing to load before the run, nothing to
-- format during it. Each request carries X-Request-Id "q<line>", which the app and the baseline echo, so each
-- answer is checked against its own line's expected status. At the end of the slice it starts over and says so.
wrapped = 0
local function load_sequence(index)
  local file = assert(io.open(sequence_file .. "." .. index, "rb"))
  request = function()
    local head = file:read("*l")
    if head == nil then
      wrapped = wrapped + 1
      file:seek("set", 0)
      head = file:read("*l")
    end
    local line, want, size = head:match("^(%d+) (%d+) (%d+)$")
    expected[tonumber(line)] = tonumber(want)
    sent = sent + 1
    return file:read(tonumber(size))
  end
end

init = function(args)
  local index = thread_index or 0
  if sequence_file ~= "" then
    load_sequence(index)
  elseif bodies_file ~= "" then
    load_bodies(index)
  else
    local formatted = wrk.format()
    request = function()
      sent = sent + 1
      return formatted
    end
  end
end

response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  local id = headers["X-Request-Id"]
  if id then
    local want = expected[tonumber(id:sub(2))]
    if want and want ~= status then
      local key = want .. ">" .. status
      mismatches[key] = (mismatches[key] or 0) + 1
    end
  end
end

local PERCENTILES = { 50, 75, 90, 95, 99, 99.9 }

-- wrk's stdev is NaN with a single sample and min is a sentinel with none;
-- JSON has no NaN, so such values become null instead of breaking the parse.
local function num(x, fmt)
  if x ~= x or x == math.huge or x == -math.huge then
    return "null"
  end
  return string.format(fmt or "%.0f", x)
end

local function counts_json(tables)
  local merged = {}
  for _, t in ipairs(tables) do
    for key, count in pairs(t) do
      merged[tostring(key)] = (merged[tostring(key)] or 0) + count
    end
  end
  local parts = {}
  for key, count in pairs(merged) do
    parts[#parts + 1] = string.format('"%s":%d', key, count)
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

done = function(summary, latency, requests)
  local e = summary.errors
  local pct = {}
  for _, p in ipairs(PERCENTILES) do
    pct[#pct + 1] = string.format('"%s":%s', tostring(p), num(latency:percentile(p)))
  end
  local sent_by_thread, status_tables, mismatch_tables, wraps = {}, {}, {}, 0
  for _, thread in ipairs(threads) do
    wraps = wraps + (thread:get("wrapped") or 0)
    sent_by_thread[#sent_by_thread + 1] = tostring(thread:get("sent") or 0)
    status_tables[#status_tables + 1] = thread:get("statuses") or {}
    mismatch_tables[#mismatch_tables + 1] = thread:get("mismatches") or {}
  end
  local min = summary.requests > 0 and latency.min or 0 / 0
  io.write(string.format(
    '@@BENCH_RESULT@@ {"duration_us":%s,"requests":%s,"bytes":%s,'
      .. '"errors":{"connect":%s,"read":%s,"write":%s,"status":%s,"timeout":%s},'
      .. '"latency_us":{"min":%s,"max":%s,"mean":%s,"stdev":%s,'
      .. '"percentiles":{%s}},"sent_by_thread":[%s],"statuses":%s,"mismatches":%s,"wrapped":%d}\n',
    num(summary.duration), num(summary.requests), num(summary.bytes),
    num(e.connect), num(e.read), num(e.write), num(e.status), num(e.timeout),
    num(min), num(latency.max), num(latency.mean, "%.3f"),
    num(latency.stdev, "%.3f"), table.concat(pct, ","),
    table.concat(sent_by_thread, ","), counts_json(status_tables), counts_json(mismatch_tables), wraps
  ))
end
