-- hooks/extract_session_id.lua: finds Claude Code's session id and sets req.session_id (it
-- appears in the request log). Sources, first found wins:
--   metadata.user_id as a JSON string {"device_id":..,"account_uuid":..,"session_id":..}
--   the legacy metadata.user_id "user_<hash>_account_<uuid>_session_<uuid>"
--   the X-Claude-Code-Session-Id header
-- The other parts go to req.ctx.claude (device_id, account_uuid, user_hash). The parsing is
-- ccproxy.claude's, shared with the session rule.
local claude = require("ccproxy.claude")

return {
  request = function(req)
    local session, _, parts = claude.session_id(req)
    if session then
      req.session_id = session
    end
    if next(parts) then req.ctx.claude = parts end
  end,
}
