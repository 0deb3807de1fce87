#!/usr/bin/env python3
"""Generate and verify the 统一社会信用代码 (GB 32100-2015) used by the demo data.

Usage:
    python3 gen_credit_codes.py            # print the codes of the demo enterprises and verify them
    python3 gen_credit_codes.py FILE.json  # additionally verify every credit_code found in FILE.json
                                           # (default: demo.json next to this script, if present)

Codes are derived deterministically from the enterprise name, so re-running gives the same codes.
Layout of a code (18 chars):
    1      登记管理部门代码   '9'  (工商 / 市场监管)
    2      机构类别代码       '1'  (企业)
    3-8    行政区划码         '530181' (安宁市)
    9-17   主体标识码         8 body chars + GB 11714 check char
    18     校验码             GB 32100 mod-31 check char
The generator and the verifier are written independently (different formulas / tables) so that
a bug in one is caught by the other. The verifier is also tested on a published example code.
Exit status is non-zero if any code fails.
"""

import hashlib
import json
import os
import sys

# ---------------------------------------------------------------------------------------------
# Generator
# ---------------------------------------------------------------------------------------------

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 chars; I O S V Z never used
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)              # GB 11714


def org_value(ch):
    """GB 11714 value: digits 0-9, letters A=10 ... Z=35."""
    if ch.isdigit():
        return int(ch)
    return ord(ch) - ord("A") + 10


def org_check_char(body8):
    c = 11 - sum(org_value(ch) * w for ch, w in zip(body8, ORG_WEIGHTS)) % 11
    return {10: "X", 11: "0"}.get(c, str(c))


def uscc_check_char(first17):
    total = sum(USCC_ALPHABET.index(ch) * pow(3, i, 31) for i, ch in enumerate(first17))
    c = 31 - total % 31
    return USCC_ALPHABET[0 if c == 31 else c]


def make_code(name, prefix="91530181"):
    """Deterministic, valid code for `name`. About half use the post-2015 'MA…' body style,
    the rest an all-digit legacy organisation code."""
    h = hashlib.sha256(name.encode("utf-8")).digest()
    if h[0] % 2 == 0:
        # post-2015 style: MA6 + 5 chars from the USCC alphabet (a check char of X is fine)
        body = "MA6" + "".join(USCC_ALPHABET[b % 31] for b in h[1:6])
    else:
        # legacy organisation code: 8 digits, first digit not 0
        body = str(1 + h[1] % 9) + "".join(str(b % 10) for b in h[2:9])
    org = body + org_check_char(body)
    first17 = prefix + org
    return first17 + uscc_check_char(first17)


# ---------------------------------------------------------------------------------------------
# Independent verifier (hard-coded weight table, dictionary lookups, explicit loops)
# ---------------------------------------------------------------------------------------------

_V31 = {c: i for i, c in enumerate("0123456789ABCDEFGHJKLMNPQRTUWXY")}
_W31 = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]  # 3^(i-1) mod 31
_V36 = {c: i for i, c in enumerate("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")}
_W11 = [3, 7, 9, 10, 5, 8, 4, 2]


def verify(code):
    """Return (ok, reason)."""
    if not isinstance(code, str) or len(code) != 18:
        return False, "length is not 18"
    for ch in code:
        if ch not in _V31:
            return False, "illegal character %r" % ch
    if code[0] != "9" or code[1] != "1":
        return False, "not an enterprise code (expected prefix 91)"
    if not code[2:8].isdigit():
        return False, "division code is not 6 digits"
    # inner organisation-code check (pos 9-16 -> pos 17)
    s = 0
    for k in range(8):
        s += _V36[code[8 + k]] * _W11[k]
    r = 11 - (s % 11)
    expected17 = "X" if r == 10 else ("0" if r == 11 else str(r))
    if code[16] != expected17:
        return False, "organisation-code check: expected %s got %s" % (expected17, code[16])
    # outer check (pos 1-17 -> pos 18)
    s = 0
    for k in range(17):
        s += _V31[code[k]] * _W31[k]
    r = 31 - (s % 31)
    if r == 31:
        r = 0
    expected18 = "0123456789ABCDEFGHJKLMNPQRTUWXY"[r]
    if code[17] != expected18:
        return False, "USCC check: expected %s got %s" % (expected18, code[17])
    return True, "ok"


def self_test():
    # worked example from GB 32100 practice (docs/STANDARDS §6.3): must pass
    ok, why = verify("91350200776049653A")
    assert ok, "published example failed: " + why
    # flipping the last char must fail
    assert not verify("91350200776049653B")[0]
    # early pilot code that is legal but fails the checksum: must fail
    assert not verify("91350100M0001TGQXM")[0]


# ---------------------------------------------------------------------------------------------
# The demo enterprises (keep in sync with demo.json)
# ---------------------------------------------------------------------------------------------

ENTERPRISES = [
    "安宁某某化工有限公司",
    "安宁某某磷矿有限公司",
    "安宁某某冶金有限公司",
    "安宁某某物流有限公司",
    "安宁某某酒店管理有限公司",
    "安宁禄脿某某餐饮有限公司",
    "安宁某某砂石运输有限公司",
    "安宁某某新材料有限公司",
    "安宁某某环保科技有限公司",
    "安宁某某钢铁有限公司",
    "安宁某某建设工程有限公司",
    "安宁某某仓储有限公司",
    "安宁某某工业气体有限公司",
    "安宁某某危险货物运输有限公司",
]


def collect_codes(obj, out):
    """Collect (name, credit_code) pairs from any nested JSON structure."""
    if isinstance(obj, dict):
        if "credit_code" in obj:
            out.append((obj.get("name", "?"), obj["credit_code"]))
        for v in obj.values():
            collect_codes(v, out)
    elif isinstance(obj, list):
        for v in obj:
            collect_codes(v, out)


def main(argv):
    self_test()
    failures = 0
    print("%-32s %-20s %s" % ("企业名称", "统一社会信用代码", "校验"))
    codes = {}
    for name in ENTERPRISES:
        code = make_code(name)
        ok, why = verify(code)
        failures += 0 if ok else 1
        codes[name] = code
        print("%-32s %-20s %s" % (name, code, "OK" if ok else "FAIL: " + why))
    if len(set(codes.values())) != len(codes):
        print("FAIL: duplicate codes generated")
        failures += 1

    path = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        pairs = []
        collect_codes(data, pairs)
        by_name = {}
        for name, code in pairs:
            ok, why = verify(code)
            if not ok:
                print("FAIL in %s: %s %s (%s)" % (path, name, code, why))
                failures += 1
            if name in codes and codes[name] != code:
                print("FAIL in %s: %s has %s, generator gives %s" % (path, name, code, codes[name]))
                failures += 1
            if by_name.setdefault(name, code) != code:
                print("FAIL in %s: %s appears with two codes" % (path, name))
                failures += 1
        print("%s: %d credit_code entries (%d distinct enterprises) checked" % (path, len(pairs), len(by_name)))

    print("ALL OK" if failures == 0 else "%d FAILURE(S)" % failures)
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
