"""`make deploy-test`'s rows for people's votes (issue 27), run by stack.py after the first day:

- a real browser (Playwright driving Debian's chromium on the host) plays five rounds of the
  gallery's game through nginx, and the votes are in PostgreSQL;
- 1,000 requests a second from one address are limited by nginx, and another address's
  votes all go through meanwhile;
- the next daily run's gallery shows the rate: the votes are moved into the day that just
  closed (as if cast then: the stack cannot wait for midnight), that day's run sums them
  (`human_votes`), and the rebuilt pair page says how often people picked the photo;
- the votes survive a PostgreSQL restart.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

import httpx

# stack.py runs as a script from this folder and imports these rows in its main(): the
# module `stack` is then its own code, loaded once more (no cycle: it imports this lazily).
from stack import CheckFailed, Stack, Table, launch_day, wait_for

ROUNDS = 5
CHROMIUM = "/usr/bin/chromium"


def votes_rows(stack: Stack, table: Table, day: str) -> None:
    gallery = f"http://{stack.ip('gallery')}:8080"

    def five_rounds() -> str:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                page = browser.new_context().new_page()
                page.clock.install()
                page.goto(f"{gallery}/game.html")
                note = page.locator("[data-votes-note]").inner_text()
                if "is also sent" not in note:
                    raise CheckFailed(f"the game does not post answers: {note!r}")
                played = min(ROUNDS, page.locator("[data-round][data-photo-id]").count())
                statuses = []
                for _ in range(played):
                    page.clock.run_for(2000)  # two seconds looking, by the page's clock
                    with page.expect_response("**/api/votes") as answer:
                        page.keyboard.press("1")
                    statuses.append(answer.value.status)
                    page.keyboard.press("n")
            finally:
                browser.close()
        [[count, browsers]] = stack.sql(
            "doppel", "select count(*), count(distinct browser_id) from votes"
        )
        if statuses != [201] * played or int(count) < played or played < ROUNDS:
            raise CheckFailed(f"{played} rounds, answers {statuses}, {count} votes stored")
        return f"{played} rounds in chromium: {count} votes in PostgreSQL, {browsers} browser id"

    if not table.check("votes: a browser plays five rounds; they are in PostgreSQL", five_rounds):
        return

    table.check("votes: 1,000 requests/s from one address limited, others unaffected",
                lambda: flood(stack, gallery))  # fmt: skip

    def rate_shown() -> str:
        # As if the votes had been cast on `day`: the stack cannot wait for today to close.
        stack.sql("doppel", f"update votes set created_at = '{day}T12:00:00+00'")
        backfill = launch_day(stack, day)

        def page_says() -> str | None:
            day_page = httpx.get(f"{gallery}/days/{day}.html", timeout=10).text
            for link in sorted(set(_pair_links(day_page))):
                text = httpx.get(f"{gallery}/{link}", timeout=10).text
                if "People picked the photo" in text:
                    return text.split("People picked the photo", 1)[1].split(")", 1)[0]
            return None

        said = wait_for("a pair page with people's rate", page_says, 900, 10)
        return f"backfill {backfill}; the pair page: 'People picked the photo{said})'"

    table.check(f"votes: {day}'s run sums them; the gallery shows the rate", rate_shown)

    # Last of the vote rows, so that the rows launching runs through the webserver come before
    # the restart (the webserver opens a connection per request now: --db-pool-recycle 0).
    def survive_restart() -> str:
        before = stack.sql("doppel", "select count(*) from votes")
        stack.compose("restart", "postgres")
        after = wait_for(
            "PostgreSQL back", lambda: stack.sql("doppel", "select count(*) from votes"), 120
        )
        if after != before:
            raise CheckFailed(f"{before[0][0]} votes before the restart, {after[0][0]} after")
        health = wait_for(
            "the vote service healthy again",
            lambda: "healthy" in stack.compose("ps", "votes"),
            120,
        )
        return f"{after[0][0]} votes before and after `compose restart postgres`; {health=}"

    table.check("votes: they survive a PostgreSQL restart", survive_restart)


def _pair_links(html: str) -> list[str]:
    out = []
    for part in html.split('href="')[1:]:
        href = part.split('"', 1)[0]
        if "pairs/" in href:
            out.append("pairs/" + href.split("pairs/", 1)[1])
    return out


def flood(stack: Stack, gallery: str) -> str:
    """One address (a container on the stack's network) sends 1,000 requests a second for
    three seconds; the host, another address, votes through it all."""
    [[photo_id, generator, sha]] = stack.sql(
        "doppel",
        "select p.id, g.generator, p.sha256 from inspiration_images p join generated_images g "
        "on g.inspiration_id = p.id where g.status = 'succeeded' and p.sha256 is not null limit 1",
    )
    script = (
        "import json, time, urllib.request, uuid\n"
        "codes = {}\n"
        "end = time.monotonic() + 3\n"
        "while time.monotonic() < end:\n"
        "    t = time.monotonic()\n"
        f"    body = json.dumps({{'photo_id': {int(photo_id)}, 'generator': '{generator}', "
        f"'mode': 'pair', 'picked': '{sha}', 'answer_ms': 2000, "
        "'browser_id': str(uuid.uuid4())}).encode()\n"
        "    req = urllib.request.Request('http://gallery:8080/api/votes', body, "
        "{'Content-Type': 'application/json'})\n"
        "    try: code = urllib.request.urlopen(req, timeout=5).status\n"
        "    except urllib.error.HTTPError as e: code = e.code\n"
        "    codes[code] = codes.get(code, 0) + 1\n"
        "    time.sleep(max(0.0, 0.001 - (time.monotonic() - t)))\n"
        "print(json.dumps(codes))\n"
    )
    result: dict[str, Any] = {}
    flooder = threading.Thread(
        target=lambda: result.update(
            out=stack.compose("exec", "-T", "exporter", "python", "-c", script, timeout_s=60)
        )
    )
    flooder.start()
    other: list[int] = []
    try:
        while flooder.is_alive() and len(other) < 20:
            vote = {"photo_id": int(photo_id), "generator": generator, "mode": "pair",
                    "picked": sha, "answer_ms": 2000, "browser_id": str(uuid.uuid4())}  # fmt: skip
            other.append(httpx.post(f"{gallery}/api/votes", json=vote, timeout=10).status_code)
            time.sleep(0.1)  # a person's pace, beside the flood
    finally:
        flooder.join(timeout=60)
    codes = json.loads(result.get("out", "{}").strip().splitlines()[-1] or "{}")
    limited = int(codes.get("429", 0))
    if not limited or set(other) != {201}:
        raise CheckFailed(f"flood answers {codes}; the other address got {other}")
    return f"flood: {codes}; the other address: {len(other)} votes, all 201"
