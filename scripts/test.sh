#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs every test: installs what is missing, then the normal build and the ASan+UBSan build.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
make format-check
make -j2 check
make -j2 asan
