"""Reads the JSON lines of our benchmark and of Flower's (stdin) and prints the ratios.

Round time is one client's time plus the trainer's: clients work in parallel, so that is the
critical path of a round on an idle network. Usage: compare.py CLIENTS < lines
"""

import json
import sys


def main():
    n = int(sys.argv[1])
    rows = [json.loads(line) for line in sys.stdin if line.strip()]
    by = {(r["case"], r["clients"]): r for r in rows}
    plain, flower = by[("plain", n)], by.get(("flower-secagg+", n))

    def round_ms(r):
        return r["client_ms"] + r["trainer_ms"]

    head = f"{'case':<10}{'client ms':>11}{'trainer ms':>12}{'round ms':>10}{'sent B':>10}"
    head += f" | {'trainer/plain':>13}{'bytes/plain':>12}"
    if flower:
        head += f" | {'Flower/ours client':>18}{'trainer':>9}{'round':>8}{'bytes':>7}"
    print(head)
    for case in ["secagg", "secagg+"]:
        r = by[(case, n)]
        line = f"{case:<10}{r['client_ms']:>11.1f}{r['trainer_ms']:>12.1f}{round_ms(r):>10.1f}{r['client_bytes_sent']:>10}"
        line += f" | {r['trainer_ms'] / plain['trainer_ms']:>12.0f}x{r['client_bytes_sent'] / plain['client_bytes_sent']:>11.2f}x"
        if flower:
            line += f" | {flower['client_ms'] / r['client_ms']:>17.1f}x{flower['trainer_ms'] / r['trainer_ms']:>8.1f}x"
            line += f"{round_ms(flower) / round_ms(r):>7.1f}x{flower['client_bytes_sent'] / r['client_bytes_sent']:>6.2f}x"
        print(line)
    if flower:
        print(f"{'flower+':<10}{flower['client_ms']:>11.1f}{flower['trainer_ms']:>12.1f}{round_ms(flower):>10.1f}"
              f"{flower['client_bytes_sent']:>10}   (Flower's aggregate vs the exact mean: max error {flower['max_error']:.1e})")
    print(f"{'plain':<10}{0.0:>11.1f}{plain['trainer_ms']:>12.1f}{round_ms(plain):>10.1f}{plain['client_bytes_sent']:>10}")
    small = by[("secagg+", n)]
    for r in rows:
        if r["case"] == "secagg+" and r["clients"] != n:
            print(f"SecAgg+ {n} -> {r['clients']} clients: degree {small['degree']} -> {r['degree']}, "
                  f"client {small['client_ms']:.1f} -> {r['client_ms']:.1f} ms (x{r['client_ms'] / small['client_ms']:.2f}), "
                  f"sent {small['client_bytes_sent']} -> {r['client_bytes_sent']} B, "
                  f"trainer {small['trainer_ms']:.0f} -> {r['trainer_ms']:.0f} ms")


if __name__ == "__main__":
    main()
