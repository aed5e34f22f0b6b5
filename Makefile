# Nova on Twisted.  `make run` runs the cloud, `make test` runs the tests,
# `make services` installs and starts the real back-ends (as root).

PYTHON ?= python3
VENV ?= .venv
PY = $(VENV)/bin/python
STATE ?= $(CURDIR)/var
FLAGS ?=
TESTS ?= tests

.PHONY: run test venv novnc services stop-services sample check-sample clean bench guest cloudpipe-image

# What running needs: Nova, and the MySQL and libvirt bindings where their
# libraries are installed.  One editable install (compat mode, so that
# twistd finds the plugins in twisted/plugins/).  pip's output goes to
# $(VENV)/install.log (setuptools says there that compat mode is
# deprecated), and is shown when an install fails.
PIP_LOGGED = $(VENV)/bin/pip install -q --config-settings editable_mode=compat
$(VENV)/.installed: setup.py
	$(PYTHON) -m venv $(VENV)
	@echo "installing Nova into $(VENV) (pip's output: $(VENV)/install.log)"
	@$(VENV)/bin/pip install -q --upgrade pip wheel > $(VENV)/install.log 2>&1 || { cat $(VENV)/install.log; exit 1; }
	@extras=""; \
	if pkg-config --exists mariadb 2>/dev/null || pkg-config --exists mysqlclient 2>/dev/null; then extras="mysql"; fi; \
	if pkg-config --exists libvirt 2>/dev/null; then extras="$${extras:+$$extras,}libvirt"; fi; \
	echo "$(VENV)/bin/pip install -e '.$${extras:+[$$extras]}'"; \
	$(PIP_LOGGED) -e ".$${extras:+[$$extras]}" >> $(VENV)/install.log 2>&1 || { cat $(VENV)/install.log; exit 1; }
	$(PY) -c "from twisted.plugin import getPlugins, IPlugin; from twisted.plugins import nova_services; list(getPlugins(IPlugin))"
	touch $@

# What the tests and benchmarks need besides: the aws CLI, boto 2, moto,
# libcloud, openstacksdk, Playwright, hypothesis.
$(VENV)/.test-installed: $(VENV)/.installed setup.py
	@echo "$(VENV)/bin/pip install -e '.[test]'"
	@$(PIP_LOGGED) -e '.[test]' >> $(VENV)/install.log 2>&1 || { cat $(VENV)/install.log; exit 1; }
	touch $@

venv: $(VENV)/.installed
	@bash tools/vendor-novnc.sh || echo "noVNC was not fetched (offline?): the dashboard's VNC console page will say it is missing; run 'make novnc' later"

# The noVNC client of the dashboard's VNC console: the pinned npm tarball,
# its integrity checked, unpacked under nova/api/dashboard/static/novnc.
novnc:
	bash tools/vendor-novnc.sh

# Run every service in one process on the embedded defaults (SQLite under
# ./var, the in-process bus, fake drivers), printing endpoints and credentials.
run: venv
	@mkdir -p $(STATE)
	$(VENV)/bin/nova-manage --state_path=$(STATE) $(FLAGS) db sync
	@bash tools/first-run.sh $(STATE) $(FLAGS)
	$(VENV)/bin/twistd -n --pidfile= nova-all --state_path=$(STATE) $(FLAGS)

# Two trial workers (JOBS=1 runs the tests one by one, in one process).
JOBS ?= 2
test: $(VENV)/.test-installed
	$(PY) -m twisted.trial -j$(JOBS) $(TESTS)

services:
	bash tools/services.sh

stop-services:
	bash tools/stop-services.sh

# The small test guest (kernel, ramdisk, machine image) of docs/libvirt.md,
# built from Debian's packages into var/test-guest (or $NOVA_TEST_GUEST_DIR).
guest:
	bash tools/build-test-guest.sh

# The cloudpipe image (kernel, ramdisk with OpenVPN, machine image) of
# docs/networking.md, built from Debian's packages into var/cloudpipe (or
# $NOVA_CLOUDPIPE_DIR).
cloudpipe-image:
	bash tools/build-cloudpipe-image.sh

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
