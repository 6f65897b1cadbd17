# tuangou — the two commands that matter: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: messages-update lock install demo test lint typecheck unit bench messages clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q --require-hashes -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

install: $(STAMP)  ## create the environment only

demo: install  ## SQLite + demo data, served on 127.0.0.1:$(PORT) with jobs and clock in-process
	$(BIN)/tuangou demo --port $(PORT)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

messages: install  ## compile the translation catalogues (also done by `make test` and `demo`)
	$(BIN)/python -c "import tuangou.core.i18n as i; i.compile_catalogues()"

unit: install messages
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test: lint unit  ## linters and the whole test suite

bench: install  ## benchmarks of the hot paths against same-run baselines
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var

lock:  ## re-resolve requirements.lock from pyproject.toml (needs uv)
	uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 -o requirements.lock --custom-compile-command "make lock"

messages-update: install  ## extract strings, fill en and zh_Hans (from zh_Hant); then translate zh_Hant
	$(BIN)/tuangou i18n update
