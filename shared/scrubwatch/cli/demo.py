"""``scrubwatch demo``: a small company site on 127.0.0.1 that scrubs itself between checks.

Works offline. It runs the real engine against a real local HTTP server, three times:
before the scrub (first sight), right after it (changes, and deletions only suspected),
and once more (the deletions confirmed).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from ..alerts.channels import ConsolePublisher
from ..backends.local import FolderEvidenceStore, SqliteStateStore
from ..check.engine import Engine
from ..core.config import parse_watchlist
from .demo_tsa import OpensslTsa, openssl_found
from .state_folder import UsageError

# `demo --serve`: fetching these switches the site (the watch list never names them).
_SWITCHES = {"/_demo/scrub": True, "/_demo/restore": False}
TSA_PATH = "/_demo/tsr"
SERVE_PORT = 8731

_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head>
<body><nav><a href="/">Home</a> <a href="/careers.html">Careers</a></nav>
<main>{body}</main><footer>© Lumen Optics</footer></body></html>"""

_JOBS = [
    ("Optical Engineer", "Shenzhen"),
    ("Firmware Engineer", "Urumqi"),
    ("Image Algorithm Researcher", "Urumqi"),
    ("Sales Manager", "Hangzhou"),
]

_MAP = """<section id="rd-map"><h2>Our R&amp;D centres</h2>
<iframe src="https://maps.example.net/embed?q=Lumen+R%26D+Urumqi"></iframe>
<p>Urumqi R&amp;D Center — image recognition lab</p></section>"""


def _site(scrubbed: bool) -> dict[str, tuple[int, dict[str, str], str]]:
    jobs = [j for j in _JOBS if not (scrubbed and j[1] == "Urumqi")]
    items = "".join(f'<li class="job">{t}, {c}</li>' for t, c in jobs)
    recruit = "<h1>Campus recruitment</h1><p>Join us.</p>" + ("" if scrubbed else _MAP)
    home = _PAGE.format(title="Lumen Optics", body="<h1>Lumen Optics</h1><p>Welcome.</p>")
    site: dict[str, tuple[int, dict[str, str], str]] = {
        "/": (200, {}, home),
        "/careers.html": (
            200,
            {},
            _PAGE.format(
                title="Careers", body=f'<h1>Open positions</h1><ul id="jobs">{items}</ul>'
            ),
        ),
        "/campus/recruit.html": (200, {}, _PAGE.format(title="Campus", body=recruit)),
        "/agency/jobs/1002.html": (
            200,
            {},
            _PAGE.format(
                title="Agency ad 1002",
                body="<h1>Firmware Engineer (Urumqi)</h1><p>Posted by Lumen Optics.</p>",
            ),
        ),
        "/agency/": (200, {}, _PAGE.format(title="Agency", body="<h1>All our openings</h1>")),
        "/products/eye-9.html": (
            200,
            {},
            _PAGE.format(title="Eye-9 camera", body="<h1>Eye-9</h1><p>Ethnicity detection.</p>"),
        ),
    }
    if scrubbed:
        site["/agency/jobs/1002.html"] = (302, {"Location": "/agency/"}, "")
        site["/products/eye-9.html"] = (404, {}, _PAGE.format(title="Not found", body="Not found"))
    return site


_WATCHLIST = """
settings:
  allow_networks: ["127.0.0.1/32"]
  confirm_gone: 2
  retries: 0
watches:
  - id: careers
    name: Careers page
    url: {base}/careers.html
    select: "#jobs"
    items: "li.job"
    keywords: ["Urumqi"]
  - id: rd-map
    name: Campus recruitment R&D map
    url: {base}/campus/recruit.html
    select: "#rd-map"
  - id: agency-1002
    name: Agency ad 1002
    url: {base}/agency/jobs/1002.html
  - id: eye-9
    name: Eye-9 product page
    url: {base}/products/eye-9.html
"""


class _Site:
    def __init__(self, port: int = 0, remember: Path | None = None) -> None:
        # `demo --serve`: whether the site is scrubbed is kept in ``remember`` (a file), so
        # a restarted site is as it was; and it answers timestamp queries once ``tsa`` is set.
        self.remember = remember
        self.scrubbed = remember is not None and remember.exists()
        self.tsa: OpensslTsa | None = None
        site: _Site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path in _SWITCHES:  # `demo --serve`: the company scrubs, or undoes it
                    site.switch(_SWITCHES[self.path])
                    said = "scrubbed" if site.scrubbed else "restored"
                    self._send(200, {"Content-Type": "text/plain"}, f"site {said}\n".encode())
                    return
                pages = _site(site.scrubbed)
                status, headers, body = pages.get(self.path.split("?")[0], (404, {}, "Not found"))
                self._send(
                    status, {"Content-Type": "text/html; charset=utf-8", **headers}, body.encode()
                )

            def do_POST(self) -> None:  # the demo's timestamp authority
                length = self.headers.get("Content-Length", "0")
                query = self.rfile.read(int(length) if length.isdigit() else 0)
                if site.tsa is None or self.path != TSA_PATH:
                    self._send(404, {}, b"")
                    return
                try:
                    reply = site.tsa.reply(query)
                except subprocess.CalledProcessError:  # not a timestamp query
                    self._send(400, {}, b"")
                    return
                self._send(200, {"Content-Type": "application/timestamp-reply"}, reply)

            def _send(self, status: int, headers: dict[str, str], data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def switch(self, scrubbed: bool) -> None:
        self.scrubbed = scrubbed
        if self.remember is not None:
            if scrubbed:
                self.remember.touch()
            else:
                self.remember.unlink(missing_ok=True)

    def __enter__(self) -> _Site:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _demo_root(given: Path | None) -> Path:
    """The demo's state folder: a temporary one, or ``--state DIR`` (new or empty: the
    demo's site has a new address every run, so older state would only confuse it)."""
    if given is None:
        return Path(tempfile.mkdtemp(prefix="scrubwatch-demo-"))
    if given.exists() and (not given.is_dir() or any(given.iterdir())):
        raise UsageError(
            f"demo --state {given}: give a new or empty folder (the demo starts from nothing)"
        )
    try:
        given.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"demo --state {given}: cannot make it ({exc.strerror})") from None
    return given


def run_demo(keep: bool = False, root: Path | None = None) -> int:
    """``root``: keep the demo's state there (and keep it) instead of a temporary folder."""
    out = sys.stdout
    keep = keep or root is not None
    root = _demo_root(root)
    try:
        with _Site() as site:
            watchlist = parse_watchlist(_WATCHLIST.format(base=site.base), "demo-watchlist.yaml")
            state = SqliteStateStore(root / "state.sqlite3")
            evidence = FolderEvidenceStore(root / "evidence")
            console = ConsolePublisher(out, show_first_seen=True, max_lines=4)
            steps = (
                ("1. First check: scrubwatch reads each page and keeps its evidence.", False),
                ("2. The company scrubs its site, and scrubwatch checks again.", True),
                ("3. One more check confirms what is really gone (confirm_gone: 2).", True),
            )
            try:
                for title, scrubbed in steps:
                    site.scrubbed = scrubbed
                    out.write(f"\n=== {title}\n\n")
                    report = Engine(watchlist, state, evidence, [console], workers=1).run(
                        force=True
                    )
                    if not report.events:
                        out.write("(no alerts: a page is only suspected gone until confirmed)\n")
            finally:
                state.close()
        out.write(f"\nEvidence (WARC, text) for every version is under {root}/evidence\n")
        if keep:
            out.write(f"(try: scrubwatch history careers --state {root})\n")
        else:
            out.write("(removed again; run `scrubwatch demo --keep` to keep it)\n")
        return 0
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


_MADE = "# Made by `scrubwatch demo --serve`."
_SERVED_SETTINGS = """
  timestamp:
    authorities:
      - url: {base}/_demo/tsr
        certificate: demo-tsa-ca.pem   # the demo's own authority: it proves nothing to anyone
"""


def _serve_folder(folder: Path) -> None:
    """New, empty, or made by an earlier `demo --serve` (its state and authority kept)."""
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"demo --serve {folder}: a file; give a folder")
    made = folder / "watchlist.yaml"
    ours = made.exists() and made.read_text("utf-8").startswith(_MADE)
    if folder.exists() and any(folder.iterdir()) and not ours:
        raise UsageError(
            f"demo --serve {folder}: give a new or empty folder (or one an earlier "
            "`demo --serve` made)"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"demo --serve {folder}: cannot make it ({exc.strerror})") from None


def serve_demo(folder: Path, port: int = SERVE_PORT) -> int:
    """The demo site (and, with openssl, a timestamp authority) on 127.0.0.1:``port``
    until Ctrl-C, with a watch list for it in ``folder``: to try every command by hand."""
    _serve_folder(folder)
    folder = folder.resolve()  # the instructions say where it is from any folder
    try:
        site = _Site(port, folder / ".demo-scrubbed")
    except OSError as exc:
        raise UsageError(
            f"demo --serve: cannot listen on 127.0.0.1:{port} ({exc.strerror}); "
            "give another with --port"
        ) from None
    tsa = site.tsa = OpensslTsa(folder / ".demo-tsa", "Demo TSA") if openssl_found() else None
    text = _WATCHLIST.format(base=site.base)
    if tsa is not None:
        (folder / "demo-tsa-ca.pem").write_bytes(tsa.ca.read_bytes())
        text = text.replace("\nwatches:", _SERVED_SETTINGS.format(base=site.base) + "watches:", 1)
    (folder / "watchlist.yaml").write_text(_MADE + text)
    out = sys.stdout
    out.write(
        f"The demo company's site is on {site.base}/ "
        f"{'with' if tsa else 'without (no openssl found)'} a demo timestamp authority.\n"
        f"Its watch list is {folder / 'watchlist.yaml'}. In another terminal:\n\n"
        f"  cd {folder}\n"
        "  scrubwatch check                         # first sight: every page kept\n"
        '  scrubwatch contact all --note "emailed the press office"\n'
        f"  curl {site.base}/_demo/scrub   # the company scrubs its site\n"
        "  scrubwatch check --force                 # twice: seen gone, then confirmed\n"
        "  scrubwatch check --force\n"
        "  scrubwatch report -o report              # then open report/report.html\n\n"
        f"({site.base}/_demo/restore puts the site back.) Ctrl-C stops it.\n"
        + ("\nThe site is scrubbed (as it was left).\n" if site.scrubbed else "")
    )
    out.flush()
    with site:
        try:
            site.thread.join()
        except KeyboardInterrupt:
            out.write("\ndemo site stopped\n")
    return 0
