# buddy-kmod - a kernel-space buddy allocator behind /dev/buddy.
#
# The two commands (README.md):  make run   and   make check
# Everything else is a piece of those two; `make help` lists them.

# The running kernel's headers; without them, Debian 12's stock kernel's
# headers from the cache (vm/kernels kdir stock).
KDIR ?= $(wildcard /lib/modules/$(shell uname -r)/build)
# Extra kbuild arguments, e.g. W=1 or C=2.
KBUILD_ARGS ?=

PREFIX ?= /usr/local
DESTDIR ?=
MODULE ?= auto

export KDIR

.PHONY: all module clean help run check test-core fuzz bench-core vm-test \
	kunit debug-kernel kernels lint buddyctl install uninstall ecosystem harden bench

all: module

help:
	@echo "make run [CMD='...']   boot the stock-kernel VM, run a program on /dev/buddy"
	@echo "make check             every test (installs what it needs as root)"
	@echo "make module            build buddy.ko against KDIR=$(or $(KDIR),<Debian 12's headers from the cache>)"
	@echo "make test-core         userspace tests of the core (ASan/UBSan)"
	@echo "make fuzz              libFuzzer on the core (FUZZ_SECONDS=60)"
	@echo "make bench-core        the core against glibc malloc"
	@echo "make vm-test           device tests in QEMU on both kernels"
	@echo "make kunit             KUnit suites in QEMU on the debug kernel"
	@echo "make debug-kernel      build (or reuse) the cached debug kernels (6.1 and 6.12)"
	@echo "make kernels           list the guest kernels and what the cache holds"
	@echo "make lint              checkpatch, sparse, W=1, clang-tidy, cppcheck"
	@echo "make buddyctl          build tools/buddyctl"
	@echo "make install           DESTDIR=, PREFIX=$(PREFIX), MODULE=auto|dkms|kbuild|none"
	@echo "make uninstall         remove what make install put in place"
	@echo "make ecosystem         DKMS, install, pkg-config and buddyctl tests"
	@echo "make harden            ioctl fuzzer, fault injection, isolation, 10-min load (~16 min)"
	@echo "make bench             benchmarks against glibc, jemalloc, tcmalloc (~15 min)"

module:
	@scripts/deps module
	@kdir='$(KDIR)'; if [ -z "$$kdir" ]; then kdir=$$(vm/kernels kdir stock) || exit; \
		echo "make module: no headers for $$(uname -r); building against $$kdir"; fi; \
	$(MAKE) -C "$$kdir" M=$(CURDIR) $(KBUILD_ARGS) modules

clean:
	-test -z "$(KDIR)" || $(MAKE) -C $(KDIR) M=$(CURDIR) clean
	$(MAKE) -C tests/core clean
	rm -rf build

test-core:
	$(MAKE) -C tests/core test-core

fuzz:
	$(MAKE) -C tests/core fuzz

bench-core:
	$(MAKE) -C tests/core bench-core

debug-kernel:
	scripts/deps debug-kernel
	vm/build-debug-kernel 6.1
	vm/build-debug-kernel 6.12

kernels:
	vm/kernels list

vm-test:
	vm/vm-test

kunit:
	kunit/run

run:
	scripts/deps run
	vm/demo $(if $(CMD),-- $(CMD))

check:
	scripts/check

lint:
	scripts/lint

buddyctl:
	$(MAKE) -C tools/buddyctl

install:
	scripts/deps install
	scripts/install DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" MODULE="$(MODULE)"

uninstall:
	scripts/deps install
	scripts/install --uninstall DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)"

ecosystem:
	tests/ecosystem/run

harden:
	scripts/deps harden
	tests/harden/run

bench:
	scripts/deps bench
	bench/run
