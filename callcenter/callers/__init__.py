"""Who is calling: the caller card an operator sees when a call rings their seat (the
number, a name the store knows, earlier calls and their outcomes, the nuisance flag, the
number's tickets in progress)."""
