-- decline_action.lua: with --on-decline ACTION (the global `action`:
-- reject, tempfail or quarantine), a pitch is refused with a proper SMTP
-- reply or quarantined, and a personal invitation still just gets headers.
-- Also run with -D profile=1 (see below).
local T = dofile(dir .. "/common.lua")

T.run(function()
  local pitch = T.read_mail(dir .. "/mail/pitch-invitation.eml")
  local personal = T.read_mail(dir .. "/mail/personal-invitation.eml")

  local conn = T.connect()
  T.send(conn, pitch)
  local reply = mt.getreply(conn)
  if action == "reject" or action == "tempfail" then
    local code, xcode, text = "550", "5.7.1", "Message refused: doorman declined it as a cold pitch"
    if action == "tempfail" then
      code, xcode, text = "451", "4.7.1", "Message deferred: doorman declined it as a cold pitch"
    end
    T.check(reply == SMFIR_REPLYCODE, action .. ": a reply code (got " .. string.char(reply) .. ")")
    T.check(mt.eom_check(conn, MT_SMTPREPLY, code, xcode, text),
            action .. ": " .. code .. " " .. xcode .. " " .. text)
    T.check(not mt.eom_check(conn, MT_HDRADD), action .. ": no header added to a refused mail")
  elseif action == "quarantine" then
    T.expect_verdict(conn, "decline", {"PITCH_I_HELP"}, "quarantine")
    T.check(mt.eom_check(conn, MT_QUARANTINE), "quarantine: the mail is quarantined")
  else
    error("unknown action " .. tostring(action))
  end
  mt.disconnect(conn)

  conn = T.connect()
  T.send(conn, personal)
  -- with -D profile=1 the milter runs with --profile examples/export, where
  -- Teresa Okafor and Gideon have written to each other: the history counts
  local want = {"FOLLOW_UP"}
  if profile then want = {"FOLLOW_UP", "KNOWN_CONTACT", "LONG_CONVERSATION"} end
  T.expect_verdict(conn, "accept", want, action .. ": personal")
  T.check(mt.getreply(conn) ~= SMFIR_REPLYCODE and not mt.eom_check(conn, MT_QUARANTINE),
          action .. ": the personal mail is neither refused nor quarantined")
  mt.disconnect(conn)
end)
