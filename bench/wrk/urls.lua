-- bench/wrk/urls.lua -- wrk fetching a list of paths: the ceiling of workload 2.
--
--   wrk -t2 -c64 -d30s -s bench/wrk/urls.lua http://127.0.0.1:PORT -- PATHS [PREFIX [TOKEN [once]]]
--
-- PATHS is a file of one path per line; a line that does not start with '/' is appended to
-- PREFIX (e.g. /v1/AUTH_test/BUCKET/ for Swift, /BUCKET/ for S3 path-style), so haul's
-- keys.txt serves as is.  The same can come from the environment: WRK_PATHS, WRK_PREFIX,
-- WRK_TOKEN, WRK_ONCE=1 (arguments win).  Every request is a GET with the header
-- X-Auth-Token: TOKEN (default: bench/lib/nginx.sh's static token; "" sends none), as a
-- Swift GET has.
--
-- Thread k of n takes lines k, k+n, k+2n, ... (its own slice), so together the threads fetch
-- each path in turn, in the file's order; each thread cycles through its slice over its
-- connections (-c / -t each) until the -d duration ends.  With "once" (or WRK_ONCE=1) each
-- thread stops when every path of its slice has been answered once (extra requests its
-- connections had in flight are dropped), and the run ends when every thread has: one pass
-- over the list, as a haul job over the same keys.  wrk's own summary then counts -d's full
-- duration; the line below counts from the first request to the last answer.
--
-- Requests are built once, in init(), so request() costs a table lookup.  Every answer goes
-- through response() (wrk then hands the headers and body to Lua, a cost: WRK_CHECK=0
-- skips it, and non-2xx are then counted only as wrk counts them, status > 399; "once"
-- needs it).  A non-2xx answer is an error: done() prints the first few with their status
-- and path.  At the end one machine-readable line on stdout:
--   wrk-urls: {"requests":N,"seconds":S,"req_per_s":R,"errors":E,"non_2xx":E2,
--              "socket_errors":E3,"bytes":B,"paths":P,"threads":T,"once":bool,...}
-- errors = non_2xx + socket errors (connect, read, write, timeout).

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } wrk_urls_timespec;
  int clock_gettime(int clk, wrk_urls_timespec *ts);
  int tgkill(int tgid, int tid, int sig);
  int getpid(void);
  int gettid(void);
  int usleep(unsigned int usec);
  void *malloc(size_t n);
  void *memset(void *p, int c, size_t n);
]]
local CLOCK_MONOTONIC, SIGINT = 1, 2
local ts = ffi.new("wrk_urls_timespec")
local function now()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local DEFAULT_TOKEN = "AUTH_tk0123456789abcdef0123456789abcdef"
local MAX_SHOWN = 10
local READY = 512      -- flags area: [0, 512) pass done, [512, 1024) slice ready, per thread

-- ---- setup phase (main Lua state) -------------------------------------------------------
local threads = {}
local flags_main       -- the flags area's address (an int per thread, see READY), set once

function setup(thread)
  if not flags_main then
    local p = ffi.C.malloc(4 * 1024)   -- shared by the threads' Lua states (one process)
    ffi.C.memset(p, 0, 4 * 1024)
    flags_main = tonumber(ffi.cast("intptr_t", p))
  end
  table.insert(threads, thread)
  thread:set("thread_index", #threads)   -- 1-based
  thread:set("flags_addr", flags_main)    -- a global of the thread's Lua state
end

-- ---- running phase (one Lua state per thread) -------------------------------------------
local reqs, paths, n, pos = {}, {}, 0, 0
answered, non_2xx, shown = 0, 0, {}      -- globals: done() reads them with thread:get()
once, t_first, t_last, all_count = false, nil, nil, 0
local nthreads_total

-- wrk does not tell a thread how many threads there are (thread k starts before thread k+1
-- is set up): read -t from wrk's own command line (WRK_THREADS overrides).
local function thread_count()
  local env = tonumber(os.getenv("WRK_THREADS") or "")
  if env then return env end
  local f = io.open("/proc/self/cmdline", "rb")
  local argv = {}
  if f then
    for a in f:read("*a"):gmatch("([^%z]*)%z") do argv[#argv + 1] = a end
    f:close()
  end
  for i, a in ipairs(argv) do
    if a == "--" then break end
    local v = a:match("^%-t(%d+)$") or a:match("^%-%-threads=(%d+)$")
    if not v and (a == "-t" or a == "--threads") then v = argv[i + 1] end
    if v then return tonumber(v) end
  end
  return 2   -- wrk's default
end

function init(args)
  local file = args[1] or os.getenv("WRK_PATHS")
  local prefix = args[2] or os.getenv("WRK_PREFIX") or ""
  local token = args[3] or os.getenv("WRK_TOKEN") or DEFAULT_TOKEN
  once = (args[4] == "once") or (os.getenv("WRK_ONCE") == "1")
  if not file then
    io.stderr:write("urls.lua: give the paths file: wrk ... -s urls.lua URL -- PATHS [PREFIX [TOKEN [once]]]\n")
    os.exit(2)
  end
  local f = io.open(file, "r")
  if not f then
    io.stderr:write("urls.lua: cannot read " .. file .. "\n")
    os.exit(2)
  end
  nthreads_total = thread_count()
  local k = thread_index or 1
  local headers = {}
  if token ~= "" then headers["X-Auth-Token"] = token end
  local i = 0
  for line in f:lines() do
    line = line:gsub("\r$", "")
    if line ~= "" then
      i = i + 1
      if (i - 1) % nthreads_total == k - 1 then     -- this thread's slice: k, k+T, k+2T, ...
        if line:sub(1, 1) ~= "/" then line = prefix .. line end
        n = n + 1
        paths[n] = line
        reqs[n] = wrk.format("GET", line, headers)
      end
    end
  end
  f:close()
  all_count = i
  if n == 0 then
    io.stderr:write("urls.lua: no path for thread " .. k .. " (" .. i .. " paths for " ..
                    nthreads_total .. " threads)\n")
    os.exit(2)
  end
  ffi.cast("int *", flags_addr)[READY + k - 1] = 1
  checking = true
  if os.getenv("WRK_CHECK") == "0" and not once then response = nil; checking = false end
end

-- Threads are set up one after the other and each starts at once: wait at the first
-- request until every thread has read its slice, so that none has a head start.
local function barrier()
  local flags = ffi.cast("int *", flags_addr)
  local deadline = now() + 60
  for i = 1, nthreads_total do
    while flags[READY + i - 1] == 0 and now() < deadline do ffi.C.usleep(1000) end
  end
end

function request()
  if not t_first then
    -- wrk's main thread calls the first thread's request() once, to check the request
    -- (script_verify_request): answer it without waiting or counting.
    if ffi.C.gettid() == ffi.C.getpid() then return reqs[1] end
    barrier()
    t_first = now()
  end
  pos = pos + 1
  if pos > n then pos = 1 end
  return reqs[pos]
end

local function pass_done()
  t_last = now()
  local flags = ffi.cast("int *", flags_addr)
  flags[thread_index - 1] = 1
  wrk.thread:stop()
  for i = 1, nthreads_total do
    if flags[i - 1] == 0 then return end
  end
  -- every pass done: interrupt wrk's main thread (its tid is the pid), asleep for -d; its
  -- SIGINT handler ends the run as at the end of -d
  ffi.C.tgkill(ffi.C.getpid(), ffi.C.getpid(), SIGINT)
end

function response(status, headers, body)
  answered = answered + 1
  if status < 200 or status > 299 then
    non_2xx = non_2xx + 1
    if #shown < MAX_SHOWN and paths[pos] ~= last_shown then
      last_shown = paths[pos]
      -- answers come back in order per connection, not overall: the path is the latest
      -- request's, close to the failed one (exact when -c equals -t).
      shown[#shown + 1] = tostring(status) .. " (near " .. tostring(paths[pos]) .. ")"
    end
  end
  if once and answered == n then pass_done() end
end

-- ---- done phase (main Lua state again) ---------------------------------------------------
function done(summary, latency, requests)
  local non2xx, first, last, shown_all, answered_all = 0, nil, nil, {}, 0
  local checked = true
  for _, t in ipairs(threads) do
    local a = t:get("answered") or 0
    answered_all = answered_all + a
    non2xx = non2xx + (t:get("non_2xx") or 0)
    local tf, tl = t:get("t_first"), t:get("t_last")
    if tf and (not first or tf < first) then first = tf end
    if tl and (not last or tl > last) then last = tl end
    local s = t:get("shown") or {}
    for _, x in ipairs(s) do shown_all[#shown_all + 1] = x end
    if not t:get("checking") then checked = false end
  end
  if not checked then non2xx = summary.errors.status end
  local sock = summary.errors.connect + summary.errors.read + summary.errors.write
               + summary.errors.timeout
  local once_run = threads[1] and threads[1]:get("once") or false
  local reqs_n, secs = summary.requests, summary.duration / 1e6
  if once_run and first and last then
    reqs_n, secs = answered_all, last - first
  end
  local paths_n = threads[1] and threads[1]:get("all_count") or 0
  if non2xx > 0 then
    io.write(string.format("urls.lua: %d non-2xx answers; first ones:\n", non2xx))
    for _, x in ipairs(shown_all) do io.write("  " .. x .. "\n") end
  end
  io.write(string.format(
    'wrk-urls: {"requests":%d,"seconds":%.3f,"req_per_s":%.1f,"errors":%d,"non_2xx":%d,' ..
    '"socket_errors":%d,"bytes":%d,"paths":%d,"threads":%d,"once":%s,"checked":%s,' ..
    '"latency_ms_p50":%.3f,"latency_ms_p99":%.3f}\n',
    reqs_n, secs, secs > 0 and reqs_n / secs or 0, non2xx + sock, non2xx, sock,
    summary.bytes, paths_n, #threads, tostring(once_run), tostring(checked),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
