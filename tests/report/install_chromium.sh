#!/bin/sh
# Install Debian's headless-capable Chromium for the report browser test (needs root).
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium
