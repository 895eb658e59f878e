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
# so a warm `make test` pays no start-up cost.
# pytest's exit code 5 (no test collected) is turned into a failure.
test: install
	$(SVYAZ) stack up --regions $(REGIONS)
	@$(BIN)/python -m pytest -v --durations=30 tests; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; exit $$rc

clean: stack-down
	rm -rf .svyaz
