# Two commands set everything up on a fresh machine: `make lab` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Idle OpenMP threads sleep instead of spinning: on a busy 2-core machine spinning made torch 50x slower.
export OMP_WAIT_POLICY ?= PASSIVE
NBVAL  := --nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

.PHONY: lab test unit nbtest browser-test data sync exercises notebooks notebook-memory check-notebooks links lint env clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

env: $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

test: $(STAMP)
	DIFFUSION_QUICK=1 MPLBACKEND=agg $(BIN)/python -m pytest tests/ notebooks/ $(NBVAL) -p no:cacheprovider

unit: $(STAMP)
	$(BIN)/python -m pytest tests/ -p no:cacheprovider

nbtest: $(STAMP)
	DIFFUSION_QUICK=1 MPLBACKEND=agg $(BIN)/python -m pytest notebooks/ $(NBVAL) -p no:cacheprovider

# The widgets of notebooks 01, 02 and 06 in JupyterLab driven by headless Chromium (tests/test_browser.py):
# run all cells, move every control, check the picture changes. Needs chromium, chromium-driver and selenium
# (it skips without them); `make test` runs it too. A failure leaves screenshots in browser-screenshots/.
browser-test: $(STAMP)
	DIFFUSION_QUICK=1 $(BIN)/python -m pytest tests/test_browser.py -m browser -p no:cacheprovider

# The full datasets for full mode (make notebooks, the benchmarks, the tests that need them), by every
# route load_dataset knows; it says what to do where none works. `make test` needs none of it.
data: $(STAMP)
	PYTHON=$(BIN)/python tools/fetch_data.sh

# Each notebook is a jupytext pair: notebooks/NN_name.py (the source you edit) and NN_name.ipynb (with
# outputs). After editing the .py in a text editor, `make sync` carries the edit into the .ipynb (the
# newer file of each pair wins; stored outputs of unchanged cells are kept). JupyterLab does this on save.
sync: $(STAMP)
	$(BIN)/jupytext --sync notebooks/[0-9][0-9]_*.ipynb

# The student versions: exercises/NN_name.ipynb from each notebook with exercises, every block between
# `# BEGIN SOLUTION` and `# END SOLUTION` replaced by a stub (tools/make_exercises.py says more).
exercises: $(STAMP) sync
	$(BIN)/python tools/make_exercises.py

# Re-execute every notebook in full mode and store the outputs; records each kernel's peak memory and
# time in benchmarks/results/notebooks.json (NB="05 09" runs only those).
notebooks: $(STAMP) sync links
	$(BIN)/python tools/run_notebooks.py --store $(NB)

# Peak memory of every notebook in quick mode (outputs not stored).
notebook-memory: $(STAMP)
	$(BIN)/python tools/run_notebooks.py --quick $(NB)

# Re-execute every notebook in full mode and fail if a stored output drifted (figures are not compared;
# cells marked NBVAL_IGNORE_OUTPUT are run but not compared). Takes about as long as `make notebooks`.
check-notebooks: $(STAMP)
	$(BIN)/python tools/links.py --check
	DIFFUSION_QUICK=0 MPLBACKEND=agg $(BIN)/python -m pytest $(if $(NB),$(foreach n,$(NB),notebooks/$(n)*.ipynb),notebooks/) \
		--nbval --nbval-current-env --nbval-cell-timeout=3600 \
		--nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider

# The Colab/Binder links at the top of every notebook and the README's table of notebooks.
links: $(STAMP)
	$(BIN)/python tools/links.py

lint: $(STAMP)
	$(BIN)/ruff check helpers tests benchmarks tools notebooks

clean:
	rm -rf $(VENV) .pytest_cache
