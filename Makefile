# Two commands for a user: `make run` and `make test`. Both set up first; setup is idempotent.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# llama-cpp-python builds from source: skip the multimodal part (5 min more); use both cores.
export CMAKE_ARGS ?= -DLLAVA_BUILD=OFF
export CMAKE_BUILD_PARALLEL_LEVEL ?= 2
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup run test ingest ui lint bench browser clean

setup: $(STAMP)
	@$(BIN)/python -m assistant.weights

$(STAMP): pyproject.toml requirements.lock requirements-dev.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet pip==25.3 setuptools==80.9.0
	$(BIN)/pip install --quiet -r requirements.lock -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

ingest: setup
	$(BIN)/assistant ingest seeds

run: ingest
	$(BIN)/assistant ui

ui: setup
	$(BIN)/assistant ui

# The browser tests drive Debian's chromium; install it when we may (root) and it is missing.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
		|| echo "chromium is not installed: the browser tests will be skipped"; }

test: setup browser
	$(BIN)/ruff check assistant tests
	$(BIN)/mypy assistant
	$(BIN)/python -m pytest tests evals

lint: setup
	$(BIN)/ruff check assistant tests evals bench
	$(BIN)/mypy assistant

bench: setup
	$(BIN)/python bench/answer_latency.py

clean:
	rm -rf $(VENV) index/chroma index/bm25-* index/manifest.json
