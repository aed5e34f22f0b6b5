# Nova on Twisted.  `make run` runs the cloud, `make test` runs the tests,
# `make services` installs and starts the real back-ends (as root).

PYTHON ?= python3
VENV ?= .venv
PY = $(VENV)/bin/python
STATE ?= $(CURDIR)/var
FLAGS ?=
TESTS ?= tests

.PHONY: run test venv services stop-services sample check-sample clean bench guest

$(VENV)/.installed: setup.py
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip wheel
	$(VENV)/bin/pip install -q -e '.[test]' --config-settings editable_mode=compat
	@if pkg-config --exists mariadb 2>/dev/null || pkg-config --exists mysqlclient 2>/dev/null; then \
		$(VENV)/bin/pip install -q -e '.[mysql]' --config-settings editable_mode=compat; fi
	@if pkg-config --exists libvirt 2>/dev/null; then $(VENV)/bin/pip install -q -e '.[libvirt]' --config-settings editable_mode=compat; fi
	$(PY) -c "from twisted.plugin import getPlugins, IPlugin; from twisted.plugins import nova_services; list(getPlugins(IPlugin))"
	touch $@

venv: $(VENV)/.installed

# Run every service in one process on the embedded defaults (SQLite under
# ./var, the in-process bus, fake drivers), printing endpoints and credentials.
run: venv
	@mkdir -p $(STATE)
	$(VENV)/bin/nova-manage --state_path=$(STATE) $(FLAGS) db sync
	@bash tools/first-run.sh $(STATE) $(FLAGS)
	$(VENV)/bin/twistd -n --pidfile= nova-all --state_path=$(STATE) $(FLAGS)

test: venv
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

bench: venv
	$(PY) benchmarks/rpc.py

clean:
	rm -rf $(VENV) _trial_temp var
