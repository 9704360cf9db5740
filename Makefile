# Developer commands. `make demo` runs the product, `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OCTOPRINT_VERSION := 1.11.8

.PHONY: venv test test-plugin test-collector lint demo bench translations clean

$(BIN)/.installed: pyproject.toml collector/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "octoprint==$(OCTOPRINT_VERSION)" -e ".[test]" -e "./collector[test,production]"
	touch $@

venv: $(BIN)/.installed

test: venv
	$(BIN)/python -m pytest tests collector/tests -q -p no:cacheprovider

test-plugin: venv
	$(BIN)/python -m pytest tests -q

test-collector: venv
	$(BIN)/python -m pytest collector/tests -q

lint: venv
	$(BIN)/pip install -q ruff
	$(BIN)/ruff check octoprint_tracking tests collector
	$(BIN)/ruff format --check octoprint_tracking tests

demo: venv
	$(BIN)/python scripts/demo.py

bench: venv
	$(BIN)/python -m benchmarks

translations: venv
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext -k N_ -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d octoprint_tracking/translations
	$(BIN)/pybabel compile -d octoprint_tracking/translations

clean:
	rm -rf $(VENV) build dist *.egg-info test-artifacts demo-data
