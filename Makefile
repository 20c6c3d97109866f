# Two commands do all set-up on a fresh machine:
#   make demo   install what the product needs, index sample_data/, run example queries, print the next commands
#   make test   install, then lint (ruff), type-check (mypy) and run the whole test suite (both rings: tests/unit/
#               and tests/e2e/), import contracts included (tests/unit/project/test_architecture.py) — what .ci/run runs
#   make test-fast  the unit ring only (tests/unit/, minutes): no servers, no model weights (tests/unit_ring.py
#               checks it); unit tests marked `postgres` or `slow` and the e2e ring run in make test only
# Both are idempotent: the virtual environment is rebuilt only when pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test test-fast lint system-deps clean claims

# What the product needs (make demo): the engine, speech/sentence models, the web page, OCR, scene cuts.
PRODUCT := audio,web,ocr,scenes
DEMO_STAMP := $(VENV)/.demo-stamp

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[$(PRODUCT),cluster,dev,test]'
	touch $(STAMP) $(DEMO_STAMP)

# The demo installs the product only (no dev, test or cluster tools), with pip's progress shown; a .venv
# that `make test` installed already has it all.
$(DEMO_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing mmsearch and its models into $(VENV) (a few GB on the first run)..."
	$(PY) -m pip install --progress-bar on --upgrade pip
	$(PY) -m pip install --progress-bar on -e '.[$(PRODUCT)]'
	touch $(DEMO_STAMP)

system-deps:
	bash .ci/system-deps.sh

demo: $(DEMO_STAMP)
	$(VENV)/bin/mmsearch demo sample_data --library .demo-library

lint: $(STAMP)
	$(VENV)/bin/ruff check mmsearch indexers cli tests benchmarks
	$(VENV)/bin/mypy

test: $(STAMP) system-deps lint
	$(PY) -m pytest -q -rs -p no:cacheprovider

# Every figure README.md and the docs quote against the results file it comes from (docs/claims.toml):
# exit 1, one line per problem; `benchmarks/claims.py --write` regenerates the generated sections.
claims: $(STAMP)
	$(PY) benchmarks/claims.py --check

# The unit ring: no servers, no model weights (tests/unit_ring.py enforces it), minutes not tens of minutes.
test-fast: $(STAMP)
	$(PY) -m pytest -q -rs -p no:cacheprovider -m "not postgres and not slow" tests/unit

clean:
	rm -rf $(VENV) .demo-library
