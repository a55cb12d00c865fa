# `make test-faults`: only the fault tests (servers frozen with SIGSTOP,
# killed and restarted, on every backend) and the CouchDB cluster suite,
# against every server including the three-node cluster. `make test` runs
# them once with everything else; this repeats them: COUNT=N runs each N
# times.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck disable=SC2046
scripts/servers.sh run $(scripts/servers.sh list) -- \
    go test -race -count="${COUNT:-1}" -timeout 40m -run 'Fault|Cluster|Conditional|KilledMidRun|TransactionTheRestartLost|FirstWrites|SeparateServices|Answered500' ./dbservice/...
