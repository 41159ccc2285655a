#!/usr/bin/env bash
# spec/support/check_layers.sh: the lower folders of src/ never include the upper ones.
# src/http (HTTP/1.1, TLS, SSE, the upstream pool) and src/json (bodies, views, UTF-8) may
# include each other and the two base utilities buf.h and log.h, nothing else of ccproxy:
# not the Lua side, the providers, the configuration, the commands, nor the process and
# request files at the top of src/. src/routing (plans, picks, shared state) may include
# itself, the configuration (config/config.h), buf.h and log.h: it decides where an attempt
# goes and knows nothing of HTTP, Lua or the exchange. Prints every offending line
# (file:line: include) and exits 1 when there is one.
set -euo pipefail
cd "$(dirname "$0")/../.."
status=0
while IFS= read -r hit; do
  file=${hit%%:*}
  rest=${hit#*:}
  line=${rest%%:*}
  inc=$(sed -n "${line}p" "$file" | sed -E 's/.*#[[:space:]]*include[[:space:]]+"([^"]+)".*/\1/')
  case "$inc" in
    http/*|json/*|buf.h|log.h) ;;
    *)
      echo "$file:$line: includes \"$inc\": src/http and src/json may include only http/, json/, buf.h and log.h" >&2
      status=1
      ;;
  esac
done < <(grep -n -E '^[[:space:]]*#[[:space:]]*include[[:space:]]+"' src/http/*.[ch] src/json/*.[ch])
while IFS= read -r hit; do
  file=${hit%%:*}
  rest=${hit#*:}
  line=${rest%%:*}
  inc=$(sed -n "${line}p" "$file" | sed -E 's/.*#[[:space:]]*include[[:space:]]+"([^"]+)".*/\1/')
  case "$inc" in
    routing/*|config/config.h|buf.h|log.h) ;;
    *)
      echo "$file:$line: includes \"$inc\": src/routing may include only routing/, config/config.h, buf.h and log.h" >&2
      status=1
      ;;
  esac
done < <(grep -n -E '^[[:space:]]*#[[:space:]]*include[[:space:]]+"' src/routing/*.[ch])
if [ "$status" = 0 ]; then
  echo "layers: src/http and src/json include only themselves, buf.h and log.h; src/routing"
  echo "        only itself, config/config.h, buf.h and log.h"
fi
exit "$status"
