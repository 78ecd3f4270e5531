"""A small, strict parser of the Prometheus text exposition format 0.0.4
(https://prometheus.io/docs/instrumenting/exposition_formats/), for the
end-to-end API tests. Stricter than Prometheus itself where the format says
"must"; raises PromError naming the line on anything else.

    families = parse(text)          # {name: Family}
    value(families, "sovdns_queries_total", transport="udp")
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}
_NAME_RE = re.compile(NAME)
_LABEL_RE = re.compile(LABEL)
_FLOAT_RE = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


class PromError(Exception):
    pass


@dataclass
class Family:
    name: str
    type: str | None = None
    help: str | None = None
    # (sample name, frozenset of (label, value)) -> value
    samples: dict = field(default_factory=dict)


def _unescape(text: str, allowed: str, where: str) -> str:
    """Resolves backslash escapes: \\\\ and \\n, plus \\" in label values."""
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            if i + 1 >= len(text) or text[i + 1] not in allowed:
                raise PromError(f"{where}: invalid escape in {text!r}")
            out.append({"\\": "\\", "n": "\n", '"': '"'}[text[i + 1]])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _parse_value(text: str, where: str) -> float:
    if text in ("+Inf", "Inf"):
        return math.inf
    if text == "-Inf":
        return -math.inf
    if text == "NaN":
        return math.nan
    if not _FLOAT_RE.fullmatch(text):
        raise PromError(f"{where}: {text!r} is not a sample value")
    return float(text)


def _parse_labels(text: str, i: int, where: str):
    """Parses {a="x",b="y"} starting at text[i] == "{"; returns (labels, next index)."""
    labels = {}
    i += 1
    while True:
        if i < len(text) and text[i] == "}":
            return labels, i + 1
        m = _LABEL_RE.match(text, i)
        if not m:
            raise PromError(f"{where}: expected a label name at column {i + 1}")
        name = m.group(0)
        i = m.end()
        if text[i:i + 2] != '="':
            raise PromError(f"{where}: expected =\" after label {name}")
        i += 2
        j = i
        while j < len(text) and text[j] != '"':
            j += 2 if text[j] == "\\" else 1
        if j >= len(text):
            raise PromError(f"{where}: unterminated value of label {name}")
        if name in labels:
            raise PromError(f"{where}: label {name} given twice")
        if name.startswith("__"):
            raise PromError(f"{where}: label names starting with __ are reserved")
        labels[name] = _unescape(text[i:j], '\\n"', where)
        i = j + 1
        if i < len(text) and text[i] == ",":
            i += 1
        elif i < len(text) and text[i] == "}":
            continue
        else:
            raise PromError(f"{where}: expected , or }} after label {name}")


def _family_of(sample: str, families: dict) -> str:
    """The family a sample name belongs to (histogram/summary suffixes)."""
    for suffix, kinds in (("_bucket", {"histogram"}), ("_sum", {"histogram", "summary"}),
                          ("_count", {"histogram", "summary"})):
        if sample.endswith(suffix):
            base = sample[: -len(suffix)]
            if base in families and families[base].type in kinds:
                return base
    return sample


def parse(text: str, require_meta: bool = True, strict_groups: bool = True) -> dict:
    """Parses a whole exposition. require_meta: every family has HELP and TYPE
    (not required by the format, but sovdns documents every metric).
    strict_groups: the lines of a metric are one group ("All lines for a given
    metric must be provided as one single group"); False accepts them
    interleaved, as Prometheus' own parser does, for tests that look at values."""
    if text and not text.endswith("\n"):
        raise PromError("the exposition does not end with a line feed")
    families: dict[str, Family] = {}
    done: set = set()      # families whose group of lines has ended
    current = None         # the family whose lines are being read
    seen_samples: set = set()

    def enter(name, where):
        nonlocal current
        if current != name:
            if name in done and strict_groups:
                raise PromError(f"{where}: lines of {name} are not one group (it appeared "
                                "before another metric)")
            if current is not None:
                done.add(current)
            current = name
        return families.setdefault(name, Family(name))

    for n, line in enumerate(text.split("\n")[:-1] if text else [], start=1):
        where = f"line {n}"
        if line == "":
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 2 and parts[1] in ("HELP", "TYPE"):
                if len(parts) < 3 or not _NAME_RE.fullmatch(parts[2]):
                    raise PromError(f"{where}: {parts[1]} without a valid metric name: {line!r}")
                fam = enter(parts[2], where)
                rest = parts[3] if len(parts) > 3 else ""
                if parts[1] == "HELP":
                    if fam.help is not None:
                        raise PromError(f"{where}: second HELP for {fam.name}")
                    fam.help = _unescape(rest, "\\n", where)
                else:
                    if fam.type is not None:
                        raise PromError(f"{where}: second TYPE for {fam.name}")
                    if fam.samples:
                        raise PromError(f"{where}: TYPE of {fam.name} after its samples")
                    if rest not in TYPES:
                        raise PromError(f"{where}: unknown type {rest!r}")
                    fam.type = rest
            continue  # other comments are allowed
        m = _NAME_RE.match(line)
        if not m:
            raise PromError(f"{where}: not a sample: {line!r}")
        sname = m.group(0)
        i = m.end()
        labels = {}
        if i < len(line) and line[i] == "{":
            labels, i = _parse_labels(line, i, where)
        rest = line[i:]
        if not rest.startswith(" ") and not rest.startswith("\t"):
            raise PromError(f"{where}: expected a blank before the value: {line!r}")
        fields = rest.split()
        if len(fields) not in (1, 2):
            raise PromError(f"{where}: expected a value and an optional timestamp: {line!r}")
        val = _parse_value(fields[0], where)
        if len(fields) == 2 and not re.fullmatch(r"-?\d+", fields[1]):
            raise PromError(f"{where}: timestamp {fields[1]!r} is not an integer")
        fname = _family_of(sname, families)
        fam = enter(fname, where)
        key = (sname, frozenset(labels.items()))
        if key in seen_samples:
            raise PromError(f"{where}: duplicate series {sname}{labels}")
        seen_samples.add(key)
        if fam.type == "counter" and not (val >= 0):
            raise PromError(f"{where}: counter {sname} is {val}")
        if fam.type in ("counter", "gauge", "untyped", None) and sname != fname:
            raise PromError(f"{where}: {sname} in family {fname}")
        fam.samples[key] = val

    if require_meta:
        for fam in families.values():
            if fam.type is None or fam.help is None:
                raise PromError(f"{fam.name}: no {'TYPE' if fam.type is None else 'HELP'} line")
    return families


def value(families: dict, name: str, **labels) -> float:
    """The value of one series (exact label set); KeyError if absent."""
    fam = families[_family_of(name, families)]
    return fam.samples[(name, frozenset(labels.items()))]


def total(families: dict, name: str, **match) -> float:
    """The sum over the series of name whose labels include match."""
    fam = families.get(_family_of(name, families))
    if fam is None:
        raise KeyError(name)
    return sum(v for (n, ls), v in fam.samples.items()
               if n == name and set(match.items()) <= set(ls))
