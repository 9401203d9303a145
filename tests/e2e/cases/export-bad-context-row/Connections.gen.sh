# export/Connections.csv whose first connection (line 5, Irene Dalca) has a
# Latin-1 byte in her first name: the row is skipped, so she is no connection.
cat > export/Connections.csv <<'CSV'
Notes:
"When exporting your connection data, you may notice that some of the email addresses are missing. You will only see email addresses for connections who have allowed their connections to see or download their email address using this setting https://www.linkedin.com/psettings/privacy/email. You can learn more here https://www.linkedin.com/help/linkedin/answer/261"

CSV
printf 'First Name,Last Name,URL,Email Address,Company,Position,Connected On\n' >> export/Connections.csv
printf 'Ir\350ne,Dalca,https://www.linkedin.com/in/irene-dalca-77,,Harborline Analytics,Data Engineer,12 Jan 2026\n' >> export/Connections.csv
printf 'Tobias,Wren,https://www.linkedin.com/in/tobias-wren,tobias@example.org,Wren Freight,Owner,03 Nov 2025\n' >> export/Connections.csv
