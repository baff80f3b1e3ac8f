// Links marked data-history-back go back one page (the what-if page's "Back to editing"): a file,
// not an inline onclick, for the Content-Security-Policy (script-src 'self').
"use strict";
document.addEventListener("click", (event) => {
  const link = event.target.closest("[data-history-back]");
  if (link) {
    event.preventDefault();
    window.history.back();
  }
});
