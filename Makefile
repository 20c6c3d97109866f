# Two commands do all set-up on a fresh machine:
#   make demo   install, index sample_data/ and run example queries
#   make test   install, then lint (ruff), type-check (mypy) and run the whole test suite, import
#               contracts included (tests/test_architecture.py) — what .ci/run runs
# Both are idempotent: the virtual environment is rebuilt only when pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint system-deps clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[audio,web,ocr,scenes,cluster,dev,test]'
	touch $(STAMP)

system-deps:
	bash .ci/system-deps.sh

demo: $(STAMP)
	$(VENV)/bin/mmsearch demo sample_data --library .demo-library

lint: $(STAMP)
	$(VENV)/bin/ruff check mmsearch indexers cli tests benchmarks
	$(VENV)/bin/mypy

test: $(STAMP) system-deps lint
	$(PY) -m pytest -q -rs -p no:cacheprovider

clean:
	rm -rf $(VENV) .demo-library
