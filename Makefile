# PilotBase: `make run` serves the app with demo data, `make test` runs the whole suite.
# The interpreter behind .venv: Debian's CPython when the machine has it (built with profile-guided
# and link-time optimisation, the interpreter linked statically); pyenv's build here has neither
# (--enable-shared, no --enable-optimizations) and serves the same pages about 20 % slower
# (bench/README.md). `make PY=python3 …` chooses another.
PY ?= $(firstword $(wildcard /usr/bin/python3.11) python3)
VENV := .venv
BIN := $(VENV)/bin
FLASK_DEV := PILOTBASE_ENV=development $(BIN)/flask --app pilotbase
CHROMIUM := /usr/bin/chromium

.PHONY: run test bench translations extract-messages chromium lock clean

$(BIN)/python:
	$(PY) -m venv $(VENV) || { echo "python3-venv is missing: installing it with apt"; \
	  apt-get update -qq && apt-get install -y -qq python3-venv && $(PY) -m venv $(VENV); }
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.app-installed: $(BIN)/python requirements/app.lock pyproject.toml
	$(BIN)/pip install -q -r requirements/app.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $@

$(VENV)/.dev-installed: $(VENV)/.app-installed requirements/dev.lock
	$(BIN)/pip install -q -r requirements/dev.lock
	touch $@

translations: $(VENV)/.app-installed
	$(BIN)/pybabel compile -d pilotbase/translations

## Serve http://127.0.0.1:5000 on the SQLite database under instance/ (data is kept between runs).
run: $(VENV)/.app-installed translations
	$(FLASK_DEV) db upgrade
	$(FLASK_DEV) seed --demo --history
	$(FLASK_DEV) run --host 127.0.0.1 --port 5000

## The whole suite; set TEST_DATABASE_URL=postgresql://... to run every database test on PostgreSQL too.
test: $(VENV)/.dev-installed translations chromium
	$(BIN)/pytest $(PYTEST_ARGS)

## Daily pages at scale 0.1 and 1.0, then a bounded gunicorn load run; writes bench/results.json and
## fails when a goal is missed (see bench/README.md). SQLite unless DATABASE_URL names PostgreSQL.
bench: $(VENV)/.app-installed translations
	$(BIN)/python bench/run.py $(BENCH_ARGS)

chromium:
	@test -x $(CHROMIUM) || { echo "Chromium is missing: installing Debian's package"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

extract-messages: $(VENV)/.app-installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o pilotbase/translations/messages.pot .
	$(BIN)/pybabel update -i pilotbase/translations/messages.pot -d pilotbase/translations

lock:
	rm -rf /tmp/pilotbase-lock && $(PY) -m venv /tmp/pilotbase-lock
	/tmp/pilotbase-lock/bin/pip install -q -e .
	/tmp/pilotbase-lock/bin/pip freeze --exclude-editable | sed '1i # Pinned runtime dependencies; regenerate with `make lock`.' > requirements/app.lock
	@echo "requirements/app.lock rewritten; update requirements/dev.lock's test pins by hand"

clean:
	rm -rf $(VENV) .pytest_cache
