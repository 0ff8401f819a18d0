# Two commands on a fresh machine: `make serve` runs the product, `make test` runs the tests.
# Both create .venv and install what they need (torch==2.13.0 first: a CPU build).
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTHON ?= python3

.PHONY: serve test check browser bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/qa serve

# Debian's chromium and chromium-driver for the end-to-end browser test (root only; the
# test is skipped with its reason where they are missing).
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver fonts-noto-cjk >/dev/null; \
	else echo "chromium/chromedriver not installed and not root: the browser test will be skipped"; fi

check: $(STAMP)
	$(BIN)/ruff check qa web tests eval
	$(BIN)/mypy qa web

test: $(STAMP) browser check
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python eval/bench.py

clean:
	rm -rf $(VENV) index .index.versions .pytest_cache .mypy_cache .ruff_cache
