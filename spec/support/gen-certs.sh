#!/bin/sh
# gen-certs.sh DIR: makes the TLS fixtures of the functional specs in DIR: a test CA (ca.pem,
# ca.key) and a server certificate for localhost, 127.0.0.1 and ::1 signed by it (server.pem,
# server.key), valid 2 days. Does nothing when all four files exist. Needs the `openssl`
# command (apt-get install openssl). Quiet unless something fails.
set -eu

if [ $# -ne 1 ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
dir=$1

if [ -s "$dir/ca.pem" ] && [ -s "$dir/ca.key" ] && [ -s "$dir/server.pem" ] &&
    [ -s "$dir/server.key" ]; then
    exit 0
fi
if ! command -v openssl >/dev/null 2>&1; then
    echo "$0: the openssl command is missing: apt-get install openssl" >&2
    exit 1
fi

mkdir -p "$dir"
umask 077
# Concurrent runs take turns (flock, util-linux); the second one finds the files made.
if command -v flock >/dev/null 2>&1 && [ -z "${CC_GEN_CERTS_LOCKED:-}" ]; then
    CC_GEN_CERTS_LOCKED=1 exec flock "$dir/.gen-certs.lock" "$0" "$dir"
fi
# Work in a private directory inside DIR and move the results in at the end, so a concurrent
# run never sees half-written files.
work=$(mktemp -d "$dir/.gen-certs.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

cat >"$work/openssl.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF

run() {
    if ! "$@" >"$work/log" 2>&1; then
        echo "$0: failed: $*" >&2
        cat "$work/log" >&2
        exit 1
    fi
}

export OPENSSL_CONF="$work/openssl.cnf"
run openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -config "$work/openssl.cnf" -extensions ca_ext -subj "/CN=ccproxy test CA" -days 2 \
    -keyout "$work/ca.key" -out "$work/ca.pem"
run openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -config "$work/openssl.cnf" -subj "/CN=localhost" \
    -keyout "$work/server.key" -out "$work/server.csr"
run openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
    -set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" -days 2 -sha256 \
    -extfile "$work/openssl.cnf" -extensions server_ext -out "$work/server.pem"
run openssl verify -CAfile "$work/ca.pem" "$work/server.pem"

chmod 644 "$work/ca.pem" "$work/server.pem"
for f in ca.key ca.pem server.key server.pem; do
    mv -f "$work/$f" "$dir/$f"
done
