"""The realistic trace-lookup request sequence (docs/benchmarks.md, row 1), written once and replayed by wrk.

What a public resolver sees, per request at random (weights are parameters): the app's JSON lookup, a phone's
browser opening the QR's Digital Link (some of them asking for a link type, which redirects), linkset requests,
HEAD checks, crawlers and link previews, and mistyped serials that exist nowhere. Serials: most requests scan a
code nobody looked up yet in the run, some a set of popular codes (Zipf-like, each kept below the 50-lookup
`suspicious` threshold and seen from its own few networks, as one item in one household), and a few copied codes
scanned everywhere (the alarm path). Client addresses come from a pool of tens of thousands, sent in
X-Forwarded-For as the shipped nginx does, so the production rate limits count a population, not one address.

The file is seeded: the same parameters give the same bytes, so a rerun sends the same requests. One request per
line, tab-separated: kind, expected status, method, path, then "Name: value" headers. Lines starting with '#'
are metadata (`# key=value ...`); `fresh_until` is the line after which "first-time" codes start repeating.

wrk cannot read the answer to a HEAD (it waits for the body that Content-Length announces; wg/wrk#198), so a HEAD
check is sent as the GET of a link checker's user agent: like a HEAD, the app does not count it as a scan, and it
does the same work plus sending the body.
"""

from __future__ import annotations

import bisect
import ipaddress
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# Shares of the mix (mix.md); "redirect" is the part of the phone's Digital Link requests that asks for a link type.
DEFAULT_WEIGHTS = {"api": 55.0, "page": 20.0, "linkset": 8.0, "head": 7.0, "bot": 5.0, "unknown": 5.0}
REDIRECT_SHARE = 0.1  # of "page"
REPEATED_SHARE = 0.30
COPIED_SHARE = 0.01
REPEATED_CODES = 3000
COPIED_CODES = 5
# The lookup counted before a code turns suspicious is 50 (TRACE_SCAN_LIMIT); popular codes stay well under it.
REPEAT_CAP = 40
SERIAL_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

PHONE_BROWSERS = [
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 "
    "MicroMessenger/8.0.49(0x18003137) NetType/WIFI Language/zh_CN",
    "Mozilla/5.0 (Linux; Android 14; V2309A Build/UP1A.231005.007; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160065 MMWEBSDK/20240404 MicroMessenger/8.0.49.2600",
    "Mozilla/5.0 (Linux; U; Android 13; zh-CN; PGT-AN10 Build/HONORPGT-AN10) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Version/4.0 Chrome/105.0.5195.148 Mobile Safari/537.36 AlipayClient/10.6.10.8000 Language/zh-Hans",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; 23127PN0CC) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 "
    "Mobile Safari/537.36",
]
APP_CLIENTS = [
    "SmartParkTrace/2.3.1 (iPhone15,3; iOS 17.5; Scale/3.00)",
    "SmartParkTrace/2.3.1 (Android 14; HUAWEI ALN-AL00)",
    *PHONE_BROWSERS[:2],  # the WeChat mini program calls the JSON API from inside WeChat
]
LINK_CHECKERS = ["curl/8.5.0", "Go-http-client/1.1", "python-requests/2.32.3", "Apache-HttpClient/4.5.14 (Java/17)"]
CRAWLERS = [
    "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Sogou web spider/4.0(+http://www.sogou.com/docs/help/webmasters.htm#07)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "WhatsApp/2.23.20.0",
]
HTML_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
LANGUAGES = ["zh-CN,zh;q=0.9", "zh-CN,zh-Hans;q=0.9", "en-US,en;q=0.9,zh-CN;q=0.8"]
# Carrier and broadband ranges of the kind mainland phones come from; the addresses inside them are made up.
IPV4_PREFIXES = ["36.", "39.", "58.", "60.", "111.", "112.", "117.", "120.", "183.", "223."]


@dataclass(frozen=True)
class Code:
    serial: str
    gtin: str
    lot: str | None


def make_serials(rng: random.Random, count: int) -> list[str]:
    """`count` distinct serials of the app's alphabet and length, from the seeded generator."""
    # A dict keeps the order drawn; a set's order changes with each process's string hashing.
    serials: dict[str, None] = {}
    while len(serials) < count:
        serials["".join(rng.choices(SERIAL_ALPHABET, k=16))] = None
    return list(serials)


def address_pool(rng: random.Random, count: int) -> list[str]:
    """Client addresses over many /24 networks; a fifth IPv6, as mobile carriers hand out."""
    pool: dict[str, None] = {}
    while len(pool) < count:
        if rng.random() < 0.2:
            pool[str(ipaddress.IPv6Address((0x240E << 112) | rng.getrandbits(100)))] = None
        else:
            pool[rng.choice(IPV4_PREFIXES) + ".".join(str(rng.randrange(1, 255)) for _ in range(3))] = None
    return list(pool)


class Serials:
    """Which code each request names: first-time, popular (Zipf, capped) or copied."""

    def __init__(self, rng: random.Random, codes: Sequence[Code], *, repeated: int, copied: int) -> None:
        self.rng = rng
        self.copied = list(codes[:copied])
        self.unused = list(codes[copied:])
        self.next_unused = 0
        self.fresh_until: int | None = None  # the request number at which first-time codes ran out
        self.slots = [self._take(0) for _ in range(repeated)]
        self.counts = [0] * repeated
        weights = [1.0 / (rank + 1) for rank in range(repeated)]
        total = 0.0
        self.cumulative = []
        for weight in weights:
            total += weight
            self.cumulative.append(total)

    def _take(self, number: int) -> Code:
        if self.next_unused >= len(self.unused):
            self.next_unused = 0
            if self.fresh_until is None:
                self.fresh_until = number
        code = self.unused[self.next_unused]
        self.next_unused += 1
        return code

    def pick(self, number: int) -> tuple[str, Code]:
        draw = self.rng.random()
        if draw < COPIED_SHARE and self.copied:
            return "copied", self.rng.choice(self.copied)
        if draw < COPIED_SHARE + REPEATED_SHARE and self.slots:
            slot = bisect.bisect(self.cumulative, self.rng.random() * self.cumulative[-1])
            slot = min(slot, len(self.slots) - 1)
            code = self.slots[slot]
            self.counts[slot] += 1
            if self.counts[slot] >= REPEAT_CAP:
                # An item is scanned by the few people who hold it; the next popular one takes its place.
                self.slots[slot], self.counts[slot] = self._take(number), 0
            return "repeated", code
        return "fresh", self._take(number)


def dl_path(code: Code) -> str:
    lot = f"/10/{code.lot}" if code.lot else ""
    return f"/01/{code.gtin}{lot}/21/{code.serial}"


def mistype(rng: random.Random, serial: str) -> str:
    """The serial with one character read wrong: a code that exists nowhere."""
    at = rng.randrange(len(serial))
    wrong = rng.choice([c for c in SERIAL_ALPHABET if c != serial[at]])
    return serial[:at] + wrong + serial[at + 1 :]


def request_for(rng: random.Random, kind: str, code: Code) -> tuple[int, str, str, dict[str, str]]:
    """(expected status, method, path, headers) of one request of `kind` about `code`."""
    if kind == "api":
        return 200, "GET", f"/api/v1/trace/codes/{code.serial}", _app_headers(rng)
    if kind == "page":
        headers = {"User-Agent": rng.choice(PHONE_BROWSERS), "Accept": HTML_ACCEPT}
        headers["Accept-Language"] = rng.choice(LANGUAGES)
        if rng.random() < REDIRECT_SHARE:
            return 307, "GET", dl_path(code) + "?linkType=gs1:traceability", headers
        return 200, "GET", dl_path(code), headers
    if kind == "linkset":
        headers = {"User-Agent": rng.choice(LINK_CHECKERS[1:]), "Accept": "application/linkset+json"}
        if rng.random() < 0.5:
            return 200, "GET", dl_path(code), headers
        return 200, "GET", dl_path(code) + "?linkType=linkset", {**headers, "Accept": "application/json"}
    if kind == "head":
        # A bare request (*/*) of a Digital Link is redirected to its default link (GS1 resolver standard).
        digital_link = rng.random() < 0.7
        headers = {"User-Agent": rng.choice(LINK_CHECKERS), "Accept": "*/*"}
        if digital_link:
            return 307, "GET", dl_path(code), headers
        return 200, "GET", f"/api/v1/trace/codes/{code.serial}", headers
    if kind == "bot":
        headers = {"User-Agent": rng.choice(CRAWLERS), "Accept": HTML_ACCEPT}
        return 200, "GET", dl_path(code), headers
    if kind == "unknown":
        wrong = Code(mistype(rng, code.serial), code.gtin, code.lot)
        if rng.random() < 0.6:
            return 404, "GET", f"/api/v1/trace/codes/{wrong.serial}", _app_headers(rng)
        return 404, "GET", dl_path(wrong), {"User-Agent": rng.choice(PHONE_BROWSERS), "Accept": HTML_ACCEPT}
    raise ValueError(f"unknown request kind {kind!r}")


def _app_headers(rng: random.Random) -> dict[str, str]:
    return {"User-Agent": rng.choice(APP_CLIENTS), "Accept": "application/json", "Accept-Language": "zh-CN"}


def write_sequence(
    out: Path,
    codes: Sequence[Code],
    *,
    requests: int,
    seed: int,
    addresses: int,
    weights: dict[str, float] | None = None,
    trace_host: str = "t.smartpark.example.cn",
) -> dict[str, int | None]:
    """Write `requests` lines to `out`; returns the metadata written in its header."""
    rng = random.Random(seed)
    weights = weights or DEFAULT_WEIGHTS
    kinds, kind_weights = list(weights), list(weights.values())
    pool = address_pool(rng, addresses)
    # A popular item's scanners: one to three addresses of their own (a household, a shop), so it stays under the
    # network limit (more than 5 networks in 24 h is a copied label).
    homes: dict[str, list[str]] = {}
    serials = Serials(rng, codes, repeated=min(REPEATED_CODES, len(codes) // 4), copied=COPIED_CODES)
    lines = []
    for number in range(requests):
        kind = rng.choices(kinds, kind_weights)[0]
        popularity, code = serials.pick(number)
        expect, method, path, headers = request_for(rng, kind, code)
        if popularity == "repeated" and kind != "unknown":
            home = homes.setdefault(code.serial, rng.sample(pool, rng.randint(1, 3)))
            address = rng.choice(home)
        else:
            address = rng.choice(pool)
        # As the shipped nginx sends them (deploy/nginx.conf), read with TRUSTED_PROXY_COUNT=1.
        headers |= {"X-Forwarded-For": address, "X-Forwarded-Proto": "https", "X-Forwarded-Host": trace_host}
        fields = [kind if kind == "unknown" else f"{kind}/{popularity}", str(expect), method, path]
        lines.append("\t".join(fields + [f"{name}: {value}" for name, value in headers.items()]))
    meta = {"lines": requests, "seed": seed, "addresses": addresses, "codes": len(codes)}
    meta["fresh_until"] = serials.fresh_until
    with out.open("w") as file:
        file.write("# " + " ".join(f"{key}={value}" for key, value in meta.items()) + "\n")
        file.write("\n".join(lines) + "\n")
    return meta


def read_meta(path: Path) -> dict[str, str]:
    """The `# key=value` header of a sequence file (empty for a plain bodies file)."""
    with path.open() as file:
        first = file.readline()
    if not first.startswith("#"):
        return {}
    return dict(item.split("=", 1) for item in first[1:].split() if "=" in item)


def expected_counts(path: Path) -> dict[str, int]:
    """How many lines of each kind and expected status the file holds (for the report's header)."""
    counts: dict[str, int] = {}
    with path.open() as file:
        for line in file:
            if line.startswith("#") or not line.strip():
                continue
            kind, expect = line.split("\t", 2)[:2]
            key = f"{kind.split('/')[0]} {expect}"
            counts[key] = counts.get(key, 0) + 1
    return counts
