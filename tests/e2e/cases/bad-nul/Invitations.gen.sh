# Invitations.csv with NUL bytes: one inside a note, one line of NULs only.
u=https://www.linkedin.com/in
{
printf 'From,To,Sent At,Message,Direction,inviterProfileUrl,inviteeProfileUrl\n'
printf 'Ann Lee,Morgan Reyes,"2/10/26, 9:15 AM",,INCOMING,%s/ann-lee,%s/morgan-reyes-sc\n' $u $u
printf 'Bob Stone,Morgan Reyes,"2/10/26, 9:16 AM",Hi\000Morgan,INCOMING,%s/bob-stone,%s/morgan-reyes-sc\n' $u $u
printf '\000\000\000\000\n'
printf 'Di Ross,Morgan Reyes,"2/10/26, 9:18 AM","We met at the\000 Toledo meetup",INCOMING,%s/di-ross,%s/morgan-reyes-sc\n' $u $u
printf 'Eve Moss,Morgan Reyes,"2/10/26, 9:19 AM",We met at the Erie summit,INCOMING,%s/eve-moss,%s/morgan-reyes-sc\n' $u $u
} > Invitations.csv
