/* The navigation's search box: keyboard reach for the matches htmx shows below it.
   Down from the box goes to the first match, Up/Down move between matches, Escape closes
   the list and returns to the box, a click elsewhere closes it. Without JavaScript the box
   is a plain form that opens the results page. A static file: the CSP allows no inline script. */
(function () {
  "use strict";
  function links(dropdown) { return Array.prototype.slice.call(dropdown.querySelectorAll("a")); }
  function close(dropdown) { dropdown.innerHTML = ""; }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("global-q");
    var dropdown = document.getElementById("search-dropdown");
    if (!box || !dropdown) { return; }
    box.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown" && links(dropdown).length) {
        event.preventDefault();
        links(dropdown)[0].focus();
      } else if (event.key === "Escape") {
        close(dropdown);
      }
    });
    dropdown.addEventListener("keydown", function (event) {
      var all = links(dropdown);
      var at = all.indexOf(document.activeElement);
      if (event.key === "ArrowDown" && at < all.length - 1) {
        event.preventDefault();
        all[at + 1].focus();
      } else if (event.key === "ArrowUp") {
        event.preventDefault();
        if (at > 0) { all[at - 1].focus(); } else { box.focus(); }
      } else if (event.key === "Escape") {
        close(dropdown);
        box.focus();
      }
    });
    document.addEventListener("click", function (event) {
      if (!box.form.contains(event.target)) { close(dropdown); }
    });
  });
})();
