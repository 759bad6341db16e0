# The course's commands. On a fresh machine with Python 3.11: `make`, then `make test`.
#
#   make          install (once; Debian's bubblewrap too), build the site in English and in Chinese,
#                 regenerate exercises/ and exercises-zh/, grade the demo class
#   make test     the whole test suite, on the CPU
#   make grade    grade submitted/ sandboxed and in parallel, on Dask (ASSIGNMENT=name for one;
#                 DASK_SCHEDULER=tcp://host:8786 for a cluster's workers)
#   make book     only the site: the class edition, into _build/html (no learner function printed)
#   make book LANG=zh   the class edition in Simplified Chinese, into _build/zh/_build/html (and, for the
#                 published site, into _build/html/zh/): the same pages read through the gettext catalogs of
#                 locales/zh_CN/; it reuses the English build's execution cache and executes nothing
#   make locales  extract the book's messages and update the catalogs of locales/ (sphinx-intl)
#   make book EDITION=reader   the reader edition, into _build/reader/_build/html: the same book with the
#                 reference code of every learner function at the end of its chapter (for self-learners,
#                 or to publish after a deadline); it reuses the class build's execution cache
#   make serve    serve the built site on http://127.0.0.1:8000/ (PORT=... to change; EDITION=reader)
#   make lab      JupyterLab on exercises/ for learners, with nbgrader's extensions
#   make learner-kit  the learner environment without the reference's answers, in _build/learner-kit/
#                 (and _build/learner-kit.tar.gz to hand out); see the README
#   make hub      the course on a JupyterHub on http://127.0.0.1:8100/ (as root): an instructor with nbgrader's
#                 formgrader, two learners, nbgrader's exchange; the accounts and passwords are printed
#   make bench    the benchmarks of benchmarks/ (bench_layer.py writes benchmarks/results/ for chapter 08;
#                 the tables go to benchmarks/RESULTS.md by hand)
#   make clean    remove everything generated except .venv
#
# Every step is a file target, so a second `make` with nothing changed reinstalls nothing and
# re-executes nothing (the book also keeps an execution cache in _build/.jupyter_cache).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := all
.DELETE_ON_ERROR:

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
STAMPS := _build/stamps
# nbgrader runs tools of its environment (alembic) by name, so the venv comes first on PATH.
export PATH := $(CURDIR)/$(BIN):$(PATH)

ASSIGNMENTS := $(sort $(notdir $(wildcard solutions/[0-9][0-9]_*)))
SOLUTIONS := $(foreach a,$(ASSIGNMENTS),solutions/$(a)/$(a).ipynb)
# The course's reference and checks (the chapters import it: a change re-executes them), and the grader.
LIBRARY := $(shell find mhsa_ref -name '*.py' -o -path 'mhsa_ref/data/*' -type f)
GRADER := $(shell find grader -name '*.py')
# Measured results that chapter 08 reads (benchmarks/bench_layer.py writes them).
RESULTS := $(wildcard benchmarks/results/*.json)
CHAPTERS := $(wildcard chapters/*.md chapters/*.ipynb chapters/*.png chapters/*.svg)
DEMO := $(shell find tests/demo_submissions -name '*.ipynb' 2>/dev/null)

.PHONY: locales all install system-packages test-packages hub-packages hub exercises book grade-demo grade where test serve lab learner-kit bench clean

all: book $(STAMPS)/book-zh $(STAMPS)/exercises-zh grade-demo where

# --- environment -----------------------------------------------------------------------------
install: $(INSTALLED)

# The goals that grade (`make`, `make grade`) check the system packages first, before any other work
# (order-only: the check never makes the install stale). `make lab` and the others do not need them.
# UNSANDBOXED=1 make grade runs without bubblewrap, so it does not need it.
GRADING_GOALS := $(filter all grade-demo where $(if $(UNSANDBOXED),,grade),$(or $(MAKECMDGOALS),all))
$(INSTALLED): pyproject.toml constraints.txt | $(if $(GRADING_GOALS),system-packages)
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "Python 3.10+ is needed, found " + sys.version' \
	  || { echo "make: install Python 3.11 (Debian: apt-get install python3 python3-venv) and run make again"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) \
	  || { echo "make: '$(PYTHON) -m venv' failed; on Debian or Ubuntu: apt-get install python3-venv"; exit 1; }
	@# pip compiles every installed file on one core; compileall does the same on every core (about 45 s less here).
	@# As with pip, a file that does not compile (test data written for a newer Python) is skipped.
	@# --quiet twice: pip's errors only, not the warnings a machine's own pip configuration causes (an index folder
	@# it names that does not exist); a failed install still stops make with pip's error.
	$(BIN)/python -m pip install --quiet --quiet --no-compile -c constraints.txt -e '.[book,grading,test]'
	$(BIN)/python -m compileall -q -j 0 "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
	  > /dev/null || true
	touch $@

# Debian packages, each with a file that shows it is there. `make` needs bubblewrap (the grading
# sandbox of the demo class); `make test` also needs chromium (the browser tests, driven by Playwright
# at /usr/bin/chromium; no browser is ever downloaded) and postgresql (the shared-gradebook test).
# Missing ones are installed with apt-get as root, before any other work; otherwise make stops first
# and prints the one line to run. SYSTEM_ROOT, APT_GET and AS_ROOT exist for tests/test_course/test_make.py.
RUN_PACKAGES := bubblewrap:/usr/bin/bwrap
# `make hub` needs Node.js and npm (JupyterHub's configurable-http-proxy) besides bubblewrap.
HUB_PACKAGES := nodejs:/usr/bin/node npm:/usr/bin/npm
TEST_PACKAGES := chromium:/usr/bin/chromium postgresql:/usr/lib/postgresql $(HUB_PACKAGES)
SYSTEM_ROOT ?=
APT_GET ?= apt-get
AS_ROOT ?= $(shell [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && echo yes)

define apt_install
missing=""; for entry in $(1); do \
  [ -e "$(SYSTEM_ROOT)$${entry#*:}" ] || missing="$$missing $${entry%%:*}"; done; \
if [ -n "$$missing" ]; then \
  if [ -n "$(AS_ROOT)" ]; then \
    echo "make: installing Debian packages:$$missing"; \
    $(APT_GET) update -qq && DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -qq --no-install-recommends $$missing; \
  else \
    echo "make: these Debian packages are missing:$$missing (and make cannot install them: it is not root with apt-get)"; \
    echo "      install them with:  sudo apt-get update && sudo apt-get install -y$$missing"; \
    exit 1; \
  fi; \
fi
endef

system-packages:
	@$(call apt_install,$(RUN_PACKAGES))

test-packages:
	@$(call apt_install,$(RUN_PACKAGES) $(TEST_PACKAGES))

hub-packages:
	@$(call apt_install,$(RUN_PACKAGES) $(HUB_PACKAGES))

# --- exercises: nbgrader's release, generated from solutions/ ---------------------------------
# exercises-zh/ is the same release with its instructions in Chinese (locales/zh_CN/: see the book's languages).
CATALOGS := $(shell find locales -name '*.po' 2>/dev/null)
EXERCISE_CATALOGS := $(filter locales/zh_CN/LC_MESSAGES/exercises/%,$(CATALOGS))
exercises: $(STAMPS)/exercises $(STAMPS)/exercises-zh

$(STAMPS)/exercises: $(INSTALLED) $(SOLUTIONS) nbgrader_config.py
	@mkdir -p $(STAMPS)
	rm -rf _build/release
	$(BIN)/nbgrader generate_assignment "[0-9][0-9]_*" --force --log-level=ERROR \
	  --CourseDirectory.release_directory=_build/release
	@# into exercises/ one file at a time, each replaced whole (a rename): nothing reading exercises/ meanwhile
	@# (a test, a learner's server) ever finds a notebook missing or half written, as nbgrader's --force would leave it
	for f in _build/release/*/*; do \
	  dest="exercises/$${f#_build/release/}"; mkdir -p "$$(dirname "$$dest")"; \
	  cmp -s "$$f" "$$dest" || { cp "$$f" "$$dest.tmp" && mv "$$dest.tmp" "$$dest"; }; \
	done
	touch $@

# The same notebooks with their markdown in Chinese, from the catalogs (each replaced whole, as above). Its own
# step: a changed translation regenerates neither the release nor the English book.
$(STAMPS)/exercises-zh: $(STAMPS)/exercises $(EXERCISE_CATALOGS) _ext/mhsa_languages.py
	$(BIN)/python _ext/mhsa_languages.py exercises zh exercises-zh > /dev/null
	touch $@

# --- the static site --------------------------------------------------------------------------
# Two editions from one source (_ext/mhsa_editions.py): EDITION=class (the default, _build/html) prints
# no learner function; EDITION=reader (_build/reader/_build/html: jupyter-book puts its output in
# <--path-output>/_build) adds their reference code. Both share the execution cache _build/.jupyter_cache.
EDITION ?= class
ifeq ($(filter $(EDITION),class reader),)
$(error EDITION=$(EDITION): the book has the editions class (the default) and reader)
endif
# Two languages from one source (_ext/mhsa_languages.py): LANG=en (the default) and LANG=zh, given on make's
# command line. The LANG of the environment is the locale (C.UTF-8, zh_CN.UTF-8) and picks nothing here; a
# LANG=zh given to make is not passed on to the programs make runs, which keep the C locale.
ifeq ($(origin LANG),command line)
BOOK_LANG := $(LANG)
unexport LANG
else
BOOK_LANG := en
endif
ifeq ($(filter $(BOOK_LANG),en zh),)
$(error LANG=$(BOOK_LANG): the book has the languages en (the default) and zh)
endif
ifeq ($(BOOK_LANG)$(EDITION),zhreader)
$(error LANG=zh EDITION=reader: the Chinese edition is the class edition; build it with make book LANG=zh)
endif
BOOK_STAMP := $(STAMPS)/book$(if $(filter reader,$(EDITION)),-reader)$(if $(filter zh,$(BOOK_LANG)),-zh)
SITE := $(if $(filter reader,$(EDITION)),_build/reader/_build/html,$(if $(filter zh,$(BOOK_LANG)),_build/zh/_build/html,_build/html))
book: $(BOOK_STAMP)

# The execution cache keys on a chapter's code cells only, and Sphinx re-reads a page only when its
# source changed; the chapters import mhsa_ref, so a change there clears the cache and rebuilds
# every page (--all), or the site would show what the old library printed. Recorded benchmark
# results count as library: chapter 08 prints them.
$(STAMPS)/library: $(LIBRARY) $(RESULTS)
	@mkdir -p $(STAMPS)
	rm -rf _build/.jupyter_cache
	touch $@

# Sphinx re-reads a page only when its source changed: a changed library (above), extension or table of contents
# changes pages whose source did not, so each of them makes a build re-read every page (--all).
REREAD = $(if $(filter $(STAMPS)/library _ext/%.py _toc.yml,$?),--all)

BOOK_INPUTS := $(INSTALLED) $(STAMPS)/exercises $(STAMPS)/library _config.yml _toc.yml references.bib \
  $(wildcard _static/*) $(wildcard _ext/*.py) $(CHAPTERS)

$(STAMPS)/book: $(BOOK_INPUTS)
	MHSA_EDITION=class $(BIN)/jupyter-book build . -W -n --keep-going $(REREAD)
	touch $@

# The Chinese edition: _config.yml with locales/zh_CN/_config.yml merged in (its title and language), after the
# English build, whose execution cache it reads (it executes nothing), and copied into the English site's zh/ so
# that the two link to each other wherever the site is published.
ZH_CONFIG := _build/zh/_config.yml
$(ZH_CONFIG): _config.yml locales/zh_CN/_config.yml _ext/mhsa_languages.py
	@mkdir -p $(@D)
	$(BIN)/python _ext/mhsa_languages.py config zh $@

$(STAMPS)/book-zh: $(BOOK_INPUTS) $(ZH_CONFIG) $(CATALOGS) $(STAMPS)/book
	@# its log is kept: tests/test_course/test_languages.py reads there that every chapter came from the cache
	MHSA_EDITION=class $(BIN)/jupyter-book build . --config $(ZH_CONFIG) --path-output _build/zh -W -n --keep-going \
	  $(REREAD) 2>&1 | tee _build/zh/build.log
	rm -rf _build/html/zh.tmp && cp -R _build/zh/_build/html _build/html/zh.tmp
	rm -rf _build/html/zh && mv _build/html/zh.tmp _build/html/zh
	touch $@

# The messages of every page (the gettext builder, on the English build's outputs), merged into the catalogs:
# a new message is added untranslated, a changed one is marked fuzzy (its old translation kept as a hint), and
# tests/test_course/test_languages.py fails until each is translated.
locales: $(STAMPS)/book
	rm -rf _build/gettext
	MHSA_EDITION=class $(BIN)/jupyter-book build . --path-output _build/gettext --builder custom \
	  --custom-builder gettext -W --keep-going
	$(BIN)/sphinx-intl update --pot-dir _build/gettext/_build/gettext --locale-dir locales --language zh_CN \
	  --line-width -1

$(STAMPS)/book-reader: $(BOOK_INPUTS)
	MHSA_EDITION=reader $(BIN)/jupyter-book build . --path-output _build/reader -W -n --keep-going $(REREAD)
	touch $@

# --- the demo class, graded through the fast path (`make grade`: sandboxed workers, the judge) -----
# Its verdicts are kept per notebook, so a change to the library regrades only what it changes.
grade-demo: $(STAMPS)/grade-demo

$(STAMPS)/grade-demo: $(STAMPS)/exercises $(DEMO) $(LIBRARY) $(GRADER)
	mkdir -p submitted
	cp -R tests/demo_submissions/. submitted/
	$(BIN)/python -m grader.run --quiet
	touch $@

# Grade the class in submitted/: sandboxed (bubblewrap), in parallel, points decided by the judge
# outside the notebooks, each notebook a Dask task: on a LocalCluster in the grading process, or on the
# cluster whose scheduler DASK_SCHEDULER names (tcp://host:8786; README: Grading on a cluster).
# ASSIGNMENT=name for one assignment; UNSANDBOXED=1 runs learner code with your permissions (only where
# bubblewrap cannot be installed).
grade: $(STAMPS)/exercises
	$(BIN)/python -m grader.run $(if $(ASSIGNMENT),--assignment $(ASSIGNMENT)) $(if $(UNSANDBOXED),--unsandboxed)

where: $(STAMPS)/grade-demo
	@$(BIN)/python -m grader.report report

# --- tests, benchmarks, learners ----------------------------------------------------------------
# On every core (pytest-xdist), a test file to a worker: module fixtures (a graded class, a built kit)
# are made once. The longest files go first (tests/conftest.py: LONGEST_FIRST), and the tests that need
# the built site share one `make` (conftest.py: made). One PyTorch thread per process: the workers and
# the kernels, graders and servers they start already fill the cores, and two threads each made every
# process wait on the others (a notebook run took 648 s for 45 s of work, RESULTS.md, issue 28).
# The course's own modules are compiled first, as the install compiles the libraries: the suite starts some
# hundreds of Pythons (kernels, graders, nbgrader), and where PYTHONDONTWRITEBYTECODE is set none of them
# would keep what it compiled.
test: test-packages $(INSTALLED) hub/node_modules/.bin/configurable-http-proxy
	$(BIN)/python -m compileall -q -j 0 mhsa_ref grader tests _ext hub > /dev/null
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n auto --dist loadfile --no-loadscope-reorder

# The built site on loopback, as any static host would serve it (PORT=8000 by default).
PORT ?= 8000
serve: $(BOOK_STAMP)
	@echo "Serving $(SITE) ($(EDITION) edition) at http://127.0.0.1:$(PORT)/ (Ctrl-C stops)"
	$(BIN)/python -m http.server $(PORT) --bind 127.0.0.1 --directory $(SITE)

# LAB_DIR and LAB_ARGS let a test (or a learner) start the same server elsewhere, e.g. on another port.
# No news feed and no update check: the lab works offline and never reaches outside.
LAB_DIR ?= exercises
lab: $(STAMPS)/exercises
	$(BIN)/jupyter lab --ServerApp.root_dir=$(LAB_DIR) $(if $(filter 0,$(shell id -u)),--allow-root) \
	  --LabApp.news_url=None --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate $(LAB_ARGS)

# The learner environment: exercises/, mhsa_ref with every learner function withheld (its visible
# checks answered from stored expectations, its hidden checks and the grader left out), a
# pyproject.toml and a README that says how to install it (python -m grader.kit).
KIT := _build/learner-kit
learner-kit: $(KIT).tar.gz

$(KIT).tar.gz: $(STAMPS)/exercises $(STAMPS)/exercises-zh $(LIBRARY) $(GRADER) $(SOLUTIONS) pyproject.toml constraints.txt
	rm -rf $(KIT) $@
	$(BIN)/python -m grader.kit $(KIT)
	tar -czf $@ -C _build learner-kit

# The course on a JupyterHub, on loopback (hub/jupyterhub_config.py says who is who): an instructor with
# nbgrader's formgrader, two learners in the learner kit's environment, nbgrader's exchange. As root (the hub
# starts each account's server as its Unix user). HUB_DIR holds its state; HUB_FRESH=1 starts from nothing.
HUB_DIR ?= _build/hub
HUB_PORT ?= 8100
# HUB_KIT=folder: a learner kit built elsewhere (python -m grader.kit folder) instead of make learner-kit's.
hub: hub-packages $(INSTALLED) $(if $(HUB_KIT),,$(KIT).tar.gz) hub/node_modules/.bin/configurable-http-proxy
	$(BIN)/python hub/setup_hub.py $(HUB_DIR) $(if $(HUB_FRESH),--fresh)
	@$(BIN)/python hub/setup_hub.py $(HUB_DIR) --show http://127.0.0.1:$(HUB_PORT)/
	cd $(HUB_DIR) && HUB_DIR=$(abspath $(HUB_DIR)) HUB_PORT=$(HUB_PORT) $(if $(HUB_KIT),HUB_KIT=$(abspath $(HUB_KIT))) \
	  $(CURDIR)/$(BIN)/jupyterhub -f $(CURDIR)/hub/jupyterhub_config.py --log-level=$(or $(HUB_LOG_LEVEL),WARN)

# JupyterHub's proxy, from npm at the versions of hub/package-lock.json (nothing is fetched when the hub runs)
hub/node_modules/.bin/configurable-http-proxy: hub/package.json hub/package-lock.json | hub-packages
	cd hub && npm ci --no-audit --no-fund --loglevel=error
	touch $@

bench: $(INSTALLED)
	$(BIN)/python benchmarks/bench_attention.py
	$(BIN)/python benchmarks/bench_layer.py

clean:
	rm -rf _build submitted autograded feedback gradebook.db grades.csv
