-- Sprout's rules engine for nginx (lua-nginx-module). A site's _redirects, _headers, netlify.toml
-- and SPA setting are compiled by the agent to data (rules/rules-data.ts), one file per rules text:
--   <sites>/<site>/lua/<name>.lua, and a link <sites>/<site>/lua/<deployment> -> <name>.lua, or
--   -> none for a deployment without rules. A deployment without a link is not served (503).
-- This module applies them per request. nginx reads no site's rules when it starts or reloads, so a
-- deploy of rules reloads nothing, and every site is served by the same server{} with no hand-over.
local ffi = require("ffi")
local C = ffi.C
ffi.cdef([[
  long readlink(const char *path, char *buf, size_t bufsiz);
  int access(const char *path, int mode);
]])

local M = {}
local sites_dir = nil
local buf = ffi.new("char[256]")
-- Each worker keeps the rules it served lately, by file name: a name stands for the rules' content,
-- so an entry is never stale. Bounded by MAX_BYTES of files read: the least recently used go first.
local MAX_BYTES = 64 * 1024 * 1024
local cache, bytes, clock = {}, 0, 0
local SEP, PAIR = "\31", "\30"
-- add_header's statuses: a site's header lines go out with these only, as nginx's add_header does.
local HEADER_STATUS = { [200] = true, [201] = true, [204] = true, [206] = true, [301] = true, [302] = true, [303] = true, [304] = true, [307] = true, [308] = true }

-- The resource a path is served from, as nginx's map $sprout_resource finds it (config.ts): "/"
-- for what res_root matches, else res_of's capture.
local res_root, res_of

function M.init(dir, root_re, of_re)
  sites_dir, res_root, res_of = dir, root_re, of_re
end

local function resource(path)
  if ngx.re.find(path, res_root, "o") then return "/" end
  local m = ngx.re.match(path, res_of, "o")
  return m and m[1] or ""
end

local function readlink(path)
  local n = tonumber(C.readlink(path, buf, 255))
  if n <= 0 then return nil end
  return ffi.string(buf, n)
end

-- BROKEN: a deployment has rules but they cannot be read: its requests fail (503) rather than be
-- served without them (without its Basic-Auth, say).
local BROKEN = { broken = true }

-- prefilters: one regex per chunk of rules (PCRE refuses a pattern too large) that matches every
-- key some rule matches, without captures: most requests match no rule and try nothing else.
local function prefilters(rules)
  local out, cur, len = {}, {}, 0
  for i = 1, #rules do
    local alt = rules[i][1]:sub(2):gsub("%(%?<[a-z]_[%w_]+>", "(?:")
    if #cur > 0 and len + #alt > 3000 then
      out[#out + 1] = "^(?:" .. table.concat(cur, "|") .. ")"
      cur, len = {}, 0
    end
    cur[#cur + 1] = alt
    len = len + #alt + 1
  end
  if #cur > 0 then out[#out + 1] = "^(?:" .. table.concat(cur, "|") .. ")" end
  return out
end

local function evict(need)
  while bytes + need > MAX_BYTES do
    local oldest, at = nil, math.huge
    for k, e in pairs(cache) do
      if e.used < at then oldest, at = k, e.used end
    end
    if not oldest then return end
    bytes = bytes - cache[oldest].size
    cache[oldest] = nil
  end
end

local function parse(src)
  -- Text only, no globals: data, never code (and the agent quoted every string it holds).
  local chunk = load(src, "=rules", "t", {})
  if not chunk then return nil end
  local ok, t = pcall(chunk)
  if not ok or type(t) ~= "table" then return nil end
  if t.prefilter and t.rules then t.prefilter = prefilters(t.rules) else t.prefilter = nil end
  return t
end

local function read(path)
  clock = clock + 1
  local e = cache[path]
  if e then
    e.used = clock
    return e.rules
  end
  local f = io.open(path, "rb")
  if not f then return BROKEN end
  local src = f:read("*a")
  f:close()
  local t = parse(src or "")
  if not t then return BROKEN end -- not kept: the next request tries again
  evict(#src)
  cache[path] = { rules = t, size = #src, used = clock }
  bytes = bytes + #src
  return t
end

-- rules_link reads a deployment's link to its compiled rules, remembered by each worker for a
-- second (a readlink on every request is about 5% of a small file's requests/s). A link is written
-- when its deployment is staged and changes only when the agent's compiler does; the file it named
-- stays 10 minutes after that (site-config.ts), so a remembered name never points at a missing file.
-- Only well-formed answers are remembered: a missing link is read again on the next request.
local LINK_TTL, MAX_LINKS = 1, 20000
local links, link_count = {}, 0
local function rules_link(path)
  local now = ngx.now()
  local e = links[path]
  -- (An entry further ahead than LINK_TTL: the clock stepped back; read the link again.)
  if e and e[2] > now and e[2] - now <= LINK_TTL then return e[1] end
  local name = readlink(path)
  if name == "none" or (name and name:match("^[%w]+%.lua$")) then
    if not e then
      if link_count >= MAX_LINKS then links, link_count = {}, 0 end
      link_count = link_count + 1
    end
    links[path] = { name, now + LINK_TTL }
  end
  return name
end

-- rules answers the request's rules: a table, false (none), or BROKEN. The deployment is the preview
-- host's, else the one `current` points at, read once per request: the production host's files are
-- then served from that deployment's own tree ($sprout_root), so a request never mixes one
-- deployment's rules with another's files during an activation. What was found is kept in
-- $sprout_rules_file for the request's later phases (nginx variables live through internal
-- redirects; ngx.ctx does not): "-" none, "!" broken, else the file.
local function rules()
  local v = ngx.var
  local file = v.sprout_rules_file
  if file == "-" then return false end
  if file == "!" then return BROKEN end
  if file ~= nil and file ~= "" then return read(file) end
  local site = v.site
  local dir = sites_dir .. "/" .. site
  local dep = v.dep
  if dep == nil or dep == "" then
    local target = readlink(dir .. "/current")
    dep = target and target:match("^deploys/([%w]+)$")
    if not dep then
      -- Nothing in production: nothing to serve (404), and no rules.
      v.sprout_root = "current"
      v.sprout_rules_file = "-"
      return false
    end
    v.sprout_root = "deploys/" .. dep
  end
  local name = rules_link(dir .. "/lua/" .. dep)
  if name == "none" then
    v.sprout_rules_file = "-"
    return false
  end
  if not name or not name:match("^[%w]+%.lua$") then
    if not name and C.access(dir .. "/deploys/" .. dep, 0) ~= 0 then
      -- No such deployment: nothing to serve (404).
      v.sprout_rules_file = "-"
      return false
    end
    -- Every deployment has a link once staged: without one, its rules are unknown.
    v.sprout_rules_file = "!"
    return BROKEN
  end
  file = dir .. "/lua/" .. name
  v.sprout_rules_file = file
  return read(file)
end

-- starts: whether `s` begins with `p`, the literal prefix every string a rule's regex matches
-- begins with (rules-data.ts): a plain comparison spares running most rules' regexes.
local sub = string.sub
local function starts(s, p)
  return p == nil or sub(s, 1, #p) == p
end

-- encode: a visitor's path value as a redirect's Location or a proxied URL carries it, with the
-- bytes of rules/value-encoding.ts VALUE_SPECIALS ("%", "#", "?", space) escaped: nginx's $uri is
-- decoded, and a "#" written as it is would start a fragment there.
local function encode(v)
  return (v:gsub("[%%#? ]", function(c) return string.format("%%%02X", c:byte()) end))
end

-- expand fills a rule's target: ${s_<n>} the path's nth value as it is (a rewrite's file path),
-- ${x_<n>} the same encoded (a redirect or proxy target), ${q_<name>} a query value, ${__args} the
-- visitor's query string.
local function expand(tpl, m)
  return (tpl:gsub("%${([%w_]+)}", function(name)
    if name == "__args" then
      local a = ngx.var.args
      return (a and a ~= "") and ("?" .. a) or ""
    end
    local n = name:match("^x_(%d+)$")
    local c = m[n and ("s_" .. n) or name]
    if type(c) ~= "string" then return "" end
    return n and encode(c) or c
  end))
end

-- page_at: whether the path `f` names a file, or a folder with an index.html ("f/" resolves only
-- for a folder; access() alone cannot tell one from a file).
local function page_at(f)
  if C.access(f, 0) ~= 0 then return false end
  return C.access(f .. "/", 0) ~= 0 or C.access(f .. "/index.html", 0) == 0
end

-- redirect answers "<status or proxy>|<target>" of the first of the rules `t` that matches, or "".
local function redirect(t, v)
  if not t.rules then return "" end
  local e = ""
  if t.unforced then
    -- Shadowing: a file, its clean-URL .html or a folder's index.html at the path wins over
    -- unforced rules; a folder without index.html is no page (compile.ts says the same).
    local f = v.request_filename
    if f and (page_at(f) or C.access(f .. ".html", 0) == 0) then e = "1" end
  end
  local parts = { v.sprout_rules_uri, "#", e }
  for _, name in ipairs(t.params) do
    local a = v["arg_" .. name] or ""
    -- Over 256 bytes, or holding the key's separators: no rule matches it.
    if #a > 256 or a:find("[|#]") then a = "//" end
    parts[#parts + 1] = "|" .. a
  end
  for _, name in ipairs(t.cookies) do
    local c = v["cookie_" .. name]
    parts[#parts + 1] = (c and c ~= "") and "|1" or "|"
  end
  if t.language then parts[#parts + 1] = "|" .. (v.sprout_lang or "") end
  if t.country then parts[#parts + 1] = "|" .. (v.geoip_country_code or "") end
  local key = table.concat(parts)
  if t.prefilter then
    local hit = false
    for i = 1, #t.prefilter do
      if ngx.re.find(key, t.prefilter[i], "o") then hit = true break end
    end
    if not hit then return "" end
  end
  local list = t.rules
  for i = 1, #list do
    local r = list[i]
    if starts(key, r[3]) then
      local m = ngx.re.match(key, r[1], "o")
      if m then return expand(r[2], m) end
    end
  end
  return ""
end

-- headers answers what the _headers of `t` give the resource `res`: "<Cache-Control> SEP
-- <htpasswd file> SEP <name> PAIR <value> SEP ...", every matching block in file order; Cache-Control
-- and Basic-Auth from the first block that has them. "" when none applies.
local function headers(t, res)
  local list = t.headers
  if not list then return "" end
  local cc, auth, out = "", "", nil
  for i = 1, #list do
    local b = list[i]
    if starts(res, b[5]) and ngx.re.find(res, b[1], "o") then
      out = out or {}
      if cc == "" then cc = b[2] end
      if auth == "" then auth = b[3] end
      local lines = b[4]
      for j = 1, #lines, 2 do out[#out + 1] = lines[j] .. PAIR .. lines[j + 1] end
    end
  end
  if not out then return "" end
  return cc .. SEP .. auth .. (#out > 0 and (SEP .. table.concat(out, SEP)) or "")
end

-- request runs first for every request, at the server level, and once more after each internal
-- redirect (error_page, index): it finds the deployment's rules, sets $sprout_rv ("<status or
-- proxy>|<target>" of the first rule that matches) and $sprout_hs (the _headers of the resource the
-- answer comes from: a 200 or 4xx rule's target, else the path asked for), and answers the status
-- part alone, "" when no rule applies, so the server skips its rule directives at one comparison.
-- The only call per request besides send_headers: the locations ask nothing (a clean URL or a
-- folder's index serves another file of the same resource), but the SPA fallback, which serves
-- /index.html, another resource (M.spa).
function M.request()
  local t = rules()
  if not t then return "" end -- a site without rules: $sprout_hs and $sprout_rv stay ""
  local v = ngx.var
  if t == BROKEN then
    v.sprout_rv = "fail|"
    return "fail"
  end
  local rv = redirect(t, v)
  local st = rv:match("^(%w+)|") or ""
  if t.headers then
    -- A 200 rewrite and a 4xx body serve the rule's target; redirects and proxies the path asked for.
    local n = tonumber(st)
    local target = n and (n == 200 or n >= 400) and rv:match("^%w+|([^?]*)")
    v.sprout_hs = headers(t, target and resource(target) or v.sprout_resource)
  end
  v.sprout_rv = rv
  return st
end

-- send_headers adds the header lines of $sprout_hs to the answer (header filter phase), as
-- add_header does: each line is added, to what the answer has already (a proxied site's own
-- Set-Cookie stays), names compared without case.
function M.send_headers()
  local hs = ngx.var.sprout_hs
  if hs == nil or hs == "" or not HEADER_STATUS[ngx.status] then return end
  local out, order, k = {}, {}, 0
  for field in (hs .. SEP):gmatch("([^\31]*)\31") do
    k = k + 1
    if k > 2 and field ~= "" then
      local name, value = field:match("^([^\30]*)\30(.*)$")
      if name and value ~= "" then
        local key = name:lower()
        if not out[key] then
          out[key] = { name = name }
          order[#order + 1] = key
        end
        local list = out[key]
        list[#list + 1] = value
      end
    end
  end
  local h = ngx.header
  for _, key in ipairs(order) do
    local list = out[key]
    local had = h[list.name]
    local values = {}
    if type(had) == "table" then for _, x in ipairs(had) do values[#values + 1] = x end
    elseif had ~= nil then values[1] = had end
    for _, x in ipairs(list) do values[#values + 1] = x end
    h[list.name] = #values == 1 and values[1] or values
  end
end

-- spa answers "1" when the site serves /index.html for paths that are not files (SPA setting), and
-- then sets $sprout_hs to the _headers of the root ("/", the resource of /index.html): the file
-- that goes out is index.html, under the root's Basic-Auth, not the path asked for's.
function M.spa()
  local t = rules()
  if not (t and t ~= BROKEN and t.spa) then return "" end
  if t.headers then ngx.var.sprout_hs = headers(t, "/") end
  return "1"
end

-- proxy_authorization: the visitor's Authorization header goes to a proxy rule's target unless
-- the site uses Basic-Auth (its password is never passed on to the other site).
function M.proxy_authorization()
  local t = rules()
  if t and t.auth then return "" end
  return ngx.var.http_authorization or ""
end

-- check answers why the rules file at `path` cannot be served (a regex PCRE refuses), or nil. The
-- agent runs it in an nginx started for that alone before a deployment's rules are used
-- (lua-engine.ts validateRules).
function M.check(path)
  local f = io.open(path, "rb")
  if not f then return "cannot read " .. path end
  local t = parse(f:read("*a") or "")
  f:close()
  if not t then return "not a rules table" end
  local function try(re, what)
    local _, _, e = ngx.re.find("", re, "")
    if e then return what .. ": " .. e end
  end
  for i, re in ipairs(t.prefilter or {}) do
    local e = try(re, "the rules together")
    if e then return e end
  end
  for i, r in ipairs(t.rules or {}) do
    local e = try(r[1], "rule " .. i)
    if e then return e end
  end
  for i, b in ipairs(t.headers or {}) do
    local e = try(b[1], "_headers block " .. i)
    if e then return e end
  end
  return nil
end

return M
