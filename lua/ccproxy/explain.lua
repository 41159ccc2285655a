-- ccproxy.explain: the script half of `ccproxy explain`. The C side has built the pipeline
-- exactly as the server does; this builds the request from a captured body and headers (as
-- the server builds one), runs the request stage with runtime.run itself, watching what each
-- hook changes through runtime.run's observer, finishes the request (routing it when no hook
-- did) and prints the whole story: the request, every rule's verdict, the label, each hook's
-- edits, the deployment and the upstream request with secrets redacted (ccproxy.redact).
-- Nothing is sent anywhere.
local core = require("ccproxy.core")
local runtime = require("ccproxy.runtime")
local redact = require("ccproxy.redact")
local json = core.json

local M = {}

local PATHS = { ["/v1/messages"] = true, ["/v1/messages/count_tokens"] = true }
local SMALL = 120 -- body member values up to this many bytes of JSON are shown

local first_line = runtime.first_line

local function orjnull(v)
  if v == nil then return json.null end
  return v
end

local function list(t)
  return json.array(t or {})
end

-- --- headers files ----------------------------------------------------------------------

-- A header list {{name, value}, ...} and the request line's {path, query} when the file has
-- them, from a capture (header_list), a {name: value} object, or "Name: value" lines (curl
-- style; `-H 'Name: value'` and a request line "POST /v1/messages?beta=true HTTP/1.1" too).
function M.parse_headers(text, name)
  local headers, meta = {}, {}
  local trimmed = text:match("^%s*(.-)%s*$")
  local first = trimmed:sub(1, 1)
  if first == "{" or first == "[" then
    local v, err = json.decode(trimmed)
    if type(v) ~= "table" then
      return nil, string.format("%s: not valid JSON (%s); give a capture with header_list, "
        .. "a {\"name\": \"value\"} object or \"Name: value\" lines", name, tostring(err))
    end
    local pairs_list = v.header_list or (first == "[" and v) or nil
    if pairs_list then
      if type(pairs_list) ~= "table" then
        return nil, name .. ": header_list must be a list of [name, value] pairs"
      end
      for i, pair in ipairs(pairs_list) do
        if type(pair) ~= "table" or type(pair[1]) ~= "string" or pair[2] == nil
            or type(pair[2]) == "table" then
          return nil, string.format("%s: header %d is not a [name, value] pair of strings",
            name, i)
        end
        headers[#headers + 1] = { pair[1], tostring(pair[2]) }
      end
      if type(v.path) == "string" then meta.path = v.path end
      if type(v.query) == "string" then meta.query = v.query end
    else
      local names = {}
      for k in pairs(v) do names[#names + 1] = k end
      table.sort(names)
      for _, k in ipairs(names) do
        local value = v[k]
        if type(value) == "table" or value == json.null then
          return nil, string.format("%s: the value of header %s must be a string", name, k)
        end
        headers[#headers + 1] = { k, tostring(value) }
      end
    end
    return headers, meta
  end
  local n = 0
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    line = line:gsub("\r$", ""):match("^%s*(.-)%s*\\?$")
    line = line:gsub("^%-H%s+", ""):gsub("^%-%-header%s+", "")
    local q = line:sub(1, 1)
    if (q == "'" or q == '"') and line:sub(-1) == q and #line >= 2 then
      line = line:sub(2, -2)
    end
    if line ~= "" and not line:match("^#") then
      local target = line:match("^%u+%s+(/%S*)%s+HTTP/%d")
      if target then
        meta.path, meta.query = target:match("^([^?]*)%??(.*)$")
        if meta.query == "" then meta.query = nil end
      else
        local hname, value = line:match("^([^:%s]+):%s*(.-)$")
        if not hname then
          return nil, string.format("%s:%d: expected a header line \"Name: value\", got %q",
            name, n, line)
        end
        headers[#headers + 1] = { hname, value }
      end
    end
  end
  return headers, meta
end

-- --- secrets ----------------------------------------------------------------------------

-- What hooks get for an oat_sources token: the commands are not run here.
local STAND_IN = "(oat_sources token for %s)"

local function shown_value(name, value)
  if value:find("(oat_sources token for ", 1, true) then return value end
  return redact.header(name, value)
end

-- --- the request summary ----------------------------------------------------------------

local function session_of(req)
  local metadata = req:field("metadata")
  local user_id = type(metadata) == "table" and metadata.user_id
  if type(user_id) == "string" then
    if user_id:sub(1, 1) == "{" then
      local obj = json.decode(user_id)
      if type(obj) == "table" and type(obj.session_id) == "string" and obj.session_id ~= "" then
        return obj.session_id
      end
    else
      local s = user_id:match("_session_(.+)$")
      if s then return s end
    end
  end
  return req.client_headers["x-claude-code-session-id"]
end

local function thinking_of(req)
  local t = req:field("thinking")
  if type(t) ~= "table" then return nil end
  local oc = req:field("output_config")
  return {
    type = orjnull(type(t.type) == "string" and t.type or nil),
    budget_tokens = orjnull(tonumber(t.budget_tokens)),
    effort = orjnull(type(oc) == "table" and type(oc.effort) == "string" and oc.effort or nil),
  }
end

local function tools_of(req)
  local names = {}
  local tools = req:field("tools")
  if type(tools) == "table" then
    for _, tool in ipairs(tools) do
      if type(tool) == "table" then
        local n = tool.name
        if type(n) ~= "string" and type(tool["function"]) == "table" then
          n = tool["function"].name
        end
        if type(tool.type) == "string" and tool.type ~= "custom" and tool.type ~= "function" then
          n = (type(n) == "string" and n .. " " or "") .. "(" .. tool.type .. ")"
        end
        names[#names + 1] = type(n) == "string" and n or "?"
      end
    end
  end
  return names
end

local function summary(req, body_bytes)
  return {
    method = req.method,
    path = req.path,
    query = orjnull(req.query),
    endpoint = req.endpoint,
    model = orjnull(req.requested_model),
    stream = req.stream,
    tokens = req:tokens(),
    thinking = orjnull(thinking_of(req)),
    tools = list(tools_of(req)),
    session_id = orjnull(session_of(req)),
    body_bytes = body_bytes,
  }
end

-- --- watching the hooks -----------------------------------------------------------------

-- Each top-level member of a decoded body as JSON text.
local function members_text(body)
  local out = {}
  if type(body) == "table" then
    for k, v in pairs(body) do
      if type(k) == "string" then out[k] = json.encode(v) or "?" end
    end
  end
  return out
end

-- Changed, added and removed members between two members_text maps ("model" is reported
-- with the model, not here).
local function member_changes(before, after, skip)
  local names, seen = {}, {}
  for k in pairs(before) do
    if not seen[k] then names[#names + 1], seen[k] = k, true end
  end
  for k in pairs(after) do
    if not seen[k] then names[#names + 1], seen[k] = k, true end
  end
  table.sort(names)
  local out = {}
  for _, k in ipairs(names) do
    local a, b = before[k], after[k]
    if k ~= skip and a ~= b then
      local c = { name = k, action = a == nil and "added" or b == nil and "removed" or "changed" }
      if b ~= nil then
        c.bytes = #b
        if #b <= SMALL then c.value = json.decode(b) end
      end
      out[#out + 1] = c
    end
  end
  return out
end

local function header_map(l)
  local map, order = {}, {}
  for _, pair in ipairs(l) do
    local k = pair[1]:lower()
    if map[k] then
      map[k].value = map[k].value .. ", " .. pair[2]
    else
      map[k] = { name = pair[1], value = pair[2] }
      order[#order + 1] = k
    end
  end
  return map, order
end

local function header_changes(before, after)
  local bm, border = header_map(before)
  local am, aorder = header_map(after)
  local out = {}
  for _, k in ipairs(border) do
    local b, a = bm[k], am[k]
    if not a then
      out[#out + 1] = { name = b.name, action = "removed",
                        from = shown_value(b.name, b.value) }
    elseif a.value ~= b.value then
      out[#out + 1] = { name = a.name, action = "changed", from = shown_value(b.name, b.value),
                        value = shown_value(a.name, a.value) }
    end
  end
  for _, k in ipairs(aorder) do
    if not bm[k] then
      local a = am[k]
      out[#out + 1] = { name = a.name, action = "added", value = shown_value(a.name, a.value) }
    end
  end
  return out
end

local function route_of(d)
  if not d then return nil end
  return { model_name = d.model_name, via = orjnull(d.via), model = orjnull(d.model),
           provider = orjnull(d.provider), passthrough = d.passthrough }
end

local function snapshot(req)
  return { headers = req.headers(), model = req.model, label = req.label, rule = req.rule,
           session_id = req.session_id, route = route_of(req.deployment) }
end

local function same_route(a, b)
  if a == nil or b == nil then return a == b end
  return a.model_name == b.model_name and a.via == b.via and a.model == b.model
    and a.passthrough == b.passthrough
end

-- The edits between two snapshots, plus the tags and body changes recorded meanwhile.
local function edits_between(before, after, tags, body)
  local e = {}
  local h = header_changes(before.headers, after.headers)
  if #h > 0 then e.headers = list(h) end
  for _, f in ipairs({ "model", "label", "rule", "session_id" }) do
    if before[f] ~= after[f] then
      e[f] = { from = orjnull(before[f]), to = orjnull(after[f]) }
    end
  end
  if not same_route(before.route, after.route) then e.route = orjnull(after.route) end
  if #tags > 0 then e.tags = list(tags) end
  if body and #body > 0 then e.body = list(body) end
  return e
end

-- A deep copy of a plain table (req.ctx), to put it back after the rules explain runs on
-- top of the server's.
local function copy(v, seen)
  if type(v) ~= "table" then return v end
  seen = seen or {}
  if seen[v] then return seen[v] end
  local c = {}
  seen[v] = c
  for k, x in pairs(v) do c[copy(k, seen)] = copy(x, seen) end
  return setmetatable(c, getmetatable(v))
end

local function restore(t, saved)
  for k in pairs(t) do t[k] = nil end
  for k, v in pairs(saved) do t[k] = v end
end

local function verdict(r, ok, res, kind, reached)
  local v = { name = r.name, module = r.module, path = r.path, reached = reached,
              chosen = false }
  if not ok then
    v.verdict, v.error, v.kind = "error", first_line(res), kind
  elseif res then
    v.verdict = "matched"
  else
    v.verdict = "no match"
  end
  return v
end

-- The rules the server did not reach (it stops at the first match), run on the request as
-- it is now for their verdicts; req.ctx is put back afterwards, so nothing they do changes
-- what the hooks after them see.
local function unreached(req, out, from)
  local rules = runtime.loaded()
  local ctx = req.ctx
  local saved = copy(ctx)
  for i = from, #rules do
    local ok, res, kind = runtime.match_rule(rules[i], req)
    out[i] = verdict(rules[i], ok, res, kind, false)
  end
  restore(ctx, saved)
end

-- All rules' verdicts on `req` when no hook ran them.
local function verdicts_of(req)
  local out = {}
  unreached(req, out, 1)
  for _, v in ipairs(out) do v.reached = true end
  for _, v in ipairs(out) do
    if v.verdict == "matched" then v.chosen = true break end
  end
  return out
end

local function tag_map(list)
  local map = {}
  for _, pair in ipairs(list or {}) do map[pair[1]] = pair[2] end
  return map
end

-- The tags a hook added, changed or removed, from the request's tags before and after it.
local function tag_changes(before, after)
  local out, names = {}, {}
  for k in pairs(before) do names[#names + 1] = k end
  for k in pairs(after) do if before[k] == nil then names[#names + 1] = k end end
  table.sort(names)
  for _, k in ipairs(names) do
    if after[k] == nil then
      out[#out + 1] = { name = k, value = json.null }
    elseif after[k] ~= before[k] then
      out[#out + 1] = { name = k, value = after[k] }
    end
  end
  return out
end

-- Runs the request stage with runtime.run, recording through its observer what each hook
-- changed, the rules' verdicts and the token requests.
local function run_hooks(req, trace, body_text)
  local body_before, current, before, tags_before, calls_before
  local watch = {
    log = function() end, -- explain reports errors in its own output
    hook = function(h, r)
      current = { module = h.module, path = h.path, failed = false, error = json.null,
                  kind = json.null, response_stages = list() }
      for _, stage in ipairs({ "response", "event", "done", "retry" }) do
        if h.mod[stage] then current.response_stages[#current.response_stages + 1] = stage end
      end
      trace.hooks[#trace.hooks + 1] = current
      before = snapshot(r)
      tags_before = tag_map(core.peek(r).tags)
      calls_before = #(core.oauth_calls(r) or {})
    end,
    hook_done = function(h, r, ok, err, kind)
      if not ok then
        current.error = first_line(err)
        current.kind = kind
        current.failed = h.fail_on_error and true or false
      end
      local seen = core.peek(r)
      local body
      if seen.body_decoded then
        -- The body's members before the hook: the client's, until a hook decoded it.
        body_before = body_before or members_text(json.decode(body_text))
        local now = members_text(r.body)
        body = member_changes(body_before, now, "model")
        body_before = now
      end
      current.edits = edits_between(before, snapshot(r), tag_changes(tags_before,
        tag_map(seen.tags)), body)
      local calls = core.oauth_calls(r) or {}
      for i = calls_before + 1, #calls do
        trace.oauth[#trace.oauth + 1] = { hook = h.module, provider = calls[i].provider,
                                          got = calls[i].got }
      end
      if current.failed then trace.failed = current end
    end,
    rule = function(r, _, ok, res, kind)
      local list_ = trace.current_rules
      list_[#list_ + 1] = verdict(r, ok, res, kind, true)
    end,
    classified = function(r, label)
      trace.classify_calls = trace.classify_calls + 1
      local got = trace.current_rules
      trace.current_rules = {}
      if trace.verdicts then return end
      for _, v in ipairs(got) do
        if label ~= "default" and v.name == label and v.verdict == "matched" then
          v.chosen = true
        end
      end
      unreached(r, got, #got + 1)
      trace.verdicts = got
    end,
  }
  trace.current_rules = {}
  runtime.run(req, watch)
end

-- --- the upstream request ---------------------------------------------------------------

local SERVER_SET = { host = true, ["content-length"] = true, ["transfer-encoding"] = true,
                     connection = true }

-- The request as the upstream exchange would send it (core.finish builds it with the server's
-- own code: URL, credentials, and the translation for another provider).
local function upstream_of(req_info, finished, body_text)
  local headers = { list({ "Host", finished.upstream_host }) }
  for _, pair in ipairs(finished.upstream_headers) do
    if not SERVER_SET[pair[1]:lower()] then
      headers[#headers + 1] = list({ pair[1], shown_value(pair[1], pair[2]) })
    end
  end
  local sent = finished.upstream_body
  headers[#headers + 1] = list({ "Content-Length", tostring(#sent) })
  headers[#headers + 1] = list({ "Connection", "keep-alive" })
  local d = finished.deployment
  local translated = d.provider ~= nil and d.provider ~= "anthropic"
  local body = { changed = finished.body_changed or translated, bytes = #sent,
                 original_bytes = #body_text, translated = translated, members = list() }
  if translated then
    -- another API's body: the names of its top-level members are what there is to compare
    local ok, decoded = pcall(json.decode, sent)
    local names = {}
    if ok and type(decoded) == "table" then
      for k in pairs(decoded) do names[#names + 1] = tostring(k) end
      table.sort(names)
    end
    body.keys = list(names)
  elseif finished.body_changed then
    local before = members_text(json.decode(body_text))
    local after = members_text(json.decode(sent))
    body.members = list(member_changes(before, after, nil))
  end
  return { method = req_info.method, url = finished.upstream_url, headers = list(headers),
           body = body }
end

-- --- text output ------------------------------------------------------------------------

local function str(v)
  if v == nil or v == json.null then return "(none)" end
  return tostring(v)
end

local function value_text(c)
  if c.value ~= nil then return json.encode(c.value) end
  if c.bytes then return string.format("(%d bytes)", c.bytes) end
  return ""
end

local function print_edits(w, e, indent)
  local any = false
  local function line(label, text)
    any = true
    w(string.format("%s%-11s %s\n", indent, label, text))
  end
  for _, f in ipairs({ "model", "label", "rule", "session_id" }) do
    if e[f] then line(f, str(e[f].from) .. " -> " .. str(e[f].to)) end
  end
  if e.route then
    if e.route == json.null then
      line("route", "(none)")
    else
      local r = e.route
      line("route", string.format("%s (model %s%s)", r.model_name, str(r.model),
        r.passthrough and ", passthrough" or ""))
    end
  end
  for _, h in ipairs(e.headers or {}) do
    if h.action == "added" then
      line("header", string.format("+ %s: %s", h.name, h.value))
    elseif h.action == "removed" then
      line("header", string.format("- %s (was %s)", h.name, h.from))
    else
      line("header", string.format("~ %s: %s -> %s", h.name, h.from, h.value))
    end
  end
  for _, t in ipairs(e.tags or {}) do
    line("tag", t.value == json.null and t.name .. " removed" or t.name .. "=" .. t.value)
  end
  for _, b in ipairs(e.body or {}) do
    line("body", string.format("%s %s %s", b.action, b.name, value_text(b)))
  end
  if not any then w(indent .. "no edits\n") end
end

local function print_text(o)
  local out = {}
  local function w(s) out[#out + 1] = s end
  local r = o.request
  w(string.format("request     %s %s%s\n", r.method, r.path,
    r.query ~= json.null and "?" .. r.query or ""))
  w(string.format("  model     %s\n", str(r.model)))
  w(string.format("  stream    %s\n", tostring(r.stream)))
  w(string.format("  tokens    ~%d (estimate)\n", r.tokens))
  local t = r.thinking
  if t == json.null then
    w("  thinking  none\n")
  else
    local parts = { str(t.type) }
    if t.budget_tokens ~= json.null then parts[#parts + 1] = "budget " .. t.budget_tokens end
    if t.effort ~= json.null then parts[#parts + 1] = "effort " .. t.effort end
    w("  thinking  " .. table.concat(parts, ", ") .. "\n")
  end
  if #r.tools == 0 then
    w("  tools     none\n")
  else
    w(string.format("  tools     %d: %s\n", #r.tools, table.concat(r.tools, ", ")))
  end
  w(string.format("  session   %s\n", str(r.session_id)))
  w(string.format("  body      %d bytes\n", r.body_bytes))

  w("\nrules (config order; the first match names the label)\n")
  if #o.rules == 0 then w("  (none: every request is labelled default)\n") end
  local wn, wm = 4, 4
  for _, v in ipairs(o.rules) do
    wn, wm = math.max(wn, #v.name), math.max(wm, #v.module)
  end
  for i, v in ipairs(o.rules) do
    local verdict = v.verdict
    if v.verdict == "error" then
      verdict = "error" .. (v.kind ~= "error" and " (" .. v.kind .. ")" or "") .. ": " .. v.error
        .. " (counts as no match)"
    elseif v.chosen then
      verdict = "matched -> label " .. v.name
    end
    if not v.reached and o.rules_ran then verdict = verdict .. " (not reached: an earlier rule "
      .. "matched)" end
    w(string.format("  %d. %-" .. wn .. "s  %-" .. wm .. "s  %s\n", i, v.name, v.module, verdict))
  end
  if #o.rules > 0 and not o.rules_ran then
    w("  (no hook ran the rules: add rule_evaluator to ccproxy.hooks; verdicts shown on the "
      .. "request after the hooks)\n")
  end

  if o.label ~= json.null then
    w(string.format("\nlabel       %s%s\n", o.label,
      o.rule ~= json.null and " (rule " .. o.rule .. ")" or " (no rule matched)"))
  else
    w("\nlabel       (none: no hook set one)\n")
  end

  w("\nhooks (in order)\n")
  if #o.hooks == 0 then w("  (none)\n") end
  for i, h in ipairs(o.hooks) do
    w(string.format("  %d. %s\n", i, h.module))
    if h.error ~= json.null then
      w(string.format("       error     %s%s: %s\n", h.kind ~= "error" and "(" .. h.kind .. ") "
        or "", h.failed and "on_error: fail, the request fails" or "skipped, the request goes on",
        h.error))
    end
    print_edits(w, h.edits, "       ")
    if #h.response_stages > 0 then
      w(string.format("       (its %s stage%s run%s on the response, which explain does not "
        .. "fetch)\n", table.concat(h.response_stages, ", "), #h.response_stages > 1 and "s" or "",
        #h.response_stages > 1 and "" or "s"))
    end
  end

  w("\ndeployment\n")
  local d = o.deployment
  if d == json.null then
    w("  (none)\n")
  else
    w(string.format("  model_name  %s\n  provider    %s\n  api_base    %s\n  model       %s\n"
      .. "  via         %s\n  passthrough %s\n  credentials %s\n", d.model_name, str(d.provider),
      str(d.api_base), str(d.model), str(d.via), d.passthrough and "yes" or "no",
      d.has_api_key and "the deployment's api_key" or "the client's own"))
  end
  if o.plan ~= json.null and #o.plan > 0 then
    local single = #o.plan == 1 and #o.plan[1].members == 1 and o.plan[1].tries == 1
    if not single then
      local by = {
        ["simple-shuffle"] = "weight",
        ["least-busy"] = "fewest attempts in progress",
        ["latency-based-routing"] = "lowest latency",
        ["usage-based-routing"] = "fewest tokens this minute, under rpm/tpm",
      }
      local strategy = o.plan[1].strategy or "simple-shuffle"
      w(string.format("\nattempts (routing_strategy %s: each picks a member by order, then by %s;\n"
        .. "  the upstream request below is shown for the routed entry)\n", strategy,
        by[strategy] or strategy))
      for i, g in ipairs(o.plan) do
        w(string.format("  %d. group %s, up to %d attempt%s%s\n", i, g.group, g.tries,
          g.tries == 1 and "" or "s", i > 1 and " (fallback)" or ""))
        for _, m in ipairs(g.members) do
          local limits = ""
          if (m.rpm or 0) > 0 then limits = limits .. "  rpm " .. m.rpm end
          if (m.tpm or 0) > 0 then limits = limits .. "  tpm " .. m.tpm end
          if (m.max_parallel or 0) > 0 then limits = limits .. "  max_parallel " .. m.max_parallel end
          w(string.format("       %s  %s  %s  order %s  weight %s%s\n", m.model_name, m.model,
            m.api_base, m.order > 0 and tostring(m.order) or "-", tostring(m.weight), limits))
        end
      end
    end
  end

  if o.error ~= json.null then
    w("\nnot sent: " .. o.error .. "\n")
  end
  local u = o.upstream
  if u ~= json.null then
    w("\nupstream request (not sent)\n")
    w(string.format("  %s %s\n", u.method, u.url))
    for _, pair in ipairs(u.headers) do
      w(string.format("  %s: %s\n", pair[1], pair[2]))
    end
    local b = u.body
    if b.translated then
      w(string.format("  body translated for the provider's API (%d -> %d bytes): %s\n",
        b.original_bytes, b.bytes, table.concat(b.keys, ", ")))
    elseif not b.changed then
      w(string.format("  body unchanged (%d bytes)\n", b.bytes))
    else
      w(string.format("  body changed (%d -> %d bytes):\n", b.original_bytes, b.bytes))
      for _, c in ipairs(b.members) do
        w(string.format("    %s %s %s\n", c.action, c.name, value_text(c)))
      end
    end
  end
  for _, note in ipairs(o.notes) do
    w("\nnote: " .. note .. "\n")
  end
  io.write(table.concat(out))
end

-- --- JSON output ------------------------------------------------------------------------

local ARRAY_MT, OBJECT_MT = getmetatable(json.array()), getmetatable(json.object())

local function is_array(t)
  local mt = getmetatable(t)
  if mt == ARRAY_MT then return true end
  if mt == OBJECT_MT then return false end
  return t[1] ~= nil
end

-- Indented JSON, object keys sorted.
local function pretty(v, indent, out)
  if type(v) ~= "table" or v == json.null then
    out[#out + 1] = json.encode(v) or "null"
    return
  end
  local inner = indent .. "  "
  if is_array(v) then
    if #v == 0 then
      out[#out + 1] = "[]"
      return
    end
    out[#out + 1] = "[\n"
    for i, x in ipairs(v) do
      out[#out + 1] = inner
      pretty(x, inner, out)
      out[#out + 1] = i < #v and ",\n" or "\n"
    end
    out[#out + 1] = indent .. "]"
    return
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  if #keys == 0 then
    out[#out + 1] = "{}"
    return
  end
  out[#out + 1] = "{\n"
  for i, k in ipairs(keys) do
    out[#out + 1] = inner .. json.encode(k) .. ": "
    pretty(v[k], inner, out)
    out[#out + 1] = i < #keys and ",\n" or "\n"
  end
  out[#out + 1] = indent .. "}"
end

function M.pretty(v)
  local out = {}
  pretty(v, "", out)
  return table.concat(out)
end

-- --- the command ------------------------------------------------------------------------

local function fail_usage(msg)
  io.stderr:write("ccproxy explain: ", msg, "\n")
  return 1
end

-- opts: body, body_name, headers_text, headers_name, path, query, json, config_dir.
-- Returns the exit code: 0, or 1 when the request cannot be built, fails or cannot be routed.
function M.run(opts)
  local headers, meta = {}, {}
  if opts.headers_text then
    local h, m = M.parse_headers(opts.headers_text, opts.headers_name or "headers")
    if not h then return fail_usage(m) end
    headers, meta = h, m
  else
    headers = { { "content-type", "application/json" } }
  end
  local path = opts.path or meta.path or "/v1/messages"
  if not PATHS[path] then
    return fail_usage(string.format("%s names the path %s; ccproxy proxies /v1/messages and "
      .. "/v1/messages/count_tokens (choose one with --path)", opts.headers_name or "headers",
      path))
  end
  local query = opts.query or meta.query
  if query == "" then query = nil end
  -- Hooks asking for an oat_sources token get a stand-in: explain runs no commands.
  local tokens = {}
  local spec = runtime.spec() or {}
  for provider, src in pairs(spec.oat_sources or {}) do
    tokens[provider] = { (provider == "anthropic" and "sk-ant-oat01-" or "")
      .. STAND_IN:format(provider), src.user_agent }
  end
  local ok, req = pcall(core.request, { method = "POST", path = path, query = query,
    headers = headers, body = opts.body, config_dir = opts.config_dir, oauth_tokens = tokens })
  if not ok then
    return fail_usage(string.format("%s: %s (the server answers 400)",
      opts.body_name or "body", first_line(req)))
  end

  local o = { request = summary(req, #opts.body), notes = list(), error = json.null,
              deployment = json.null, upstream = json.null, plan = json.null,
              tags = json.object() }
  local trace = { classify_calls = 0, hooks = {}, oauth = {} }
  run_hooks(req, trace, opts.body)
  for _, t in ipairs(trace.oauth) do
    o.notes[#o.notes + 1] = t.got and string.format("hook %s asked for the %s oat_sources "
      .. "token; explain runs no oat_sources command, so it got the stand-in %q", t.hook,
      t.provider, STAND_IN:format(t.provider))
      or string.format("hook %s asked for the %s oat_sources token and got none: "
      .. "ccproxy.oat_sources has no entry for %s", t.hook, t.provider, t.provider)
  end
  o.rules_ran = trace.classify_calls > 0
  if not trace.verdicts then trace.verdicts = verdicts_of(req) end
  if trace.classify_calls > 1 then
    o.notes[#o.notes + 1] = string.format("the rules ran %d times; the verdicts shown are the "
      .. "first run's", trace.classify_calls)
  end
  o.rules = list()
  for i, v in ipairs(trace.verdicts) do
    o.rules[i] = { name = v.name, module = v.module, verdict = v.verdict,
                   error = orjnull(v.error), kind = orjnull(v.kind), chosen = v.chosen,
                   reached = v.reached }
  end
  o.hooks = list(trace.hooks)
  o.label, o.rule = orjnull(req.label), orjnull(req.rule)
  o.session_id = orjnull(req.session_id)

  local code = 0
  if trace.failed then
    o.routed = false
    o.error = string.format("hook '%s' failed and has on_error: fail, so the server answers "
      .. "500: %s", trace.failed.module, trace.failed.error)
    code = 1
  else
    local fok, finished = pcall(core.finish, req)
    if not fok then
      o.routed = false
      o.error = first_line(finished):gsub("^finish: ", "")
        .. " (the server answers 404 and sends nothing)"
      code = 1
    else
      o.routed = true
      local d = finished.deployment
      o.deployment = { model_name = d.model_name, provider = orjnull(d.provider),
                       api_base = orjnull(d.api_base), model = orjnull(d.model),
                       via = orjnull(d.via), passthrough = d.passthrough,
                       has_api_key = d.has_api_key }
      o.label, o.rule = orjnull(finished.label), orjnull(finished.rule)
      o.session_id = orjnull(finished.session_id)
      o.tags = finished.tags
      if finished.upstream_error then
        o.routed = false
        o.error = finished.upstream_error .. " (the server answers 400 and sends nothing)"
        code = 1
      elseif finished.upstream_url then
        o.upstream = upstream_of(o.request, finished, opts.body)
        o.plan = list(finished.upstream_plan or {})
      else
        o.notes[#o.notes + 1] = string.format("deployment %s uses provider '%s', for which "
          .. "ccproxy answers this request itself (nothing goes upstream)", d.model_name,
          tostring(d.provider))
      end
    end
  end
  if opts.json then
    io.write(M.pretty(o), "\n")
  else
    print_text(o)
  end
  return code
end

return M
