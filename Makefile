# Reproducible companion to "CNN-LSTM for human activity recognition" (UCI HAR).
# `make help` lists the targets. Everything runs inside .venv, created on first use.

SHELL       := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON  ?= python3
PROFILE ?= paper
VENV    := .venv
PY      := $(VENV)/bin/python
HAR     := $(VENV)/bin/har
STAMP   := $(VENV)/.installed
# Notebooks in order; each runs only when its hash (code, parameters, har_utils, lock, and the
# notebooks before it) changed, so an interrupted `make reproduce` resumes where it stopped.
# Study notebooks (07_ablations: `make ablations`; 08_deployment: `make deploy`) are not part of
# `make reproduce`.
STUDY_NOTEBOOKS := 07_ablations 08_deployment 09_beyond
NOTEBOOKS := $(filter-out $(STUDY_NOTEBOOKS),$(sort $(basename $(notdir $(wildcard notebooks/[0-9][0-9]_*.ipynb)))))
PYTEST  := $(PY) -m pytest
# The committed results/ and figures/ are written only by the commands that name them: the
# published profile and the studies' targets below (through har run/study, or this prefix).
# Anything else (a notebook run by hand, a script, a smoke run, another profile) writes build/.
PUBLISHED := HAR_RESULTS_DIR=$(CURDIR)/results HAR_FIGURES_DIR=$(CURDIR)/figures
# $(call nbval,PROFILE,NOTEBOOKS): re-run notebooks that papermill already ran into build/PROFILE/
# and check every cell's output against the stored one (nbval), in the environment the pipeline
# gave them (results, figures and profile of build/PROFILE/).
nbval = HAR_RESULTS_DIR=$(CURDIR)/build/$(1)/results HAR_FIGURES_DIR=$(CURDIR)/build/$(1)/figures HAR_PROFILE=$(1) \
  TF_CPP_MIN_LOG_LEVEL=3 PYTHONHASHSEED=0 PYTHONWARNINGS=ignore::DeprecationWarning \
  $(PYTEST) -p no:cacheprovider --nbval --nbval-kernel-name python3 --nbval-cell-timeout=1800 \
  --nbval-sanitize-with tests/nbval_sanitize.cfg $(2)

.PHONY: lock help venv reproduce publish deploy test-python test-tensorflow test-smoke test-notebooks-deploy test-tiers bench-tests bench-int8 test-deploy zoo zoo-cost cv cv-cost test-cv beyond beyond-cost beyond-final test-beyond small small-cost small-final ablations ablations-cost ablations-final check-reruns data test test-fast test-data test-notebooks test-ablations bench bench-adapt bench-backends readme lab clean clean-data

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[1m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "  Variables: PROFILE=$(PROFILE) (paper|smoke), HAR_UCI_ZIP=path/to/official.zip, HAR_OFFLINE=1"

venv: $(STAMP) ## Create .venv from requirements.lock (exact versions) and register the python3 kernel

$(STAMP): pyproject.toml requirements.lock
	@echo ">> creating $(VENV) with $$($(PYTHON) --version) (about 2 minutes)"
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (har .venv)" >/dev/null
	@# C-level stderr (TensorFlow's start-up lines) goes to the terminal, not into notebook outputs
	$(PY) -c "import json,sys,pathlib; p=pathlib.Path(sys.prefix,'share/jupyter/kernels/python3/kernel.json'); \
	  k=json.loads(p.read_text()); a='--IPKernelApp.capture_fd_output=False'; \
	  k['argv'] += [a] if a not in k['argv'] else []; p.write_text(json.dumps(k, indent=1))"
	$(PY) -m pip check
	touch $@

reproduce: $(STAMP) ## Run every notebook (PROFILE=paper by default) into build/$(PROFILE)/
	@echo ">> reproducing with profile '$(PROFILE)': $(NOTEBOOKS)"
	$(HAR) run --profile $(PROFILE) $(NOTEBOOKS)

publish: $(STAMP) ## Copy the finished paper run into the committed notebooks + results/manifest.json
	$(HAR) publish
	$(HAR) readme

data: $(STAMP) ## Only the data step (notebook 01): source, fidelity, results/data_summary.json
	$(HAR) run --profile $(PROFILE) 01_data

# The deployment study's tests run Keras on TensorFlow (the TFLite export), the rest on JAX (the
# training backend): one backend per process, so two pytest runs (tests/conftest.py).
TF_TESTS := tests/test_deploy.py tests/test_predict.py
# Each pytest run spreads its tests over one process per core (pytest-xdist, at most 4; a test
# computes on one thread, tests/conftest.py). TEST_WORKERS=1 runs them in one process.
TEST_WORKERS ?= $(shell n=$$(nproc); echo $$(( n < 4 ? n : 4 )))
XDIST := $(if $(filter-out 0 1,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist worksteal)
# The test tiers share JAX's compiled programs through an on-disk cache under build/ (a model
# compiled by one test process or notebook kernel is loaded by the next, not compiled again).
TEST_TARGETS := test test-python test-tensorflow test-smoke test-notebooks-deploy test-notebooks \
  test-ablations test-deploy test-cv test-beyond test-fast test-data
$(TEST_TARGETS): export JAX_COMPILATION_CACHE_DIR := $(CURDIR)/build/jax_cache
$(TEST_TARGETS): export JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS := 0
$(TEST_TARGETS): export JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES := 0

# make test: the tiers in this order (benchmarks/bench_tests.py times each; docs/timings.md).
TEST_TIERS := test-python test-tensorflow test-smoke
test: $(STAMP) ## All test tiers: unit, real data (offline HAPT), every notebook via papermill + nbval (about 10 minutes on 2 cores)
	@for tier in $(TEST_TIERS); do $(MAKE) --no-print-directory $$tier || exit $$?; done

test-python: $(STAMP) ## Python tests on JAX: unit, real data, notebooks run by hand, the studies' code
	$(PYTEST) tests $(XDIST) --durations=15

test-tensorflow: $(STAMP) ## Python tests of the deployment study, on TensorFlow
	KERAS_BACKEND=tensorflow $(PYTEST) $(TF_TESTS) $(XDIST)

# The smoke forms side by side, one make job per core: the pipeline's notebooks then the
# deployment smoke (it reads their model) in one job, the three studies in the others.
test-smoke: $(STAMP) ## Smoke tiers side by side: every notebook (papermill + nbval), then deployment; ablations, cv, beyond
	$(MAKE) --no-print-directory -j$(TEST_WORKERS) --output-sync=target test-notebooks-deploy test-ablations test-cv test-beyond

test-notebooks-deploy: $(STAMP)
	$(MAKE) --no-print-directory test-notebooks
	$(MAKE) --no-print-directory test-deploy

test-tiers: ## The tiers make test runs, in order
	@echo $(TEST_TIERS)

test-notebooks: $(STAMP) ## Smoke tier: run every notebook with PROFILE=smoke (papermill), then re-run and check it (nbval)
	$(HAR) run --profile smoke $(NOTEBOOKS)
	$(call nbval,smoke,$(NOTEBOOKS:%=build/smoke/%.ipynb))

test-ablations: $(STAMP) ## Smoke form of the ablation study (notebook 07: tiny model, 2 epochs, two points, every stage) into build/ablations_smoke/, then nbval
	rm -rf build/ablations_smoke
	$(HAR) study 07_ablations --profile ablations_smoke --force --timeout 1800
	$(call nbval,ablations_smoke,build/ablations_smoke/07_ablations.ipynb)

test-deploy: $(STAMP) ## Smoke form of the deployment benchmark (notebook 08: the smoke run's model, few repeats) into build/deploy_smoke/, then nbval
	test -f build/smoke/results/models/cnn_lstm_paper.keras || $(MAKE) --no-print-directory test-notebooks
	rm -rf build/deploy_smoke
	$(HAR) study 08_deployment --profile deploy_smoke --force --timeout 1800
	$(call nbval,deploy_smoke,build/deploy_smoke/08_deployment.ipynb)

test-fast: $(STAMP) ## Unit tier only: synthetic data, seconds
	$(PYTEST) tests -m "not realdata and not slow"
	KERAS_BACKEND=tensorflow $(PYTEST) $(TF_TESTS) -m "not realdata and not slow"

test-data: $(STAMP) ## Real-data tier only: the HAPT rebuild against the official counts
	$(PYTEST) tests -m realdata

bench-backends: $(STAMP) ## Seconds per epoch of every zoo model on JAX and TensorFlow, one core each (results/benchmarks/backends.json; about 15 minutes, quiet machine)
	$(PUBLISHED) $(PY) benchmarks/bench_backends.py --epochs 2

bench: $(STAMP) ## Benchmarks that print figures: data load, training loop vs bare fit (writes results/benchmarks/)
	$(PUBLISHED) $(PY) benchmarks/bench_data.py --repeats 3
	$(PUBLISHED) $(PY) benchmarks/bench_training_loop.py --max-windows 3000 --epochs 3 --repeats 3

bench-int8: $(STAMP) ## Which training windows calibrate an int8 export (every one or the calmer half), scored on other training windows (results/deploy/int8_calibration.json; about 5 minutes)
	$(PUBLISHED) $(PY) benchmarks/bench_int8_calibration.py

bench-tests: $(STAMP) ## Time make test's tiers in a fresh clone (results/benchmarks/tests.json; about 10 minutes, quiet machine)
	$(PUBLISHED) $(PY) benchmarks/bench_tests.py
	$(HAR) readme

bench-adapt: $(STAMP) ## Time docs/adapt.md's adaptations, each in a fresh clone (results/benchmarks/adapt.json; about 5 minutes)
	$(PUBLISHED) $(PY) benchmarks/bench_adapt.py
	$(HAR) readme

zoo-cost: $(STAMP) ## Measure seconds per epoch of every zoo model on 2 cores (results/zoo/cost_table.json, which the ablation study's cost estimate reads)
	$(PUBLISHED) HAR_OFFLINE=1 $(PY) benchmarks/bench_epoch_cost.py --epochs 3

zoo: $(STAMP) ## The model zoo: the paper's protocol re-run (3 runs of 100 epochs; stored runs are skipped), then results/zoo/summary.json
	$(PUBLISHED) $(HAR) zoo run --workers $(WORKERS) $(if $(SCHEDULER),--scheduler $(SCHEDULER))

WORKERS   ?= 2
SCHEDULER ?=
cv-cost: $(STAMP) ## Cost table of protocol cv: model x folds x epochs x seconds per epoch (results/cv/cost_table.csv)
	$(PUBLISHED) $(HAR) cv cost

cv: $(STAMP) ## Protocol cv for every model: folds, epoch choice, final seeds (hours; resumable). WORKERS=2, SCHEDULER=tcp://host:8786
	$(PUBLISHED) $(HAR) cv run --workers $(WORKERS) $(if $(SCHEDULER),--scheduler $(SCHEDULER))

test-cv: $(STAMP) ## Smoke form of protocol cv on the real data (2 folds x 2 epochs x 1 seed, C grid of 2) into build/cv_smoke/
	rm -rf build/cv_smoke
	HAR_RESULTS_DIR=$(CURDIR)/build/cv_smoke/results $(HAR) cv run --smoke \
	  --models cnn_lstm_paper,logreg_features --workers 2 --check

beyond-cost: $(STAMP) ## Cost table of the beyond-the-paper study (results/beyond/cost_table.csv)
	$(PUBLISHED) $(HAR) beyond cost

beyond: $(STAMP) ## Beyond the paper, selection: every fold run and the choice (results/beyond/choice.json: commit it before beyond-final; hours, resumable)
	$(PUBLISHED) $(HAR) beyond run --stage select --workers $(WORKERS) $(if $(SCHEDULER),--scheduler $(SCHEDULER))

beyond-final: $(STAMP) ## Beyond the paper, after the choice is committed: its final runs, the summary, the chosen model (results/models/beyond.keras; then `make deploy`), notebook 09 with outputs
	$(PUBLISHED) $(HAR) beyond run --stage final --workers $(WORKERS) $(if $(SCHEDULER),--scheduler $(SCHEDULER))
	$(PUBLISHED) $(HAR) beyond export
	$(HAR) study 09_beyond --profile beyond --force
	$(HAR) publish-study 09_beyond --profile beyond

test-beyond: $(STAMP) ## Smoke form of the beyond study (notebook 09: tiny model, 2 epochs, every stage) into build/beyond_smoke/, then nbval
	rm -rf build/beyond_smoke
	$(HAR) study 09_beyond --profile beyond_smoke --force --timeout 1800
	$(call nbval,beyond_smoke,build/beyond_smoke/09_beyond.ipynb)

small-cost: $(STAMP) ## Cost table of the watch-model study (results/small/cost_table.csv)
	$(PUBLISHED) $(HAR) small cost

small: $(STAMP) ## A model for a watch, selection: int8 sizes, every fold run and the choice (results/small/choice.json: commit it before small-final; about half an hour with 2 workers, resumable)
	$(PUBLISHED) $(HAR) small run --stage select --workers $(WORKERS) $(if $(SCHEDULER),--scheduler $(SCHEDULER))

small-final: $(STAMP) ## A model for a watch, after the choice is committed: 5 final seeds, the summary, the shipped network (results/models/small.keras; then `make deploy`)
	$(PUBLISHED) $(HAR) small run --stage final --workers $(WORKERS) $(if $(SCHEDULER),--scheduler $(SCHEDULER))
	$(PUBLISHED) $(HAR) small export

ablations-cost: $(STAMP) ## Cost table of the ablation study under protocol cv (results/ablations/cv_cost_table.csv)
	$(PUBLISHED) $(HAR) ablations cost

ablations: $(STAMP) ## The ablation study under protocol cv, selection: every factor on 3 folds, the leaders on 7, combined, chosen (results/ablations/cv_choice.json: commit it before ablations-final; hours, resumable), then notebook 07 with outputs
	$(PUBLISHED) $(HAR) ablations run --stage select --workers $(WORKERS) $(if $(SCHEDULER),--scheduler $(SCHEDULER))
	$(HAR) study 07_ablations --profile ablations --force
	$(HAR) publish-study 07_ablations --profile ablations
	$(HAR) readme

ablations-final: $(STAMP) ## The ablation study, after the choice is committed: it and the paper's configuration over the same 5 seeds, tested once; the summary, notebook 07 with outputs
	$(PUBLISHED) $(HAR) ablations run --stage final --workers $(WORKERS) $(if $(SCHEDULER),--scheduler $(SCHEDULER))
	$(HAR) study 07_ablations --profile ablations --force
	$(HAR) publish-study 07_ablations --profile ablations
	$(HAR) readme

check-reruns: $(STAMP) ## Protocol cv's committed final runs trained again from this (clean) commit into build/, compared with the committed ones (results/cv/rerun_check.json; about 1.5 h of one worker)
	$(PUBLISHED) $(PY) benchmarks/check_reruns.py --workers $(WORKERS)
	$(HAR) readme

deploy: $(STAMP) ## The deployment benchmark (notebook 08, params/deploy.yml; about 4 minutes; needs results/models from `make reproduce`) -> results/deploy/, figures/fig8_*, fig9_*, notebooks/08 with outputs
	$(HAR) study 08_deployment --profile deploy --force
	$(HAR) publish-study 08_deployment --profile deploy
	$(HAR) readme

readme: $(STAMP) ## Re-render README.md's result blocks from results/
	$(HAR) readme

lab: $(STAMP) ## Open the notebooks in JupyterLab (also as root, e.g. in a container)
	$(VENV)/bin/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root)

clean: ## Remove build outputs (keeps data/ and .venv/)
	rm -rf build .pytest_cache

clean-data: ## Remove the data cache (raw archives in data/raw are kept)
	rm -rf data/cache

lock: ## Re-resolve pyproject.toml's ranges in a scratch venv and rewrite requirements.lock
	rm -rf build/lock-venv && $(PYTHON) -m venv build/lock-venv
	build/lock-venv/bin/pip install --quiet --upgrade "pip>=24" setuptools
	build/lock-venv/bin/pip install --quiet ".[test]"
	{ echo "# Exact versions for .venv (make venv). Regenerate: make lock. Python $$($(PYTHON) -c 'import sys;print(*sys.version_info[:2],sep=".")'), CPU."; \
	  build/lock-venv/bin/pip freeze --all | grep -v -e '^har-utils' -e '^pip==' -e '^-e '; } > requirements.lock
	rm -rf build/lock-venv
