-- rules/image.lua: matches when the conversation carries an image: an {"type": "image"} block
-- in any message's content, including inside a tool_result's content (what Claude Code's Read
-- tool returns for a picture). With last_message_only, only the newest user message counts,
-- so a conversation that once had an image goes back to the usual route afterwards.
local function has_image(content, depth)
  if type(content) ~= "table" or depth > 4 then return false end
  for _, block in ipairs(content) do
    if type(block) == "table" then
      if block.type == "image" then return true end
      if block.type == "tool_result" and has_image(block.content, depth + 1) then
        return true
      end
    end
  end
  return false
end

return {
  params = { last_message_only = false },
  match = function(req, params)
    local messages = req:field("messages")
    if type(messages) ~= "table" then return false end
    if params.last_message_only then
      for i = #messages, 1, -1 do
        local m = messages[i]
        if type(m) == "table" and m.role == "user" then
          return has_image(m.content, 1)
        end
      end
      return false
    end
    for _, m in ipairs(messages) do
      if type(m) == "table" and has_image(m.content, 1) then return true end
    end
    return false
  end,
}
