#!/usr/bin/env bash
# `npm test`: the type-check once, then every test file, in node test runs that overlap where
# they share nothing.
#
#   host-free  every test/**/*.test.ts not named *.libvirt.test.ts (the unit suite and the
#              *.slow.test.ts files): each file has its own temp dirs, databases and ports, so
#              TEST_CONCURRENCY files run at once (3, as in `npm run test:unit`).
#   alone      the *.alone.libvirt.test.ts files, one at a time, with no other real-libvirt file
#              running: they keep damaged domains on the host on purpose, and kvmops reads every
#              domain on it before a delete or clean-up (src/hypervisor/references.ts), so
#              another file's deletes would rightly keep files meanwhile.
#   libvirt    the other *.libvirt.test.ts files, LIBVIRT_CONCURRENCY (2) at a time: each has
#              its own domain-name prefix, storage dir and pools, none lists or counts the
#              host's other domains, and a domain another file removes while kvmops reads it
#              counts as using nothing (src/hypervisor/chains.ts).
#
# host-free runs beside alone-then-libvirt. Each run's report is kept until it ends, then printed
# whole, in that order, so the output ends with the node test runner's summary lines of the
# libvirt run — or, when an earlier run failed and that one did not, of the failed run again.
# The exit status is non-zero when the type-check or any run failed.
set -uo pipefail
cd "$(dirname "$0")/.."

CONCURRENCY=${TEST_CONCURRENCY:-3}
LIBVIRT_CONCURRENCY=${LIBVIRT_CONCURRENCY:-2}
TSX=(node --import tsx --test)
# The reports go to files first: keep the reporter node would pick for this output (spec on a
# terminal, TAP otherwise, as in CI).
if [ -t 1 ]; then TSX+=(--test-reporter=spec); fi

node_modules/.bin/tsc --noEmit -p . || exit 1

mapfile -t HOST_FREE < <(find test -name '*.test.ts' ! -name '*.libvirt.test.ts' | sort)
mapfile -t ALONE < <(find test -name '*.alone.libvirt.test.ts' | sort)
mapfile -t LIBVIRT < <(find test -name '*.libvirt.test.ts' ! -name '*.alone.libvirt.test.ts' | sort)
[ "${#HOST_FREE[@]}" -gt 0 ] && [ "${#LIBVIRT[@]}" -gt 0 ] || { echo "no test files found" >&2; exit 1; }

logs=$(mktemp -d)
host_free=
real_libvirt=
# Interrupted: stop the runs (by pid), then remove the logs.
trap 'kill $host_free $real_libvirt 2>/dev/null; rm -rf "${logs:?}"' EXIT

"${TSX[@]}" --test-concurrency="$CONCURRENCY" "${HOST_FREE[@]}" >"$logs/host-free" 2>&1 &
host_free=$!
(
  alone=0
  if [ "${#ALONE[@]}" -gt 0 ]; then
    "${TSX[@]}" --test-concurrency=1 "${ALONE[@]}" >"$logs/alone" 2>&1 || alone=$?
  fi
  echo "$alone" >"$logs/alone.status"
  "${TSX[@]}" --test-concurrency="$LIBVIRT_CONCURRENCY" "${LIBVIRT[@]}" >"$logs/libvirt" 2>&1
) &
real_libvirt=$!

wait "$host_free"
host_free_status=$?
host_free= # reaped: its pid is no longer ours to kill
echo "== host-free tests (${#HOST_FREE[@]} files, $CONCURRENCY at a time): exit $host_free_status"
cat "$logs/host-free"
wait "$real_libvirt"
libvirt_status=$?
real_libvirt=
alone_status=$(cat "$logs/alone.status" 2>/dev/null || echo 1)
if [ "${#ALONE[@]}" -gt 0 ]; then
  echo "== real-libvirt tests that run alone (${#ALONE[@]} files): exit $alone_status"
  cat "$logs/alone"
fi
echo "== real-libvirt tests (${#LIBVIRT[@]} files, $LIBVIRT_CONCURRENCY at a time): exit $libvirt_status"
cat "$logs/libvirt"

# A failed earlier run must not hide behind a passing last summary: its summary comes last.
if [ "$libvirt_status" = 0 ]; then
  for run in host-free alone; do
    status_var="${run//-/_}_status"
    if [ "${!status_var}" != 0 ]; then
      echo "== the $run tests FAILED (report above); their summary again:"
      sed -n '/^\(# \|ℹ \)tests [0-9]/,$p' "$logs/$run"
    fi
  done
fi
[ "$host_free_status" = 0 ] && [ "$alone_status" = 0 ] && [ "$libvirt_status" = 0 ]
