/* A live character counter under every <textarea maxlength>.
   The browser's maxlength cuts pasted text silently; with this script the limit moves to
   data-maxlength, so nothing is cut: the counter shows how many characters are too many and
   the server refuses the text with a message. Without JavaScript, maxlength still applies.
   Screen readers hear the counter politely, only when nearing or passing the limit.
   A static file, so the Content-Security-Policy needs no unsafe-inline or nonce. */
(function () {
  "use strict";
  var format = new Intl.NumberFormat("en-US");

  function update(area, counter, live) {
    var limit = parseInt(area.dataset.maxlength, 10);
    var used = area.value.length;
    var over = used - limit;
    counter.textContent = format.format(used) + " of " + format.format(limit) + " characters" +
      (over > 0 ? ": " + format.format(over) + " too many" : "");
    counter.classList.toggle("over", over > 0);
    var zone = over > 0 ? "over" : (limit - used <= Math.max(10, Math.floor(limit / 10)) ? "near" : "");
    if (zone !== area.dataset.counterZone) {  // announce crossing a threshold, not every keystroke
      area.dataset.counterZone = zone;
      live.textContent = zone === "over" ? "Too long: " + format.format(over) + " characters over the limit of " + format.format(limit) + "."
        : zone === "near" ? format.format(limit - used) + " characters left." : "";
    }
    if (over > 0) {
      area.setAttribute("aria-invalid", "true");
    } else if (area.dataset.counterInvalid !== "server") {
      area.removeAttribute("aria-invalid");
    }
  }

  function attach(area) {
    if (area.dataset.maxlength) return;
    area.dataset.maxlength = area.getAttribute("maxlength");
    if (area.getAttribute("aria-invalid") === "true") area.dataset.counterInvalid = "server";
    area.removeAttribute("maxlength");
    var id = (area.id || area.name) + "-count";
    var counter = document.createElement("p");
    counter.className = "char-count";
    counter.id = id;
    var live = document.createElement("span");
    live.className = "sr-only";
    live.setAttribute("aria-live", "polite");
    area.insertAdjacentElement("afterend", counter);
    counter.insertAdjacentElement("afterend", live);
    var described = area.getAttribute("aria-describedby");
    area.setAttribute("aria-describedby", described ? described + " " + id : id);
    area.addEventListener("input", function () { update(area, counter, live); });
    area.dataset.counterZone = "";
    update(area, counter, live);
  }

  function scan(root) {
    (root.querySelectorAll ? root : document).querySelectorAll("textarea[maxlength]").forEach(attach);
  }

  document.addEventListener("DOMContentLoaded", function () { scan(document); });
  document.addEventListener("htmx:load", function (event) { scan(event.target); });
})();
