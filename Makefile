# Two commands for a user: `make run` and `make test`. Both set up first; setup is idempotent.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# llama-cpp-python builds from source: skip the multimodal part (5 min more); use both cores.
export CMAKE_ARGS ?= -DLLAVA_BUILD=OFF
export CMAKE_BUILD_PARALLEL_LEVEL ?= 2
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup run test test-fast ingest ui lint bench browser corpora clean

setup: $(STAMP)
	@$(BIN)/assistant weights

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

# The second eval corpus is Debian's handbook (HTML pages, pinned); likewise installed when we may.
HANDBOOK := debian-handbook=11.20220922
corpora:
	@test -f /usr/share/doc/debian-handbook/html/en-US/sect.apt-get.html || { [ "$$(id -u)" = 0 ] \
		&& command -v apt-get >/dev/null \
		&& (apt-get update -qq && apt-get install -y -qq $(HANDBOOK) >/dev/null) \
		|| echo "$(HANDBOOK) is not installed: the handbook eval split will be skipped"; }

test: setup browser corpora
	$(BIN)/ruff check assistant tests evals
	$(BIN)/mypy assistant
	$(BIN)/python -m pytest tests evals

# Seconds, no model weights: fakes stand in for the encoder and the model.
test-fast: setup
	$(BIN)/python -m pytest tests evals -m "not integration and not browser"

lint: setup
	$(BIN)/ruff check assistant tests evals bench
	$(BIN)/mypy assistant

bench: setup
	$(BIN)/python bench/answer_latency.py

clean:
	rm -rf $(VENV) index/chroma index/bm25-* index/manifest.json
