# Two commands for a newcomer: `make run` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-all system-test demo bench i18n clean render-example

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall only when the project's metadata changed (editable install).
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/kit serve

# Three kits on a simulated LoRa mesh, each with its own web page.
demo: $(STAMP)
	$(BIN)/kit demo

# The fast tier (a few minutes): everything but the slow simulations and fault tests.
test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" $(PYTEST_ARGS)

# The whole suite, as CI runs it (.ci/run): the slow tier too (about 15 minutes on 2 cores).
test-all: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# The kit installed by deploy/install.sh in a Debian bookworm booted by systemd (systemd-nspawn),
# checked from outside: phone flow, power cuts, hangs (tests/system/; root; the Debian root is
# cached in ~/.cache/kit-system-test, KIT_SYSTEM_TEST_CACHE to move it).
system-test: $(STAMP)
	PYTHON=$(abspath $(BIN)/python) tests/system/run.sh $(PYTEST_ARGS)

# Refresh the gettext catalogs after changing user-facing strings. Only the French catalogue
# is updated from the template: the easy-read (falc) one is kept by hand, short, with only
# the strings it rewrites (the others fall back to French; tests/test_i18n.py says which
# plurals it must hold); `pybabel update` would fill it with every msgid.
i18n: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _ -k _l -o kit/web/translations/messages.pot .
	$(BIN)/pybabel update -i kit/web/translations/messages.pot -d kit/web/translations -l fr --no-fuzzy-matching
	$(BIN)/pybabel compile -d kit/web/translations

clean:
	rm -rf $(VENV) .pytest_cache

# The example kit's system files (build/example-root) and radio YAMLs (firmware-config/).
render-example: $(STAMP)
	$(BIN)/kit profile render deploy/example-kit.toml --out build/example-root
	$(BIN)/kit radio-config deploy/example-kit.toml --out firmware-config/kit-radio.example.yaml
	$(BIN)/kit radio-config deploy/example-kit.toml --handheld --out firmware-config/handheld.example.yaml
	chmod 644 firmware-config/*.example.yaml

# Benchmarks (BENCHMARKS.md). wrk comes from Debian's packages.
bench: $(STAMP)
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python bench/run_all.py
