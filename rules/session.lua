-- rules/session.lua: matches the requests of the Claude Code sessions listed in params.sessions,
-- so the rule's name (the label) pins those sessions to one deployment. The session id is
-- req.session_id when a hook set it, else the one the request carries (metadata.user_id,
-- else the X-Claude-Code-Session-Id header; see ccproxy.claude.session_id). The request log
-- line shows it as session=<id>.
local claude = require("ccproxy.claude")

return {
  params = { sessions = {} },
  check = function(params)
    if #params.sessions == 0 then
      return false, "sessions is empty: list the Claude Code session ids to match, e.g. "
        .. "params: {sessions: [dbb1ba13-71a2-4fc1-8750-82e8aa660fde]}"
    end
    for i, v in ipairs(params.sessions) do
      if type(v) ~= "string" or v == "" then
        return false, string.format("sessions[%d] must be a session id (a string), got %s",
          i, tostring(v))
      end
    end
    return true
  end,
  match = function(req, params)
    local id = req.session_id or claude.session_id(req)
    if not id then return false end
    id = id:lower() -- session ids are UUIDs: letter case does not matter
    for _, s in ipairs(params.sessions) do
      if s:lower() == id then return true end
    end
    return false
  end,
}
