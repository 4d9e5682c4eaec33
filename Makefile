# The two commands of the README. Both set up what they need first (as root).
.PHONY: run test cluster setup-run setup-test setup-cluster lint

run: setup-run
	.venv/bin/hotline up

test: setup-test
	.venv/bin/python -m pytest

# The cluster on this machine (Kamailio, two Asterisk nodes, PostgreSQL, two controllers).
cluster: setup-cluster
	.venv/bin/hotline cluster up --nodes 2

setup-run:
	scripts/setup.sh run

setup-cluster:
	scripts/setup.sh cluster

setup-test:
	scripts/setup.sh test

# ruff (rules in pyproject.toml) and mypy --strict over the package, the tests and the benchmarks.
lint: setup-test
	.venv/bin/ruff check callcenter tests bench
	.venv/bin/mypy
