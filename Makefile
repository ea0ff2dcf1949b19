# Two commands a newcomer needs (CONTRACT.md):
#   make demo   fresh machine -> working demo (venv, install, a Chromium, then `vaern demo`)
#   make test   fresh machine -> the whole test suite, real components included
# Both are idempotent: a second run reuses the venv and the browser.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench chromium postgres-binaries tesseract install clean

demo: install chromium
	$(BIN)/vaern demo $(DEMO_ARGS)

test: install chromium postgres-binaries tesseract lint
	$(BIN)/pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

bench: install chromium tesseract
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# A Chromium for rendering and evidence: VAERN_CHROMIUM, Playwright's own, or a system one.
# Playwright's download is often impossible on closed networks, so we install Debian's package
# when we can (root + apt-get) and otherwise say exactly what to do.
chromium: install
	@if $(BIN)/python -c "from vaern.crawler.browser import find_chromium; print('Chromium:', find_chromium())" 2>/dev/null; then \
	  true; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "No Chromium found; installing Debian's chromium package"; \
	  (apt-get install -y -qq chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)) && \
	  $(BIN)/python -c "from vaern.crawler.browser import find_chromium; print('Chromium:', find_chromium())"; \
	else \
	  echo "No Chromium found. Install one (Debian/Ubuntu: sudo apt-get install chromium)," >&2; \
	  echo "or run '$(BIN)/playwright install chromium', or set VAERN_CHROMIUM=/path/to/chrome." >&2; \
	  exit 1; \
	fi

# The test suite starts its own throwaway PostgreSQL cluster; it needs the server binaries.
postgres-binaries:
	@if command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  true; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing PostgreSQL server binaries for the tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	else \
	  echo "The tests need PostgreSQL's server binaries (initdb, pg_ctl): sudo apt-get install postgresql" >&2; \
	  exit 1; \
	fi

# Text in images (ocr.enabled) is read by Tesseract with its Danish data; the tests read images.
tesseract:
	@if command -v tesseract >/dev/null && tesseract --list-langs 2>/dev/null | grep -qx dan; then \
	  true; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing Tesseract with its Danish language data"; \
	  (apt-get install -y -qq tesseract-ocr tesseract-ocr-dan >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr tesseract-ocr-dan >/dev/null)); \
	else \
	  echo "Reading text in images needs Tesseract: sudo apt-get install tesseract-ocr tesseract-ocr-dan" >&2; \
	  exit 1; \
	fi

clean:
	rm -rf $(VENV) demo-output .pytest_cache .mypy_cache .ruff_cache
