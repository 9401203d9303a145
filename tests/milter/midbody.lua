-- midbody.lua: a client that goes away in the middle of a body, without
-- QUIT: the script exits with the connection open, the kernel closes it.
local T = dofile(dir .. "/common.lua")

T.run(function()
  local pitch = T.read_mail(dir .. "/mail/pitch-invitation.eml")
  local conn = T.connect()
  T.call("mailfrom", conn, "<invitations@linkedin.com>")
  for _, h in ipairs(pitch.headers) do T.call("header", conn, h.name, h.value) end
  T.call("eoh", conn)
  T.call("bodystring", conn, pitch.body:sub(1, 300))
  mt.echo("ok: leaving in the middle of the body")
  os.exit(0)
end)
