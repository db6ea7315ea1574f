// The pages work without script; this only makes "Print" buttons print (inline handlers are
// refused by the Content-Security-Policy).
for (const button of document.querySelectorAll("[data-print]")) {
  button.addEventListener("click", () => window.print());
}
