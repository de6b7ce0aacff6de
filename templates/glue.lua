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

local function now_ms()
  local t = core.now()
  return t.sec * 1000 + t.usec / 1000
end

core.register_action("glue_wait_listening", { "http-req" }, function(txn)
  -- The servers' addresses, from the map: Lua sees only the servers a
  -- backend had when HAProxy started, not those added since.
  local addresses = txn:get_var("txn.glue_fresh") or ""
  local targets = {}
  for address in string.gmatch(addresses, "[^,]+") do
    local host, port = string.match(address, "^%[?(.-)%]?:(%d+)$")
    if host ~= nil then targets[#targets + 1] = { host, tonumber(port) } end
  end
  if #targets == 0 then return end
  local deadline = now_ms() + WAIT_MS
  repeat
    for _, target in ipairs(targets) do
      local socket = core.tcp()
      socket:settimeout(1)
      local accepted = socket:connect(target[1], target[2])
      socket:close()
      if accepted ~= nil then return end
    end
    core.msleep(PAUSE_MS)
  until now_ms() > deadline
end)
