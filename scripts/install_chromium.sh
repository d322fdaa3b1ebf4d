#!/bin/sh
# Install Debian's headless Chromium for the report browser test (needs root): `make browser`.
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium
