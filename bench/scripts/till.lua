-- wrk script: a till hitting the server with random seeded products.
--
--   wrk ... -s till.lua URL -- MODE PRODUCTS KEY SEED ID_PREFIX HOT
--
-- MODE is "scan" (GET /api/v1/scan/{barcode}) or "sale" (POST /api/v1/sales with 3 lines
-- given by product id). HOT is the index of a product that every sale includes, or -1.
-- Barcodes and product ids are computed from a random index exactly as seed.py's
-- barcode_of and product_id_of do, so no key list has to be loaded. Sale ids are unique
-- without coordination: ID_PREFIX (random per run) + this thread's number + a counter.
-- done() prints one line "WRK_JSON {...}" that bench/wrk.py reads.

local threads_started = 0

function setup(thread)
   threads_started = threads_started + 1
   thread:set("thread_no", threads_started)
end

function init(args)
   mode, products, seed, id_prefix, hot = args[1], tonumber(args[2]), tonumber(args[4]), args[5], tonumber(args[6])
   wrk.headers["Authorization"] = "Bearer " .. args[3]
   wrk.headers["Content-Type"] = "application/json"
   math.randomseed(seed + thread_no)
   sales_sent = 0
end

-- seed.py barcode_of: "5", eleven digits of i, then the EAN-13 check digit.
local function barcode_of(i)
   local body = string.format("5%011d", i)
   local odd, even = 0, 0
   for k = 1, 12, 2 do
      odd = odd + string.byte(body, k) - 48
      even = even + string.byte(body, k + 1) - 48
   end
   return body .. tostring((10 - (odd + 3 * even) % 10) % 10)
end

-- seed.py product_id_of: a fixed prefix, then 100000000000 + i.
local function product_id_of(i)
   return string.format("00000000-0000-4000-8000-%012d", 100000000000 + i)
end

local function random_product()
   return math.random(0, products - 1)
end

local function sale_body()
   sales_sent = sales_sent + 1
   local id = string.format("%s-%04x-%012x", id_prefix, 32768 + thread_no, sales_sent)
   local first = hot >= 0 and hot or random_product()
   local lines = {}
   for _, i in ipairs({first, random_product(), random_product()}) do
      lines[#lines + 1] = '{"product_id":"' .. product_id_of(i) .. '","quantity":"1"}'
   end
   return '{"id":"' .. id .. '","lines":[' .. table.concat(lines, ",") .. ']}'
end

function request()
   if mode == "scan" then
      return wrk.format("GET", "/api/v1/scan/" .. barcode_of(random_product()))
   end
   return wrk.format("POST", "/api/v1/sales", nil, sale_body())
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'WRK_JSON {"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, '
      .. '"p50_us": %d, "p99_us": %d, "mean_us": %.1f}\n',
      summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
      latency:percentile(50), latency:percentile(99), latency.mean))
end
