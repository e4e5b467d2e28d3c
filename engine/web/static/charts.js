// Draw each chart whose figure the page carries as a JSON data block (not a script: the CSP
// allows no inline script). Loaded with `defer`, after the tables are already on screen.
for (const spec of document.querySelectorAll("script[data-chart]")) {
  const figure = JSON.parse(spec.textContent);
  Plotly.newPlot(spec.dataset.chart, figure.data, figure.layout, {displaylogo: false, responsive: true});
}
