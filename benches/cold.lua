-- wrk script: every request authenticates with a different API key, so every request pays an
-- argon2 verification. KEYS_FILE holds one ready "Basic …" Authorization value per line.
-- Thread i of n sends keys i, i+n, i+2n, …: no key repeats until the file is used up.
local headers = {}
local counter = 0

function setup(thread)
  thread:set("id", setup_count or 0)
  setup_count = (setup_count or 0) + 1
end

function init(args)
  for line in io.lines(os.getenv("KEYS_FILE")) do
    table.insert(headers, line)
  end
  counter = id
end

request = function()
  local auth = headers[(counter % #headers) + 1]
  counter = counter + 2
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = auth,
  }, "grant_type=client_credentials")
end
