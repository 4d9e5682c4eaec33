"""Past one machine: Kamailio in front of several Asterisk nodes, PostgreSQL as the
store, one controller (and a standby) driving every node (`hotline cluster up`)."""
