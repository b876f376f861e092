// Doppel: "Which is human?" and "Photo or machine?". Every round is already in the page; this
// shows one at a time, reveals the answer with what the machine judge said, and keeps the
// scores in localStorage so they survive a reload. It works from file:// too.
//   Pairs: the two pictures in a random order; pick the photo.
//   Photo or machine?: one of the two pictures, at random; say which it is and how sure you
//   are (50-100 %). The Brier score is the mean of (your probability of "photo" - truth)^2.
// Only a site built with DOPPEL_VOTES_URL (a path on its own host) also posts each answer to
// the vote service (docs/votes.md), never from file://; a post that fails changes nothing
// in the game.
"use strict";
(function () {
  var game = document.querySelector("[data-game]");
  if (!game) return;
  var BROWSER_KEY = "doppel.browser-id";
  var votesUrl = game.dataset.votesUrl;
  var posting = !!votesUrl && /^https?:$/.test(window.location.protocol);
  var browserId = posting ? browser() : null;
  var shownAt = 0;
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
  // `fields`: the answer (pair: the picked image's digest; single: the shown one's, what the
  // player said and how sure). The service decides from the pair whether it was right.
  function send(round, fields) {
    // The look-alike drawn for this showing (`draw` left only it) names the generator.
    var made = round.querySelector('[data-choice="lookalike"]');
    if (!posting || !round.dataset.photoId || !made || !made.dataset.generator) return;
    var vote = { photo_id: Number(round.dataset.photoId), generator: made.dataset.generator,
                 mode: mode, answer_ms: Math.round(window.performance.now() - shownAt),
                 browser_id: browserId };
    Object.keys(fields).forEach(function (k) { vote[k] = fields[k]; });
    try {
      window.fetch(votesUrl, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(vote),
        credentials: "omit", keepalive: true, cache: "no-store"
      }).catch(function () { /* offline or refused: the game goes on */ });
    } catch (e) { /* no fetch: the game goes on */ }
  }
  var KEYS = { pair: "doppel.which-is-human", single: "doppel.photo-or-machine" };
  var rounds = Array.prototype.slice.call(game.querySelectorAll("[data-round]"));
  var states = { pair: load("pair"), single: load("single") };
  var mode = "pair";
  var current = null;
  var shown = null;  // single mode: the choice button on show

  function load(which) {
    var fresh = which === "pair" ? { score: 0, played: 0, streak: 0, best: 0, seen: [] }
      : { played: 0, right: 0, brier: 0, judged: 0, judgeBrier: 0, seen: [] };
    try {
      var saved = JSON.parse(window.localStorage.getItem(KEYS[which]) || "null");
      if (saved && typeof saved.played === "number" && Array.isArray(saved.seen)) return saved;
    } catch (e) { /* unreadable or blocked storage: start afresh */ }
    return fresh;
  }
  function save() {
    try { window.localStorage.setItem(KEYS[mode], JSON.stringify(states[mode])); } catch (e) { /* private mode */ }
  }
  function text(selector, value) { game.querySelector(selector).textContent = String(value); }
  function pct(p) { return Math.round(p * 100) + " %"; }
  function showScore() {
    var p = states.pair, s = states.single;
    text("[data-score]", p.score);
    text("[data-played]", p.played);
    text("[data-streak]", p.streak);
    text("[data-best]", p.best);
    text("[data-single-played]", s.played);
    text("[data-single-right]", s.right);
    text("[data-brier]", s.played ? (s.brier / s.played).toFixed(3) : "–");
    game.querySelector("[data-pair-score]").hidden = mode !== "pair";
    game.querySelector("[data-single-score]").hidden = mode !== "single";
  }
  function choices(round) { return round.querySelectorAll("[data-choice]"); }
  function judgeOf(round, choice) {
    var value = round.dataset[choice === "photo" ? "judgePhoto" : "judgeLookalike"];
    return value === undefined ? null : parseFloat(value);  // its probability of "photo"
  }
  function judgeWord(round, choice) {
    var p = judgeOf(round, choice);
    if (p === null) return null;
    var says = p >= 0.5 ? "a photo" : "a machine's";
    return { p: p, right: (p >= 0.5) === (choice === "photo"),
             text: says + " (" + pct(p >= 0.5 ? p : 1 - p) + " sure)" };
  }

  // Several machines made look-alikes of this photo: one is drawn for this showing, and the
  // others (their pictures and what the answer says of them) leave the round; the judge's
  // verdicts the round shows are the drawn one's.
  function draw(round) {
    var made = round.querySelectorAll('[data-choice="lookalike"]');
    if (made.length < 2) return;
    var chosen = made[Math.floor(Math.random() * made.length)];
    ["judgePhoto", "judgeLookalike"].forEach(function (key) {
      if (chosen.dataset[key] === undefined) delete round.dataset[key];
      else round.dataset[key] = chosen.dataset[key];
    });
    Array.prototype.forEach.call(round.querySelectorAll("[data-machine]"), function (el) {
      if (el.dataset.machine !== chosen.dataset.machine) el.parentNode.removeChild(el);
    });
  }
  function reset(round) {
    Array.prototype.forEach.call(choices(round), function (button) {
      button.hidden = false;
      button.disabled = false;
      button.classList.remove("is-photo", "is-lookalike");
      button.querySelector("[data-name]").textContent = "";
    });
    round.querySelector("[data-answer]").hidden = true;
    round.querySelector("[data-single-controls]").hidden = true;
  }
  function start(round) {
    current = round;
    draw(round);
    reset(round);
    var box = round.querySelector(".game-choices");
    var pair = choices(round);
    if (Math.random() < 0.5) box.appendChild(pair[0]);  // random order, decided per visit
    pair = choices(round);
    if (mode === "single") {
      shown = pair[0];
      pair[1].hidden = true;
      shown.disabled = true;
      shown.setAttribute("aria-label", "The picture");
      round.querySelector("[data-single-controls]").hidden = false;
      round.hidden = false;
      shownAt = window.performance.now();
      round.querySelector("[data-say]").focus({ preventScroll: true });
      return;
    }
    Array.prototype.forEach.call(pair, function (button, i) {
      button.setAttribute("aria-label", "Picture " + (i + 1));
    });
    round.hidden = false;
    shownAt = window.performance.now();
    pair[0].focus({ preventScroll: true });
  }
  function next() {
    if (current) current.hidden = true;
    var seen = states[mode].seen;
    var unseen = rounds.filter(function (r) { return seen.indexOf(r.dataset.round) < 0; });
    game.querySelector("[data-done]").hidden = mode !== "pair" || unseen.length > 0;
    var done = game.querySelector("[data-single-done]");
    done.hidden = mode !== "single" || unseen.length > 0;
    if (!done.hidden) {
      var s = states.single;
      text("[data-brier-final]", s.played ? (s.brier / s.played).toFixed(3) + " over " + s.played + " pictures" : "–");
      text("[data-judge-brier]", s.judged ? "; the machine judge's on the same pictures: " + (s.judgeBrier / s.judged).toFixed(3) + " (n = " + s.judged + ")" : "");
    }
    current = null;
    if (unseen.length) start(unseen[0]);
  }
  function reveal(round) {
    Array.prototype.forEach.call(choices(round), function (button) {
      button.disabled = true;
      button.classList.add(button.dataset.choice === "photo" ? "is-photo" : "is-lookalike");
      button.querySelector("[data-name]").textContent =
        button.dataset.choice === "photo" ? "Photo" : "Look-alike";
    });
    round.querySelector("[data-pair-only]").hidden = mode !== "pair";
    round.querySelector("[data-answer]").hidden = false;
    round.querySelector("[data-next]").focus({ preventScroll: true });
  }
  function pick(index) {
    if (mode !== "pair" || !current || current.querySelector("[data-answer]").hidden === false) return;
    var pair = choices(current);
    var right = pair[index].dataset.choice === "photo";
    var state = states.pair;
    state.played += 1;
    state.score += right ? 1 : 0;
    state.streak = right ? state.streak + 1 : 0;
    state.best = Math.max(state.best, state.streak);
    state.seen.push(current.dataset.round);
    save();
    if (pair[index].dataset.image) send(current, { picked: pair[index].dataset.image });
    current.querySelector("[data-verdict]").textContent = right ? "Right: that is the photo." : "No: that is the look-alike.";
    current.querySelector("[data-photo-side]").textContent = pair[0].dataset.choice === "photo" ? "first" : "second";
    var photo = judgeWord(current, "photo"), look = judgeWord(current, "lookalike");
    current.querySelector("[data-judge-said]").textContent = photo && look
      ? "The machine judge called the photo " + photo.text + " and the look-alike " + look.text + ": " +
        (look.right ? "it was not fooled." : "the look-alike fooled it.")
      : "";
    reveal(current);
    showScore();
  }
  function say(photo) {
    if (mode !== "single" || !current || current.querySelector("[data-answer]").hidden === false) return;
    var sure = parseInt(current.querySelector("[data-confidence]").value, 10) / 100;
    var truth = shown.dataset.choice === "photo" ? 1 : 0;
    var p = photo ? sure : 1 - sure;  // the player's probability of "photo"
    var state = states.single;
    state.played += 1;
    state.right += (photo ? 1 : 0) === truth ? 1 : 0;
    state.brier += (p - truth) * (p - truth);
    var judge = judgeWord(current, shown.dataset.choice);
    if (judge) {
      state.judged += 1;
      state.judgeBrier += (judge.p - truth) * (judge.p - truth);
    }
    state.seen.push(current.dataset.round);
    save();
    if (shown.dataset.image) {
      send(current, { shown: shown.dataset.image, answer: photo ? "photo" : "lookalike",
                      confidence: Math.round(sure * 100) });
    }
    current.querySelector("[data-verdict]").textContent = ((photo ? 1 : 0) === truth ? "Right" : "No") +
      ": it is " + (truth ? "the photo" : "the machine's look-alike") + ". You said " +
      (photo ? "a photo" : "a machine's") + ", " + pct(sure) + " sure.";
    current.querySelector("[data-judge-said]").textContent = judge
      ? "The machine judge called it " + judge.text + ": " + (judge.right ? "right." : "wrong, it was fooled.")
      : "";
    current.querySelector("[data-single-controls]").hidden = true;
    reveal(current);
    showScore();
  }
  function again() {
    // The pairs keep their running score; a new round of "photo or machine?" is a new
    // calibration, so its Brier score starts afresh.
    if (mode === "single") states.single = { played: 0, right: 0, brier: 0, judged: 0, judgeBrier: 0, seen: [] };
    else states.pair.seen = [];
    save();
    showScore();
    next();
  }
  function setMode(which) {
    if (which === mode) return;
    if (current) { current.hidden = true; reset(current); }
    current = null;
    mode = which;
    Array.prototype.forEach.call(game.querySelectorAll("[data-mode]"), function (b) {
      b.setAttribute("aria-pressed", String(b.dataset.mode === mode));
    });
    showScore();
    next();
  }

  game.addEventListener("click", function (event) {
    var target = event.target.closest("button");
    if (!target) return;
    if (target.hasAttribute("data-choice")) {
      if (current) pick(Array.prototype.indexOf.call(choices(current), target));
    }
    else if (target.hasAttribute("data-say")) say(target.dataset.say === "photo");
    else if (target.hasAttribute("data-mode")) setMode(target.dataset.mode);
    else if (target.hasAttribute("data-next")) next();
    else if (target.hasAttribute("data-again")) again();
  });
  game.addEventListener("input", function (event) {
    if (event.target.hasAttribute("data-confidence")) {
      event.target.parentNode.querySelector("[data-confidence-out]").textContent = event.target.value + " %";
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.target && event.target.hasAttribute && event.target.hasAttribute("data-confidence")) return;
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
