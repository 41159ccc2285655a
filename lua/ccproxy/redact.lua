-- ccproxy.redact: how secrets in header values are shown, wherever ccproxy shows headers
-- (the capture_headers hook's log tags, `ccproxy explain`). One rule for all of them:
--   a secret header: by its name (authorization, proxy-authorization, x-api-key, api-key, and
--     any name containing auth, key, token, secret, password, credential or signature), or by
--     its value (a Bearer or Basic credential, an sk- key);
--   cookies (cookie, set-cookie, any name containing "cookie"): "[redacted]";
--   other secrets keep what tells their kind, the scheme and a key prefix of up to three short
--     lower-case words ("Bearer sk-ant-oat01-"), then "..." and the last 4 characters when
--     more than 8 are left to hide: "Bearer sk-ant-oat01-...cdef". Basic credentials show no
--     tail ("Basic ..."): the end of their base64 is the end of the password.
local M = {}

local SECRET_NAMES = { authorization = true, ["proxy-authorization"] = true,
                       ["x-api-key"] = true, ["api-key"] = true }
local SECRET_WORDS = { "auth", "key", "token", "secret", "password", "credential", "signature" }

local function is_cookie(lname)
  return lname:find("cookie", 1, true) ~= nil
end

-- True when a header's value is a credential: by its name, or by how the value starts.
function M.is_secret(name, value)
  local n = name:lower()
  if SECRET_NAMES[n] or is_cookie(n) then return true end
  for _, w in ipairs(SECRET_WORDS) do
    if n:find(w, 1, true) then return true end
  end
  return value:match("^[Bb]earer%s") ~= nil or value:match("^[Bb]asic%s") ~= nil
    or value:match("^sk[-_]") ~= nil
end

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

-- A secret value as it may be shown (see the top of this file).
function M.secret(value)
  local scheme, token = value:match("^([%a][%w%-]*%s+)(%S.*)$")
  if not scheme then scheme, token = "", value end
  if scheme:lower():match("^basic%s") then return scheme .. "..." end
  local prefix = key_prefix(token)
  local rest = token:sub(#prefix + 1)
  local tail = #rest > 8 and rest:sub(-4) or ""
  return scheme .. prefix .. "..." .. tail
end

-- A header's value as it may be shown: redacted when it is a secret, else as it is.
function M.header(name, value)
  if is_cookie(name:lower()) then return "[redacted]" end
  if M.is_secret(name, value) then return M.secret(value) end
  return value
end

return M
