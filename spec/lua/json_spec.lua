-- spec/lua/json_spec.lua: core.json (src/lua/lua_json.c): decoding with null, array and object
-- markers, encoding, and the errors a script can cause.
local core = require("ccproxy.core")
local json = core.json

local ARRAY = getmetatable(json.array())
local OBJECT = getmetatable(json.object())

describe("core.json", function()
  it("is what require('ccproxy').json gives scripts", function()
    assert.equal(json, require("ccproxy").json)
    assert.not_equal(ARRAY, OBJECT)
  end)

  describe("decode", function()
    it("reads scalars", function()
      assert.equal(1.5, json.decode("1.5"))
      assert.equal(-3, json.decode("-3"))
      assert.equal(1000, json.decode("1E3"))
      assert.equal("x", json.decode('"x"'))
      assert.is_true(json.decode("true"))
      assert.is_false(json.decode("false"))
      assert.equal(json.null, json.decode("null"))
    end)

    it("marks objects and arrays, empty ones too", function()
      local v = json.decode('{"a":[1,2,{}],"b":{},"c":[],"d":null}')
      assert.equal(OBJECT, getmetatable(v))
      assert.equal(ARRAY, getmetatable(v.a))
      assert.equal(OBJECT, getmetatable(v.a[3]))
      assert.equal(OBJECT, getmetatable(v.b))
      assert.equal(ARRAY, getmetatable(v.c))
      assert.equal(json.null, v.d)
      assert.same({ 1, 2 }, { v.a[1], v.a[2] })
      assert.equal(3, #v.a)
    end)

    it("decodes string escapes to UTF-8", function()
      assert.equal("a\"b\\c/\n\t", json.decode('"a\\"b\\\\c\\/\\n\\t"'))
      assert.equal("\195\169", json.decode('"\\u00e9"'))
      assert.equal("\240\159\164\150", json.decode('"\\ud83e\\udd16"')) -- a robot face
      assert.equal("\240\159\164\150", json.decode('"\240\159\164\150"'))
    end)

    it("answers nil and a message for text that is not JSON", function()
      for _, text in ipairs({ "", "{", '{"a":}', "[1,]", "nul", "{'a':1}" }) do
        local v, err = json.decode(text)
        assert.is_nil(v, text)
        assert.equal("invalid JSON", err)
      end
      assert.has_error(function() json.decode({}) end)
    end)
  end)

  describe("encode", function()
    it("writes scalars and null", function()
      assert.equal("null", json.encode(nil))
      assert.equal("null", json.encode(json.null))
      assert.equal("true", json.encode(true))
      assert.equal("false", json.encode(false))
      assert.equal("1", json.encode(1))
      assert.equal("-3", json.encode(-3))
      assert.equal("0", json.encode(-0.0))
      assert.equal("1.5", json.encode(1.5))
      assert.equal('"x"', json.encode("x"))
    end)

    it("writes the shortest number that reads back the same", function()
      assert.equal("0.1", json.encode(0.1))
      assert.equal("0.7", json.encode(0.7))
      assert.equal("1e+300", json.encode(1e300))
      assert.equal("0.30000000000000004", json.encode(0.1 + 0.2))
      for _, n in ipairs({ 0.1, 1 / 3, 2 ^ 53, 2 ^ 53 + 2, 1e15, 123456789012345, 1e-7,
                           -2.5e-300, 5e-324, 1.7976931348623157e308 }) do
        assert.equal(n, json.decode(json.encode(n)), tostring(n))
      end
    end)

    it("escapes strings as JSON does and passes UTF-8 through", function()
      assert.equal('"a\\"b\\\\c/\\n\\r\\t\\u0001\\u001f"', json.encode("a\"b\\c/\n\r\t\1\31"))
      assert.equal('"\195\169\240\159\164\150"', json.encode("\195\169\240\159\164\150"))
    end)

    it("writes arrays and objects by marker or by shape", function()
      assert.equal("[1,2,3]", json.encode({ 1, 2, 3 }))
      assert.equal("{}", json.encode({}))
      assert.equal("[]", json.encode(json.array()))
      assert.equal("[]", json.encode(json.array({})))
      assert.equal("{}", json.encode(json.object()))
      assert.equal('{"a":2,"b":1}', json.encode({ b = 1, a = 2 })) -- keys sorted
      assert.equal('[null,"x"]', json.encode({ json.null, "x" }))
      assert.equal('{"a":[],"b":{},"c":null}', json.encode({ a = json.array(), b = {}, c = json.null }))
    end)

    it("marks a table in place and returns it", function()
      local t = { 1 }
      assert.equal(t, json.array(t))
      assert.equal(ARRAY, getmetatable(t))
      local o = {}
      assert.equal(o, json.object(o))
      assert.equal(OBJECT, getmetatable(o))
      assert.has_error(function() json.array("x") end)
    end)

    it("round-trips decoded values, markers kept", function()
      local text = '{"a":[],"b":{},"c":null,"d":[{},[[]],null,false,0.25],"e":"\\u00e9"}'
      assert.equal('{"a":[],"b":{},"c":null,"d":[{},[[]],null,false,0.25],"e":"\195\169"}',
        json.encode(json.decode(text)))
    end)

    it("answers nil and a message for what JSON cannot hold", function()
      local cyclic = {}
      cyclic.self = cyclic
      local cases = {
        { print, "cannot encode a function value as JSON" },
        { { f = print }, "cannot encode a function value as JSON" },
        { 0 / 0, "cannot encode NaN or infinity as JSON" },
        { { x = { 1, math.huge } }, "cannot encode NaN or infinity as JSON" },
        { -math.huge, "cannot encode NaN or infinity as JSON" },
        { io.stdout, "cannot encode a userdata value as JSON" },
        { coroutine.create(print), "cannot encode a thread value as JSON" },
        { cyclic, "value nested too deeply (or contains a cycle)" },
        { { [1] = 1, [3] = 3 }, "cannot encode a table with a number key as a JSON object" },
        { { 1, x = 2 }, "as a JSON object" },
        { json.object({ 1, 2 }), "cannot encode a table with a number key as a JSON object" },
        { { [true] = 1 }, "cannot encode a table with a boolean key as a JSON object" },
      }
      for i, case in ipairs(cases) do
        local v, err = json.encode(case[1])
        assert.is_nil(v, "case " .. i)
        assert.matches(case[2], err, 1, true)
      end
    end)
  end)
end)
