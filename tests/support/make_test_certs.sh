#!/bin/sh
# Generates the certificates the TLS tests use, into DIR (created), with the
# openssl CLI; nothing here is committed. Prints nothing on success.
#
#   ca.pem / ca.key            a CA ("ballast test CA")
#   site.pem / site.key        site.test, localhost, 127.0.0.1 (signed by the CA)
#   site2.pem / site2.key      the same names, another key (a renewed certificate)
#   api.pem / api.key          api.test
#   wild.pem / wild.key        *.wild.test
#   expired.pem / expired.key  expired.test, valid 2020-01-01 .. 2021-01-01
#   other.key                  a key that matches no certificate
#   chain.pem                  site.pem followed by ca.pem (a leaf and its issuer)
#   badchain.pem               api.pem followed by wild.pem (wild did not issue api)
#
# usage: make_test_certs.sh DIR [rsa]   (EC P-256 keys unless "rsa": RSA 2048)
set -eu
dir=$1
kind=${2:-ec}
mkdir -p "$dir"
cd "$dir"

newkey() {
  if [ "$kind" = rsa ]; then
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null
  else
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
  fi
}

mkdir -p ca.db
: > ca.db/index.txt
echo 1000 > ca.db/serial
cat > ca.cnf <<CNF
[ ca ]
default_ca = test_ca
[ test_ca ]
database = ca.db/index.txt
serial = ca.db/serial
new_certs_dir = ca.db
certificate = ca.pem
private_key = ca.key
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[ any ]
commonName = supplied
[ leaf ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = \$ENV::SAN
CNF

newkey ca.key
openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=ballast test CA" \
  -addext "basicConstraints=critical,CA:true" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out ca.pem 2>/dev/null

# leaf NAME SAN [STARTDATE ENDDATE]
leaf() {
  newkey "$1.key"
  openssl req -new -key "$1.key" -subj "/CN=$1" -out "$1.csr" 2>/dev/null
  if [ $# -ge 4 ]; then dates="-startdate $3 -enddate $4"; else dates="-days 825"; fi
  # shellcheck disable=SC2086
  SAN=$2 openssl ca -batch -config ca.cnf -extensions leaf -notext $dates \
    -in "$1.csr" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr"
}

leaf site "DNS:site.test,DNS:localhost,IP:127.0.0.1"
leaf site2 "DNS:site.test,DNS:localhost,IP:127.0.0.1"
leaf api "DNS:api.test"
leaf wild "DNS:*.wild.test"
leaf expired "DNS:expired.test" 20200101000000Z 20210101000000Z
newkey other.key
cat site.pem ca.pem > chain.pem
cat api.pem wild.pem > badchain.pem
