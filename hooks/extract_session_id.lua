-- hooks/extract_session_id.lua: finds Claude Code's session id and sets req.session_id (it
-- appears in the request log). Sources, first found wins:
--   metadata.user_id as a JSON string {"device_id":..,"account_uuid":..,"session_id":..}
--   the legacy metadata.user_id "user_<hash>_account_<uuid>_session_<uuid>"
--   the X-Claude-Code-Session-Id header
-- The other parts go to req.ctx.claude (device_id, account_uuid, user_hash).
local json = require("ccproxy").json

local function from_user_id(user_id, claude)
  if type(user_id) ~= "string" or user_id == "" then return nil end
  if user_id:sub(1, 1) == "{" then
    local obj = json.decode(user_id)
    if type(obj) == "table" then
      if type(obj.device_id) == "string" then claude.device_id = obj.device_id end
      if type(obj.account_uuid) == "string" and obj.account_uuid ~= "" then
        claude.account_uuid = obj.account_uuid
      end
      if type(obj.session_id) == "string" and obj.session_id ~= "" then
        return obj.session_id
      end
    end
    return nil
  end
  local head, session = user_id:match("^(.*)_session_(.+)$")
  if not session then return nil end
  local hash, account = head:match("^user_(.*)_account_(.+)$")
  if hash then
    claude.user_hash = hash
    claude.account_uuid = account
  end
  return session
end

return {
  request = function(req)
    local claude = {}
    local metadata = req:field("metadata")
    local session = type(metadata) == "table" and from_user_id(metadata.user_id, claude) or nil
    session = session or req.client_headers["x-claude-code-session-id"]
    if session and session ~= "" then
      req.session_id = session
    end
    if next(claude) then req.ctx.claude = claude end
  end,
}
