# Invitations.csv with invalid UTF-8: a Latin-1 byte, a broken two-byte
# sequence, an encoded surrogate (ED A0 80); rows 2 and 5 are good.
u=https://www.linkedin.com/in
{
printf 'From,To,Sent At,Message,Direction,inviterProfileUrl,inviteeProfileUrl\n'
printf 'Ann Lee,Morgan Reyes,"2/10/26, 9:15 AM",,INCOMING,%s/ann-lee,%s/morgan-reyes-sc\n' $u $u
printf 'Bob Stone,Morgan Reyes,"2/10/26, 9:16 AM",Caf\351 owner here,INCOMING,%s/bob-stone,%s/morgan-reyes-sc\n' $u $u
printf 'Cy \303(oung,Morgan Reyes,"2/10/26, 9:17 AM",,INCOMING,%s/cy-young,%s/morgan-reyes-sc\n' $u $u
printf 'Di Ross,Morgan Reyes,"2/10/26, 9:18 AM",We met at the Toledo meetup \342\230\225,INCOMING,%s/di-ross,%s/morgan-reyes-sc\n' $u $u
printf 'Eve Moss,Morgan Reyes,"2/10/26, 9:19 AM","Hi \355\240\200",INCOMING,%s/eve-moss,%s/morgan-reyes-sc\n' $u $u
} > Invitations.csv
