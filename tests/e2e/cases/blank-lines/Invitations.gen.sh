# Blank lines between rows: empty, CRLF-empty, spaces only, a tab only.
# None of them is a row, so none is reported or counted.
u=https://www.linkedin.com/in
{
printf 'From,To,Sent At,Message,Direction,inviterProfileUrl,inviteeProfileUrl\n'
printf '\n'
printf 'Ann Lee,Morgan Reyes,"2/10/26, 9:15 AM",,INCOMING,%s/ann-lee,%s/morgan-reyes-sc\n' $u $u
printf '\r\n'
printf '   \n'
printf 'Di Ross,Morgan Reyes,"2/10/26, 9:18 AM",We met at the Toledo meetup,INCOMING,%s/di-ross,%s/morgan-reyes-sc\n' $u $u
printf '\t\n'
printf '\n\n'
} > Invitations.csv
