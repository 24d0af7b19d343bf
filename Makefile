# `make test`: the whole test suite, with everything it needs installed first.
.PHONY: test
test:
	pip install -e '.[test]'
	cd tests/interop && npm ci --no-audit --no-fund --loglevel=error
	cd bench/peer && npm ci --no-audit --no-fund --loglevel=error
	@command -v chromium >/dev/null || { echo "The browser tests need Debian's chromium: apt-get install chromium"; exit 1; }
	python -m pytest

# `make bench`: Latchkey beside oidc-provider (bench/run.py; it installs bench/peer itself).
.PHONY: bench
bench:
	pip install -e '.[test]'
	python bench/run.py
