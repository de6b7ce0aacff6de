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

-- glue_forward_auth: asks the route's auth service (Authelia, Authentik,
-- oauth2-proxy) about a request before it goes on. A 2xx lets it through
-- with the answer's user headers (the configuration has removed any the
-- client sent) and its Set-Cookie for the client; any other answer goes
-- back to the client as given; no answer in time, or no target in the
-- map, sets txn.glue_auth_down and the configuration answers 503. Plain
-- HTTP/1.1 on a socket of our own: one connection, one deadline, no
-- retries (HAProxy 2.6's httpclient waits a second between tries).

-- Hop-by-hop headers, and those HAProxy sets itself on a reply.
local NOT_PASSED = {
  ["connection"] = true, ["keep-alive"] = true, ["transfer-encoding"] = true,
  ["content-length"] = true, ["te"] = true, ["trailer"] = true,
  ["upgrade"] = true, ["proxy-connection"] = true,
}
local MAX_ANSWER = 65536

-- A request header's values in the order sent (HAProxy numbers them from 0).
local function sent(request, name)
  local values, i = {}, 0
  while request[name] ~= nil and request[name][i] ~= nil do
    values[#values + 1] = request[name][i]
    i = i + 1
  end
  return values
end

local function dechunk(body)
  local out, at = {}, 1
  while true do
    local size_end = string.find(body, "\r\n", at, true)
    if size_end == nil then return nil end
    local size = tonumber(string.match(string.sub(body, at, size_end - 1), "^%x+"), 16)
    if size == nil then return nil end
    if size == 0 then return table.concat(out) end
    out[#out + 1] = string.sub(body, size_end + 2, size_end + 1 + size)
    at = size_end + 4 + size
  end
end

-- The answer as status, reason, headers (lower-case name -> list) and
-- body, read up to its end (Content-Length, chunks or the close) by the
-- deadline; nil when it is not an HTTP/1 answer, is too large or late.
local function read_answer(socket, deadline)
  local function next_read()
    local left = (deadline - now_ms()) / 1000
    if left <= 0 then return false end
    socket:settimeout(left)
    return true
  end
  if not next_read() then return nil end
  local line = socket:receive("*l")
  if line == nil then return nil end
  local status, reason = string.match(line, "^HTTP/1%.%d (%d%d%d) ?([^\r]*)")
  if status == nil then return nil end
  local headers, size = {}, 0
  while true do
    if not next_read() then return nil end
    line = socket:receive("*l")
    if line == nil then return nil end
    line = (string.gsub(line, "\r$", ""))
    if line == "" then break end
    size = size + #line
    if size > MAX_ANSWER then return nil end
    local name, value = string.match(line, "^([^:]+):[ \t]*(.*)$")
    if name ~= nil then
      local key = string.lower(name)
      headers[key] = headers[key] or {}
      table.insert(headers[key], value)
    end
  end
  status = tonumber(status)
  local body = ""
  local length = headers["content-length"] and tonumber(headers["content-length"][1])
  if not next_read() then return nil end
  if headers["transfer-encoding"] ~= nil then
    local rest = socket:receive("*a")
    if rest == nil or #rest > MAX_ANSWER then return nil end
    body = dechunk(rest)
    if body == nil then return nil end
  elseif length ~= nil then
    if length > MAX_ANSWER then return nil end
    if length > 0 then
      body = socket:receive(length)
      if body == nil then return nil end
    end
  elseif status ~= 204 and status ~= 304 then
    body = socket:receive("*a") or ""
    if #body > MAX_ANSWER then return nil end
  end
  return status, reason, headers, body
end

local function ask(txn, target, timeout_ms)
  local host, port, path = string.match(target, "^%[?(.-)%]?:(%d+)(/.*)$")
  if host == nil then return nil end
  local request = txn.http:req_get_headers()
  local first = function(name) return sent(request, name)[1] or "" end
  local lines = {
    "GET " .. path .. " HTTP/1.1",
    "Host: " .. (string.find(host, ":", 1, true) and "[" .. host .. "]" or host) .. ":" .. port,
    "X-Forwarded-Method: " .. txn.f:method(),
    "X-Forwarded-Proto: " .. first("x-forwarded-proto"),
    "X-Forwarded-Host: " .. first("host"),
    "X-Forwarded-Uri: " .. txn.f:url(),
    "X-Forwarded-For: " .. (txn:get_var("txn.client") or txn.f:src()),
    "Accept: " .. first("accept"),
    "Connection: close",
  }
  -- HTTP/2 clients may send their cookies as several headers; HTTP/1.1
  -- wants one.
  local cookies = sent(request, "cookie")
  if #cookies > 0 then
    lines[#lines + 1] = "Cookie: " .. table.concat(cookies, "; ")
  end
  for _, value in ipairs(sent(request, "authorization")) do
    lines[#lines + 1] = "Authorization: " .. value
  end
  local deadline = now_ms() + timeout_ms
  local socket = core.tcp()
  socket:settimeout(timeout_ms / 1000)
  if socket:connect(host, tonumber(port)) == nil then
    socket:close()
    return nil
  end
  local remaining = (deadline - now_ms()) / 1000
  if remaining <= 0 or socket:send(table.concat(lines, "\r\n") .. "\r\n\r\n") == nil then
    socket:close()
    return nil
  end
  local status, reason, headers, body = read_answer(socket, deadline)
  socket:close()
  return status, reason, headers, body
end

core.register_action("glue_forward_auth", { "http-req" }, function(txn, timeout, names)
  local target = txn:get_var("txn.glue_auth")
  local status, reason, headers, body
  if target ~= nil then
    status, reason, headers, body = ask(txn, target, tonumber(timeout) or 5000)
  end
  if status == nil then
    txn:set_var("txn.glue_auth_down", 1)
    return
  end
  if status >= 200 and status < 300 then
    for name in string.gmatch(names, "[^,]+") do
      local values = headers[string.lower(name)]
      if values ~= nil then
        txn.http:req_set_header(name, table.concat(values, ", "))
      end
    end
    if headers["set-cookie"] ~= nil then
      txn:set_priv(headers["set-cookie"])
      txn:set_var("txn.glue_auth_cookies", 1)
    end
    return
  end
  local passed = {}
  for name, values in pairs(headers) do
    if not NOT_PASSED[name] then passed[name] = values end
  end
  txn:done(txn:reply({ status = status, reason = reason, headers = passed, body = body }))
end, 2)

-- The Set-Cookie of a yes, for the client (a session refreshed).
core.register_action("glue_forward_auth_cookies", { "http-res" }, function(txn)
  for _, value in ipairs(txn:get_priv() or {}) do
    txn.http:res_add_header("Set-Cookie", value)
  end
end)
