#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# make_signed: writes tests/fuzz/fuzz_signed.h, signed zones (NSEC; NSEC3 opt-out with salt and
# iterations; each with a signed child) that fuzz_packet answers from, so the fuzzers reach the
# DO paths. The zones are signed once with throwaway keys (the private keys are not kept);
# signatures may expire, which does not matter to a fuzzer. Re-run to refresh. It also writes
# signed copies of example.com as fuzz_zonefile seeds (corpus/zonefile/ok-signed-*).

import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "system"))

import signzones  # noqa: E402

VARIANTS = [("nsec.example", []), ("optout.example", ["-3", "beef", "-H", "3", "-A"])]


def c_string(text):
    out = []
    for line in text.splitlines():
        if line.startswith(";") or not line.strip():
            continue
        out.append('    "' + line.replace("\\", "\\\\").replace('"', '\\"') + '\\n"')
    return "\n".join(out)


def main():
    with tempfile.TemporaryDirectory() as d:
        s = signzones.make(d, variants=VARIANTS, big=60)
        parts = ["/* SPDX-License-Identifier: MIT */",
                 "/* fuzz_signed: signed zones for fuzz_packet, made by make_signed.py. */",
                 "#pragma once", "",
                 "static const char *const fuzz_signed_zones[][2] = {"]
        for origin, path in s.zones:
            parts.append(f'    {{"{origin}.",\n{c_string(path.read_text())}}},')
        parts += ["};", ""]
    with open(os.path.join(HERE, "fuzz_signed.h"), "w") as f:
        f.write("\n".join(parts))
    for name, extra in (("nsec", []), ("nsec3", ["-3", "ab", "-H", "1"]),
                        ("nsec3-optout", ["-3", "-", "-H", "0", "-A"])):
        with tempfile.TemporaryDirectory() as d:
            s = signzones.make(d, variants=[("example.com", extra)], big=20)
            text = dict(s.zones)["example.com"].read_text()
        with open(os.path.join(HERE, "corpus", "zonefile", "ok-signed-" + name), "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
