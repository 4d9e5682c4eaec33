"""PostgreSQL: a server of the hotline's own (tests, `hotline cluster up`)."""
