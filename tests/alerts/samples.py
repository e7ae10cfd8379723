"""Hand-built ``scrubwatch.event/1`` events, one per kind, with fixed ids and times.

They read like what the engine emits (see ``scrubwatch.core.decide``) but do not depend on it:
the expected renderings in ``expected/`` are reviewed by hand against these.
"""

from __future__ import annotations

from dataclasses import replace

from scrubwatch.core.events import Event, VersionRef

EVIDENCE = "s3://scrubwatch-evidence/{watch}/{version}.warc.gz"

AD_URL = "https://jobs.example.org/agency/ads/1001.html"
CAREERS_URL = "https://www.lumen-optics.example/careers/"
CAMPUS_URL = "https://www.lumen-optics.example/about/campus.html"

JOBS_BEFORE = [
    "Optical Engineer (Shenzhen)",
    "Firmware Engineer (Urumqi)",
    "Test Technician (Urumqi)",
    "Process Engineer (Kashgar)",
    "Security Systems Integrator (Urumqi)",
    "Surveillance Camera Installer (Hotan)",
    "Data Annotator, Uyghur language (Urumqi)",
    "Facial Recognition Researcher (Urumqi)",
    "Network Engineer (Aksu)",
    "Project Manager, Xinjiang programme",
    "Site Supervisor (Turpan)",
    "Translator, Uyghur-Mandarin (Urumqi)",
    "Logistics Coordinator (Korla)",
]


def version(watch: str, digest: str, fetched_at: str, status: int, url: str) -> VersionRef:
    return VersionRef(
        version=digest,
        fetched_at=fetched_at,
        status=status,
        final_url=url,
        evidence=EVIDENCE.format(watch=watch, version=digest),
    )


AD_V1 = version("agency-1001", "3f2a9c0d1e4b5a6978877665", "2024-05-02T06:00:00.000Z", 200, AD_URL)
CAREERS_V1 = version(
    "careers", "a1b2c3d4e5f60718293a4b5c", "2024-05-01T06:00:00.000Z", 200, CAREERS_URL
)
CAREERS_V2 = version(
    "careers", "b2c3d4e5f60718293a4b5c6d", "2024-05-02T06:00:00.000Z", 200, CAREERS_URL
)
CAMPUS_V1 = version(
    "rd-map", "c0ffee0123456789abcdef01", "2024-05-01T06:00:00.000Z", 200, CAMPUS_URL
)
CAMPUS_V2 = version(
    "rd-map", "d00d0123456789abcdef0123", "2024-05-02T06:00:00.000Z", 200, CAMPUS_URL
)


def first_seen() -> Event:
    return Event(
        event_id="0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        watch="agency-1001",
        name="Agency ad 1001",
        url=AD_URL,
        kind="first_seen",
        reason=None,
        detected_at="2024-05-02T06:00:00.412Z",
        summary="First check of Agency ad 1001: 3 lines of text.",
        current=AD_V1,
    )


def changed() -> Event:
    removed = JOBS_BEFORE[1:]  # 12 jobs: ten shown, then "... and 2 more"
    return Event(
        event_id="1a2b3c4d5e6f708192a3b4c5d6e7f809",
        watch="careers",
        name="Lumen Optics careers",
        url=CAREERS_URL,
        kind="changed",
        reason=None,
        detected_at="2024-05-02T06:00:01.250Z",
        summary="CHANGED: Lumen Optics careers: 12 items removed; 2 items added; "
        "keyword gone: Urumqi; keyword appeared: Chengdu.",
        removed=list(removed),
        added=["Optical Engineer (Chengdu)", "Sales Manager (Chengdu)"],
        keywords_removed=["Urumqi"],
        keywords_added=["Chengdu"],
        previous=CAREERS_V1,
        current=CAREERS_V2,
        diff=(
            "--- before\n+++ after\n@@ -1,13 +1,3 @@\n Optical Engineer (Shenzhen)\n"
            + "".join(f"-{job}\n" for job in removed)
            + "+Optical Engineer (Chengdu)\n+Sales Manager (Chengdu)\n"
        ),
    )


def element_missing() -> Event:
    return Event(
        event_id="2b3c4d5e6f708192a3b4c5d6e7f8091a",
        watch="rd-map",
        name="Lumen Optics R&D campus map",
        url=CAMPUS_URL,
        kind="element_missing",
        reason=None,
        detected_at="2024-05-02T06:00:02.031Z",
        summary="REMOVED: the watched part of Lumen Optics R&D campus map (#rd-map) "
        "is gone from the page.",
        removed=[
            "Urumqi R&D centre, Building 3",
            "Kashgar assembly plant",
            "https://maps.example.com/?q=43.8256,87.6168",
        ],
        previous=CAMPUS_V1,
        current=CAMPUS_V2,
        diff=(
            "--- before\n+++ after\n@@ -1,4 +1,1 @@\n Our campuses\n"
            "-Urumqi R&D centre, Building 3\n-Kashgar assembly plant\n"
            "-https://maps.example.com/?q=43.8256,87.6168\n"
        ),
    )


def gone_404() -> Event:
    return Event(
        event_id="3c4d5e6f708192a3b4c5d6e7f8091a2b",
        watch="agency-1001",
        name="Agency ad 1001",
        url=AD_URL,
        kind="gone",
        reason="http_404",
        detected_at="2024-05-03T06:10:00.500Z",
        summary="GONE: Agency ad 1001 now answers 404 Not Found.",
        removed=[
            "Firmware Engineer (Urumqi)",
            "Posted by Lumen Optics through the Urumqi labour transfer office.",
            "Applicants must be willing to relocate.",
        ],
        keywords_removed=["labour transfer"],
        previous=AD_V1,
        current=version(
            "agency-1001", "404404aa55bb66cc77dd88ee", "2024-05-03T06:10:00.000Z", 404, AD_URL
        ),
    )


def gone_redirect() -> Event:
    home = "https://jobs.example.org/agency/"
    return Event(
        event_id="4d5e6f708192a3b4c5d6e7f8091a2b3c",
        watch="agency-1001",
        name="Agency ad 1001",
        url=AD_URL,
        kind="gone",
        reason="redirect",
        detected_at="2024-05-03T06:10:00.500Z",
        summary=f"GONE: Agency ad 1001 now redirects to {home}.",
        removed=[
            "Firmware Engineer (Urumqi)",
            "Posted by Lumen Optics through the Urumqi labour transfer office.",
            "Applicants must be willing to relocate.",
        ],
        previous=AD_V1,
        current=version(
            "agency-1001", "5e6f708192a3b4c5d6e7f809", "2024-05-03T06:10:00.000Z", 200, home
        ),
    )


def restored() -> Event:
    return Event(
        event_id="5e6f708192a3b4c5d6e7f8091a2b3c4d",
        watch="agency-1001",
        name="Agency ad 1001",
        url=AD_URL,
        kind="restored",
        reason=None,
        detected_at="2024-05-04T06:00:00.250Z",
        summary="RESTORED: Agency ad 1001 answers again (200), with different content.",
        removed=["Posted by Lumen Optics through the Urumqi labour transfer office."],
        added=["Posted by Lumen Optics."],
        previous=AD_V1,
        current=version(
            "agency-1001", "6f708192a3b4c5d6e7f8091a", "2024-05-04T06:00:00.000Z", 200, AD_URL
        ),
        diff=(
            "--- before\n+++ after\n@@ -1,3 +1,3 @@\n Firmware Engineer (Urumqi)\n"
            "-Posted by Lumen Optics through the Urumqi labour transfer office.\n"
            "+Posted by Lumen Optics.\n Applicants must be willing to relocate.\n"
        ),
    )


def moved() -> Event:
    new_url = "https://jobs.example.org/careers/ads/1001.html"
    return Event(
        event_id="7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d",
        watch="agency-1001",
        name="Agency ad 1001",
        url=AD_URL,
        kind="moved",
        reason=None,
        detected_at="2024-05-04T06:00:00.250Z",
        summary=f"MOVED: Agency ad 1001 now lives at {new_url} (permanent redirect), "
        "with the same content.",
        previous=AD_V1,
        current=replace(
            version(
                "agency-1001", "8192a3b4c5d6e7f8091a2b3c", "2024-05-04T06:00:00.000Z", 200, new_url
            ),
            manifest_sha256="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        ),
    )


def error() -> Event:
    return Event(
        event_id="6f708192a3b4c5d6e7f8091a2b3c4d5e",
        watch="careers",
        name="Lumen Optics careers",
        url=CAREERS_URL,
        kind="error",
        reason="timeout",
        detected_at="2024-05-05T06:00:20.000Z",
        summary="ERROR: Lumen Optics careers timed out 3 checks in a row: "
        "no answer within 20 seconds.",
        previous=CAREERS_V2,
    )


LISTING_URL = "https://jobs.example.org/agency/urumqi/"
CHILD = "urumqi-jobs/4f9c2a61d0b3"
CHILD_URL = "https://jobs.example.org/agency/ads/1002.html"
CHILD_V1 = version(CHILD, "71c0de5a9b8e7f6d5c4b3a29", "2024-05-01T06:00:00.000Z", 200, CHILD_URL)
LISTING_BEFORE = EVIDENCE.format(watch="urumqi-jobs", version="0a1b2c3d4e5f607182930a1b")
LISTING_AFTER = EVIDENCE.format(watch="urumqi-jobs", version="1b2c3d4e5f607182930a1b2c")


def listing_note(children: int = 31, keywords: tuple[str, ...] = ("Urumqi",)) -> dict[str, object]:
    return {
        "id": "urumqi-jobs",
        "name": "Agency jobs, Urumqi office",
        "url": LISTING_URL,
        "unlinked_at": "2024-05-03T03:00:04.100Z",
        "linked_in": LISTING_BEFORE,
        "unlinked_in": LISTING_AFTER,
        "children": children,
        "keywords": list(keywords),
        "remaining_keywords": [],
    }


def children_found() -> Event:
    return Event(
        event_id="8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e",
        watch="urumqi-jobs",
        name="Agency jobs, Urumqi office",
        url=LISTING_URL,
        kind="children_found",
        reason=None,
        detected_at="2024-05-01T06:00:02.000Z",
        summary="FOUND: Agency jobs, Urumqi office links 3 pages; each was kept as first seen",
        added=["Firmware Engineer (Urumqi)", "Test Technician (Urumqi)", "Optical Engineer"],
        current=version(
            "urumqi-jobs", "0a1b2c3d4e5f607182930a1b", "2024-05-01T06:00:00.000Z", 200, LISTING_URL
        ),
    )


def children_added() -> Event:
    return Event(
        event_id="9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f",
        watch="urumqi-jobs",
        name="Agency jobs, Urumqi office",
        url=LISTING_URL,
        kind="children_added",
        reason=None,
        detected_at="2024-05-02T06:00:02.000Z",
        summary="NEW PAGES: Agency jobs, Urumqi office links 2 pages not seen before: "
        "Data Annotator, Uyghur language (Urumqi), Translator, Uyghur-Mandarin (Urumqi)",
        added=["Data Annotator, Uyghur language (Urumqi)", "Translator, Uyghur-Mandarin (Urumqi)"],
        current=version(
            "urumqi-jobs", "0a1b2c3d4e5f607182930a1b", "2024-05-02T06:00:00.000Z", 200, LISTING_URL
        ),
    )


def unlinked() -> Event:
    return Event(
        event_id="a0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5",
        watch=CHILD,
        name="Test Technician (Urumqi)",
        url=CHILD_URL,
        kind="unlinked",
        reason=None,
        detected_at="2024-05-03T03:10:00.500Z",
        summary="UNLINKED: Test Technician (Urumqi) is still online, but its listing, "
        "Agency jobs, Urumqi office, stopped linking it 10 min earlier.",
        current=CHILD_V1,
        parent=listing_note(),
    )


def gone_child() -> Event:
    return Event(
        event_id="b1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6",
        watch=CHILD,
        name="Test Technician (Urumqi)",
        url=CHILD_URL,
        kind="gone",
        reason="http_404",
        detected_at="2024-05-03T03:20:00.500Z",
        summary="GONE: Test Technician (Urumqi) now answers 404 Not Found. Its listing, "
        "Agency jobs, Urumqi office, stopped linking it 19 min earlier.",
        removed=["Test Technician (Urumqi)", "Posted through the Urumqi office."],
        keywords_removed=["Urumqi"],
        previous=CHILD_V1,
        current=version(
            CHILD, "404aa55bb66cc77dd88ee99f", "2024-05-03T03:20:00.000Z", 404, CHILD_URL
        ),
        parent=listing_note(),
    )


BUILDERS = {
    "first_seen": first_seen,
    "changed": changed,
    "element_missing": element_missing,
    "gone_http_404": gone_404,
    "gone_redirect": gone_redirect,
    "restored": restored,
    "moved": moved,
    "error": error,
    "children_found": children_found,
    "children_added": children_added,
    "unlinked": unlinked,
    "gone_child": gone_child,
}
