# vtest — make targets. Running scenarios and the integration tests needs
# root (or CAP_NET_ADMIN + CAP_SYS_ADMIN + CAP_NET_RAW). Works as root (CI),
# as a normal user with sudo (builds as you, runs only what needs privileges
# through sudo), and under sudo (still builds as you).

SHELL   := /bin/bash
# Go from PATH, or where the Go installer and Debian put it: sudo resets PATH
# to its secure_path, which has neither.
GO      ?= $(or $(shell command -v go 2>/dev/null),$(wildcard /usr/local/go/bin/go),$(wildcard /usr/lib/go/bin/go),go)
ROOT    := $(filter 0,$(shell id -u))
# Under sudo, build as the invoking user, so nothing root-owned lands in your
# tree or your Go caches.
AS_USER := $(if $(and $(ROOT),$(SUDO_USER),$(filter-out root,$(SUDO_USER))),sudo -u $(SUDO_USER) -H --)
# As a normal user, test binaries that need privileges run through sudo,
# like go test -exec sudo; the build stays yours.
SUDO    := $(if $(ROOT),,$(if $(shell command -v sudo 2>/dev/null),sudo))
TEST_EXEC := $(if $(SUDO),-exec sudo)
# govulncheck and the Go vulnerability database it reads, both through the
# Go module proxy: golang.org/x/vulndb keeps every entry as OSV JSON in
# data/osv, which govulncheck reads as a file:// database (no other network
# access). Raise VULNDB_VERSION to learn of newer vulnerabilities.
VULN_VERSION   ?= v1.9.0
VULNDB_VERSION ?= v0.0.0-20261105234957-e22db6528018
export PATH := $(if $(filter /%,$(GO)),$(patsubst %/,%,$(dir $(GO))):)$(PATH)
VERSION ?= $(shell $(AS_USER) git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS := -X github.com/vtest-dev/vtest/runner.Version=$(VERSION)

.PHONY: all build run test unit bench faults kernel-check deps lint vuln clean

all: build

build:
	$(AS_USER) $(GO) build -ldflags '$(LDFLAGS)' -o bin/vtest ./cmd/vtest

# Runs the built-in scenarios (as a normal user, vtest runs the suite through
# sudo; its -exec flag names another command).
run: build
	bin/vtest run ./scenarios

# Tools the tests use to cross-check vtest (never used by vtest itself).
deps:
	@missing=""; \
	command -v xmllint >/dev/null || missing="$$missing libxml2-utils"; \
	command -v prove   >/dev/null || missing="$$missing perl"; \
	command -v ip      >/dev/null || missing="$$missing iproute2"; \
	command -v nft     >/dev/null || missing="$$missing nftables"; \
	command -v setpriv >/dev/null || missing="$$missing util-linux"; \
	command -v tcpdump >/dev/null || missing="$$missing tcpdump"; \
	/usr/bin/python3 -c 'import junitparser' 2>/dev/null || missing="$$missing python3-junitparser"; \
	command -v sudo    >/dev/null || missing="$$missing sudo"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# The whole test suite: unit tests (no root needed) and integration tests
# that build real namespaces (root needed; they skip with a reason without it).
test: deps
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null | grep -v /testdata/))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) test $(TEST_EXEC) -count=1 -timeout 10m ./...

# The fault matrix: every way a run can end (pass, failure, panic, timeout,
# SIGINT/SIGTERM/SIGKILL at random moments, 20 times each), then checks that
# nothing survived and the host is unchanged.
faults: deps
	VTEST_FAULTS=1 $(GO) test $(if $(SUDO),-exec 'sudo VTEST_FAULTS=1') -count=1 -timeout 15m -v -run . ./faults/ > faults.log 2>&1; rc=$$?; \
	  grep -E -- '--- FAIL|^(FAIL|ok|PASS)|\.go:[0-9]+:' faults.log; echo "(full log: faults.log)"; exit $$rc

# The kernel matrix: runs the built-in and the misconfigured suites on the
# host kernel and, in QEMU VMs (TCG), on Debian 12's 6.1 and 6.12 kernels,
# and compares them. Installs qemu and the kernels with apt if it can (zstd
# too: 6.12's image is zstd-compressed, and the uncompressed kernel boots
# faster under TCG); a kernel it cannot install (or that lacks a module) is
# skipped with the reason.
KERNEL_PKGS := linux-image-amd64:/boot/vmlinuz-6.1.*-amd64 linux-image-6.12-amd64:/boot/vmlinuz-6.12.*-amd64
kernel-check: deps
	@missing=""; \
	command -v qemu-system-x86_64 >/dev/null || missing="$$missing qemu-system-x86"; \
	command -v zstd >/dev/null || missing="$$missing zstd"; \
	for pv in $(KERNEL_PKGS); do ls $${pv#*:} >/dev/null 2>&1 || missing="$$missing $${pv%%:*}"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq; \
	  for p in $$missing; do \
	    $(SUDO) env INITRD=No DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$p >/dev/null || \
	      echo "kernel-check: could not install $$p; the tests needing it will skip with the reason"; \
	  done; \
	fi
	VTEST_KERNEL_TEST=1 $(GO) test $(if $(SUDO),-exec 'sudo VTEST_KERNEL_TEST=1') -count=1 -timeout 12m -v -run 'TestKernel' ./cmd/vtest/ 2>&1 | grep -vE '^=== (RUN|PAUSE|CONT)'; exit $${PIPESTATUS[0]}

# Unit tests only: no root, no kernel objects.
unit:
	$(GO) test -count=1 -short ./...

# The benchmarks (root: most build namespaces), then the figures of issue
# 25 (scale and build times) from their output, kept in bench.out (written
# as you under sudo). About 2½ minutes on the 2-CPU CI machine.
BENCH_OUT := bench.out
bench:
	@$(AS_USER) rm -f $(BENCH_OUT)
	set -o pipefail; $(GO) test $(TEST_EXEC) -run '^$$' -bench 'TwoNamespaces$$|Step|VXLAN|SkipMissing|NodeD' -benchtime 100x -count 3 ./scenario/ | $(AS_USER) tee -a $(BENCH_OUT)
	set -o pipefail; $(GO) test $(TEST_EXEC) -run '^$$' -bench 'Switch50' -benchtime 30x -count 3 ./scenario/ | $(AS_USER) tee -a $(BENCH_OUT)
	set -o pipefail; $(GO) test $(TEST_EXEC) -run '^$$' -bench AbandonStuckCheck -benchtime 3x -count 3 ./scenario/ | $(AS_USER) tee -a $(BENCH_OUT)
	set -o pipefail; $(GO) test $(TEST_EXEC) -run '^$$' -bench 'TwoNamespacesGone' -benchtime 100x -count 3 ./scenario/ | $(AS_USER) tee -a $(BENCH_OUT)
	set -o pipefail; $(GO) test $(TEST_EXEC) -run '^$$' -bench 'TwoNamespacesDrift' -benchtime 1x -count 3 ./scenario/ | $(AS_USER) tee -a $(BENCH_OUT)
	set -o pipefail; $(GO) test $(TEST_EXEC) -run '^$$' -bench 'StarProcess' -benchtime 1x -count 1 -timeout 30m ./scenario/ | $(AS_USER) tee -a $(BENCH_OUT)
	set -o pipefail; $(GO) test $(TEST_EXEC) -run '^$$' -bench 'StarScale' -benchtime 1x -count 1 -timeout 30m ./scenario/ | $(AS_USER) tee -a $(BENCH_OUT)
	set -o pipefail; $(GO) test $(TEST_EXEC) -run '^$$' -bench 'Reach|PathWalk' -benchtime 200x -count 3 ./assert/ | $(AS_USER) tee -a $(BENCH_OUT)
	set -o pipefail; $(GO) test $(TEST_EXEC) -run '^$$' -bench Isolated -benchtime 10x -count 3 ./assert/ | $(AS_USER) tee -a $(BENCH_OUT)
	set -o pipefail; $(GO) test $(TEST_EXEC) -run '^$$' -bench Throughput -benchtime 3x -count 1 ./assert/ | $(AS_USER) tee -a $(BENCH_OUT)
	set -o pipefail; $(GO) test $(TEST_EXEC) -run '^$$' -bench RunHundredThousandChecks -benchtime 1x -count 1 ./runner/ | $(AS_USER) tee -a $(BENCH_OUT)
	set -o pipefail; $(GO) test -run '^$$' -bench ReportsAtScale -benchtime 1x -count 3 ./reports/ | $(AS_USER) tee -a $(BENCH_OUT)
	set -o pipefail; $(GO) test -run '^$$' -bench ValidateLinks -benchtime 3x -count 1 ./scenario/ | $(AS_USER) tee -a $(BENCH_OUT)
	$(AS_USER) $(GO) run ./internal/benchsummary < $(BENCH_OUT)

lint:
	$(GO) vet ./...
	gofmt -l .

# Known vulnerabilities that vtest's code reaches, by govulncheck: fails on
# one in a dependency (go.mod's choice); one in the standard library is
# reported with the Go release that fixes it (the machine's choice).
vuln:
	@db=$$($(GO) mod download -json golang.org/x/vulndb@$(VULNDB_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
	test -d "$$db/data/osv" || { echo "vuln: no database in golang.org/x/vulndb@$(VULNDB_VERSION) (data/osv under '$$db')"; exit 1; }; \
	echo "govulncheck $(VULN_VERSION), $$($(GO) env GOVERSION), database golang.org/x/vulndb@$(VULNDB_VERSION)"; \
	$(GO) run golang.org/x/vuln/cmd/govulncheck@$(VULN_VERSION) -db "file://$$db/data/osv" -format json ./... > .vuln.json && \
	/usr/bin/python3 .ci/vulnreport.py < .vuln.json; rc=$$?; rm -f .vuln.json; exit $$rc

clean:
	rm -rf bin
