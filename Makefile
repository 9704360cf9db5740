# Developer commands. `make demo` runs the product, `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OCTOPRINT_VERSION := 1.11.8
# The collector as a user installs it: its built wheel in a venv of its own.
COLLECTOR_VENV := .venv-collector
# The compatibility matrix: one OctoPrint version per constraints file in compat/.
COMPAT := .venv-compat
COMPAT_VERSIONS := $(patsubst compat/constraints-%.txt,%,$(wildcard compat/constraints-*.txt))
PYTEST := $(BIN)/python -m pytest -q -p no:cacheprovider
# The oldest OctoPrint runs on the oldest Python we promise (3.9), where the machine has
# one (python3.9 on PATH, or pyenv's); otherwise on $(PYTHON).
PYTHON39 ?= $(firstword $(foreach p,python3.9 $(wildcard $(HOME)/.pyenv/versions/3.9*/bin/python),\
	$(shell $(p) -c 'import sys; assert sys.version_info[:2] == (3, 9)' 2>/dev/null && echo $(p))))
COMPAT_PYTHON_1.10.3 ?= $(or $(PYTHON39),$(PYTHON))

.PHONY: venv test test-plugin test-collector test-compat system-deps lint lint-py39 demo \
	bench bench-smoke translations clean

$(BIN)/.installed: pyproject.toml collector/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "octoprint==$(OCTOPRINT_VERSION)" -e ".[test]" -e "./collector[test,production]"
	touch $@

venv: $(BIN)/.installed

# System packages first (Chromium, PostgreSQL): installed through apt when run as root,
# otherwise it stops here with the command to run, before any test. The plugin's tests
# run in .venv, the collector's against its built wheel (test-collector); both run even
# when the first fails, and the target fails if either did.
test: system-deps venv
	@status=0; $(MAKE) --no-print-directory test-plugin || status=1; \
	$(MAKE) --no-print-directory test-collector || status=1; exit $$status

system-deps:
	@sh scripts/system-deps.sh

# Each version in its own venv, with the plugin from its built archive (sdist, then the
# wheel built from it: what pip makes of the archive an owner installs).
$(COMPAT)/%/.installed: compat/constraints-%.txt
	rm -rf $(COMPAT)/$*
	$(or $(COMPAT_PYTHON_$*),$(PYTHON)) -m venv $(COMPAT)/$*
	$(COMPAT)/$*/bin/pip install -q --upgrade pip
	$(COMPAT)/$*/bin/pip install -q -c $< "octoprint==$*"
	touch $@

test-compat: venv $(COMPAT_VERSIONS:%=$(COMPAT)/%/.installed)
	rm -rf $(COMPAT)/dist
	$(BIN)/python -m build --outdir $(COMPAT)/dist . >$(COMPAT)/build.log 2>&1 \
		|| { cat $(COMPAT)/build.log; exit 1; }
	for v in $(COMPAT_VERSIONS); do \
		$(COMPAT)/$$v/bin/pip uninstall -q -y OctoPrint-UsageTracking 2>/dev/null; \
		$(COMPAT)/$$v/bin/pip install -q -c compat/constraints-$$v.txt $(COMPAT)/dist/*.whl \
			|| exit 1; \
	done
	@newest=$$($(BIN)/pip index versions --pre octoprint 2>/dev/null \
		| sed -n 's/^octoprint (\(.*\))$$/\1/p'); \
	case " $(COMPAT_VERSIONS) " in *" $$newest "*) ;; *) [ -z "$$newest" ] || \
		echo "note: OctoPrint $$newest is out: add compat/constraints-$$newest.txt";; esac
	$(PYTEST) tests/compat

test-plugin: system-deps venv
	$(PYTEST) tests --ignore=tests/compat

# The collector's sdist and wheel (the wheel built from the sdist), the wheel installed
# (not editable) into a fresh venv, and its tests run from the repository root, where
# collector/ is not on sys.path: --installed-collector stops the run if
# tracking_collector comes from the source tree anyway. Then the plain wheel (no
# extras) in a venv of its own, started with the README's command
# (scripts/check_bare_collector.py).
test-collector: system-deps venv
	rm -rf $(COLLECTOR_VENV)
	$(BIN)/python -m build --outdir $(COLLECTOR_VENV)/dist collector \
		>$(COLLECTOR_VENV).build.log 2>&1 || { cat $(COLLECTOR_VENV).build.log; exit 1; }
	$(PYTHON) -m venv $(COLLECTOR_VENV)
	$(COLLECTOR_VENV)/bin/pip install -q --upgrade pip
	$(COLLECTOR_VENV)/bin/pip install -q "$$(ls $(COLLECTOR_VENV)/dist/*.whl)[test,production]"
	$(COLLECTOR_VENV)/bin/python -m pytest -q -p no:cacheprovider collector/tests \
		--installed-collector
	rm -rf $(COLLECTOR_VENV)-bare
	$(PYTHON) -m venv $(COLLECTOR_VENV)-bare
	$(COLLECTOR_VENV)-bare/bin/pip install -q "$$(ls $(COLLECTOR_VENV)/dist/*.whl)"
	$(COLLECTOR_VENV)-bare/bin/python scripts/check_bare_collector.py

# vermin: nothing newer than the Python 3.9 that requires-python and
# __plugin_pythoncompat__ promise (X | Y annotations are ruff's FA rules: vermin's
# heuristic for them ignores `from __future__ import annotations`).
lint: lint-py39
	$(BIN)/pip install -q ruff
	$(BIN)/ruff check octoprint_tracking tests collector harness benchmarks
	$(BIN)/ruff format --check octoprint_tracking tests harness collector benchmarks

lint-py39: venv
	$(BIN)/pip install -q vermin
	$(BIN)/vermin -q -t=3.9- --no-tips --violations octoprint_tracking collector/tracking_collector

demo: venv
	$(BIN)/python scripts/demo.py

# The benchmark (benchmarks/README.md): every row in full, for the README's table. It
# needs PostgreSQL (system-deps) and the collector's production extra (gunicorn,
# psycopg; in the venv). bench-smoke, as CI runs it: every row at a small size, in a
# minute or two; it fails when a row no longer runs.
bench: system-deps venv
	$(BIN)/python -m benchmarks

bench-smoke: system-deps venv
	$(BIN)/python -m benchmarks --smoke

translations: venv
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext -k N_ -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d octoprint_tracking/translations
	$(BIN)/pybabel compile -d octoprint_tracking/translations

clean:
	rm -rf $(VENV) $(COMPAT) $(COLLECTOR_VENV) $(COLLECTOR_VENV).build.log build dist \
		*.egg-info collector/build collector/*.egg-info test-artifacts demo-data
