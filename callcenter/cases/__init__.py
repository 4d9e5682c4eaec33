"""Published typical cases (典型案例): a closed ticket made public by a supervisor with an
edited public text, after `redaction` has removed the citizen's details; `service` (suggest,
publish with confirmation, withdraw, every step logged), `repository` (the SQL). The
public site reads what is published."""
