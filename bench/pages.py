"""Page weight of every resident page, raw and on the wire (gzip), in French and English.

    python bench/pages.py

Budget (issue 2): ≤ 14,600 bytes on the wire (the first TCP congestion window) and
≤ 50 KB raw; the welcome page ≤ 5 KB.
"""
from __future__ import annotations

import gzip
import re
import sys
import tempfile
from urllib.parse import urljoin, urlparse

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))

from kit.core import config as kit_config  # noqa: E402
from kit.web.app import create_app  # noqa: E402


def crawl(client) -> dict[str, tuple[int, int]]:
    seen, queue, sizes = set(), ["/", "/welcome"], {}
    while queue:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        response = client.get(path, headers={"Accept-Encoding": "gzip"}, base_url="http://kit.lan")
        if response.status_code != 200:
            continue
        wire = len(response.data)
        raw = gzip.decompress(response.data) if response.headers.get("Content-Encoding") == "gzip" else response.data
        sizes[path] = (len(raw), wire)
        if response.mimetype == "text/html":
            for href in re.findall(r'href="([^"]+)"', raw.decode()):
                url = urlparse(urljoin("http://kit.lan" + path, href.replace("&amp;", "&")))
                if url.scheme == "http" and url.netloc == "kit.lan" and not url.path.startswith(("/langue/", "/welcome/")):
                    queue.append(url.path + (f"?{url.query}" if url.query else ""))
    return sizes


def main() -> int:
    app = create_app(kit_config.build(tempfile.mkdtemp(prefix="kit-pages-")))
    rows, worst = [], 0
    for lang in ("fr", "en"):
        client = app.test_client()
        client.set_cookie("lang", lang, domain="kit.lan")
        for path, (raw, wire) in sorted(crawl(client).items()):
            rows.append((path, lang, raw, wire))
            worst = max(worst, wire)
    print("Command: `python bench/pages.py` (every page reachable from / and /welcome)\n")
    print("| page | lang | raw bytes | gzip bytes | within budget |")
    print("|---|---|---|---|---|")
    failed = False
    for path, lang, raw, wire in rows:
        limit_raw = 5 * 1024 if path == "/welcome" else 50_000
        ok = wire <= 14_600 and raw <= limit_raw
        failed |= not ok
        print(f"| `{path}` | {lang} | {raw} | {wire} | {'yes' if ok else 'NO'} |")
    print(f"\n{len(rows)} pages; heaviest on the wire: {worst} bytes (budget 14,600).")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
