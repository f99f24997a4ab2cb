# `make serve` and `make test` each set up .venv first when needed; safe to run again.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium
TESSERACT := /usr/bin/tesseract

.PHONY: serve test lint bench browser ocr cluster clean-index

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU build of torch first: a plain `torch` would pull a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Debian's Chromium and its driver, for the browser tests (downloading a browser fails here).
browser:
	@if [ ! -x $(CHROMIUM) ] || [ ! -x /usr/bin/chromedriver ]; then \
		echo "Installing Debian's chromium and chromium-driver"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	fi

# Debian's Tesseract with its English data, for scanned PDF pages; DejaVu fonts for the scanned test fixtures.
ocr:
	@if ! $(TESSERACT) --list-langs 2>/dev/null | grep -qx eng || [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then \
		echo "Installing Debian's tesseract-ocr, tesseract-ocr-eng and fonts-dejavu-core"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr tesseract-ocr-eng \
			fonts-dejavu-core; \
	fi

# Debian's PostgreSQL and nginx, for the several-servers test (a throwaway cluster on loopback, nginx in front).
cluster:
	@if [ ! -x /usr/lib/postgresql/15/bin/initdb ] || { ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; }; then \
		echo "Installing Debian's postgresql and nginx"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql nginx; \
	fi

serve: $(STAMP)
	$(BIN)/assistant serve

test: $(STAMP) browser ocr cluster
	$(BIN)/pip check
	$(BIN)/ruff check assistant tests benchmarks
	$(BIN)/mypy assistant
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/quality.py
	$(BIN)/python benchmarks/speed.py

clean-index:
	rm -rf index/versions index/CURRENT index/.lock
