-- spec/lua/request_view_spec.lua: the request view `req` (src/lua/lua_req.c over src/preq.c) as
-- rules and hooks see it: every field and method, header edits, body edits and what goes
-- upstream when the stage ends.
local fx = require("fixtures")
local core = require("ccproxy.core")
local json = core.json

local function with_model(raw, from, to)
  return fx.replace(raw, '"model":"' .. from .. '"', '"model":"' .. to .. '"')
end

describe("request view", function()
  describe("fields", function()
    it("gives the request line, id and endpoint", function()
      local req = fx.request("a_say_hi")
      assert.equal("POST", req.method)
      assert.equal("/v1/messages", req.path)
      assert.equal("beta=true", req.query)
      assert.equal("spec", req.id)
      assert.equal("messages", req.endpoint)
      assert.equal("ccproxy.request POST /v1/messages", tostring(req))
      local ct = fx.request("count_tokens", { n = 5, kind = "count_tokens" })
      assert.equal("/v1/messages/count_tokens", ct.path)
      assert.equal("count_tokens", ct.endpoint)
      local bare = core.request { path = "/v1/messages", body = "{}" }
      assert.is_nil(bare.query)
      assert.equal("POST", bare.method)
    end)

    it("gives the model and stream of the body", function()
      local req = fx.request("e_model_sonnet45")
      assert.equal("claude-sonnet-4-5-20250929", req.model)
      assert.equal("claude-sonnet-4-5-20250929", req.requested_model)
      assert.is_true(req.stream)
      assert.is_false(fx.request("count_tokens", { n = 5, kind = "count_tokens" }).stream)
      assert.is_false(fx.body_request('{"stream": false}').stream)
      assert.is_false(fx.body_request('{"stream": "true"}').stream)
      assert.is_nil(fx.body_request('{"stream": true}').model)
      assert.is_nil(fx.body_request('{"model": 5}').model)
      assert.equal("m\"x", fx.body_request('{"model": "m\\"x"}').model)
      assert.equal("model", fx.body_request('{"mod\\u0065l": "model"}').model)
    end)

    it("returns nil for a field it does not have", function()
      local req = fx.request("a_say_hi")
      assert.is_nil(req.no_such_field)
      assert.is_nil(req.label)
      assert.is_nil(req.rule)
      assert.is_nil(req.session_id)
      assert.is_nil(req.deployment)
    end)

    it("keeps label, rule and session_id as set, nil clearing them", function()
      local req = fx.request("a_say_hi")
      req.label = "think"
      req.rule = "thinking"
      req.session_id = "s-1"
      assert.equal("think", req.label)
      assert.equal("thinking", req.rule)
      assert.equal("s-1", req.session_id)
      req.rule = nil
      assert.is_nil(req.rule)
      local out = core.finish(req)
      assert.equal("think", out.label)
      assert.is_nil(out.rule)
      assert.equal("s-1", out.session_id)
    end)

    it("refuses to set a field scripts may not set, saying what may be", function()
      local req = fx.request("a_say_hi")
      for _, k in ipairs({ "method", "stream", "requested_model", "deployment", "headers", "foo" }) do
        local ok, err = pcall(function() req[k] = "x" end)
        assert.is_false(ok)
        assert.matches("req." .. k .. " cannot be set (settable: model, label, rule, session_id, "
          .. "body; keep your own data in req.ctx)", err, 1, true)
      end
    end)

    it("refuses values of the wrong type, naming the field", function()
      local req = fx.request("a_say_hi")
      local ok, err = pcall(function() req.model = nil end)
      assert.is_false(ok)
      assert.matches("req.model must be a string (a model name), not a nil", err, 1, true)
      ok, err = pcall(function() req.label = {} end)
      assert.is_false(ok)
      assert.matches("req.label must be a string or nil, not a table", err, 1, true)
      ok, err = pcall(function() req.body = "{}" end)
      assert.is_false(ok)
      assert.matches("req.body must be a table (the JSON object to send), not a string", err, 1,
        true)
      assert.equal("claude-opus-5-5", req.model)
    end)

    it("keeps req.ctx, one table for the whole stage", function()
      local req = fx.request("a_say_hi")
      assert.same({}, req.ctx)
      req.ctx.seen = 1
      assert.equal(req.ctx, req.ctx)
      assert.equal(1, req.ctx.seen)
    end)

    it("carries req.ctx from hook to hook", function()
      local run = fx.pipeline { config_dir = fx.config("lua-modules"), hooks = {
        { module = "tag", params = { value = "first" } },
        { module = "tag", params = { value = "second" } } } }
      local req = run(fx.request("a_say_hi"))
      assert.same({ "first", "second" }, req.ctx.tags)
      assert.equal("second", req.headers["x-tag"])
    end)
  end)

  describe("headers", function()
    it("reads the client's end-to-end fields in any case", function()
      local req = fx.request("a_say_hi")
      assert.equal("sk-ant-dummy", req.headers["x-api-key"])
      assert.equal("sk-ant-dummy", req.headers["X-API-KEY"])
      assert.equal("2023-06-01", req.headers["Anthropic-Version"])
      assert.is_nil(req.headers["authorization"])
    end)

    it("leaves out what does not travel upstream, but the client's view keeps it", function()
      local req = fx.request("a_say_hi")
      for _, name in ipairs({ "host", "content-length", "connection" }) do
        assert.is_nil(req.headers[name], name)
        assert.is_string(req.client_headers[name], name)
      end
      assert.equal("127.0.0.1:18110", req.client_headers["HOST"])
    end)

    it("lists them in wire order with req.headers()", function()
      local req = fx.request("a_say_hi")
      local expected = {}
      for _, pair in ipairs(fx.headers("a_say_hi")) do
        local n = pair[1]:lower()
        if n ~= "host" and n ~= "content-length" and n ~= "connection" then
          expected[#expected + 1] = pair
        end
      end
      assert.same(expected, req.headers())
      assert.same(fx.headers("a_say_hi"), req.client_headers())
    end)

    it("sets, replaces and deletes, case-insensitively", function()
      local req = fx.request("a_say_hi")
      req.headers["X-Extra"] = "1"
      req.headers["ACCEPT"] = "text/plain"
      req.headers["X-APP"] = nil
      req.headers["x-not-there"] = nil
      assert.equal("1", req.headers["x-extra"])
      assert.equal("text/plain", req.headers["accept"])
      assert.is_nil(req.headers["x-app"])
      -- the client's view does not change
      assert.equal("application/json", req.client_headers["accept"])
      assert.equal("cli", req.client_headers["x-app"])
      local out = core.finish(req)
      assert.same({ "text/plain", 1 }, { fx.header(out.headers, "accept") })
      assert.same({ "1", 1 }, { fx.header(out.headers, "x-extra") })
      assert.same({ nil, 0 }, { fx.header(out.headers, "x-app") })
      assert.equal("Accept", out.headers[1][1]) -- replaced in place
      assert.same({ "X-Extra", "1" }, out.headers[#out.headers]) -- added at the end
    end)

    it("replaces every copy of a repeated field", function()
      local req = core.request { body = "{}", headers = { { "X-Dup", "1" }, { "x-dup", "2" } } }
      assert.equal("1", req.headers["x-dup"])
      assert.equal(2, #req.headers())
      req.headers["x-dup"] = "3"
      assert.same({ { "X-Dup", "3" } }, req.headers())
    end)

    it("accepts headers as a name -> value table too", function()
      local req = core.request { body = "{}", headers = { ["X-One"] = "1" } }
      assert.equal("1", req.headers["x-one"])
    end)

    it("refuses bad names and values and edits of the client's view", function()
      local req = fx.request("a_say_hi")
      for _, bad in ipairs({ { "bad name", "x" }, { "a:b", "x" }, { "", "x" }, { "x", "a\nb" },
                             { "x", "a\rb" } }) do
        local ok, err = pcall(function() req.headers[bad[1]] = bad[2] end)
        assert.is_false(ok)
        assert.matches("names have no spaces or ':', values no newlines", err, 1, true)
      end
      local ok, err = pcall(function() req.client_headers["x-api-key"] = "k" end)
      assert.is_false(ok)
      assert.matches("req.client_headers is read-only; edit req.headers", err, 1, true)
      assert.same(fx.headers("a_say_hi")[16], { "x-api-key", "sk-ant-dummy" })
      assert.equal("sk-ant-dummy", req.headers["x-api-key"])
    end)
  end)

  describe("body", function()
    it("reads one member with req:field, nil when absent", function()
      local req = fx.request("a_say_hi")
      assert.same({ type = "adaptive", display = "omitted" }, req:field("thinking"))
      assert.equal(128000, req:field("max_tokens"))
      assert.is_true(req:field("stream"))
      assert.is_nil(req:field("temperature"))
      assert.equal(12, #req:field("tools"))
      assert.equal(req:field("tools"), req:field("tools")) -- decoded once
      assert.equal(json.null, fx.body_request('{"a": null}'):field("a"))
    end)

    it("decodes one member for req:field and the whole body only on req.body", function()
      local req = fx.request("a_say_hi")
      local before = req:field("thinking")
      -- a copy for reading: editing it changes nothing upstream
      before.type = "disabled"
      local body = req.body
      assert.equal(body, req.body)
      assert.equal("adaptive", body.thinking.type)
      assert.not_equal(before, body.thinking)
      -- once decoded, req:field reads req.body
      assert.equal(body.thinking, req:field("thinking"))
      assert.equal(body.tools, req:field("tools"))
      local out = core.finish(req)
      assert.is_false(out.body_changed)
    end)

    it("goes upstream untouched when only read", function()
      for _, name in ipairs(fx.messages) do
        local req = fx.request(name)
        local b = req.body
        assert.equal(req.model, b.model)
        assert.is_true(#b.messages >= 1)
        assert.is_table(req:field("metadata"))
        local _ = b.tools[1].input_schema.properties
        b.metadata.user_id = b.metadata.user_id -- same value: no change
        local out = core.finish(req)
        assert.is_false(out.body_changed, name)
        assert.equal(fx.body(name), out.body, name)
      end
    end)

    it("reads edits through req:field once decoded", function()
      local req = fx.request("a_say_hi")
      req.body.thinking = { type = "disabled" }
      assert.same({ type = "disabled" }, req:field("thinking"))
      core.finish(req)
    end)

    it("changes only an edited nested member's bytes, keeping key order", function()
      local raw = fx.body("a_say_hi")
      local req = fx.request("a_say_hi")
      req.body.thinking.display = "summarized"
      local out = core.finish(req)
      assert.is_true(out.body_changed)
      assert.equal(fx.replace(raw, '"thinking":{"type":"adaptive","display":"omitted"}',
        '"thinking":{"type":"adaptive","display":"summarized"}'), out.body)
    end)

    it("re-encodes a deep edit with its neighbours byte for byte", function()
      for _, name in ipairs(fx.messages) do
        local raw = fx.body(name)
        local req = fx.request(name)
        local bash = req.body.tools[2]
        assert.equal("Bash", bash.name)
        local old = json.encode(bash.description)
        bash.description = "run a command"
        local first = req.body.messages[1]
        local old_text = json.encode(first.content[1].text)
        first.content[1].text = "edited"
        local out = core.finish(req)
        local expected = fx.replace(fx.replace(raw, old, '"run a command"'), old_text, '"edited"')
        assert.equal(expected, out.body, name)
      end
    end)

    it("adds and removes top-level members", function()
      local raw = fx.body("a_say_hi")
      local req = fx.request("a_say_hi")
      req.body.temperature = 0.5
      req.body.context_management = nil
      local out = core.finish(req)
      local expected = fx.replace(raw, ',"context_management":{"edits":[{"type":'
        .. '"clear_thinking_20251015","keep":"all"}]}', "")
      expected = expected:sub(1, -2) .. ',"temperature":0.5}'
      assert.equal(expected, out.body)
      assert.is_nil(json.decode(out.body).context_management)
    end)

    it("adds new members in key order, so the same edits give the same bytes", function()
      for _ = 1, 3 do
        local req = fx.body_request('{"model":"m"}')
        for _, k in ipairs({ "zeta", "alpha", "mu", "beta", "omega", "chi" }) do
          req.body[k] = k:len()
        end
        assert.equal('{"model":"m","alpha":5,"beta":4,"chi":3,"mu":2,"omega":5,"zeta":4}',
          core.finish(req).body)
      end
    end)

    it("writes the whole body, client's order first, when too many members change", function()
      local req = fx.body_request('{"model":"m","z":1,"a":2}')
      local expected = '{"model":"m","z":1,"a":3'
      for i = 1, 70 do
        local k = string.format("k%02d", i)
        req.body[k] = i
        expected = expected .. ',"' .. k .. '":' .. i
      end
      req.body.a = 3
      local out = core.finish(req)
      assert.is_true(out.body_changed)
      assert.equal(expected .. "}", out.body)
    end)

    it("keeps null, [] and {} through a round trip", function()
      local raw = '{"model":"m","a":null,"b":[],"c":{},"d":[{}, [], null],"e":{"x":[],"y":{}}}'
      local req = fx.body_request(raw)
      local b = req.body
      assert.equal(json.null, b.a)
      assert.equal(0, #b.b)
      -- an edit next to them in the same member re-encodes it
      b.e.z = json.null
      b.d[4] = 1
      b.f = json.array()
      b.g = json.object()
      b.h = {}
      b.i = json.null
      local out = core.finish(req)
      assert.equal('{"model":"m","a":null,"b":[],"c":{},"d":[{},[],null,1],'
        .. '"e":{"x":[],"y":{},"z":null},"f":[],"g":{},"h":{},"i":null}', out.body)
    end)

    it("writes an unmarked empty table over [] as {}", function()
      local req = fx.body_request('{"a":[],"b":[1]}')
      req.body.a = {}
      req.body.b = {}
      assert.equal('{"a":{},"b":{}}', core.finish(req).body)
    end)

    it("keeps untouched numbers and strings as the client wrote them", function()
      local raw = '{"n":1.50,"big":12345678901234567890,"s":"\\u00e9\\/","e":1E3,"x":1}'
      local req = fx.body_request(raw)
      assert.equal(1.5, req.body.n)
      assert.equal("\195\169/", req.body.s)
      req.body.x = 2
      assert.equal('{"n":1.50,"big":12345678901234567890,"s":"\\u00e9\\/","e":1E3,"x":2}',
        core.finish(req).body)
    end)

    it("takes a whole new body table", function()
      local req = fx.body_request('{"model":"m","keep":1,"drop":2}')
      req.body = { model = "m", keep = 1, new = json.array({ "x" }) }
      assert.equal("m", req.model)
      assert.equal('{"model":"m","keep":1,"new":["x"]}', core.finish(req).body)
    end)

    it("fails to finish a body that cannot be JSON, saying why", function()
      local req = fx.body_request('{"model":"m"}')
      req.body.f = print
      local ok, err = pcall(core.finish, req)
      assert.is_false(ok)
      assert.matches("finish: cannot encode a function value as JSON", err, 1, true)
      req = fx.body_request('{"model":"m"}')
      req.body.nested = { x = 0 / 0 }
      ok, err = pcall(core.finish, req)
      assert.is_false(ok)
      assert.matches("NaN", err, 1, true)
      req = fx.body_request('{"model":"m"}')
      req.body.text = "caf\233" -- Latin-1, not UTF-8
      ok, err = pcall(core.finish, req)
      assert.is_false(ok)
      assert.matches("finish: the edited body is not valid JSON: a string in req.body is not "
        .. "UTF-8", err, 1, true)
    end)

    it("refuses a body that is not a JSON object", function()
      for _, body in ipairs({ "[1]", '{"a":', '{"a":1} x', "", "null" }) do
        local ok, err = pcall(core.request, { body = body })
        assert.is_false(ok, body)
        assert.matches("the request body is not a JSON object", err, 1, true)
      end
    end)
  end)

  describe("model", function()
    it("sets the model: only its bytes change upstream", function()
      local req = fx.request("a_say_hi")
      req.model = "claude-haiku-5-5"
      assert.equal("claude-haiku-5-5", req.model)
      assert.equal("claude-opus-5-5", req.requested_model)
      local out = core.finish(req)
      assert.is_true(out.body_changed)
      assert.equal("claude-haiku-5-5", out.model)
      assert.equal(with_model(fx.body("a_say_hi"), "claude-opus-5-5", "claude-haiku-5-5"), out.body)
    end)

    it("setting the same model changes nothing", function()
      local req = fx.request("a_say_hi")
      req.model = "claude-opus-5-5"
      local out = core.finish(req)
      assert.is_false(out.body_changed)
      assert.equal(fx.body("a_say_hi"), out.body)
    end)

    it("reads the same in req.model and req.body.model, whichever came first", function()
      local req = fx.request("a_say_hi")
      req.model = "set-before-decoding"
      assert.equal("set-before-decoding", req.body.model)
      assert.equal("set-before-decoding", req.model)
      req.body.model = "set-in-body"
      assert.equal("set-in-body", req.model)
      req.model = "set-again"
      assert.equal("set-again", req.body.model)
      local out = core.finish(req)
      assert.equal("set-again", out.model)
      assert.equal(with_model(fx.body("a_say_hi"), "claude-opus-5-5", "set-again"), out.body)
    end)

    it("sends a model written into req.body after routing", function()
      local req = fx.request("a_say_hi", { config_dir = fx.config("lua-route") })
      assert.is_table(req:route("think"))
      req.body.model = "claude-opus-5-5-custom"
      local out = core.finish(req)
      assert.equal("claude-opus-5-5-custom", out.model)
      assert.equal(with_model(fx.body("a_say_hi"), "claude-opus-5-5", "claude-opus-5-5-custom"),
        out.body)
    end)
  end)

  describe("routing", function()
    it("has no deployment until routed", function()
      assert.is_nil(fx.request("a_say_hi", { config_dir = fx.config("lua-route") }).deployment)
    end)

    it("routes a label and returns the deployment, also as req.deployment", function()
      local req = fx.request("c_oauth", { config_dir = fx.config("lua-route") })
      local d, err = req:route("background")
      assert.is_nil(err)
      assert.same({
        model_name = "claude-haiku-5-5", provider = "anthropic", model = "claude-haiku-5-5",
        api_base = "http://127.0.0.1:9", via = "background", passthrough = false,
        has_api_key = false,
        litellm_params = { model = "anthropic/claude-haiku-5-5", api_base = "http://127.0.0.1:9" },
      }, d)
      assert.same(d, req.deployment)
      assert.equal("claude-haiku-5-5", req.model)
    end)

    it("never shows a deployment's api_key", function()
      local req = fx.request("a_say_hi", { config_dir = fx.config("lua-route") })
      local d = req:route("keyed")
      assert.is_true(d.has_api_key)
      assert.is_nil(d.api_key)
      assert.is_nil(d.litellm_params.api_key)
      assert.equal("anthropic/claude-keyed-1", d.litellm_params.model)
      assert.equal("claude-keyed-1", d.model)
      -- req.headers keeps the client's credentials; the key goes upstream in their place
      assert.equal("sk-ant-dummy", req.headers["x-api-key"])
      local out = core.finish(req)
      assert.same({ "sk-ant-from-config", 1 }, { fx.header(out.upstream_headers, "x-api-key") })
    end)

    it("sends only the headers of the deployment finally chosen", function()
      local req = fx.request("c_oauth", { config_dir = fx.config("lua-route") })
      req:route("gpt")
      assert.equal("Bearer sk-ant-oat01-dummy", req.headers["authorization"])
      -- a deployment's extra headers are added as the request leaves, not in req.headers
      assert.is_nil(req.headers["x-team"])
      local alone = fx.request("c_oauth", { config_dir = fx.config("lua-route") })
      alone:route("gpt")
      assert.same({ "blue", 1 }, { fx.header(core.finish(alone).upstream_headers, "x-team") })
      req:route("keyed")
      assert.equal("Bearer sk-ant-oat01-dummy", req.headers["authorization"])
      req:route("think")
      assert.is_nil(req.headers["x-team"])
      local out = core.finish(req)
      -- no deployment key: the client's own bearer goes to Anthropic, and nothing of gpt's
      assert.same({ "Bearer sk-ant-oat01-dummy", 1 },
                  { fx.header(out.upstream_headers, "authorization") })
      assert.is_nil(fx.header(out.upstream_headers, "x-api-key"))
      assert.is_nil(fx.header(out.upstream_headers, "x-team"))
      req = fx.request("a_say_hi", { config_dir = fx.config("lua-route") })
      req:route("keyed")
      req:route_passthrough()
      out = core.finish(req)
      assert.same({ "sk-ant-dummy", 1 }, { fx.header(out.upstream_headers, "x-api-key") })
      assert.equal("claude-opus-5-5", out.deployment.model_name)
      assert.equal(fx.body("a_say_hi"), out.body)
    end)

    it("routes the client's model with route_passthrough", function()
      local req = fx.request("e_model_sonnet45", { config_dir = fx.config("lua-route") })
      local d = req:route_passthrough()
      assert.equal("claude-*", d.model_name)
      assert.equal("claude-sonnet-4-5-20250929", d.model)
      assert.is_true(d.passthrough)
      assert.is_false(core.finish(req).body_changed)
    end)

    it("keeps a decoded body's model in step when passthrough resolves an alias", function()
      local req = fx.body_request('{"model":"background","x":1}',
        { config_dir = fx.config("lua-route") })
      local b = req.body
      local d = req:route_passthrough()
      assert.equal("claude-haiku-5-5", d.model_name)
      assert.equal("background", d.via)
      assert.equal("claude-haiku-5-5", req.model)
      assert.equal("claude-haiku-5-5", b.model)
      assert.equal('{"model":"claude-haiku-5-5","x":1}', core.finish(req).body)
    end)

    it("answers nil and a message when nothing fits", function()
      local req = fx.body_request({ model = "zzz" }, { config_dir = fx.config("lua-nodefault") })
      local d, err = req:route("nope")
      assert.is_nil(d)
      assert.equal(fx.spec_dir .. "/lua/request_view_spec.lua:" .. debug.getinfo(1, "l").currentline - 2
        .. ": req:route('nope'): config.yaml has no model_name 'nope'; add such an entry to "
        .. "model_list, or choose the fallback yourself: req:route('nope') or "
        .. "req:route('default')", err)
      d, err = req:route_passthrough()
      assert.is_nil(d)
      assert.equal("model 'zzz' is not configured: add a model_list entry for it (or a "
        .. "'default' or a glob like 'claude-*') to config.yaml", err)
      assert.is_nil(req.deployment)
      assert.equal("zzz", req.model)
      assert.is_table(req:route("claude-opus-5-5"))
    end)

    it("raises for a label that is not a string", function()
      local req = fx.request("a_say_hi", { config_dir = fx.config("lua-route") })
      assert.has_error(function() req:route() end)
    end)
  end)

  describe("methods", function()
    it("estimates tokens once and compares with tokens_over", function()
      local req = fx.request("a_say_hi")
      local n = req:tokens()
      assert.is_number(n)
      assert.equal(n, req:tokens())
      assert.is_true(req:tokens_over(n - 1))
      assert.is_false(req:tokens_over(n))
      assert.has_error(function() req:tokens_over("many") end)
    end)

    it("logs through req:log", function()
      local req = fx.request("a_say_hi")
      assert.has_no.errors(function()
        req:log("debug", "a debug line")
        req:log("info", "an info line")
      end)
      assert.has_error(function() req:log("info") end)
    end)
  end)

  describe("after its stage", function()
    it("raises on any use, also through values taken before", function()
      local req = fx.request("a_say_hi")
      local headers, client = req.headers, req.client_headers
      local body = req.body
      core.finish(req)
      local uses = {
        function() return req.model end,
        function() return req.body end,
        function() req.label = "x" end,
        function() return req:field("model") end,
        function() return req:tokens() end,
        function() return headers["x-api-key"] end,
        function() headers["x-api-key"] = "k" end,
        function() return client["host"] end,
        function() return headers() end,
      }
      for i, use in ipairs(uses) do
        local ok, err = pcall(use)
        assert.is_false(ok, "use " .. i)
        assert.matches("used after its stage ended", err, 1, true)
      end
      assert.equal("claude-opus-5-5", body.model) -- a table taken before stays a table
      assert.equal("ccproxy.request (ended)", tostring(req))
      assert.has_error(function() core.finish(req) end, "request already finished")
    end)
  end)
end)
