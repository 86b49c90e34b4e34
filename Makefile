# haul -- build, test and install.
#
#   make              build bin/haul-scheduler and bin/haul-worker
#   make test         unit tests, then integration tests against real servers
#                     (installs missing Debian packages first when run as root)
#   make unit         unit tests only (no servers)
#   make demo         the notebook's job on this machine, without Docker
#   make deps         install the Debian packages haul needs to build and test
#   make SANITIZER=address,undefined test
#   make TEST_PREFIX="valgrind --error-exitcode=9" unit

PKGS      := hiredis msgpack libcurl openssl expat jansson
CC        ?= cc
OPT       ?= -O2
CFLAGS    ?= $(OPT) -g
# Error sentences are composed into fixed HAUL_ERR_LEN buffers on purpose:
# a truncated sentence beats an allocation on an error path.
WARN      := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Werror -Wno-format-truncation
CPPFLAGS  += -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS = -std=c11 $(WARN) $(CFLAGS) $(CPPFLAGS) $(PKG_CFLAGS) -Icommon -MMD -MP
LDLIBS    += $(PKG_LIBS) -lm

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
# The scheduler's modules other than main.o, so unit tests can link them.
SCHED_LIBOBJ  := $(filter-out $(B)/scheduler/main.o,$(SCHED_OBJ))
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)

LIB := $(B)/libhaul.a
BINS := bin/haul-scheduler bin/haul-worker

.PHONY: all test unit integration demo deps check-deps clean install
all: $(BINS)

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIB): $(COMMON_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

bin/haul-scheduler: $(SCHED_OBJ) $(LIB)
	@mkdir -p bin
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bin/haul-worker: $(WORKER_OBJ) $(LIB)
	@mkdir -p bin
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/tests/%: $(B)/tests/unit/%.o $(SCHED_LIBOBJ) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Packages: build, the real servers the tests start, and the reference tools.
DEB_PKGS := build-essential pkg-config libhiredis-dev libmsgpack-dev \
	libcurl4-openssl-dev libssl-dev libexpat1-dev libjansson-dev \
	redis-server memcached swift swift-proxy swift-account swift-container \
	swift-object python3-swift python3-swiftclient curl iproute2 util-linux procps

deps:
	@tests/lib/deps.sh $(DEB_PKGS)

unit: $(UNIT_BIN)
	@tests/run-unit.sh $(TEST_PREFIX) -- $(UNIT_BIN)

integration: $(BINS)
	@tests/run-integration.sh

test: deps
	@$(MAKE) --no-print-directory all $(UNIT_BIN)
	@tests/run-all.sh $(UNIT_BIN)

demo: deps
	@$(MAKE) --no-print-directory all
	@tests/demo.sh

PREFIX ?= /usr/local
install: $(BINS)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(BINS) $(DESTDIR)$(PREFIX)/bin

clean:
	rm -rf $(B) bin

-include $(COMMON_OBJ:.o=.d) $(SCHED_OBJ:.o=.d) $(WORKER_OBJ:.o=.d) $(UNIT_SRC:tests/unit/%.c=$(B)/tests/unit/%.d)
