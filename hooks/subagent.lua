-- hooks/subagent.lua: lets a Claude Code agent definition choose its model. An agent whose
-- system prompt (or first user message) carries
--     <CCR-SUBAGENT-MODEL>provider,model</CCR-SUBAGENT-MODEL>
-- gets req.ctx.route = "provider/model" ("model" alone, a config.yaml model_name, when there
-- is no comma) for model_router, and req.ctx.subagent (the same) for the `subagent` rule; the
-- tag, with the blank line around it, is removed from the body so it never goes upstream.
-- Only the edited member (system or messages) is re-encoded; the rest of the body goes
-- upstream byte for byte. Place it before rule_evaluator (the rule reads what it found) and
-- model_router (which routes there).
local function trim(s)
  return (s:gsub("^%s+", ""):gsub("%s+$", ""))
end

-- `before` .. `after` without the tag that stood between them. A tag on a line of its own
-- takes its line, and a blank line after it when a blank line (or the start of the text) is
-- before it, so no double blank line is left; inside a line it takes one space.
local function join(before, after)
  local b = before:gsub("[ \t]+$", "")
  local a = after:gsub("^[ \t]+", "")
  local line_start = b == "" or b:sub(-1) == "\n"
  local line_end = a == "" or a:match("^\r?\n") ~= nil
  if not (line_start and line_end) then
    if before:match("[ \t]$") and after:match("^[ \t]") then
      return before .. after:sub(2)
    end
    return before .. after
  end
  a = a:gsub("^\r?\n", "", 1)                     -- the end of the tag's line
  if b == "" then return (a:gsub("^[\r\n]+", "")) end
  if a == "" then return (b:gsub("[\r\n]+$", "")) end
  local blank_before = b:match("^\r?\n$") or b:match("\n\r?\n$")
  if blank_before then a = a:gsub("^\r?\n", "", 1) end
  return b .. a
end

-- Removes every <tag>...</tag> of `text`. Returns the new text and the first tag's value, or
-- nil when `text` has no complete tag.
local function strip(text, open, close)
  local value
  while true do
    local i, j = text:find(open, 1, true)
    if not i then break end
    local k, l = text:find(close, j + 1, true)
    if not k then break end
    if value == nil then value = text:sub(j + 1, k - 1) end
    text = join(text:sub(1, i - 1), text:sub(l + 1))
  end
  return text, value
end

local function has_tag(content, open)
  if type(content) == "string" then return content:find(open, 1, true) ~= nil end
  if type(content) ~= "table" then return false end
  for _, block in ipairs(content) do
    if type(block) == "table" and block.type == "text" and type(block.text) == "string"
        and block.text:find(open, 1, true) then
      return true
    end
  end
  return false
end

-- Strips the tag from a content value (a string or a list of blocks) in place where it can.
-- Returns the new value (nil: remove it; a string may become ""), whether it changed and the
-- first tag's value.
local function strip_content(content, open, close)
  if type(content) == "string" then
    local text, value = strip(content, open, close)
    return text, value ~= nil, value
  end
  local first, changed = nil, false
  local i = 1
  while i <= #content do
    local block = content[i]
    if type(block) == "table" and block.type == "text" and type(block.text) == "string" then
      local text, value = strip(block.text, open, close)
      if value ~= nil then
        changed = true
        if first == nil then first = value end
        if trim(text) == "" and #content > 1 then
          table.remove(content, i) -- an empty text block is refused upstream
          i = i - 1
        else
          block.text = text
        end
      end
    end
    i = i + 1
  end
  return content, changed, first
end

local function first_user(messages)
  if type(messages) ~= "table" then return nil end
  for i, m in ipairs(messages) do
    if type(m) == "table" and m.role == "user" then return i, m end
  end
  return nil
end

-- "provider,model" -> "provider/model"; "model" -> "model"; nil for anything else.
local function target_of(value)
  value = trim(value)
  local provider, model = value:match("^([^,]*),(.*)$")
  if provider then
    provider, model = trim(provider), trim(model)
    if provider == "" or model == "" or provider:find("[/%s]") then return nil end
    return provider .. "/" .. model
  end
  if value == "" or value:find("%s") then return nil end
  return value
end

local function check(params)
  if not params.tag:match("^[%w_%-]+$") then
    return false, "tag must be letters, digits, '_' or '-' (written without < >), got '"
      .. params.tag .. "'"
  end
  return true
end

return {
  params = { tag = "CCR-SUBAGENT-MODEL" },
  check = check,
  request = function(req, params)
    if req.ctx.subagent then return end -- this request was seen before
    local open, close = "<" .. params.tag .. ">", "</" .. params.tag .. ">"
    -- Cheap looks first: most requests carry no tag, and req.body decodes everything.
    local in_system = has_tag(req:field("system"), open)
    local idx, msg = first_user(req:field("messages"))
    local in_message = msg ~= nil and has_tag(msg.content, open)
    if not in_system and not in_message then return end

    local body = req.body
    local value
    if in_system then
      local system, changed, v = strip_content(body.system, open, close)
      if changed then
        value = v
        if system == "" or (type(system) == "table" and #system == 1
            and type(system[1]) == "table" and system[1].type == "text"
            and trim(system[1].text) == "") then
          system = nil
        end
        body.system = system
      end
    end
    if in_message then
      local m = body.messages[idx]
      local content, changed, v = strip_content(m.content, open, close)
      if changed then
        if value == nil then value = v end
        m.content = content
      end
    end
    if value == nil then return end -- an opening tag without its closing one
    local target = target_of(value)
    if not target then
      req:log("warn", string.format("subagent: <%s>%s</%s> is not \"provider,model\" or a "
        .. "model name; the tag was removed and the request is routed as usual", params.tag,
        value, params.tag))
      return
    end
    req.ctx.route = target
    req.ctx.subagent = target
  end,
}
