// Doppel gallery: the overlay slider. Progressive enhancement: pages work without this file
// (the photo and its look-alike are side by side); with it, the overlay section appears and a
// native range input (arrow keys, Page Up/Down, Home/End, touch, mouse) moves the split.
"use strict";
(function () {
  var stages = document.querySelectorAll("[data-compare]");
  Array.prototype.forEach.call(stages, function (section) {
    var stage = section.querySelector(".compare-stage");
    var input = section.querySelector("input[type=range]");
    if (!stage || !input) return;
    var update = function () {
      var photo = Number(input.value);
      stage.style.setProperty("--split", photo + "%");
      input.setAttribute("aria-valuetext", photo + "% photo, " + (100 - photo) + "% look-alike");
    };
    input.addEventListener("input", update);
    update();
    section.hidden = false;
  });
})();
