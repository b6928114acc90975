#!/usr/bin/env python3
"""Verify an `isms-bot records export` (JSON Lines) without the bot: Python 3.8+ standard library only.

    python3 verify_records.py EXPORT.jsonl [--public-key HEX | --key HEX] [--expect-head SEQ:HASH ...]

Checks every record's data hash, own hash and link to the one before; that every erased record is
named by a later erasure record dated at or after its retention end; with a key, every seal's Ed25519
signature and that the sealed record is there with that hash; and each published head given.
The scheme is in docs/records.md. Exit 0 when everything holds, 1 naming the first problem.
"""

import argparse
import hashlib
import json
import sys

US = "\x1f"
GENESIS = "0" * 64

# --- Ed25519 verification (RFC 8032), pure Python; slow but seals are few ---
P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _add(a, b):
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    e, f = (y1 - x1) * (y2 - x2) % P, (y1 + x1) * (y2 + x2) % P
    g, h = 2 * t1 * t2 * D % P, 2 * z1 * z2 % P
    e, f, g, h = f - e, h - g, h + g, f + e
    return e * f % P, g * h % P, f * g % P, e * h % P


def _mul(s, point):
    q = (0, 1, 1, 0)
    while s:
        if s & 1:
            q = _add(q, point)
        point, s = _add(point, point), s >> 1
    return q


def _equal(a, b):
    return (a[0] * b[2] - b[0] * a[2]) % P == 0 and (a[1] * b[2] - b[1] * a[2]) % P == 0


def _decode(raw):
    y = int.from_bytes(raw, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P)
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P or (x == 0 and sign):
        return None
    if x & 1 != sign:
        x = P - x
    return x, y, 1, x * y % P


def _encode(point):
    zi = pow(point[2], P - 2, P)
    x, y = point[0] * zi % P, point[1] * zi % P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


BASE = _decode((4 * pow(5, P - 2, P) % P).to_bytes(32, "little"))


def public_key_of(seed):
    digest = hashlib.sha512(seed).digest()
    scalar = int.from_bytes(digest[:32], "little") & ((1 << 254) - 8) | (1 << 254)
    return _encode(_mul(scalar, BASE))


def ed25519_valid(public, message, signature):
    point = _decode(public)
    if point is None or len(signature) != 64:
        return False
    r, s = _decode(signature[:32]), int.from_bytes(signature[32:], "little")
    if r is None or s >= L:
        return False
    k = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little") % L
    return _equal(_mul(s, BASE), _add(r, _mul(k, point)))


# --- the chain ---


def sha256(value):
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def expand(data):
    try:
        return [n for first, last in json.loads(data or "{}").get("seqs", []) for n in range(first, last + 1)]
    except (ValueError, TypeError, AttributeError):
        return []


def verify(lines, public_key=None, heads=()):
    """Return (records checked, problem or None)."""
    prev_seq, prev, count = 0, GENESIS, 0
    hashes, seals, erased, erasures = {}, [], {}, {}
    for number, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
        except ValueError:
            return count, f"line {number} is not JSON"
        if row.get("type") == "seal":
            seals.append(row)
            continue
        seq = row["seq"]
        if row["data"] is None:
            erased[seq] = row["retain_until"]
        elif sha256(row["data"]) != row["data_hash"]:
            return count, f"record {seq}: data does not match its hash"
        if seq <= prev_seq or row["prev_hash"] != prev:
            return count, f"record {seq}: does not follow record {prev_seq}"
        fields = [str(seq), row["at"], row["actor"], row["process"], row["action"], row["subject_type"]]
        fields += [row["subject_id"], row["data_hash"], row["prev_hash"], row["retain_until"] or ""]
        if sha256(US.join(fields)) != row["hash"]:
            return count, f"record {seq}: hash does not match its contents"
        if row["process"] == "REC" and row["action"] == "erased":
            for n in expand(row["data"]):
                erasures.setdefault(n, (seq, row["at"]))
        hashes[seq] = prev = row["hash"]
        prev_seq, count = seq, count + 1
    for seq, until in sorted(erased.items()):
        erasure = erasures.get(seq)
        if erasure is None or erasure[0] <= seq:
            return count, f"record {seq}: erased without an erasure record"
        if until is None or erasure[1] < until:
            return count, f"record {seq}: erased before its retention ended"
    anchors = [(h["seq"], h["hash"], f"published head {h['seq']}") for h in heads]
    if public_key:
        for seal in seals:
            message = US.join(("isms-records-seal-v1", str(seal["seq"]), seal["hash"], seal["sealed_at"]))
            if seal["public_key"] != public_key.hex() or not ed25519_valid(
                public_key, message.encode("utf-8"), bytes.fromhex(seal["signature"])
            ):
                return count, f"seal of record {seal['seq']} at {seal['sealed_at']}: signature invalid"
            anchors.append((seal["seq"], seal["hash"], f"seal of {seal['sealed_at']}"))
    for seq, expected, what in anchors:
        if seq not in hashes:
            return count, f"record {seq} named by the {what} is missing (truncated or deleted)"
        if hashes[seq] != expected:
            return count, f"record {seq} does not match the {what} (rewritten)"
    return count, None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export")
    parser.add_argument("--public-key", help="Ed25519 public key, hex")
    parser.add_argument("--key", help="the ISMS_RECORDS_KEY seed, hex (the public key is derived)")
    parser.add_argument("--expect-head", action="append", default=[], help="a published head SEQ:HASH")
    args = parser.parse_args(argv)
    public = bytes.fromhex(args.public_key) if args.public_key else None
    if args.key:
        public = public_key_of(bytes.fromhex(args.key))
    heads = []
    for value in args.expect_head:
        seq, _, digest = value.split()[0].partition(":")
        heads.append({"seq": int(seq), "hash": digest})
    with open(args.export, encoding="utf-8") as handle:
        try:
            count, problem = verify(handle, public, heads)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            count, problem = 0, f"malformed export ({error!r})"
    if problem:
        print(f"BROKEN: {problem} ({count} records before it are intact)")
        return 1
    print(f"OK: {count} records, chain intact" + (", seals valid" if public else ", seals not checked (no key)"))
    if not public and not heads:
        print("Cannot detect: removal of records at the tail, or a rewrite with recomputed hashes (no key, no head).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
