-- Loaded by HAProxy with the configuration docker-balancer writes.
--
-- glue_wait_listening: a request for a backend whose servers all belong to
-- containers that have just started is held until one of them accepts a
-- connection (at most 3 s), then goes on. Without it, a request that meets
-- a container before its server listens is refused, and HAProxy waits a
-- second before it tries the same server again. docker-balancer names such
-- backends in a map for the first seconds of their containers only.

local WAIT_MS = 3000
local PAUSE_MS = 5
local CONNECT_S = 0.05
-- How long an address found listening is believed without trying it again:
-- short, as Docker gives a stopped container's address to the next one.
local LISTENING_MS = 100
-- How long an address is remembered at all.
local KEEP_MS = 60000

local function now_ms()
  local t = core.now()
  return t.sec * 1000 + t.usec / 1000
end

-- Shared by every request held: an address is tried at most once per
-- PAUSE_MS however many requests wait for it, and once one of them finds
-- it listening the others go on.
local tried = {}
local listening = {}
local calls = 0

local function forget_old(now)
  for address, at in pairs(tried) do
    if now - at > KEEP_MS then tried[address] = nil end
  end
  for address, at in pairs(listening) do
    if now - at > KEEP_MS then listening[address] = nil end
  end
end

-- Whether `address` ("host:port") accepts connections, trying it only when
-- no request has within PAUSE_MS.
local function accepts(address, host, port, now)
  local found = listening[address]
  if found ~= nil and now - found < LISTENING_MS then return true end
  if (tried[address] or -PAUSE_MS) + PAUSE_MS > now then return false end
  tried[address] = now
  local socket = core.tcp()
  -- A container's address answers at once, or refuses; one that does not
  -- answer is gone (its container stopped): no reason to wait for it.
  socket:settimeout(CONNECT_S)
  local accepted = socket:connect(host, port)
  socket:close()
  if accepted == nil then return false end
  listening[address] = now_ms()
  return true
end

core.register_action("glue_wait_listening", { "http-req" }, function(txn)
  -- The servers' addresses, from the map: Lua sees only the servers a
  -- backend had when HAProxy started, not those added since.
  local targets = {}
  for address in string.gmatch(txn:get_var("txn.glue_fresh") or "", "[^,]+") do
    local host, port = string.match(address, "^%[?(.-)%]?:(%d+)$")
    if host ~= nil then
      targets[#targets + 1] = { address, host, tonumber(port) }
    end
  end
  if #targets == 0 then return end
  calls = calls + 1
  if calls % 1000 == 0 then forget_old(now_ms()) end
  local deadline = now_ms() + WAIT_MS
  repeat
    for _, target in ipairs(targets) do
      if accepts(target[1], target[2], target[3], now_ms()) then return end
    end
    core.msleep(PAUSE_MS)
  until now_ms() > deadline
end)
