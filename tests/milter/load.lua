-- load.lua: `count` messages (a global), pitch and personal in turn, each
-- checked for its verdict, 50 to a connection (as an MTA sends a session's
-- mail; miltertest also keeps every end-of-message action of a connection,
-- so a long one would slow the client down).  Run several at once by
-- test_milter_concurrent.sh and bench.sh; prints "done N" at the end.
local T = dofile(dir .. "/common.lua")

T.run(function()
  local mails = {
    {T.read_mail(dir .. "/mail/pitch-invitation.eml"), "decline"},
    {T.read_mail(dir .. "/mail/personal-invitation.eml"), "accept"},
  }
  local n = tonumber(count)
  local conn = T.connect()
  for i = 1, n do
    if i > 1 and i % 50 == 1 then
      mt.disconnect(conn)
      conn = T.connect()
    end
    local m = mails[i % 2 + 1]
    T.send(conn, m[1], nil, false)
    local got = T.added(conn, "X-Doorman-Verdict")
    if got ~= m[2] then
      error("message " .. i .. ": X-Doorman-Verdict " .. tostring(got) .. ", want " .. m[2])
    end
  end
  mt.disconnect(conn)
  mt.echo("done " .. n)
end)
