/* Disable a money form's buttons once it is submitted, so a double click sends one POST.
   The server's one-time token is what guarantees a single write; this only saves the round trip.
   A static file, not inline, so the Content-Security-Policy needs no unsafe-inline or nonce. */
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!form.hasAttribute("data-submit-once")) return;
  if (form.dataset.submitted) { event.preventDefault(); return; }
  form.dataset.submitted = "1";
  var submitter = event.submitter;
  if (submitter && submitter.name) {  // a disabled button is left out of the POST: keep its value
    var copy = document.createElement("input");
    copy.type = "hidden"; copy.name = submitter.name; copy.value = submitter.value;
    form.appendChild(copy);
  }
  form.querySelectorAll("button[type=submit], input[type=submit]").forEach(function (b) { b.disabled = true; });
});
window.addEventListener("pageshow", function (event) {  // back button: the page comes back usable
  if (!event.persisted) return;
  document.querySelectorAll("form[data-submit-once]").forEach(function (form) {
    delete form.dataset.submitted;
    form.querySelectorAll("[disabled]").forEach(function (b) { b.disabled = false; });
  });
});
