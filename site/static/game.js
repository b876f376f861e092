// Doppel: "Which is human?". Every round is already in the page; this shows one at a time in
// a random order of its two pictures, reveals the answer, and keeps the score in
// localStorage so it survives a reload. No network, so it works from file:// too.
"use strict";
(function () {
  var game = document.querySelector("[data-game]");
  if (!game) return;
  var KEY = "doppel.which-is-human";
  var rounds = Array.prototype.slice.call(game.querySelectorAll("[data-round]"));
  var state = load();
  var current = null;

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

  // Several machines made look-alikes of this photo: one is drawn for this showing, and the
  // others (their pictures and what the answer says of them) leave the round.
  function draw(round) {
    var made = round.querySelectorAll('[data-choice="lookalike"]');
    if (made.length < 2) return;
    var keep = made[Math.floor(Math.random() * made.length)].dataset.machine;
    Array.prototype.forEach.call(round.querySelectorAll("[data-machine]"), function (el) {
      if (el.dataset.machine !== keep) el.parentNode.removeChild(el);
    });
  }

  function start(round) {
    current = round;
    draw(round);
    var box = round.querySelector(".game-choices");
    var pair = choices(round);
    if (Math.random() < 0.5) box.appendChild(pair[0]);  // random order, decided per visit
    Array.prototype.forEach.call(choices(round), function (button, i) {
      button.setAttribute("aria-label", "Picture " + (i + 1));
      button.disabled = false;
    });
    round.hidden = false;
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
