#!/usr/bin/env python3
"""Row-by-row markdown table of `viommu-sim validate -j` outputs: published, then one predicted
column per output file given (e.g. before and after a change), and an empty "moved by" column
to be filled by hand with the mechanism that moved each figure.

    scripts/validation-table.py before.json:b224f9f after.json:simB > table.md
"""
import json
import sys


def load(path):
    figs, orders, lacks = {}, {}, {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            o = json.loads(line)
            if "fig" in o:
                figs[(o["row"], o["fig"])] = o
            elif "order" in o:
                orders[(o["row"], o["order"])] = o
            else:
                lacks[o["row"]] = o
    return figs, orders, lacks


def num(v):
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.3g}"


def main():
    runs = []
    for arg in sys.argv[1:]:
        path, _, name = arg.partition(":")
        runs.append((name or path, load(path)))
    if not runs:
        sys.exit("usage: validation-table.py FILE[:NAME]...")
    keys, okeys, lkeys = [], [], []
    for _, (figs, orders, lacks) in runs:
        keys += [k for k in figs if k not in keys]
        okeys += [k for k in orders if k not in okeys]
        lkeys += [k for k in lacks if k not in lkeys]
    head = ["row", "figure", "published"] + [f"predicted ({n})" for n, _ in runs]
    head += [f"pred/pub ({runs[-1][0]})", "GAP costs in it", "moved by"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for k in keys:
        any_o = next(r[1][0][k] for r in runs if k in r[1][0])
        # A figure a unit cost was taken from is a consistency check, never a success.
        dep = " (dependent, not counted)" if any(
            r[1][0].get(k, {}).get("dependent") for r in runs) else ""
        cells = [k[0], f"{k[1]}{dep}: {any_o['label']}", num(any_o.get("published"))]
        last = None
        for _, (figs, _o, _l) in runs:
            o = figs.get(k)
            cells.append(num(o.get("predicted")) if o else "(not run)")
            last = o
        ratio = last.get("ratio") if last else None
        cells.append(f"{ratio:.2f}x" if ratio is not None else "-")
        gaps = (last or any_o).get("gaps") or []
        cells.append((" ".join(gaps) if isinstance(gaps, list) else gaps) or "none")
        cells.append("")
        print("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    if okeys:
        print()
        head = ["row", "stated ordering", "published"] + [f"holds ({n})" for n, _ in runs]
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for k in okeys:
            any_o = next(r[1][1][k] for r in runs if k in r[1][1])
            p = any_o.get("published_holds")
            cells = [k[0], k[1], "stated (no figures)" if p is None else ("holds" if p else "fails")]
            for _, (_f, orders, _l) in runs:
                o = orders.get(k)
                h = o.get("predicted_holds") if o else None
                cells.append("-" if o is None or h is None else ("yes" if h else "**no**"))
            print("| " + " | ".join(cells) + " |")
    if lkeys:
        print()
        print("Not modelled: " + "; ".join(
            f"{k} ({next(r[1][2][k] for r in runs if k in r[1][2])['lacks']})" for k in lkeys))


if __name__ == "__main__":
    main()
