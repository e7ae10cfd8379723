"""A careers page whose list its script builds from the site's API (render: browser)."""

from __future__ import annotations

import json

from .web import Page, Site, page

ADS = ["Optics engineer, Urumqi", "Firmware engineer, Urumqi", "Buyer, Hangzhou"]
# The HTML as sent has an empty list; the browser fills it from /api/jobs.json.
APP = """<ul id="jobs"></ul>
<script>
fetch("/api/jobs.json").then(r => r.json()).then(ads => {
  for (const ad of ads) {
    const li = document.createElement("li"); li.className = "job"; li.textContent = ad;
    document.getElementById("jobs").appendChild(li);
  }
});
</script>"""


def serve_ads(site: Site, ads: list[str]) -> None:
    """/careers and the API behind it, listing ``ads``."""
    site.set("/careers", page("Careers", "<h1>Careers</h1>" + APP))
    site.set("/api/jobs.json", Page(json.dumps(ads), content_type="application/json"))
