#!/bin/sh
# Build the two Go oracles into ./bin from Debian's packages (no module download):
#   apt-get install golang-go golang-github-gorilla-mux-dev golang-github-rs-zerolog-dev \
#       golang-github-rs-xid-dev
# bin/routes ADDR serves Toxiproxy's router on stub handlers; bin/jsonerr names JSON errors.
set -eu
cd "$(dirname "$0")"
mkdir -p bin
export GO111MODULE=off GOPATH="$PWD:/usr/share/gocode" CGO_ENABLED=0 GOCACHE="${GOCACHE:-/tmp/oracle-go-cache}"
go build -o bin/routes routes
go build -o bin/jsonerr jsonerr
