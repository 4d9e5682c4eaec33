"""The SMS platform (2112345): citizens' text messages posted by the SMS gateway to the
console's /gateway/sms, signed with a shared secret (`signature`), checked (`uplink`),
taken in as tickets or added to the number's open one (`intake`); replies to citizens
queued by the desk go back through the gateway (`sender`). Every SQL statement about
them is in `repository`."""
