-- wrk script of bench/create-inquiries.sh: POSTs a create-inquiry body with a unique reference-id
-- per request, counts the responses by status, and prints one machine-readable summary line.
--
-- Environment:
--   BENCH_API_KEY   sent as `Authorization: Bearer …` when set (the bare handler ignores it)
--   BENCH_TAG       prefix of the reference ids (default "bench"), so runs never collide
--   BENCH_COUNT     "0" skips the per-response status count (wrk then does no Lua work per
--                   response; only wrk's own "Non-2xx" count remains)
--   BENCH_RECORD    a file: done() writes into it the reference-id of every 201 response, one a
--                   line (read from the response body), so the caller can match them against
--                   the database
--
-- Output of done(): a line
--   BENCH requests=… sent=… duration_us=… rps=… p50_us=… p90_us=… p99_us=… max_us=… status_201=…
--         non_201=… codes=404:3,500:1 errors=connect:0,read:0,write:0,timeout:0
-- `requests` counts the responses received; `sent` the requests begun. wrk stops at the deadline
-- without waiting, so up to one request per connection (sent - requests) is still in flight then:
-- the server completes it, but nobody reads the answer.
-- then, when some responses were not 201, the first of their bodies.

local api_key = os.getenv("BENCH_API_KEY")
local tag = os.getenv("BENCH_TAG") or "bench"
local count = os.getenv("BENCH_COUNT") ~= "0"
local record = os.getenv("BENCH_RECORD")
if record == "" then record = nil end

local threads = {}
local next_thread = 0

function setup(thread)
   thread:set("thread_index", next_thread)
   next_thread = next_thread + 1
   table.insert(threads, thread)
end

counter = 0  -- global: done() reads it with thread:get
local prefix
local headers = { ["Content-Type"] = "application/json" }
if api_key and api_key ~= "" then
   headers["Authorization"] = "Bearer " .. api_key
end
codes = {}
first_bad = ""
created = {} -- reference-ids answered 201 (when recording)

function init(args)
   prefix = tag .. "-" .. tostring(thread_index) .. "-"
end

function request()
   counter = counter + 1
   local body = '{"data":{"attributes":{"inquiry-template-id":"itmpl_basic_kyc","reference-id":"'
      .. prefix .. counter .. '"}}}'
   return wrk.format("POST", nil, headers, body)
end

if count then
   function response(status, headers, body)
      codes[status] = (codes[status] or 0) + 1
      if record and status == 201 then
         local reference = string.match(body, '"reference%-id":"([^"]*)"')
         if reference then created[#created + 1] = reference end
      end
      if status ~= 201 and first_bad == "" then
         first_bad = tostring(status) .. " " .. string.sub(body or "", 1, 300)
      end
   end
end

function done(summary, latency, requests)
   local ok, bad, parts = 0, 0, {}
   local bad_body = ""
   local sent = 0
   for _, thread in ipairs(threads) do
      sent = sent + (thread:get("counter") or 0)
   end
   if count then
      local all = {}
      for _, thread in ipairs(threads) do
         local thread_codes = thread:get("codes")
         for status, n in pairs(thread_codes) do
            all[status] = (all[status] or 0) + n
         end
         local body = thread:get("first_bad")
         if bad_body == "" and body and body ~= "" then
            bad_body = body
         end
      end
      for status, n in pairs(all) do
         if status == 201 then ok = ok + n else bad = bad + n end
         table.insert(parts, status .. ":" .. n)
      end
      table.sort(parts)
   else
      ok, bad = -1, summary.errors.status
   end
   if record then
      local file = assert(io.open(record, "w"))
      for _, thread in ipairs(threads) do
         for _, reference in ipairs(thread:get("created")) do
            file:write(reference, "\n")
         end
      end
      file:close()
   end
   local e = summary.errors
   io.write(string.format(
      "BENCH requests=%d sent=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
      "status_201=%d non_201=%d codes=%s errors=connect:%d,read:%d,write:%d,timeout:%d\n",
      summary.requests, sent, summary.duration, summary.requests / (summary.duration / 1e6),
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      ok, bad, table.concat(parts, ","), e.connect, e.read, e.write, e.timeout))
   if bad_body ~= "" then
      io.write("BENCH first non-201 response: " .. bad_body .. "\n")
   end
end
