# haul -- build, test and install.
#
#   make              build bin/haul-scheduler and bin/haul-worker
#   make test         unit tests, then integration tests against real servers
#                     (installs missing Debian packages first when run as root)
#   make unit         unit tests only (no servers)
#   make demo         the notebook's job on this machine, without Docker
#   make test-compose only the Docker Compose test: images, compose.yaml, the job
#                     (make test runs it too, with the other integration tests)
#   make deps         install the Debian packages haul needs to build and test
#   make SANITIZER=address,undefined test
#   make TEST_PREFIX="valgrind --error-exitcode=9" unit
#   make fuzz         libFuzzer targets, FUZZ_SECONDS (60) each (clang; see below)
#   make fuzz-smoke   the same for 15 s each, as CI runs them
#   make up           the main job with Docker (installs and starts it when missing)
#   make bench        the benchmark (bench/run.sh, as root); make bench-window its big-job row
#   make vectors      remake tests/vectors/vectors.json (the conformance vectors) with python/haul

PKGS      := hiredis msgpack libcurl openssl expat jansson libzip libmicrohttpd
CC        ?= cc
OPT       ?= -O2
CFLAGS    ?= $(OPT) -g
# Error sentences are composed into fixed HAUL_ERR_LEN buffers on purpose:
# a truncated sentence beats an allocation on an error path.
WARN      := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Werror -Wno-format-truncation
CPPFLAGS  += -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS = -std=c11 -pthread $(WARN) $(CFLAGS) $(CPPFLAGS) $(PKG_CFLAGS) -Icommon -MMD -MP
LDLIBS    += $(PKG_LIBS) -lm -pthread

# The tests learn of it: a sanitizer's shadow memory makes RSS figures meaningless.
export HAUL_SANITIZER := $(SANITIZER)
ifneq ($(SANITIZER),)
ALL_CFLAGS += -fsanitize=$(SANITIZER) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS    += -fsanitize=$(SANITIZER)
endif

B := build
COMMON_SRC := $(wildcard common/*.c)
SCHED_SRC  := $(wildcard scheduler/*.c)
WORKER_SRC := $(wildcard worker/*.c)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)

COMMON_OBJ := $(COMMON_SRC:%.c=$(B)/%.o)
SCHED_OBJ  := $(SCHED_SRC:%.c=$(B)/%.o)
WORKER_OBJ := $(WORKER_SRC:%.c=$(B)/%.o)
# The scheduler's modules other than main.o, so unit tests can link them; the
# worker's, as an archive, so a test links only the modules it uses.
SCHED_LIBOBJ  := $(filter-out $(B)/scheduler/main.o,$(SCHED_OBJ))
WORKER_LIB    := $(B)/libworker.a
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)

LIB := $(B)/libhaul.a
BINS := bin/haul-scheduler bin/haul-worker

.PHONY: all test unit integration test-compose demo deps check-deps clean install
all: $(BINS)

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The dashboard's page is built into the scheduler (scheduler/dashboard.c, .incbin).
$(B)/scheduler/dashboard.o: scheduler/dashboard.html

$(LIB): $(COMMON_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

bin/haul-scheduler: $(SCHED_OBJ) $(LIB)
	@mkdir -p bin
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bin/haul-worker: $(WORKER_OBJ) $(LIB)
	@mkdir -p bin
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(WORKER_LIB): $(filter-out $(B)/worker/main.o,$(WORKER_OBJ))
	@rm -f $@
	$(AR) rcs $@ $^

$(B)/tests/%: $(B)/tests/unit/%.o $(SCHED_LIBOBJ) $(WORKER_LIB) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Packages: build, the real servers the tests start, and the reference tools
# (prometheus scrapes the metrics in test_metrics; chromium, with a font to
# draw text, loads the dashboard in test_dashboard).
DEB_PKGS := build-essential pkg-config libhiredis-dev libmsgpack-dev \
	libcurl4-openssl-dev libssl-dev libexpat1-dev libjansson-dev libzip-dev libmicrohttpd-dev \
	redis-server memcached swift swift-proxy swift-account swift-container \
	swift-object python3-swift python3-swiftclient python3-boto3 python3-msgpack redis-tools \
	strace curl iproute2 util-linux procps prometheus chromium fonts-dejavu-core \
	python3-redis python3-cryptography python3-pytest python3-pandas python3-tqdm \
	jupyter-nbconvert python3-ipykernel python3-pip python3-setuptools python3-venv

deps:
	@tests/lib/deps.sh $(DEB_PKGS)

unit: $(UNIT_BIN)
	@tests/run-unit.sh $(TEST_PREFIX) -- $(UNIT_BIN)

integration: $(BINS)
	@tests/run-integration.sh

test: deps
	@$(MAKE) --no-print-directory all $(UNIT_BIN)
	@tests/run-all.sh $(UNIT_BIN)

# tests/integration/test_compose.sh is one of the integration tests; this runs it alone.
test-compose:
	@bash tests/integration/test_compose.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@tests/demo.sh

# The main job with Docker (docker/up.sh): Docker and Compose installed and
# started when missing (as root), then `docker compose up` or `docker-compose up`.
.PHONY: up
up:
	@docker/up.sh $(UP_ARGS)

# The benchmark (bench/run.sh; not part of test): it installs what it needs (the Python
# contenders, nginx, wrk, libnetfilter-queue-dev) and then builds all and bench-tools itself.
.PHONY: bench bench-window
bench: deps
	@bash bench/run.sh

# Redis memory and keys/s of a 10,000,000-key job (bench/window.sh; no root, no store).
bench-window: all
	@bash bench/window.sh

# bench/netdelay holds the store's packets to make it look remote (bench/lib/net.sh); it
# needs libnetfilter_queue (Debian libnetfilter-queue-dev), which may have no .pc file.
NFQ_CFLAGS = $(shell pkg-config --cflags libnetfilter_queue 2>/dev/null)
NFQ_LIBS   = $(shell pkg-config --libs libnetfilter_queue 2>/dev/null || echo -lnetfilter_queue -lnfnetlink)
.PHONY: bench-tools
bench-tools: $(B)/bench/netdelay $(B)/bench/bigobj $(B)/bench/filecost

$(B)/bench/netdelay: bench/netdelay.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(NFQ_CFLAGS) $(LDFLAGS) -o $@ $< $(NFQ_LIBS)

# bench/bigobj writes workload 4's large objects (AES-CTR keystream) and prints their MD5.
$(B)/bench/bigobj: bench/bigobj.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(shell pkg-config --libs libcrypto)

# bench/filecost: what writing a file costs the kernel alone, haul's way (README, Benchmark).
$(B)/bench/filecost: bench/filecost.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $<

# libFuzzer targets (tests/fuzz/): the task codec and the listing and header
# parsers against arbitrary bytes, under ASan (leaks included) and UBSan.
# common/ is rebuilt with clang and coverage instrumentation into $(B)/fuzz/obj/,
# apart from the normal build. tests/fuzz/run.sh runs each target on a fresh
# copy of its seeds (tests/fuzz/corpus/<target>/) and prints the reproducer of
# any failure; FUZZ_ARGS adds libFuzzer flags, FUZZ_JOBS sets how many run at once.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# Same warnings as the normal build; clang 14 has no -Wformat-truncation to turn off.
FUZZ_CFLAGS  := -std=c11 $(WARN) -Wno-unknown-warning-option -O1 -g $(FUZZ_SAN) \
	$(CPPFLAGS) $(PKG_CFLAGS) -Icommon -MMD -MP
# clang, its fuzzer runtime (libclang-rt-dev pulls the one matching clang), and
# the libraries haul builds against.
FUZZ_PKGS    := clang libclang-rt-dev $(filter pkg-config lib%-dev,$(DEB_PKGS))
FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN     := $(FUZZ_SRC:tests/fuzz/%.c=$(B)/fuzz/%)
FUZZ_OBJ     := $(COMMON_SRC:%.c=$(B)/fuzz/obj/%.o)
FUZZ_HOBJ    := $(FUZZ_SRC:%.c=$(B)/fuzz/obj/%.o)
FUZZ_LIB     := $(B)/fuzz/libhaul.a

.PHONY: fuzz fuzz-smoke fuzz-build fuzz-deps fuzz-seeds

$(FUZZ_OBJ) $(FUZZ_HOBJ): $(B)/fuzz/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_LIB): $(FUZZ_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(FUZZ_BIN): $(B)/fuzz/%: $(B)/fuzz/obj/tests/fuzz/%.o $(FUZZ_LIB)
	$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $^ $(PKG_LIBS) -lm

fuzz-deps:
	@tests/lib/deps.sh $(FUZZ_PKGS)

fuzz-build: $(FUZZ_BIN)

fuzz: fuzz-deps
	@$(MAKE) --no-print-directory fuzz-build
	@tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_BIN)

fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=15

# fuzz_task's seeds are encoded tasks: regenerate them when the wire format changes.
$(B)/fuzz/gen_seeds: tests/fuzz/gen_seeds.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

fuzz-seeds: $(B)/fuzz/gen_seeds
	@mkdir -p tests/fuzz/corpus/fuzz_task
	$(B)/fuzz/gen_seeds tests/fuzz/corpus/fuzz_task
	PYTHONPATH=python /usr/bin/python3 python/tests/make_fuzz_seeds.py tests/fuzz/corpus/fuzz_task

# The conformance vectors both codecs check (tests/unit/test_vectors.c, python/tests/test_vectors.py),
# made by the Python codec: remake them only when the wire format changes, then commit them.
.PHONY: vectors
vectors:
	PYTHONPATH=python /usr/bin/python3 python/tests/make_vectors.py >tests/vectors/vectors.json

-include $(FUZZ_OBJ:.o=.d) $(FUZZ_HOBJ:.o=.d) $(B)/fuzz/gen_seeds.d

PREFIX ?= /usr/local
install: $(BINS)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(BINS) $(DESTDIR)$(PREFIX)/bin

clean:
	rm -rf $(B) bin

-include $(COMMON_OBJ:.o=.d) $(SCHED_OBJ:.o=.d) $(WORKER_OBJ:.o=.d) $(UNIT_SRC:tests/unit/%.c=$(B)/tests/unit/%.d)
