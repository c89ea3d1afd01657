# shellcheck shell=bash
# SUMMARY.md for the field kit's check (sourced by check): written before
# and after every stage, so whatever ends the run, the page says what
# finished.  One table first (the one-page answer), then each stage's section.

summary_header() {
  local counts="" st
  counts=$(cat "$D"/stages/*.status 2>/dev/null | sort | uniq -c | awk '{ c = $1; $1 = ""; printf "%s%s %s", sep, c, substr($0, 2); sep = ", " }')
  echo "# crossdev field kit: check summary"
  echo
  if [ -n "$INTERRUPTED" ]; then
    st="interrupted by SIG$INTERRUPTED"
  elif grep -qxE 'RUNNING' "$D"/stages/*.status 2>/dev/null; then
    st="in progress"
  elif grep -qxE 'FAIL|TIMEOUT' "$D"/stages/*.status 2>/dev/null; then
    st="some stages FAILED"
  else
    st="every stage run passed"
  fi
  echo "- **result: $st** ($counts)"
  echo "- run: $(date -u -d "@$START" '+%Y-%m-%d %H:%M:%S UTC'), $(($(now) - START)) s so far;" \
       "$([ "$XD_KIT_QUICK" = 1 ] && echo quick || echo full) check, $XD_KIT_STEPS training steps, time limit $LIMIT s"
  echo "- machine: $(hostname 2>/dev/null || cat /proc/sys/kernel/hostname), $(uname -srm), $(nproc) cores," \
       "$(awk '/^model name/ { sub(/^[^:]*: /, ""); print; exit }' /proc/cpuinfo)"
  echo "- kit: crossdev $(manifest crossdev_version), commit $(manifest commit), made $(manifest made) on" \
       "$(manifest made_on); references from $(cat "$KIT/reference/device" 2>/dev/null)"
  echo "- device under test: $(state_get device-id || echo 'none chosen') $(state_get device-name | sed 's/.\{1,\}/(&)/')"
  echo "- results: $R$([ "$D" != "$R/details" ] && echo " (details in details.tar.gz; on this machine in $D)")"
}

write_summary() {
  local name n title st brief secs
  {
    summary_header
    echo
    echo "| # | stage | result | seconds | what it found |"
    echo "|---|---|---|---|---|"
    while read -r n name _ _ title; do
      st=$(cat "$D/stages/$name.status" 2>/dev/null || echo "NOT RUN")
      brief=$(cat "$D/stages/$name.brief" 2>/dev/null || echo "not reached yet")
      secs=$(cat "$D/stages/$name.seconds" 2>/dev/null || echo -)
      echo "| $n | $title | **$st** | $secs | ${brief//|/\\|} |"
    done <<<"$XD_KIT_STAGES"
    while read -r n name _ _ title; do
      [ -s "$D/stages/$name.md" ] || continue
      echo
      echo "## $n. $title"
      echo
      cat "$D/stages/$name.md"
    done <<<"$XD_KIT_STAGES"
  } >"$R/SUMMARY.md.tmp" && mv -f "$R/SUMMARY.md.tmp" "$R/SUMMARY.md"
}

# Stage 7: the reports, the details archive (without the snapshot .npy
# files, which stay in the details folder) and the final page.
finish_summary() {
  local t0 reports
  t0=$(now)
  stage_set summary RUNNING "writing"
  : >"$D/stages/summary.md"
  timeout -k 5 30 tar -czf "$R/details.tar.gz.tmp" -C "$D" --exclude='step-0*' --exclude='work' . 2>"$D/logs/tar.log" &&
    mv -f "$R/details.tar.gz.tmp" "$R/details.tar.gz"
  reports=$(cd "$R" && ls report-*.json report-*.html 2>/dev/null | paste -sd ' ')
  {
    echo "- reports: ${reports:-none}"
    echo "- details: $([ -f "$R/details.tar.gz" ] && echo "details.tar.gz ($(($(stat -c %s "$R/details.tar.gz") / 1024)) KiB)" || echo "archive not written (see details/logs/tar.log)")"
  } >>"$D/stages/summary.md"
  echo $(($(now) - t0)) >"$D/stages/summary.seconds"
  if [ -f "$R/details.tar.gz" ]; then
    stage_set summary PASS "SUMMARY.md, ${reports:-no reports}, details.tar.gz"
  else
    stage_set summary FAIL "the details archive could not be written"
  fi
  write_summary
}
