# The two commands a newcomer needs: `make demo` and `make test`.
# Everything below is idempotent: a second run reuses the virtualenv, the caches and a running stack.

PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
SVYAZ  := $(BIN)/svyaz
REGIONS ?= ru,by,kz
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-unit test-integration stack-up stack-down clean

install: $(STAMP)

# Reinstall only when the dependency list changes.
$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 (e.g. pyenv install 3.11)" >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

stack-up: install
	$(SVYAZ) stack up --regions $(REGIONS)

stack-down: install
	$(SVYAZ) stack down

demo: stack-up
	$(SVYAZ) demo --regions $(REGIONS)

test-unit: install
	$(BIN)/python -m pytest tests/unit

# The integration session fixture brings the stack up itself (idempotent) and leaves it running,
# so a warm `make test` pays no start-up cost. Two workers share the stack (every test has its own
# databases and topics, and most of an integration test is waiting on Kafka and the store); the
# `disruptive` tests kill its services, so they run after, alone.
# pytest's exit code 5 (no test collected) is turned into a failure.
PYTEST := $(BIN)/python -m pytest -v
test: install
	$(SVYAZ) stack up --regions $(REGIONS)
	@$(PYTEST) -n 2 --dist loadfile -m "not disruptive" --durations=30 tests; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; \
	  $(PYTEST) -m disruptive --durations=5 tests; rc2=$$?; \
	  if [ $$rc2 -eq 5 ]; then echo "error: pytest collected no disruptive test" >&2; exit 1; fi; \
	  [ $$rc -eq 0 ] && exit $$rc2; exit $$rc

clean: stack-down
	rm -rf .svyaz
