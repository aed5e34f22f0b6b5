# Nova on Twisted.  `make run` runs the cloud, `make test` runs the tests,
# `make services` installs and starts the real back-ends (as root).

PYTHON ?= python3
VENV ?= .venv
PY = $(VENV)/bin/python
STATE ?= $(CURDIR)/var
FLAGS ?=
TESTS ?= tests

.PHONY: run test venv services stop-services sample check-sample clean bench guest

# What running needs: Nova, and the MySQL and libvirt bindings where their
# libraries are installed.  One editable install (compat mode, so that
# twistd finds the plugins in twisted/plugins/).
$(VENV)/.installed: setup.py
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip wheel
	@extras=""; \
	if pkg-config --exists mariadb 2>/dev/null || pkg-config --exists mysqlclient 2>/dev/null; then extras="mysql"; fi; \
	if pkg-config --exists libvirt 2>/dev/null; then extras="$${extras:+$$extras,}libvirt"; fi; \
	echo "$(VENV)/bin/pip install -e '.$${extras:+[$$extras]}'"; \
	$(VENV)/bin/pip install -q -e ".$${extras:+[$$extras]}" --config-settings editable_mode=compat
	$(PY) -c "from twisted.plugin import getPlugins, IPlugin; from twisted.plugins import nova_services; list(getPlugins(IPlugin))"
	touch $@

# What the tests and benchmarks need besides: the aws CLI, boto 2, moto.
$(VENV)/.test-installed: $(VENV)/.installed setup.py
	$(VENV)/bin/pip install -q -e '.[test]' --config-settings editable_mode=compat
	touch $@

venv: $(VENV)/.installed

# Run every service in one process on the embedded defaults (SQLite under
# ./var, the in-process bus, fake drivers), printing endpoints and credentials.
run: venv
	@mkdir -p $(STATE)
	$(VENV)/bin/nova-manage --state_path=$(STATE) $(FLAGS) db sync
	@bash tools/first-run.sh $(STATE) $(FLAGS)
	$(VENV)/bin/twistd -n --pidfile= nova-all --state_path=$(STATE) $(FLAGS)

test: $(VENV)/.test-installed
	$(PY) -m twisted.trial $(TESTS)

services:
	bash tools/services.sh

stop-services:
	bash tools/stop-services.sh

# The small test guest (kernel, ramdisk, machine image) of docs/libvirt.md,
# built from Debian's packages into var/test-guest (or $NOVA_TEST_GUEST_DIR).
guest:
	bash tools/build-test-guest.sh

sample: venv
	$(PY) -c "from nova.config import sampleText; import sys; sys.stdout.write(sampleText())" > etc/nova/nova.conf.sample

# The documentation site: docs/*.md (Markdown, read by MyST) into
# docs/_build/html, with the flags reference generated from the flag
# definitions.  Warnings are errors.
.PHONY: docs
$(VENV)/.docs-installed: $(VENV)/.installed setup.py
	$(VENV)/bin/pip install -q -e '.[docs]' --config-settings editable_mode=compat
	touch $@

docs: $(VENV)/.docs-installed
	$(VENV)/bin/sphinx-build -W --keep-going -b html docs docs/_build/html

bench: $(VENV)/.test-installed
	$(PY) benchmarks/rpc.py

clean:
	rm -rf $(VENV) _trial_temp var
