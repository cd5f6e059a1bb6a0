// The doctor's report: its Print button and the lengths of its bars, kept out of the
// page's HTML so the hub's Content-Security-Policy can refuse every inline script and
// style (docs/security.md).

for (const bar of document.querySelectorAll(".bar[data-share]")) {
  bar.style.setProperty("--share", bar.dataset.share);
}
const printButton = document.getElementById("print-report");
if (printButton) printButton.addEventListener("click", () => window.print());
