-- ccproxy.claude: what Claude Code sends, for rules and hooks (`require("ccproxy.claude")`).
--   parse_user_id(s)       session id and the other parts of metadata.user_id
--   session_id(req)        Claude Code's session id of a request: metadata.user_id, else the
--                          X-Claude-Code-Session-Id header
--   bearer_token(value)    the token of an "Authorization: <scheme> <token>" value
--   is_oauth(value)        an Anthropic OAuth token (sk-ant-oat...), bare or in a header value
--   betas(headers)         the anthropic-beta values of a header view, in order, de-duplicated
--   add_betas(headers, l)  merges a list of betas into anthropic-beta (kept order, new ones last)
local json = require("ccproxy").json

local M = {}

-- The anthropic-beta value Anthropic requires with an OAuth token.
M.OAUTH_BETA = "oauth-2025-04-20"

-- Parses metadata.user_id. Two forms:
--   a JSON string {"device_id": .., "account_uuid": .., "session_id": ..} (current versions)
--   "user_<hash>_account_<uuid>_session_<uuid>" (older versions)
-- Returns the session id (nil when there is none) and a table of the other parts found:
-- device_id, account_uuid, user_hash (empty values are left out).
function M.parse_user_id(user_id)
  local parts = {}
  if type(user_id) ~= "string" or user_id == "" then return nil, parts end
  if user_id:sub(1, 1) == "{" then
    local obj = json.decode(user_id)
    if type(obj) ~= "table" then return nil, parts end
    if type(obj.device_id) == "string" and obj.device_id ~= "" then
      parts.device_id = obj.device_id
    end
    if type(obj.account_uuid) == "string" and obj.account_uuid ~= "" then
      parts.account_uuid = obj.account_uuid
    end
    if type(obj.session_id) == "string" and obj.session_id ~= "" then
      return obj.session_id, parts
    end
    return nil, parts
  end
  local head, session = user_id:match("^(.*)_session_(.+)$")
  if not session then return nil, parts end
  local hash, account = head:match("^user_(.*)_account_(.+)$")
  if hash then
    parts.user_hash = hash
    parts.account_uuid = account
  end
  return session, parts
end

-- Claude Code's session id of `req`, read from the request itself (not req.session_id):
-- metadata.user_id first, else the X-Claude-Code-Session-Id header. Returns the id (nil when
-- neither has one), where it came from ("metadata" or "header") and the user_id's other parts.
function M.session_id(req)
  local metadata = req:field("metadata")
  local session, parts
  if type(metadata) == "table" then
    session, parts = M.parse_user_id(metadata.user_id)
  else
    parts = {}
  end
  if session then return session, "metadata", parts end
  local header = req.client_headers["x-claude-code-session-id"]
  if header and header ~= "" then return header, "header", parts end
  return nil, nil, parts
end

-- The token of an Authorization value ("Bearer abc" -> "abc"); a value without a scheme is
-- returned as it is. nil for nil or an empty value.
function M.bearer_token(value)
  if type(value) ~= "string" then return nil end
  local token = value:match("^%s*[%a][%w%-]*%s+(%S.-)%s*$") or value:match("^%s*(%S.-)%s*$")
  return token
end

-- True when `value` (a token, or an Authorization value such as "Bearer sk-ant-oat01-...")
-- is an Anthropic OAuth token. API keys sent as "Bearer sk-ant-api03-..." are not.
function M.is_oauth(value)
  local token = M.bearer_token(value)
  return token ~= nil and token:sub(1, 10) == "sk-ant-oat"
end

local function add_unique(list, seen, value)
  if value ~= "" and not seen[value] then
    seen[value] = true
    list[#list + 1] = value
  end
end

-- The anthropic-beta values of a header view (every anthropic-beta field, comma-separated),
-- trimmed, in order, without repeats.
function M.betas(headers)
  local list, seen = {}, {}
  for _, field in ipairs(headers()) do
    if field[1]:lower() == "anthropic-beta" then
      for value in field[2]:gmatch("[^,]+") do
        add_unique(list, seen, (value:gsub("^%s+", ""):gsub("%s+$", "")))
      end
    end
  end
  return list, seen
end

-- Merges `add` (a list of beta names) into the anthropic-beta header of `headers` (normally
-- req.headers): the values already there keep their order, new ones are appended, nothing is
-- repeated, and several anthropic-beta fields become one. When every value is already there
-- the header is left exactly as it was. Returns the values it added.
function M.add_betas(headers, add)
  local list, seen = M.betas(headers)
  local added = {}
  for _, value in ipairs(add) do
    local v = (tostring(value):gsub("^%s+", ""):gsub("%s+$", ""))
    if v ~= "" and not seen[v] then added[#added + 1] = v end
    add_unique(list, seen, v)
  end
  if #added > 0 then
    headers["anthropic-beta"] = table.concat(list, ",")
  end
  return added
end

return M
