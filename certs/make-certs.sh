#!/bin/sh
# Development key material, made with the openssl CLI (see certs/README.md).
#   certs/make-certs.sh [OUTDIR]      default: certs/dev next to this script
# Idempotent: whatever exists is kept; a new CA re-issues the certificates.
# Never use these files outside development: the private keys sit in plain
# files and the HS256 secret is a file anyone on the machine may read if the
# umask below is changed.
set -eu

out=${1:-$(cd "$(dirname "$0")" && pwd)/dev}
days=825
umask 077
mkdir -p "$out"
cd "$out"

have() { [ -s "$1" ]; }
say() { echo "certs: $*"; }

# ---- TLS: CA, server (localhost), client (mTLS: CN=alice, OU=analyst) ----
if ! have ca.key || ! have ca.crt; then
    say "development CA"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days "$days" \
        -subj "/O=gateway-dev/CN=gateway dev CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    rm -f server.crt client.crt # issued by an older CA
fi

issue() { # name subject extensions
    if have "$1.key" && have "$1.crt"; then return 0; fi
    say "$1 certificate ($2)"
    printf '%s\n' "$3" > "$1.ext"
    openssl req -new -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
    openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days "$days" \
        -sha256 -extfile "$1.ext" -out "$1.crt" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
}

issue server "/O=gateway-dev/CN=localhost" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"

issue client "/O=gateway-dev/OU=analyst/CN=alice" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"

# ---- JWT signing keys: private (PKCS#8) + public (SPKI) ------------------
jwtkey() { # name genpkey-args...
    name=$1
    shift
    if have "$name.key" && have "$name.pub"; then return 0; fi
    say "JWT key $name"
    openssl genpkey "$@" -out "$name.key" 2>/dev/null
    openssl pkey -in "$name.key" -pubout -out "$name.pub"
}

jwtkey jwt-rsa -algorithm RSA -pkeyopt rsa_keygen_bits:2048
jwtkey jwt-ec -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve
jwtkey jwt-ed25519 -algorithm ED25519

if ! have jwt-hs256.secret; then
    say "HS256 secret"
    openssl rand -hex 32 | tr -d '\n' > jwt-hs256.secret # 64 bytes of text
fi

chmod 600 ./*.key jwt-hs256.secret
chmod 644 ./*.crt ./*.pub
say "ready in $out"
