// Doppel: "Which is human?". Every round is already in the page; this shows one at a time in
// a random order of its two pictures, reveals the answer, and keeps the score in
// localStorage so it survives a reload. It works from file:// too.
// Only a site built with DOPPEL_VOTES_URL (a path on its own host) also posts each answer to
// the vote service (docs/votes.md), never from file://; a post that fails changes nothing
// in the game.
"use strict";
(function () {
  var game = document.querySelector("[data-game]");
  if (!game) return;
  var KEY = "doppel.which-is-human";
  var BROWSER_KEY = "doppel.browser-id";
  var rounds = Array.prototype.slice.call(game.querySelectorAll("[data-round]"));
  var state = load();
  var current = null;
  var shownAt = 0;
  var votesUrl = game.dataset.votesUrl;
  var posting = !!votesUrl && /^https?:$/.test(window.location.protocol);
  var browserId = posting ? browser() : null;
  if (!browserId) posting = false;
  game.querySelector("[data-votes-note]").textContent = posting
    ? "Each answer is also sent, with a random id this browser keeps (no cookie, no address), " +
      "to count how often people are fooled."
    : (votesUrl ? "Opened from a file: your answers stay in this browser."
                : "Your answers stay in this browser.");

  // A random version-4 UUID, kept in localStorage. crypto.randomUUID needs a secure context;
  // getRandomValues does not.
  function browser() {
    try {
      var id = window.localStorage.getItem(BROWSER_KEY);
      if (id && /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(id)) return id;
      var b = window.crypto.getRandomValues(new Uint8Array(16));
      b[6] = (b[6] & 0x0f) | 0x40;
      b[8] = (b[8] & 0x3f) | 0x80;
      var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
      id = h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
      window.localStorage.setItem(BROWSER_KEY, id);
      return window.localStorage.getItem(BROWSER_KEY) === id ? id : null;
    } catch (e) { return null; }  // storage blocked: no stable id, so nothing is sent
  }
  function send(round, button, took) {
    if (!posting || !round.dataset.photoId || !button.dataset.image) return;
    var vote = {
      photo_id: Number(round.dataset.photoId), generator: round.dataset.generator, mode: "pair",
      picked: button.dataset.image, answer_ms: Math.round(took), browser_id: browserId
    };
    try {
      window.fetch(votesUrl, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(vote),
        credentials: "omit", keepalive: true, cache: "no-store"
      }).catch(function () { /* offline or refused: the game goes on */ });
    } catch (e) { /* no fetch: the game goes on */ }
  }

  function load() {
    var fresh = { score: 0, played: 0, streak: 0, best: 0, seen: [] };
    try {
      var saved = JSON.parse(window.localStorage.getItem(KEY) || "null");
      if (saved && typeof saved.score === "number" && Array.isArray(saved.seen)) return saved;
    } catch (e) { /* unreadable or blocked storage: start afresh */ }
    return fresh;
  }
  function save() {
    try { window.localStorage.setItem(KEY, JSON.stringify(state)); } catch (e) { /* private mode */ }
  }
  function text(selector, value) { game.querySelector(selector).textContent = String(value); }
  function showScore() {
    text("[data-score]", state.score);
    text("[data-played]", state.played);
    text("[data-streak]", state.streak);
    text("[data-best]", state.best);
  }
  function choices(round) { return round.querySelectorAll("[data-choice]"); }

  function start(round) {
    current = round;
    var box = round.querySelector(".game-choices");
    var pair = choices(round);
    if (Math.random() < 0.5) box.appendChild(pair[0]);  // random order, decided per visit
    Array.prototype.forEach.call(choices(round), function (button, i) {
      button.setAttribute("aria-label", "Picture " + (i + 1));
      button.disabled = false;
    });
    round.hidden = false;
    shownAt = window.performance.now();
    choices(round)[0].focus({ preventScroll: true });
  }
  function next() {
    if (current) current.hidden = true;
    var unseen = rounds.filter(function (r) { return state.seen.indexOf(r.dataset.round) < 0; });
    game.querySelector("[data-done]").hidden = unseen.length > 0;
    current = null;
    if (unseen.length) start(unseen[0]);
  }
  function pick(index) {
    if (!current || current.querySelector("[data-answer]").hidden === false) return;
    var pair = choices(current);
    var right = pair[index].dataset.choice === "photo";
    state.played += 1;
    state.score += right ? 1 : 0;
    state.streak = right ? state.streak + 1 : 0;
    state.best = Math.max(state.best, state.streak);
    state.seen.push(current.dataset.round);
    save();
    send(current, pair[index], window.performance.now() - shownAt);
    Array.prototype.forEach.call(pair, function (button) {
      button.disabled = true;
      button.classList.add(button.dataset.choice === "photo" ? "is-photo" : "is-lookalike");
      button.querySelector("[data-name]").textContent =
        button.dataset.choice === "photo" ? "Photo" : "Look-alike";
    });
    current.querySelector("[data-verdict]").textContent = right ? "Right: that is the photo." : "No: that is the look-alike.";
    current.querySelector("[data-photo-side]").textContent = pair[0].dataset.choice === "photo" ? "first" : "second";
    current.querySelector("[data-answer]").hidden = false;
    current.querySelector("[data-next]").focus({ preventScroll: true });
    showScore();
  }

  game.addEventListener("click", function (event) {
    var target = event.target.closest("button");
    if (!target) return;
    if (target.hasAttribute("data-choice")) {
      if (current) pick(Array.prototype.indexOf.call(choices(current), target));
    }
    else if (target.hasAttribute("data-next")) next();
    else if (target.hasAttribute("data-again")) { state.seen = []; save(); next(); }
  });
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    var key = event.key;
    if (key === "1" || key === "ArrowLeft") pick(0);
    else if (key === "2" || key === "ArrowRight") pick(1);
    else if ((key === "n" || key === "N") && current && !current.querySelector("[data-answer]").hidden) next();
    else return;
    event.preventDefault();
  });
  game.hidden = false;
  showScore();
  next();
})();
