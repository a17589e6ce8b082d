#!/usr/bin/env python3
"""Pay an AI Factory gateway for predictions with nothing but PyNaCl and the standard library.

A consumer opens a payment channel on chain first (`aifactory channel open`); then each call
carries a voucher: the consumer's ed25519 signature over the cumulative amount owed on the
channel. This script signs vouchers, calls the gateway, checks the gateway's signature on every
receipt, and shows that a used voucher is refused.

What it does not check (the CLI's `aifactory predict` and `aifactory receipt verify` do): the
node's Merkle proofs that the deployment and channel are what the chain says, and the receipt's
input and output hashes, which are BLAKE3 (not in Python's standard library).

    python3 consumer.py --gateway http://127.0.0.1:8800 --model 1 --channel 1 \
        --chain-id aifactory-devnet --seed-hex "$(aifactory keys export consumer)" \
        --vectors ../../crates/types/tests/vectors/vouchers.json
"""

import argparse
import json
import struct
import sys
import urllib.error
import urllib.request

from nacl.signing import SigningKey, VerifyKey

VOUCHER_NAMESPACE = b"aifactory 2026-12 channel voucher v1"
RECEIPT_NAMESPACE = b"aifactory 2026-12 inference receipt v1"
BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def frame(namespace: bytes, body: bytes) -> bytes:
    """The bytes actually signed: u8 len(namespace) | namespace | body."""
    return bytes([len(namespace)]) + namespace + body


def borsh_string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<I", len(raw)) + raw


def voucher_message(chain_id: str, channel: int, amount: int) -> bytes:
    return frame(VOUCHER_NAMESPACE, borsh_string(chain_id) + struct.pack("<QQ", channel, amount))


def receipt_message(r: dict) -> bytes:
    """borsh(InferenceReceipt), framed in the receipt namespace."""
    body = (
        borsh_string(r["chain_id"])
        + struct.pack("<QQ", r["deployment"], r["model"])
        + bytes.fromhex(r["model_hash"])
        + struct.pack("<QQ", r["channel"], r["amount"])
        + bytes.fromhex(r["input_hash"])
        + bytes.fromhex(r["output_hash"])
        + struct.pack("<Q", r["height"])
    )
    return frame(RECEIPT_NAMESPACE, body)


def address_key(address: str) -> bytes:
    """The 32-byte public key inside a bech32m address (aif1...). The checksum is not checked
    here: a wrong key simply fails the signature check."""
    data = address.rsplit("1", 1)[1][:-6]
    acc, bits, out = 0, 0, bytearray()
    for char in data:
        acc = (acc << 5) | BECH32_CHARSET.index(char)
        bits += 5
        if bits >= 8:
            bits -= 8
            out.append((acc >> bits) & 0xFF)
    return bytes(out[:32])


def check_vectors(path: str) -> None:
    """Our signing reproduces the chain's recorded vouchers byte for byte."""
    with open(path) as f:
        vectors = json.load(f)
    assert vectors["namespace"].encode() == VOUCHER_NAMESPACE
    for v in vectors["vectors"]:
        key = SigningKey(bytes.fromhex(v["secret_key_hex"]))
        message = voucher_message(v["chain_id"], v["channel"], v["amount"])
        assert message.hex() == v["message_hex"], v["comment"]
        assert key.sign(message).signature.hex() == v["signature_hex"], v["comment"]
    print(f"{len(vectors['vectors'])} voucher vectors reproduced")


def call(url: str, body: dict = None):
    """(status, JSON body) of a GET, or of a POST of `body`."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateway", required=True)
    parser.add_argument("--model", type=int, required=True)
    parser.add_argument("--channel", type=int, required=True)
    parser.add_argument("--chain-id", required=True)
    parser.add_argument("--seed-hex", required=True, help="the consumer's secret key, hex")
    parser.add_argument("--paid", type=int, default=0, help="what the channel has paid so far")
    parser.add_argument("--calls", type=int, default=3)
    parser.add_argument("--vectors")
    args = parser.parse_args()

    if args.vectors:
        check_vectors(args.vectors)
    key = SigningKey(bytes.fromhex(args.seed_hex.strip()))
    status, gateway = call(f"{args.gateway}/v1/status")
    assert status == 200, gateway
    served = next(m for m in gateway["models"] if m["model"] == args.model)
    price, columns = served["price_per_call"], served["columns"]
    row = ",".join("0.5" for _ in columns)
    payload = ",".join(columns) + "\n" + row + "\n"

    amount = args.paid
    for _ in range(args.calls):
        amount += price
        signature = key.sign(voucher_message(args.chain_id, args.channel, amount)).signature
        voucher = {"channel": args.channel, "amount": amount, "signature": signature.hex()}
        status, answer = call(
            f"{args.gateway}/v1/predict/{args.model}", {"voucher": voucher, "input": payload}
        )
        assert status == 200, answer
        signed = answer["receipt"]
        receipt = signed["receipt"]
        VerifyKey(address_key(signed["gateway"])).verify(
            receipt_message(receipt), bytes.fromhex(signed["signature"])
        )
        assert receipt["amount"] == amount and receipt["channel"] == args.channel
        print(f"paid {amount}: class {answer['rows'][0]['class']}, receipt signed by the gateway")

    # The last voucher again, for another input: already used, so refused with what would pay.
    other = ",".join(columns) + "\n" + ",".join("1" for _ in columns) + "\n"
    status, refusal = call(
        f"{args.gateway}/v1/predict/{args.model}", {"voucher": voucher, "input": other}
    )
    assert status == 402, refusal
    assert refusal["error"]["code"] == "replayed_voucher", refusal
    assert refusal["error"]["details"]["expected_amount"] == amount + price, refusal
    print("a replayed voucher is refused with 402 replayed_voucher")
    return 0


if __name__ == "__main__":
    sys.exit(main())
