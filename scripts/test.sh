#!/usr/bin/env bash
# `npm test`: the type-check once, then every test file, in two node test runs side by side.
#
#   host-free  every test/**/*.test.ts not named *.libvirt.test.ts (the unit suite and the
#              *.slow.test.ts files): each file has its own temp dirs, databases and ports, so
#              several run at once (TEST_CONCURRENCY, as in `npm run test:unit`).
#   libvirt    the *.libvirt.test.ts files, one at a time. Each has its own domain-name prefix
#              and storage dir, but they share the host's libvirtd, and kvmops reads every
#              domain on it before it deletes or cleans up (src/hypervisor/references.ts): a
#              domain another file keeps unreadable on purpose (fail-closed.libvirt.test.ts), or
#              is undefining meanwhile, makes those steps keep files or refuse, as they must.
#
# The two runs share nothing, so they overlap. Each run's report is kept until it ends, then
# printed whole: first the host-free run's, then the libvirt run's, so the output ends with the
# node test runner's summary lines — of a failed run, if one failed. The exit status is
# non-zero when the type-check or either run failed.
set -uo pipefail
cd "$(dirname "$0")/.."

CONCURRENCY=${TEST_CONCURRENCY:-3}
TSX=(node --import tsx --test)
# The reports go to files first: keep the reporter node would pick for this output (spec on a
# terminal, TAP otherwise, as in CI).
if [ -t 1 ]; then TSX+=(--test-reporter=spec); fi

node_modules/.bin/tsc --noEmit -p . || exit 1

mapfile -t HOST_FREE < <(find test -name '*.test.ts' ! -name '*.libvirt.test.ts' | sort)
mapfile -t LIBVIRT < <(find test -name '*.libvirt.test.ts' | sort)

[ "${#HOST_FREE[@]}" -gt 0 ] && [ "${#LIBVIRT[@]}" -gt 0 ] || { echo "no test files found" >&2; exit 1; }

logs=$(mktemp -d)
host_free=
libvirt=
# Interrupted: stop both runs (by pid), then remove the logs.
trap 'kill $host_free $libvirt 2>/dev/null; rm -rf "${logs:?}"' EXIT

"${TSX[@]}" --test-concurrency="$CONCURRENCY" "${HOST_FREE[@]}" >"$logs/host-free" 2>&1 &
host_free=$!
"${TSX[@]}" --test-concurrency=1 "${LIBVIRT[@]}" >"$logs/libvirt" 2>&1 &
libvirt=$!

wait "$host_free"
host_free_status=$?
host_free= # reaped: its pid is no longer ours to kill
echo "== host-free tests (${#HOST_FREE[@]} files, $CONCURRENCY at a time): exit $host_free_status"
cat "$logs/host-free"
wait "$libvirt"
libvirt_status=$?
libvirt=
echo "== real-libvirt tests (${#LIBVIRT[@]} files, one at a time): exit $libvirt_status"
cat "$logs/libvirt"

# A failed host-free run must not hide behind a passing libvirt summary: its summary comes last.
if [ "$host_free_status" != 0 ] && [ "$libvirt_status" = 0 ]; then
  echo "== the host-free tests FAILED (report above); their summary again:"
  sed -n '/^\(# \|ℹ \)tests [0-9]/,$p' "$logs/host-free"
fi
[ "$host_free_status" = 0 ] && [ "$libvirt_status" = 0 ]
