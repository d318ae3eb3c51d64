#!/usr/bin/env bash
# Faults of the files that hold invocation records, injected for real:
#
#   1. a full data disk (a small tmpfs, filled): every sync call answered
#      either left a record readable by id or says it did not
#      (X-Record-Kept: false, "record_kept": false), the metric counts
#      those, no segment is made while the disk is full, and once space
#      returns records are kept again without a restart;
#   2. byte budgets count the blocks files take, not their sizes: small
#      async records under a 64 KiB MINILAMBDA_RECORDS_MAX_BYTES are
#      pruned to fit on disk;
#   3. torn tails (a last line without its newline) at the end of a
#      segment's log, its index and every id shard, written with the pool
#      stopped: after a restart the next call's record is listed and
#      readable by id, and the metrics count the tails padded past and the
#      lines readers skipped;
#   4. damaged async runs (a truncated .json, a cut .event, a changed
#      .event) written while no executor could claim them: each ends FAILED
#      with code record_corrupt, readable by id, its files quarantined,
#      logged and counted; a sound run beside them completes; a run whose
#      .json is truncated while it runs ends the same way, its outcome kept.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

it_busybox_image || { echo "Bail out! cannot build $IT_BUSYBOX"; exit 1; }

it_tmpfs 4m
FULL=$IT_TMPFS

# call REF: a sync call; its id into CALL_ID, whether the answer says its
# record was not kept into CALL_KEPT (true/false).
call() {
    it_json POST "/invoke/$1" '{"event":{"n":1}}'
    CALL_ID=$(it_header X-Invocation-Id)
    CALL_KEPT=true
    if [ "$(it_header X-Record-Kept)" = false ]; then CALL_KEPT=false; fi
}
get_status() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$BASE/invocations/$1"; }
# Segments (index files) and empty record files of function $1.
segments() { find "$D/records/fn/$1" -name '*.idx' | wc -l; }
empty_files() { find "$D/records/fn" -type f -size 0 | wc -l; }
metric() {
    it_scrape
    it_metric0 "$1"
}
log_has() { grep -q -- "$1" "$MINILAMBDA_RUN_DIR/minilambda.log"; }

# --- 1. a full disk ------------------------------------------------------
export IT_DATA_DIR=$FULL/data
export MINILAMBDA_WORKERS=1 MINILAMBDA_THREADS=4 MINILAMBDA_ASYNC_WORKERS=0
it_start full
D=$IT_DATA_DIR
fn_sh rec 'cat'
call rec
it_eq "room: the answer does not say the record was lost" true "$CALL_KEPT"
it_eq "room: the record is readable" 200 "$(get_status "$CALL_ID")"
segs=$(segments "${FID[rec]}")

dd if=/dev/zero of="$FULL/filler" bs=64k 2>/dev/null || true
kept=0 lost=0 silent=0 said=0 body_said=0
for _ in $(seq 1 30); do
    call rec
    [ "$IT_STATUS" = 200 ] || continue
    if [ "$CALL_KEPT" = true ]; then
        kept=$((kept + 1))
        [ "$(get_status "$CALL_ID")" = 200 ] || silent=$((silent + 1))
    else
        said=$((said + 1))
        [ "$(it_jq .record_kept)" != false ] || body_said=$((body_said + 1))
        [ "$(get_status "$CALL_ID")" = 404 ] || lost=$((lost + 1))
    fi
done
echo "# full disk: of 30 calls, $kept records kept, $said answers said not kept, $silent silently lost"
it_eq "full: no answered call's record is silently lost" 0 "$silent"
it_true "full: calls are still answered, and most say their record was not kept ($said)" \
    test "$said" -ge 20
it_eq "full: each of those says so in its body too" "$said" "$body_said"
it_eq "full: and none of those records is half there" 0 "$lost"
it_eq "full: minilambda_records_not_kept_total counts them" "$said" \
    "$(metric minilambda_records_not_kept_total)"
it_eq "full: no segment was made while full" "$segs" "$(segments "${FID[rec]}")"
it_eq "full: no empty record file was made" 0 "$(empty_files)"

rm -f "$FULL/filler"
back=0
for _ in $(seq 1 5); do
    call rec
    if [ "$IT_STATUS" = 200 ] && [ "$CALL_KEPT" = true ] && [ "$(get_status "$CALL_ID")" = 200 ]; then
        back=$((back + 1))
    fi
done
it_eq "space back: records are kept again, no restart (5 of 5)" 5 "$back"
it_eq "space back: the listing has them all" "$((1 + kept + 5))" "$(it_inv_count "function=rec&limit=1000")"
it_eq "space back: still one segment" "$segs" "$(segments "${FID[rec]}")"
it_scrape
torn_log=$(it_metric0 'minilambda_records_torn_total{file="log"}')
torn_idx=$(it_metric0 'minilambda_records_torn_total{file="index"}')
echo "# full disk: torn tails padded past once space returned: log $torn_log, index $torn_idx"
it_true "space back: a tail torn by the full disk is padded past once ($torn_log, $torn_idx)" \
    test "$torn_log" -le 1 -a "$torn_idx" -le 1
ml_stop_all
unset IT_DATA_DIR

# --- 2. budgets in blocks -------------------------------------------------
export MINILAMBDA_ASYNC_WORKERS=1 MINILAMBDA_RECORDS_MAX_BYTES=65536 MINILAMBDA_JANITOR_INTERVAL=1
it_start blocks
D=$MINILAMBDA_DATA_DIR
fn_sh small 'echo ok'
ids=()
for _ in $(seq 1 16); do
    it_async small '{"event":{}}'
    ids+=("$IT_INV")
done
it_true "blocks: 16 small async runs complete" ml_wait_for 120 it_all_are COMPLETED "${ids[-1]}"
on_disk() { du -s -B1 "$D/async/records" | cut -f1; }
# The directory itself takes a block or so besides.
fits() { [ "$(on_disk)" -le $((65536 + 16384)) ]; }
it_true "blocks: the janitor prunes them to fit 64 KiB on disk" ml_wait_for 20 fits
echo "# blocks: async records take $(on_disk) bytes on disk, $(du -s -b "$D/async/records" | cut -f1) apparent"
it_true "blocks: the newest is kept" it_inv_is "${ids[-1]}" COMPLETED
ml_stop_all
unset MINILAMBDA_RECORDS_MAX_BYTES MINILAMBDA_JANITOR_INTERVAL

# --- 3. torn tails ----------------------------------------------------------
export MINILAMBDA_ASYNC_WORKERS=0
it_start torn
D=$MINILAMBDA_DATA_DIR
fn_sh torn 'cat'
call torn
first=$CALL_ID
it_true "torn: the pool stops" it_stop_pool
dir=$D/records/fn/${FID[torn]}
printf '{"id":"torn-by-a-crash' >>"$(find "$dir" -name '*.log' | sort | tail -1)"
printf '0000000000001 0000000000002 torn' >>"$(find "$dir" -name '*.idx' | sort | tail -1)"
# Whichever shard the next id falls in has a torn tail.
for x in $(seq 0 255); do
    printf 'deadbeef-torn' >>"$D/records/ids/$(printf %02x "$x")"
done
ml_start_pool || { echo "Bail out! the pool did not restart"; exit 1; }
call torn
it_eq "torn: the next call is answered" 200 "$IT_STATUS"
it_eq "torn: its record is readable by id" 200 "$(get_status "$CALL_ID")"
it_eq "torn: it is the record of that call" "$CALL_ID" "$(it_inv_field "$CALL_ID" .id)"
it_eq "torn: the listing has both records" "$CALL_ID $first" \
    "$(curl -sf "$BASE/invocations?function=torn" | jq -r '[.[].id] | join(" ")')"
it_eq "torn: the earlier record is still readable" 200 "$(get_status "$first")"
second=$CALL_ID
call torn
it_eq "torn: and the one after" 200 "$(get_status "$CALL_ID")"
# Two calls, one torn shard each, unless both ids fall in the same one.
shards=$(printf '%s\n' "${second:0:2}" "${CALL_ID:0:2}" | sort -u | wc -l)
it_scrape
it_eq "torn: the log's torn tail was padded past" 1 "$(it_metric0 'minilambda_records_torn_total{file="log"}')"
it_eq "torn: the index's too" 1 "$(it_metric0 'minilambda_records_torn_total{file="index"}')"
it_eq "torn: and the id shards' the calls used" "$shards" "$(it_metric0 'minilambda_records_torn_total{file="ids"}')"
it_true "torn: readers count the lines they skipped" \
    test "$(it_metric0 minilambda_records_skipped_lines_total)" -ge 1
it_true "torn: the index is whole lines again" \
    test $(($(stat -c %s "$(find "$dir" -name '*.idx' | sort | tail -1)") % 192)) -eq 0
ml_stop_all

# --- 4. damaged async runs --------------------------------------------------
# No executor: the runs stay PENDING while their files are damaged.
export MINILAMBDA_ASYNC_WORKERS=0
it_start damaged
D=$MINILAMBDA_DATA_DIR
fn_sh echo 'cat'
ev='{"event":"thirty-four bytes long"}'
runs=()
for _ in 1 2 3 4; do
    it_async echo "$ev"
    runs+=("$IT_INV")
done
torn=${runs[0]} cut=${runs[1]} changed=${runs[2]} sound=${runs[3]}
it_true "damaged: the pool stops with 4 runs PENDING" it_stop_pool
R=$D/async/records
truncate -s 20 "$R/$torn.json"
truncate -s 10 "$R/$cut.event"
sed -i 's/thirty/thirtY/' "$R/$changed.event"
export MINILAMBDA_ASYNC_WORKERS=1
ml_start_pool || { echo "Bail out! the pool did not restart"; exit 1; }
it_true "damaged: the sound run completes" it_inv_wait 60 "$sound" COMPLETED
it_eq "damaged: with its event" "$(jq -c .event <<<"$ev")" "$(it_inv_field "$sound" .result.output | tr -d '\n')"
declare -A damage=([$torn]="a truncated .json" [$cut]="a cut .event" [$changed]="a changed .event")
for id in "$torn" "$cut" "$changed"; do
    what=${damage[$id]}
    it_true "damaged: the run with $what ends FAILED" it_inv_wait 30 "$id" FAILED
    it_eq "damaged: $what: code record_corrupt" record_corrupt "$(it_inv_field "$id" .code)"
    it_true "damaged: $what: its files are quarantined" \
        test -f "$D/async/quarantine/$id.json" -a -f "$D/async/quarantine/$id.event"
    it_true "damaged: $what: the log says so" log_has "async invocation $id: .*record_corrupt"
done
it_eq "damaged: the quarantined .json is the damaged one, as it was" 20 "$(stat -c %s "$D/async/quarantine/$torn.json")"
it_eq "damaged: minilambda_async_corrupt_total counts 3" 3 "$(metric minilambda_async_corrupt_total)"
# (By id: the run whose .json was lost keeps its function's id, not its name.)
it_eq "damaged: the function's runs list 1 COMPLETED, 3 FAILED" "COMPLETED:1 FAILED:3" \
    "$(curl -sf "$BASE/invocations?function=${FID[echo]}" | jq -r '[.[].status] | group_by(.) | map("\(.[0]):\(length)") | join(" ")')"

# Damaged while it runs: its outcome is kept beside the FAILED record.
fn_sh slow 'sleep 2; cat'
it_async slow "$ev"
running=$IT_INV
it_true "damaged while running: the run is RUNNING" it_inv_wait 20 "$running" RUNNING
truncate -s 20 "$R/$running.json"
it_true "damaged while running: it ends FAILED" it_inv_wait 30 "$running" FAILED
it_eq "damaged while running: code record_corrupt" record_corrupt "$(it_inv_field "$running" .code)"
it_eq "damaged while running: with the outcome it had" "$(jq -c .event <<<"$ev")" \
    "$(it_inv_field "$running" .result.output | tr -d '\n')"
it_true "damaged while running: its files are quarantined" test -f "$D/async/quarantine/$running.json"
it_eq "damaged while running: counted (4 in all)" 4 "$(metric minilambda_async_corrupt_total)"

it_no_containers_left
it_done
