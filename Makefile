# The course's commands. A newcomer needs only two: `make lab` and `make test`.
# Everything else (the environment, the kernel, the notebooks' outputs) follows from them.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Notebook execution and tests use the CPU, the same way on every machine.
export CUDA_VISIBLE_DEVICES ?=
export PYTHONHASHSEED := 0

NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
NB ?= $(NOTEBOOKS)

.PHONY: help venv lab test unit nbval notebooks weights bench app clean

help:
	@echo "make lab        create .venv, install the course, open JupyterLab on notebooks/"
	@echo "make test       create .venv if needed, run the unit tests and every notebook under nbval"
	@echo "make notebooks  execute every notebook in place (the only way outputs are made);"
	@echo "                NB=notebooks/02_cnn_saliency_mnist.ipynb for just one"
	@echo "make weights   retrain every shipped model from its recipe (helpers/weights/)"
	@echo "make bench      time our methods against Captum, shap and lime (not part of make test)"
	@echo "make app        serve notebook 07's explorers as a web app (Voila) on http://127.0.0.1:$(APP_PORT)/ with a token"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "the course needs Python 3.11; got " + sys.version.split()[0] + " (set PYTHON=/path/to/python3.11)"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

# JupyterLab's "fetch official Jupyter news?" pop-up, answered "never" for the course's environment only:
# a settings override inside the venv (not in the user's home), written for a new venv and an existing one.
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.json
$(LAB_SETTINGS): $(STAMP)
	@mkdir -p $(dir $@)
	@echo '{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false"}}' > $@

# Notebook 08's real sentences: the VADER paper's ground truth ships only in the vaderSentiment
# source archive, fetched here through pip (at install time, never at run time) and extracted
# into the environment. Its own stamp, so an existing .venv gets the data too.
TEXT_DATA  := $(VENV)/share/course-data/vader
TEXT_STAMP := $(TEXT_DATA)/.installed
$(TEXT_STAMP): $(STAMP)
	$(BIN)/python -m pip download --quiet vaderSentiment==3.3.2 --no-binary :all: --no-deps \
		-d $(VENV)/share/course-data/sdist
	$(BIN)/python -c "import sys, helpers.data as d; d.extract_text_data(sys.argv[1], sys.argv[2])" \
		$(VENV)/share/course-data/sdist/vaderSentiment-3.3.2.tar.gz $(TEXT_DATA)
	@touch $@

venv: $(STAMP) $(LAB_SETTINGS) $(TEXT_STAMP)

LAB_ARGS ?=
# Jupyter refuses to run as root unless told; containers and CI machines often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)
lab: $(STAMP) $(LAB_SETTINGS) $(TEXT_STAMP)
	$(BIN)/jupyter lab notebooks/ $(ROOT_FLAG) $(LAB_ARGS)

# nbval, strict, with a rounding tolerance: a number may differ by one unit of its last printed
# digit, nothing else may differ (tests/nbval_tolerance.py; add --nbval-exact to compare exactly).
NBVAL_FLAGS := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg \
	--nbval-cell-timeout 120 -p tests.nbval_tolerance

test: $(STAMP) $(LAB_SETTINGS) $(TEXT_STAMP)
	$(BIN)/python -m pytest tests notebooks $(NBVAL_FLAGS) -p no:cacheprovider

unit: $(STAMP) $(TEXT_STAMP)
	$(BIN)/python -m pytest tests -p no:cacheprovider

nbval: $(STAMP) $(TEXT_STAMP)
	$(BIN)/python -m pytest $(NB) $(NBVAL_FLAGS) -p no:cacheprovider

notebooks: $(STAMP) $(TEXT_STAMP)
	$(BIN)/python -m helpers.execute $(NB)

# Train every model the notebooks use from its recipe in helpers.trained and store it in helpers/weights/
# (weights and model cards). MODELS=simple_cnn for just one.
MODELS ?=
weights: $(STAMP) $(TEXT_STAMP)
	$(BIN)/python -m helpers.trained $(MODELS)

bench: $(STAMP)
	@for b in $(sort $(wildcard benchmarks/bench_*.py)); do \
		echo "== $$b"; $(BIN)/python $$b || exit 1; done

# Notebook 07 as a standalone web app, bound to this machine only (127.0.0.1), behind a token: Voila's
# --token flag makes jupyter_server generate one inside the process (never on a command line, where ps
# would show it to every local user) and print the address with it. To choose the token, put it in a
# file readable only by you and pass its path: JUPYTER_TOKEN_FILE=~/.app-token make app.
# APP_ARGS passes more options to Voila (e.g. APP_ARGS=--Voila.port_retries=0).
APP_PORT ?= 8866
APP_ARGS ?=
app: $(STAMP)
	@echo "Starting the explorer app (notebooks/07_explorer.ipynb) on port $(APP_PORT) of 127.0.0.1, behind a token:"
	@echo "open the address that Voila prints below, token included (only this machine can reach it, and only"
	@echo "with the token; Ctrl-C stops it)."
	$(BIN)/voila notebooks/07_explorer.ipynb --no-browser --Voila.ip=127.0.0.1 --port=$(APP_PORT) --token $(APP_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
