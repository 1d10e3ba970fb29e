# Two commands set everything up on a fresh machine: `make lab` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Idle OpenMP threads sleep instead of spinning: on a busy 2-core machine spinning made torch 50x slower.
export OMP_WAIT_POLICY ?= PASSIVE
NBVAL  := --nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

.PHONY: lab test unit nbtest notebooks lint env clean

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

# Re-execute every notebook in full mode and store the outputs.
notebooks: $(STAMP)
	cd notebooks && for nb in [0-9]*.ipynb; do \
		echo "== $$nb"; \
		MPLBACKEND=agg ../$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
			--ExecutePreprocessor.timeout=3600 "$$nb" || exit 1; \
	done

lint: $(STAMP)
	$(BIN)/ruff check helpers tests benchmarks notebooks

clean:
	rm -rf $(VENV) .pytest_cache
