# Tipline: `make run` serves the demo on http://127.0.0.1:5000, `make test` runs the tests.
VENV   := .venv
PY     := $(VENV)/bin/python
FLASK  := $(VENV)/bin/flask
PYTHON ?= python3
HOST   ?= 127.0.0.1
PORT   ?= 5000
WORKER ?=
export FLASK_APP := wsgi.py

.PHONY: run install install-dev test lint format demo messages translations compile screenshots lighthouse vnu clean

$(VENV)/.installed: requirements.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements-dev.txt $(VENV)/.installed
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed compile
install-dev: $(VENV)/.dev-installed compile

## run: install, migrate, load the demo when the database is empty, serve with one alerts worker
# umask 077: the database, photos and folders these commands create in instance/ are the
# owner's only (the serve command sets the same umask for itself). The serve command starts
# `flask tipline worker` as its child (alerts, periodic jobs) and stops it on Ctrl-C;
# WORKER=--no-worker serves without it.
run: install
	umask 077 && $(FLASK) db upgrade
	umask 077 && $(FLASK) tipline demo --if-empty
	@echo "Tipline: http://$(HOST):$(PORT)/  (staff: http://$(HOST):$(PORT)/staff/)"
	$(FLASK) tipline serve --host $(HOST) --port $(PORT) $(WORKER)

demo: install
	umask 077 && $(FLASK) db upgrade
	umask 077 && $(FLASK) tipline demo

## test: install the dev requirements and run the suite
test: install-dev
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/bandit -q -r tipline -c pyproject.toml

format: install-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## messages: extract the translatable strings (Vietnamese is the source language)
messages: install-dev
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -o tipline/translations/messages.pot .

## translations: update the English catalogue from the strings; fill its empty msgstr, then `make compile`
translations: messages
	$(VENV)/bin/pybabel update -i tipline/translations/messages.pot -d tipline/translations --no-fuzzy-matching --ignore-obsolete

compile: $(VENV)/.installed
	$(VENV)/bin/pybabel compile -d tipline/translations

## screenshots: every public page at 360x740 into docs/screenshots/ (Debian's chromium)
screenshots: install-dev
	$(PY) bench/screenshots.py

## lighthouse: scores and transfer sizes of the home, submit and status pages
lighthouse: install-dev
	cd bench/lighthouse && npm ci --no-audit --no-fund
	$(PY) bench/lighthouse/run.py

## vnu: the pinned Nu HTML checker for tests/test_html_validity.py (needs node; Java to run)
vnu:
	cd tools/vnu && npm ci --no-audit --no-fund

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
