-- spec/lua/smoke_spec.lua: the C bindings load inside the real binary.
describe("ccproxy.core", function()
  it("reports the binary's version", function()
    local core = require("ccproxy.core")
    assert.is_string(core.version)
    assert.matches("^%d+%.%d+%.%d+$", core.version)
  end)
end)
