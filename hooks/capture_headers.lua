-- hooks/capture_headers.lua: puts the client's request headers into the request's log line,
-- as tags h.<name>=<value>, with secrets redacted:
--   authorization, proxy-authorization  scheme and key prefix kept, then "..." and the last 4
--                                       characters: "Bearer sk-ant-oat01-...cdef" (Basic
--                                       credentials: "Basic ...")
--   x-api-key and any header whose name contains key, token, secret or auth (x-goog-api-key,
--   api-key, ...)                       likewise: "sk-ant-api03-...cdef"
--   cookie, set-cookie and any name containing "cookie"   "[redacted]"
-- Values are cut at 200 characters. params.headers: the names to capture (any case); empty
-- (the default) means all, except the x-stainless-* fields the Anthropic SDK adds to every
-- request (name them to capture them).
local MAX = 200

-- "sk-ant-oat01-" of "sk-ant-oat01-abc...": up to three short lower-case dash-ended words.
local function key_prefix(token)
  local prefix = ""
  for _ = 1, 3 do
    local word = token:match("^[%l%d]+%-", #prefix + 1)
    if not word or #word > 7 then break end
    prefix = prefix .. word
  end
  return prefix
end

-- Keeps what tells a secret's kind (scheme, key prefix) and its last 4 characters when more
-- than 8 are left to hide. Basic credentials show no tail: the end of their base64 is the
-- end of the password.
local function redact_secret(value)
  local scheme, token = value:match("^([%a][%w%-]*%s+)(%S.*)$")
  if not scheme then scheme, token = "", value end
  if scheme:lower():match("^basic%s") then return scheme .. "..." end
  local prefix = key_prefix(token)
  local rest = token:sub(#prefix + 1)
  local tail = #rest > 8 and rest:sub(-4) or ""
  return scheme .. prefix .. "..." .. tail
end

local function redact(name, value)
  if name:find("cookie", 1, true) then return "[redacted]" end
  for _, word in ipairs({ "auth", "key", "token", "secret" }) do
    if name:find(word, 1, true) then return redact_secret(value) end
  end
  return value
end

return {
  params = { headers = {} },
  check = function(params)
    for i, v in ipairs(params.headers) do
      if type(v) ~= "string" or v == "" or v:find("[%s:=]") then
        return false, string.format("headers[%d] must be a header name, got %s", i,
          tostring(v))
      end
    end
    return true
  end,
  request = function(req, params)
    local wanted
    if #params.headers > 0 then
      wanted = {}
      for _, name in ipairs(params.headers) do wanted[name:lower()] = true end
    end
    local values, order = {}, {}
    for _, field in ipairs(req.client_headers()) do
      local name = field[1]:lower()
      local take
      if wanted then
        take = wanted[name]
      else
        take = name:sub(1, 12) ~= "x-stainless-"
      end
      if take and field[2] ~= "" then
        if not values[name] then
          order[#order + 1] = name
          values[name] = {}
        end
        local list = values[name]
        list[#list + 1] = field[2]
      end
    end
    for _, name in ipairs(order) do
      local value = redact(name, table.concat(values[name], ", "))
      req:tag("h." .. name, #value > MAX and value:sub(1, MAX) or value)
    end
  end,
}
