-- spec/busted.lua: runs busted inside the ccproxy binary (`ccproxy lua spec/busted.lua DIR`),
-- so specs exercise the real C request view and bindings rather than a stand-in.
local spec_dir = os.getenv("CCPROXY_SPEC_DIR") or arg[0]:match("^(.*)/[^/]*$") or "spec"
package.path = spec_dir .. "/support/?.lua;" .. package.path
require("busted.runner")({ standalone = false })
