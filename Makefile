# The two commands of the README. Both set up what they need first (as root).
.PHONY: run test setup-run setup-test lint

run: setup-run
	.venv/bin/hotline up

test: setup-test
	.venv/bin/python -m pytest

setup-run:
	scripts/setup.sh run

setup-test:
	scripts/setup.sh test

# ruff (rules in pyproject.toml) and mypy --strict over the package, the tests and the benchmarks.
lint: setup-test
	.venv/bin/ruff check callcenter tests bench
	.venv/bin/mypy
