#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what building, the demo and the tests need on Debian 12 (apt-get only).
set -euo pipefail

# libp11-kit-dev: only its pkcs11.h, for the PKCS#11 root (docs/keyrings.md says why);
# softhsm2 and opensc (pkcs11-tool): the token and its tool for test/peers/pkcs11.sh.
pkgs=(build-essential make pkg-config postgresql-15 postgresql-server-dev-15 postgresql-contrib
      libssl-dev libcurl4-openssl-dev libjansson-dev libp11-kit-dev openssl python3
      python3-cryptography clang libclang-rt-14-dev xxd valgrind clang-format softhsm2 opensc curl)
pkgs+=(python3-hvac python3-botocore) # test/peers: Vault and AWS KMS stubs, checked by their clients
pkgs+=(python3-pykmip) # test/peers: the KMIP keyring against a real PyKMIP server
# Servers the peer suites start on 127.0.0.1 (test/peers/) that not every package source
# offers: one that is not offered is left out, and its suite skips saying so.
peer_pkgs=(barbican-api)

not_installed() {
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
    done
}
mapfile -t missing < <(not_installed "${pkgs[@]}")
mapfile -t missing_peers < <(not_installed "${peer_pkgs[@]}")
[ ${#missing[@]} -eq 0 ] && [ ${#missing_peers[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
install() { DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@"; }
$sudo apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    install "${missing[@]}"
fi
for p in "${missing_peers[@]}"; do
    cand=$(apt-cache policy "$p" 2>/dev/null | sed -n 's/^ *Candidate: //p')
    if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then
        echo "not offered by the package sources: $p (its peer suite will skip)"
        continue
    fi
    echo "installing for the peer suites: $p"
    install "$p"
done
