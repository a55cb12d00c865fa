# securedb: `make test` is the project's test command (README, .ci/run).
.PHONY: test test-faults bench examples servers-stop

test:
	bash scripts/test.sh

test-faults:
	bash scripts/test-faults.sh

bench:
	bash scripts/bench.sh

examples:
	@for d in examples/*/; do echo "== go run ./$$d"; go run "./$$d" || exit 1; done

servers-stop:
	bash scripts/servers.sh stop
