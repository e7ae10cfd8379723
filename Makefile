# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON   ?= python3
VENV     := .venv
BIN      := $(VENV)/bin
STAMP    := $(VENV)/.installed
# SAM CLI lives in its own venv: its pins must not steer the project's dependencies.
SAM_VENV := .tools/sam
SAM      := $(SAM_VENV)/bin/sam
# `wacz validate`, which the tests run on exported replay files: its own venv too (it
# brings some fifty packages the project does not use).
WACZ_VENV := .tools/wacz
WACZ     := $(WACZ_VENV)/bin/wacz
# `sam build` needs Python 3.12 (the Lambda runtime) on PATH; with pyenv:
#   PYENV_VERSION=3.11.7:3.12.1 make build
LAYER_PY ?= python3.12
WATCHLIST ?= watchlist.yaml

export SAM_CLI_TELEMETRY := 0

.PHONY: install run test lint typecheck demo bench clean build build-ScrubwatchLayer lock openssl \
	install-browser

# constraints.txt pins every dependency to the versions the layer ships (one set for both).
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

$(SAM):
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install -q aws-sam-cli

$(WACZ):
	$(PYTHON) -m venv $(WACZ_VENV)
	$(WACZ_VENV)/bin/pip install -q 'wacz==0.6.0'

install: $(STAMP)

run: $(STAMP)
	$(BIN)/scrubwatch check -c watchlist.yaml

demo: $(STAMP)
	$(BIN)/scrubwatch demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck $(SAM) $(WACZ) openssl install-browser
	SAM_CLI=$(abspath $(SAM)) WACZ_CLI=$(abspath $(WACZ)) $(BIN)/pytest

# The timestamp tests run a real RFC 3161 authority: `openssl ts` (Debian's openssl).
openssl:
	@command -v openssl >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	  apt-get install -y -qq openssl; } || { echo "make test needs openssl: sudo apt-get install openssl" >&2; exit 1; }

# render: browser drives Debian's Chromium (Playwright's own download needs a site that a
# locked-down machine cannot reach); Playwright itself comes with the dev extras.
install-browser: $(STAMP)
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	  apt-get install -y -qq chromium; } || { echo "render: browser needs Chromium: sudo apt-get install chromium" >&2; exit 1; }
	@$(BIN)/python -c 'import playwright' 2>/dev/null || $(BIN)/pip install -q -c constraints.txt -e '.[render]'

bench: $(STAMP)
	$(BIN)/python bench/run.py

build: $(SAM)
	$(SAM) build

# Called by `sam build` (template.yaml: BuildMethod makefile; build_in_source in
# samconfig.toml). Refuses to go on if watchlist.yaml does not validate (checked with the
# project's own environment: the layer's arm64 wheels do not load on an x86_64 machine),
# then installs the package and its Lambda dependencies for the functions' platform.
LAYER_PLATFORM ?= manylinux2014_aarch64
build-ScrubwatchLayer: $(STAMP)
	$(BIN)/python -m scrubwatch.cli.main validate --for aws -c $(WATCHLIST)
	rm -rf .tools/wheel && $(LAYER_PY) -m pip wheel -q --no-deps -w .tools/wheel .
	$(LAYER_PY) -m pip install -q --target "$(ARTIFACTS_DIR)/python" \
	  --platform $(LAYER_PLATFORM) --implementation cp --python-version 3.12 \
	  --only-binary=:all: -c constraints.txt \
	  "scrubwatch[aws] @ file://$(CURDIR)/$$(ls .tools/wheel/*.whl)"
	cp $(WATCHLIST) "$(ARTIFACTS_DIR)/watchlist.yaml"

# After a change of pyproject.toml's dependencies: resolve them afresh and pin the result.
lock:
	rm -rf .tools/lock && $(PYTHON) -m venv .tools/lock
	.tools/lock/bin/pip install -q --upgrade pip
	.tools/lock/bin/pip install -q '.[dev]'
	{ sed -n '1,3p' constraints.txt; .tools/lock/bin/pip freeze | grep -v '^scrubwatch'; } > constraints.new
	mv constraints.new constraints.txt

clean:
	rm -rf $(VENV) .tools .aws-sam .scrubwatch

# The render function's layers (build-RenderLayer, build-ScrubwatchLayerX86). Last: an
# include's first target would otherwise become the default.
include render.mk
