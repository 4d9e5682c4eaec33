"""Mail notices to the responsible units: `message` builds the mails (pure), `sender` is
the SMTP edge (smtplib on its own thread, time-outs, retries), `notices` listens to the
tickets desk and scans deadlines. `address` checks mail addresses (also for the settings
and the directory of units).

Nothing is imported here, so that `callcenter.settings` can use `address` without
loading the desk; start the notices with `callcenter.mail.notices.mail_running`."""
