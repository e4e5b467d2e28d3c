// The evidence pack's Print button (a listener, since the CSP allows no inline handler).
for (const button of document.querySelectorAll("button[data-print]")) {
  button.addEventListener("click", () => window.print());
}
