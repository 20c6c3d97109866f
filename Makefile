# Two commands do all set-up on a fresh machine:
#   make demo   install, index sample_data/ and run example queries
#   make test   install, then run the whole test suite (what .ci/run runs)
# Both are idempotent: the virtual environment is rebuilt only when pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test system-deps clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[audio,web,ocr,dev,test]'
	touch $(STAMP)

system-deps:
	bash .ci/system-deps.sh

demo: $(STAMP)
	$(VENV)/bin/mmsearch demo sample_data --library .demo-library

test: $(STAMP) system-deps
	$(PY) -m pytest -q -p no:cacheprovider

clean:
	rm -rf $(VENV) .demo-library
