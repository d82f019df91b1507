# viommu front door. `make test` and `make bench` install what is missing (as root), configure,
# build and run; everything else is meson.

BUILD       ?= build
SAN_BUILD   ?= build-san
REL_BUILD   ?= build-release
MESON       ?= meson
FORMAT_SRC   = $(shell git ls-files --cached --others --exclude-standard '*.c' '*.h' 2>/dev/null)

.PHONY: all deps test-deps run-deps bench-deps run build qemu test test-gcc install-check test-san test-tsan format-check format bench fuzz clean

all: build

deps:
	@scripts/deps.sh build

test-deps:
	@scripts/deps.sh test integration run qemu

run-deps:
	@scripts/deps.sh run

bench-deps:
	@scripts/deps.sh bench

# The simulator's default scenario (seed 000's comparison and the cures): the table on stdout,
# JSON, CSV and plots in sim-out/.
SIM_ARGS ?=
run: run-deps $(REL_BUILD)/build.ninja
	$(MESON) compile -C $(REL_BUILD)
	$(REL_BUILD)/sim/viommu-sim -o sim-out $(SIM_ARGS)

$(BUILD)/build.ninja:
	$(MESON) setup $(BUILD)

build: deps $(BUILD)/build.ninja
	$(MESON) compile -C $(BUILD)

TSAN_BUILD  ?= build-tsan

# The whole suite with gcc, then again with clang under ASan+UBSan (plus the fuzz smoke runs),
# then the concurrency suite under TSan.
test: test-deps format-check test-gcc install-check test-san test-tsan

test-gcc: $(BUILD)/build.ninja
	$(MESON) compile -C $(BUILD)
	qemu/build.sh $(BUILD) $(BUILD)/qemu-viommu/qemu-system-x86_64
	$(MESON) test -C $(BUILD) --print-errorlogs

# QEMU with libviommu's devices, from Debian 12's qemu source package (qemu/build.sh): built once
# per glue and public-header version, cached under /var/cache/viommu/qemu; the integration suite
# runs $(BUILD)/qemu-viommu/qemu-system-x86_64 with LD_LIBRARY_PATH=$(BUILD)/src.
qemu: $(BUILD)/build.ninja
	@scripts/deps.sh qemu
	$(MESON) compile -C $(BUILD)
	qemu/build.sh $(BUILD) $(BUILD)/qemu-viommu/qemu-system-x86_64

# Every example, one per model (and per public component), each checking its own results.
EXAMPLES = iotlb_hello vtd_hello amdvi_hello smmuv3_hello calgary_hello virtio_iommu_hello devtlb_hello

# Install into a scratch DESTDIR and build every example the way an embedder would: installed
# headers, pkg-config, the shared library; then run each (each exits non-zero when a result is
# not the one it expects). README shows examples/vtd_hello.c whole: the copy must match.
install-check: $(BUILD)/build.ninja
	awk '/^<!-- examples\/vtd_hello.c -->$$/ { getline; on = 1; next } on && /^```$$/ { exit } \
		on { print }' README.md | cmp -s - examples/vtd_hello.c || \
		{ echo "README's 'Using the library' differs from examples/vtd_hello.c"; exit 1; }
	rm -rf $(BUILD)/destdir
	DESTDIR=$(CURDIR)/$(BUILD)/destdir $(MESON) install -C $(BUILD) --quiet
	set -e; root=$(CURDIR)/$(BUILD)/destdir; \
	pc=$$(dirname $$(find $$root -name viommu.pc)); \
	flags=$$(PKG_CONFIG_SYSROOT_DIR=$$root PKG_CONFIG_LIBDIR=$$pc pkg-config --cflags --libs viommu); \
	libdir=$$(dirname $$(find $$root -name 'libviommu.so' | head -n 1)); \
	for ex in $(EXAMPLES); do \
		echo "== examples/$$ex.c"; \
		$${CC:-cc} -std=c11 -Wall -Wextra -Werror examples/$$ex.c $$flags -o $(BUILD)/$$ex; \
		LD_LIBRARY_PATH=$$libdir $(BUILD)/$$ex; \
	done

$(SAN_BUILD)/build.ninja:
	CC=clang $(MESON) setup $(SAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false \
		-Dfuzz=true

test-san: $(SAN_BUILD)/build.ninja
	$(MESON) compile -C $(SAN_BUILD)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		$(MESON) test -C $(SAN_BUILD) --print-errorlogs --no-suite integration

$(TSAN_BUILD)/build.ninja:
	CC=clang $(MESON) setup $(TSAN_BUILD) -Db_sanitize=thread -Db_lundef=false

test-tsan: $(TSAN_BUILD)/build.ninja
	$(MESON) compile -C $(TSAN_BUILD)
	TSAN_OPTIONS=halt_on_error=1 $(MESON) test -C $(TSAN_BUILD) --suite concurrency \
		--print-errorlogs --no-rebuild

# Every libFuzzer target for FUZZ_SECONDS from its committed corpus (fuzz/corpus/<target>/), in
# the sanitizer build; one line per target with executions and coverage (libFuzzer's final
# stats), full logs and any crash input in $(SAN_BUILD)/fuzz-logs/. FUZZ_KEEP=DIR keeps the
# grown corpora. Fails if any target finds something.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS = iotlb pt vtd virtio_iommu devtlb devtlb_source vhost_msg vhost_sock
fuzz: $(SAN_BUILD)/build.ninja
	$(MESON) compile -C $(SAN_BUILD)
	@status=0; for t in $(FUZZ_TARGETS); do \
		fuzz/run.sh $(SAN_BUILD)/fuzz/fuzz_$$t fuzz/corpus/$$t $(FUZZ_SECONDS) \
			$(SAN_BUILD)/fuzz-logs/$$t.log || status=1; \
	done; exit $$status

format-check:
	@bad=0; for f in $(FORMAT_SRC); do \
		clang-format --dry-run --Werror "$$f" >/dev/null 2>&1 || { echo "not formatted: $$f"; bad=1; }; \
	done; \
	if [ $$bad -ne 0 ]; then echo "run 'make format' to fix"; exit 1; fi

format:
	clang-format -i $(FORMAT_SRC)

$(REL_BUILD)/build.ninja:
	$(MESON) setup $(REL_BUILD) --buildtype=release -Dtests=false

# The vhost suite boots the integration guest against viommu-vhost and DPDK's testpmd; the qemu
# suite boots it on QEMU's intel-iommu and on ours (qemu/build.sh's QEMU, built once if missing).
bench: bench-deps $(REL_BUILD)/build.ninja
	$(MESON) compile -C $(REL_BUILD)
	$(REL_BUILD)/bench/viommu-bench all

clean:
	rm -rf $(BUILD) $(SAN_BUILD) $(TSAN_BUILD) $(REL_BUILD)
