# Invitations.csv whose row 3 has a 50 MiB quoted note made of 1000-byte
# lines (52,428 line ends inside it), between two good rows.  The row is
# reported and skipped; the row after it must still carry its true line
# number: 3 + 52,428 + 1 = 52,432.
u=https://www.linkedin.com/in
{
printf 'From,To,Sent At,Message,Direction,inviterProfileUrl,inviteeProfileUrl\n'
printf 'Ann Lee,Morgan Reyes,"2/10/26, 9:15 AM",,INCOMING,%s/ann-lee,%s/morgan-reyes-sc\n' $u $u
printf 'Bob Stone,Morgan Reyes,"2/10/26, 9:16 AM","'
yes "$(printf '%0999d' 0)" | head -c 52428800
printf '",INCOMING,%s/bob-stone,%s/morgan-reyes-sc\n' $u $u
printf 'Cy Young,Morgan Reyes,"2/10/26, 9:17 AM",We met at the Toledo meetup,INCOMING,%s/cy-young,%s/morgan-reyes-sc\n' $u $u
} > Invitations.csv
