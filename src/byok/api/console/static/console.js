// byok console: progressive enhancement only. Every page works without this file.
// Copy buttons: <button data-copy="ID"> copies the text of the element with that id.
"use strict";

function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    return navigator.clipboard.writeText(text);
  }
  // Fallback for contexts without the async clipboard API.
  var area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.className = "offscreen";
  document.body.appendChild(area);
  area.select();
  var ok = document.execCommand("copy");
  document.body.removeChild(area);
  return ok ? Promise.resolve() : Promise.reject(new Error("copy refused"));
}

function enableCopyButtons() {
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) {
      return;
    }
    var status = document.getElementById(button.getAttribute("data-copy") + "-status");
    button.hidden = false;
    button.addEventListener("click", function () {
      copyText(source.textContent).then(
        function () { if (status) { status.textContent = "Copied."; } },
        function () { if (status) { status.textContent = "Copy failed: select the text and copy it."; } }
      );
    });
  });
}

document.addEventListener("DOMContentLoaded", enableCopyButtons);
